/* Changes to a document's description and lifecycle: UpdateDocument,
 * ArchiveDocument, RestoreDocument, DeleteDocument, UndeleteDocument.
 *
 * Each change is a conditional UPDATE on the row version (the etag) inside
 * a transaction with its audit event. Storage changes (archive, restore)
 * are made first, with the caller's token, and the row follows; archiving
 * an already archived document is failed_precondition ("already
 * archived"). A soft delete keeps the row (status DELETED, purge_time =
 * now + KUMO_DELETE_RETENTION) for UndeleteDocument; purge=true removes it
 * and queues the removal of every version's content. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "documents.h"
#include "db/row.h"
#include "base/ids.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"

#define ST_PENDING  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_PENDING_UPLOAD
#define ST_ACTIVE   KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ACTIVE
#define ST_ARCHIVED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED
#define ST_DELETED  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED
#define RS_ARCHIVED KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_ARCHIVED
#define RS_RUNNING  KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_IN_PROGRESS
#define RS_RESTORED KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_RESTORED

enum { F_TITLE = 1, F_DESCRIPTION = 2, F_TAGS = 4, F_METADATA = 8, F_FILE_NAME = 16 };

static const struct {
    const char *path;
    unsigned bit;
} mask_paths[] = {{"title", F_TITLE},
                  {"description", F_DESCRIPTION},
                  {"tags", F_TAGS},
                  {"metadata", F_METADATA},
                  {"file_name", F_FILE_NAME}};

static kumo_code parse_mask(struct kumo_rpc_call *call, const Google__Protobuf__FieldMask *m,
                            unsigned *fields)
{
    *fields = 0;
    if (m == NULL || m->n_paths == 0)
        return docs_invalid(call, "update_mask", "must name at least one field");
    for (size_t i = 0; i < m->n_paths; i++) {
        unsigned bit = 0;
        for (size_t k = 0; k < sizeof mask_paths / sizeof mask_paths[0]; k++)
            if (strcmp(m->paths[i], mask_paths[k].path) == 0)
                bit = mask_paths[k].bit;
        if (bit == 0)
            return docs_invalid(call, "update_mask",
                                "may only name title, description, tags, metadata and file_name");
        *fields |= bit;
    }
    return KUMO_CODE_OK;
}

/* Answers for a conditional change that matched no row: the document is
 * gone (not_found) or the etag was stale (aborted). Releases c. */
static kumo_code lost_race(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                           const char *id)
{
    struct docs_doc_row d;
    kumo_code rc = docs_load_doc(c, call, tid, id, 0, &d);
    kumo_db_rollback(c);
    kumo_db_release(c);
    if (rc == KUMO_CODE_NOT_FOUND)
        return kumo_rpc_call_error(call, rc, "document not found");
    return kumo_rpc_call_error(call, KUMO_CODE_ABORTED,
                               "etag does not match: the document changed, read it again");
}

/* Commits, reads the document back and answers with it (the response
 * types all hold one `document` as their first field). Releases c. */
