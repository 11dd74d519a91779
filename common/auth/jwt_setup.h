/* Verifying kumo-users' access tokens in a daemon: the KUMO_JWT_*
 * settings (their config table entries and loading) and the set-up they
 * drive (the verifier, the RPC authenticator with its service-principal
 * allowlist, the JWKS refresher and its "jwks" readiness check), once for
 * every daemon that verifies tokens (kumo-documents, kumo-storage,
 * kumo-bff) instead of a copy in each.
 *
 * Use: list KUMO_JWT_SETUP_CONFIG_VARS and a KUMO_JWT_SETUP_CALLERS_VAR in
 * the daemon's variables; kumo_jwt_settings_load at start-up;
 * kumo_jwt_setup_start once the RPC server and admin port exist;
 * kumo_jwt_setup_stop at teardown. */
#ifndef KUMO_AUTH_JWT_SETUP_H
#define KUMO_AUTH_JWT_SETUP_H

#include <stdint.h>

#include "auth/jwks_fetch.h"
#include "auth/jwt.h"
#include "auth/rpc_auth.h"
#include "rpc/server.h"
#include "runtime/admin_http.h"
#include "runtime/config.h"

/* The seven KUMO_JWT_* entries of a daemon's configuration table
 * (struct kumo_config_var initializers, comma-separated). */
/* clang-format off */
#define KUMO_JWT_SETUP_CONFIG_VARS                                                             \
    {"KUMO_JWT_ISSUER", KUMO_CONFIG_STRING, "kumo-users", "required iss of access tokens"},    \
    {"KUMO_JWT_AUDIENCE", KUMO_CONFIG_STRING, "kumo", "required aud of access tokens"},        \
    {"KUMO_JWT_LEEWAY", KUMO_CONFIG_DURATION_MS, "30s", "clock skew allowed verifying tokens", \
     0, 0, 300 * 1000LL},                                                                      \
    {"KUMO_JWT_MAX_TTL", KUMO_CONFIG_DURATION_MS, "24h", "longest token lifetime accepted",    \
     0, 1000LL, 7 * 24 * 3600 * 1000LL},                                                       \
    {"KUMO_JWT_JWKS_FILE", KUMO_CONFIG_STRING, NULL,                                           \
     "JWKS file with the keys verifying access tokens (re-read when it changes); "             \
     "takes precedence over KUMO_JWT_JWKS_URL"},                                               \
    {"KUMO_JWT_JWKS_URL", KUMO_CONFIG_STRING, "http://127.0.0.1:9101/.well-known/jwks.json",   \
     "URL of kumo-users' JWKS (its admin port)"},                                              \
    {"KUMO_JWT_JWKS_REFRESH", KUMO_CONFIG_DURATION_MS, "5m", "how often the JWKS is reloaded", \
     0, 1000LL, 24 * 3600 * 1000LL}

/* The eighth setting, KUMO_SERVICE_CALLERS: the service principals allowed
 * to call, with the daemon's own default ("" = users only) and help. A
 * daemon no service calls (kumo-bff) leaves it out: none are allowed. */
#define KUMO_JWT_SETUP_CALLERS_VAR(default_value, help)                                        \
    {"KUMO_SERVICE_CALLERS", KUMO_CONFIG_STRING, default_value, help}
/* clang-format on */

/* The settings, loaded. Strings are borrowed from the configuration. */
struct kumo_jwt_settings {
    const char *issuer, *audience;
    int64_t leeway_s, max_ttl_s;
    const char *jwks_file, *jwks_url; /* the file wins when both are set */
    int64_t jwks_refresh_ms;
    const char *service_callers; /* comma-separated service names, "" = none */
};

/* Fills *s from a configuration loaded with the entries above. Returns 0,
 * or -1 after logging what is wrong (an empty issuer or audience, no JWKS
 * file nor URL). */
int kumo_jwt_settings_load(const struct kumo_config *c, struct kumo_jwt_settings *s);

/* What kumo_jwt_setup_start makes; zero it before (or use
 * KUMO_JWT_SETUP_INIT). The verifier and authenticator may be used by the
 * daemon (revocations: kumo_rpc_jwt_auth_set_revocations) until stop. */
struct kumo_jwt_setup {
    struct kumo_jwt_verifier *verifier; /* kumo-users' keys, from the JWKS */
    struct kumo_rpc_jwt_auth *auth;     /* installed on the RPC server */
    struct kumo_jwks_refresher *jwks;   /* keeps the verifier's keys fresh */
};
#define KUMO_JWT_SETUP_INIT                                                                        \
    {                                                                                              \
        NULL, NULL, NULL                                                                           \
    }

/* Builds the verifier from `s`, the authenticator accepting the service
 * callers, and starts the JWKS refresher; installs the authenticator on
 * `srv` and adds the readiness check "jwks" (ready once a keyset has
 * loaded) on `admin` (either may be NULL: not installed). `s` is read
 * only here. Returns 0, or -1 after logging why (what was made is left in
 * *js for kumo_jwt_setup_stop). */
int kumo_jwt_setup_start(struct kumo_jwt_setup *js, const struct kumo_jwt_settings *s,
                         struct kumo_rpc_server *srv, struct kumo_admin *admin);

/* Stops the refresher and frees the authenticator and verifier (the RPC
 * server must no longer call the authenticator). Idempotent; safe after a
 * failed start. */
void kumo_jwt_setup_stop(struct kumo_jwt_setup *js);

#endif
