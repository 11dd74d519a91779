/* A small S3 client for the S3 backend: one request per call over libcurl,
 * signed by libcurl itself (CURLOPT_AWS_SIGV4) with credentials from the
 * common provider chain (env, IRSA web identity, container endpoint).
 *
 * libcurl 7.88 (Debian 12) signs the query string as it finds it in the
 * URL and adds no x-amz-content-sha256, so both are prepared here: the
 * query is written in canonical form (RFC 3986 encoded, sorted, every
 * parameter with '=' — "?uploads=" rather than "?uploads"), and the payload
 * hash header is computed from the body; libcurl then signs exactly what it
 * sends, which S3 verifies. PUT here never has a body (CopyObject); a POST
 * body is XML. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "s3client.h"

#define MAX_RESPONSE (8 * 1024 * 1024)

struct stg_s3 {
    char *base; /* "https://host[:port]" requests go to */
    char *host;
    char *prefix; /* "/<bucket>" (path style) or "" */
    char *sigv4;  /* "aws:amz:<region>:s3" */
    const char *bucket;
    long timeout_ms;
    const char *ca_file;
    struct kumo_aws_provider *prov;
};

void stg__s3_resp_free(struct s3_resp *r)
{
    kumo_buf_free(&r->body);
    kumo_buf_free(&r->hdrs);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct s3_resp *r = ud;
    size_t len = size * n;
    if (r->body.len + len > MAX_RESPONSE)
        return 0; /* aborts the transfer */
    kumo_buf_append(&r->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct s3_resp *r = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        kumo_buf_reset(&r->hdrs); /* a new response (after a 100 Continue) */
    if (r->hdrs.len + len > 64 * 1024)
        return 0;
    kumo_buf_append(&r->hdrs, p, len);
    return len;
}

const char *stg__s3_header(const struct s3_resp *r, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = (const char *)r->hdrs.data, *end = p + r->hdrs.len;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol ? eol : end;
        if ((size_t)(stop - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (v < stop && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = stop;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* ---- request building ---- */

struct qpair {
    struct kumo_buf k, v;
};

static int qcmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp((const char *)x->k.data, (const char *)y->k.data);
    return c ? c : strcmp((const char *)x->v.data, (const char *)y->v.data);
}

static void canonical_query(const struct kumo_sigv4_kv *q, size_t nq, struct kumo_buf *out)
{
    struct qpair *pairs = kumo_calloc(nq ? nq : 1, sizeof *pairs);
    for (size_t i = 0; i < nq; i++) {
        kumo_sigv4_uri_encode(q[i].name, q[i].name_len, 0, &pairs[i].k);
        kumo_sigv4_uri_encode(q[i].value, q[i].value_len, 0, &pairs[i].v);
        kumo_buf_append_str(&pairs[i].k, "");
        kumo_buf_append_str(&pairs[i].v, "");
    }
    qsort(pairs, nq, sizeof *pairs, qcmp);
    for (size_t i = 0; i < nq; i++) {
        kumo_buf_append_str(out, i ? "&" : "?");
        kumo_buf_append(out, pairs[i].k.data, pairs[i].k.len);
        kumo_buf_append_str(out, "=");
        kumo_buf_append(out, pairs[i].v.data, pairs[i].v.len);
        kumo_buf_free(&pairs[i].k);
        kumo_buf_free(&pairs[i].v);
    }
    kumo_free(pairs);
}

void stg__s3_object_path(const struct stg_s3 *s3, const char *key, struct kumo_buf *out)
{
    kumo_buf_append_str(out, s3->prefix);
    kumo_buf_append_str(out, "/");
    kumo_sigv4_uri_encode(key, strlen(key), 1, out);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *fmt, const char *v)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b, fmt, v);
    struct curl_slist *n = curl_slist_append(l, (const char *)b.data);
    kumo_buf_free(&b);
    return n;
}

static size_t no_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)size;
    (void)n;
    (void)ud;
    return 0;
}

/* libcurl 7.88 signs even the header lines that only remove a header
 * ("Expect:", "Content-Type:"), which it then does not send, so none are
 * used: a bodiless PUT goes as an upload of 0 bytes (no form content
 * type), and a POST always carries the caller's Content-Type. */
static void set_method(CURL *h, const char *method, const void *body, size_t len)
{
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, no_body);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
}

static void set_common(struct stg_s3 *s3, CURL *h, const struct kumo_aws_credentials *c)
{
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s3->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key_id);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_access_key);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s3->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (s3->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, s3->ca_file);
}

