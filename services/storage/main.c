/* kumo-storage: presigned uploads and downloads, object metadata, archive
 * emulation and multipart uploads (kumo.storage.v1), with an S3-compatible
 * data port serving the local backend.
 *   kumo-storage [serve]   the daemon (RPC 7103, admin 9103, data 7104) */
#include <errno.h>
#include <libxml/parser.h>
#include <sys/stat.h>
#include <string.h>

#include "runtime/admin_http.h"
#include "base/alloc.h"
#include "runtime/daemon.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "journal.h"
#include "s3/sqs.h"
#include "storage.h"

extern const struct kumo_blob kumo_storage_descriptor_set_blob;

static struct stg_ctx ctx;
static struct kumo_rpc_service service;
static struct kumo_revocations_client revocations;

static int store_ready(void *ud, char *err, size_t errlen)
{
    return stg_store_check(ud, err, errlen);
}

static int open_store(void)
{
    stg_store_set_min_free(ctx.store, ctx.s.min_free);
    struct stg_sweep_stats st;
    if (stg_store_sweep(ctx.store, &st) != 0)
        return -1;
    char tmp[24], orphans[24], broken[24], uploads[24];
    snprintf(tmp, sizeof tmp, "%lu", st.temp_removed);
    snprintf(orphans, sizeof orphans, "%lu", st.orphans_removed);
    snprintf(broken, sizeof broken, "%lu", st.broken_removed);
    snprintf(uploads, sizeof uploads, "%lu", st.uploads_kept);
    kumo_log(KUMO_LOG_INFO, NULL, "storage swept", "root", ctx.s.root, "temp_removed", tmp,
             "orphans_removed", orphans, "broken_removed", broken, "uploads", uploads, NULL);
    return 0;
}

/* The local backend: the store, swept, and the data port serving it. */
static int setup_local(void)
{
    ctx.be = &stg_backend_local;
    ctx.creds.access_key_id = kumo_strdup(ctx.s.access_key_id);
    ctx.creds.secret_access_key = kumo_strdup(ctx.s.secret_access_key);
    struct kumo_buf prefix = KUMO_BUF_INIT;
    kumo_buf_appendf(&prefix, "/%s", ctx.s.bucket);
    ctx.path_prefix = kumo_buf_steal(&prefix, NULL);
    if (open_store() != 0 || stg_dataport_start(&ctx) != 0 ||
        stg_public_url_init(&ctx, stg_dataport_port(ctx.dp)) != 0)
        return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", stg_dataport_port(ctx.dp));
    kumo_log(KUMO_LOG_INFO, NULL, "data port listening", "data_port", port, "public_url",
             ctx.public_url, "bucket", ctx.s.bucket, NULL);
    return 0;
}

static int setup_s3(void)
{
    ctx.be = &stg_backend_s3;
    if (stg_s3_open(&ctx) != 0)
        return -1;
    kumo_log(KUMO_LOG_INFO, NULL, "S3 backend", "endpoint", ctx.public_url, "bucket", ctx.s.bucket,
             "region", ctx.s.region, NULL);
    return 0;
}

/* The event journal, for both backends (S3's events arrive through SQS). */
static int open_journal(void)
{
    const char *path = ctx.s.events_journal;
    struct kumo_buf def = KUMO_BUF_INIT;
    if (path == NULL || path[0] == '\0') {
        kumo_buf_appendf(&def, "%s/events.journal", ctx.s.root);
        path = (const char *)def.data;
    }
    int rc = stg_journal_open(&ctx.journal, path, ctx.s.do_fsync, (size_t)ctx.s.events_keep);
    kumo_buf_free(&def);
    if (rc != 0)
        return rc;
    int local = strcmp(ctx.s.backend, "local") == 0;
    const char *src = ctx.s.events_source;
    int sqs = strcmp(src, "sqs") == 0 ||
              (strcmp(src, "auto") == 0 && !local && ctx.s.sqs_queue_url[0] != '\0');
    ctx.dataport_events = local && !sqs;
    if (!local && !sqs)
        kumo_log(KUMO_LOG_WARN, NULL,
                 "S3 backend without KUMO_STORAGE_SQS_QUEUE_URL: no object events (clients must "
                 "call CompleteUpload)",
                 NULL);
    return sqs ? stg_sqs_start(&ctx, &ctx.sqs) : 0;
}