static kumo_code finish(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                        const char *id, const ProtobufCMessageDescriptor *desc,
                        ProtobufCMessage **response)
{
    kumo_code rc = kumo_db_commit(c);
    struct docs_doc_row d;
    if (rc == KUMO_CODE_OK)
        rc = docs_load_doc(c, call, tid, id, 0, &d);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    ProtobufCMessage *m = kumo_rpc_call_alloc(call, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    /* Every one of these responses is { Document document = 1; }. */
    Kumo__Documents__V1__Document **slot =
        (Kumo__Documents__V1__Document **)((char *)m + desc->fields[0].offset);
    *slot = docs_doc_message(call, &d);
    *response = m;
    return KUMO_CODE_OK;
}

static kumo_code audit(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                       const struct kumo_principal *p, const char *action, const char *id,
                       const char *details)
{
    char roles[64];
    docs_roles_text(p->roles, roles);
    return docs_audit(c, p->tid, p->sub, roles, action, id, 0, kumo_rpc_call_request_id(call),
                      details);
}

/* ---- UpdateDocument ---- */

struct update_values {
    const char *title, *description, *file_name, *tags_text, *metadata;
    char **tags;
    size_t n_tags;
};

static kumo_code check_update(struct kumo_rpc_call *call, const Kumo__Documents__V1__Document *d,
                              unsigned f, struct update_values *u, struct kumo_buf *tags,
                              struct kumo_buf *meta)
{
    kumo_code rc = KUMO_CODE_OK;
    if ((f & F_TITLE) && (rc = docs_check_title(call, "document.title", d->title)) != 0)
        return rc;
    if ((f & F_DESCRIPTION) &&
        (rc = docs_check_description(call, "document.description", d->description)) != 0)
        return rc;
    if ((f & F_FILE_NAME) &&
        (rc = docs_check_file_name(call, "document.file_name", d->file_name)) != 0)
        return rc;
    if ((f & F_TAGS) &&
        (rc = docs_check_tags(call, "document.tags", d->tags, d->n_tags, tags)) != 0)
        return rc;
    if ((f & F_METADATA) &&
        (rc = docs_check_metadata(call, "document.metadata", d->metadata, meta)) != 0)
        return rc;
    u->title = d->title;
    u->description = d->description;
    u->file_name = d->file_name;
    u->tags = d->tags;
    u->n_tags = d->n_tags;
    u->tags_text = tags->len ? (const char *)tags->data : "";
    u->metadata = meta->len ? (const char *)meta->data : NULL;
    return KUMO_CODE_OK;
}

static void changed_fields(unsigned f, struct kumo_buf *out)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < sizeof mask_paths / sizeof mask_paths[0]; k++)
        if (f & mask_paths[k].bit)
            json_array_append_new(arr, json_string(mask_paths[k].path));
    json_t *root = json_object();
    json_object_set_new(root, "fields", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    kumo_buf_append_str(out, s);
    free(s);
    json_decref(root);
}

static kumo_code apply_update(struct kumo_db_conn *c, const struct kumo_principal *p,
                              const char *id, int64_t version, unsigned f,
                              const struct update_values *u, uint64_t *matched)
{
    kumo_code rc = kumo_db_exec(
        c,
        "UPDATE documents SET title = IF(?, ?, title), description = IF(?, ?, description),"
        " file_name = IF(?, ?, file_name), tags_text = IF(?, ?, tags_text),"
        " metadata = IF(?, ?, metadata), version = version + 1, update_time = ?"
        " WHERE tenant_id = ? AND id = ? AND version = ? AND status <> 4",
        KUMO_DB_PARAMS(KUMO_DB_I64((f & F_TITLE) != 0), KUMO_DB_STRZ(u->title),
                       KUMO_DB_I64((f & F_DESCRIPTION) != 0), KUMO_DB_STRZ(u->description),
                       KUMO_DB_I64((f & F_FILE_NAME) != 0), KUMO_DB_STRZ(u->file_name),
                       KUMO_DB_I64((f & F_TAGS) != 0), KUMO_DB_STRZ(u->tags_text),
                       KUMO_DB_I64((f & F_METADATA) != 0), KUMO_DB_STRZ(u->metadata),
                       KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(id),
                       KUMO_DB_I64(version)),
        matched);
    if (rc != KUMO_CODE_OK || *matched == 0 || !(f & F_TAGS))
        return rc;
    rc = kumo_db_exec(c, "DELETE FROM document_tags WHERE tenant_id = ? AND document_id = ?",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(id)), NULL);
    for (size_t i = 0; rc == KUMO_CODE_OK && i < u->n_tags; i++)
        rc = kumo_db_exec(
            c, DOCS_INSERT_TAG_SQL,
            KUMO_DB_PARAMS(KUMO_DB_STRZ(u->tags[i]), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(id)), NULL);
    return rc;
}

