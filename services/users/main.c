/* kumo-users: tenants, users, sessions and API keys (kumo.users.v1).
 *   kumo-users [serve]   the daemon (RPC 7101, admin 9101)
 *   kumo-users migrate   applies the embedded schema migrations
 *   kumo-users bootstrap creates the system tenant, its admin, a demo tenant
 *                        and the service principals' API keys, idempotently */
#include "runtime/admin_http.h"
#include "runtime/daemon.h"
#include "runtime/log.h"
#include "users.h"

extern const unsigned char kumo_users_descriptor_set[];
extern const size_t kumo_users_descriptor_set_size;

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

int main(int argc, char **argv)
{
    size_t n_vars;
    const struct kumo_config_var *vars = users_config_vars(&n_vars);
    struct kumo_blob sets[] = {{kumo_users_descriptor_set, kumo_users_descriptor_set_size}};
    struct kumo_daemon_spec spec = {
        .program = "kumo-users",
        .svc = "users",
        .summary = "kumo users service: tenants, users, sessions, API keys (kumo.users.v1)",
        .version = "0.1.0",
        .default_rpc_port = 7101,
        .default_admin_port = 9101,
        .vars = vars,
        .n_vars = n_vars,
        .descriptor_sets = sets,
        .n_descriptor_sets = 1,
        .setup = setup,
        .commands = commands,
        .n_commands = sizeof commands / sizeof commands[0],
        .teardown = teardown,
    };
    return kumo_daemon_main(argc, argv, &spec);
}
