/* kumo's RPC client: blocking gRPC unary calls (application/grpc+proto) over
 * HTTP/2, either cleartext with prior knowledge (h2c) or TLS with ALPN "h2".
 * Used service to service and by the BFF.
 *
 * One client talks to one target over one HTTP/2 connection at a time; any
 * number of threads may call at once and their calls are multiplexed as
 * streams on that connection by the client's own I/O thread (libevent +
 * nghttp2); an asynchronous call (kumo_rpc_client_call_async) is finished
 * by a callback on that thread instead. The connection is opened on the first call and opened again
 * after a failure or a GOAWAY; there is no retry: a call that fails because the server is
 * unreachable returns KUMO_CODE_UNAVAILABLE at once and the next call tries again. */
#ifndef KUMO_RPC_CLIENT_H
#define KUMO_RPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

struct kumo_trace; /* base/trace.h */
struct event_base; /* libevent */

struct kumo_rpc_client_config {
    const char *target;      /* "host:port", "[v6addr]:port" or "name:port" */
    int tls;                 /* 0 = h2c prior knowledge, 1 = TLS + ALPN h2 */
    const char *ca_file;     /* TLS: CA bundle to verify the server (NULL = system default) */
    const char *server_name; /* TLS: SNI and name to verify (NULL = host part of target) */
    size_t max_message_size; /* request and response limit, 0 = 4 MiB */
    int connect_timeout_ms;  /* TCP connect + TLS handshake, 0 = 5000 */
    int no_compression;      /* 1 = do not offer gzip (grpc-accept-encoding): for a
                                server close by (loopback, same cluster), where
                                compressing answers costs both sides more CPU than
                                the bytes saved */
};

struct kumo_rpc_client;

/* Creates a client for cfg->target and starts its I/O thread (its own
 * event_base). Nothing is connected yet: the first call connects. The
 * strings of `cfg` are copied. Returns 0 and sets *out; KUMO_ERR_INVALID for
 * a malformed target or a bad setting, KUMO_ERR_IO when the CA file cannot be
 * loaded or the thread cannot start (*out untouched on failure). */
int kumo_rpc_client_new(struct kumo_rpc_client **out, const struct kumo_rpc_client_config *cfg);

/* One custom request header. `name` is lowercase ([a-z0-9-_.]), not a
 * reserved one (pseudo-headers, grpc-*, content-type, te, user-agent,
 * connection-specific headers); `value` is printable ASCII (a "-bin" header
 * takes its value already base64-encoded). */
struct kumo_rpc_metadata {
    const char *name;
    const char *value;
};

struct kumo_rpc_call_options {
    int64_t deadline;          /* absolute CLOCK_MONOTONIC ns (kumo_now_ns), 0 = none; sent as
                                  grpc-timeout with the remaining budget */
    const char *request_id;    /* sent as x-request-id when non-NULL */
    const char *authorization; /* sent as authorization when non-NULL ("Bearer ...") */
    /* The span this call is made from, sent as traceparent (and tracestate)
     * so the callee's span is its child; NULL = the calling thread's current
     * span (base/trace.h), and nothing is sent when there is none. Copied. */
    const struct kumo_trace *trace;
    const struct kumo_rpc_metadata *metadata;
    size_t n_metadata;
};

struct kumo_rpc_status {
    kumo_code code;
    char *message;         /* malloc'd or NULL; kumo_rpc_status_clear frees */
    int64_t retry_after_s; /* a refusal's `retry-after` header or trailer
                              (delay-seconds, capped at 86400), 0 = none */
};

/* Blocking unary call; thread-safe. Serializes `request`, sends it to `path`
 * ("/pkg.Svc/Method") and unpacks the response with `response_desc` into
 * memory from `alloc` (NULL = malloc; then the caller frees it with
 * protobuf_c_message_free_unpacked). `opts` may be NULL, and so may `status`
 * when the caller wants only the code.
 *
 * Returns KUMO_CODE_OK and sets *response (status->code OK, message NULL), or
 * another code with *response NULL and *status filled (message from
 * grpc-message, percent-decoded, or a description of a local failure):
 *  - connection refused/reset, TLS failure, GOAWAY before the stream was
 *    processed, client being freed: KUMO_CODE_UNAVAILABLE;
 *  - deadline passed: KUMO_CODE_DEADLINE_EXCEEDED, on time even if the server
 *    never answers (the stream is reset with CANCEL);
 *  - request or response message over max_message_size (after gzip
 *    decompression too): KUMO_CODE_RESOURCE_EXHAUSTED;
 *  - malformed response (no grpc-status, not exactly one message, bad
 *    framing or compression, unparsable message): KUMO_CODE_INTERNAL;
 *  - HTTP status other than 200: kumo_code_from_http_status(status);
 *  - bad path, metadata or arguments: KUMO_CODE_INVALID_ARGUMENT, without
 *    contacting the server.
 * A call without a deadline waits as long as the server takes. */
