/* Housekeeping: sessions that can no longer be used (family expired, or
 * revoked long ago) are deleted in small batches by a background thread,
 * so refresh_families and refresh_tokens do not grow without bound. Every
 * replica runs it; the deletes are idempotent. */
#include <time.h>

#include "runtime/log.h"
#include "users.h"

#define JANITOR_INTERVAL_S 600
#define JANITOR_BATCH      1000
#define JANITOR_KEEP_US    (24LL * 3600 * 1000000) /* revoked: kept a day, for forensics */

static struct {
    struct users_ctx *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
} J = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Deletes one batch; returns the rows deleted (0 when nothing is left or
 * on error). Tokens go with their family (ON DELETE CASCADE). */
static uint64_t purge_batch(void)
{
    struct kumo_db_conn *c;
    if (kumo_db_acquire(J.ctx->db, kumo_now_ns() + 5000000000LL, &c) != KUMO_CODE_OK)
        return 0;
    int64_t cutoff = kumo_now_us() - JANITOR_KEEP_US;
    uint64_t n = 0;
    kumo_code rc =
        kumo_db_exec(c,
                     "DELETE FROM refresh_families WHERE expire_time < ?"
                     " OR revoke_time < ? LIMIT 1000",
                     KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us()), KUMO_DB_TIME(cutoff)), &n);
    kumo_db_release(c);
    return rc == KUMO_CODE_OK ? n : 0;
}

static void *janitor(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&J.mu);
    while (!J.stop) {
        pthread_mutex_unlock(&J.mu);
        uint64_t total = 0, n;
        while ((n = purge_batch()) == JANITOR_BATCH && total < 100 * JANITOR_BATCH)
            total += n;
        total += n;
        if (total)
            kumo_logf(KUMO_LOG_INFO, NULL, "janitor: %llu dead sessions purged",
                      (unsigned long long)total);
        pthread_mutex_lock(&J.mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += JANITOR_INTERVAL_S;
        while (!J.stop && pthread_cond_timedwait(&J.cv, &J.mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&J.mu);
    return NULL;
}

int users_janitor_start(struct users_ctx *ctx)
{
    J.ctx = ctx;
    if (pthread_create(&J.thread, NULL, janitor, NULL) != 0)
        return -1;
    J.started = 1;
    return 0;
}

void users_janitor_stop(void)
{
    if (!J.started)
        return;
    pthread_mutex_lock(&J.mu);
    J.stop = 1;
    pthread_cond_signal(&J.cv);
    pthread_mutex_unlock(&J.mu);
    pthread_join(J.thread, NULL);
    J.started = 0;
}
