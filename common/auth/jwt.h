/* kumo_jwt.h (named so it cannot shadow libjwt's <jwt.h> under -Icommon).
 * JWT access tokens: ES256 (ECDSA P-256 + SHA-256) only.
 *
 * kumo-users signs tokens with a signer (one active key, at most two keys so
 * a rotation keeps the previous key's tokens valid) and publishes the public
 * keys as a JWKS. Every service verifies every request's token itself with a
 * verifier holding a keyset loaded from that JWKS.
 *
 * Token: header {"alg":"ES256","kid":K,"typ":"JWT"}; claims iss, aud (one
 * string), sub, tid, roles (array of role names), iat, nbf, exp (integer
 * seconds since the epoch) and jti (random, 128 bits).
 *
 * Verification never lets the token choose how it is checked. In order:
 * size (KUMO_JWT_MAX_TOKEN_LEN) -> exactly three non-empty segments of
 * strict base64url -> header: JSON object without duplicate keys, only the
 * members alg, typ, kid; alg exactly "ES256", typ exactly "JWT" if present,
 * kid a string equal to a key id in the keyset (looked up by comparison,
 * never used as a path or in a query) -> signature: exactly 64 bytes r||s,
 * checked with OpenSSL against the selected key's pre-parsed public key ->
 * only then the payload: JSON object without duplicate keys; iss and aud
 * exactly equal to the configured strings; exp, iat (and nbf if present)
 * JSON integers in a sane range; exp not past (with leeway); nbf and iat not
 * in the future (with leeway); exp after iat and at most max_ttl after it;
 * sub, tid, jti non-empty printable ASCII up to KUMO_JWT_ID_MAX bytes;
 * roles a non-empty array of distinct known role names.
 *
 * Signing goes through libjwt 1.10 (jwt_encode_str). Verification does not:
 * libjwt 1.10 trusts the header's alg (it accepts an HS256 token MACed with
 * the ES256 public key PEM), checks none of the claims, decodes base64 and
 * JSON leniently, and re-parses the PEM key on every call (jwt_decode:
 * ~2.5k verifies/s on one core here, against ~13.5k/s for kumo_jwt_verify,
 * which spends ~90% of its time in the ECDSA P-256 verification itself).
 * The signature is therefore checked directly with OpenSSL (EVP, raw r||s
 * converted to a DER ECDSA-Sig-Value) over exactly the bytes parsed above,
 * with a public key parsed once when the keyset is built. */
#ifndef KUMO_JWT_PUBLIC_H
#define KUMO_JWT_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Error returns (all negative). kumo_jwt_strerror names them; any of them
 * means the request is unauthenticated. */
#define KUMO_JWT_ERR_TOO_LARGE     (-1101) /* token longer than KUMO_JWT_MAX_TOKEN_LEN */
#define KUMO_JWT_ERR_MALFORMED     (-1102) /* segments, base64url or JSON */
#define KUMO_JWT_ERR_HEADER        (-1103) /* unexpected header member, typ */
#define KUMO_JWT_ERR_ALG           (-1104) /* alg missing or not "ES256" */
#define KUMO_JWT_ERR_KID           (-1105) /* kid missing, not a string or unknown */
#define KUMO_JWT_ERR_SIGNATURE     (-1106) /* signature length or check */
#define KUMO_JWT_ERR_EXPIRED       (-1107) /* exp is past (beyond leeway) */
#define KUMO_JWT_ERR_NOT_YET_VALID (-1108) /* nbf or iat in the future (beyond leeway) */
#define KUMO_JWT_ERR_CLAIMS        (-1109) /* a claim missing, of the wrong type, out of range */
#define KUMO_JWT_ERR_ISSUER        (-1110) /* iss is not the configured issuer */
#define KUMO_JWT_ERR_AUDIENCE      (-1111) /* aud is not the configured audience */
#define KUMO_JWT_ERR_NO_KEYS       (-1112) /* the verifier has no keyset yet */
#define KUMO_JWT_ERR_KEY           (-1113) /* a key or JWKS is unusable */

/* Longest token accepted, checked before anything else. */
#define KUMO_JWT_MAX_TOKEN_LEN 8192
/* Longest sub, tid and jti (bytes). */
#define KUMO_JWT_ID_MAX 128
/* Key ids: 1..KUMO_JWT_KID_MAX characters of "A-Za-z0-9._-". */
#define KUMO_JWT_KID_MAX 64
/* Most keys in a keyset / JWKS, and in a signer. */
#define KUMO_JWT_MAX_KEYS        4
#define KUMO_JWT_SIGNER_MAX_KEYS 2
/* Longest JWKS document accepted. */
#define KUMO_JWT_MAX_JWKS_LEN 65536
/* Defaults for the verifier (seconds). */
#define KUMO_JWT_LEEWAY_DEFAULT  30
#define KUMO_JWT_MAX_TTL_DEFAULT 86400
/* Bounds accepted for them. */
#define KUMO_JWT_LEEWAY_MAX  300
#define KUMO_JWT_MAX_TTL_MAX (7 * 86400)

