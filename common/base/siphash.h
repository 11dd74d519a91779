/* SipHash-2-4 (Aumasson and Bernstein, 2012): a fast keyed 64-bit hash for
 * hash tables whose keys an attacker may choose (bearer tokens, header
 * names). With a random secret key nobody can predict which keys share a
 * bucket, so nobody can pile them into one. It is no MAC and no digest:
 * never store or compare secrets by it alone (compare the bytes). */
#ifndef KUMO_BASE_SIPHASH_H
#define KUMO_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* Length of a SipHash key (bytes). */
#define KUMO_SIPHASH_KEY_LEN 16

/* SipHash-2-4 of data[0..len) under key[0..KUMO_SIPHASH_KEY_LEN), as the
 * reference implementation's 8 output bytes read little-endian. */
uint64_t kumo_siphash24(const uint8_t key[KUMO_SIPHASH_KEY_LEN], const void *data, size_t len);

#endif
