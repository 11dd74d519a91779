/* Storing a thumbnail: a presigned PUT from kumo-storage (content type
 * image/png, exact size and SHA-256 signed), then the bytes
 * (http/http_put.h), like every other object of a tenant. */
#include <openssl/sha.h>
#include <string.h>

#include "base/alloc.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "http/http_put.h"
#include "jobs.h"
#include "kumo/storage/v1/storage.pb-c.h"

#define PUT_TTL_S      300
#define PUT_TIMEOUT_MS 60000L

kumo_code docs__thumbnail_put(struct docs_job_env *env, const struct docs_job *job, const char *key,
                              const uint8_t *data, size_t len, struct kumo_buf *err)
{
    uint8_t sha[32];
    SHA256(data, len, sha);
    Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;
    ttl.seconds = PUT_TTL_S;
    Google__Protobuf__Int64Value size = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    size.value = (int64_t)len;
    Kumo__Storage__V1__PresignUploadRequest req = KUMO__STORAGE__V1__PRESIGN_UPLOAD_REQUEST__INIT;
    req.tenant_id = (char *)job->tenant_id;
    req.key = (char *)key;
    req.content_type = "image/png";
    req.size = &size;
    req.sha256.data = sha;
    req.sha256.len = sizeof sha;
    req.expires_in = &ttl;
    ProtobufCMessage *m = NULL;
    kumo_code rc =
        docs_job_storage_call(env->ctx, job->id, job->tenant_id, "PresignUpload", &req.base,
                              &kumo__storage__v1__presign_upload_response__descriptor, &m, err);
    if (rc != KUMO_CODE_OK)
        return rc;
    const Kumo__Storage__V1__PresignUploadResponse *r = (const void *)m;
    struct kumo_http_header *hdrs = kumo_calloc(r->n_headers + 1, sizeof *hdrs);
    for (size_t i = 0; i < r->n_headers; i++)
        hdrs[i] = (struct kumo_http_header){r->headers[i]->name, r->headers[i]->value};
    struct kumo_http_put_req put = {.url = r->url,
                                    .headers = hdrs,
                                    .n_headers = r->n_headers,
                                    .body = data,
                                    .len = len,
                                    .timeout_ms = PUT_TIMEOUT_MS,
                                    .what = "thumbnail upload"};
    int prc = kumo_http_put(&put, NULL, err);
    kumo_free(hdrs);
    protobuf_c_message_free_unpacked(m, NULL);
    if (prc != 0)
        return KUMO_CODE_UNAVAILABLE;
    return KUMO_CODE_OK;
}
