/* CompleteUpload: what arrived at kumo-storage (a single PUT's object, or
 * the multipart upload assembled from the listed parts) must have the
 * declared size, and the declared SHA-256 when there was one; then, in one
 * transaction, the version becomes AVAILABLE and current, the document
 * ACTIVE, extraction is queued and the audit event written. A mismatch
 * deletes the object and answers failed_precondition with the version
 * still pending (a multipart version gets a fresh upload on its next
 * PresignUploadParts). Completing a completed version answers the document
 * again.
 *
 * Once complete, nothing may change the bytes a version's downloads
 * return, and a presigned PUT cannot be revoked (on S3 least of all). So
 * what is verified and served is an object no upload URL names: a single
 * PUT lands on the version's upload key, and completion copies it to a
 * content key of its own ("<upload key>-c_<random>", one per attempt, so
 * two racing completions never write the same object) and checks that
 * copy; the winning transaction records it as the version's object_key.
 * A PUT through the old URL afterwards only rewrites the upload key, which
 * nothing reads. A multipart object is assembled at its key by the upload
 * it names, and after completion that upload is gone: its part URLs are
 * refused by the data plane.
 *
 * The same completion runs without any call from the client when
 * kumo-storage's object-created event for the version's upload key arrives
 * (events/consumer.c, docs_complete_from_event): the multipart object is
 * then already assembled (the client completed it on the data plane), so
 * it is only stat'ed; the audit event names the uploader recorded at
 * create; a mismatch is also recorded on the document (upload_error, shown
 * as upload_failure_reason) and audited as document.upload_failed. Either
 * path may come first: the version row, locked in make_current, decides,
 * and the other finds it complete (a success, nothing written twice).
 *
 * A client may give the SHA-256 at completion instead of at create (so it
 * hashes while uploading): it is then checked as a declared one; and since
 * the event may have completed the version before that request arrives,
 * the version's checksum is compared with it afterwards, or, when none is
 * known yet (a multipart object whose extract job has not run), recorded
 * for the extract job to check (sha_after). */
#include <stdio.h>
#include <string.h>

#include "documents.h"
#include "store/audit.h"
#include "store/documents.h"
#include "store/jobs.h"
#include "store/versions.h"
#include "base/ids.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define ST_PENDING KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_PENDING_UPLOAD
#define ST_ACTIVE  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ACTIVE
#define V_PENDING  KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_PENDING_UPLOAD
#define UM_MULTI   KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART

static kumo_code stat_object(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                             const char *key, Kumo__Storage__V1__ObjectInfo **obj)
{
    Kumo__Storage__V1__StatObjectRequest req = KUMO__STORAGE__V1__STAT_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    ProtobufCMessage *m;
    kumo_code rc = docs_storage_call(ctx, call, tid, "StatObject", &req.base,
                                     &kumo__storage__v1__stat_object_response__descriptor, &m);
    if (rc == KUMO_CODE_OK)
        *obj = ((Kumo__Storage__V1__StatObjectResponse *)m)->object;
    return rc;
}

static void delete_object(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                          const char *key)
{
    Kumo__Storage__V1__DeleteObjectRequest req = KUMO__STORAGE__V1__DELETE_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    ProtobufCMessage *m;
    docs_storage_call(ctx, call, tid, "DeleteObject", &req.base,
                      &kumo__storage__v1__delete_object_response__descriptor, &m);
}

