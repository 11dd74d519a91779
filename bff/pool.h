/* A pool of threads for request handlers (HTTP/1.1 requests and h2c
 * streams): a job waits in a bounded FIFO until a thread is free; the pool
 * grows on demand up to its maximum, so requests run side by side instead
 * of one after another, and a full queue is refused at once (the front-end
 * answers 503 with Retry-After) instead of growing without bound. */
#ifndef KUMO_BFF_POOL_H
#define KUMO_BFF_POOL_H

#include <stddef.h>

struct bff_pool;

/* Creates a pool of at most `max_threads` threads (none started yet) and
 * at most `max_queued` jobs waiting for one (>= 0). Returns 0 and sets
 * *out, or -1 (*out untouched). */
int bff_pool_new(struct bff_pool **out, int max_threads, int max_queued);

/* bff_pool_run's refusals. */
#define BFF_POOL_STOPPING (-1)
#define BFF_POOL_FULL     (-2)

/* Queues fn(arg) to run on a pool thread. Returns 0, BFF_POOL_FULL when
 * every thread is busy and max_queued jobs already wait, or
 * BFF_POOL_STOPPING when the pool is stopping or no thread can start (fn
 * is then not run). Thread-safe. */
int bff_pool_run(struct bff_pool *p, void (*fn)(void *arg), void *arg);

/* Jobs running or waiting. Thread-safe (for tests and metrics). */
int bff_pool_load(struct bff_pool *p);

/* Runs the queued jobs, stops the threads and frees the pool. NULL is
 * ignored. No job may be queued from then on. */
void bff_pool_free(struct bff_pool *p);

#endif
