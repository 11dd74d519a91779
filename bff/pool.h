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

/* Takes a place for a request served without a thread (an asynchronous
 * handler, bff_handle_start): it counts like a running job, so jobs and
 * such requests together stay within max_threads + max_queued. Returns 0,
 * BFF_POOL_FULL or BFF_POOL_STOPPING (as bff_pool_run). Thread-safe. */
int bff_pool_reserve(struct bff_pool *p);
/* Gives back a place taken by bff_pool_reserve. Thread-safe. */
void bff_pool_unreserve(struct bff_pool *p);

/* Jobs running or waiting, and places reserved. Thread-safe (for tests
 * and metrics; the drain waits for it to reach 0). */
int bff_pool_load(struct bff_pool *p);

/* Runs the queued jobs, stops the threads and frees the pool. NULL is
 * ignored. No job may be queued from then on. */
void bff_pool_free(struct bff_pool *p);

#endif
