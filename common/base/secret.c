/* Random tokens, keyed hashes, constant-time comparison and API keys. */
#include "base/hex.h"
#include "base/secret.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/errors.h"

/* Longest secret kumo_secret_hash accepts: presented tokens come from
 * clients, and nothing legitimate is anywhere near this. */
#define SECRET_MAX_LEN 4096
/* Longest pepper accepted (HMAC takes an int key length). */
#define PEPPER_MAX_LEN 4096

static const char base32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";

int kumo_secret_random_bytes(void *out, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (len > INT_MAX || RAND_bytes(out, (int)len) != 1) {
        return KUMO_SECRET_ERR_RANDOM;
    }
    return 0;
}

/* Encodes `len` bytes as unpadded base64url into a fresh string. */
static char *b64url_string(const uint8_t *in, size_t len)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_base64_encode(in, len, 1, 0, &b);
    return kumo_buf_steal(&b, NULL);
}

int kumo_secret_random(size_t nbytes, char **out)
{
    if (out == NULL || nbytes < KUMO_SECRET_MIN_BYTES || nbytes > KUMO_SECRET_MAX_BYTES) {
        return KUMO_ERR_INVALID;
    }
    uint8_t raw[KUMO_SECRET_MAX_BYTES];
    int rc = kumo_secret_random_bytes(raw, nbytes);
    if (rc == 0) {
        *out = b64url_string(raw, nbytes);
    }
    kumo_secret_wipe(raw, nbytes);
    return rc;
}

int kumo_secret_hash(const void *pepper, size_t pepper_len, const char *purpose, const void *secret,
                     size_t secret_len, uint8_t out[KUMO_SECRET_HASH_LEN])
{
    if (pepper == NULL || pepper_len < KUMO_SECRET_PEPPER_MIN) {
        return KUMO_SECRET_ERR_PEPPER;
    }
    if (pepper_len > PEPPER_MAX_LEN || purpose == NULL || purpose[0] == '\0' || out == NULL ||
        (secret == NULL && secret_len > 0) || secret_len > SECRET_MAX_LEN) {
        return KUMO_ERR_INVALID;
    }
    /* purpose || 0x00 || secret: the NUL cannot occur in a label, so two
     * (purpose, secret) pairs never produce the same message. */
    size_t plen = strlen(purpose);
    size_t n = plen + 1 + secret_len;
    uint8_t *msg = kumo_malloc(n);
    memcpy(msg, purpose, plen);
    msg[plen] = 0;
    if (secret_len > 0) {
        memcpy(msg + plen + 1, secret, secret_len);
    }
    unsigned int mdlen = 0;
    const unsigned char *r = HMAC(EVP_sha256(), pepper, (int)pepper_len, msg, n, out, &mdlen);
    kumo_secret_wipe(msg, n);
    kumo_free(msg);
    if (r == NULL || mdlen != KUMO_SECRET_HASH_LEN) {
        return KUMO_ERR_INVALID;
    }
    return 0;
}

int kumo_secret_hash_hex(const void *pepper, size_t pepper_len, const char *purpose,
                         const void *secret, size_t secret_len,
                         char out[KUMO_SECRET_HASH_HEX_LEN + 1])
{
    uint8_t raw[KUMO_SECRET_HASH_LEN];
    int rc = kumo_secret_hash(pepper, pepper_len, purpose, secret, secret_len, raw);
    if (rc != 0) {
        return rc;
    }
    kumo_hex_encode(raw, KUMO_SECRET_HASH_LEN, out);
    return 0;
}

int kumo_secret_verify(const void *pepper, size_t pepper_len, const char *purpose,
                       const void *secret, size_t secret_len,
                       const uint8_t stored[KUMO_SECRET_HASH_LEN])
{
    uint8_t h[KUMO_SECRET_HASH_LEN];
    if (stored == NULL) {
        return KUMO_ERR_INVALID;
    }
    int rc = kumo_secret_hash(pepper, pepper_len, purpose, secret, secret_len, h);
    if (rc != 0) {
        return rc;
    }
    return kumo_secret_equal(h, stored, KUMO_SECRET_HASH_LEN);
}

int kumo_secret_equal(const void *a, const void *b, size_t len)
{
    /* Eight bytes per step (CRYPTO_memcmp goes byte by byte: ~3,000
     * instructions for a bearer token checked on every request). Every
     * byte is always read and the differences only OR-ed together; the
     * empty asm keeps the compiler from turning that into an early exit. */
    const unsigned char *pa = a, *pb = b;
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;
        memcpy(&x, pa + i, 8);
        memcpy(&y, pb + i, 8);
        diff |= x ^ y;
        __asm__ volatile("" : "+r"(diff));
    }
    for (; i < len; i++) {
        diff |= (uint64_t)(pa[i] ^ pb[i]);
        __asm__ volatile("" : "+r"(diff));
    }
    return (int)(1 & ((diff | (0 - diff)) >> 63 ^ 1));
}

void kumo_secret_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0) {
        OPENSSL_cleanse(p, len);
    }
}

