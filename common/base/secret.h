/* Secrets: random tokens, keyed hashes for storing them, constant-time
 * comparison, and the API key format `kumo_<id>_<secret>`.
 *
 * Refresh tokens and API key secrets are high-entropy random strings shown to
 * their owner once; the server stores only HMAC-SHA256(pepper, purpose ||
 * 0x00 || secret), where the pepper is a server secret from config (never
 * in the database), so a stolen table yields neither usable tokens nor
 * anything to brute-force offline. The purpose label keeps a refresh token
 * hash from ever matching an API key hash. */
#ifndef KUMO_SECRET_H
#define KUMO_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Error returns of this module (besides KUMO_ERR_INVALID). The API key
 * parser says which part is wrong, never echoing the secret. */
#define KUMO_SECRET_ERR_KEY_PREFIX (-1301) /* does not start with "kumo_" */
#define KUMO_SECRET_ERR_KEY_ID     (-1302) /* id: wrong length or character */
#define KUMO_SECRET_ERR_KEY_SEP    (-1303) /* no '_' after the id */
#define KUMO_SECRET_ERR_KEY_SECRET (-1304) /* secret: not 43 base64url chars of 32 bytes */
#define KUMO_SECRET_ERR_PEPPER     (-1305) /* pepper shorter than KUMO_SECRET_PEPPER_MIN */
#define KUMO_SECRET_ERR_RANDOM     (-1306) /* the CSPRNG failed */
#define KUMO_SECRET_ERR_KEY_LENGTH (-1307) /* not KUMO_API_KEY_LEN bytes */

/* Fewest random bytes kumo_secret_random accepts (256 bits). */
#define KUMO_SECRET_MIN_BYTES 32
/* Most random bytes kumo_secret_random accepts. */
#define KUMO_SECRET_MAX_BYTES 1024
/* Shortest pepper accepted (bytes). */
#define KUMO_SECRET_PEPPER_MIN 32
/* Length of a keyed hash (HMAC-SHA256) and of its hex text. */
#define KUMO_SECRET_HASH_LEN     32
#define KUMO_SECRET_HASH_HEX_LEN 64

/* Purpose labels for kumo_secret_hash (domain separation). */
#define KUMO_SECRET_PURPOSE_REFRESH "kumo-refresh-token-v1"
#define KUMO_SECRET_PURPOSE_API_KEY "kumo-api-key-v1"

/* API key layout: "kumo_" + 16-char id + "_" + 43-char secret. The id is
 * 80 random bits in lowercase RFC 4648 base32 ("a-z2-7", no padding): it
 * names the key (lookup, listing, revocation) and is not secret. The secret
 * is 32 random bytes in base64url without padding; it may itself contain
 * '_' and '-', which is why the id has a fixed length. */
#define KUMO_API_KEY_PREFIX     "kumo_"
#define KUMO_API_KEY_PREFIX_LEN 5
#define KUMO_API_KEY_ID_LEN     16
#define KUMO_API_KEY_SECRET_LEN 43
#define KUMO_API_KEY_LEN                                                                           \
    (KUMO_API_KEY_PREFIX_LEN + KUMO_API_KEY_ID_LEN + 1 + KUMO_API_KEY_SECRET_LEN)

/* A parsed or generated API key; both strings are NUL-terminated. Wipe it
 * with kumo_secret_wipe when done. */
struct kumo_api_key {
    char id[KUMO_API_KEY_ID_LEN + 1];
    char secret[KUMO_API_KEY_SECRET_LEN + 1];
};

/* Fills `out[0..len)` from the OpenSSL CSPRNG. Returns 0 or
 * KUMO_SECRET_ERR_RANDOM (out then holds no usable bytes). */
int kumo_secret_random_bytes(void *out, size_t len);

/* Makes a random token of `nbytes` bytes (KUMO_SECRET_MIN_BYTES ..
 * KUMO_SECRET_MAX_BYTES) encoded as base64url without padding. Returns 0 and
 * sets *out to a NUL-terminated string the caller frees (wipe first with
 * kumo_secret_wipe, then kumo_free); or KUMO_ERR_INVALID (size out of
 * range) / KUMO_SECRET_ERR_RANDOM, leaving *out untouched. */
