/* CompleteUpload: what arrived at kumo-storage (a single PUT's object, or
 * the multipart upload assembled from the listed parts) must have the
 * declared size, and the declared SHA-256 when there was one; then, in one
 * transaction, the version becomes AVAILABLE and current, the document
 * ACTIVE, extraction is queued and the audit event written. A mismatch
 * deletes the object and answers failed_precondition with the version
 * still pending (a multipart version gets a fresh upload on its next
 * PresignUploadParts). Completing a completed version answers the document
 * again. */
#include <stdio.h>
#include <string.h>

#include "documents.h"
#include "ids.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "log.h"

#define ST_PENDING KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_PENDING_UPLOAD
#define ST_ACTIVE  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ACTIVE
#define V_PENDING  KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_PENDING_UPLOAD
#define UM_MULTI   KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART

static kumo_code stat_object(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *key,
                             Kumo__Storage__V1__ObjectInfo **obj)
{
    Kumo__Storage__V1__StatObjectRequest req = KUMO__STORAGE__V1__STAT_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    ProtobufCMessage *m;
    kumo_code rc = docs_storage_call(ctx, call, "StatObject", &req.base,
                                     &kumo__storage__v1__stat_object_response__descriptor, &m);
    if (rc == KUMO_CODE_OK)
        *obj = ((Kumo__Storage__V1__StatObjectResponse *)m)->object;
    return rc;
}

static kumo_code complete_multipart(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                    const struct docs_version_row *v,
                                    const Kumo__Documents__V1__CompleteUploadRequest *req,
                                    Kumo__Storage__V1__ObjectInfo **obj)
{
    if (req->n_parts == 0)
        return docs_invalid(call, "parts", "must list every uploaded part");
    Kumo__Storage__V1__CompleteMultipartUploadRequest r =
        KUMO__STORAGE__V1__COMPLETE_MULTIPART_UPLOAD_REQUEST__INIT;
    r.key = v->object_key;
    r.upload_id = v->upload_id;
    r.n_parts = req->n_parts;
    r.parts = kumo_rpc_call_alloc(call, req->n_parts * sizeof *r.parts);
    for (size_t i = 0; i < req->n_parts; i++) {
        r.parts[i] = kumo_rpc_call_alloc(call, sizeof **r.parts);
        kumo__storage__v1__completed_part__init(r.parts[i]);
        r.parts[i]->part_number = req->parts[i]->part_number;
        r.parts[i]->etag = req->parts[i]->etag;
    }
    ProtobufCMessage *m;
    kumo_code rc =
        docs_storage_call(ctx, call, "CompleteMultipartUpload", &r.base,
                          &kumo__storage__v1__complete_multipart_upload_response__descriptor, &m);
    if (rc == KUMO_CODE_OK) {
        *obj = ((Kumo__Storage__V1__CompleteMultipartUploadResponse *)m)->object;
        return KUMO_CODE_OK;
    }
    /* The upload is gone: a retry after it was assembled finds the object. */
    if (rc == KUMO_CODE_NOT_FOUND && stat_object(ctx, call, v->object_key, obj) == KUMO_CODE_OK)
        return KUMO_CODE_OK;
    if (rc == KUMO_CODE_INVALID_ARGUMENT || rc == KUMO_CODE_FAILED_PRECONDITION)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "the parts do not match the uploaded parts");
    return docs_storage_fail(call, rc, "cannot complete the multipart upload");
}

/* Removes content that failed the checks, so a new upload starts clean. */
static void discard(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                    const struct docs_version_row *v)
{
    Kumo__Storage__V1__DeleteObjectRequest req = KUMO__STORAGE__V1__DELETE_OBJECT_REQUEST__INIT;
    req.key = v->object_key;
    ProtobufCMessage *m;
    docs_storage_call(ctx, call, "DeleteObject", &req.base,
                      &kumo__storage__v1__delete_object_response__descriptor, &m);
    if (v->upload_method != UM_MULTI)
        return;
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) != KUMO_CODE_OK)
        return;
    kumo_db_exec(c,
                 "UPDATE document_versions SET upload_id = NULL WHERE tenant_id = ?"
                 " AND object_key = ? AND status = 1",
                 KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(v->object_key)), NULL);
    kumo_db_release(c);
}

/* Fetches and checks the uploaded object. OK with *obj, or answered. */
static kumo_code verify_upload(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                               const struct docs_version_row *v,
                               const Kumo__Documents__V1__CompleteUploadRequest *req,
                               Kumo__Storage__V1__ObjectInfo **obj)
{
    kumo_code rc;
    if (v->upload_method == UM_MULTI) {
        if (v->upload_id[0] == '\0')
            return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                       "no multipart upload is open: presign the parts first");
        if ((rc = complete_multipart(ctx, call, v, req, obj)) != KUMO_CODE_OK)
            return rc;
    } else {
        rc = stat_object(ctx, call, v->object_key, obj);
        if (rc == KUMO_CODE_NOT_FOUND)
            return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                       "the content has not been uploaded yet");
        if (rc != KUMO_CODE_OK)
            return docs_storage_fail(call, rc, "cannot check the uploaded content");
    }
    if ((*obj)->size != v->size) {
        discard(ctx, call, tid, v);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "uploaded size %lld differs from the declared size %lld",
                                   (long long)(*obj)->size, (long long)v->size);
    }
    if (v->sha256_len == 32 && (*obj)->sha256.len == 32 &&
        memcmp((*obj)->sha256.data, v->sha256, 32) != 0) {
        discard(ctx, call, tid, v);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "uploaded content does not match the declared sha256");
    }
    return KUMO_CODE_OK;
}

