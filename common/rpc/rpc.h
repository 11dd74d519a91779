/* The handler-side API of kumo's RPC server: how a service declares its
 * methods, and what a handler may ask of the call it serves.
 *
 * A service is a protoc-c ProtobufCServiceDescriptor plus a table of
 * handlers (h2o style: registered from a table, not by callbacks scattered
 * over the code). The server decodes each request into the call's arena,
 * runs the handler, encodes the response in the protocol the client spoke
 * (Connect, gRPC or gRPC-Web; binary or JSON) and frees the arena when the
 * stream closes. */
#ifndef KUMO_RPC_H
#define KUMO_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h" /* kumo_now_ns, which handlers time with */
#include "base/errors.h"

struct kumo_rpc_call; /* one RPC in progress; owned by the server */

/* A handler. On success it sets *response to a message that lives at least
 * as long as the call (allocate it with kumo_rpc_call_alloc or the call's
 * allocator) and returns KUMO_CODE_OK. On failure it returns
 * kumo_rpc_call_error(call, code, ...), and *response is ignored.
 * The request is owned by the call and valid until the call ends. */
typedef kumo_code (*kumo_rpc_handler_fn)(struct kumo_rpc_call *call,
                                         const ProtobufCMessage *request,
                                         ProtobufCMessage **response);

enum kumo_rpc_method_flags {
    /* Side-effect free: Connect clients may call it with HTTP GET. */
    KUMO_RPC_NO_SIDE_EFFECTS = 1u << 0,
    /* May block (MySQL, disk, another RPC): runs on a worker thread, never on
     * an I/O thread. Without it the handler runs on the I/O thread and must
     * return promptly. */
    KUMO_RPC_BLOCKING = 1u << 1,
    /* Streaming, message by message (bidi/client streams such as gRPC
     * reflection): the handler runs once per request message and each
     * response it returns is sent as one message; the stream ends with OK
     * when the client half-closes, or with the first error returned. gRPC
     * and gRPC-Web only (Connect unary cannot carry streams). */
    KUMO_RPC_STREAM_EACH = 1u << 2,
    /* Needs no credentials (health checks, reflection). */
    KUMO_RPC_PUBLIC = 1u << 3,
    /* Server streaming (set with STREAM_EACH): the answer to the one request
     * message is the first response message, and when the client
     * half-closes the stream stays open ("held") instead of ending. The
     * method's `tick` then runs on the call's I/O thread after each
     * kumo_rpc_server_tick and once more when the server starts draining,
     * and may return a further message. A draining server ends held
     * streams with `unavailable` (after that last tick), so they never hold
     * up the drain. gRPC and gRPC-Web only. */
    KUMO_RPC_SERVER_STREAM = 1u << 4,
};

/* A held stream's tick (KUMO_RPC_SERVER_STREAM): returns the next message
 * to send (allocated with kumo_rpc_call_alloc), or NULL when there is
 * nothing new. Runs on the call's I/O thread: must not block. */
typedef ProtobufCMessage *(*kumo_rpc_tick_fn)(struct kumo_rpc_call *call);

/* One entry of a service's handler table. */
struct kumo_rpc_method {
    const char *name; /* method name as declared in the .proto: "Echo" */
    kumo_rpc_handler_fn handler;
    unsigned flags;        /* enum kumo_rpc_method_flags */
    kumo_rpc_tick_fn tick; /* KUMO_RPC_SERVER_STREAM only, else NULL */
};

/* A service to register with the server. The server copies the struct and
 * the table; the descriptor must outlive the server (protoc-c's are
 * static). Every table entry must name a method of the descriptor. */
struct kumo_rpc_service {
    const ProtobufCServiceDescriptor *descriptor;
    const struct kumo_rpc_method *methods;
    size_t n_methods;
    void *user_data; /* returned by kumo_rpc_call_service_data */
};

/* The service of `descriptor` whose handler table is the array `methods`
 * (its length taken with sizeof), with `user_data`. */
#define KUMO_RPC_SERVICE(descriptor, methods, user_data)                                           \
    ((struct kumo_rpc_service){(descriptor), (methods), sizeof(methods) / sizeof((methods)[0]),    \
                               (user_data)})

/* Authenticates a call before its body is read (every method but those
 * flagged KUMO_RPC_PUBLIC). `authorization` is the request's authorization
 * header or NULL. On success it returns KUMO_CODE_OK and may set *principal
 * to data allocated with kumo_rpc_call_alloc (what handlers get from
 * kumo_rpc_call_principal); otherwise it returns kumo_rpc_call_error(call,
 * KUMO_CODE_UNAUTHENTICATED, ...). Runs on the I/O thread as soon as the
 * request headers are in, so that an unauthenticated body is never buffered
 * nor decoded: it must not block (CPU work such as a signature check is
 * fine; I/O is not). Only the headers are available (kumo_rpc_call_header,
 * _peer, _path, _request_id), not the request message. */
typedef kumo_code (*kumo_rpc_auth_fn)(void *ud, struct kumo_rpc_call *call,
                                      const char *authorization, void **principal);

/* ---- what a handler may ask of its call ---- */

/* The principal set by the server's authenticator, or NULL (public methods,
 * or no authenticator installed). */
