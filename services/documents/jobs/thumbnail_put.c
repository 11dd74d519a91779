/* Storing a thumbnail: a presigned PUT from kumo-storage (content type
 * image/png, exact size and SHA-256 signed), then the bytes with libcurl,
 * like every other object of a tenant. */
#include <curl/curl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "jobs.h"
#include "kumo/storage/v1/storage.pb-c.h"

#define PUT_TTL_S   300
#define PUT_TIMEOUT 60L

struct body {
    const uint8_t *p;
    size_t left;
};

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    struct body *b = ud;
    size_t n = size * nitems < b->left ? size * nitems : b->left;
    memcpy(dst, b->p, n);
    b->p += n;
    b->left -= n;
    return n;
}

static size_t on_discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

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
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        char line[1024];
        snprintf(line, sizeof line, "%s: %s", r->headers[i]->name, r->headers[i]->value);
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    struct body b = {data, len};
    long status = 0;
    CURLcode cc = CURLE_FAILED_INIT;
    if (h) {
        curl_easy_setopt(h, CURLOPT_URL, r->url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &b);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, PUT_TIMEOUT);
        cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdrs);
    protobuf_c_message_free_unpacked(m, NULL);
    if (cc != CURLE_OK) {
        kumo_buf_appendf(err, "thumbnail upload failed: %s", curl_easy_strerror(cc));
        return KUMO_CODE_UNAVAILABLE;
    }
    if (status != 200) {
        kumo_buf_appendf(err, "thumbnail upload failed: HTTP %ld", status);
        return KUMO_CODE_UNAVAILABLE;
    }
    return KUMO_CODE_OK;
}
