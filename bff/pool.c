/* The handler thread pool (pool.h). Threads are started when a job finds
 * none idle, so a quiet BFF holds none; they stay until the pool is freed
 * (at most max_threads, which bounds what a flood of streams can cost). */
#include <pthread.h>

#include "base/alloc.h"
#include "pool.h"

struct job {
    void (*fn)(void *arg);
    void *arg;
    struct job *next;
};

struct bff_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct job *head, *tail;
    int max, threads, idle, stopping;
    int queued, max_queued, running;
    int reserved; /* bff_pool_reserve's places */
    pthread_t *tids;
};

static void *worker(void *arg)
{
    struct bff_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->mu);
            p->idle--;
        }
        struct job *j = p->head;
        if (!j)
            break; /* stopping, queue drained */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        j->fn(j->arg);
        kumo_free(j);
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int bff_pool_new(struct bff_pool **out, int max_threads, int max_queued)
{
    if (max_threads < 1 || max_queued < 0)
        return -1;
    struct bff_pool *p = kumo_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max = max_threads;
    p->max_queued = max_queued;
    p->tids = kumo_calloc((size_t)max_threads, sizeof *p->tids);
    *out = p;
    return 0;
}

int bff_pool_run(struct bff_pool *p, void (*fn)(void *arg), void *arg)
{
    struct job *j = kumo_calloc(1, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        kumo_free(j);
        return BFF_POOL_STOPPING;
    }
    /* Refuse it when no thread can be started and, besides the jobs the
     * threads not running one (idle or starting) will take, as many as
     * allowed already wait. */
    if ((p->threads >= p->max && p->queued - (p->threads - p->running) >= p->max_queued) ||
        p->running + p->queued + p->reserved >= p->max + p->max_queued) {
        pthread_mutex_unlock(&p->mu);
        kumo_free(j);
        return BFF_POOL_FULL;
    }
    p->queued++;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    if (p->idle > 0) {
        pthread_cond_signal(&p->cond);
    } else if (p->threads < p->max) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&p->tids[p->threads], &attr, worker, p) == 0)
            p->threads++;
        pthread_attr_destroy(&attr);
    }
    /* Else every thread is busy: the job waits for the first free one. */
    int ok = p->threads > 0 ? 0 : BFF_POOL_STOPPING;
    if (ok != 0) {
        /* No thread could start at all: take the job back. */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        kumo_free(j);
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

int bff_pool_reserve(struct bff_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (p->stopping)
        rc = BFF_POOL_STOPPING;
    else if (p->running + p->queued + p->reserved >= p->max + p->max_queued)
        rc = BFF_POOL_FULL;
    else
        p->reserved++;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void bff_pool_unreserve(struct bff_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->reserved--;
    pthread_mutex_unlock(&p->mu);
}

int bff_pool_load(struct bff_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->queued + p->running + p->reserved;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void bff_pool_free(struct bff_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    int n = p->threads;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    kumo_free(p->tids);
    kumo_free(p);
}
