/* Content in: CreateDocument, CreateVersion, PresignUploadParts and
 * CompleteUpload.
 *
 * A create takes the tenant's next number, inserts the document
 * (PENDING_UPLOAD), its version 1, tags and the audit event in one
 * transaction, then asks kumo-storage for the upload target with the
 * caller's token (never while holding row locks). CompleteUpload checks
 * what arrived (size, SHA-256 when declared) before the version becomes
 * current; a mismatch deletes the object and leaves the version pending. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "documents.h"
#include "db/row.h"
#include "base/ids.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"

#define ST_PENDING KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_PENDING_UPLOAD
#define ST_ACTIVE  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ACTIVE
#define V_PENDING  KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_PENDING_UPLOAD
#define V_DONE     KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_AVAILABLE
#define UM_SINGLE  KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_SINGLE_PUT
#define UM_MULTI   KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART

/* What a new version is made of, validated. */
struct new_content {
    const char *file_name, *content_type;
    int64_t size;
    ProtobufCBinaryData sha256;
};

static kumo_code check_content(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                               struct new_content *n)
{
    kumo_code rc;
    if (n->content_type[0] == '\0')
        n->content_type = "application/octet-stream";
    if ((rc = docs_check_file_name(call, "file_name", n->file_name)) != KUMO_CODE_OK ||
        (rc = docs_check_content_type(call, "content_type", n->content_type)) != KUMO_CODE_OK ||
        (rc = docs_check_size(call, &ctx->s, "size", n->size)) != KUMO_CODE_OK ||
        (rc = docs_check_sha256(call, "sha256", n->sha256)) != KUMO_CODE_OK)
        return rc;
    return KUMO_CODE_OK;
}

static kumo_code check_idempotency_key(struct kumo_rpc_call *call, const char *k)
{
    size_t n = strlen(k);
    if (n > DOCS_IDEMPOTENCY_KEY_MAX)
        return docs_invalid(call, "idempotency_key", "is longer than 128 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
            return docs_invalid(call, "idempotency_key", "must be printable ASCII");
    return KUMO_CODE_OK;
}

/* Inserts pending version `version` of a document (inside the caller's
 * transaction) and queues the cleanup of its upload should it never
 * complete. */
static kumo_code insert_version(struct docs_ctx *ctx, struct kumo_db_conn *c,
                                struct kumo_rpc_call *call, const char *tid, const char *doc_id,
                                int64_t version, const struct new_content *n, const char *creator,
                                int64_t now)
{
    int32_t count = 0;
    int64_t part_size = 0;
    int multipart = n->size > ctx->s.multipart_threshold;
    if (multipart)
        part_size = docs_part_size(&ctx->s, n->size, &count);
    char *key = docs_object_key(call, tid, doc_id, version);
    kumo_code rc = kumo_db_exec(
        c,
        "INSERT INTO document_versions (tenant_id, document_id, version, status, file_name,"
        " content_type, size, sha256, creator_id, object_key, upload_method, part_size,"
        " part_count, create_time) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        KUMO_DB_PARAMS(
            KUMO_DB_STRZ(tid), KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version),
            KUMO_DB_STRZ(n->file_name), KUMO_DB_STRZ(n->content_type), KUMO_DB_I64(n->size),
            n->sha256.len ? KUMO_DB_BYTES(n->sha256.data, 32) : KUMO_DB_NULL, KUMO_DB_STRZ(creator),
            KUMO_DB_STRZ(key), KUMO_DB_I64(multipart ? UM_MULTI : UM_SINGLE),
            KUMO_DB_I64(part_size), KUMO_DB_I64(count), KUMO_DB_TIME(now)),
        NULL);
    if (rc == KUMO_CODE_OK)
        rc = docs_enqueue(c, tid, "cleanup_upload", doc_id, (int32_t)version, NULL,
                          now + ctx->s.upload_expiry_ms * 1000);
    return rc;
}

/* The tenant's next number for `year`, gap-free: the counter row stays
 * locked until the transaction ends, and a rollback gives the number back. */
static kumo_code next_number(struct kumo_db_conn *c, const char *tid, int year, char out[24])
{
    kumo_code rc =
        kumo_db_exec(c,
                     "INSERT INTO document_counters (tenant_id, year, last_number) VALUES (?, ?, 1)"
                     " ON DUPLICATE KEY UPDATE last_number = last_number + 1",
                     KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_I64(year)), NULL);
    int64_t n = 0;
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_query_row(
            c, "SELECT last_number FROM document_counters WHERE tenant_id = ? AND year = ?",
            KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_I64(year)),
            KUMO_DB_OUTS(KUMO_DB_OUT_I64(&n)));
    if (rc == KUMO_CODE_OK)
        snprintf(out, 24, "DOC-%04d-%06lld", year, (long long)n);
    return rc;
}