DOCS_HANDLER(update_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__UpdateDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->document == NULL)
        return docs_invalid(call, "document", "is required");
    const char *id = req->document->id;
    unsigned f;
    int64_t version;
    if ((rc = docs_check_id(call, "document.id", id)) != KUMO_CODE_OK ||
        (rc = parse_mask(call, req->update_mask, &f)) != KUMO_CODE_OK)
        return rc;
    if (req->etag[0] == '\0')
        return docs_invalid(call, "etag", "is required");
    if (kumo_etag_parse(req->etag, &version) != 0)
        return docs_invalid(call, "etag", "is not an etag of this service");
    struct update_values u;
    struct kumo_buf tags = KUMO_BUF_INIT, meta = KUMO_BUF_INIT, details = KUMO_BUF_INIT;
    struct kumo_db_conn *c = NULL;
    uint64_t matched = 0;
    if ((rc = check_update(call, req->document, f, &u, &tags, &meta)) != KUMO_CODE_OK ||
        (rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        goto out;
    changed_fields(f, &details);
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = apply_update(c, p, id, version, f, &u, &matched);
    if (rc == KUMO_CODE_OK && matched == 0) {
        struct docs_doc_row d;
        if (docs_load_doc(c, call, p->tid, id, 0, &d) == KUMO_CODE_OK && d.status == ST_DELETED) {
            kumo_db_rollback(c);
            kumo_db_release(c);
            rc = kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                     "document is deleted: undelete it first");
        } else {
            rc = lost_race(call, c, p->tid, id);
        }
        goto out;
    }
    if (rc == KUMO_CODE_OK)
        rc = audit(c, call, p, "document.update", id, (const char *)details.data);
    if (rc != KUMO_CODE_OK) {
        rc = docs_db_fail(call, c, rc);
        goto out;
    }
    rc = finish(call, c, p->tid, id, &kumo__documents__v1__update_document_response__descriptor,
                response);
out:
    kumo_buf_free(&tags);
    kumo_buf_free(&meta);
    kumo_buf_free(&details);
    return rc;
}

/* ---- archive and restore ---- */

/* Object keys of every available version (call arena), newest first. */
static kumo_code version_keys(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                              const char *id, char ***keys, size_t *n)
{
    struct kumo_db_rows *rows;
    kumo_code rc = kumo_db_query(c,
                                 "SELECT object_key FROM document_versions WHERE tenant_id = ?"
                                 " AND document_id = ? AND status = 2 ORDER BY version DESC"
                                 " LIMIT 10000",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id)), &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    size_t cap = 8;
    *keys = kumo_rpc_call_alloc(call, cap * sizeof **keys);
    *n = 0;
    for (;;) {
        int has = 0;
        if ((rc = kumo_db_rows_next(rows, &has)) != KUMO_CODE_OK || !has)
            break;
        if (*n == cap) {
            char **bigger = kumo_rpc_call_alloc(call, 2 * cap * sizeof *bigger);
            memcpy(bigger, *keys, cap * sizeof *bigger);
            *keys = bigger;
            cap *= 2;
        }
        (*keys)[(*n)++] = kumo_db_row_str(kumo_rpc_call_allocator(call), rows, 0);
    }
    kumo_db_rows_close(rows);
    return rc;
}

/* Loads the document (checking the optional etag) and its content keys. */
static kumo_code load_for_change(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 const struct kumo_principal *p, const char *id, const char *etag,
                                 struct docs_doc_row *d, char ***keys, size_t *n)
{
    kumo_code rc = docs_check_id(call, "id", id);
    if (rc != KUMO_CODE_OK)
        return rc;
    int64_t want = 0;
    if (etag && etag[0] && kumo_etag_parse(etag, &want) != 0)
        return docs_invalid(call, "etag", "is not an etag of this service");
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        return rc;
    rc = docs_load_doc(c, call, p->tid, id, 0, d);
    if (rc == KUMO_CODE_OK && keys)
        rc = version_keys(c, call, p->tid, id, keys, n);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    if (want && want != d->version)
        return kumo_rpc_call_error(call, KUMO_CODE_ABORTED,
                                   "etag does not match: the document changed, read it again");
    return KUMO_CODE_OK;
}

static kumo_code set_class(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                           const char *key, Kumo__Storage__V1__StorageClass cls)
{
    Kumo__Storage__V1__SetStorageClassRequest req =
        KUMO__STORAGE__V1__SET_STORAGE_CLASS_REQUEST__INIT;
    req.key = (char *)key;
    req.storage_class = cls;
    ProtobufCMessage *m;
    return docs_storage_call(ctx, call, tid, "SetStorageClass", &req.base,
                             &kumo__storage__v1__set_storage_class_response__descriptor, &m);
}