static kumo_code complete_multipart(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                    const char *tid, const struct docs_version_row *v,
                                    const Kumo__Documents__V1__CompleteUploadRequest *req,
                                    Kumo__Storage__V1__ObjectInfo **obj)
{
    if (req->n_parts == 0)
        return kumo_rpc_invalid(call, "parts", "must list every uploaded part");
    size_t declared = 0; /* parts declaring their SHA-256 */
    for (size_t i = 0; i < req->n_parts; i++) {
        size_t len = req->parts[i]->sha256.len;
        if (len != 0 && len != 32)
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                       "parts[%zu].sha256 must be 32 bytes (base64 in JSON)", i);
        declared += len == 32;
    }
    if (declared != 0 && declared != req->n_parts)
        return kumo_rpc_invalid(call, "parts", "declare the sha256 of every part or of none");
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
        r.parts[i]->sha256 = req->parts[i]->sha256;
    }
    ProtobufCMessage *m;
    kumo_code rc =
        docs_storage_call(ctx, call, tid, "CompleteMultipartUpload", &r.base,
                          &kumo__storage__v1__complete_multipart_upload_response__descriptor, &m);
    if (rc == KUMO_CODE_OK) {
        *obj = ((Kumo__Storage__V1__CompleteMultipartUploadResponse *)m)->object;
        return KUMO_CODE_OK;
    }
    /* The upload is gone: a retry after it was assembled finds the object. */
    if (rc == KUMO_CODE_NOT_FOUND &&
        stat_object(ctx, call, tid, v->object_key, obj) == KUMO_CODE_OK)
        return KUMO_CODE_OK;
    /* kumo-storage checks the declared part checksums against those the
     * part PUTs carried and refuses a mismatch, or a part PUT without one,
     * with INVALID_ARGUMENT (a part that does not exist or has another
     * ETag: FAILED_PRECONDITION). */
    if (rc == KUMO_CODE_INVALID_ARGUMENT && declared)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "a part's sha256 does not match the x-amz-checksum-sha256 its "
                                   "upload carried, or its upload carried none");
    if (rc == KUMO_CODE_INVALID_ARGUMENT || rc == KUMO_CODE_FAILED_PRECONDITION)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "the parts do not match the uploaded parts");
    return docs_storage_fail(call, rc, "cannot complete the multipart upload");
}

/* Copies a single PUT's upload to a fresh content key (call arena, in
 * *content_key). OK with *obj describing the copy, NOT_FOUND (not
 * answered) when there is no upload, or answered. */
static kumo_code seal_single(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                             const struct docs_version_row *v, char **content_key,
                             Kumo__Storage__V1__ObjectInfo **obj)
{
    char id[40];
    if (kumo_id_new("c", id, sizeof id) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "no randomness");
    size_t n = strlen(v->object_key) + strlen(id) + 2;
    char *key = kumo_rpc_call_alloc(call, n);
    snprintf(key, n, "%s-%s", v->object_key, id);
    Kumo__Storage__V1__CopyObjectRequest req = KUMO__STORAGE__V1__COPY_OBJECT_REQUEST__INIT;
    req.source_key = v->object_key;
    req.destination_key = key;
    ProtobufCMessage *m;
    kumo_code rc = docs_storage_call(ctx, call, tid, "CopyObject", &req.base,
                                     &kumo__storage__v1__copy_object_response__descriptor, &m);
    if (rc == KUMO_CODE_NOT_FOUND)
        return rc; /* not answered: the caller says why */
    if (rc != KUMO_CODE_OK)
        return docs_storage_fail(call, rc, "cannot check the uploaded content");
    *obj = ((Kumo__Storage__V1__CopyObjectResponse *)m)->object;
    *content_key = key;
    return KUMO_CODE_OK;
}

/* Removes content that failed the checks, so a new upload starts clean. */
static void discard(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                    const struct docs_version_row *v, const char *content_key)
{
    if (strcmp(content_key, v->object_key) != 0) /* a sealed copy */
        delete_object(ctx, call, tid, content_key);
    delete_object(ctx, call, tid, v->object_key);
    if (v->upload_method != UM_MULTI)
        return;
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) != KUMO_CODE_OK)
        return;
    docs_version_forget_upload(c, tid, v->object_key);
    kumo_db_release(c);
}

/* Fetches and checks the uploaded content. OK with *obj and *content_key
 * (the key the version's downloads will read); FAILED_PRECONDITION with
 * *why (not answered: another request may have completed the version
 * meanwhile) when the content is missing or differs; or answered. */
static kumo_code verify_upload(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                               const struct docs_version_row *v,
                               const Kumo__Documents__V1__CompleteUploadRequest *req,
                               char **content_key, Kumo__Storage__V1__ObjectInfo **obj,
                               const char **why)
{
    kumo_code rc;
    if (v->upload_method == UM_MULTI && req == NULL) {
        /* An object-created event: the client assembled the upload itself. */
        rc = stat_object(ctx, call, tid, v->object_key, obj);
        if (rc == KUMO_CODE_NOT_FOUND) {
            *why = "the content has not been uploaded yet";
            return KUMO_CODE_FAILED_PRECONDITION;
        }
        if (rc != KUMO_CODE_OK)
            return docs_storage_fail(call, rc, "cannot check the uploaded content");
        *content_key = v->object_key;
    } else if (v->upload_method == UM_MULTI) {
        if (v->upload_id[0] == '\0') {
            *why = "no multipart upload is open: presign the parts first";
            return KUMO_CODE_FAILED_PRECONDITION;
        }
        if ((rc = complete_multipart(ctx, call, tid, v, req, obj)) != KUMO_CODE_OK)
            return rc;
        *content_key = v->object_key;
    } else if ((rc = seal_single(ctx, call, tid, v, content_key, obj)) != KUMO_CODE_OK) {
        if (rc == KUMO_CODE_NOT_FOUND) {
            *why = "the content has not been uploaded yet";
            return KUMO_CODE_FAILED_PRECONDITION;
        }
        return rc;
    }
    if ((*obj)->size != v->size)
        *why = "the uploaded size differs from the declared size";
    else if (v->sha256_len == 32 && (*obj)->sha256.len == 32 &&
             memcmp((*obj)->sha256.data, v->sha256, 32) != 0)
        *why = "uploaded content does not match the declared sha256";
    if (*why == NULL)
        return KUMO_CODE_OK;
    discard(ctx, call, tid, v, *content_key);
    return KUMO_CODE_FAILED_PRECONDITION;
}

