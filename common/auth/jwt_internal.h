/* Internals shared by jwt_keys.c, jwt_sign.c and jwt_verify.c. */
#ifndef KUMO_JWT_INTERNAL_H
#define KUMO_JWT_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "auth/jwt.h"

/* Coordinate length of a P-256 point, and of an ES256 signature (r||s). */
#define KUMO__JWT_COORD_LEN 32
#define KUMO__JWT_SIG_LEN   64

struct kumo__jwt_pubkey {
    char kid[KUMO_JWT_KID_MAX + 1];
    size_t kid_len;
    EVP_PKEY *pkey; /* public P-256 key, owned */
    uint8_t x[KUMO__JWT_COORD_LEN];
    uint8_t y[KUMO__JWT_COORD_LEN];
};

/* Reference counted so a verifier can swap sets while other threads still
 * verify with the old one. */
struct kumo_jwt_keyset {
    atomic_uint refs;
    size_t n;
    struct kumo__jwt_pubkey keys[KUMO_JWT_MAX_KEYS];
};

/* Returns a new empty keyset with one reference. */
struct kumo_jwt_keyset *kumo__jwt_keyset_new(void);

/* Adds the public half of `pkey` (a P-256 key, private or public; not
 * consumed) under `kid`. Returns 0, KUMO_ERR_INVALID (kid invalid or
 * duplicate, set full) or KUMO_JWT_ERR_KEY. */
int kumo__jwt_keyset_add(struct kumo_jwt_keyset *ks, const char *kid, EVP_PKEY *pkey);

/* Returns the key whose kid is exactly kid[0..len), or NULL. */
const struct kumo__jwt_pubkey *kumo__jwt_keyset_find(const struct kumo_jwt_keyset *ks,
                                                     const char *kid, size_t len);

/* Takes one more reference / drops one (freeing at zero). NULL ignored. */
void kumo__jwt_keyset_retain(struct kumo_jwt_keyset *ks);
void kumo__jwt_keyset_release(struct kumo_jwt_keyset *ks);

/* Parses an unencrypted P-256 private key from PEM (PKCS#8 or SEC1) and
 * checks it (curve, pairwise consistency). Returns 0 and sets *out (free
 * with EVP_PKEY_free), or KUMO_JWT_ERR_KEY. */
int kumo__jwt_private_from_pem(const char *pem, size_t len, EVP_PKEY **out);

/* Appends the PKCS#8 PEM of a private key to `out` (wiping OpenSSL's
 * intermediate copy). Returns 0 or KUMO_JWT_ERR_KEY. */
int kumo__jwt_private_to_pem(EVP_PKEY *pkey, struct kumo_buf *out);

/* Writes the affine coordinates of a P-256 key, big-endian, zero-padded.
 * Returns 0 or KUMO_JWT_ERR_KEY. */
int kumo__jwt_key_xy(EVP_PKEY *pkey, uint8_t x[KUMO__JWT_COORD_LEN],
                     uint8_t y[KUMO__JWT_COORD_LEN]);

/* Returns 1 if s[0..len) is 1..KUMO_JWT_ID_MAX printable ASCII characters
 * (0x21..0x7e), else 0. */
int kumo__jwt_id_valid(const char *s, size_t len);

#endif