/* Roles, as a bitmask. "service" marks a service principal (a daemon acting
 * for background work, see DESIGN.md). */
enum kumo_role {
    KUMO_ROLE_ADMIN = 1u << 0,
    KUMO_ROLE_EDITOR = 1u << 1,
    KUMO_ROLE_VIEWER = 1u << 2,
    KUMO_ROLE_SERVICE = 1u << 3,
};
#define KUMO_ROLE_ALL (KUMO_ROLE_ADMIN | KUMO_ROLE_EDITOR | KUMO_ROLE_VIEWER | KUMO_ROLE_SERVICE)

/* Returns the role bit for an exact, case-sensitive name ("admin",
 * "editor", "viewer", "service") of `len` bytes, or 0 if unknown. */
unsigned kumo_role_from_name(const char *name, size_t len);

/* Returns the static name of a single role bit, or NULL. */
const char *kumo_role_name(unsigned role);

/* Who made a request, as established by a verified token. Fixed buffers:
 * nothing to free. */
struct kumo_principal {
    char sub[KUMO_JWT_ID_MAX + 1]; /* user id, or service name */
    char tid[KUMO_JWT_ID_MAX + 1]; /* tenant id: the ONLY source of tenancy */
    char jti[KUMO_JWT_ID_MAX + 1]; /* token id */
    char kid[KUMO_JWT_KID_MAX + 1];
    unsigned roles; /* enum kumo_role bits, never 0 */
    int service;    /* 1 if roles has KUMO_ROLE_SERVICE */
    int64_t iat;
    int64_t exp;
};

/* ---- keys ---------------------------------------------------------------- */

/* Returns 1 if `kid` (NUL-terminated) is a valid key id for this module:
 * 1..KUMO_JWT_KID_MAX characters of "A-Za-z0-9._-". */
int kumo_jwt_kid_valid(const char *kid);

/* Generates a new P-256 private key and appends it to `pem_out` as PKCS#8
 * PEM ("-----BEGIN PRIVATE KEY-----"). Returns 0 or KUMO_JWT_ERR_KEY. */
int kumo_jwt_key_generate(struct kumo_buf *pem_out);

/* Computes the RFC 7638 JWK thumbprint (SHA-256, base64url, 43 chars + NUL)
 * of the public half of a P-256 key given as PEM (private or public), a
 * natural kid. Returns 0 or KUMO_JWT_ERR_KEY. */
int kumo_jwt_key_thumbprint(const char *pem, size_t len, char out[44]);

/* A set of public keys by kid, for verification. Immutable once built;
 * safe to read from many threads. */
struct kumo_jwt_keyset;

/* Parses a JWKS document strictly: a JSON object (no duplicate keys) whose
 * only member is "keys", an array of 1..KUMO_JWT_MAX_KEYS objects, each with
 * exactly kty "EC", crv "P-256", x and y (strict base64url of 32 bytes each,
 * a point on the curve), kid (valid, unique in the set), and optionally alg
 * "ES256" and use "sig"; any other member (notably "d", private key material)
 * is refused. Returns 0 and sets *out (free with kumo_jwt_keyset_free), or
 * KUMO_JWT_ERR_KEY (or KUMO_JWT_ERR_TOO_LARGE beyond KUMO_JWT_MAX_JWKS_LEN)
 * leaving *out untouched; if `err` is not NULL it receives a static
 * description of the problem. */
int kumo_jwt_keyset_from_jwks(struct kumo_jwt_keyset **out, const char *json, size_t len,
                              const char **err);

/* Appends the JWKS JSON of `ks` to `out` ({"keys":[{"kty":"EC","crv":"P-256",
 * "x":..,"y":..,"kid":..,"alg":"ES256","use":"sig"},...]}). Returns 0. */
int kumo_jwt_keyset_to_jwks(const struct kumo_jwt_keyset *ks, struct kumo_buf *out);

/* Returns the number of keys in `ks`. */
size_t kumo_jwt_keyset_count(const struct kumo_jwt_keyset *ks);

/* Frees `ks`. NULL is ignored. */
void kumo_jwt_keyset_free(struct kumo_jwt_keyset *ks);

/* ---- signing (kumo-users) ------------------------------------------------ */

struct kumo_jwt_signer;

/* Creates an empty signer whose tokens carry `issuer` and `audience`
 * (non-empty UTF-8; copied). Returns 0 and sets *out, or KUMO_ERR_INVALID.
 * A signer is immutable once its keys are added and may then sign from
 * any number of threads; to rotate, build a new one. */
int kumo_jwt_signer_new(struct kumo_jwt_signer **out, const char *issuer, const char *audience);

/* Adds a P-256 private key (PEM: PKCS#8 or SEC1 "EC PRIVATE KEY",
 * unencrypted) under `kid`. The first key added becomes the active
 * (signing) key. Returns 0; KUMO_ERR_INVALID for an invalid kid, a kid
 * already present, or a signer already holding KUMO_JWT_SIGNER_MAX_KEYS;
 * KUMO_JWT_ERR_KEY if the PEM is not a valid P-256 private key. The PEM is
 * copied (and wiped when the signer is freed). */