/* The transaction making version v current with its content at
 * content_key. *lost = 1 when another request completed it first (nothing
 * written). */
static kumo_code make_current(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                              const struct kumo_principal *p, const char *doc_id,
                              const struct docs_version_row *v0, const char *content_key,
                              const Kumo__Storage__V1__ObjectInfo *obj, int from_event, int *lost)
{
    struct docs_doc_row d;
    struct docs_version_row v;
    kumo_code rc = docs_doc_load(c, call, p->tid, doc_id, 1, &d);
    if (rc == KUMO_CODE_OK)
        rc = docs_version_load(c, call, p->tid, doc_id, v0->version, &v);
    if (rc == KUMO_CODE_OK && v.status != V_PENDING)
        *lost = 1; /* completed meanwhile: answered as is */
    if (rc != KUMO_CODE_OK || v.status != V_PENDING)
        return rc;
    if ((d.status != ST_PENDING && d.status != ST_ACTIVE) || v.version <= d.current_version)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "version %lld can no longer become current",
                                   (long long)v.version);
    /* Declared at create, else given at completion (in v0, checked by
     * verify_upload against the content's when storage knows it, and by
     * the extract job), else the content's own. */
    const uint8_t *sha = v.sha256_len == 32      ? v.sha256
                         : v0->sha256_len == 32  ? v0->sha256
                         : obj->sha256.len == 32 ? obj->sha256.data
                                                 : NULL;
    int64_t now = kumo_now_us();
    rc = docs_version_complete(c, p->tid, doc_id, v.version, content_key, sha, now);
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_set_current(c, p->tid, doc_id, v.version, v.file_name, v.content_type, v.size,
                                  sha, now);
    if (rc == KUMO_CODE_OK)
        rc = docs_job_enqueue(c, p->tid, DOCS_JOB_EXTRACT, doc_id, (int32_t)v.version, NULL, now);
    if (rc == KUMO_CODE_OK) {
        char details[64];
        snprintf(details, sizeof details, "{\"size\":%lld%s}", (long long)v.size,
                 from_event ? ",\"source\":\"object_created_event\"" : "");
        rc = docs_audit_caller(c, call, p, "document.complete_upload", doc_id, (int32_t)v.version,
                               details);
    }
    return rc;
}

/* Another request completed the version while this one checked it: that
 * answer stands (OK), whatever this one found. */
static int completed_meanwhile(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                               const char *doc_id, int64_t version)
{
    struct kumo_db_conn *c;
    struct docs_version_row v;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) != KUMO_CODE_OK)
        return 0;
    int done = docs_version_load(c, call, tid, doc_id, version, &v) == KUMO_CODE_OK &&
               v.status != V_PENDING;
    kumo_db_release(c);
    return done;
}

/* Verifies the pending version v and makes it current. OK or answered. */
/* outcome: completed (this call made the version current), rejected (the
 * bytes are missing or do not match the declaration), error. */
static void count_upload(const char *outcome)
{
    kumo_metrics_counter_addl("kumo_uploads_total", "Upload completions, by outcome.",
                              (const char *[]){"outcome", outcome, NULL}, 1);
}

void docs_upload_metrics_init(void)
{
    static const char *const outcomes[] = {"completed", "rejected", "error"};
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
        kumo_metrics_counter_addl("kumo_uploads_total", "Upload completions, by outcome.",
                                  (const char *[]){"outcome", outcomes[i], NULL}, 0);
}

