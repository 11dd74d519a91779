/* Token verification set-up from the KUMO_JWT_* settings
 * (auth/jwt_setup.h). */
#include "auth/jwt_setup.h"

#include <stdio.h>
#include <string.h>

#include "runtime/log.h"

static int bad(const char *why)
{
    kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error", why, NULL);
    return -1;
}

int kumo_jwt_settings_load(const struct kumo_config *c, struct kumo_jwt_settings *s)
{
    memset(s, 0, sizeof *s);
    s->issuer = kumo_config_string(c, "KUMO_JWT_ISSUER");
    s->audience = kumo_config_string(c, "KUMO_JWT_AUDIENCE");
    s->leeway_s = kumo_config_int(c, "KUMO_JWT_LEEWAY") / 1000;
    s->max_ttl_s = kumo_config_int(c, "KUMO_JWT_MAX_TTL") / 1000;
    s->jwks_file = kumo_config_string(c, "KUMO_JWT_JWKS_FILE");
    s->jwks_url = kumo_config_string(c, "KUMO_JWT_JWKS_URL");
    s->jwks_refresh_ms = kumo_config_int(c, "KUMO_JWT_JWKS_REFRESH");
    s->service_callers = kumo_config_declared(c, "KUMO_SERVICE_CALLERS")
                             ? kumo_config_string(c, "KUMO_SERVICE_CALLERS")
                             : NULL; /* a daemon no service calls (kumo-bff) */
    if (s->service_callers == NULL)
        s->service_callers = "";
    if (s->issuer == NULL || s->audience == NULL || s->issuer[0] == '\0' || s->audience[0] == '\0')
        return bad("KUMO_JWT_ISSUER and KUMO_JWT_AUDIENCE must not be empty");
    if ((s->jwks_file == NULL || s->jwks_file[0] == '\0') &&
        (s->jwks_url == NULL || s->jwks_url[0] == '\0'))
        return bad("one of KUMO_JWT_JWKS_FILE and KUMO_JWT_JWKS_URL is required");
    return 0;
}

static int jwks_ready(void *ud, char *err, size_t errlen)
{
    struct kumo_jwt_setup *js = ud;
    if (js->jwks && kumo_jwks_refresher_loads(js->jwks) > 0)
        return 0;
    snprintf(err, errlen, "no JWKS loaded yet");
    return 1;
}

int kumo_jwt_setup_start(struct kumo_jwt_setup *js, const struct kumo_jwt_settings *s,
                         struct kumo_rpc_server *srv, struct kumo_admin *admin)
{
    struct kumo_jwt_verify_opts o = {s->issuer, s->audience, s->leeway_s, s->max_ttl_s};
    if (kumo_jwt_verifier_new(&js->verifier, &o, NULL) != 0)
        return bad("invalid JWT options");
    if (kumo_rpc_jwt_auth_new(&js->auth, js->verifier, s->service_callers) != 0)
        return bad("KUMO_SERVICE_CALLERS must be a comma-separated list of service names");
    const char *source = s->jwks_file && *s->jwks_file ? s->jwks_file : s->jwks_url;
    if (kumo_jwks_refresher_start(&js->jwks, js->verifier, source, s->jwks_refresh_ms, NULL) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the JWKS refresher", NULL);
        return -1;
    }
    if (srv)
        kumo_rpc_server_set_auth(srv, kumo_rpc_jwt_auth_fn, js->auth);
    if (admin)
        kumo_admin_add_check(admin, "jwks", jwks_ready, js);
    return 0;
}

void kumo_jwt_setup_stop(struct kumo_jwt_setup *js)
{
    kumo_jwks_refresher_stop(js->jwks);
    js->jwks = NULL;
    kumo_rpc_jwt_auth_free(js->auth);
    js->auth = NULL;
    kumo_jwt_verifier_free(js->verifier);
    js->verifier = NULL;
}
