/* Rate limiting per key (a client address, a principal): token buckets.
 *
 * Each key has a bucket of `burst` tokens refilled at `rate` tokens per
 * second; a request takes one token or is refused with the time until the
 * next one is due (for Retry-After). Unlike throttle.h, which counts
 * failures, this meters every request.
 *
 * Memory is bounded: a fixed table of `capacity` slots, keyed by a keyed
 * hash of the key (a random per-table key, so clients cannot aim
 * collisions); when a key's probe run is full, the slot used least
 * recently is reused. A reused slot starts full, so eviction can only
 * forgive, never refuse a request wrongly. Thread-safe (one mutex). */
#ifndef KUMO_RATELIMIT_H
#define KUMO_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct kumo_ratelimit_config {
    double rate;       /* tokens per second (> 0) */
    double burst;      /* bucket size (>= 1) */
    uint32_t capacity; /* slots; rounded up to a power of two; 0 = 16384 */
};

struct kumo_ratelimit;

/* Creates a table. Returns 0 and sets *out, or KUMO_ERR_INVALID (rate <= 0,
 * burst < 1, capacity above 2^24) leaving *out untouched. */
int kumo_ratelimit_new(struct kumo_ratelimit **out, const struct kumo_ratelimit_config *cfg);

/* Frees the table. NULL is ignored. */
void kumo_ratelimit_free(struct kumo_ratelimit *r);

/* Takes one token from `key`'s bucket at `now_ms` (a monotonic millisecond
 * clock, the same for every call). Returns 1 if the request may go on;
 * returns 0 if the bucket is empty and, when retry_after_ms is not NULL,
 * sets it to the milliseconds until a token is due (>= 1). */
int kumo_ratelimit_take(struct kumo_ratelimit *r, const void *key, size_t len, int64_t now_ms,
                        int64_t *retry_after_ms);

/* Parses a limit as the KUMO_RATE_LIMIT_* variables write it:
 * "<n>/<unit>" with unit s, m or h, optionally followed by " burst <b>"
 * ("50/s burst 100", "10/m"); without a burst, the burst is max(1, n).
 * "off" or "0" disables the limit (*rate = 0). Returns 0 and sets *rate
 * (tokens per second) and *burst, or KUMO_ERR_INVALID leaving them
 * untouched. */
int kumo_ratelimit_parse(const char *s, double *rate, double *burst);

#endif
