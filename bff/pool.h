/* A pool of threads for request handlers that block on RPCs (h2c streams):
 * a job waits in a FIFO until a thread is free; the pool grows on demand
 * up to its maximum, so one connection's streams run side by side instead
 * of one after another. */
#ifndef KUMO_BFF_POOL_H
#define KUMO_BFF_POOL_H

#include <stddef.h>

struct bff_pool;

/* Creates a pool of at most `max_threads` threads (none started yet).
 * Returns 0 and sets *out, or -1 (*out untouched). */
int bff_pool_new(struct bff_pool **out, int max_threads);

/* Queues fn(arg) to run on a pool thread. Returns 0, or -1 when the pool
 * is stopping (fn is then not run). Thread-safe. */
int bff_pool_run(struct bff_pool *p, void (*fn)(void *arg), void *arg);

/* Runs the queued jobs, stops the threads and frees the pool. NULL is
 * ignored. No job may be queued from then on. */
void bff_pool_free(struct bff_pool *p);

#endif
