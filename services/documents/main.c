/* kumo-documents: documents, versions, archive and restore, search, audit
 * and background jobs (kumo.documents.v1).
 *   kumo-documents [serve]   the daemon (RPC 7102, admin 9102)
 *   kumo-documents migrate   applies the embedded schema migrations */
#include "runtime/admin_http.h"
#include "runtime/daemon.h"
#include "documents.h"
#include "runtime/log.h"

#include "events/events.h"
#include "jobs/jobs.h"

extern const struct kumo_blob kumo_documents_descriptor_set_blob;

static struct docs_ctx ctx;
static struct kumo_rpc_service service;
static struct kumo_revocations_client revocations;

static int setup(struct kumo_daemon *d, void *ud)
{
    (void)ud;
    if (docs_ctx_init(&ctx, kumo_daemon_config(d)) != 0)
        return -1;
    docs_service_init(&service, &ctx);
    docs_upload_metrics_init();
    struct kumo_rpc_server *srv = kumo_daemon_server(d);
    if (kumo_rpc_server_add_service(srv, &service) != 0 ||
        docs_auth_start(&ctx, srv, kumo_daemon_admin(d)) != 0 ||
        kumo_revocations_client_start(&revocations, kumo_daemon_config(d),
                                      ctx.s.jwt.max_ttl_s + ctx.s.jwt.leeway_s, NULL, NULL) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot set up the documents service", NULL);
        return -1;
    }
    kumo_rpc_jwt_auth_set_revocations(ctx.jwt.auth, revocations.set);
    if (docs_jobs_start(&ctx) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the job workers", NULL);
        return -1;
    }
    if (docs_events_start(&ctx) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the object event consumer", NULL);
        return -1;
    }
    return 0;
}

static void teardown(struct kumo_daemon *d, void *ud)
{
    (void)d;
    (void)ud;
    docs_events_stop();
    docs_jobs_stop();
    docs_ctx_free(&ctx);
    kumo_revocations_client_stop(&revocations);
}

static const struct kumo_daemon_command commands[] = {
    {"migrate", "apply the embedded schema migrations (under a MySQL lock) and exit",
     docs_cmd_migrate},
};

static const struct kumo_daemon_spec spec = {
    .svc = "documents",
    .summary = "kumo documents service: documents, versions, archive, search, audit, jobs "
               "(kumo.documents.v1)",
    .default_port = 7102,
    .config_vars = docs_config_vars,
    .descriptor_set = &kumo_documents_descriptor_set_blob,
    .setup = setup,
    .teardown = teardown,
    KUMO_DAEMON_COMMANDS(commands),
};

int main(int argc, char **argv)
{
    return kumo_daemon_main(argc, argv, &spec);
}
