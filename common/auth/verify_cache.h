/* A verified-token cache in front of kumo_jwt_verify, for a daemon that
 * sees the same access token on every request of a client (the BFF): an
 * ES256 verification costs ~75 us. A token is found by its SipHash under
 * the cache's own random key (base/siphash.h) and answered only when its
 * bytes equal the stored copy's (compared in constant time), so a hit means
 * exactly the same token. It is remembered (with the principal it verified
 * to) for at
 * most KUMO_VERIFY_CACHE_TTL_S and never past its exp, so a key removed
 * from the JWKS stops being honoured within that bound; failures are never
 * remembered. Revocations are not this module's: check them on every
 * request, after the cache (a revocation must beat a cached verification).
 * The same policy as the RPC authenticator's cache (rpc_auth.c). */
#ifndef KUMO_VERIFY_CACHE_H
#define KUMO_VERIFY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"

#define KUMO_VERIFY_CACHE_TTL_S 60

struct kumo_verify_cache;

/* Creates an empty cache of `slots` entries (0 = 1024), direct-mapped and
 * lock-striped: any number of threads may use it. Returns 0 and sets *out;
 * KUMO_ERR_INVALID for a bad argument, KUMO_SECRET_ERR_RANDOM if the CSPRNG
 * gave no hash key (*out untouched on failure). */
int kumo_verify_cache_new(struct kumo_verify_cache **out, size_t slots);

/* kumo_jwt_verify(v, token, len, now, p), answered from the cache when the
 * same token verified less than KUMO_VERIFY_CACHE_TTL_S ago (and before its
 * exp). Returns 0 and fills *p, or the KUMO_JWT_ERR_* of the verification.
 * `*hit` (when not NULL) says whether the cache answered. */
int kumo_verify_cache_verify(struct kumo_verify_cache *c, struct kumo_jwt_verifier *v,
                             const char *token, size_t len, int64_t now, struct kumo_principal *p,
                             int *hit);

/* Frees the cache. NULL is ignored. */
void kumo_verify_cache_free(struct kumo_verify_cache *c);

#endif