static int setup(struct kumo_daemon *d, void *ud)
{
    (void)ud;
    if (stg_settings_load(kumo_daemon_config(d), &ctx.s) != 0)
        return -1;
    xmlInitParser();
    int local = strcmp(ctx.s.backend, "local") == 0;
    if (!local && mkdir(ctx.s.root, 0700) != 0 && errno != EEXIST) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot create KUMO_STORAGE_ROOT", "root", ctx.s.root, NULL);
        return -1;
    }
    /* Local: the store first (it creates the root), then the journal, then
     * the data port that appends to it. */
    if (local ? (stg_store_open(&ctx.store, ctx.s.root, ctx.s.do_fsync) != 0 ||
                 open_journal() != 0 || setup_local() != 0)
              : (open_journal() != 0 || setup_s3() != 0))
        return -1;
    stg_service_init(&service, &ctx);
    struct kumo_rpc_server *srv = kumo_daemon_server(d);
    if (kumo_rpc_server_add_service(srv, &service) != 0 ||
        kumo_jwt_setup_start(&ctx.jwt, &ctx.s.jwt, srv, kumo_daemon_admin(d)) != 0 ||
        kumo_revocations_client_start(&revocations, kumo_daemon_config(d),
                                      ctx.s.jwt.max_ttl_s + ctx.s.jwt.leeway_s, NULL, NULL) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot set up the storage service", NULL);
        return -1;
    }
    kumo_rpc_jwt_auth_set_revocations(ctx.jwt.auth, revocations.set);
    if (stg_restore_watch_start(&ctx) != 0)
        return -1;
    if (local) {
        kumo_admin_add_check(kumo_daemon_admin(d), "storage", store_ready, ctx.store);
        /* Free space of the blob volume, for the disk alert. */
        kumo_metrics_watch_filesystem("storage-data", ctx.s.root);
    }
    return 0;
}

/* At the first SIGTERM: the data port drains with the RPC port
 * (runtime/daemon.h; the admin port answers /readyz 503 until it has), and
 * long polls of the event feed answer now rather than holding the drain up
 * (appends still work for requests in flight). */
static void drain(struct kumo_daemon *d, void *ud)
{
    (void)d;
    (void)ud;
    stg_dataport_quiesce(ctx.dp);
    stg_journal_shutdown(ctx.journal);
}

static int drained(struct kumo_daemon *d, void *ud)
{
    (void)d;
    (void)ud;
    return stg_dataport_drained(ctx.dp);
}

static void teardown(struct kumo_daemon *d, void *ud)
{
    (void)ud;
    stg_restore_watch_stop();
    stg_sqs_stop(ctx.sqs);
    ctx.sqs = NULL;
    stg_journal_shutdown(ctx.journal);
    int64_t deadline = kumo_daemon_drain_deadline(d);
    stg_dataport_stop(ctx.dp, deadline ? deadline : kumo_now_ns());
    ctx.dp = NULL;
    kumo_jwt_setup_stop(&ctx.jwt);
    kumo_revocations_client_stop(&revocations);
    stg_store_close(ctx.store);
    ctx.store = NULL;
    stg_journal_close(ctx.journal);
    ctx.journal = NULL;
    stg_s3_close(ctx.s3);
    ctx.s3 = NULL;
    kumo_aws_credentials_clear(&ctx.creds);
    kumo_free(ctx.path_prefix);
    kumo_free(ctx.public_url);
    kumo_free(ctx.public_host);
    ctx.public_url = ctx.public_host = ctx.path_prefix = NULL;
    xmlCleanupParser();
}

static const struct kumo_daemon_spec spec = {
    .svc = "storage",
    .summary = "kumo storage service: presigned uploads/downloads, archive, multipart "
               "(kumo.storage.v1) and an S3-compatible data port",
    .default_port = 7103,
    .config_vars = stg_config_vars,
    .descriptor_set = &kumo_storage_descriptor_set_blob,
    .setup = setup,
    .teardown = teardown,
    .drain = drain,
    .drained = drained,
};

int main(int argc, char **argv)
{
    return kumo_daemon_main(argc, argv, &spec);
}
