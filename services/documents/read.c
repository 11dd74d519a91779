/* Reads: GetDocument (with a download URL on request), ListVersions and
 * ListAuditEvents. ListDocuments is in list.c.
 *
 * Soft-deleted documents are returned by GetDocument with status DELETED
 * (so a client can show and undelete them) but get no download URL. The
 * restore state of an archived document is refreshed from kumo-storage on
 * every Get while a restore is running or a copy exists, so IN_PROGRESS
 * becomes RESTORED (and RESTORED back to ARCHIVED) without a job. */
#include <stdio.h>
#include <string.h>

#include "http/content_disposition.h"
#include "db/row.h"
#include "documents.h"
#include "google/protobuf/duration.pb-c.h"
#include "base/ids.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"
#include "db/page_token.h"

#define ST_ARCHIVED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED
#define ST_DELETED  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED
#define RS_ARCHIVED KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_ARCHIVED
#define RS_RUNNING  KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_IN_PROGRESS
#define RS_RESTORED KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_RESTORED
#define V_PENDING   KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_PENDING_UPLOAD

static int64_t ts_us(const Google__Protobuf__Timestamp *t)
{
    return t ? t->seconds * 1000000 + t->nanos / 1000 : 0;
}

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
    int64_t ready = ts_us(o->restore->ready_time), expire = ts_us(o->restore->expire_time);
    if (state == d->restore_state && (state != RS_RESTORED || expire == d->restore_expire_us))
        return;
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) != KUMO_CODE_OK)
        return;
    /* Not an edit: the etag (version) stays. */
    if (kumo_db_exec(c,
                     "UPDATE documents SET restore_state = ?, restore_ready_time = ?,"
                     " restore_expire_time = ? WHERE tenant_id = ? AND id = ? AND version = ?",
                     KUMO_DB_PARAMS(KUMO_DB_I64(state), ready ? KUMO_DB_TIME(ready) : KUMO_DB_NULL,
                                    expire ? KUMO_DB_TIME(expire) : KUMO_DB_NULL, KUMO_DB_STRZ(tid),
                                    KUMO_DB_STRZ(d->id), KUMO_DB_I64(d->version)),
                     NULL) == KUMO_CODE_OK) {
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
        return docs_invalid(call, "download_expires_in", "must be between 1s and 1h");
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
    ProtobufCMessage *m;
    kumo_code rc = docs_storage_call(ctx, call, tid, "PresignDownload", &req.base,
                                     &kumo__storage__v1__presign_download_response__descriptor, &m);
    if (rc == KUMO_CODE_FAILED_PRECONDITION)
        return kumo_rpc_call_error(call, rc, "document is archived: restore it first");
    if (rc != KUMO_CODE_OK)
        return docs_storage_fail(call, rc, "cannot presign the download");
    const Kumo__Storage__V1__PresignDownloadResponse *r = (const void *)m;
    Kumo__Documents__V1__DownloadTarget *t = kumo_rpc_call_alloc(call, sizeof *t);
    kumo__documents__v1__download_target__init(t);
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
    kumo_code rc = docs_db_acquire(ctx, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    if ((rc = docs_load_doc(c, call, tid, id, 0, d)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    int64_t want = version ? version : d->current_version;
    *has_version = 0;
    if (want > 0) {
        rc = docs_load_version(c, call, tid, id, want, v);
        if (rc == KUMO_CODE_NOT_FOUND) {
            kumo_db_release(c);
            return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "version %lld not found",
                                       (long long)want);
        }
        if (rc != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc);
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
    kumo_code rc = docs_caller(call, DOCS_VIEWER, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_check_id(call, "id", req->id);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->version < 0)
        return docs_invalid(call, "version", "must not be negative");
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
    Kumo__Documents__V1__GetDocumentResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__get_document_response__init(resp);
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
    if (has_version)
        resp->version = docs_version_message(call, &v);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- ListVersions ---- */

static void versions_scope(struct kumo_buf *b, const char *tid, const char *doc_id)
{
    kumo_buf_appendf(b, "versions|%s|%s", tid, doc_id);
}

DOCS_HANDLER(list_versions)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__ListVersionsRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_VIEWER, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_check_id(call, "document_id", req->document_id);
    if (rc != KUMO_CODE_OK)
        return rc;
    int32_t size;
    if (kumo_page_size(req->page_size, DOCS_PAGE_DEFAULT, DOCS_PAGE_MAX, &size) != 0)
        return docs_invalid(call, "page_size", "must not be negative");
    struct kumo_buf scope = KUMO_BUF_INIT;
    versions_scope(&scope, p->tid, req->document_id);
    int64_t after;
    int bad = kumo_page_token_decode(req->page_token, strlen(req->page_token), scope.data,
                                     scope.len, &after);
    if (bad) {
        kumo_buf_free(&scope);
        return docs_invalid(call, "page_token", "is not a token of this query");
    }
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return rc;
    }
    struct docs_doc_row d;
    struct kumo_db_rows *rows = NULL;
    rc = docs_load_doc(c, call, p->tid, req->document_id, 0, &d);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_query(c,
                           "SELECT " DOCS_VERSION_COLUMNS " FROM document_versions v"
                           " WHERE v.tenant_id = ? AND v.document_id = ? AND v.version < ?"
                           " ORDER BY v.version DESC LIMIT ?",
                           KUMO_DB_PARAMS(KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(req->document_id),
                                          KUMO_DB_I64(after < 0 ? INT64_MAX : after),
                                          KUMO_DB_I64(size + 1)),
                           &rows);
    if (rc != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return docs_db_fail(call, c, rc);
    }
    Kumo__Documents__V1__ListVersionsResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__list_versions_response__init(resp);
    resp->versions = kumo_rpc_call_alloc(call, (size_t)size * sizeof *resp->versions);
    int more = 0;
    int64_t last = -1;
    for (;;) {
        int has = 0;
        if ((rc = kumo_db_rows_next(rows, &has)) != KUMO_CODE_OK || !has)
            break;
        if (resp->n_versions == (size_t)size) {
            more = 1;
            break;
        }
        struct docs_version_row v;
        if ((rc = docs_scan_version(call, rows, &v)) != KUMO_CODE_OK)
            break;
        resp->versions[resp->n_versions++] = docs_version_message(call, &v);
        last = v.version;
    }
    kumo_db_rows_close(rows);
    if (rc != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return docs_db_fail(call, c, rc);
    }
    kumo_db_release(c);
    if (more) {
        resp->next_page_token = kumo_rpc_call_alloc(call, KUMO_PAGE_TOKEN_MAX);
        kumo_page_token_encode(last, scope.data, scope.len, resp->next_page_token);
    }
    kumo_buf_free(&scope);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- ListAuditEvents ---- */

static kumo_code check_filter(struct kumo_rpc_call *call, const char *field, const char *s)
{
    size_t n = strlen(s);
    if (n > 128)
        return docs_invalid(call, field, "is too long");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return docs_invalid(call, field, "must be printable ASCII without spaces");
    return KUMO_CODE_OK;
}

static Kumo__Documents__V1__AuditEvent *
scan_event(struct kumo_rpc_call *call, struct kumo_db_rows *rows, int64_t *seq, kumo_code *rc)
{
    int64_t time_us, version;
    *rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(seq), KUMO_DB_OUT_TIME(&time_us),
                                               KUMO_DB_OUT_I64(&version)));
    if (*rc != KUMO_CODE_OK)
        return NULL;
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    Kumo__Documents__V1__AuditEvent *e = kumo_rpc_call_alloc(call, sizeof *e);
    kumo__documents__v1__audit_event__init(e);
    e->time = docs_ts(call, time_us);
    e->version = (int32_t)version;
    e->id = kumo_db_row_str(a, rows, 3);
    e->actor_id = kumo_db_row_str(a, rows, 4);
    e->actor_roles = kumo_db_row_str(a, rows, 5);
    e->action = kumo_db_row_str(a, rows, 6);
    e->document_id = kumo_db_row_str(a, rows, 7);
    e->request_id = kumo_db_row_str(a, rows, 8);
    e->details = docs_struct_parse(call, kumo_db_row_str(a, rows, 9));
    return e;
}

DOCS_HANDLER(list_audit_events)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__ListAuditEventsRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_ADMIN, &p);
    if (rc == KUMO_CODE_OK && (rc = check_filter(call, "document_id", req->document_id)) == 0 &&
        (rc = check_filter(call, "actor_id", req->actor_id)) == 0)
        rc = check_filter(call, "action", req->action);
    if (rc != KUMO_CODE_OK)
        return rc;
    int32_t size;
    if (kumo_page_size(req->page_size, DOCS_PAGE_DEFAULT, DOCS_PAGE_MAX, &size) != 0)
        return docs_invalid(call, "page_size", "must not be negative");
    struct kumo_buf scope = KUMO_BUF_INIT;
    kumo_buf_appendf(&scope, "audit|%s|%s|%s|%s", p->tid, req->document_id, req->actor_id,
                     req->action);
    int64_t after;
    if (kumo_page_token_decode(req->page_token, strlen(req->page_token), scope.data, scope.len,
                               &after) != 0) {
        kumo_buf_free(&scope);
        return docs_invalid(call, "page_token", "is not a token of this query");
    }
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return rc;
    }
    struct kumo_db_rows *rows;
    rc = kumo_db_query(
        c,
        "SELECT seq, time, version, id, actor_id, actor_roles, action, document_id, request_id,"
        " details FROM audit_events WHERE tenant_id = ? AND seq < ?"
        " AND (? = '' OR document_id = ?) AND (? = '' OR actor_id = ?) AND (? = '' OR action = ?)"
        " ORDER BY seq DESC LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(p->tid), KUMO_DB_I64(after < 0 ? INT64_MAX : after),
                       KUMO_DB_STRZ(req->document_id), KUMO_DB_STRZ(req->document_id),
                       KUMO_DB_STRZ(req->actor_id), KUMO_DB_STRZ(req->actor_id),
                       KUMO_DB_STRZ(req->action), KUMO_DB_STRZ(req->action), KUMO_DB_I64(size + 1)),
        &rows);
    if (rc != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return docs_db_fail(call, c, rc);
    }
    Kumo__Documents__V1__ListAuditEventsResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__list_audit_events_response__init(resp);
    resp->events = kumo_rpc_call_alloc(call, (size_t)size * sizeof *resp->events);
    int more = 0;
    int64_t last = -1;
    for (;;) {
        int has = 0;
        if ((rc = kumo_db_rows_next(rows, &has)) != KUMO_CODE_OK || !has)
            break;
        if (resp->n_events == (size_t)size) {
            more = 1;
            break;
        }
        Kumo__Documents__V1__AuditEvent *e = scan_event(call, rows, &last, &rc);
        if (e == NULL)
            break;
        resp->events[resp->n_events++] = e;
    }
    kumo_db_rows_close(rows);
    if (rc != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return docs_db_fail(call, c, rc);
    }
    kumo_db_release(c);
    if (more) {
        resp->next_page_token = kumo_rpc_call_alloc(call, KUMO_PAGE_TOKEN_MAX);
        kumo_page_token_encode(last, scope.data, scope.len, resp->next_page_token);
    }
    kumo_buf_free(&scope);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