DOCS_HANDLER(archive_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__ArchiveDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    struct docs_doc_row d;
    char **keys;
    size_t n;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc == KUMO_CODE_OK)
        rc = load_for_change(ctx, call, p, req->id, req->etag, &d, &keys, &n);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (d.status == ST_ARCHIVED)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "already archived");
    if (d.status != ST_ACTIVE)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "only active documents can be archived");
    for (size_t i = 0; i < n; i++) {
        rc = set_class(ctx, call, p->tid, keys[i],
                       KUMO__STORAGE__V1__STORAGE_CLASS__STORAGE_CLASS_GLACIER);
        if (rc != KUMO_CODE_OK)
            return docs_storage_fail(call, rc, "cannot archive the content");
    }
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        return rc;
    int64_t now = kumo_now_us();
    uint64_t matched = 0;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(c,
                          "UPDATE documents SET status = 3, archive_time = ?, restore_state = 1,"
                          " restore_tier = 0, restore_days = 0, restore_ready_time = NULL,"
                          " restore_expire_time = NULL, version = version + 1, update_time = ?"
                          " WHERE tenant_id = ? AND id = ? AND version = ? AND status = 2",
                          KUMO_DB_PARAMS(KUMO_DB_TIME(now), KUMO_DB_TIME(now), KUMO_DB_STRZ(p->tid),
                                         KUMO_DB_STRZ(d.id), KUMO_DB_I64(d.version)),
                          &matched);
    if (rc == KUMO_CODE_OK && matched == 0)
        return lost_race(call, c, p->tid, d.id);
    if (rc == KUMO_CODE_OK)
        rc = audit(c, call, p, "document.archive", d.id, "{\"storage_class\":\"GLACIER\"}");
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return finish(call, c, p->tid, d.id,
                  &kumo__documents__v1__archive_document_response__descriptor, response);
}

static kumo_code restore_object(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                                const char *key, int32_t days, int32_t tier,
                                const Kumo__Storage__V1__ObjectInfo **obj)
{
    Kumo__Storage__V1__RestoreObjectRequest req = KUMO__STORAGE__V1__RESTORE_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    req.days = days;
    req.tier = (Kumo__Storage__V1__RestoreTier)tier;
    ProtobufCMessage *m;
    kumo_code rc = docs_storage_call(ctx, call, tid, "RestoreObject", &req.base,
                                     &kumo__storage__v1__restore_object_response__descriptor, &m);
    if (rc == KUMO_CODE_OK)
        *obj = ((Kumo__Storage__V1__RestoreObjectResponse *)m)->object;
    return rc;
}

static int64_t ts_us(const Google__Protobuf__Timestamp *t)
{
    return t ? t->seconds * 1000000 + t->nanos / 1000 : 0;
}

DOCS_HANDLER(restore_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__RestoreDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    struct docs_doc_row d;
    char **keys;
    size_t n;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->days < 1 || req->days > 365)
        return docs_invalid(call, "days", "must be 1..365");
    if (req->tier < 0 || req->tier > KUMO__DOCUMENTS__V1__RESTORE_TIER__RESTORE_TIER_BULK)
        return docs_invalid(call, "tier", "is not a known tier");
    int32_t tier = req->tier ? req->tier : KUMO__DOCUMENTS__V1__RESTORE_TIER__RESTORE_TIER_STANDARD;
    if ((rc = load_for_change(ctx, call, p, req->id, NULL, &d, &keys, &n)) != KUMO_CODE_OK)
        return rc;
    if (d.status != ST_ARCHIVED)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "document is not archived");
    if (d.restore_state == RS_RUNNING)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "a restore is already in progress");
    const Kumo__Storage__V1__ObjectInfo *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        const Kumo__Storage__V1__ObjectInfo *o = NULL;
        if ((rc = restore_object(ctx, call, p->tid, keys[i], req->days, tier, &o)) != KUMO_CODE_OK)
            return docs_storage_fail(call, rc, "cannot restore the content");
        if (i == 0)
            cur = o; /* keys are newest first: the current version's */
    }
    int64_t state = RS_RUNNING, ready = 0, expire = 0;
    if (cur && cur->restore && cur->restore->state) {
        state = cur->restore->state;
        ready = ts_us(cur->restore->ready_time);
        expire = ts_us(cur->restore->expire_time);
    }
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        return rc;
    uint64_t matched = 0;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(
            c,
            "UPDATE documents SET restore_state = ?, restore_tier = ?, restore_days = ?,"
            " restore_ready_time = ?, restore_expire_time = ?, version = version + 1,"
            " update_time = ? WHERE tenant_id = ? AND id = ? AND version = ? AND status = 3",
            KUMO_DB_PARAMS(KUMO_DB_I64(state), KUMO_DB_I64(tier), KUMO_DB_I64(req->days),
                           ready ? KUMO_DB_TIME(ready) : KUMO_DB_NULL,
                           expire ? KUMO_DB_TIME(expire) : KUMO_DB_NULL,
                           KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(d.id),
                           KUMO_DB_I64(d.version)),
            &matched);
    if (rc == KUMO_CODE_OK && matched == 0)
        return lost_race(call, c, p->tid, d.id);
    if (rc == KUMO_CODE_OK) {
        char details[64];
        snprintf(details, sizeof details, "{\"days\":%d,\"tier\":%d}", req->days, tier);
        rc = audit(c, call, p, "document.restore", d.id, details);
    }
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return finish(call, c, p->tid, d.id,
                  &kumo__documents__v1__restore_document_response__descriptor, response);
}

