/* Deadline headers: gRPC "grpc-timeout" and Connect "Connect-Timeout-Ms". */
#ifndef KUMO_TIMEOUT_H
#define KUMO_TIMEOUT_H

#include <stddef.h>
#include <stdint.h>

/* Longest text kumo_grpc_timeout_format writes: 8 digits, a unit, a NUL. */
#define KUMO_GRPC_TIMEOUT_MAX 16

/* Parses a grpc-timeout value: 1 to 8 ASCII digits then one unit, H (hours),
 * M (minutes), S (seconds), m (milliseconds), u (microseconds) or n
 * (nanoseconds); nothing else, no spaces. Returns 0 and sets *ns_out
 * (saturated at INT64_MAX when the value does not fit; "0n" gives 0), or
 * KUMO_ERR_INVALID leaving *ns_out untouched. */
int kumo_grpc_timeout_parse(const char *s, size_t len, int64_t *ns_out);

/* Writes the grpc-timeout text of `ns` nanoseconds into `out` (NUL-terminated):
 * the finest unit whose value fits in 8 digits, rounded up so that a deadline
 * is never shortened. A non-positive `ns` gives "1n" (already expired, but a
 * valid header). */
void kumo_grpc_timeout_format(int64_t ns, char out[KUMO_GRPC_TIMEOUT_MAX]);

/* Parses a Connect-Timeout-Ms value: 1 to 10 ASCII digits, milliseconds.
 * Returns 0 and sets *ns_out, or KUMO_ERR_INVALID leaving it untouched. */
int kumo_connect_timeout_parse(const char *s, size_t len, int64_t *ns_out);

#endif
