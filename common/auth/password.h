/* Password hashing: argon2id (libargon2) in PHC string form
 * ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", unpadded standard
 * base64), with parameters at or above OWASP's minimum.
 *
 * A hasher holds the current parameters and a precomputed dummy hash, so a
 * login for an unknown account costs the same argon2 work as one for a known
 * account (kumo_password_verify_dummy): response time does not reveal which
 * accounts exist. Hashing takes ~m KiB of memory per call in progress; the
 * caller bounds concurrency. A hasher is immutable after creation and may be
 * used from any number of threads. */
#ifndef KUMO_PASSWORD_H
#define KUMO_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

/* Returned by kumo_password_verify when the password does not match. */
#define KUMO_PASSWORD_ERR_MISMATCH (-1201)
/* The PHC string is not one this module accepts (malformed, not argon2id,
 * not version 19, parameters out of the accepted range). */
#define KUMO_PASSWORD_ERR_FORMAT (-1202)
/* The password is empty, longer than KUMO_PASSWORD_MAX_LEN, or contains a
 * NUL byte. */
#define KUMO_PASSWORD_ERR_INPUT (-1203)
/* argon2 itself failed (e.g. could not allocate its memory). */
#define KUMO_PASSWORD_ERR_ARGON2 (-1204)

/* Longest password accepted, in bytes. */
#define KUMO_PASSWORD_MAX_LEN 1024

/* OWASP Password Storage Cheat Sheet minimum for argon2id. */
#define KUMO_PASSWORD_MIN_M_KIB 19456u
#define KUMO_PASSWORD_MIN_T     2u
#define KUMO_PASSWORD_MIN_P     1u
/* Upper bounds, for both configured parameters and stored hashes being
 * verified (a corrupted or hostile row must not make one login allocate
 * gigabytes or spin for minutes). */
#define KUMO_PASSWORD_MAX_M_KIB (1024u * 1024u) /* 1 GiB */
#define KUMO_PASSWORD_MAX_T     64u
#define KUMO_PASSWORD_MAX_P     16u
/* Salt and hash lengths of new hashes (bytes). */
#define KUMO_PASSWORD_SALT_LEN 16u
#define KUMO_PASSWORD_HASH_LEN 32u

struct kumo_password_params {
    uint32_t m_kib;       /* memory, KiB */
    uint32_t t_cost;      /* passes */
    uint32_t parallelism; /* lanes (and threads) */
};

/* The default parameters: exactly OWASP's minimum. */
#define KUMO_PASSWORD_PARAMS_DEFAULT                                                               \
    {                                                                                              \
        KUMO_PASSWORD_MIN_M_KIB, KUMO_PASSWORD_MIN_T, KUMO_PASSWORD_MIN_P                          \
    }

struct kumo_password_hasher; /* opaque */

/* Checks that each parameter is within [minimum, maximum] above. Returns 0
 * or KUMO_ERR_INVALID. */
int kumo_password_params_check(const struct kumo_password_params *p);

/* Creates a hasher with parameters `p` (NULL: the defaults) and computes
 * its dummy hash (one argon2 run, so this takes as long as a login).
 * Returns 0 and sets *out (free with kumo_password_hasher_free);
 * KUMO_ERR_INVALID if the parameters fail kumo_password_params_check; or
 * KUMO_PASSWORD_ERR_ARGON2. *out is untouched on failure. */
int kumo_password_hasher_new(struct kumo_password_hasher **out,
                             const struct kumo_password_params *p);

/* Frees `h`. NULL is ignored. */
void kumo_password_hasher_free(struct kumo_password_hasher *h);

/* Returns the parameters of `h`. */
struct kumo_password_params kumo_password_hasher_params(const struct kumo_password_hasher *h);

/* Hashes `pw[0..len)` with a fresh random salt. Returns 0 and sets *phc_out
 * to a NUL-terminated PHC string (caller frees with kumo_free);
 * KUMO_PASSWORD_ERR_INPUT (empty, too long, contains NUL),
 * KUMO_PASSWORD_ERR_ARGON2 or KUMO_SECRET_ERR_RANDOM, leaving *phc_out
 * untouched. */
int kumo_password_hash(const struct kumo_password_hasher *h, const char *pw, size_t len,
                       char **phc_out);

/* Checks `pw[0..len)` against the stored PHC string `phc` using argon2's
 * own verification (which compares in constant time), with the
 * parameters in the string. Returns 0 on a match, KUMO_PASSWORD_ERR_MISMATCH
 * if the password is wrong, KUMO_PASSWORD_ERR_INPUT for an unacceptable
 * password (no argon2 work is done then: the rejection does not depend on
 * the account), KUMO_PASSWORD_ERR_FORMAT for a PHC string outside what
 * kumo_password_phc_parse accepts, or KUMO_PASSWORD_ERR_ARGON2. */
int kumo_password_verify(const char *phc, const char *pw, size_t len);

/* Does the same argon2 work as verifying against a hash made with `h`'s
 * parameters, and always returns KUMO_PASSWORD_ERR_MISMATCH (or
 * KUMO_PASSWORD_ERR_INPUT, exactly when kumo_password_verify would). Call
 * it when the account does not exist. */
int kumo_password_verify_dummy(const struct kumo_password_hasher *h, const char *pw, size_t len);

/* Returns 1 if `phc` should be replaced by a fresh hash on the next
 * successful login: its m, t or p is below the hasher's, or its salt or
 * hash is shorter than this module makes. Returns 0 if it is good enough,
 * or KUMO_PASSWORD_ERR_FORMAT if it cannot be parsed (a caller that has
 * just verified it never sees this). */
int kumo_password_needs_rehash(const struct kumo_password_hasher *h, const char *phc);

/* Parses a PHC argon2id string strictly ("$argon2id$v=19$m=M,t=T,p=P$
 * SALT$HASH", decimal without leading zeros, salt 8..64 and hash 16..64
 * bytes of unpadded standard base64). Parameters may be below the OWASP
 * minimum (down to argon2's own: m >= 8*p, t >= 1) so that hashes made
 * with older, weaker settings still verify and then get rehashed, but not
 * above the KUMO_PASSWORD_MAX_* bounds. Returns 0 filling whichever of
 * *params, *salt_len and *hash_len are not NULL, or
 * KUMO_PASSWORD_ERR_FORMAT. */
int kumo_password_phc_parse(const char *phc, struct kumo_password_params *params, size_t *salt_len,
                            size_t *hash_len);

/* Returns a static description of an error of this module (falls back to
 * kumo_secret_strerror). */
const char *kumo_password_strerror(int err);

#endif