int kumo_secret_random(size_t nbytes, char **out);

/* Computes HMAC-SHA256 keyed by `pepper` over `purpose` (a label such as
 * KUMO_SECRET_PURPOSE_REFRESH, without NUL), a 0x00 byte, and the secret.
 * Returns 0 and fills out[KUMO_SECRET_HASH_LEN]; KUMO_SECRET_ERR_PEPPER if the
 * pepper is shorter than KUMO_SECRET_PEPPER_MIN; KUMO_ERR_INVALID if purpose
 * is NULL/empty or secret is NULL with a nonzero length. */
int kumo_secret_hash(const void *pepper, size_t pepper_len, const char *purpose, const void *secret,
                     size_t secret_len, uint8_t out[KUMO_SECRET_HASH_LEN]);

/* As kumo_secret_hash, writing lowercase hex and a NUL to
 * out[KUMO_SECRET_HASH_HEX_LEN + 1] (the form stored in the database). */
int kumo_secret_hash_hex(const void *pepper, size_t pepper_len, const char *purpose,
                         const void *secret, size_t secret_len,
                         char out[KUMO_SECRET_HASH_HEX_LEN + 1]);

/* Hashes a presented secret and compares it with a stored raw hash in
 * constant time. Returns 1 if they match, 0 if not, or a negative error of
 * kumo_secret_hash. */
int kumo_secret_verify(const void *pepper, size_t pepper_len, const char *purpose,
                       const void *secret, size_t secret_len,
                       const uint8_t stored[KUMO_SECRET_HASH_LEN]);

/* Compares `len` bytes of a and b in time independent of their contents
 * (it depends on `len` only). Returns 1 if equal, 0 if not. */
int kumo_secret_equal(const void *a, const void *b, size_t len);

/* Overwrites `len` bytes at p with zeros in a way the compiler keeps
 * (OPENSSL_cleanse). NULL is ignored. */
void kumo_secret_wipe(void *p, size_t len);

/* Decodes base64url strictly: only "A-Za-z0-9-_", no padding, no
 * whitespace, a length that is not 1 mod 4, and unused low bits of the last
 * character zero (so each byte string has exactly one encoding and a
 * flipped character always changes the bytes). Appends the bytes to `out`
 * and returns 0, or returns KUMO_ERR_INVALID leaving out->len unchanged. */
int kumo_secret_b64url_decode(const char *in, size_t len, struct kumo_buf *out);

/* Checks that `s[0..len)` has the exact form kumo_secret_random(nbytes)
 * produces (strict base64url of exactly `nbytes` bytes), so a malformed
 * presented token is refused before any lookup. Returns 0 if it does,
 * KUMO_ERR_INVALID if not. */
int kumo_secret_token_check(const char *s, size_t len, size_t nbytes);

/* Makes a new API key (random id and secret). Fills *key, and if `text` is
 * not NULL writes the full "kumo_<id>_<secret>" and a NUL to
 * text[KUMO_API_KEY_LEN + 1]. Returns 0 or KUMO_SECRET_ERR_RANDOM. */
int kumo_api_key_generate(struct kumo_api_key *key, char *text);

/* Parses exactly `len` bytes as an API key. Returns 0 and fills *key; or
 * KUMO_ERR_INVALID for a NULL argument, KUMO_SECRET_ERR_KEY_PREFIX,
 * KUMO_SECRET_ERR_KEY_LENGTH, KUMO_SECRET_ERR_KEY_ID,
 * KUMO_SECRET_ERR_KEY_SEP or KUMO_SECRET_ERR_KEY_SECRET, leaving *key
 * untouched (nothing of the input is kept). */
int kumo_api_key_parse(const char *s, size_t len, struct kumo_api_key *key);

/* Returns a static description of an error of this module (falls back to
 * kumo_strerror for other values). Safe to log: it never contains input. */
const char *kumo_secret_strerror(int err);

#endif
