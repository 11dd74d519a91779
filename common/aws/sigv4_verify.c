/* AWS Signature Version 4, verification of presigned URLs and
 * Authorization headers, with the reason a request fails (see sigv4.h). */
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

/* ---- verification ---- */

struct span {
    const char *p;
    size_t len;
    int present;
};

/* What the verifier parsed out of a request. */
struct vstate {
    struct qlist params; /* decoded query parameters, in received order */
    struct span algorithm, credential, signed_headers, signature, date, expires, token;
    struct span akid, date8, region, service, terminal; /* credential parts */
    struct span names[KUMO_SIGV4_MAX_SIGNED_HEADERS];   /* signed header names */
    size_t nnames;
    const char *payload; /* points into a param, header, caller or a constant */
    size_t payload_len;
};

static void vstate_free(struct vstate *st)
{
    kumo__sigv4_qlist_free(&st->params);
}

static void qlist_push_take(struct qlist *l, struct kumo_buf *k, struct kumo_buf *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = kumo_realloc(l->v, l->cap * sizeof *l->v);
    }
    struct qpair *q = &l->v[l->n++];
    q->k = kumo_buf_steal(k, &q->kl);
    q->v = kumo_buf_steal(v, &q->vl);
}

/* Appends at most 64 bytes of client text, non-printable bytes as '?', so
 * a message never carries control bytes or huge echoes. */
static void append_echo(struct kumo_buf *b, const char *p, size_t len)
{
    size_t n = len < 64 ? len : 64;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        kumo_buf_append_byte(b, (c >= 0x20 && c < 0x7f) ? c : '?');
    }
    if (len > n)
        kumo_buf_append_str(b, "...");
}

static enum kumo_sigv4_reason fail(struct kumo_sigv4_verify_result *res, enum kumo_sigv4_reason r,
                                   const char *msg)
{
    if (res->message == NULL && msg != NULL)
        res->message = kumo_strdup(msg);
    return r;
}

/* Fails with "<prefix><text><echo><suffix>", prefix depending on the form. */
static enum kumo_sigv4_reason fail_echo(struct kumo_sigv4_verify_result *res,
                                        enum kumo_sigv4_reason r, const char *text,
                                        const struct span *echo, const char *suffix)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, res->query_auth ? "Error parsing the X-Amz-Credential parameter; "
                                            : "The authorization header is malformed; ");
    kumo_buf_append_str(&b, text);
    if (echo != NULL)
        append_echo(&b, echo->p, echo->len);
    if (suffix != NULL)
        kumo_buf_append_str(&b, suffix);
    kumo_free(res->message);
    res->message = kumo_buf_steal(&b, NULL);
    return r;
}

static enum kumo_sigv4_reason check_limits(const struct kumo_sigv4_verify_request *req,
                                           struct kumo_sigv4_verify_result *res)
{
    const char *what = NULL;
    if (req->method_len == 0 || req->method_len > KUMO_SIGV4_MAX_METHOD)
        what = "method";
    else if (req->path_len > KUMO_SIGV4_MAX_PATH)
        what = "path";
    else if (req->query_len > KUMO_SIGV4_MAX_QUERY)
        what = "query string";
    else if (req->header_count > KUMO_SIGV4_MAX_HEADERS)
        what = "header count";
    for (size_t i = 0; what == NULL && i < req->header_count; i++)
        if (req->headers[i].name_len > KUMO_SIGV4_MAX_HEADER_NAME ||
            req->headers[i].value_len > KUMO_SIGV4_MAX_HEADER_VALUE)
            what = "header size";
    if (what == NULL)
        return KUMO_SIGV4_OK;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b, "The request's %s exceeds the limit of the signature check.", what);
    res->message = kumo_buf_steal(&b, NULL);
    return KUMO_SIGV4_TOO_LARGE;
}

static enum kumo_sigv4_reason parse_query(const struct kumo_sigv4_verify_request *req,
                                          struct vstate *st, struct kumo_sigv4_verify_result *res)
{
    const char *q = req->query;
    size_t len = req->query_len;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i) {
            if (st->params.n >= KUMO_SIGV4_MAX_QUERY_PARAMS)
                return fail(res, KUMO_SIGV4_TOO_LARGE,
                            "The request's query has more parameters than the signature check "
                            "allows.");
            const char *eqp = memchr(q + i, '=', j - i);
            size_t kl = eqp ? (size_t)(eqp - (q + i)) : j - i;
            struct kumo_buf k = KUMO_BUF_INIT, v = KUMO_BUF_INIT;
            int rc = kumo_url_query_decode(q + i, kl, &k);
            if (rc == 0 && eqp != NULL)
                rc = kumo_url_query_decode(eqp + 1, (size_t)(q + j - eqp - 1), &v);
            if (rc != 0) {
                kumo_buf_free(&k);
                kumo_buf_free(&v);
                return fail(res, KUMO_SIGV4_BAD_ENCODING,
                            "The query string is not correctly percent-encoded.");
            }
            qlist_push_take(&st->params, &k, &v);
        }
        i = j + 1;
    }
    return KUMO_SIGV4_OK;
}

