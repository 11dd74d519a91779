/* The monotonic clock every subsystem times with (deadlines, durations,
 * idle ages, spans). */
#ifndef KUMO_BASE_CLOCK_H
#define KUMO_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t kumo_now_ns(void);

/* Writes the duration `ns` as milliseconds with three decimals, rounded to
 * the nearest microsecond ("2.440", "0.000"; a negative duration is 0), as
 * printf's "%.3f" of the milliseconds would, without its floating-point
 * formatting (every access log line has one). Truncated to fit `outlen`
 * (which must be at least 1); always NUL-terminated. */
void kumo_format_ms(char *out, size_t outlen, int64_t ns);

#endif