/* The transaction making version v current. *done = 1 when another
 * request completed it first (nothing written). */
static kumo_code make_current(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                              const struct kumo_principal *p, const char *doc_id,
                              const struct docs_version_row *v0,
                              const Kumo__Storage__V1__ObjectInfo *obj)
{
    struct docs_doc_row d;
    struct docs_version_row v;
    kumo_code rc = docs_load_doc(c, call, p->tid, doc_id, 1, &d);
    if (rc == KUMO_CODE_OK)
        rc = docs_load_version(c, call, p->tid, doc_id, v0->version, &v);
    if (rc != KUMO_CODE_OK || v.status != V_PENDING)
        return rc; /* completed meanwhile: answered as is */
    if ((d.status != ST_PENDING && d.status != ST_ACTIVE) || v.version <= d.current_version)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "version %lld can no longer become current",
                                   (long long)v.version);
    const uint8_t *sha = v.sha256_len == 32      ? v.sha256
                         : obj->sha256.len == 32 ? obj->sha256.data
                                                 : NULL;
    int64_t now = kumo_now_us();
    rc = kumo_db_exec(c,
                      "UPDATE document_versions SET status = 2, complete_time = ?, sha256 = ?"
                      " WHERE tenant_id = ? AND document_id = ? AND version = ?",
                      KUMO_DB_PARAMS(KUMO_DB_TIME(now), sha ? KUMO_DB_BYTES(sha, 32) : KUMO_DB_NULL,
                                     KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(doc_id),
                                     KUMO_DB_I64(v.version)),
                      NULL);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(
            c,
            "UPDATE documents SET status = 2, current_version = ?, pending_version ="
            " IF(pending_version = ?, 0, pending_version), file_name = ?, content_type = ?,"
            " size = ?, sha256 = ?, detected_content_type = '', extraction_state = 1,"
            " extracted_text = NULL, version = version + 1, update_time = ?"
            " WHERE tenant_id = ? AND id = ?",
            KUMO_DB_PARAMS(KUMO_DB_I64(v.version), KUMO_DB_I64(v.version),
                           KUMO_DB_STRZ(v.file_name), KUMO_DB_STRZ(v.content_type),
                           KUMO_DB_I64(v.size), sha ? KUMO_DB_BYTES(sha, 32) : KUMO_DB_NULL,
                           KUMO_DB_TIME(now), KUMO_DB_STRZ(p->tid), KUMO_DB_STRZ(doc_id)),
            NULL);
    if (rc == KUMO_CODE_OK)
        rc = docs_enqueue(c, p->tid, "extract", doc_id, (int32_t)v.version, NULL, now);
    if (rc == KUMO_CODE_OK) {
        char roles[64], details[64];
        docs_roles_text(p->roles, roles);
        snprintf(details, sizeof details, "{\"size\":%lld}", (long long)v.size);
        rc = docs_audit(c, p->tid, p->sub, roles, "document.complete_upload", doc_id,
                        (int32_t)v.version, kumo_rpc_call_request_id(call), details);
    }
    return rc;
}

DOCS_HANDLER(complete_upload)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__CompleteUploadRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_check_id(call, "document_id", req->document_id);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->version < 0)
        return docs_invalid(call, "version", "must not be negative");
    struct kumo_db_conn *c;
    if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    struct docs_version_row v;
    if ((rc = docs_load_doc(c, call, p->tid, req->document_id, 0, &d)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    int64_t want = req->version ? req->version : d.pending_version;
    if (want == 0)
        want = d.current_version; /* nothing pending: completed already */
    if (want == 0) {
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "no upload is pending");
    }
    rc = docs_load_version(c, call, p->tid, d.id, want, &v);
    if (rc != KUMO_CODE_OK) {
        if (rc == KUMO_CODE_NOT_FOUND) {
            kumo_db_release(c);
            return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "version %lld not found",
                                       (long long)want);
        }
        return docs_db_fail(call, c, rc);
    }
    kumo_db_release(c);
    if (v.status == V_PENDING) {
        Kumo__Storage__V1__ObjectInfo *obj = NULL;
        if ((rc = verify_upload(ctx, call, p->tid, &v, req, &obj)) != KUMO_CODE_OK)
            return rc;
        if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK)
            return rc;
        rc = kumo_db_begin(c);
        if (rc == KUMO_CODE_OK)
            rc = make_current(c, call, p, d.id, &v, obj);
        if (rc == KUMO_CODE_FAILED_PRECONDITION) {
            kumo_db_rollback(c);
            kumo_db_release(c);
            return rc;
        }
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        if (rc != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc);
    } else if ((rc = docs_db_acquire(ctx, call, &c)) != KUMO_CODE_OK) {
        return rc;
    }
    rc = docs_load_doc(c, call, p->tid, d.id, 0, &d);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    Kumo__Documents__V1__CompleteUploadResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__complete_upload_response__init(resp);
    resp->document = docs_doc_message(call, &d);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
