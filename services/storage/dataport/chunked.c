/* The aws-chunked body decoder (S3's "Transferring Payload in Multiple
 * Chunks" and "Including Trailing Headers").
 *
 * Wire format, one chunk after another:
 *   <hex size>[;chunk-signature=<64 hex>]\r\n<size bytes>\r\n
 * ending with a chunk of size 0; without a trailer its header line is
 * followed by "\r\n"; with one, by trailing header lines
 *   <name>:<value>\r\n ... [x-amz-trailer-signature:<64 hex>\r\n]\r\n
 * Signed chunks chain: each signature is HMAC-SHA256 with the request's
 * signing key over
 *   "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" <previous signature>
 *   "\n" <hex SHA-256 of ""> "\n" <hex SHA-256 of the chunk's bytes>
 * starting from the seed (the Authorization header's signature); the
 * trailer's over
 *   "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" <last chunk's
 *   signature> "\n" <hex SHA-256 of the trailing headers as "name:value\n">
 *
 * Everything a client controls is bounded (a chunk's size, a header line,
 * the number and length of trailing headers); the decoder never buffers
 * payload (it passes through to the sink as it arrives) and keeps a few
 * hundred bytes of line state. A signature is checked when its chunk ends,
 * after its bytes went to the sink: the caller writes to a temporary file
 * it discards on any error, so nothing of a bad body is ever visible. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "../storage.h"

#define CHUNK_SIG_PREFIX   ";chunk-signature="
#define TRAILER_SIG_HEADER "x-amz-trailer-signature"

enum state {
    S_SIZE,     /* reading a chunk header line */
    S_DATA,     /* passing chunk bytes through */
    S_DATA_END, /* expecting the "\r\n" after the bytes */
    S_LAST_END, /* expecting the "\r\n" after the final chunk (no trailer) */
    S_TRAILER,  /* reading trailing header lines */
    S_DONE,
    S_FAILED,
};

struct trailer {
    char name[64];
    char value[STG_CHUNK_TRAILER_MAX];
};

struct stg_chunked {
    struct stg_chunked_cfg cfg;
    stg_chunked_sink sink;
    void *arg;
    enum state st;
    char line[STG_CHUNK_TRAILER_MAX + 2];
    size_t line_len;
    uint64_t remaining; /* bytes of the current chunk still to come */
    int last;           /* the current chunk has size 0 */
    char want_sig[65];  /* signature announced for the current chunk */
    char prev_sig[65];
    EVP_MD_CTX *sha; /* of the current chunk's bytes (signed chunks) */
    int64_t decoded;
    struct trailer trailers[STG_CHUNK_TRAILERS_MAX];
    size_t n_trailers;
    char trailer_sig[65];
    enum stg_err err;
    const char *why;
};

static const char empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct stg_chunked *stg_chunked_new(const struct stg_chunked_cfg *cfg, stg_chunked_sink sink,
                                    void *arg)
{
    struct stg_chunked *c = kumo_calloc(1, sizeof *c);
    c->cfg = *cfg;
    c->sink = sink;
    c->arg = arg;
    c->st = S_SIZE;
    memcpy(c->prev_sig, cfg->seed, sizeof c->prev_sig);
    c->prev_sig[64] = '\0';
    if (cfg->signed_chunks)
        c->sha = EVP_MD_CTX_new();
    return c;
}

void stg_chunked_free(struct stg_chunked *c)
{
    if (c == NULL)
        return;
    EVP_MD_CTX_free(c->sha);
    OPENSSL_cleanse(c, sizeof *c);
    kumo_free(c);
}

int64_t stg_chunked_decoded(const struct stg_chunked *c)
{
    return c->decoded;
}

const char *stg_chunked_trailer(const struct stg_chunked *c, const char *name)
{
    for (size_t i = 0; i < c->n_trailers; i++)
        if (strcmp(c->trailers[i].name, name) == 0)
            return c->trailers[i].value;
    return NULL;
}

static enum stg_err fail(struct stg_chunked *c, enum stg_err e, const char *why)
{
    c->st = S_FAILED;
    c->err = e;
    c->why = why;
    return e;
}

