#include "db/page_token.h"

#include <openssl/sha.h>
#include <string.h>

#include "base/buf.h"
#include "base/errors.h"
#include "base/secret.h"

/* Layout: version (1) | last key, big-endian (8) | SHA-256(scope)[0..8). */
#define VERSION  1
#define RAW_LEN  17
#define TEXT_LEN 23 /* base64url of 17 bytes, unpadded */

static void scope_digest(const void *scope, size_t len, uint8_t out[8])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    static const uint8_t empty = 0;
    SHA256(len ? scope : &empty, len, md);
    memcpy(out, md, 8);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int kumo_page_token_encode(int64_t last_key, const void *scope, size_t scope_len,
                           char out[KUMO_PAGE_TOKEN_MAX])
{
    if (last_key < 0)
        return KUMO_ERR_INVALID;
    uint8_t raw[RAW_LEN + 2] = {VERSION};
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (uint8_t)((uint64_t)last_key >> (56 - 8 * i));
    scope_digest(scope, scope_len, raw + 9);
    /* 17 bytes = five 3-byte groups + 2 bytes (3 characters). */
    size_t o = 0;
    for (size_t i = 0; i < RAW_LEN; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        size_t chars = RAW_LEN - i >= 3 ? 4 : (RAW_LEN - i) + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = b64url[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
    return 0;
}

int kumo_page_token_decode(const char *token, size_t len, const void *scope, size_t scope_len,
                           int64_t *last_key)
{
    if (len == 0) {
        *last_key = -1;
        return 0;
    }
    if (token == NULL || len != TEXT_LEN)
        return KUMO_ERR_INVALID;
    struct kumo_buf raw = KUMO_BUF_INIT;
    int rc = kumo_secret_b64url_decode(token, len, &raw);
    if (rc != 0 || raw.len != RAW_LEN || raw.data[0] != VERSION) {
        kumo_buf_free(&raw);
        return KUMO_ERR_INVALID;
    }
    uint8_t want[8];
    scope_digest(scope, scope_len, want);
    uint64_t key = 0;
    for (int i = 0; i < 8; i++)
        key = key << 8 | raw.data[1 + i];
    int same = memcmp(want, raw.data + 9, 8) == 0;
    kumo_buf_free(&raw);
    if (!same || key > (uint64_t)INT64_MAX)
        return KUMO_ERR_INVALID;
    *last_key = (int64_t)key;
    return 0;
}

int kumo_page_size(int32_t requested, int32_t def, int32_t max, int32_t *out)
{
    if (requested < 0)
        return KUMO_ERR_INVALID;
    *out = requested == 0 ? def : requested > max ? max : requested;
    return 0;
}
