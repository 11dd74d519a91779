/* Test hook of auth/verify_cache.c (white-box unit tests only). */
#ifndef KUMO_VERIFY_CACHE_INTERNAL_H
#define KUMO_VERIFY_CACHE_INTERNAL_H

#include "auth/verify_cache.h"

/* Makes every token of `c` hash to the same value from now on, so that two
 * different tokens meet in one slot with equal hashes: what a SipHash
 * collision would do, which only the byte comparison may then tell apart. */
void kumo__verify_cache_collide_all(struct kumo_verify_cache *c);

#endif
