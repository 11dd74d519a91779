/* Authentication of RPCs (kumo-users' access tokens, verified here with its
 * JWKS kept fresh by common/jwks_fetch, through common/rpc_auth), who may
 * call what (docs_caller), and readiness: /readyz answers at once, so a
 * background thread pings the database and kumo-storage's health service
 * every few seconds and the checks report the last outcomes. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "runtime/admin_http.h"
#include "documents.h"
#include "store/audit.h"
#include "grpc/health/v1/health.pb-c.h"
#include "runtime/log.h"

#define PING_INTERVAL_MS 2000

static struct {
    struct docs_ctx *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    atomic_int db_ok, storage_ok;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int storage_healthy(struct docs_ctx *ctx)
{
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    struct kumo_rpc_call_options o = {.deadline = kumo_now_ns() + 1500 * 1000000LL};
    ProtobufCMessage *resp = NULL;
    kumo_code rc = kumo_rpc_client_call(ctx->storage, "/grpc.health.v1.Health/Check", &req.base,
                                        &grpc__health__v1__health_check_response__descriptor, NULL,
                                        &o, &resp, NULL);
    int ok = 0;
    if (rc == KUMO_CODE_OK) {
        const Grpc__Health__V1__HealthCheckResponse *h = (const void *)resp;
        ok = h->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return ok;
}

static void *pinger(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&R.mu);
    while (!R.stop) {
        pthread_mutex_unlock(&R.mu);
        kumo_code rc = kumo_db_ping(R.ctx->db, kumo_now_ns() + 1500 * 1000000LL);
        atomic_store(&R.db_ok, rc == KUMO_CODE_OK);
        atomic_store(&R.storage_ok, storage_healthy(R.ctx));
        pthread_mutex_lock(&R.mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += PING_INTERVAL_MS / 1000;
        if (!R.stop)
            pthread_cond_timedwait(&R.cv, &R.mu, &ts);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

static int check_db(void *ud, char *err, size_t errlen)
{
    (void)ud;
    if (atomic_load(&R.db_ok))
        return 0;
    snprintf(err, errlen, "database unreachable");
    return 1;
}

static int check_storage(void *ud, char *err, size_t errlen)
{
    (void)ud;
    if (atomic_load(&R.storage_ok))
        return 0;
    snprintf(err, errlen, "kumo-storage unreachable or not serving");
    return 1;
}

static int check_jwks(void *ud, char *err, size_t errlen)
{
    struct docs_ctx *ctx = ud;
    if (ctx->jwks && kumo_jwks_refresher_loads(ctx->jwks) > 0)
        return 0;
    snprintf(err, errlen, "no JWKS loaded yet");
    return 1;
}

static int start_verifier(struct docs_ctx *ctx)
{
    const struct docs_settings *s = &ctx->s;
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
    if (kumo_jwks_refresher_start(&ctx->jwks, ctx->verifier, source, s->jwks_refresh_ms, NULL) !=
        0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the JWKS refresher", NULL);
        return -1;
    }
    return 0;
}

int docs_auth_start(struct docs_ctx *ctx, struct kumo_rpc_server *srv, struct kumo_admin *admin)
{
    if (start_verifier(ctx) != 0)
        return -1;
    kumo_rpc_server_set_auth(srv, kumo_rpc_jwt_auth_fn, ctx->auth);
    R.ctx = ctx;
    atomic_init(&R.db_ok, 0);
    atomic_init(&R.storage_ok, 0);
    kumo_admin_add_check(admin, "db", check_db, NULL);
    kumo_admin_add_check(admin, "storage", check_storage, NULL);
    kumo_admin_add_check(admin, "jwks", check_jwks, ctx);
    R.stop = 0;
    if (pthread_create(&R.thread, NULL, pinger, NULL) != 0)
        return -1;
    R.started = 1;
    return 0;
}

void docs_auth_stop(struct docs_ctx *ctx)
{
    if (R.started) {
        pthread_mutex_lock(&R.mu);
        R.stop = 1;
        pthread_cond_signal(&R.cv);
        pthread_mutex_unlock(&R.mu);
        pthread_join(R.thread, NULL);
        R.started = 0;
    }
    kumo_jwks_refresher_stop(ctx->jwks);
    ctx->jwks = NULL;
    kumo_rpc_jwt_auth_free(ctx->auth);
    ctx->auth = NULL;
    kumo_jwt_verifier_free(ctx->verifier);
    ctx->verifier = NULL;
}

static int rank_of(unsigned roles)
{
    if (roles & KUMO_ROLE_ADMIN)
        return DOCS_ADMIN;
    if (roles & KUMO_ROLE_EDITOR)
        return DOCS_EDITOR;
    if (roles & KUMO_ROLE_VIEWER)
        return DOCS_VIEWER;
    return 0;
}

kumo_code docs_caller(struct kumo_rpc_call *call, enum docs_rank rank,
                      const struct kumo_principal **out)
{
    const struct kumo_principal *p = kumo_rpc_principal(call);
    if (p == NULL)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED,
                                   "missing or invalid access token");
    if (p->service)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "service principals may not call this method");
    if (rank_of(p->roles) < (int)rank) {
        static const char *const need[] = {"", "viewer", "editor", "admin"};
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED, "this needs the %s role",
                                   need[rank]);
    }
    *out = p;
    return KUMO_CODE_OK;
}

void docs_roles_text(unsigned roles, char out[64])
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{KUMO_ROLE_ADMIN, "admin"},
                 {KUMO_ROLE_EDITOR, "editor"},
                 {KUMO_ROLE_VIEWER, "viewer"},
                 {KUMO_ROLE_SERVICE, "service"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(roles & names[i].bit))
            continue;
        int w = snprintf(out + n, 64 - n, "%s%s", n ? "," : "", names[i].name);
        if (w > 0 && (size_t)w < 64 - n)
            n += (size_t)w;
    }
}

kumo_code docs_audit_caller(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const struct kumo_principal *p, const char *action,
                            const char *document_id, int32_t version, const char *details_json)
{
    char roles[64];
    docs_roles_text(p->roles, roles);
    return docs_audit(c, p->tid, p->sub, roles, action, document_id, version,
                      kumo_rpc_call_request_id(call), details_json);
}
