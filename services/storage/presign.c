/* Presigned URLs for the data plane, signed with common/sigv4 exactly as
 * botocore presigns for S3 with path-style addressing: path
 * "/<bucket>/<key>" (key encoded once, '/' kept), payload UNSIGNED-PAYLOAD,
 * the host of the public URL signed (with its port unless it is the
 * scheme's default). */
#include <string.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "storage.h"

int stg_presign(const struct stg_ctx *ctx, const char *method, const char *key,
                const struct kumo_sigv4_kv *query, size_t nq, const struct kumo_sigv4_kv *headers,
                size_t nh, long expires, time_t now, struct kumo_buf *url)
{
    struct kumo_sigv4_kv hdrs[KUMO_SIGV4_MAX_SIGNED_HEADERS];
    if (nh + 1 > sizeof hdrs / sizeof hdrs[0])
        return KUMO_ERR_TOO_LARGE;
    struct kumo_aws_credentials creds = {0};
    int rc = ctx->be->sign_creds((struct stg_ctx *)ctx, &creds);
    if (rc != 0)
        return rc;
    struct kumo_buf path = KUMO_BUF_INIT;
    kumo_buf_appendf(&path, "%s/%s", ctx->path_prefix, key);
    hdrs[0] = kumo_sigv4_kv_str("host", ctx->public_host);
    for (size_t i = 0; i < nh; i++)
        hdrs[i + 1] = headers[i];
    struct kumo_sigv4_signing sg = {
        .creds = &creds,
        .region = ctx->s.region,
        .service = "s3",
        .flavor = KUMO_SIGV4_S3,
        .now = now,
    };
    struct kumo_sigv4_request req = {
        .method = method,
        .path = (const char *)path.data,
        .path_encoded = 0,
        .query = query,
        .query_count = nq,
        .headers = hdrs,
        .header_count = nh + 1,
        .payload_hash = KUMO_SIGV4_UNSIGNED_PAYLOAD,
    };
    size_t before = url->len;
    kumo_buf_append_str(url, ctx->public_url);
    rc = kumo_sigv4_presign(&sg, &req, expires, url);
    if (rc != 0) {
        url->len = before;
        if (url->data)
            url->data[before] = '\0';
    }
    kumo_buf_free(&path);
    kumo_aws_credentials_clear(&creds);
    return rc;
}

int stg_url_split(const char *u, char **base, char **host)
{
    int https;
    const char *p;
    if (strncmp(u, "http://", 7) == 0) {
        https = 0;
        p = u + 7;
    } else if (strncmp(u, "https://", 8) == 0) {
        https = 1;
        p = u + 8;
    } else {
        return -1;
    }
    size_t alen = strcspn(p, "/?#");
    if (alen == 0 || (p[alen] != '\0' && strcmp(p + alen, "/") != 0) ||
        memchr(p, '@', alen) != NULL)
        return -1;
    for (size_t i = 0; i < alen; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
            return -1;
    *base = kumo_strndup(u, (size_t)(p - u) + alen);
    /* botocore drops the port from the Host it signs when it is the
     * scheme's default. */
    const char *def = https ? ":443" : ":80";
    size_t hlen = alen;
    if (alen > strlen(def) && memcmp(p + alen - strlen(def), def, strlen(def)) == 0)
        hlen -= strlen(def);
    *host = kumo_strndup(p, hlen);
    return 0;
}

int stg_public_url_init(struct stg_ctx *ctx, int bound_port)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    const char *u = ctx->s.public_url;
    if (u == NULL || *u == '\0') {
        const char *a = ctx->s.data_addr;
        if (strcmp(a, "0.0.0.0") == 0 || strcmp(a, "localhost") == 0)
            a = "127.0.0.1";
        else if (strcmp(a, "::") == 0)
            a = "::1";
        if (strchr(a, ':'))
            kumo_buf_appendf(&b, "http://[%s]:%d", a, bound_port);
        else
            kumo_buf_appendf(&b, "http://%s:%d", a, bound_port);
        u = (const char *)b.data;
    }
    int rc = stg_url_split(u, &ctx->public_url, &ctx->public_host);
    kumo_buf_free(&b);
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error",
                 "KUMO_STORAGE_PUBLIC_URL must be http(s)://host[:port] without a path", NULL);
        return -1;
    }
    return 0;
}
