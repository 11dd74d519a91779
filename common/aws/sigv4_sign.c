/* AWS Signature Version 4, signing: presigned URLs and Authorization
 * headers (see sigv4.h). */
#include "aws/sigv4.h"
#include "aws/sigv4_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "base/pctenc.h"

/* ---- signing ---- */

static const char *const auth_params[] = {
    "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",      "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
};

static int is_auth_param(const char *k, size_t kl)
{
    for (size_t i = 0; i < sizeof auth_params / sizeof auth_params[0]; i++)
        if (eq(k, kl, auth_params[i]))
            return 1;
    return 0;
}

static int valid_header(const struct kumo_sigv4_kv *h)
{
    if (h->name_len == 0 || h->name_len > KUMO_SIGV4_MAX_HEADER_NAME)
        return 0;
    for (size_t i = 0; i < h->name_len; i++)
        if (!is_tchar((unsigned char)h->name[i]))
            return 0;
    for (size_t i = 0; i < h->value_len; i++)
        if (h->value[i] == '\r' || h->value[i] == '\n' || h->value[i] == '\0')
            return 0;
    return 1;
}

static int valid_scope_part(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

/* Checks what the signer is given; `header_mode` forbids the headers the
 * header signer adds itself. */
static int check_signing(const struct kumo_sigv4_signing *sg, const struct kumo_sigv4_request *req,
                         int header_mode)
{
    const struct kumo_aws_credentials *c = sg->creds;
    if (c == NULL || !valid_scope_part(c->access_key_id) || c->secret_access_key == NULL ||
        c->secret_access_key[0] == '\0' || !valid_scope_part(sg->region) ||
        !valid_scope_part(sg->service) || req->method == NULL || req->method[0] == '\0' ||
        req->path == NULL || (req->path[0] != '/' && req->path[0] != '\0'))
        return KUMO_ERR_INVALID;
    /* Nothing is signed that kumo_sigv4_verify would refuse as too large:
     * leave room for the X-Amz-* parameters and headers the signer adds. */
    if (strlen(req->method) > KUMO_SIGV4_MAX_METHOD || strlen(req->path) > KUMO_SIGV4_MAX_PATH ||
        req->query_count > KUMO_SIGV4_MAX_QUERY_PARAMS - 7 ||
        req->header_count > KUMO_SIGV4_MAX_SIGNED_HEADERS - 3)
        return KUMO_ERR_TOO_LARGE;
    for (const char *m = req->method; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return KUMO_ERR_INVALID;
    if (c->session_token != NULL && strpbrk(c->session_token, "\r\n") != NULL)
        return KUMO_ERR_INVALID;
    int host = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct kumo_sigv4_kv *h = &req->headers[i];
        if (!valid_header(h))
            return h->value_len > KUMO_SIGV4_MAX_HEADER_VALUE ? KUMO_ERR_TOO_LARGE
                                                              : KUMO_ERR_INVALID;
        if (h->value_len > KUMO_SIGV4_MAX_HEADER_VALUE)
            return KUMO_ERR_TOO_LARGE;
        host |= ieq(h->name, h->name_len, "host");
        if (ieq(h->name, h->name_len, "authorization") || ieq(h->name, h->name_len, "x-amz-date") ||
            ieq(h->name, h->name_len, "x-amz-security-token") ||
            (header_mode && sg->flavor == KUMO_SIGV4_S3 &&
             ieq(h->name, h->name_len, "x-amz-content-sha256")))
            return KUMO_ERR_INVALID;
    }
    if (!host)
        return KUMO_ERR_INVALID;
    for (size_t i = 0; i < req->query_count; i++)
        if (is_auth_param(req->query[i].name, req->query[i].name_len))
            return KUMO_ERR_INVALID;
    if (req->payload_hash != NULL && strpbrk(req->payload_hash, "\r\n") != NULL)
        return KUMO_ERR_INVALID;
    return 0;
}

/* The path as it goes on the wire. */
static void wire_path(const struct kumo_sigv4_request *req, struct kumo_buf *out)
{
    size_t len = strlen(req->path);
    if (len == 0)
        kumo_buf_append_byte(out, '/');
    else if (req->path_encoded)
        kumo_buf_append(out, req->path, len);
    else
        kumo_sigv4_uri_encode(req->path, len, 1, out);
}

static void push_str(struct qlist *l, const char *k, const char *v)
{
    kumo__sigv4_qlist_push_encoded(l, k, strlen(k), v, strlen(v));
}

/* Everything a signature is computed from, owned. */
struct sign_state {
    struct kumo_buf path; /* wire path */
    struct kumo_buf uri;  /* canonical URI */
    struct qlist query;   /* wire order */
    struct hlist headers;
    struct kumo_buf canon_headers;
    struct kumo_buf signed_headers;
    struct kumo_buf canon_query;
    struct kumo_buf canonical;
    struct kumo_buf sts;
    char amz_date[KUMO_SIGV4_DATE_SIZE];
    char sig[KUMO_SIGV4_HEX_SIZE];
    uint8_t key[32];
};

static void sign_state_free(struct sign_state *s)
{
    kumo_buf_free(&s->path);
    kumo_buf_free(&s->uri);
    kumo__sigv4_qlist_free(&s->query);
    kumo__sigv4_hlist_free(&s->headers);
    if (s->canon_headers.data)
        OPENSSL_cleanse(s->canon_headers.data, s->canon_headers.len);
    kumo_buf_free(&s->canon_headers);
    kumo_buf_free(&s->signed_headers);
    if (s->canon_query.data)
        OPENSSL_cleanse(s->canon_query.data, s->canon_query.len);
    kumo_buf_free(&s->canon_query);
    if (s->canonical.data)
        OPENSSL_cleanse(s->canonical.data, s->canonical.len);
    kumo_buf_free(&s->canonical);
    kumo_buf_free(&s->sts);
    OPENSSL_cleanse(s->key, sizeof s->key);
}

/* Common first steps: date, paths, the caller's query and headers. */
static int sign_begin(const struct kumo_sigv4_signing *sg, const struct kumo_sigv4_request *req,
                      struct sign_state *s)
{
    memset(s, 0, sizeof *s);
    if (kumo_sigv4_format_date(sg->now, s->amz_date) != 0)
        return KUMO_ERR_INVALID;
    wire_path(req, &s->path);
    kumo_sigv4_canonical_uri((const char *)s->path.data, s->path.len, sg->flavor, &s->uri);
    for (size_t i = 0; i < req->query_count; i++)
        kumo__sigv4_qlist_push_encoded(&s->query, req->query[i].name, req->query[i].name_len,
                                       req->query[i].value, req->query[i].value_len);
    for (size_t i = 0; i < req->header_count; i++)
        kumo__sigv4_hlist_push(&s->headers, req->headers[i].name, req->headers[i].name_len,
                               req->headers[i].value, req->headers[i].value_len);
    return 0;
}

/* Last steps: canonical query and request, string to sign, signature. */
static void sign_finish(const struct kumo_sigv4_signing *sg, const struct kumo_sigv4_request *req,
                        const char *payload, struct sign_state *s)
{
    kumo__sigv4_qlist_canonical(&s->query, &s->canon_query);
    struct canon_parts cp = {req->method,     strlen(req->method), &s->uri,
                             &s->canon_query, &s->canon_headers,   buf_cstr(&s->signed_headers),
                             payload};
    kumo__sigv4_canonical_request(&cp, &s->canonical);
    kumo__sigv4_sign_canonical(sg->creds->secret_access_key, s->amz_date, sg->region, sg->service,
                               &s->canonical, &s->sts, s->key, s->sig);
}

int kumo_sigv4_presign(const struct kumo_sigv4_signing *sg, const struct kumo_sigv4_request *req,
                       long expires, struct kumo_buf *out)
{
    int rc = check_signing(sg, req, 0);
    if (rc != 0)
        return rc;
    if (expires < 1 || expires > KUMO_SIGV4_MAX_EXPIRES)
        return KUMO_ERR_INVALID;
    struct sign_state s;
    if (sign_begin(sg, req, &s) != 0) {
        sign_state_free(&s);
        return KUMO_ERR_INVALID;
    }
    kumo__sigv4_hlist_canonical(&s.headers, &s.canon_headers, &s.signed_headers);

    struct kumo_buf cred = KUMO_BUF_INIT;
    char exp[24];
    kumo_buf_appendf(&cred, "%s/", sg->creds->access_key_id);
    kumo__sigv4_scope_string(s.amz_date, sg->region, sg->service, &cred);
    snprintf(exp, sizeof exp, "%ld", expires);
    push_str(&s.query, "X-Amz-Algorithm", KUMO_SIGV4_ALGORITHM);
    push_str(&s.query, "X-Amz-Credential", (const char *)cred.data);
    push_str(&s.query, "X-Amz-Date", s.amz_date);
    push_str(&s.query, "X-Amz-Expires", exp);
    push_str(&s.query, "X-Amz-SignedHeaders", buf_cstr(&s.signed_headers));
    if (sg->creds->session_token != NULL)
        push_str(&s.query, "X-Amz-Security-Token", sg->creds->session_token);
    kumo_buf_free(&cred);

    const char *payload = req->payload_hash;
    if (payload == NULL)
        payload =
            sg->flavor == KUMO_SIGV4_S3 ? KUMO_SIGV4_UNSIGNED_PAYLOAD : KUMO_SIGV4_EMPTY_SHA256;
    sign_finish(sg, req, payload, &s);

    struct kumo_buf query = KUMO_BUF_INIT;
    kumo__sigv4_qlist_join(&s.query, &query);
    kumo_buf_append_str(&query, "&X-Amz-Signature=");
    kumo_buf_append_str(&query, s.sig);
    rc = s.path.len > KUMO_SIGV4_MAX_PATH || query.len > KUMO_SIGV4_MAX_QUERY ? KUMO_ERR_TOO_LARGE
                                                                              : 0;
    if (rc == 0) {
        kumo_buf_append(out, s.path.data, s.path.len);
        kumo_buf_append_byte(out, '?');
        kumo_buf_append(out, query.data, query.len);
    }
    if (query.data)
        OPENSSL_cleanse(query.data, query.len);
    kumo_buf_free(&query);
    sign_state_free(&s);
    return rc;
}

int kumo_sigv4_sign_headers(const struct kumo_sigv4_signing *sg,
                            const struct kumo_sigv4_request *req,
                            struct kumo_sigv4_header_auth *out)
{
    int rc = check_signing(sg, req, 1);
    if (rc != 0)
        return rc;
    struct sign_state s;
    if (sign_begin(sg, req, &s) != 0) {
        sign_state_free(&s);
        return KUMO_ERR_INVALID;
    }
    if (s.path.len > KUMO_SIGV4_MAX_PATH) {
        sign_state_free(&s);
        return KUMO_ERR_TOO_LARGE;
    }
    const char *payload = req->payload_hash ? req->payload_hash : KUMO_SIGV4_EMPTY_SHA256;
    const char *token = sg->creds->session_token;
    kumo__sigv4_hlist_push(&s.headers, "x-amz-date", 10, s.amz_date, strlen(s.amz_date));
    if (token != NULL)
        kumo__sigv4_hlist_push(&s.headers, "x-amz-security-token", 20, token, strlen(token));
    if (sg->flavor == KUMO_SIGV4_S3)
        kumo__sigv4_hlist_push(&s.headers, "x-amz-content-sha256", 20, payload, strlen(payload));
    kumo__sigv4_hlist_canonical(&s.headers, &s.canon_headers, &s.signed_headers);
    sign_finish(sg, req, payload, &s);

    struct kumo_buf auth = KUMO_BUF_INIT;
    kumo_buf_appendf(&auth, KUMO_SIGV4_ALGORITHM " Credential=%s/", sg->creds->access_key_id);
    kumo__sigv4_scope_string(s.amz_date, sg->region, sg->service, &auth);
    kumo_buf_appendf(&auth, ", SignedHeaders=%s, Signature=%s", buf_cstr(&s.signed_headers), s.sig);
    out->authorization = kumo_buf_steal(&auth, NULL);
    memcpy(out->amz_date, s.amz_date, sizeof out->amz_date);
    out->security_token = token;
    out->content_sha256 = sg->flavor == KUMO_SIGV4_S3 ? payload : NULL;
    sign_state_free(&s);
    return 0;
}

void kumo_sigv4_header_auth_free(struct kumo_sigv4_header_auth *a)
{
    if (a == NULL)
        return;
    kumo_free(a->authorization);
    memset(a, 0, sizeof *a);
}
