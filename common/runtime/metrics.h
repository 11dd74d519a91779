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
 *   process_cpu_seconds_total              (read from /proc at render time)
 *
 * Named families (counters, gauges, histograms) may carry labels. Label
 * values must be bounded sets chosen by code: a route template, a job kind,
 * an outcome, a status class; never an id, a path or anything a client
 * sent, or the number of series grows without limit. The tables are bounded
 * anyway (KUMO_METRICS_MAX_SERIES, KUMO_METRICS_MAX_FAMILY_SERIES): past
 * them new series are dropped, never the caller. */
#ifndef KUMO_METRICS_H
#define KUMO_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/errors.h"

#define KUMO_METRICS_MAX_METHODS 512
/* Longest method label kept as is; longer ones count as "other". */
#define KUMO_METRICS_MAX_METHOD_LEN 256
/* Most named families (counters, gauges, histograms). */
#define KUMO_METRICS_MAX_NAMED 256
/* Most labelled series over all named families, and per family. */
#define KUMO_METRICS_MAX_SERIES        4096
#define KUMO_METRICS_MAX_FAMILY_SERIES 256
/* Most label pairs per series, longest label value. */
#define KUMO_METRICS_MAX_LABELS    4
#define KUMO_METRICS_MAX_LABEL_LEN 128
/* Most render-time collectors. */
#define KUMO_METRICS_MAX_COLLECTORS 32

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

/* Labelled variants. `labels` is NULL (no labels) or name, value pairs
 * ending with a NULL name, at most KUMO_METRICS_MAX_LABELS pairs:
 *   kumo_metrics_counter_addl("kumo_jobs_total", "Background jobs run.",
 *       (const char *[]){"kind", "extract", "outcome", "ok", NULL}, 1);
 * Label names match [a-zA-Z_][a-zA-Z0-9_]* (not "le", not "__..."); values
 * are printable ASCII, 1 to KUMO_METRICS_MAX_LABEL_LEN bytes. A sample with
 * an invalid name or label, of a family already used with another type, or
 * that would be a series past the bounds is ignored. Strings are copied.
 * One family should always be given the same label names. */
void kumo_metrics_counter_addl(const char *name, const char *help, const char *const *labels,
                               uint64_t v);
void kumo_metrics_gauge_setl(const char *name, const char *help, const char *const *labels,
                             int64_t v);
void kumo_metrics_gauge_addl(const char *name, const char *help, const char *const *labels,
                             int64_t delta);

/* Observes `seconds` (negative or NaN counts as 0) in the histogram `name`
 * (a duration: the name should end in _seconds), rendered with the same
 * buckets as kumo_rpc_duration_seconds (0.5 ms .. 10 s, +Inf). Same rules
 * as the labelled counters. */
void kumo_metrics_observe(const char *name, const char *help, const char *const *labels,
                          double seconds);

/* A labelled series looked up once, for hot paths that record the same
 * series again and again (a route's request counter): found or created by
 * the rules of kumo_metrics_counter_addl / kumo_metrics_observe, NULL where
 * those would ignore the sample. A series is rendered from its creation
 * on, so look it up when about to record, as those calls do. Valid for the
 * life of the process (until kumo_metrics_reset, which is for tests). */
struct kumo_metrics_series;
struct kumo_metrics_series *kumo_metrics_counter_series(const char *name, const char *help,
                                                        const char *const *labels);
struct kumo_metrics_series *kumo_metrics_histogram_series(const char *name, const char *help,
                                                          const char *const *labels);

/* kumo_metrics_counter_addl and kumo_metrics_observe through a handle of
 * the matching kind; NULL is ignored. */
void kumo_metrics_series_add(struct kumo_metrics_series *s, uint64_t v);
void kumo_metrics_series_observe(struct kumo_metrics_series *s, double seconds);

/* A collector samples state that lives elsewhere (a DB pool's counts, a
 * filesystem's free space) just before each render, typically with
 * kumo_metrics_gauge_setl. It runs on the rendering thread, so it must not
 * block; it must not add or remove collectors. */
typedef void (*kumo_metrics_collector_fn)(void *ud);

/* Registers `fn` with `ud` (which stays the caller's). Returns 0, or
 * KUMO_ERR_INVALID (NULL fn, KUMO_METRICS_MAX_COLLECTORS reached). */
int kumo_metrics_collector_add(kumo_metrics_collector_fn fn, void *ud);

/* Unregisters the collector added with the same `fn` and `ud`; waits for a
 * render in progress, so `ud` may be freed on return. Unknown: no-op. */
void kumo_metrics_collector_remove(kumo_metrics_collector_fn fn, void *ud);

/* Reports the filesystem holding `path` at every render as
 * kumo_filesystem_size_bytes{volume} and kumo_filesystem_avail_bytes{volume}
 * (statvfs; the disk alert's input). `volume` is a fixed name such as
 * "storage-data". Returns 0, or KUMO_ERR_INVALID (bad volume, NULL path,
 * no collector slot left). For the life of the process. */
int kumo_metrics_watch_filesystem(const char *volume, const char *path);

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
