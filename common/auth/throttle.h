/* Failure throttling per key (an account, a client address): counts events
 * in a sliding window and says when a key has had `limit` of them, so login
 * and key-exchange endpoints can refuse further attempts with
 * resource_exhausted before doing any expensive work.
 *
 * The window is the usual two-bucket approximation: the count of the
 * current fixed window plus the previous window's count weighted by how
 * much of it still overlaps the sliding window. Memory is bounded: a fixed
 * table of `capacity` slots keyed by a keyed hash of the key (a random
 * per-table key, so clients cannot aim collisions); when a key's probe run
 * is full, the slot idle the longest is reused, which can only forget old
 * failures, never invent new ones. Thread-safe (one mutex per table; every
 * operation is a few dozen instructions under it). In-process: each replica
 * counts on its own. */
#ifndef KUMO_THROTTLE_H
#define KUMO_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct kumo_throttle_config {
    uint32_t limit;    /* events within the window that block the key (>= 1) */
    int64_t window_ms; /* sliding window length (>= 1) */
    uint32_t capacity; /* slots; rounded up to a power of two; 0 = 16384 */
};

struct kumo_throttle;

/* Creates a table. Returns 0 and sets *out, or KUMO_ERR_INVALID for a zero
 * limit or window (or a capacity above 2^24), leaving *out untouched. */
int kumo_throttle_new(struct kumo_throttle **out, const struct kumo_throttle_config *cfg);

/* Frees the table. NULL is ignored. */
void kumo_throttle_free(struct kumo_throttle *t);

/* Returns 1 if `key` has reached the limit at time `now_ms` (any monotonic
 * millisecond clock, the same for every call), else 0. Does not count. */
int kumo_throttle_blocked(struct kumo_throttle *t, const void *key, size_t len, int64_t now_ms);

/* 0 if `key` is not blocked at `now_ms`; else the milliseconds until it
 * is no longer blocked if no further event is counted (>= 1), for a
 * Retry-After. */
int64_t kumo_throttle_retry_after_ms(struct kumo_throttle *t, const void *key, size_t len,
                                     int64_t now_ms);

/* Counts one event (a failure) for `key` at `now_ms`. */
void kumo_throttle_hit(struct kumo_throttle *t, const void *key, size_t len, int64_t now_ms);

/* Forgets `key` (e.g. after a successful login). */
void kumo_throttle_reset(struct kumo_throttle *t, const void *key, size_t len);

/* The current weighted count of `key` (for tests and metrics). */
double kumo_throttle_count(struct kumo_throttle *t, const void *key, size_t len, int64_t now_ms);

#endif