static int utc_year(int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

/* Answers a create with an existing document (idempotent retry): a fresh
 * upload target while its first version is still pending. Releases c. */
static kumo_code answer_document(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 struct kumo_db_conn *c, const char *tid, struct docs_doc_row *d,
                                 int presign_parts, ProtobufCMessage **response)
{
    Kumo__Documents__V1__CreateDocumentResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__create_document_response__init(resp);
    struct docs_version_row v;
    int pending = 0;
    if (d->pending_version > 0) {
        kumo_code rc = docs_load_version(c, call, tid, d->id, d->pending_version, &v);
        if (rc != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc);
        pending = v.status == V_PENDING;
    }
    kumo_db_release(c);
    if (pending) {
        kumo_code rc = docs_upload_target(ctx, call, tid, d->id, &v, presign_parts, &resp->upload);
        if (rc != KUMO_CODE_OK)
            return rc;
    }
    resp->document = docs_doc_message(call, d);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* Idempotency keys are the creating principal's: (tenant, owner, key). */
static kumo_code find_by_key(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                             const struct kumo_principal *p, const char *key,
                             struct docs_doc_row *d)
{
    return kumo_db_row_query_one(c,
                                 "SELECT " DOCS_DOC_COLUMNS
                                 " FROM documents d WHERE d.tenant_id = ? AND d.owner_id = ?"
                                 " AND d.idempotency_key = ? AND d.idempotency_expire_time > ?",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(p->sub),
                                                KUMO_DB_STRZ(key), KUMO_DB_TIME(kumo_now_us())),
                                 docs_scan_doc, call, d);
}

struct create_fields {
    const char *title, *description, *tags_text, *metadata, *idem_key;
    char **tags;
    size_t n_tags;
};

static kumo_code insert_document(struct docs_ctx *ctx, struct kumo_db_conn *c,
                                 struct kumo_rpc_call *call, const struct kumo_principal *p,
                                 const char *doc_id, const struct create_fields *f,
                                 const struct new_content *n, int64_t now)
{
    char number[24];
    kumo_code rc = next_number(c, p->tid, utc_year(now), number);
    if (rc != KUMO_CODE_OK)
        return rc;
    int idem = f->idem_key[0] != '\0';
    rc = kumo_db_exec(
        c,
        "INSERT INTO documents (id, tenant_id, number, title, description, file_name,"
        " content_type, size, sha256, tags_text, metadata, status, current_version,"
        " pending_version, owner_id, version, create_time, update_time, idempotency_key,"
        " idempotency_expire_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, 1, ?, 1, ?, ?,"
        " ?, ?)",
        KUMO_DB_PARAMS(
            KUMO_DB_STRZ(doc_id), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(number),
            KUMO_DB_STRZ(f->title), KUMO_DB_STRZ(f->description), KUMO_DB_STRZ(n->file_name),
            KUMO_DB_STRZ(n->content_type), KUMO_DB_I64(n->size),
            n->sha256.len ? KUMO_DB_BYTES(n->sha256.data, 32) : KUMO_DB_NULL,
            KUMO_DB_STRZ(f->tags_text), KUMO_DB_STRZ(f->metadata), KUMO_DB_STRZ(p->sub),
            KUMO_DB_TIME(now), KUMO_DB_TIME(now), idem ? KUMO_DB_STRZ(f->idem_key) : KUMO_DB_NULL,
            idem ? KUMO_DB_TIME(now + ctx->s.idempotency_ttl_ms * 1000) : KUMO_DB_NULL),
        NULL);
    if (rc == KUMO_CODE_OK)
        rc = insert_version(ctx, c, call, p->tid, doc_id, 1, n, p->sub, now);
    for (size_t i = 0; rc == KUMO_CODE_OK && i < f->n_tags; i++)
        rc = kumo_db_exec(
            c, DOCS_INSERT_TAG_SQL,
            KUMO_DB_PARAMS(KUMO_DB_STRZ(f->tags[i]), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(doc_id)),
            NULL);
    if (rc == KUMO_CODE_OK) {
        char roles[64], details[128];
        docs_roles_text(p->roles, roles);
        snprintf(details, sizeof details, "{\"number\":\"%s\",\"size\":%lld}", number,
                 (long long)n->size);
        rc = docs_audit(c, p->tid, p->sub, roles, "document.create", doc_id, 1,
                        kumo_rpc_call_request_id(call), details);
    }
    return rc;
}

static kumo_code validate_create(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 const Kumo__Documents__V1__CreateDocumentRequest *req,
                                 struct create_fields *f, struct new_content *n,
                                 struct kumo_buf *tags, struct kumo_buf *meta)
{
    n->file_name = req->file_name;
    n->content_type = req->content_type;
    n->size = req->size;
    n->sha256 = req->sha256;
    kumo_code rc = check_content(ctx, call, n);
    if (rc != KUMO_CODE_OK)
        return rc;
    f->title = req->title[0] ? req->title : req->file_name;
    f->description = req->description;
    f->idem_key = req->idempotency_key;
    f->tags = req->tags;
    f->n_tags = req->n_tags;
    if ((rc = docs_check_title(call, "title", f->title)) != KUMO_CODE_OK ||
        (rc = docs_check_description(call, "description", f->description)) != KUMO_CODE_OK ||
        (rc = docs_check_tags(call, "tags", req->tags, req->n_tags, tags)) != KUMO_CODE_OK ||
        (rc = docs_check_metadata(call, "metadata", req->metadata, meta)) != KUMO_CODE_OK ||
        (rc = check_idempotency_key(call, f->idem_key)) != KUMO_CODE_OK)
        return rc;
    f->tags_text = tags->len ? (const char *)tags->data : "";
    f->metadata = meta->len ? (const char *)meta->data : NULL;
    return KUMO_CODE_OK;
}

/* A key past its TTL no longer names its document: free it for reuse. */
static kumo_code release_expired_key(struct kumo_db_conn *c, const struct kumo_principal *p,
                                     const char *key)
{
    return kumo_db_exec(c,
                        "UPDATE documents SET idempotency_key = NULL, idempotency_expire_time ="
                        " NULL WHERE tenant_id = ? AND owner_id = ? AND idempotency_key = ?"
                        " AND idempotency_expire_time <= ?",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(p->sub),
                                       KUMO_DB_STRZ(key), KUMO_DB_TIME(kumo_now_us())),
                        NULL);
}