/* Records a refused upload on the document and audits it (event path). */
static void record_failure(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                           const struct kumo_principal *p, const char *doc_id,
                           const struct docs_version_row *v, const char *why)
{
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) != KUMO_CODE_OK)
        return;
    kumo_db_conn_set_request_id(c, kumo_rpc_call_request_id(call));
    kumo_code rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_version_fail_upload(c, p->tid, doc_id, v->version, why, kumo_now_us());
    if (rc == KUMO_CODE_OK) {
        char details[320];
        snprintf(details, sizeof details, "{\"reason\":\"%s\"}", why); /* static text */
        rc = docs_audit_caller(c, call, p, "document.upload_failed", doc_id, (int32_t)v->version,
                               details);
    }
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc != KUMO_CODE_OK)
        kumo_db_rollback(c);
    kumo_db_release(c);
}

static kumo_code complete_pending(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                  const struct kumo_principal *p, const char *doc_id,
                                  const struct docs_version_row *v,
                                  const Kumo__Documents__V1__CompleteUploadRequest *req,
                                  int from_event)
{
    Kumo__Storage__V1__ObjectInfo *obj = NULL;
    char *content_key = NULL;
    const char *why = NULL;
    kumo_code rc = verify_upload(ctx, call, p->tid, v, req, &content_key, &obj, &why);
    if (rc != KUMO_CODE_OK && why) {
        /* A racing CompleteUpload that won (and removed the upload) is
         * this request's answer too. */
        if (completed_meanwhile(ctx, call, p->tid, doc_id, v->version))
            return KUMO_CODE_OK;
        count_upload("rejected");
        if (from_event && obj)
            record_failure(ctx, call, p, doc_id, v, why); /* a mismatch, not "not yet" */
        if (obj && obj->size != v->size)
            return kumo_rpc_call_error(call, rc,
                                       "uploaded size %lld differs from the declared size %lld",
                                       (long long)obj->size, (long long)v->size);
        return kumo_rpc_call_error(call, rc, "%s", why);
    }
    if (rc != KUMO_CODE_OK) {
        count_upload("error");
        return rc;
    }
    int sealed = v->upload_method != UM_MULTI, lost = 0;
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK) {
        if (sealed)
            delete_object(ctx, call, p->tid, content_key);
        count_upload("error");
        return rc;
    }
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = make_current(c, call, p, doc_id, v, content_key, obj, from_event, &lost);
    if (rc == KUMO_CODE_OK && !lost)
        rc = kumo_db_commit(c);
    if (rc == KUMO_CODE_OK && lost) {
        kumo_db_rollback(c);
        kumo_db_release(c);
    } else if (rc == KUMO_CODE_FAILED_PRECONDITION) {
        kumo_db_rollback(c);
        kumo_db_release(c);
    } else if (rc != KUMO_CODE_OK) {
        if (sealed)
            delete_object(ctx, call, p->tid, content_key);
        count_upload("error");
        return docs_db_fail(call, c, rc);
    } else {
        kumo_db_release(c);
    }
    if (rc == KUMO_CODE_OK && !lost)
        count_upload("completed");
    if (sealed && (lost || rc != KUMO_CODE_OK))
        delete_object(ctx, call, p->tid, content_key); /* not the version's content */
    else if (sealed)
        delete_object(ctx, call, p->tid, v->object_key); /* the upload, now copied */
    return rc;
}

/* A version completed with other content than the checksum given at
 * completion says: audited as a refused upload, FAILED_PRECONDITION. */
static kumo_code sha_refused(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                             const struct kumo_principal *p, const char *doc_id, int64_t version)
{
    static const char why[] = "uploaded content does not match the sha256 given at completion";
    count_upload("rejected");
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) == KUMO_CODE_OK) {
        kumo_db_conn_set_request_id(c, kumo_rpc_call_request_id(call));
        kumo_code rc = kumo_db_begin(c);
        if (rc == KUMO_CODE_OK)
            rc = docs_audit_caller(c, call, p, "document.upload_failed", doc_id, (int32_t)version,
                                   "{\"reason\":\"sha256 given at completion differs\"}");
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        if (rc != KUMO_CODE_OK)
            kumo_db_rollback(c);
        kumo_db_release(c);
    }
    return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "%s", why);
}

/* After completion (by this request, a racing one or the object-created
 * event), the checksum given at completion must be the version's: equal to
 * the one it has, or recorded as its declared one when it has none yet (the
 * extract job, which has not stored its own then, checks it). OK, or
 * answered. */
