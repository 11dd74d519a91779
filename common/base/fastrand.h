/* Fast per-thread pseudo-random numbers for identifiers that must be unique
 * but need not be secret: request ids, trace and span ids. Never use it for
 * anything an attacker must not guess (tokens, CSRF values, session ids,
 * signing material): those come from the CSPRNG (base/secret.h).
 *
 * Each thread has its own xoshiro256** generator (256 bits of state) seeded
 * from getrandom(2) on its first use, and again in a child process after
 * fork(2); with 256 random bits of state per thread, two threads or two
 * processes drawing the same 128-bit id is as unlikely as with the CSPRNG.
 * No lock, no syscall after the seed. */
#ifndef KUMO_FASTRAND_H
#define KUMO_FASTRAND_H

#include <stddef.h>
#include <stdint.h>

/* The calling thread's next 64 random bits. */
uint64_t kumo_fastrand_u64(void);

/* Fills out[0..len) with the calling thread's next random bytes. */
void kumo_fastrand_bytes(void *out, size_t len);

/* Writes 2*nbytes lowercase hex digits of random bytes and a NUL to out
 * (at least 2*nbytes + 1 bytes). */
void kumo_fastrand_hex(char *out, size_t nbytes);

/* Like kumo_fastrand_hex, but the digits are never all '0' (drawn again
 * then): trace and span ids, for which all zeros is invalid. nbytes 0
 * writes "". */
void kumo_fastrand_hex_nonzero(char *out, size_t nbytes);

#endif
