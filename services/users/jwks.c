/* The public keys that verify kumo-users' access tokens, as a JWKS: over
 * RPC (GetJwks, public) and on the admin port at /.well-known/jwks.json,
 * where the other services fetch it with plain HTTP (common/jwks_fetch). */
#include <string.h>

#include "runtime/admin_http.h"
#include "users.h"

USERS_HANDLER(get_jwks)
{
    (void)request;
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    Kumo__Users__V1__GetJwksResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__get_jwks_response__descriptor);
    resp->jwks_json = ctx->jwks; /* immutable after start-up */
    *response = &resp->base;
    return KUMO_CODE_OK;
}

static int serve_jwks(void *ud, struct kumo_buf *body, const char **content_type)
{
    const struct users_ctx *ctx = ud;
    kumo_buf_append(body, ctx->jwks, ctx->jwks_len);
    *content_type = "application/jwk-set+json";
    return 200;
}

int users_jwks_route_install(struct users_ctx *ctx, struct kumo_admin *admin)
{
    return kumo_admin_add_route(admin, "/.well-known/jwks.json", serve_jwks, ctx);
}
