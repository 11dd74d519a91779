/* Token revocations, written here and followed by every other process
 * (common/auth/revocations.h). Writers insert a row in the transaction that
 * disables, deletes or revokes; a poller thread copies new rows into the
 * in-memory set every KUMO_REVOCATIONS_POLL, which this process's
 * authenticator checks and GET /revocations on the admin port serves.
 * Every replica polls the database itself, so the feed it serves is the
 * database's, whichever replica a follower reaches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/admin_http.h"
#include "runtime/log.h"
#include "runtime/worker.h"
#include "users.h"

#define POLL_BATCH    500
#define PURGE_EVERY_S 600

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

kumo_code users_revoke_tokens(struct kumo_db_conn *c, const char *tenant_id, const char *subject,
                              const char *reason)
{
    return users_store_revocation_insert(c, tenant_id, subject, reason, wall_s());
}

kumo_code users_revoke_keys_of(struct kumo_db_conn *c, const char *tenant_id, const char *user_id,
                               const char *reason)
{
    return users_store_revocation_insert_keys_of(c, tenant_id, user_id, USERS_KEY_SUB_PREFIX,
                                                 reason, wall_s());
}

static struct kumo_worker *poll_worker;

struct poll_state {
    struct users_ctx *ctx;
    int64_t now;
};

static void add_row(void *ud, int64_t seq, const char *tid, const char *sub, int64_t nbf,
                    int64_t created)
{
    struct poll_state *ps = ud;
    kumo_revocations_add(ps->ctx->revocations, seq, tid, sub, nbf, created, ps->now);
}

/* Copies rows after the set's cursor, and the recent ones whatever their
 * seq (a transaction may commit after a higher seq was read), into the
 * set. Returns the rows read, or -1 on a database error. */
static int poll_once(struct users_ctx *ctx)
{
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_now_ns() + 2000000000LL, &c) != KUMO_CODE_OK)
        return -1;
    struct poll_state ps = {ctx, wall_s()};
    int n = 0;
    kumo_code rc = users_store_revocations_read(
        c, kumo_revocations_cursor(ctx->revocations), ps.now - KUMO_REVOCATIONS_WINDOW_S,
        ps.now - ctx->revocations_keep_s, POLL_BATCH, KUMO_REVOCATION_ID_MAX, add_row, &ps, &n);
    kumo_db_release(c);
    return rc == KUMO_CODE_OK ? n : -1;
}

/* Rows past any token's lifetime are of no use to anyone. */
static void purge_old(struct users_ctx *ctx)
{
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_now_ns() + 5000000000LL, &c) != KUMO_CODE_OK)
        return;
    users_store_revocations_purge(c, wall_s() - ctx->revocations_keep_s - 3600);
    kumo_db_release(c);
}

/* One round: reads until the table is caught up, purges now and then. */
static int64_t poller(void *arg)
{
    struct users_ctx *ctx = arg;
    static int failing;
    static int64_t last_purge;
    int n;
    while ((n = poll_once(ctx)) == POLL_BATCH)
        ;
    if (n < 0 && !failing)
        kumo_log(KUMO_LOG_WARN, NULL, "revocations: cannot read the table; retrying", NULL);
    failing = n < 0;
    if (n >= 0 && wall_s() - last_purge > PURGE_EVERY_S) {
        purge_old(ctx);
        last_purge = wall_s();
    }
    return ctx->s.revocations_poll_ms;
}

/* GET /revocations?after=N&window=S */
static int serve_feed(void *ud, const char *query, struct kumo_buf *body, const char **ctype)
{
    struct users_ctx *ctx = ud;
    long long after = 0, window = 0;
    const char *p = query;
    while (p && *p) {
        char *end = NULL;
        if (strncmp(p, "after=", 6) == 0)
            after = strtoll(p + 6, &end, 10);
        else if (strncmp(p, "window=", 7) == 0)
            window = strtoll(p + 7, &end, 10);
        if (end && *end != '&' && *end != '\0')
            return 400;
        const char *amp = strchr(p, '&');
        p = amp ? amp + 1 : NULL;
    }
    if (after < 0 || window < 0 || window > 3600)
        return 400;
    *ctype = "application/json";
    kumo_revocations_feed_json(ctx->revocations, after, wall_s() - window, body);
    return 200;
}

int users_revocations_start(struct users_ctx *ctx, struct kumo_admin *admin)
{
    int64_t longest =
        ctx->s.access_ttl_s > ctx->s.api_ttl_s ? ctx->s.access_ttl_s : ctx->s.api_ttl_s;
    ctx->revocations_keep_s = longest + ctx->s.leeway_s + 60;
    if (kumo_revocations_new(&ctx->revocations, ctx->revocations_keep_s) != 0 ||
        kumo_admin_add_query_route(admin, "/revocations", serve_feed, ctx) != 0)
        return -1;
    kumo_rpc_jwt_auth_set_revocations(ctx->auth, ctx->revocations);
    poll_worker = kumo_worker_start(poller, ctx);
    return poll_worker ? 0 : -1;
}

void users_revocations_stop(struct users_ctx *ctx)
{
    kumo_worker_stop(poll_worker);
    poll_worker = NULL;
    kumo_revocations_free(ctx->revocations);
    ctx->revocations = NULL;
}
