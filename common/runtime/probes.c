/* The readiness probes' thread (runtime/probes.h). */
#include "runtime/probes.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "base/alloc.h"

#define PROBES_MAX 8

struct probe {
    struct kumo_probes *set;
    kumo_probe_fn fn;
    void *ud;
    const char *failure;
    atomic_int ok; /* last outcome, read by the admin thread */
};

struct kumo_probes {
    struct probe probes[PROBES_MAX];
    int n;
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
};

int kumo_probes_new(struct kumo_probes **out, int64_t interval_ms)
{
    if (interval_ms <= 0)
        return -1;
    struct kumo_probes *p = kumo_calloc(1, sizeof *p);
    p->interval_ms = interval_ms;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = p;
    return 0;
}

static int check(void *ud, char *err, size_t errlen)
{
    struct probe *pr = ud;
    if (atomic_load(&pr->ok))
        return 0;
    snprintf(err, errlen, "%s", pr->failure);
    return 1;
}

int kumo_probes_add(struct kumo_probes *p, struct kumo_admin *admin, const char *name,
                    kumo_probe_fn fn, void *ud, const char *failure)
{
    if (p->started || p->n == PROBES_MAX)
        return -1;
    struct probe *pr = &p->probes[p->n++];
    pr->set = p;
    pr->fn = fn;
    pr->ud = ud;
    pr->failure = failure;
    atomic_init(&pr->ok, 0);
    if (admin)
        kumo_admin_add_check(admin, name, check, pr);
    return 0;
}

int kumo_probes_last(struct kumo_probes *p, int i)
{
    if (i < 0 || i >= p->n)
        return 0;
    return atomic_load(&p->probes[i].ok);
}

static void *run(void *arg)
{
    struct kumo_probes *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->n; i++)
            atomic_store(&p->probes[i].ok, p->probes[i].fn(p->probes[i].ud) ? 1 : 0);
        pthread_mutex_lock(&p->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += p->interval_ms / 1000;
        ts.tv_nsec += (long)(p->interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0)
            ; /* a wake-up without stop (spurious): keep waiting */
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int kumo_probes_start(struct kumo_probes *p)
{
    if (p->started)
        return -1;
    p->stop = 0;
    if (pthread_create(&p->thread, NULL, run, p) != 0)
        return -1;
    p->started = 1;
    return 0;
}

void kumo_probes_free(struct kumo_probes *p)
{
    if (p == NULL)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    kumo_free(p);
}
