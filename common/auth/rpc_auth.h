/* The authenticator every kumo service installs on its RPC server
 * (kumo_rpc_server_set_auth): it turns the request's `authorization:
 * Bearer <access JWT>` into a struct kumo_principal, or answers
 * unauthenticated. The verifier (kumo_jwt.h) does the checking; this module
 * adds the header handling, the service-principal allowlist, logs and
 * metrics.
 *
 * Service principals (role "service", `sub` naming a kumo daemon) are
 * accepted only if `sub` is in the allowlist given here ("documents,bff");
 * which RPCs they may call is each handler's decision (kumo_principal.service).
 *
 * Failures all look the same to the client ("missing or invalid access
 * token"); the reason (kumo_jwt_strerror, never token contents) goes to the
 * log at info level and to the counter kumo_auth_failures_total. */
#ifndef KUMO_RPC_AUTH_H
#define KUMO_RPC_AUTH_H

#include "auth/jwt.h"
#include "auth/revocations.h"
#include "rpc/rpc.h"

/* Most services in an allowlist, and longest name. */
#define KUMO_RPC_AUTH_MAX_SERVICES 16
#define KUMO_RPC_AUTH_SERVICE_MAX  63

struct kumo_rpc_jwt_auth;

/* Creates an authenticator over `verifier` (borrowed: it must outlive the
 * authenticator; its keys may be replaced meanwhile) accepting service
 * principals named in `allowed_services`, a comma-separated list of names
 * of a-z, 0-9, '-' (NULL or "" = none; spaces around names are ignored).
 * Returns 0 and sets *out, or KUMO_ERR_INVALID for a bad list (*out
 * untouched). */
int kumo_rpc_jwt_auth_new(struct kumo_rpc_jwt_auth **out, struct kumo_jwt_verifier *verifier,
                          const char *allowed_services);

/* The kumo_rpc_auth_fn to install: kumo_rpc_server_set_auth(srv,
 * kumo_rpc_jwt_auth_fn, auth). On success the principal is a struct
 * kumo_principal in the call's arena. Runs on the I/O thread, from the
 * headers: a token seen within the last minute costs a SHA-256 and a cache
 * lookup, a new one an ES256 verification (~75 us); nothing blocks. */
kumo_code kumo_rpc_jwt_auth_fn(void *auth, struct kumo_rpc_call *call, const char *authorization,
                               void **principal);

/* The verified principal of a call authenticated by kumo_rpc_jwt_auth_fn,
 * or NULL (public methods). */
const struct kumo_principal *kumo_rpc_principal(const struct kumo_rpc_call *call);

/* Returns 1 if `name` is in the authenticator's service allowlist. */
int kumo_rpc_jwt_auth_service_allowed(const struct kumo_rpc_jwt_auth *auth, const char *name);

/* Makes the authenticator refuse tokens revoked in `r` (borrowed: it must
 * outlive the authenticator; NULL = none). Call before serving. */
void kumo_rpc_jwt_auth_set_revocations(struct kumo_rpc_jwt_auth *auth, struct kumo_revocations *r);

/* Frees the authenticator (not the verifier). NULL is ignored. */
void kumo_rpc_jwt_auth_free(struct kumo_rpc_jwt_auth *auth);

/* Number of calls authenticated from the verified-token cache (tokens are
 * remembered by SHA-256 for at most 60 s and never past their exp). */
unsigned long kumo_rpc_jwt_auth_cache_hits(const struct kumo_rpc_jwt_auth *auth);

#endif