static kumo_code sha_after(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                           const struct kumo_principal *p, const char *doc_id, int64_t version,
                           const ProtobufCBinaryData *sha)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        struct kumo_db_conn *c;
        kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
        if (rc != KUMO_CODE_OK)
            return rc;
        struct docs_version_row v;
        if ((rc = docs_version_load(c, call, p->tid, doc_id, version, &v)) != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc);
        if (v.sha256_len == 32) {
            kumo_db_release(c);
            return memcmp(v.sha256, sha->data, 32) == 0
                       ? KUMO_CODE_OK
                       : sha_refused(ctx, call, p, doc_id, version);
        }
        uint64_t changed = 0;
        rc = docs_version_declare_sha(c, p->tid, doc_id, version, sha->data, &changed);
        if (rc != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc);
        kumo_db_release(c);
        if (changed)
            return KUMO_CODE_OK;
        /* Recorded meanwhile (the extract job): compare with that one. */
    }
    return kumo_rpc_call_error(call, KUMO_CODE_ABORTED, "the version changed meanwhile: retry");
}

DOCS_HANDLER(complete_upload)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__CompleteUploadRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller_id(call, DOCS_EDITOR, "document_id", req->document_id, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->version < 0)
        return kumo_rpc_invalid(call, "version", "must not be negative");
    if (req->sha256.len != 0 && req->sha256.len != 32)
        return kumo_rpc_invalid(call, "sha256", "must be 32 bytes (SHA-256)");
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    struct docs_version_row v;
    if ((rc = docs_doc_load(c, call, p->tid, req->document_id, 0, &d)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    int64_t want = req->version ? req->version : d.pending_version;
    if (want == 0)
        want = d.current_version; /* nothing pending: completed already */
    if (want == 0) {
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "no upload is pending");
    }
    if ((rc = docs_version_get(c, call, p->tid, d.id, want, &v)) != KUMO_CODE_OK)
        return rc;
    kumo_db_release(c);
    const ProtobufCBinaryData *sha = req->sha256.len == 32 ? &req->sha256 : NULL;
    if (v.status == V_PENDING) {
        if (sha && v.sha256_len == 32 && memcmp(v.sha256, sha->data, 32) != 0)
            return kumo_rpc_invalid(call, "sha256", "differs from the sha256 declared at create");
        if (sha && v.sha256_len != 32) { /* declared now: checked as if at create */
            memcpy(v.sha256, sha->data, 32);
            v.sha256_len = 32;
        }
        if ((rc = complete_pending(ctx, call, p, d.id, &v, req, 0)) != KUMO_CODE_OK)
            return rc;
    }
    if (sha && (rc = sha_after(ctx, call, p, d.id, v.version, sha)) != KUMO_CODE_OK)
        return rc;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    rc = docs_doc_load(c, call, p->tid, d.id, 0, &d);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    Kumo__Documents__V1__CompleteUploadResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__complete_upload_response__descriptor);
    resp->document = docs_doc_message(call, &d);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

kumo_code docs_complete_from_event(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                   const char *tenant_id, const char *doc_id, int64_t version,
                                   enum docs_event_outcome *outcome)
{
    *outcome = DOCS_EVENT_ERROR;
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct docs_version_row v;
    rc = docs_version_load(c, call, tenant_id, doc_id, version, &v);
    kumo_db_release(c);
    if (rc == KUMO_CODE_NOT_FOUND) {
        *outcome = DOCS_EVENT_UNKNOWN;
        return KUMO_CODE_OK;
    }
    if (rc != KUMO_CODE_OK)
        return kumo_rpc_call_error(call, rc, "%s", kumo_db_last_error()->message);
    if (v.status != V_PENDING) {
        *outcome = DOCS_EVENT_DUPLICATE; /* completed already: by CompleteUpload or an event */
        return KUMO_CODE_OK;
    }
    /* The uploader recorded at create acts: CreateDocument / CreateVersion
     * needed an editor. */
    struct kumo_principal p;
    memset(&p, 0, sizeof p);
    snprintf(p.sub, sizeof p.sub, "%s", v.creator_id);
    snprintf(p.tid, sizeof p.tid, "%s", tenant_id);
    p.roles = KUMO_ROLE_EDITOR;
    rc = complete_pending(ctx, call, &p, doc_id, &v, NULL, 1);
    if (rc == KUMO_CODE_OK) {
        *outcome = DOCS_EVENT_COMPLETED;
        return rc;
    }
    if (rc == KUMO_CODE_FAILED_PRECONDITION) {
        /* A mismatch (recorded), or no content at the key any more (a
         * replayed event whose object a refusal removed): both final. */
        *outcome = DOCS_EVENT_REJECTED;
        return KUMO_CODE_OK;
    }
    return rc;
}