int kumo_jwt_signer_add_key(struct kumo_jwt_signer *s, const char *kid, const char *pem,
                            size_t len);

/* Makes the key `kid` the one that signs. Returns 0 or KUMO_ERR_NOT_FOUND. */
int kumo_jwt_signer_set_active(struct kumo_jwt_signer *s, const char *kid);

/* Returns the kid of the active key, or NULL if the signer has no key. */
const char *kumo_jwt_signer_active_kid(const struct kumo_jwt_signer *s);

/* Builds a keyset of the public halves of all the signer's keys (what the
 * JWKS publishes; kumo-users verifies its own tokens with it). Returns 0
 * and sets *out, or KUMO_JWT_ERR_NO_KEYS. */
int kumo_jwt_signer_keyset(const struct kumo_jwt_signer *s, struct kumo_jwt_keyset **out);

/* Appends the JWKS JSON of the signer's public keys to `out`. Returns 0 or
 * KUMO_JWT_ERR_NO_KEYS. */
int kumo_jwt_signer_jwks(const struct kumo_jwt_signer *s, struct kumo_buf *out);

/* What to put in a token. */
struct kumo_jwt_claims {
    const char *sub; /* non-empty printable ASCII, <= KUMO_JWT_ID_MAX */
    const char *tid; /* same */
    unsigned roles;  /* non-empty subset of KUMO_ROLE_ALL */
    int64_t now;     /* iat and nbf (seconds since the epoch) */
    int64_t ttl_s;   /* exp = now + ttl_s; 1..KUMO_JWT_MAX_TTL_MAX */
};

/* Signs a token for `c` with the active key. Returns 0 and sets *token_out
 * to a NUL-terminated string (caller frees with kumo_free) and, if `jti_out`
 * is not NULL, copies the token's jti (22 chars + NUL) into it; or
 * KUMO_ERR_INVALID (bad claims), KUMO_JWT_ERR_NO_KEYS, KUMO_JWT_ERR_KEY
 * (libjwt failed), leaving *token_out untouched. Thread-safe as long as
 * the signer is not being modified. */
int kumo_jwt_sign(const struct kumo_jwt_signer *s, const struct kumo_jwt_claims *c,
                  char **token_out, char jti_out[23]);

/* Frees `s`, wiping its private keys. NULL is ignored. */
void kumo_jwt_signer_free(struct kumo_jwt_signer *s);

/* ---- verification (every service) --------------------------------------- */

struct kumo_jwt_verify_opts {
    const char *issuer;   /* required exact iss */
    const char *audience; /* required exact aud */
    int64_t leeway_s;     /* clock skew allowed, 0..KUMO_JWT_LEEWAY_MAX */
    int64_t max_ttl_s;    /* longest exp - iat accepted, 1..KUMO_JWT_MAX_TTL_MAX */
};

struct kumo_jwt_verifier;

/* Creates a verifier with options `o` (strings copied) and keyset `keys`
 * (ownership taken, even on failure; may be NULL: every verify then fails
 * with KUMO_JWT_ERR_NO_KEYS until kumo_jwt_verifier_set_keys). Returns 0 and
 * sets *out, or KUMO_ERR_INVALID for bad options. */
int kumo_jwt_verifier_new(struct kumo_jwt_verifier **out, const struct kumo_jwt_verify_opts *o,
                          struct kumo_jwt_keyset *keys);

/* Replaces the keyset (e.g. after re-fetching the JWKS), taking ownership
 * of `keys`. Safe while other threads verify: they finish with the old set,
 * which is freed when the last of them is done. */
void kumo_jwt_verifier_set_keys(struct kumo_jwt_verifier *v, struct kumo_jwt_keyset *keys);

/* Verifies `token[0..len)` (no "Bearer " prefix) at time `now` (seconds
 * since the epoch, normally time(NULL)). Returns 0 and fills *p, or a
 * KUMO_JWT_ERR_* code leaving *p untouched (KUMO_ERR_INVALID if `now` is
 * negative or absurdly far in the future). Every nonzero return means
 * "unauthenticated"; the code is for logs and metrics, never for the
 * client. Thread-safe. */
int kumo_jwt_verify(struct kumo_jwt_verifier *v, const char *token, size_t len, int64_t now,
                    struct kumo_principal *p);

/* Frees `v` and its keyset. NULL is ignored. No verify may be running. */
void kumo_jwt_verifier_free(struct kumo_jwt_verifier *v);

/* Extracts the credentials from an authorization header value: the scheme
 * "Bearer" (any case), one or more spaces, then a token with no spaces.
 * Returns 0 and points *tok / *tok_len into `value`, or KUMO_ERR_INVALID. */
int kumo_jwt_bearer(const char *value, size_t len, const char **tok, size_t *tok_len);

/* Returns a static description of a KUMO_JWT_ERR_* code (others: as
 * kumo_strerror). Safe to log: never contains token contents. */
const char *kumo_jwt_strerror(int err);

#endif
