/* kumo-users: tenants, users, sessions and API keys (kumo.users.v1).
 *   kumo-users [serve]   the daemon (RPC 7101, admin 9101)
 *   kumo-users migrate   applies the embedded schema migrations
 *   kumo-users bootstrap creates the system tenant, its admin, a demo tenant
 *                        and the service principals' API keys, idempotently */
#include "runtime/admin_http.h"
#include "runtime/daemon.h"
#include "runtime/log.h"
#include "users.h"

extern const struct kumo_blob kumo_users_descriptor_set_blob;

static struct users_ctx ctx;
static struct kumo_rpc_service service;

static int setup(struct kumo_daemon *d, void *ud)
{
    (void)ud;
    if (users_ctx_init(&ctx, kumo_daemon_config(d)) != 0)
        return -1;
    users_service_init(&service, &ctx);
    struct kumo_rpc_server *srv = kumo_daemon_server(d);
    if (kumo_rpc_server_add_service(srv, &service) != 0 || users_auth_install(&ctx, srv) != 0 ||
        users_jwks_route_install(&ctx, kumo_daemon_admin(d)) != 0 ||
        users_readiness_start(&ctx, kumo_daemon_admin(d)) != 0 || users_janitor_start(&ctx) != 0 ||
        users_revocations_start(&ctx, kumo_daemon_admin(d)) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot set up the users service", NULL);
        return -1;
    }
    kumo_log(KUMO_LOG_INFO, NULL, "signing keys loaded", "active_kid",
             kumo_jwt_signer_active_kid(ctx.signer), NULL);
    return 0;
}

static void teardown(struct kumo_daemon *d, void *ud)
{
    (void)d;
    (void)ud;
    users_janitor_stop();
    users_revocations_stop(&ctx);
    users_readiness_stop();
    users_ctx_free(&ctx);
}

static const struct kumo_daemon_command commands[] = {
    {"migrate", "apply the embedded schema migrations (under a MySQL lock) and exit",
     users_cmd_migrate},
    {"bootstrap",
     "create the system tenant and admin, a demo tenant and admin, and the service principals' "
     "API keys, idempotently, and exit",
     users_cmd_bootstrap},
};

static const struct kumo_daemon_spec spec = {
    .svc = "users",
    .summary = "kumo users service: tenants, users, sessions, API keys (kumo.users.v1)",
    .default_port = 7101,
    .config_vars = users_config_vars,
    .descriptor_set = &kumo_users_descriptor_set_blob,
    .setup = setup,
    .teardown = teardown,
    KUMO_DAEMON_COMMANDS(commands),
};

int main(int argc, char **argv)
{
    return kumo_daemon_main(argc, argv, &spec);
}
