/* The monotonic clock every subsystem times with (deadlines, durations,
 * idle ages, spans). */
#ifndef KUMO_BASE_CLOCK_H
#define KUMO_BASE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t kumo_now_ns(void);

#endif
