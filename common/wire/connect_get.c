#include "wire/connect_get.h"

#include <string.h>

#include "base/base64.h"
#include "base/errors.h"
#include "base/pctenc.h"

enum param { P_MESSAGE, P_ENCODING, P_BASE64, P_COMPRESSION, P_CONNECT, P_COUNT };

static const char *const param_names[P_COUNT] = {
    "message", "encoding", "base64", "compression", "connect",
};

/* A known name percent-encoded byte by byte is at most this long. */
#define MAX_ENCODED_NAME (3 * sizeof "compression")

/* Raw (still URL-encoded) text of the known parameters. */
struct raw_params {
    const char *val[P_COUNT];
    size_t len[P_COUNT];
    int seen[P_COUNT];
};

/* Returns the known parameter the URL-encoded key `k` names, or P_COUNT. A
 * key that does not decode is simply unknown. */
static enum param lookup(const char *k, size_t klen)
{
    if (klen > MAX_ENCODED_NAME)
        return P_COUNT;
    char plain[MAX_ENCODED_NAME + 1];
    size_t n = 0;
    int has_escape = memchr(k, '%', klen) != NULL || memchr(k, '+', klen) != NULL;
    if (has_escape) {
        struct kumo_buf b = KUMO_BUF_INIT;
        int rc = kumo_url_query_decode(k, klen, &b);
        if (rc == 0 && b.len < sizeof plain) {
            memcpy(plain, b.data, b.len);
            n = b.len;
        }
        kumo_buf_free(&b);
        if (rc != 0 || n == 0)
            return P_COUNT;
    } else {
        memcpy(plain, k, klen);
        n = klen;
    }
    for (int p = 0; p < P_COUNT; p++) {
        if (strlen(param_names[p]) == n && memcmp(param_names[p], plain, n) == 0)
            return (enum param)p;
    }
    return P_COUNT;
}

/* Splits the query on '&' and records the known parameters. */
static int split(const char *q, size_t len, struct raw_params *raw, const char **why)
{
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(q + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - q) : len;
        const char *eq = memchr(q + i, '=', end - i);
        size_t kend = eq ? (size_t)(eq - q) : end;
        enum param p = lookup(q + i, kend - i);
        if (p != P_COUNT) {
            if (raw->seen[p]) {
                *why = "repeated query parameter";
                return KUMO_CODE_INVALID_ARGUMENT;
            }
            raw->seen[p] = 1;
            raw->val[p] = eq ? eq + 1 : q + end;
            raw->len[p] = eq ? end - kend - 1 : 0;
        }
        i = end + 1;
    }
    return 0;
}

/* URL-decodes a short parameter value into dst[cap]; fails if it does not
 * decode or does not fit (with its NUL). */
static int decode_small(const char *v, size_t vlen, char *dst, size_t cap)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    int rc = kumo_url_query_decode(v, vlen, &b);
    if (rc == 0 && (b.len >= cap || memchr(b.data, '\0', b.len) != NULL))
        rc = KUMO_ERR_TOO_LARGE;
    if (rc == 0)
        memcpy(dst, b.data, b.len + 1);
    kumo_buf_free(&b);
    return rc;
}

static int value_is(const struct raw_params *raw, enum param p, const char *s)
{
    char v[8];
    return decode_small(raw->val[p], raw->len[p], v, sizeof v) == 0 && strcmp(v, s) == 0;
}

static int parse_encoding(const struct raw_params *raw, struct kumo_connect_get *out,
                          const char **why)
{
    if (!raw->seen[P_ENCODING]) {
        *why = "missing encoding query parameter";
        return KUMO_CODE_INVALID_ARGUMENT;
    }
    int rc = decode_small(raw->val[P_ENCODING], raw->len[P_ENCODING], out->encoding,
                          sizeof out->encoding);
    if (rc == KUMO_ERR_INVALID) {
        *why = "malformed encoding query parameter";
        return KUMO_CODE_INVALID_ARGUMENT;
    }
    if (rc != 0 || (strcmp(out->encoding, "proto") != 0 && strcmp(out->encoding, "json") != 0)) {
        *why = "unsupported encoding";
        return KUMO_CODE_UNIMPLEMENTED;
    }
    return 0;
}

static int parse_compression(const struct raw_params *raw, struct kumo_connect_get *out,
                             const char **why)
{
    if (!raw->seen[P_COMPRESSION])
        return 0;
    int rc = decode_small(raw->val[P_COMPRESSION], raw->len[P_COMPRESSION], out->compression,
                          sizeof out->compression);
    if (rc == KUMO_ERR_INVALID) {
        *why = "malformed compression query parameter";
        return KUMO_CODE_INVALID_ARGUMENT;
    }
    if (rc != 0) {
        *why = "unsupported compression";
        return KUMO_CODE_UNIMPLEMENTED;
    }
    return 0;
}

static int parse_message(const struct raw_params *raw, struct kumo_connect_get *out,
                         const char **why)
{
    if (!raw->seen[P_MESSAGE]) {
        *why = "missing message query parameter";
        return KUMO_CODE_INVALID_ARGUMENT;
    }
    int b64 = raw->seen[P_BASE64] && value_is(raw, P_BASE64, "1");
    struct kumo_buf text = KUMO_BUF_INIT;
    struct kumo_buf *dst = b64 ? &text : &out->message;
    int rc = kumo_url_query_decode(raw->val[P_MESSAGE], raw->len[P_MESSAGE], dst);
    if (rc == 0 && b64)
        rc = kumo_base64_decode((const char *)text.data, text.len, &out->message);
    kumo_buf_free(&text);
    if (rc != 0) {
        *why =
            b64 ? "malformed base64 message query parameter" : "malformed message query parameter";
        return KUMO_CODE_INVALID_ARGUMENT;
    }
    /* An empty message is valid; give it a buffer all the same. */
    kumo_buf_reserve(&out->message, 0);
    return 0;
}

static int parse(const char *query, size_t len, struct kumo_connect_get *out, const char **why)
{
    struct raw_params raw;
    memset(&raw, 0, sizeof raw);
    int rc = split(query, len, &raw, why);
    if (rc == 0 && raw.seen[P_CONNECT] && !value_is(&raw, P_CONNECT, "v1")) {
        *why = "unsupported connect protocol version";
        rc = KUMO_CODE_INVALID_ARGUMENT;
    }
    out->has_connect_v1 = raw.seen[P_CONNECT];
    if (rc == 0)
        rc = parse_encoding(&raw, out, why);
    if (rc == 0)
        rc = parse_compression(&raw, out, why);
    if (rc == 0)
        rc = parse_message(&raw, out, why);
    return rc;
}

int kumo_connect_get_parse(const char *query, size_t len, struct kumo_connect_get *out,
                           const char **why)
{
    memset(out, 0, sizeof *out);
    *why = "";
    int rc = parse(query, len, out, why);
    if (rc != 0)
        kumo_connect_get_free(out);
    return rc;
}

void kumo_connect_get_free(struct kumo_connect_get *g)
{
    kumo_buf_free(&g->message);
    memset(g, 0, sizeof *g);
}
