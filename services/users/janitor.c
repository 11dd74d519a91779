/* Housekeeping: sessions that can no longer be used (family expired, or
 * revoked long ago) are deleted in small batches by a background thread,
 * so refresh_families and refresh_tokens do not grow without bound. Every
 * replica runs it; the deletes are idempotent. */
#include "runtime/log.h"
#include "runtime/worker.h"
#include "users.h"

#define JANITOR_INTERVAL_S 600
#define JANITOR_RETRY_MS   1000 /* after the database could not be reached */
#define JANITOR_BATCH      1000
#define JANITOR_KEEP_US    (24LL * 3600 * 1000000) /* revoked: kept a day, for forensics */

static struct {
    struct users_ctx *ctx;
    struct kumo_worker *worker;
} J;

/* Deletes one batch into *n (0 when nothing is left). Tokens go with their
 * family (ON DELETE CASCADE). OK or the database's error. */
static kumo_code purge_batch(uint64_t *n)
{
    struct kumo_db_conn *c;
    *n = 0;
    kumo_code rc = kumo_db_acquire(J.ctx->db, kumo_now_ns() + 5000000000LL, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    int64_t cutoff = kumo_now_us() - JANITOR_KEEP_US;
    rc = users_store_families_purge(c, kumo_now_us(), cutoff, JANITOR_BATCH, n);
    kumo_db_release(c);
    return rc;
}

/* One round: batches until the backlog is gone (at most 100 a round); a
 * round the database failed is tried again within a second, not at the
 * next interval. */
static int64_t janitor(void *arg)
{
    (void)arg;
    uint64_t total = 0, n = 0;
    kumo_code rc;
    while ((rc = purge_batch(&n)) == KUMO_CODE_OK && n == JANITOR_BATCH &&
           total < 100 * JANITOR_BATCH)
        total += n;
    total += n;
    if (total)
        kumo_logf(KUMO_LOG_INFO, NULL, "janitor: %llu dead sessions purged",
                  (unsigned long long)total);
    return rc == KUMO_CODE_OK ? JANITOR_INTERVAL_S * 1000LL : JANITOR_RETRY_MS;
}

int users_janitor_start(struct users_ctx *ctx)
{
    J.ctx = ctx;
    J.worker = kumo_worker_start(janitor, NULL);
    return J.worker ? 0 : -1;
}

void users_janitor_stop(void)
{
    kumo_worker_stop(J.worker);
    J.worker = NULL;
}
