/* The background worker's thread (runtime/worker.h). */
#include "runtime/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "base/alloc.h"

#define SLEEP_MAX_MS (24LL * 3600 * 1000)

struct kumo_worker {
    kumo_worker_step step;
    void *ud;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    atomic_int stop;   /* written under mu, read anywhere */
    int woken;
};

int kumo_worker_sleep(struct kumo_worker *w, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms > SLEEP_MAX_MS)
        ms = SLEEP_MAX_MS;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000LL;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->stop) && !w->woken &&
           pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT)
        ; /* a spurious wake-up: keep waiting */
    w->woken = 0;
    pthread_mutex_unlock(&w->mu);
    return atomic_load(&w->stop);
}

static void *run(void *arg)
{
    struct kumo_worker *w = arg;
    while (!kumo_worker_stopping(w))
        if (kumo_worker_sleep(w, w->step(w->ud)))
            break;
    return NULL;
}

struct kumo_worker *kumo_worker_start(kumo_worker_step step, void *ud)
{
    struct kumo_worker *w = kumo_calloc(1, sizeof *w);
    w->step = step;
    w->ud = ud;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        kumo_free(w);
        return NULL;
    }
    return w;
}

static void signal_with(struct kumo_worker *w, int stop)
{
    pthread_mutex_lock(&w->mu);
    if (stop)
        atomic_store(&w->stop, 1);
    else
        w->woken = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void kumo_worker_wake(struct kumo_worker *w)
{
    if (w)
        signal_with(w, 0);
}

int kumo_worker_stopping(struct kumo_worker *w)
{
    return atomic_load(&w->stop);
}

void kumo_worker_stop(struct kumo_worker *w)
{
    if (w == NULL)
        return;
    signal_with(w, 1);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    kumo_free(w);
}