static kumo_code create_in_db(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                              const struct kumo_principal *p, const struct create_fields *f,
                              const struct new_content *n, int presign_parts,
                              ProtobufCMessage **response)
{
    struct kumo_db_conn *c;
    kumo_code rc = docs_db_acquire(ctx, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    if (f->idem_key[0]) {
        rc = find_by_key(c, call, p, f->idem_key, &d);
        if (rc == KUMO_CODE_OK)
            return answer_document(ctx, call, c, p->tid, &d, presign_parts, response);
        if (rc != KUMO_CODE_NOT_FOUND || (rc = release_expired_key(c, p, f->idem_key)) != 0)
            return docs_db_fail(call, c, rc);
    }
    char doc_id[DOCS_ID_MAX + 1];
    if (kumo_id_new("doc", doc_id, sizeof doc_id) != 0)
        return docs_db_fail(call, c, KUMO_CODE_INTERNAL);
    int64_t now = kumo_now_us();
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = insert_document(ctx, c, call, p, doc_id, f, n, now);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc == KUMO_CODE_ALREADY_EXISTS && f->idem_key[0] &&
        strcmp(kumo_db_last_error()->dup_key, "documents_idem") == 0) {
        /* A concurrent create with the same key won: answer with its document. */
        kumo_db_rollback(c);
        rc = find_by_key(c, call, p, f->idem_key, &d);
        if (rc != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc == KUMO_CODE_NOT_FOUND ? KUMO_CODE_ABORTED : rc);
        return answer_document(ctx, call, c, p->tid, &d, presign_parts, response);
    }
    if (rc == KUMO_CODE_OK)
        rc = docs_load_doc(c, call, p->tid, doc_id, 0, &d);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return answer_document(ctx, call, c, p->tid, &d, presign_parts, response);
}

DOCS_HANDLER(create_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__CreateDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct create_fields f;
    struct new_content n;
    struct kumo_buf tags = KUMO_BUF_INIT, meta = KUMO_BUF_INIT;
    rc = validate_create(ctx, call, req, &f, &n, &tags, &meta);
    if (rc == KUMO_CODE_OK)
        rc = create_in_db(ctx, call, p, &f, &n, req->presign_parts, response);
    kumo_buf_free(&tags);
    kumo_buf_free(&meta);
    return rc;
}

/* ---- CreateVersion ---- */

