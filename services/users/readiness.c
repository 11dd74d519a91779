/* Readiness: /readyz must answer at once, so a background thread pings the
 * database every few seconds and the check reports its last outcome. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "runtime/admin_http.h"
#include "users.h"

#define PING_INTERVAL_MS 2000

static struct {
    struct users_ctx *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    atomic_int db_ok;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *pinger(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&R.mu);
    while (!R.stop) {
        pthread_mutex_unlock(&R.mu);
        kumo_code rc = kumo_db_ping(R.ctx->db, kumo_now_ns() + 1500 * 1000000LL);
        atomic_store(&R.db_ok, rc == KUMO_CODE_OK);
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

int users_readiness_start(struct users_ctx *ctx, struct kumo_admin *admin)
{
    R.ctx = ctx;
    atomic_init(&R.db_ok, 0);
    kumo_admin_add_check(admin, "db", check_db, NULL);
    if (pthread_create(&R.thread, NULL, pinger, NULL) != 0)
        return -1;
    R.started = 1;
    return 0;
}

void users_readiness_stop(void)
{
    if (!R.started)
        return;
    pthread_mutex_lock(&R.mu);
    R.stop = 1;
    pthread_cond_signal(&R.cv);
    pthread_mutex_unlock(&R.mu);
    pthread_join(R.thread, NULL);
    R.started = 0;
}
