/* W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace a
 * request belongs to and the span doing the work now.
 *
 * Span boundaries: one span per request served (the BFF's HTTP request, each
 * RPC a server handles) and, for work no request carries (background jobs),
 * one per unit of work. An outgoing RPC names the current span as its parent
 * (traceparent), so the callee's span is its child. Every span ends through
 * kumo_trace_end (the RPC server's call end, the BFF's request end, a job's
 * end): exporting spans to a collector is one exporter installed with
 * kumo_trace_set_exporter, nothing else.
 *
 * The current span is thread-local: the code that starts a span on a thread
 * (the RPC server around a handler, the BFF around a request, a job runner)
 * makes it current, and everything on that thread sees it: log lines get
 * trace_id and span_id, RPC clients send traceparent and tracestate. */
#ifndef KUMO_TRACE_H
#define KUMO_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define KUMO_TRACE_ID_LEN     32 /* lowercase hex digits */
#define KUMO_TRACE_SPAN_LEN   16
#define KUMO_TRACE_STATE_MAX  512 /* longest tracestate passed on */
#define KUMO_TRACE_PARENT_LEN 55  /* "00-" trace "-" span "-" flags */

struct kumo_trace {
    char trace_id[KUMO_TRACE_ID_LEN + 1];
    char span_id[KUMO_TRACE_SPAN_LEN + 1];
    char parent_span_id[KUMO_TRACE_SPAN_LEN + 1]; /* "" for a root span */
    uint8_t flags;                                /* bit 0: sampled */
    char tracestate[KUMO_TRACE_STATE_MAX + 1];    /* "" when none */
};

/* Parses a traceparent header (version 00, or a later version read as 00
 * as the spec says) into the trace id, parent span id and flags of `out`,
 * and keeps `tracestate` (NULL or "" = none; dropped when longer than
 * KUMO_TRACE_STATE_MAX or not printable ASCII). Returns 0, or -1 for a
 * missing or malformed header, an all-zero trace or span id, or version ff
 * (then *out is untouched and the caller starts a new trace). */
int kumo_trace_parse(const char *traceparent, const char *tracestate, struct kumo_trace *out);

/* Starts a span in *out: a child of `parent` when it is non-NULL (its trace
 * id, flags and tracestate; parent_span_id = parent->span_id), else the
 * root of a new trace (random trace id, sampled). The span id is random. */
void kumo_trace_start(struct kumo_trace *out, const struct kumo_trace *parent);

/* Starts a server span from request headers: the child of a valid
 * traceparent, else a new trace. */
void kumo_trace_start_from_headers(struct kumo_trace *out, const char *traceparent,
                                   const char *tracestate);

/* Writes the traceparent value naming t's span as the parent of the next
 * hop into `out` (at least KUMO_TRACE_PARENT_LEN + 1 bytes). */
void kumo_trace_format(const struct kumo_trace *t, char *out, size_t outlen);

/* A finished span, as an exporter sees it. Strings are valid during the
 * call only. */
struct kumo_span_end {
    const struct kumo_trace *span;
    const char *kind;   /* "server" (a request served) or "internal" (a job) */
    const char *name;   /* "/pkg.Service/Method", "GET /api/v1/documents/{id}", "job extract" */
    const char *status; /* a Connect code name, or an HTTP status class ("2xx") */
    int64_t start_ns;   /* CLOCK_MONOTONIC, like kumo_now_ns */
    int64_t end_ns;
};

/* Receives every finished span; may run on any thread, concurrently, and
 * must not block (queue and send elsewhere). */
typedef void (*kumo_trace_exporter_fn)(const struct kumo_span_end *end);

/* Installs `fn` (NULL = none, the default: spans end unrecorded). Call at
 * start, before serving. */
void kumo_trace_set_exporter(kumo_trace_exporter_fn fn);

/* Ends a span: hands it to the exporter, if any. NULL span: no-op. */
void kumo_trace_end(const struct kumo_span_end *end);

/* The calling thread's current span, or NULL. */
const struct kumo_trace *kumo_trace_current(void);

/* Makes `t` (NULL = none) the calling thread's current span and returns the
 * previous one, to be restored with another call when the work ends. `t` is
 * the caller's and must stay valid while it is current. */
const struct kumo_trace *kumo_trace_set_current(const struct kumo_trace *t);

#endif