kumo_code kumo_rpc_client_call(struct kumo_rpc_client *c, const char *path,
                               const ProtobufCMessage *request,
                               const ProtobufCMessageDescriptor *response_desc,
                               ProtobufCAllocator *alloc, const struct kumo_rpc_call_options *opts,
                               ProtobufCMessage **response, struct kumo_rpc_status *status);

/* The outcome of an asynchronous call (kumo_rpc_client_call_async): `code`
 * and `response` as kumo_rpc_client_call would return them, `status` owned
 * by the callee from now on (kumo_rpc_status_clear it). */
typedef void (*kumo_rpc_done_fn)(void *arg, kumo_code code, ProtobufCMessage *response,
                                 struct kumo_rpc_status *status);

/* kumo_rpc_client_call without waiting: the call is checked, serialized and
 * handed to the I/O thread, and `done(arg, ...)` is called exactly once, on
 * the client's I/O thread, with the same outcomes (the deadline is enforced
 * by the I/O thread's timer). `done` must not block (no blocking call on
 * this client from it: it would wait on its own thread); it may start
 * another asynchronous call. The response is unpacked with `alloc` on the
 * I/O thread, so the caller must not use that allocator until `done` ran.
 *
 * Returns KUMO_CODE_OK once the call is on its way. Otherwise the call was
 * refused at once (bad arguments, message too large, deadline already
 * passed, client closing): `done` is never called and *status (if not
 * NULL) says why, as kumo_rpc_client_call would. */
kumo_code kumo_rpc_client_call_async(struct kumo_rpc_client *c, const char *path,
                                     const ProtobufCMessage *request,
                                     const ProtobufCMessageDescriptor *response_desc,
                                     ProtobufCAllocator *alloc,
                                     const struct kumo_rpc_call_options *opts,
                                     kumo_rpc_done_fn done, void *arg,
                                     struct kumo_rpc_status *status);

/* Work an asynchronous call's callback leaves for later on its I/O thread:
 * see kumo_rpc_client_defer. The caller owns the node (e.g. one per
 * destination, so that many answers share one run). */
struct kumo_rpc_deferred {
    void (*fn)(void *arg);
    void *arg;
    struct kumo_rpc_deferred *next; /* the client's */
};

/* From inside a kumo_rpc_done_fn only: runs d->fn(d->arg) on the same I/O
 * thread once every answer that thread is delivering now has had its
 * callback (after the calls answered by one read from a connection; at
 * once after the callback when it was the only one, e.g. a deadline), so
 * the callbacks can gather their work (e.g. one send(2) for many answers).
 * `d` must stay valid and not be deferred again until fn has started. */
void kumo_rpc_client_defer(struct kumo_rpc_deferred *d);

/* The event_base of the client's I/O thread (libevent, thread-safe), for a
 * caller whose own events should run on that thread: a front-end whose
 * requests become this client's asynchronous calls serves its connections
 * there, so a request is read, sent upstream, answered and written on one
 * thread (the calls it makes from that thread are taken without a wake-up
 * across threads). Callbacks there must not block, like a kumo_rpc_done_fn.
 * Every event added to it must be deleted and freed before
 * kumo_rpc_client_free. */
struct event_base *kumo_rpc_client_event_base(struct kumo_rpc_client *c);

/* Frees s->message and resets *s to OK. NULL is ignored. */
void kumo_rpc_status_clear(struct kumo_rpc_status *s);

/* Counters, for metrics and tests. */
struct kumo_rpc_client_stats {
    uint64_t connects;    /* connection attempts started */
    uint64_t connections; /* connections that became usable (HTTP/2 ready) */
    uint64_t calls;       /* calls handed to the I/O thread */
};

/* Copies the client's counters into *out. */
void kumo_rpc_client_get_stats(struct kumo_rpc_client *c, struct kumo_rpc_client_stats *out);

/* Sends GOAWAY on its connections and closes them, fails pending calls with
 * KUMO_CODE_UNAVAILABLE, waits until every thread still inside
 * kumo_rpc_client_call has returned (and every asynchronous call's callback
 * has run), joins the I/O thread and frees the
 * client. NULL is ignored. No call may start after this is entered. */
void kumo_rpc_client_free(struct kumo_rpc_client *c);

#endif