/* Value of a base64url character, or -1. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

int kumo_secret_b64url_decode(const char *in, size_t len, struct kumo_buf *out)
{
    if ((in == NULL && len > 0) || out == NULL || len % 4 == 1) {
        return KUMO_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (b64url_value((unsigned char)in[i]) < 0) {
            return KUMO_ERR_INVALID;
        }
    }
    /* The last character of a 2- or 3-character tail carries 4 or 2 bits
     * that are not part of any byte: they must be zero. */
    if (len % 4 != 0) {
        int last = b64url_value((unsigned char)in[len - 1]);
        int unused_mask = len % 4 == 2 ? 0x0f : 0x03;
        if ((last & unused_mask) != 0) {
            return KUMO_ERR_INVALID;
        }
    }
    if (len == 0) {
        return 0;
    }
    return kumo_base64_decode(in, len, out) == 0 ? 0 : KUMO_ERR_INVALID;
}

int kumo_secret_token_check(const char *s, size_t len, size_t nbytes)
{
    if (s == NULL || nbytes == 0 || nbytes > KUMO_SECRET_MAX_BYTES ||
        len != kumo_base64_encoded_len(nbytes, 0)) {
        return KUMO_ERR_INVALID;
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    int rc = kumo_secret_b64url_decode(s, len, &b);
    if (rc == 0 && b.len != nbytes) {
        rc = KUMO_ERR_INVALID;
    }
    kumo_secret_wipe(b.data, b.cap);
    kumo_buf_free(&b);
    return rc;
}

/* Encodes 10 random bytes as 16 lowercase base32 characters. */
static void base32_id(const uint8_t raw[10], char id[KUMO_API_KEY_ID_LEN + 1])
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < 10; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            id[o++] = base32_lower[(acc >> bits) & 31];
        }
    }
    id[o] = '\0';
}

int kumo_api_key_generate(struct kumo_api_key *key, char *text)
{
    uint8_t raw[10 + 32];
    if (key == NULL) {
        return KUMO_ERR_INVALID;
    }
    int rc = kumo_secret_random_bytes(raw, sizeof raw);
    if (rc != 0) {
        return rc;
    }
    base32_id(raw, key->id);
    char *secret = b64url_string(raw + 10, 32);
    memcpy(key->secret, secret, KUMO_API_KEY_SECRET_LEN + 1);
    kumo_secret_wipe(secret, KUMO_API_KEY_SECRET_LEN);
    kumo_free(secret);
    kumo_secret_wipe(raw, sizeof raw);
    if (text != NULL) {
        char *p = text;
        memcpy(p, KUMO_API_KEY_PREFIX, KUMO_API_KEY_PREFIX_LEN);
        p += KUMO_API_KEY_PREFIX_LEN;
        memcpy(p, key->id, KUMO_API_KEY_ID_LEN);
        p += KUMO_API_KEY_ID_LEN;
        *p++ = '_';
        memcpy(p, key->secret, KUMO_API_KEY_SECRET_LEN + 1);
    }
    return 0;
}

static int is_base32_lower(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

int kumo_api_key_parse(const char *s, size_t len, struct kumo_api_key *key)
{
    if (s == NULL || key == NULL) {
        return KUMO_ERR_INVALID;
    }
    /* The prefix is checked before the length so that "Bearer abc" and
     * other non-keys get the more useful message. */
    if (len < KUMO_API_KEY_PREFIX_LEN || memcmp(s, KUMO_API_KEY_PREFIX, KUMO_API_KEY_PREFIX_LEN)) {
        return KUMO_SECRET_ERR_KEY_PREFIX;
    }
    if (len != KUMO_API_KEY_LEN) {
        return KUMO_SECRET_ERR_KEY_LENGTH;
    }
    const char *id = s + KUMO_API_KEY_PREFIX_LEN;
    for (size_t i = 0; i < KUMO_API_KEY_ID_LEN; i++) {
        if (!is_base32_lower((unsigned char)id[i])) {
            return KUMO_SECRET_ERR_KEY_ID;
        }
    }
    /* 16 base32 characters carry exactly 80 bits: no unused bits to pin. */
    if (id[KUMO_API_KEY_ID_LEN] != '_') {
        return KUMO_SECRET_ERR_KEY_SEP;
    }
    const char *secret = id + KUMO_API_KEY_ID_LEN + 1;
    if (kumo_secret_token_check(secret, KUMO_API_KEY_SECRET_LEN, 32) != 0) {
        return KUMO_SECRET_ERR_KEY_SECRET;
    }
    memcpy(key->id, id, KUMO_API_KEY_ID_LEN);
    key->id[KUMO_API_KEY_ID_LEN] = '\0';
    memcpy(key->secret, secret, KUMO_API_KEY_SECRET_LEN);
    key->secret[KUMO_API_KEY_SECRET_LEN] = '\0';
    return 0;
}

const char *kumo_secret_strerror(int err)
{
    switch (err) {
    case KUMO_SECRET_ERR_KEY_PREFIX:
        return "api key: does not start with \"kumo_\"";
    case KUMO_SECRET_ERR_KEY_ID:
        return "api key: the id must be 16 characters of a-z and 2-7";
    case KUMO_SECRET_ERR_KEY_SEP:
        return "api key: expected '_' after the 16-character id";
    case KUMO_SECRET_ERR_KEY_SECRET:
        return "api key: the secret must be 43 base64url characters (32 bytes)";
    case KUMO_SECRET_ERR_KEY_LENGTH:
        return "api key: must be exactly 65 characters (kumo_<16-char id>_<43-char secret>)";
    case KUMO_SECRET_ERR_PEPPER:
        return "secret: the pepper must be at least 32 bytes";
    case KUMO_SECRET_ERR_RANDOM:
        return "secret: the random number generator failed";
    case KUMO_ERR_INVALID:
        return "secret: invalid argument or malformed input";
    default:
        return kumo_strerror(err);
    }
}
