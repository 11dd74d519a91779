/* Authentication of RPCs: kumo-users' access tokens, verified here with its
 * JWKS (common/jwks_fetch keeps it fresh), through common/rpc_auth. Which
 * tenant and role may do what is decided per RPC in service.c. */
#include "runtime/admin_http.h"
#include "base/alloc.h"
#include "auth/jwks_fetch.h"
#include "runtime/log.h"
#include "rpc/server.h"
#include "storage.h"

struct stg_jwks {
    struct kumo_jwks_refresher *refresher;
};

static int jwks_ready(void *ud, char *err, size_t errlen)
{
    struct stg_jwks *j = ud;
    if (kumo_jwks_refresher_loads(j->refresher) > 0)
        return 0;
    snprintf(err, errlen, "no JWKS loaded yet");
    return -1;
}

int stg_auth_start(struct stg_ctx *ctx, struct kumo_rpc_server *srv, struct kumo_admin *admin)
{
    const struct stg_settings *s = &ctx->s;
    struct kumo_jwt_verify_opts o = {s->jwt_issuer, s->jwt_audience, s->jwt_leeway_s,
                                     s->jwt_max_ttl_s};
    if (kumo_jwt_verifier_new(&ctx->verifier, &o, NULL) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error", "invalid JWT options", NULL);
        return -1;
    }
    if (kumo_rpc_jwt_auth_new(&ctx->auth, ctx->verifier, s->service_callers) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error",
                 "KUMO_SERVICE_CALLERS must be a comma-separated list of service names", NULL);
        return -1;
    }
    const char *source = s->jwks_file && *s->jwks_file ? s->jwks_file : s->jwks_url;
    ctx->jwks = kumo_calloc(1, sizeof *ctx->jwks);
    if (kumo_jwks_refresher_start(&ctx->jwks->refresher, ctx->verifier, source, s->jwks_refresh_ms,
                                  NULL) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the JWKS refresher", NULL);
        return -1;
    }
    kumo_rpc_server_set_auth(srv, kumo_rpc_jwt_auth_fn, ctx->auth);
    kumo_admin_add_check(admin, "jwks", jwks_ready, ctx->jwks);
    return 0;
}

void stg_auth_stop(struct stg_ctx *ctx)
{
    if (ctx->jwks) {
        kumo_jwks_refresher_stop(ctx->jwks->refresher);
        kumo_free(ctx->jwks);
        ctx->jwks = NULL;
    }
    kumo_rpc_jwt_auth_free(ctx->auth);
    ctx->auth = NULL;
    kumo_jwt_verifier_free(ctx->verifier);
    ctx->verifier = NULL;
}
