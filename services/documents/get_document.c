/* GetDocument: the document and a version of it (the current one by
 * default), with a download URL on request.
 *
 * Soft-deleted documents are returned with status DELETED (so a client can
 * show and undelete them) but get no download URL. The restore state of
 * an archived document is refreshed from kumo-storage on every Get while a
 * restore is running or a copy exists, so IN_PROGRESS becomes RESTORED
 * (and RESTORED back to ARCHIVED) without a job. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "documents.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "http/content_disposition.h"
#include "link_cache.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "store/documents.h"
#include "store/versions.h"

#define ST_ARCHIVED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED
#define ST_DELETED  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED
#define RS_RUNNING  KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_IN_PROGRESS
#define RS_RESTORED KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_RESTORED
#define V_PENDING   KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_PENDING_UPLOAD

/* Brings the row's restore state up to date with the object's at `key`
 * (a version's content: the versions of a document are archived and
 * restored together). Best effort: on any failure the stored state
 * stands. */
static void refresh_restore(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                            struct docs_doc_row *d, const char *key)
{
    Kumo__Storage__V1__StatObjectRequest req = KUMO__STORAGE__V1__STAT_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    ProtobufCMessage *m;
    if (docs_storage_call(ctx, call, tid, "StatObject", &req.base,
                          &kumo__storage__v1__stat_object_response__descriptor, &m) != KUMO_CODE_OK)
        return;
    const Kumo__Storage__V1__ObjectInfo *o = ((Kumo__Storage__V1__StatObjectResponse *)m)->object;
    if (o == NULL || o->restore == NULL || o->restore->state == 0)
        return;
    int64_t state = o->restore->state;
    int64_t ready = docs_ts_us(o->restore->ready_time),
            expire = docs_ts_us(o->restore->expire_time);
    if (state == d->restore_state && (state != RS_RESTORED || expire == d->restore_expire_us))
        return;
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) != KUMO_CODE_OK)
        return;
    /* Not an edit: the etag (version) stays. */
    if (docs_doc_refresh_restore(c, tid, d->id, d->version, state, ready, expire) == KUMO_CODE_OK) {
        d->restore_state = state;
        d->restore_ready_us = ready;
        d->restore_ready_null = ready == 0;
        d->restore_expire_us = expire;
        d->restore_expire_null = expire == 0;
    }
    kumo_db_release(c);
}

static kumo_code download_ttl(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                              const Google__Protobuf__Duration *want, int64_t *ms)
{
    *ms = ctx->s.download_url_ttl_ms;
    if (want == NULL)
        return KUMO_CODE_OK;
    int64_t v = want->seconds * 1000 + want->nanos / 1000000;
    if (want->seconds < 0 || want->nanos < 0 || v < 1000 || v > DOCS_DOWNLOAD_TTL_MAX_MS)
        return kumo_rpc_invalid(call, "download_expires_in", "must be between 1s and 1h");
    *ms = v;
    return KUMO_CODE_OK;
}

/* Why the content cannot be read now, answered; OK if it can. */
static kumo_code check_readable(struct kumo_rpc_call *call, const struct docs_doc_row *d,
                                const struct docs_version_row *v, int has_version)
{
    if (d->status == ST_DELETED)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "document is deleted: undelete it first");
    if (!has_version)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "no content has been uploaded yet");
    if (v->status == V_PENDING)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "version %lld has not been uploaded yet", (long long)v->version);
    if (d->status == ST_ARCHIVED && d->restore_state == RS_RUNNING)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAVAILABLE,
                                   "restore in progress (state IN_PROGRESS): retry later");
    if (d->status == ST_ARCHIVED && d->restore_state != RS_RESTORED)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "document is archived: restore it first");
    return KUMO_CODE_OK;
}

/* ---- download links, reused within their lifetime -----------------------
 * kumo-storage alone decides what a link may do (which object, served with
 * which headers, until when): it signs every one. A link it signed is handed
 * out again, instead of asking for a new one on every GET, only to a request
 * that would be granted exactly the same: same tenant, object key, lifetime
 * asked for, disposition and content type (the whole key compared), and
 * only while at least 9/10 of that lifetime is left, so no caller gets less
 * than 90% of the life it asked for. The document's state is checked on
 * every request before this (check_readable), as without the reuse. Bounded:
 * 256 entries (link_cache.h). */
DOCS_LINK_CACHE(download_links, 256);

