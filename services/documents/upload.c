/* Upload targets: a presigned PUT of the whole content, or a multipart
 * upload (created at kumo-storage on first need, its id recorded in the
 * version row) and presigned PUTs of its parts. Size, content type and
 * SHA-256 are bound into single PUT signatures, part sizes into part ones. */
#include <string.h>

#include "documents.h"
#include "store/versions.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "base/ids.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"

/* One of kumo-storage's presigners: its method, its answer's type, and
 * what its failure is answered as. */
struct presigner {
    const char *method;
    const ProtobufCMessageDescriptor *answer;
    const char *failure;
};

static const struct presigner SINGLE_PUT = {"PresignUpload",
                                            &kumo__storage__v1__presign_upload_response__descriptor,
                                            "cannot presign the upload"};
static const struct presigner PART_PUT = {
    "PresignUploadPart", &kumo__storage__v1__presign_upload_part_response__descriptor,
    "cannot presign the upload part"};

/* Asks kumo-storage's presigner `p` for an upload URL: sets *expires_in
 * (a field of req) to the upload URLs' lifetime. OK with *answer, or the
 * answered failure. */
static kumo_code presign(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant_id,
                         const struct presigner *p, ProtobufCMessage *req,
                         Google__Protobuf__Duration **expires_in, ProtobufCMessage **answer)
{
    Google__Protobuf__Duration *ttl =
        kumo_rpc_call_new(call, &google__protobuf__duration__descriptor);
    ttl->seconds = ctx->s.upload_url_ttl_ms / 1000;
    *expires_in = ttl;
    kumo_code rc = docs_storage_call(ctx, call, tenant_id, p->method, req, p->answer, answer);
    return rc == KUMO_CODE_OK ? rc : docs_storage_fail(call, rc, p->failure);
}

static Kumo__Documents__V1__Header **copy_headers(struct kumo_rpc_call *call,
                                                  Kumo__Storage__V1__Header **h, size_t n)
{
    Kumo__Documents__V1__Header **out = kumo_rpc_call_alloc(call, (n ? n : 1) * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i] = kumo_rpc_call_alloc(call, sizeof **out);
        kumo__documents__v1__header__init(out[i]);
        out[i]->name = h[i]->name;
        out[i]->value = h[i]->value;
    }
    return out;
}

static kumo_code presign_single(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                const char *tenant_id, const struct docs_version_row *v,
                                Kumo__Documents__V1__UploadTarget *t)
{
    Kumo__Storage__V1__PresignUploadRequest req = KUMO__STORAGE__V1__PRESIGN_UPLOAD_REQUEST__INIT;
    Google__Protobuf__Int64Value size = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    req.key = v->object_key;
    req.content_type = v->content_type;
    size.value = v->size;
    req.size = &size;
    if (v->sha256_len == 32) {
        req.sha256.data = (uint8_t *)v->sha256;
        req.sha256.len = 32;
    }
    ProtobufCMessage *m;
    kumo_code rc = presign(ctx, call, tenant_id, &SINGLE_PUT, &req.base, &req.expires_in, &m);
    if (rc != KUMO_CODE_OK)
        return rc;
    const Kumo__Storage__V1__PresignUploadResponse *r = (const void *)m;
    t->method = KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_SINGLE_PUT;
    t->url = r->url;
    t->http_method = r->method;
    t->headers = copy_headers(call, r->headers, r->n_headers);
    t->n_headers = r->n_headers;
    t->expire_time = r->expire_time;
    return KUMO_CODE_OK;
}

kumo_code docs_presign_part(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant_id,
                            const struct docs_version_row *v, int32_t part_number,
                            const ProtobufCBinaryData *sha256,
                            Kumo__Documents__V1__PartTarget **out,
                            Google__Protobuf__Timestamp **expire)
{
    int64_t psize = v->part_size;
    if (part_number == v->part_count)
        psize = v->size - (int64_t)(v->part_count - 1) * v->part_size;
    Kumo__Storage__V1__PresignUploadPartRequest req =
        KUMO__STORAGE__V1__PRESIGN_UPLOAD_PART_REQUEST__INIT;
    Google__Protobuf__Int64Value size = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    req.key = v->object_key;
    req.upload_id = v->upload_id;
    req.part_number = part_number;
    if (sha256)
        req.sha256 = *sha256;
    size.value = psize;
    req.size = &size;
    ProtobufCMessage *m;
    kumo_code rc = presign(ctx, call, tenant_id, &PART_PUT, &req.base, &req.expires_in, &m);
    if (rc != KUMO_CODE_OK)
        return rc;
    const Kumo__Storage__V1__PresignUploadPartResponse *r = (const void *)m;
    Kumo__Documents__V1__PartTarget *p =
        kumo_rpc_call_new(call, &kumo__documents__v1__part_target__descriptor);
    p->part_number = part_number;
    p->size = psize;
    p->url = r->url;
    p->headers = copy_headers(call, r->headers, r->n_headers);
    p->n_headers = r->n_headers;
    *out = p;
    *expire = r->expire_time;
    return KUMO_CODE_OK;
}

