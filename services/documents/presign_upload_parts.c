/* PresignUploadParts: upload URLs for parts of a pending multipart
 * version (starting its multipart upload at kumo-storage first if no
 * earlier call did). */
#include "documents.h"
#include "store/documents.h"
#include "store/versions.h"

#define V_PENDING KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_PENDING_UPLOAD
#define UM_MULTI  KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART

/* The pending version named by a request (0: the document's pending one). */
static kumo_code pending_version(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 const struct kumo_principal *p, const char *doc_id,
                                 int32_t version, struct docs_doc_row *d,
                                 struct docs_version_row *v)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    if ((rc = docs_doc_load(c, call, p->tid, doc_id, 0, d)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    int64_t want = version ? version : d->pending_version;
    if (version < 0 || want == 0) {
        kumo_db_release(c);
        if (version < 0)
            return kumo_rpc_invalid(call, "version", "must not be negative");
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "no upload is pending");
    }
    if ((rc = docs_version_get(c, call, p->tid, doc_id, want, v)) != KUMO_CODE_OK)
        return rc;
    kumo_db_release(c);
    return KUMO_CODE_OK;
}

DOCS_HANDLER(presign_upload_parts)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__PresignUploadPartsRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller_id(call, DOCS_EDITOR, "document_id", req->document_id, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->n_part_numbers == 0 || req->n_part_numbers > DOCS_PRESIGN_PARTS_MAX)
        return kumo_rpc_invalid(call, "part_numbers", "must name 1..1000 parts");
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
    if (req->n_sha256s != 0 && req->n_sha256s != req->n_part_numbers)
        return kumo_rpc_invalid(call, "sha256s", "must be empty or one per part number");
    for (size_t i = 0; i < req->n_sha256s; i++)
        if (req->sha256s[i].len != 32)
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                       "sha256s[%zu] must be 32 bytes", i);
    if (v.upload_id[0] == '\0') { /* part checksums asked for iff this call sends them */
        Kumo__Documents__V1__UploadTarget *t;
        if ((rc = docs_upload_target(ctx, call, p->tid, d.id, &v, 0, req->n_sha256s != 0, &t)) !=
            KUMO_CODE_OK)
            return rc;
    }
    Kumo__Documents__V1__PresignUploadPartsResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__presign_upload_parts_response__descriptor);
    resp->parts = kumo_rpc_call_alloc(call, req->n_part_numbers * sizeof *resp->parts);
    for (size_t i = 0; i < req->n_part_numbers; i++) {
        rc = docs_presign_part(ctx, call, p->tid, &v, req->part_numbers[i],
                               req->n_sha256s ? &req->sha256s[i] : NULL, &resp->parts[i],
                               &resp->expire_time);
        if (rc != KUMO_CODE_OK)
            return rc;
        resp->n_parts++;
    }
    *response = &resp->base;
    return KUMO_CODE_OK;
}