enum stg_err stg__s3_call(struct stg_s3 *s3, const char *method, const char *key,
                          const struct kumo_sigv4_kv *q, size_t nq, const char *const *hdrs,
                          size_t nh, const void *body, size_t len, struct s3_resp *r)
{
    memset(r, 0, sizeof *r);
    struct kumo_aws_credentials c;
    if (kumo_aws_credentials_get(s3->prov, &c) != 0) {
        struct kumo_buf err = KUMO_BUF_INIT;
        kumo_aws_provider_last_error(s3->prov, &err);
        kumo_log(KUMO_LOG_ERROR, NULL, "no AWS credentials for S3", "error",
                 err.data ? (const char *)err.data : "", NULL);
        kumo_buf_free(&err);
        return STG_E_UPSTREAM;
    }
    struct kumo_buf url = KUMO_BUF_INIT;
    kumo_buf_append_str(&url, s3->base);
    stg__s3_object_path(s3, key, &url);
    canonical_query(q, nq, &url);
    char sha[KUMO_SIGV4_HEX_SIZE];
    kumo_sigv4_sha256_hex(body ? body : "", len, sha);
    struct curl_slist *l = add_header(NULL, "x-amz-content-sha256: %s", sha);
    if (c.session_token)
        l = add_header(l, "x-amz-security-token: %s", c.session_token);
    for (size_t i = 0; i < nh; i++)
        l = curl_slist_append(l, hdrs[i]);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, (const char *)url.data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    set_common(s3, h, &c);
    set_method(h, method, body, len);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(l);
    kumo_aws_credentials_clear(&c);
    kumo_buf_free(&url);
    if (rc != CURLE_OK) {
        kumo_log(KUMO_LOG_ERROR, NULL, "S3 request failed", "method", method, "error",
                 curl_easy_strerror(rc), NULL);
        stg__s3_resp_free(r);
        return STG_E_UPSTREAM;
    }
    return STG_OK;
}

/* ---- set-up ---- */

static int make_urls(struct stg_s3 *s3, const struct stg_settings *s)
{
    struct kumo_buf ep = KUMO_BUF_INIT;
    const char *endpoint = s->s3_endpoint;
    int custom = endpoint && *endpoint;
    if (!custom) {
        kumo_buf_appendf(&ep, "https://s3.%s.amazonaws.com", s->region);
        endpoint = (const char *)ep.data;
    }
    int path =
        strcmp(s->s3_addressing, "path") == 0 || (strcmp(s->s3_addressing, "auto") == 0 && custom);
    char *base, *host;
    int rc = stg_url_split(endpoint, &base, &host);
    kumo_buf_free(&ep);
    if (rc != 0)
        return -1;
    struct kumo_buf b = KUMO_BUF_INIT;
    if (path) {
        s3->base = base;
        s3->host = host;
        kumo_buf_appendf(&b, "/%s", s->bucket);
        s3->prefix = kumo_buf_steal(&b, NULL);
        return 0;
    }
    /* Virtual-hosted style: the bucket becomes part of the host name. */
    const char *after = strstr(base, "://") + 3;
    kumo_buf_append(&b, base, (size_t)(after - base));
    kumo_buf_appendf(&b, "%s.%s", s->bucket, after);
    s3->base = kumo_buf_steal(&b, NULL);
    kumo_buf_appendf(&b, "%s.%s", s->bucket, host);
    s3->host = kumo_buf_steal(&b, NULL);
    s3->prefix = kumo_strdup("");
    kumo_free(base);
    kumo_free(host);
    return 0;
}

int stg_s3_open(struct stg_ctx *ctx)
{
    const struct stg_settings *s = &ctx->s;
    struct stg_s3 *s3 = kumo_calloc(1, sizeof *s3);
    s3->bucket = s->bucket;
    s3->timeout_ms = (long)s->s3_timeout_ms;
    s3->ca_file = s->s3_ca_file && *s->s3_ca_file ? s->s3_ca_file : NULL;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b, "aws:amz:%s:s3", s->region);
    s3->sigv4 = kumo_buf_steal(&b, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (make_urls(s3, s) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error",
                 "KUMO_STORAGE_S3_ENDPOINT must be http(s)://host[:port] without a path", NULL);
        stg_s3_close(s3);
        return -1;
    }
    struct kumo_aws_provider_config pc = {.ca_file = s3->ca_file};
    int rc = kumo_aws_provider_new(&s3->prov, &pc);
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "no AWS credentials source for the S3 backend", "error",
                 kumo_strerror(rc), NULL);
        stg_s3_close(s3);
        return -1;
    }
    ctx->s3 = s3;
    ctx->public_url = kumo_strdup(s3->base);
    ctx->public_host = kumo_strdup(s3->host);
    ctx->path_prefix = kumo_strdup(s3->prefix);
    return 0;
}

void stg_s3_close(struct stg_s3 *s3)
{
    if (s3 == NULL)
        return;
    kumo_aws_provider_free(s3->prov);
    kumo_free(s3->base);
    kumo_free(s3->host);
    kumo_free(s3->prefix);
    kumo_free(s3->sigv4);
    kumo_free(s3);
}

int stg__s3_creds(struct stg_s3 *s3, struct kumo_aws_credentials *out)
{
    int rc = kumo_aws_credentials_get(s3->prov, out);
    if (rc != 0)
        kumo_log(KUMO_LOG_ERROR, NULL, "no AWS credentials to presign with", "error",
                 kumo_strerror(rc), NULL);
    return rc;
}

const char *stg__s3_bucket(const struct stg_s3 *s3)
{
    return s3->bucket;
}