/* Starts the multipart upload of `v` at kumo-storage (asking for SHA-256
 * part checksums iff part_sha256) and records its id; if another request
 * recorded one first, ours is aborted and theirs used. */
static kumo_code start_multipart(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 const char *tenant_id, const char *doc_id,
                                 struct docs_version_row *v, int part_sha256)
{
    Kumo__Storage__V1__CreateMultipartUploadRequest req =
        KUMO__STORAGE__V1__CREATE_MULTIPART_UPLOAD_REQUEST__INIT;
    req.key = v->object_key;
    req.content_type = v->content_type;
    /* Opt-in: on S3 an upload asking for them refuses part PUTs and a
     * completion without them, which clients that never hash would send. */
    req.part_sha256 = part_sha256 != 0;
    ProtobufCMessage *m;
    kumo_code rc =
        docs_storage_call(ctx, call, tenant_id, "CreateMultipartUpload", &req.base,
                          &kumo__storage__v1__create_multipart_upload_response__descriptor, &m);
    if (rc != KUMO_CODE_OK)
        return docs_storage_fail(call, rc, "cannot start the multipart upload");
    char *upload_id = ((Kumo__Storage__V1__CreateMultipartUploadResponse *)m)->upload_id;
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    uint64_t n = 0;
    rc = docs_version_set_upload_id(c, tenant_id, doc_id, v->version, upload_id, &n);
    if (rc == KUMO_CODE_OK && n == 0)
        rc = docs_version_load(c, call, tenant_id, doc_id, v->version, v);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    if (n == 0) {
        Kumo__Storage__V1__AbortMultipartUploadRequest ab =
            KUMO__STORAGE__V1__ABORT_MULTIPART_UPLOAD_REQUEST__INIT;
        ab.key = v->object_key;
        ab.upload_id = upload_id;
        docs_storage_call(ctx, call, tenant_id, "AbortMultipartUpload", &ab.base,
                          &kumo__storage__v1__abort_multipart_upload_response__descriptor, &m);
        if (v->upload_id[0] == '\0')
            return kumo_rpc_call_error(call, KUMO_CODE_ABORTED, "concurrent upload change");
    } else {
        v->upload_id = upload_id;
    }
    return KUMO_CODE_OK;
}

kumo_code docs_upload_target(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                             const char *tenant_id, const char *doc_id, struct docs_version_row *v,
                             int presign_parts, int part_sha256,
                             Kumo__Documents__V1__UploadTarget **out)
{
    Kumo__Documents__V1__UploadTarget *t =
        kumo_rpc_call_new(call, &kumo__documents__v1__upload_target__descriptor);
    kumo_code rc;
    if (v->upload_method == KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_SINGLE_PUT) {
        if ((rc = presign_single(ctx, call, tenant_id, v, t)) != KUMO_CODE_OK)
            return rc;
        *out = t;
        return KUMO_CODE_OK;
    }
    if (v->upload_id[0] == '\0' &&
        (rc = start_multipart(ctx, call, tenant_id, doc_id, v, part_sha256)) != KUMO_CODE_OK)
        return rc;
    t->method = KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART;
    t->part_size = v->part_size;
    t->part_count = (int32_t)v->part_count;
    t->expire_time = docs_ts(call, kumo_now_us() + ctx->s.upload_url_ttl_ms * 1000);
    if (presign_parts) {
        size_t n =
            v->part_count < DOCS_PRESIGN_PARTS_MAX ? (size_t)v->part_count : DOCS_PRESIGN_PARTS_MAX;
        t->parts = kumo_rpc_call_alloc(call, n * sizeof *t->parts);
        for (size_t i = 0; i < n; i++) {
            rc = docs_presign_part(ctx, call, tenant_id, v, (int32_t)(i + 1), NULL, &t->parts[i],
                                   &t->expire_time);
            if (rc != KUMO_CODE_OK)
                return rc;
            t->n_parts++;
        }
    }
    *out = t;
    return KUMO_CODE_OK;
}