/* ---- delete and undelete ---- */

static kumo_code purge(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                       const struct kumo_principal *p, const char *id, int64_t version,
                       ProtobufCMessage **response)
{
    struct kumo_db_conn *c;
    kumo_code rc = docs_db_acquire(ctx, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    char roles[64];
    docs_roles_text(p->roles, roles);
    struct docs_doc_row d;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_load_doc(c, call, p->tid, id, 1, &d);
    if (rc == KUMO_CODE_OK && version && d.version != version)
        return lost_race(call, c, p->tid, id);
    if (rc == KUMO_CODE_OK)
        rc = docs__purge_rows_as(c, p->tid, id, p->sub, roles, kumo_rpc_call_request_id(call));
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    Kumo__Documents__V1__DeleteDocumentResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__delete_document_response__init(resp);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

DOCS_HANDLER(delete_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__DeleteDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_check_id(call, "id", req->id);
    if (rc != KUMO_CODE_OK)
        return rc;
    int64_t version = 0;
    if (req->etag[0] && kumo_etag_parse(req->etag, &version) != 0)
        return docs_invalid(call, "etag", "is not an etag of this service");
    if (req->purge)
        return purge(ctx, call, p, req->id, version, response);
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_load_doc(c, call, p->tid, req->id, 1, &d);
    if (rc == KUMO_CODE_OK && version && d.version != version)
        return lost_race(call, c, p->tid, req->id);
    if (rc == KUMO_CODE_OK && d.status == ST_DELETED) /* idempotent: already deleted */
        return finish(call, c, p->tid, d.id,
                      &kumo__documents__v1__delete_document_response__descriptor, response);
    int64_t now = kumo_now_us();
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(
            c,
            "UPDATE documents SET status_before_delete = status, status = 4, delete_time = ?,"
            " purge_time = ?, version = version + 1, update_time = ?"
            " WHERE tenant_id = ? AND id = ?",
            KUMO_DB_PARAMS(KUMO_DB_TIME(now), KUMO_DB_TIME(now + ctx->s.retention_ms * 1000),
                           KUMO_DB_TIME(now), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(d.id)),
            NULL);
    if (rc == KUMO_CODE_OK)
        rc = audit(c, call, p, "document.delete", d.id, NULL);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return finish(call, c, p->tid, d.id, &kumo__documents__v1__delete_document_response__descriptor,
                  response);
}

DOCS_HANDLER(undelete_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__UndeleteDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_check_id(call, "id", req->id);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_load_doc(c, call, p->tid, req->id, 1, &d);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    const char *why = NULL;
    if (d.status != ST_DELETED)
        why = "document is not deleted";
    else if (!d.purge_null && d.purge_us <= kumo_now_us())
        why = "the retention period is over: the document is being purged";
    if (why) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "%s", why);
    }
    rc = kumo_db_exec(
        c,
        "UPDATE documents SET status = COALESCE(status_before_delete, 2),"
        " status_before_delete = NULL, delete_time = NULL, purge_time = NULL,"
        " version = version + 1, update_time = ? WHERE tenant_id = ? AND id = ?",
        KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(d.id)),
        NULL);
    if (rc == KUMO_CODE_OK)
        rc = audit(c, call, p, "document.undelete", d.id, NULL);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return finish(call, c, p->tid, d.id,
                  &kumo__documents__v1__undelete_document_response__descriptor, response);
}
