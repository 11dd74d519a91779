/* The bounded tables the throttles (throttle.c) and the rate limits
 * (ratelimit.c) keep per client key: a power-of-two array of slots found by
 * a keyed hash (HMAC-SHA256 under a random key, so clients cannot choose
 * keys that collide). Private to common/auth. */
#ifndef KUMO_AUTH_SLOTS_INTERNAL_H
#define KUMO_AUTH_SLOTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct kumo__slots {
    uint8_t hash_key[32];
    uint32_t mask; /* slots - 1 */
    void *slots;   /* zeroed at first */
};

/* Makes room for `want` slots (0: `def`), rounded up to a power of two and
 * at least `min`, each slot_size bytes, under a fresh hash key. Returns 0,
 * or KUMO_ERR_INVALID (want above `max`, no randomness) leaving nothing
 * allocated. */
int kumo__slots_init(struct kumo__slots *t, uint32_t want, uint32_t def, uint32_t min, uint32_t max,
                     size_t slot_size);

/* Frees the slots and wipes the key. */
void kumo__slots_free(struct kumo__slots *t);

/* The first n (<= 32) bytes of the keyed hash of key[0..len) into out. */
void kumo__slots_hash(const struct kumo__slots *t, const void *key, size_t len, uint8_t *out,
                      size_t n);

#endif