/* Finds parameter `name`; returns how many times it occurs. */
static int find_param(const struct vstate *st, const char *name, struct span *out)
{
    int count = 0;
    for (size_t i = 0; i < st->params.n; i++) {
        const struct qpair *q = &st->params.v[i];
        if (eq(q->k, q->kl, name)) {
            if (count++ == 0 && out != NULL) {
                out->p = q->v;
                out->len = q->vl;
                out->present = 1;
            }
        }
    }
    return count;
}

/* Finds header `name` (any case); returns how many times it occurs. */
static int find_header(const struct kumo_sigv4_verify_request *req, const char *name,
                       struct span *out)
{
    int count = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct kumo_sigv4_kv *h = &req->headers[i];
        if (ieq(h->name, h->name_len, name)) {
            if (count++ == 0 && out != NULL) {
                out->p = h->value;
                out->len = h->value_len;
                out->present = 1;
            }
        }
    }
    return count;
}

static const char msg_query_params[] =
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
static const char msg_header_parts[] =
    "The authorization header is malformed; the authorization header requires three "
    "components: Credential, SignedHeaders, and Signature.";

static int has_nul(const struct span *s)
{
    return s->present && memchr(s->p, '\0', s->len) != NULL;
}

static enum kumo_sigv4_reason parse_query_auth(struct vstate *st,
                                               struct kumo_sigv4_verify_result *res)
{
    static const char *const required[] = {"X-Amz-Algorithm",     "X-Amz-Credential",
                                           "X-Amz-Date",          "X-Amz-Expires",
                                           "X-Amz-SignedHeaders", "X-Amz-Signature"};
    struct span *dst[] = {&st->algorithm, &st->credential,     &st->date,
                          &st->expires,   &st->signed_headers, &st->signature};
    for (size_t i = 0; i < 6; i++) {
        int n = find_param(st, required[i], dst[i]);
        if (n == 0)
            return fail(res, KUMO_SIGV4_MALFORMED_AUTH, msg_query_params);
        if (n > 1 || has_nul(dst[i])) {
            struct kumo_buf b = KUMO_BUF_INIT;
            kumo_buf_appendf(&b, "The %s parameter must appear exactly once and be valid.",
                             required[i]);
            res->message = kumo_buf_steal(&b, NULL);
            return KUMO_SIGV4_MALFORMED_AUTH;
        }
    }
    if (find_param(st, "X-Amz-Security-Token", &st->token) > 1)
        return fail(res, KUMO_SIGV4_MALFORMED_AUTH,
                    "The X-Amz-Security-Token parameter must appear at most once.");
    if (!eq(st->algorithm.p, st->algorithm.len, KUMO_SIGV4_ALGORITHM))
        return fail(res, KUMO_SIGV4_UNSUPPORTED_AUTH,
                    "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
    return KUMO_SIGV4_OK;
}

/* Trims spaces/tabs off both ends of p[0..*len); returns the new start. */
static const char *trim(const char *p, size_t *len)
{
    while (*len > 0 && is_space_tab(*p)) {
        p++;
        (*len)--;
    }
    while (*len > 0 && is_space_tab(p[*len - 1]))
        (*len)--;
    return p;
}

/* Parses one "Name=value" component of an Authorization header. */
static int auth_component(struct vstate *st, const char *p, size_t len)
{
    p = trim(p, &len);
    const char *eqp = memchr(p, '=', len);
    if (eqp == NULL)
        return -1;
    size_t nl = (size_t)(eqp - p);
    struct span *dst = NULL;
    if (eq(p, nl, "Credential"))
        dst = &st->credential;
    else if (eq(p, nl, "SignedHeaders"))
        dst = &st->signed_headers;
    else if (eq(p, nl, "Signature"))
        dst = &st->signature;
    if (dst == NULL || dst->present)
        return -1;
    dst->p = eqp + 1;
    dst->len = len - nl - 1;
    dst->present = 1;
    return 0;
}

static enum kumo_sigv4_reason parse_header_auth(const struct kumo_sigv4_verify_request *req,
                                                struct vstate *st,
                                                struct kumo_sigv4_verify_result *res)
{
    struct span a = {0};
    if (find_header(req, "authorization", &a) > 1)
        return fail(res, KUMO_SIGV4_MALFORMED_AUTH,
                    "The authorization header is malformed; it appears more than once.");
    size_t len = a.len;
    const char *p = trim(a.p, &len);
    const char *sp = memchr(p, ' ', len);
    size_t alg_len = sp ? (size_t)(sp - p) : len;
    if (!eq(p, alg_len, KUMO_SIGV4_ALGORITHM))
        return fail(res, KUMO_SIGV4_UNSUPPORTED_AUTH, "Unsupported Authorization Type");
    p += alg_len;
    len -= alg_len;
    while (len > 0) {
        const char *comma = memchr(p, ',', len);
        size_t cl = comma ? (size_t)(comma - p) : len;
        if (auth_component(st, p, cl) != 0)
            return fail(res, KUMO_SIGV4_MALFORMED_AUTH, msg_header_parts);
        p += cl;
        len -= cl;
        if (comma != NULL) {
            p++;
            len--;
            if (len == 0)
                return fail(res, KUMO_SIGV4_MALFORMED_AUTH, msg_header_parts);
        }
    }
    if (!st->credential.present || !st->signed_headers.present || !st->signature.present)
        return fail(res, KUMO_SIGV4_MALFORMED_AUTH, msg_header_parts);
    int nd = find_header(req, "x-amz-date", &st->date);
    if (nd == 0)
        return fail(res, KUMO_SIGV4_MISSING_DATE,
                    "AWS authentication requires a valid Date or x-amz-date header");
    if (nd > 1)
        return fail(res, KUMO_SIGV4_MALFORMED_DATE,
                    "AWS authentication requires a valid Date or x-amz-date header");
    size_t dl = st->date.len;
    st->date.p = trim(st->date.p, &dl);
    st->date.len = dl;
    if (find_header(req, "x-amz-security-token", &st->token) > 1)
        return fail(res, KUMO_SIGV4_BAD_SECURITY_TOKEN,
                    "The provided token is malformed or otherwise invalid.");
    if (st->token.present) {
        size_t tl = st->token.len;
        st->token.p = trim(st->token.p, &tl);
        st->token.len = tl;
    }
    return KUMO_SIGV4_OK;
}

/* Decides which form the request uses and parses it. */
static enum kumo_sigv4_reason detect_auth(const struct kumo_sigv4_verify_request *req,
                                          struct vstate *st, struct kumo_sigv4_verify_result *res)
{
    int header = find_header(req, "authorization", NULL) > 0;
    int query = find_param(st, "X-Amz-Algorithm", NULL) > 0 ||
                find_param(st, "X-Amz-Credential", NULL) > 0 ||
                find_param(st, "X-Amz-Signature", NULL) > 0;
    int v2 = find_param(st, "AWSAccessKeyId", NULL) > 0 || find_param(st, "Signature", NULL) > 0;
    res->query_auth = !header && (query || v2);
    if (header && (query || v2))
        return fail(res, KUMO_SIGV4_MULTIPLE_AUTH,
                    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                    "Signature query string parameter or the Authorization header should be "
                    "specified");
    if (header)
        return parse_header_auth(req, st, res);
    if (query)
        return parse_query_auth(st, res);
    if (v2)
        return fail(res, KUMO_SIGV4_UNSUPPORTED_AUTH,
                    "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
    return fail(res, KUMO_SIGV4_NO_AUTH, "Access Denied");
}

/* Splits the credential "AKID/YYYYMMDD/region/service/aws4_request". */
static enum kumo_sigv4_reason parse_credential(struct vstate *st,
                                               struct kumo_sigv4_verify_result *res)
{
    struct span *parts[] = {&st->akid, &st->date8, &st->region, &st->service, &st->terminal};
    const char *p = st->credential.p;
    size_t len = st->credential.len, n = 0;
    int ok = len > 0 && len <= 512 && memchr(p, '\0', len) == NULL;
    for (size_t i = 0; ok && i <= len; n++) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        if (n >= 5 || j == i) {
            ok = 0;
            break;
        }
        parts[n]->p = p + i;
        parts[n]->len = j - i;
        parts[n]->present = 1;
        i = j + 1;
    }
    int d;
    if (!ok || n != 5 || st->akid.len > 128 || st->date8.len != 8 ||
        kumo__sigv4_digits(st->date8.p, 8, &d))
        return fail_echo(res, KUMO_SIGV4_MALFORMED_CREDENTIAL,
                         "the Credential is mal-formed; expecting "
                         "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
                         NULL, NULL);
    for (size_t i = 0; i < st->akid.len; i++)
        if ((unsigned char)st->akid.p[i] <= ' ' || st->akid.p[i] == 0x7f)
            return fail_echo(res, KUMO_SIGV4_MALFORMED_CREDENTIAL,
                             "the Credential is mal-formed; expecting "
                             "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
                             NULL, NULL);
    res->access_key_id = kumo_strndup(st->akid.p, st->akid.len);
    return KUMO_SIGV4_OK;
}

static enum kumo_sigv4_reason check_scope(const struct kumo_sigv4_verifier *v, struct vstate *st,
                                          struct kumo_sigv4_verify_result *res)
{
    if (kumo_sigv4_parse_date(st->date.p, st->date.len, &res->request_time) != 0)
        return res->query_auth
                   ? fail(res, KUMO_SIGV4_MALFORMED_DATE,
                          "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
                   : fail(res, KUMO_SIGV4_MALFORMED_DATE,
                          "AWS authentication requires a valid Date or x-amz-date header");
    if (memcmp(st->date8.p, st->date.p, 8) != 0) {
        struct span d = {st->date.p, 8, 1};
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_buf_append_str(&b, "Invalid credential date \"");
        append_echo(&b, st->date8.p, st->date8.len);
        kumo_buf_append_str(&b, "\". This date is not the same as X-Amz-Date: \"");
        append_echo(&b, d.p, d.len);
        kumo_buf_append_str(&b, "\".");
        fail_echo(res, KUMO_SIGV4_WRONG_DATE_SCOPE, (const char *)b.data, NULL, NULL);
        kumo_buf_free(&b);
        return KUMO_SIGV4_WRONG_DATE_SCOPE;
    }
    if (!eq(st->region.p, st->region.len, v->region)) {
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_buf_appendf(&b, "' is wrong; expecting '%s'", v->region);
        fail_echo(res, KUMO_SIGV4_WRONG_REGION, "the region '", &st->region, (const char *)b.data);
        kumo_buf_free(&b);
        return KUMO_SIGV4_WRONG_REGION;
    }
    if (!eq(st->service.p, st->service.len, v->service)) {
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_buf_appendf(&b, "\". This endpoint belongs to \"%s\".", v->service);
        fail_echo(res, KUMO_SIGV4_WRONG_SERVICE, "incorrect service \"", &st->service,
                  (const char *)b.data);
        kumo_buf_free(&b);
        return KUMO_SIGV4_WRONG_SERVICE;
    }
    if (!eq(st->terminal.p, st->terminal.len, TERMINAL))
        return fail_echo(res, KUMO_SIGV4_WRONG_TERMINAL, "incorrect terminal \"", &st->terminal,
                         "\". This endpoint uses \"aws4_request\".");
    return KUMO_SIGV4_OK;
}

static enum kumo_sigv4_reason parse_expires(struct vstate *st, struct kumo_sigv4_verify_result *res,
                                            long *out)
{
    const struct span *e = &st->expires;
    long v = 0;
    if (e->len == 0)
        return fail(res, KUMO_SIGV4_BAD_EXPIRES, "X-Amz-Expires should be a number");
    if (e->p[0] == '-')
        return fail(res, KUMO_SIGV4_BAD_EXPIRES, "X-Amz-Expires must be non-negative");
    for (size_t i = 0; i < e->len; i++) {
        if (e->p[i] < '0' || e->p[i] > '9')
            return fail(res, KUMO_SIGV4_BAD_EXPIRES, "X-Amz-Expires should be a number");
        if (v <= KUMO_SIGV4_MAX_EXPIRES)
            v = v * 10 + (e->p[i] - '0');
    }
    if (v > KUMO_SIGV4_MAX_EXPIRES)
        return fail(res, KUMO_SIGV4_BAD_EXPIRES,
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    if (v < 1)
        return fail(res, KUMO_SIGV4_BAD_EXPIRES, "X-Amz-Expires must be at least 1 second");
    *out = v;
    return KUMO_SIGV4_OK;
}

static enum kumo_sigv4_reason check_time(struct vstate *st, time_t now,
                                         struct kumo_sigv4_verify_result *res)
{
    time_t t = res->request_time;
    if (!res->query_auth) {
        if (t > now + KUMO_SIGV4_MAX_SKEW || now > t + KUMO_SIGV4_MAX_SKEW)
            return fail(res, KUMO_SIGV4_TIME_SKEWED,
                        "The difference between the request time and the current time is too "
                        "large.");
        return KUMO_SIGV4_OK;
    }
    long expires = 0;
    enum kumo_sigv4_reason r = parse_expires(st, res, &expires);
    if (r != KUMO_SIGV4_OK)
        return r;
    res->expires_at = t + expires;
    if (t > now + KUMO_SIGV4_MAX_SKEW)
        return fail(res, KUMO_SIGV4_NOT_YET_VALID, "Request is not valid yet");
    if (now > res->expires_at)
        return fail(res, KUMO_SIGV4_EXPIRED, "Request has expired");
    return KUMO_SIGV4_OK;
}

static int is_header_name_char(char c)
{
    return is_tchar((unsigned char)c) && !(c >= 'A' && c <= 'Z');
}

static enum kumo_sigv4_reason parse_signed_headers(struct vstate *st,
                                                   struct kumo_sigv4_verify_result *res)
{
    const char *p = st->signed_headers.p;
    size_t len = st->signed_headers.len;
    int ok = len > 0;
    for (size_t i = 0; ok && i <= len;) {
        size_t j = i;
        while (j < len && p[j] != ';')
            j++;
        ok = j > i && st->nnames < KUMO_SIGV4_MAX_SIGNED_HEADERS;
        for (size_t k = i; ok && k < j; k++)
            ok = is_header_name_char(p[k]);
        if (ok && st->nnames > 0) {
            const struct span *prev = &st->names[st->nnames - 1];
            ok = kumo__sigv4_bytes_cmp(prev->p, prev->len, p + i, j - i) < 0; /* sorted, unique */
        }
        if (ok) {
            st->names[st->nnames].p = p + i;
            st->names[st->nnames].len = j - i;
            st->names[st->nnames++].present = 1;
        }
        i = j + 1;
    }
    if (!ok) {
        res->message = kumo_strdup(
            res->query_auth ? "X-Amz-SignedHeaders must be lowercase header names, sorted, "
                              "unique and separated by ';'."
                            : "The authorization header is malformed; SignedHeaders must be "
                              "lowercase header names, sorted, unique and separated by ';'.");
        return KUMO_SIGV4_MALFORMED_SIGNED_HEADERS;
    }
    return KUMO_SIGV4_OK;
}

static int is_signed(const struct vstate *st, const char *name, size_t len)
{
    for (size_t i = 0; i < st->nnames; i++)
        if (st->names[i].len == len) {
            size_t k = 0;
            while (k < len && lower((unsigned char)name[k]) == (unsigned char)st->names[i].p[k])
                k++;
            if (k == len)
                return 1;
        }
    return 0;
}

/* Host and every x-amz-* header present must be signed, as S3 insists:
 * otherwise a client could add, say, x-amz-storage-class to a URL presigned
 * without it. */
static enum kumo_sigv4_reason check_unsigned(const struct kumo_sigv4_verify_request *req,
                                             const struct vstate *st,
                                             struct kumo_sigv4_verify_result *res)
{
    if (!is_signed(st, "host", 4))
        return fail(res, KUMO_SIGV4_HOST_NOT_SIGNED,
                    "There were headers present in the request which were not signed: host");
    struct kumo_buf b = KUMO_BUF_INIT;
    for (size_t i = 0; i < req->header_count; i++) {
        const struct kumo_sigv4_kv *h = &req->headers[i];
        if (h->name_len < 6 || !ieq(h->name, 6, "x-amz-") || is_signed(st, h->name, h->name_len))
            continue;
        kumo_buf_append_str(&b, b.len ? ", "
                                      : "There were headers present in the request "
                                        "which were not signed: ");
        append_echo(&b, h->name, h->name_len);
    }
    if (b.len == 0)
        return KUMO_SIGV4_OK;
    res->message = kumo_buf_steal(&b, NULL);
    return KUMO_SIGV4_HEADERS_NOT_SIGNED;
}

static int valid_payload_hash(const char *p, size_t len)
{
    static const char *const words[] = {
        KUMO_SIGV4_UNSIGNED_PAYLOAD,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    };
    if (kumo__sigv4_is_hex64(p, len))
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (eq(p, len, words[i]))
            return 1;
    return 0;
}

static enum kumo_sigv4_reason resolve_payload(const struct kumo_sigv4_verifier *v,
                                              const struct kumo_sigv4_verify_request *req,
                                              struct vstate *st,
                                              struct kumo_sigv4_verify_result *res)
{
    struct span s = {0};
    if (req->payload_hash != NULL) {
        s.p = req->payload_hash;
        s.len = strlen(req->payload_hash);
    } else if (!res->query_auth) {
        int n = find_header(req, "x-amz-content-sha256", &s);
        if (n == 0 && v->flavor == KUMO_SIGV4_S3)
            return fail(res, KUMO_SIGV4_MISSING_CONTENT_SHA256,
                        "Missing required header for this request: x-amz-content-sha256");
        if (n > 1)
            return fail(res, KUMO_SIGV4_BAD_CONTENT_SHA256,
                        "x-amz-content-sha256 must appear at most once.");
        if (n == 0) {
            s.p = KUMO_SIGV4_EMPTY_SHA256;
            s.len = 64;
        }
        s.p = trim(s.p, &s.len);
    } else if (v->flavor == KUMO_SIGV4_S3) {
        if (find_param(st, "X-Amz-Content-Sha256", &s) == 0) {
            s.p = KUMO_SIGV4_UNSIGNED_PAYLOAD;
            s.len = strlen(KUMO_SIGV4_UNSIGNED_PAYLOAD);
        }
    } else {
        s.p = KUMO_SIGV4_EMPTY_SHA256;
        s.len = 64;
    }
    if (!valid_payload_hash(s.p, s.len))
        return fail(res, KUMO_SIGV4_BAD_CONTENT_SHA256,
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, "
                    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.");
    st->payload = s.p;
    st->payload_len = s.len;
    res->payload_hash = kumo_strndup(s.p, s.len);
    return KUMO_SIGV4_OK;
}

static enum kumo_sigv4_reason check_key(const struct kumo_sigv4_verifier *v,
                                        const struct vstate *st, time_t now,
                                        struct kumo_sigv4_verify_result *res,
                                        const struct kumo_aws_credentials **out)
{
    const struct kumo_aws_credentials *c = v->lookup(v->lookup_ctx, res->access_key_id);
    if (c == NULL || c->secret_access_key == NULL)
        return fail(res, KUMO_SIGV4_UNKNOWN_ACCESS_KEY,
                    "The AWS Access Key Id you provided does not exist in our records.");
    if (c->expiration != 0 && now >= c->expiration)
        return fail(res, KUMO_SIGV4_EXPIRED_TOKEN, "The provided token has expired.");
    int token_ok;
    if (c->session_token == NULL) {
        token_ok = !st->token.present;
    } else {
        size_t tl = strlen(c->session_token);
        token_ok = st->token.present && st->token.len == tl &&
                   CRYPTO_memcmp(st->token.p, c->session_token, tl) == 0;
    }
    if (!token_ok)
        return fail(res, KUMO_SIGV4_BAD_SECURITY_TOKEN,
                    "The provided token is malformed or otherwise invalid.");
    *out = c;
    return KUMO_SIGV4_OK;
}

/* Appends the canonical headers, following the signed list; returns 0 if
 * a signed header is absent from the request. */
static int verify_headers(const struct kumo_sigv4_verify_request *req, const struct vstate *st,
                          struct kumo_buf *out)
{
    int all = 1;
    for (size_t i = 0; i < st->nnames; i++) {
        const struct span *n = &st->names[i];
        int found = 0;
        kumo_buf_append(out, n->p, n->len);
        kumo_buf_append_byte(out, ':');
        for (size_t k = 0; k < req->header_count; k++) {
            const struct kumo_sigv4_kv *h = &req->headers[k];
            if (h->name_len == n->len) {
                size_t j = 0;
                while (j < n->len && lower((unsigned char)h->name[j]) == (unsigned char)n->p[j])
                    j++;
                if (j == n->len) {
                    if (found++)
                        kumo_buf_append_byte(out, ',');
                    kumo__sigv4_append_folded(out, h->value, h->value_len);
                }
            }
        }
        kumo_buf_append_byte(out, '\n');
        all &= found > 0;
    }
    return all;
}

/* Rebuilds the canonical request and compares signatures. */
static enum kumo_sigv4_reason check_signature(const struct kumo_sigv4_verifier *v,
                                              const struct kumo_sigv4_verify_request *req,
                                              const struct vstate *st,
                                              const struct kumo_aws_credentials *c,
                                              struct kumo_sigv4_verify_result *res)
{
    struct kumo_buf uri = KUMO_BUF_INIT, cq = KUMO_BUF_INIT, ch = KUMO_BUF_INIT;
    struct kumo_buf sh = KUMO_BUF_INIT, canon = KUMO_BUF_INIT, sts = KUMO_BUF_INIT;
    struct kumo_buf payload = KUMO_BUF_INIT;
    struct qlist enc = {0};
    char date[KUMO_SIGV4_DATE_SIZE], sig[KUMO_SIGV4_HEX_SIZE];

    kumo_sigv4_canonical_uri(req->path, req->path_len, v->flavor, &uri);
    for (size_t i = 0; i < st->params.n; i++) {
        const struct qpair *q = &st->params.v[i];
        if (res->query_auth && eq(q->k, q->kl, "X-Amz-Signature"))
            continue;
        kumo__sigv4_qlist_push_encoded(&enc, q->k, q->kl, q->v, q->vl);
    }
    kumo__sigv4_qlist_canonical(&enc, &cq);
    int all_present = verify_headers(req, st, &ch);
    kumo_buf_append(&sh, st->signed_headers.p, st->signed_headers.len);
    kumo_buf_append(&payload, st->payload, st->payload_len);
    struct canon_parts cp = {req->method,   req->method_len,   &uri, &cq, &ch,
                             buf_cstr(&sh), buf_cstr(&payload)};
    kumo__sigv4_canonical_request(&cp, &canon);
    memcpy(date, st->date.p, KUMO_SIGV4_DATE_SIZE - 1);
    date[KUMO_SIGV4_DATE_SIZE - 1] = '\0';
    kumo__sigv4_sign_canonical(c->secret_access_key, date, v->region, v->service, &canon, &sts,
                               res->signing_key, sig);

    int match =
        all_present && st->signature.len == 64 && CRYPTO_memcmp(sig, st->signature.p, 64) == 0;
    enum kumo_sigv4_reason r = KUMO_SIGV4_OK;
    if (match) {
        memcpy(res->signature, sig, sizeof sig);
        struct kumo_buf scope = KUMO_BUF_INIT;
        kumo__sigv4_scope_string(date, v->region, v->service, &scope);
        res->scope = kumo_buf_steal(&scope, NULL);
    } else {
        OPENSSL_cleanse(res->signing_key, sizeof res->signing_key);
        res->canonical_request = kumo_buf_steal(&canon, NULL);
        res->string_to_sign = kumo_buf_steal(&sts, NULL);
        struct kumo_buf given = KUMO_BUF_INIT;
        append_echo(&given, st->signature.p, st->signature.len < 64 ? st->signature.len : 64);
        res->signature_provided = kumo_buf_steal(&given, NULL);
        r = fail(res, KUMO_SIGV4_SIGNATURE_MISMATCH,
                 "The request signature we calculated does not match the signature you "
                 "provided. Check your key and signing method.");
    }
    OPENSSL_cleanse(sig, sizeof sig);
    kumo_buf_free(&uri);
    kumo_buf_free(&cq);
    kumo_buf_free(&ch);
    kumo_buf_free(&sh);
    kumo_buf_free(&canon);
    kumo_buf_free(&sts);
    kumo_buf_free(&payload);
    kumo__sigv4_qlist_free(&enc);
    return r;
}

static enum kumo_sigv4_reason verify_steps(const struct kumo_sigv4_verifier *v,
                                           const struct kumo_sigv4_verify_request *req, time_t now,
                                           struct vstate *st, struct kumo_sigv4_verify_result *res)
{
    enum kumo_sigv4_reason r;
    const struct kumo_aws_credentials *c = NULL;
    if ((r = check_limits(req, res)) != KUMO_SIGV4_OK || (r = parse_query(req, st, res)) ||
        (r = detect_auth(req, st, res)) || (r = parse_credential(st, res)) ||
        (r = check_scope(v, st, res)) || (r = check_time(st, now, res)) ||
        (r = parse_signed_headers(st, res)) || (r = check_unsigned(req, st, res)) ||
        (r = resolve_payload(v, req, st, res)) || (r = check_key(v, st, now, res, &c)))
        return r;
    return check_signature(v, req, st, c, res);
}

enum kumo_sigv4_reason kumo_sigv4_verify(const struct kumo_sigv4_verifier *v,
                                         const struct kumo_sigv4_verify_request *req, time_t now,
                                         struct kumo_sigv4_verify_result *res)
{
    struct vstate st;
    memset(res, 0, sizeof *res);
    memset(&st, 0, sizeof st);
    res->reason = verify_steps(v, req, now, &st, res);
    vstate_free(&st);
    return res->reason;
}

void kumo_sigv4_verify_result_free(struct kumo_sigv4_verify_result *res)
{
    if (res == NULL)
        return;
    kumo_free(res->message);
    kumo_free(res->access_key_id);
    kumo_free(res->payload_hash);
    kumo_free(res->scope);
    kumo_free(res->canonical_request);
    kumo_free(res->string_to_sign);
    kumo_free(res->signature_provided);
    OPENSSL_cleanse(res, sizeof *res);
    memset(res, 0, sizeof *res);
}

struct reason_info {
    const char *name;
    const char *header_code; /* S3 code for the Authorization form */
    const char *query_code;  /* S3 code for the presigned form */
    int status;
};

static const struct reason_info reasons[] = {
    [KUMO_SIGV4_OK] = {"ok", "", "", 200},
    [KUMO_SIGV4_NO_AUTH] = {"no_auth", "AccessDenied", "AccessDenied", 403},
    [KUMO_SIGV4_MULTIPLE_AUTH] = {"multiple_auth", "InvalidArgument", "InvalidArgument", 400},
    [KUMO_SIGV4_UNSUPPORTED_AUTH] = {"unsupported_auth", "InvalidArgument",
                                     "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_MALFORMED_AUTH] = {"malformed_auth", "AuthorizationHeaderMalformed",
                                   "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_MALFORMED_CREDENTIAL] = {"malformed_credential", "AuthorizationHeaderMalformed",
                                         "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_MALFORMED_DATE] = {"malformed_date", "AccessDenied",
                                   "AuthorizationQueryParametersError", 0},
    [KUMO_SIGV4_MISSING_DATE] = {"missing_date", "AccessDenied", "AccessDenied", 403},
    [KUMO_SIGV4_BAD_EXPIRES] = {"bad_expires", "AuthorizationQueryParametersError",
                                "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_WRONG_DATE_SCOPE] = {"wrong_date_scope", "AuthorizationHeaderMalformed",
                                     "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_WRONG_REGION] = {"wrong_region", "AuthorizationHeaderMalformed",
                                 "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_WRONG_SERVICE] = {"wrong_service", "AuthorizationHeaderMalformed",
                                  "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_WRONG_TERMINAL] = {"wrong_terminal", "AuthorizationHeaderMalformed",
                                   "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_MALFORMED_SIGNED_HEADERS] = {"malformed_signed_headers",
                                             "AuthorizationHeaderMalformed",
                                             "AuthorizationQueryParametersError", 400},
    [KUMO_SIGV4_HOST_NOT_SIGNED] = {"host_not_signed", "AccessDenied", "AccessDenied", 403},
    [KUMO_SIGV4_HEADERS_NOT_SIGNED] = {"headers_not_signed", "AccessDenied", "AccessDenied", 403},
    [KUMO_SIGV4_MISSING_CONTENT_SHA256] = {"missing_content_sha256", "InvalidRequest",
                                           "InvalidRequest", 400},
    [KUMO_SIGV4_BAD_CONTENT_SHA256] = {"bad_content_sha256", "InvalidArgument", "InvalidArgument",
                                       400},
    [KUMO_SIGV4_EXPIRED] = {"expired", "AccessDenied", "AccessDenied", 403},
    [KUMO_SIGV4_NOT_YET_VALID] = {"not_yet_valid", "AccessDenied", "AccessDenied", 403},
    [KUMO_SIGV4_TIME_SKEWED] = {"time_skewed", "RequestTimeTooSkewed", "RequestTimeTooSkewed", 403},
    [KUMO_SIGV4_UNKNOWN_ACCESS_KEY] = {"unknown_access_key", "InvalidAccessKeyId",
                                       "InvalidAccessKeyId", 403},
    [KUMO_SIGV4_BAD_SECURITY_TOKEN] = {"bad_security_token", "InvalidToken", "InvalidToken", 400},
    [KUMO_SIGV4_EXPIRED_TOKEN] = {"expired_token", "ExpiredToken", "ExpiredToken", 400},
    [KUMO_SIGV4_SIGNATURE_MISMATCH] = {"signature_mismatch", "SignatureDoesNotMatch",
                                       "SignatureDoesNotMatch", 403},
    [KUMO_SIGV4_BAD_ENCODING] = {"bad_encoding", "InvalidArgument", "InvalidArgument", 400},
    [KUMO_SIGV4_TOO_LARGE] = {"too_large", "InvalidRequest", "InvalidRequest", 400},
};

const char *kumo_sigv4_reason_name(enum kumo_sigv4_reason r)
{
    if ((unsigned)r >= sizeof reasons / sizeof reasons[0])
        return "unknown";
    return reasons[r].name;
}

const char *kumo_sigv4_reason_s3_code(enum kumo_sigv4_reason r, int query_auth, int *http_status)
{
    if ((unsigned)r >= sizeof reasons / sizeof reasons[0]) {
        *http_status = 403;
        return "AccessDenied";
    }
    const struct reason_info *ri = &reasons[r];
    /* A bad date is a 400 query-parameter error for a presigned URL but a
     * 403 for the header form, as S3 answers. */
    if (r == KUMO_SIGV4_MALFORMED_DATE)
        *http_status = query_auth ? 400 : 403;
    else
        *http_status = ri->status;
    return query_auth ? ri->query_code : ri->header_code;
}
