/* Getting kumo-users' public keys into another service's verifier: load a
 * JWKS from a URL (kumo-users serves it on its admin port at
 * /.well-known/jwks.json) or from a file (a mounted ConfigMap), and keep it
 * fresh from a background thread so a key rotation reaches every service
 * without a restart.
 *
 * Typical use in a daemon's setup:
 *   kumo_jwt_verifier_new(&v, &opts, NULL);          // no keys yet
 *   kumo_jwks_refresher_start(&r, v, url, 300000, NULL);
 *   kumo_rpc_jwt_auth_new(&auth, v, "bff");
 * Until the first fetch succeeds every token is refused (unauthenticated);
 * the refresher retries quickly (0.5 s doubling up to the interval). */
#ifndef KUMO_JWKS_FETCH_H
#define KUMO_JWKS_FETCH_H

#include <stdint.h>

#include "base/buf.h"
#include "auth/jwt.h"

struct kumo_jwks_fetch_opts {
    const char *ca_file; /* PEM bundle for https; NULL: the system's */
    long timeout_ms;     /* whole request; 0 = 5000 */
};

/* Loads a keyset from `source`: an "http://" or "https://" URL (GET, no
 * redirects, 2xx only, body at most KUMO_JWT_MAX_JWKS_LEN) or else a file
 * path (an optional "file:" prefix is stripped). The document is parsed
 * strictly by kumo_jwt_keyset_from_jwks. Returns 0 and sets *out (free with
 * kumo_jwt_keyset_free, or hand to a verifier); otherwise KUMO_ERR_IO
 * (connection, HTTP status, unreadable file), KUMO_ERR_TOO_LARGE or
 * KUMO_JWT_ERR_KEY (bad document), with the reason appended to `err` (may
 * be NULL). `o` may be NULL. Blocks up to the timeout. */
int kumo_jwks_load(const char *source, const struct kumo_jwks_fetch_opts *o,
                   struct kumo_jwt_keyset **out, struct kumo_buf *err);

struct kumo_jwks_refresher;

/* Starts a thread that loads `source` at once, then every `interval_ms`
 * (>= 1000), and installs each keyset in `v` (kumo_jwt_verifier_set_keys;
 * `v` is borrowed and must outlive the refresher). A failed load keeps the
 * keys already installed, is logged, and is retried after 0.5 s, doubling
 * up to the interval. Strings are copied. Returns 0 and sets *out, or
 * KUMO_ERR_INVALID (bad arguments) / -EAGAIN (no thread). */
int kumo_jwks_refresher_start(struct kumo_jwks_refresher **out, struct kumo_jwt_verifier *v,
                              const char *source, int64_t interval_ms,
                              const struct kumo_jwks_fetch_opts *o);

/* Number of keysets installed so far (for readiness checks and tests). */
unsigned long kumo_jwks_refresher_loads(struct kumo_jwks_refresher *r);

/* Stops the thread (waking it if it sleeps; an HTTP request in flight
 * finishes within its timeout) and frees the refresher. NULL is ignored. */
void kumo_jwks_refresher_stop(struct kumo_jwks_refresher *r);

#endif
