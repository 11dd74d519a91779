/* The kumo.users.v1.UserService handler table. Everything touching MySQL
 * or argon2 is KUMO_RPC_BLOCKING (worker threads); the four methods a caller
 * uses to get a token in the first place are KUMO_RPC_PUBLIC, and so is
 * Logout: the refresh token it presents is its proof (see sessions.c). */
#include "users.h"

#define B  KUMO_RPC_BLOCKING
#define NS KUMO_RPC_NO_SIDE_EFFECTS
#define P  KUMO_RPC_PUBLIC

static const struct kumo_rpc_method methods[] = {
    {"CreateTenant", users_create_tenant, B},
    {"GetTenant", users_get_tenant, B | NS},
    {"CreateUser", users_create_user, B},
    {"GetUser", users_get_user, B | NS},
    {"ListUsers", users_list_users, B | NS},
    {"UpdateUser", users_update_user, B},
    {"DeleteUser", users_delete_user, B},
    {"ChangePassword", users_change_password, B},
    {"Authenticate", users_authenticate, B | P},
    {"RefreshToken", users_refresh_token, B | P},
    {"Logout", users_logout, B | P},
    {"SignOutEverywhere", users_sign_out_everywhere, B},
    {"GetJwks", users_get_jwks, NS | P},
    {"CreateApiKey", users_create_api_key, B},
    {"ListApiKeys", users_list_api_keys, B | NS},
    {"RevokeApiKey", users_revoke_api_key, B},
    {"ExchangeApiKey", users_exchange_api_key, B | P},
};

void users_service_init(struct kumo_rpc_service *svc, struct users_ctx *ctx)
{
    *svc = KUMO_RPC_SERVICE(&kumo__users__v1__user_service__descriptor, methods, ctx);
}
