/* Hexadecimal text of bytes: lowercase out, either case in. Every digest,
 * key hash and id printer of kumo had its own copy of these loops. */
#ifndef KUMO_BASE_HEX_H
#define KUMO_BASE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of hex digit c (0-9, a-f, A-F), or -1 for anything else. */
int kumo_hex_digit(int c);

/* Writes in[0..n) as 2n lowercase hex digits and a NUL to out (2n + 1
 * bytes). */
void kumo_hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes exactly n bytes from in[0..len) (len must be 2n, digits of
 * either case). Returns 0, or -1 leaving out partly written. */
int kumo_hex_decode(const char *in, size_t len, uint8_t *out, size_t n);

#endif
