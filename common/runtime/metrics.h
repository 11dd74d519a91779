/* Process-wide Prometheus metrics.
 *
 * Cheap on the hot path: recording is a few relaxed atomic adds after a
 * lock-free table lookup; a mutex is taken only the first time a series (an
 * RPC method, a named counter) is seen. The number of series is bounded so
 * that clients sending made-up method names cannot grow memory: past
 * KUMO_METRICS_MAX_METHODS distinct methods (or an absurdly long name), RPCs
 * are counted under method "other".
 *
 * Built-in families:
 *   kumo_rpc_requests_in_flight            gauge
 *   kumo_rpc_requests_total{method,code}   counter (code: Connect name)
 *   kumo_rpc_duration_seconds{method}      histogram
 *   kumo_connections_open                  gauge
 *   kumo_connections_total                 counter
 *   process_resident_memory_bytes, process_start_time_seconds,
 *   process_cpu_seconds_total              (read from /proc at render time) */
#ifndef KUMO_METRICS_H
#define KUMO_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/errors.h"

#define KUMO_METRICS_MAX_METHODS 512
/* Longest method label kept as is; longer ones count as "other". */
#define KUMO_METRICS_MAX_METHOD_LEN 256
/* Most named counters and gauges (kumo_metrics_counter_add etc.). */
#define KUMO_METRICS_MAX_NAMED 256

/* An RPC started: kumo_rpc_requests_in_flight +1. */
void kumo_metrics_rpc_started(void);

/* An RPC finished: in-flight -1, kumo_rpc_requests_total{method,code} +1
 * and kumo_rpc_duration_seconds{method} observes `seconds` (negative or NaN
 * counts as 0). `method` is "/pkg.Service/Method" (copied on first sight);
 * a code out of range counts as "unknown". */
void kumo_metrics_rpc_finished(const char *method, kumo_code code, double seconds);

/* A connection was accepted / closed: kumo_connections_open +1 / -1,
 * kumo_connections_total +1 on open. */
/* A method's series, for hot paths that record the same method again and
 * again: look it up once (created on first use; "other" past the cap) and
 * record through the handle. Valid for the life of the process (until
 * kumo_metrics_reset, which is for tests). */
struct kumo_metrics_method;
struct kumo_metrics_method *kumo_metrics_method(const char *method);
/* kumo_metrics_rpc_finished for a method looked up with kumo_metrics_method. */
void kumo_metrics_rpc_finished_at(struct kumo_metrics_method *m, kumo_code code, double seconds);

void kumo_metrics_connection_opened(void);
void kumo_metrics_connection_closed(void);

/* Adds `v` to the counter `name` (e.g. "kumo_h2_rst_flood_total"), created
 * on first use with `help` as its HELP text (later `help`s are ignored).
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and not be a built-in family;
 * an invalid name, a name already used by a gauge, or a new name past
 * KUMO_METRICS_MAX_NAMED is ignored (metrics must never break a caller).
 * `name` and `help` are copied. */
void kumo_metrics_counter_add(const char *name, const char *help, uint64_t v);

/* Sets / adds to the gauge `name`, created on first use like counters (same
 * naming rules; a name already used by a counter is ignored). */
void kumo_metrics_gauge_set(const char *name, const char *help, int64_t v);
void kumo_metrics_gauge_add(const char *name, const char *help, int64_t delta);

/* Appends every metric to `out` in the Prometheus text exposition format
 * 0.0.4: HELP and TYPE lines, histograms as cumulative _bucket{le=...}
 * series ending with le="+Inf", then _sum and _count; label values escaped.
 * Series appear in first-seen order. Safe to call while other threads
 * record. */
void kumo_metrics_render(struct kumo_buf *out);

/* For tests only: forgets every series and zeroes every value. Must not run
 * concurrently with any other kumo_metrics_ call. */
void kumo_metrics_reset(void);

#endif