DOCS_HANDLER(create_version)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__CreateVersionRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_check_id(call, "document_id", req->document_id);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    if ((rc = kumo_db_begin(c)) != KUMO_CODE_OK ||
        (rc = docs_load_doc(c, call, p->tid, req->document_id, 1, &d)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    if (d.status != ST_ACTIVE) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "document is not active: new versions need an active document");
    }
    struct new_content n = {req->file_name[0] ? req->file_name : d.file_name, req->content_type,
                            req->size, req->sha256};
    if ((rc = check_content(ctx, call, &n)) != KUMO_CODE_OK) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return rc;
    }
    /* A newer pending version supersedes an older one, which the cleanup
     * job removes once its upload expires. */
    int64_t version =
        (d.pending_version > d.current_version ? d.pending_version : d.current_version) + 1;
    int64_t now = kumo_now_us();
    rc = insert_version(ctx, c, call, p->tid, d.id, version, &n, p->sub, now);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(c,
                          "UPDATE documents SET pending_version = ?, update_time = ?,"
                          " version = version + 1 WHERE tenant_id = ? AND id = ?",
                          KUMO_DB_PARAMS(KUMO_DB_I64(version), KUMO_DB_TIME(now),
                                         KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(d.id)),
                          NULL);
    if (rc == KUMO_CODE_OK) {
        char roles[64], details[64];
        docs_roles_text(p->roles, roles);
        snprintf(details, sizeof details, "{\"size\":%lld}", (long long)n.size);
        rc = docs_audit(c, p->tid, p->sub, roles, "document.create_version", d.id, (int32_t)version,
                        kumo_rpc_call_request_id(call), details);
    }
    struct docs_version_row v;
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_load_doc(c, call, p->tid, d.id, 0, &d);
    if (rc == KUMO_CODE_OK)
        rc = docs_load_version(c, call, p->tid, d.id, version, &v);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    Kumo__Documents__V1__CreateVersionResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__create_version_response__init(resp);
    rc = docs_upload_target(ctx, call, p->tid, d.id, &v, req->presign_parts, &resp->upload);
    if (rc != KUMO_CODE_OK)
        return rc;
    resp->document = docs_doc_message(call, &d);
    resp->version = docs_version_message(call, &v);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- PresignUploadParts ---- */

/* The pending version named by a request (0: the document's pending one). */
static kumo_code pending_version(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 const struct kumo_principal *p, const char *doc_id,
                                 int32_t version, struct docs_doc_row *d,
                                 struct docs_version_row *v)
{
    struct kumo_db_conn *c;
    kumo_code rc = docs_db_acquire(ctx, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    if ((rc = docs_load_doc(c, call, p->tid, doc_id, 0, d)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    int64_t want = version ? version : d->pending_version;
    if (version < 0 || want == 0) {
        kumo_db_release(c);
        if (version < 0)
            return docs_invalid(call, "version", "must not be negative");
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "no upload is pending");
    }
    rc = docs_load_version(c, call, p->tid, doc_id, want, v);
    if (rc == KUMO_CODE_NOT_FOUND) {
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "version %lld not found",
                                   (long long)want);
    }
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    return KUMO_CODE_OK;
}

DOCS_HANDLER(presign_upload_parts)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__PresignUploadPartsRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_check_id(call, "document_id", req->document_id);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->n_part_numbers == 0 || req->n_part_numbers > DOCS_PRESIGN_PARTS_MAX)
        return docs_invalid(call, "part_numbers", "must name 1..1000 parts");
    struct docs_doc_row d;
    struct docs_version_row v;
    if ((rc = pending_version(ctx, call, p, req->document_id, req->version, &d, &v)) !=
        KUMO_CODE_OK)
        return rc;
    if (v.status != V_PENDING || v.upload_method != UM_MULTI)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "version %lld is not a pending multipart upload",
                                   (long long)v.version);
    for (size_t i = 0; i < req->n_part_numbers; i++)
        if (req->part_numbers[i] < 1 || req->part_numbers[i] > v.part_count)
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                       "part_numbers[%zu] must be 1..%lld", i,
                                       (long long)v.part_count);
    if (v.upload_id[0] == '\0') {
        Kumo__Documents__V1__UploadTarget *t;
        if ((rc = docs_upload_target(ctx, call, p->tid, d.id, &v, 0, &t)) != KUMO_CODE_OK)
            return rc;
    }
    Kumo__Documents__V1__PresignUploadPartsResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__presign_upload_parts_response__init(resp);
    resp->parts = kumo_rpc_call_alloc(call, req->n_part_numbers * sizeof *resp->parts);
    for (size_t i = 0; i < req->n_part_numbers; i++) {
        rc = docs_presign_part(ctx, call, p->tid, &v, req->part_numbers[i], &resp->parts[i],
                               &resp->expire_time);
        if (rc != KUMO_CODE_OK)
            return rc;
        resp->n_parts++;
    }
    *response = &resp->base;
    return KUMO_CODE_OK;
}
