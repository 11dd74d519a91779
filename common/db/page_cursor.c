/* Keyset cursors (see page_cursor.h).
 *
 * Binary layout before base64url (no padding):
 *   version (1) = 1 | scope hash (8, SHA-256 prefix) | seq (8, big endian)
 *   | num (8, big endian, two's complement) | string length (2) | string */
#include "db/page_cursor.h"

#include <openssl/evp.h>
#include <string.h>

#include "base/base64.h"
#include "base/errors.h"

#define VERSION  1
#define HASH_LEN 8
#define HEAD_LEN (1 + HASH_LEN + 8 + 8 + 2)

static void scope_hash(const void *scope, size_t len, uint8_t out[HASH_LEN])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_Digest(scope, len, md, &mdlen, EVP_sha256(), NULL);
    memcpy(out, md, HASH_LEN);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int kumo_page_cursor_encode(const struct kumo_page_cursor *cur, const void *scope, size_t scope_len,
                            struct kumo_buf *out)
{
    size_t slen = cur->str ? cur->str_len : 0;
    if (cur->seq < 0 || slen > KUMO_PAGE_CURSOR_STR_MAX)
        return KUMO_ERR_INVALID;
    uint8_t raw[HEAD_LEN + KUMO_PAGE_CURSOR_STR_MAX];
    raw[0] = VERSION;
    scope_hash(scope, scope_len, raw + 1);
    put64(raw + 1 + HASH_LEN, (uint64_t)cur->seq);
    put64(raw + 9 + HASH_LEN, (uint64_t)cur->num);
    raw[17 + HASH_LEN] = (uint8_t)(slen >> 8);
    raw[18 + HASH_LEN] = (uint8_t)(slen & 0xff);
    if (slen)
        memcpy(raw + HEAD_LEN, cur->str, slen);
    size_t before = out->len;
    if (kumo_base64_encode(raw, HEAD_LEN + slen, 1, 0, out) != 0) {
        out->len = before;
        return KUMO_ERR_INVALID;
    }
    kumo_buf_reserve(out, 1);
    out->data[out->len] = '\0';
    return 0;
}

static int valid_b64url(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        if (!ok)
            return 0;
    }
    return 1;
}

int kumo_page_cursor_decode(const char *token, size_t len, const void *scope, size_t scope_len,
                            struct kumo_page_cursor *cur, struct kumo_buf *strbuf)
{
    kumo_buf_reset(strbuf);
    if (len == 0) {
        kumo_buf_reserve(strbuf, 1);
        strbuf->data[0] = '\0';
        cur->seq = -1;
        cur->num = 0;
        cur->str = (const char *)strbuf->data;
        cur->str_len = 0;
        return 0;
    }
    if (len > KUMO_PAGE_CURSOR_TOKEN_MAX || !valid_b64url(token, len))
        return KUMO_ERR_INVALID;
    struct kumo_buf raw = KUMO_BUF_INIT;
    int rc = KUMO_ERR_INVALID;
    if (kumo_base64_decode(token, len, &raw) != 0 || raw.len < HEAD_LEN || raw.data[0] != VERSION)
        goto out;
    uint8_t h[HASH_LEN];
    scope_hash(scope, scope_len, h);
    if (memcmp(h, raw.data + 1, HASH_LEN) != 0)
        goto out;
    int64_t seq = (int64_t)get64(raw.data + 1 + HASH_LEN);
    int64_t num = (int64_t)get64(raw.data + 9 + HASH_LEN);
    size_t slen = ((size_t)raw.data[17 + HASH_LEN] << 8) | raw.data[18 + HASH_LEN];
    if (seq < 0 || slen > KUMO_PAGE_CURSOR_STR_MAX || raw.len != HEAD_LEN + slen)
        goto out;
    kumo_buf_append(strbuf, raw.data + HEAD_LEN, slen);
    kumo_buf_reserve(strbuf, 1);
    strbuf->data[strbuf->len] = '\0';
    cur->seq = seq;
    cur->num = num;
    cur->str = (const char *)strbuf->data;
    cur->str_len = slen;
    rc = 0;
out:
    kumo_buf_free(&raw);
    return rc;
}