static kumo_code presign_download(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                                  const struct docs_version_row *v, int64_t ttl_ms,
                                  Kumo__Documents__V1__DownloadTarget **out)
{
    Kumo__Storage__V1__PresignDownloadRequest req =
        KUMO__STORAGE__V1__PRESIGN_DOWNLOAD_REQUEST__INIT;
    Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;
    ttl.seconds = ttl_ms / 1000;
    ttl.nanos = (int32_t)(ttl_ms % 1000) * 1000000;
    req.key = v->object_key;
    req.expires_in = &ttl;
    struct kumo_buf cd = KUMO_BUF_INIT;
    kumo_content_disposition_attachment(v->file_name, strlen(v->file_name), &cd);
    req.response_content_disposition = kumo_rpc_call_alloc(call, cd.len + 1);
    memcpy(req.response_content_disposition, cd.data, cd.len + 1);
    kumo_buf_free(&cd);
    req.response_content_type = v->content_type;
    struct kumo_buf key = KUMO_BUF_INIT;
    char ttl_text[24];
    snprintf(ttl_text, sizeof ttl_text, "%lld", (long long)ttl_ms);
    const char *parts[] = {tid, v->object_key, ttl_text, req.response_content_disposition,
                           v->content_type ? v->content_type : ""};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        kumo_buf_append(&key, parts[i], strlen(parts[i]) + 1); /* with its NUL: unambiguous */
    char *url;
    Google__Protobuf__Timestamp *expire;
    if (docs_link_cache_get(&download_links, call, key.data, key.len, &url, &expire)) {
        kumo_buf_free(&key);
        Kumo__Documents__V1__DownloadTarget *t =
            kumo_rpc_call_new(call, &kumo__documents__v1__download_target__descriptor);
        t->url = url;
        t->expire_time = expire;
        *out = t;
        return KUMO_CODE_OK;
    }
    ProtobufCMessage *m;
    kumo_code rc = docs_storage_call(ctx, call, tid, "PresignDownload", &req.base,
                                     &kumo__storage__v1__presign_download_response__descriptor, &m);
    if (rc == KUMO_CODE_OK) {
        const Kumo__Storage__V1__PresignDownloadResponse *r = (const void *)m;
        if (r->expire_time) /* reusable while 9/10 of the asked lifetime is left */
            docs_link_cache_put(&download_links, key.data, key.len, r->url, r->expire_time,
                                r->expire_time->seconds * 1000 + r->expire_time->nanos / 1000000 -
                                    ttl_ms * 9 / 10);
    }
    kumo_buf_free(&key);
    if (rc == KUMO_CODE_FAILED_PRECONDITION)
        return kumo_rpc_call_error(call, rc, "document is archived: restore it first");
    if (rc != KUMO_CODE_OK)
        return docs_storage_fail(call, rc, "cannot presign the download");
    const Kumo__Storage__V1__PresignDownloadResponse *r = (const void *)m;
    Kumo__Documents__V1__DownloadTarget *t =
        kumo_rpc_call_new(call, &kumo__documents__v1__download_target__descriptor);
    t->url = r->url;
    t->expire_time = r->expire_time;
    *out = t;
    return KUMO_CODE_OK;
}

/* Loads the document and the version a request names (0: current). */
static kumo_code load_doc_version(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                                  const char *id, int32_t version, struct docs_doc_row *d,
                                  struct docs_version_row *v, int *has_version)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    if ((rc = docs_doc_load(c, call, tid, id, 0, d)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    int64_t want = version ? version : d->current_version;
    *has_version = 0;
    if (want > 0) {
        if ((rc = docs_version_get(c, call, tid, id, want, v)) != KUMO_CODE_OK)
            return rc;
        *has_version = 1;
    }
    kumo_db_release(c);
    return KUMO_CODE_OK;
}

DOCS_HANDLER(get_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__GetDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller_id(call, DOCS_VIEWER, "id", req->id, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->version < 0)
        return kumo_rpc_invalid(call, "version", "must not be negative");
    int64_t ttl_ms;
    if ((rc = download_ttl(ctx, call, req->download_expires_in, &ttl_ms)) != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    struct docs_version_row v;
    int has_version = 0;
    rc = load_doc_version(ctx, call, p->tid, req->id, req->version, &d, &v, &has_version);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (has_version && d.status == ST_ARCHIVED &&
        (d.restore_state == RS_RUNNING || d.restore_state == RS_RESTORED))
        refresh_restore(ctx, call, p->tid, &d, v.object_key);
    Kumo__Documents__V1__GetDocumentResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__get_document_response__descriptor);
    if (req->include_download_url) {
        /* The current version is saved under the document's (editable)
         * file name; older ones under the name they were uploaded with. */
        if (req->version == 0 || req->version == d.current_version)
            v.file_name = d.file_name;
        if ((rc = check_readable(call, &d, &v, has_version)) != KUMO_CODE_OK ||
            (rc = presign_download(ctx, call, p->tid, &v, ttl_ms, &resp->download)) != KUMO_CODE_OK)
            return rc;
    }
    resp->document = docs_doc_message(call, &d);
    docs_thumbnails_attach(ctx, call, p->tid, &resp->document, 1);
    if (has_version)
        resp->version = docs_version_message(call, &v);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