static int is_hex64(const char *s, size_t len)
{
    if (len != 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (kumo_hex_digit(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
            return 0;
    return 1;
}

/* HMAC-SHA256 of the string to sign, as hex into out[65]. */
static void sign(const struct stg_chunked *c, const struct kumo_buf *sts, char out[65])
{
    uint8_t mac[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), c->cfg.key, 32, sts->data, sts->len, mac, &len);
    kumo_hex_encode(mac, 32, out);
}

static int sig_equal(const char *a, const char *b)
{
    return CRYPTO_memcmp(a, b, 64) == 0;
}

/* The current chunk is complete: checks its signature. */
static enum stg_err end_chunk(struct stg_chunked *c)
{
    if (!c->cfg.signed_chunks)
        return STG_OK;
    uint8_t d[32];
    unsigned len = 0;
    char dh[65], sig[65];
    EVP_DigestFinal_ex(c->sha, d, &len);
    kumo_hex_encode(d, 32, dh);
    struct kumo_buf sts = KUMO_BUF_INIT;
    kumo_buf_appendf(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", c->cfg.date,
                     c->cfg.scope, c->prev_sig, empty_sha256, dh);
    sign(c, &sts, sig);
    kumo_buf_free(&sts);
    if (!sig_equal(sig, c->want_sig))
        return fail(c, STG_E_SIGNATURE_MISMATCH, "A chunk signature does not match.");
    memcpy(c->prev_sig, c->want_sig, sizeof c->prev_sig);
    return STG_OK;
}

/* Parses a chunk header line (without its CRLF). */
static enum stg_err size_line(struct stg_chunked *c)
{
    const char *p = c->line, *end = c->line + c->line_len;
    uint64_t v = 0;
    size_t digits = 0;
    while (p < end && kumo_hex_digit(*p) >= 0) {
        if (++digits > 16)
            return fail(c, STG_E_INVALID_REQUEST, "A chunk size is too long.");
        v = v << 4 | (uint64_t)kumo_hex_digit(*p++);
    }
    if (digits == 0)
        return fail(c, STG_E_INVALID_REQUEST, "A chunk does not start with its hex size.");
    if (v > STG_CHUNK_MAX)
        return fail(c, STG_E_INVALID_REQUEST, "A chunk is larger than the maximum chunk size.");
    size_t plen = strlen(CHUNK_SIG_PREFIX);
    if (c->cfg.signed_chunks) {
        if ((size_t)(end - p) != plen + 64 || memcmp(p, CHUNK_SIG_PREFIX, plen) != 0 ||
            !is_hex64(p + plen, 64))
            return fail(c, STG_E_INVALID_REQUEST,
                        "A signed chunk must be <hex size>;chunk-signature=<64 hex>.");
        memcpy(c->want_sig, p + plen, 64);
        c->want_sig[64] = '\0';
        EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL);
    } else if (p != end) {
        return fail(c, STG_E_INVALID_REQUEST, "An unsigned chunk header has extensions.");
    }
    c->remaining = v;
    c->last = v == 0;
    if (!c->last) {
        c->st = S_DATA;
        return STG_OK;
    }
    enum stg_err e = end_chunk(c);
    if (e != STG_OK)
        return e;
    c->st = c->cfg.trailer ? S_TRAILER : S_LAST_END;
    return STG_OK;
}

static int cmp_trailer(const void *a, const void *b)
{
    return strcmp(((const struct trailer *)a)->name, ((const struct trailer *)b)->name);
}

/* The blank line after the trailing headers: checks their signature. */
static enum stg_err end_trailers(struct stg_chunked *c)
{
    if (!c->cfg.signed_chunks) {
        c->st = S_DONE;
        return STG_OK;
    }
    if (c->trailer_sig[0] == '\0')
        return fail(c, STG_E_INVALID_REQUEST, "The trailer has no x-amz-trailer-signature.");
    qsort(c->trailers, c->n_trailers, sizeof c->trailers[0], cmp_trailer);
    struct kumo_buf canon = KUMO_BUF_INIT;
    for (size_t i = 0; i < c->n_trailers; i++)
        kumo_buf_appendf(&canon, "%s:%s\n", c->trailers[i].name, c->trailers[i].value);
    char th[65], sig[65];
    kumo_sigv4_sha256_hex(canon.data ? (const void *)canon.data : "", canon.len, th);
    kumo_buf_free(&canon);
    struct kumo_buf sts = KUMO_BUF_INIT;
    kumo_buf_appendf(&sts, "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", c->cfg.date, c->cfg.scope,
                     c->prev_sig, th);
    sign(c, &sts, sig);
    kumo_buf_free(&sts);
    if (!sig_equal(sig, c->trailer_sig))
        return fail(c, STG_E_SIGNATURE_MISMATCH, "The trailer signature does not match.");
    c->st = S_DONE;
    return STG_OK;
}

/* One trailing header line (without its CRLF). */
static enum stg_err trailer_line(struct stg_chunked *c)
{
    if (c->line_len == 0)
        return end_trailers(c);
    const char *colon = memchr(c->line, ':', c->line_len);
    if (colon == NULL || colon == c->line || (size_t)(colon - c->line) >= 64)
        return fail(c, STG_E_INVALID_REQUEST, "A trailing header is not name:value.");
    size_t nlen = (size_t)(colon - c->line);
    const char *v = colon + 1;
    size_t vlen = c->line_len - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    char name[64];
    for (size_t i = 0; i < nlen; i++) {
        char ch = c->line[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return fail(c, STG_E_INVALID_REQUEST, "A trailing header name is not valid.");
        name[i] = ch;
    }
    name[nlen] = '\0';
    for (size_t i = 0; i < vlen; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return fail(c, STG_E_INVALID_REQUEST, "A trailing header value is not valid.");
    if (strcmp(name, TRAILER_SIG_HEADER) == 0) {
        if (!c->cfg.signed_chunks || c->trailer_sig[0] || !is_hex64(v, vlen))
            return fail(c, STG_E_INVALID_REQUEST, "The trailer signature is not valid.");
        memcpy(c->trailer_sig, v, 64);
        c->trailer_sig[64] = '\0';
        return STG_OK;
    }
    if (c->trailer_sig[0])
        return fail(c, STG_E_INVALID_REQUEST, "A trailing header follows the trailer signature.");
    if (c->n_trailers == STG_CHUNK_TRAILERS_MAX)
        return fail(c, STG_E_INVALID_REQUEST, "Too many trailing headers.");
    if (stg_chunked_trailer(c, name))
        return fail(c, STG_E_INVALID_REQUEST, "A trailing header appears twice.");
    struct trailer *t = &c->trailers[c->n_trailers++];
    memcpy(t->name, name, nlen + 1);
    memcpy(t->value, v, vlen);
    t->value[vlen] = '\0';
    return STG_OK;
}

/* Accumulates a CRLF-terminated line; returns 1 when c->line holds one. */
static int take_line(struct stg_chunked *c, const uint8_t **p, const uint8_t *end, size_t max,
                     enum stg_err *e)
{
    while (*p < end) {
        char ch = (char)*(*p)++;
        if (c->line_len > 0 && c->line[c->line_len - 1] == '\r') {
            if (ch != '\n') {
                *e = fail(c, STG_E_INVALID_REQUEST, "A bare CR in a chunk header.");
                return 0;
            }
            c->line_len--;
            c->line[c->line_len] = '\0';
            return 1;
        }
        if (ch == '\n') {
            *e = fail(c, STG_E_INVALID_REQUEST, "A chunk line does not end with CRLF.");
            return 0;
        }
        if (c->line_len >= max) {
            *e = fail(c, STG_E_INVALID_REQUEST, "A chunk header or trailer line is too long.");
            return 0;
        }
        c->line[c->line_len++] = ch;
    }
    return 0;
}

/* Expects the literal "\r\n" (line_len counts what matched so far). */
static int take_crlf(struct stg_chunked *c, const uint8_t **p, const uint8_t *end, enum stg_err *e)
{
    while (*p < end && c->line_len < 2) {
        if ((char)**p != "\r\n"[c->line_len]) {
            *e = fail(c, STG_E_INVALID_REQUEST, "A chunk's bytes are not followed by CRLF.");
            return 0;
        }
        (*p)++;
        c->line_len++;
    }
    if (c->line_len < 2)
        return 0;
    c->line_len = 0;
    return 1;
}

enum stg_err stg_chunked_feed(struct stg_chunked *c, const uint8_t *p, size_t n, const char **why)
{
    const uint8_t *end = p + n;
    enum stg_err e = STG_OK;
    while (c->st != S_FAILED && p < end) {
        switch (c->st) {
        case S_SIZE:
            if (take_line(c, &p, end, STG_CHUNK_LINE_MAX, &e)) {
                e = size_line(c);
                c->line_len = 0;
            }
            break;
        case S_DATA: {
            size_t k = (size_t)(end - p) < c->remaining ? (size_t)(end - p) : (size_t)c->remaining;
            if (c->sha)
                EVP_DigestUpdate(c->sha, p, k);
            if (c->sink(c->arg, p, k) != 0) {
                e = fail(c, STG_E_INTERNAL, "The body could not be stored.");
                break;
            }
            c->decoded += (int64_t)k;
            c->remaining -= k;
            p += k;
            if (c->remaining == 0)
                c->st = S_DATA_END;
            break;
        }
        case S_DATA_END:
            if (take_crlf(c, &p, end, &e)) {
                e = end_chunk(c);
                if (e == STG_OK)
                    c->st = S_SIZE;
            }
            break;
        case S_LAST_END:
            if (take_crlf(c, &p, end, &e))
                c->st = S_DONE;
            break;
        case S_TRAILER:
            if (take_line(c, &p, end, STG_CHUNK_TRAILER_MAX, &e)) {
                e = trailer_line(c);
                c->line_len = 0;
            }
            break;
        case S_DONE:
            e = fail(c, STG_E_INVALID_REQUEST, "Bytes follow the end of the aws-chunked body.");
            break;
        default:
            break;
        }
    }
    if (c->st == S_FAILED) {
        if (why)
            *why = c->why;
        return c->err;
    }
    return STG_OK;
}

enum stg_err stg_chunked_finish(struct stg_chunked *c, const char **why)
{
    if (c->st == S_FAILED) {
        if (why)
            *why = c->why;
        return c->err;
    }
    if (c->st != S_DONE) {
        if (why)
            *why = "The aws-chunked body ended before its final chunk.";
        return STG_E_INCOMPLETE_BODY;
    }
    return STG_OK;
}