void *kumo_rpc_call_principal(const struct kumo_rpc_call *call);

/* Allocates `size` bytes that live until the call ends (the call's arena). */
void *kumo_rpc_call_alloc(struct kumo_rpc_call *call, size_t size);

/* A new message of type `desc` with its defaults set (protobuf-c's
 * init), living until the call ends. */
void *kumo_rpc_call_new(struct kumo_rpc_call *call, const ProtobufCMessageDescriptor *desc);

/* A protobuf-c allocator drawing from the call's arena; for
 * protobuf_c_message_unpack and friends. Owned by the call. */
ProtobufCAllocator *kumo_rpc_call_allocator(struct kumo_rpc_call *call);

/* Records the error status of the call and returns `code`, so a handler can
 * write `return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "no %s", id);`.
 * The message is what clients see: never put secrets in it. */
kumo_code kumo_rpc_call_error(struct kumo_rpc_call *call, kumo_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Attaches an error detail (sent as google.protobuf.Any in
 * grpc-status-details-bin for gRPC, in "details" for Connect). The message
 * is serialized immediately; `msg` need not outlive the call. */
void kumo_rpc_call_add_error_detail(struct kumo_rpc_call *call, const ProtobufCMessage *msg);

/* Returns the value of request header `name` (lowercase), or NULL. For a
 * header sent several times, the first value. Valid until the call ends. */
const char *kumo_rpc_call_header(const struct kumo_rpc_call *call, const char *name);

/* Adds a response header (gRPC: initial metadata; Connect: a header). The
 * name must be lowercase, as HTTP/2 requires; both strings are copied. */
void kumo_rpc_call_set_header(struct kumo_rpc_call *call, const char *name, const char *value);

/* Adds a response trailer (gRPC: trailing metadata; Connect unary: a
 * header prefixed "trailer-"). Lowercase name; both strings are copied. */
void kumo_rpc_call_set_trailer(struct kumo_rpc_call *call, const char *name, const char *value);

/* The request id: the client's x-request-id when it sent a sane one, else
 * one generated by the server. Never NULL. */
const char *kumo_rpc_call_request_id(const struct kumo_rpc_call *call);

/* The call's server span (base/trace.h): the child of the client's
 * traceparent, or the root of a new trace. Valid until the call ends. */
struct kumo_trace;
const struct kumo_trace *kumo_rpc_call_trace(const struct kumo_rpc_call *call);

/* The numeric address of the peer that opened the connection ("192.0.2.7",
 * "2001:db8::1"), without port; "" when unknown (in-memory connections).
 * This is the direct peer: a proxy's address when there is one (trusting
 * x-forwarded-for is the service's decision). Valid until the call ends. */
const char *kumo_rpc_call_peer(const struct kumo_rpc_call *call);

/* "/package.Service/Method". */
const char *kumo_rpc_call_path(const struct kumo_rpc_call *call);

/* The deadline as CLOCK_MONOTONIC nanoseconds, or 0 when the client set
 * none. */
int64_t kumo_rpc_call_deadline(const struct kumo_rpc_call *call);

/* Nanoseconds left before the deadline (never negative), or -1 when there
 * is no deadline. What a handler passes on to the next hop. */
int64_t kumo_rpc_call_remaining(const struct kumo_rpc_call *call);

/* Nonzero once the call can no longer be answered: the deadline passed, the
 * client reset the stream or went away, or the server is closing at once. */
int kumo_rpc_call_cancelled(const struct kumo_rpc_call *call);

/* Sleeps up to `ns` nanoseconds, waking early when the call is cancelled.
 * Only for KUMO_RPC_BLOCKING handlers. Returns 0 after the full sleep,
 * 1 when cancelled. */
int kumo_rpc_call_sleep(struct kumo_rpc_call *call, int64_t ns);

/* The service's user_data. */
void *kumo_rpc_call_service_data(const struct kumo_rpc_call *call);

/* Per-call state of a service (e.g. what a held stream last sent): any
 * pointer, NULL until set; memory from kumo_rpc_call_alloc lives as long as
 * the call. */
void kumo_rpc_call_set_state(struct kumo_rpc_call *call, void *state);
void *kumo_rpc_call_state(const struct kumo_rpc_call *call);

/* A call no client made, for background work that reuses a handler's
 * helpers (an arena, errors, a deadline, a request id, a principal): e.g.
 * kumo-documents completing an upload from a storage event. It has no
 * connection, headers or service: kumo_rpc_call_service_data must not be
 * called on it (pass the service's context explicitly); kumo_rpc_call_error
 * records the status, read back with kumo_rpc_call_status. request_id
 * (copied, may be NULL), deadline (monotonic ns, 0 = none), principal
 * (borrowed, may be NULL). Free with kumo_rpc_call_background_free. */
struct kumo_rpc_call *kumo_rpc_call_background(const char *request_id, int64_t deadline,
                                               void *principal);
void kumo_rpc_call_background_free(struct kumo_rpc_call *call);
/* The code and message the last kumo_rpc_call_error recorded (OK, "" when
 * none). */
kumo_code kumo_rpc_call_status(const struct kumo_rpc_call *call, const char **message);

#endif
