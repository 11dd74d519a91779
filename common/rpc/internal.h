/* Internal structures of the RPC server, shared by rpc_server.c (threads,
 * listeners), rpc_conn.c (one HTTP/2 connection), rpc_stream.c (one request:
 * protocol detection, decoding, dispatch), rpc_respond.c (encoding answers
 * per protocol) and rpc_call.c (the handler-facing API). Not installed. */
#ifndef KUMO_RPC_INTERNAL_H
#define KUMO_RPC_INTERNAL_H

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/trace.h"
#include "base/arena.h"
#include "base/buf.h"
#include "wire/envelope.h"
#include "rpc/rpc.h"
#include "runtime/connlimit.h"
#include "rpc/server.h"

struct evconnlistener;

/* A registered method, resolved against its descriptor. */
struct kumo__rpc_method {
    char *path; /* "/pkg.Svc/Method" */
    const ProtobufCMethodDescriptor *desc;
    const struct kumo_rpc_method *entry; /* copy owned by the service */
    struct kumo_metrics_method *metric;  /* its series, looked up once */
    struct kumo__rpc_service *service;
};

struct kumo__rpc_service {
    struct kumo_rpc_service def;
    struct kumo_rpc_method *methods; /* copied table */
};

enum kumo__rpc_protocol {
    KUMO_PROTO_CONNECT = 1, /* Connect unary POST */
    KUMO_PROTO_CONNECT_GET, /* Connect unary GET */
    KUMO_PROTO_GRPC,
    KUMO_PROTO_GRPC_WEB,
    KUMO_PROTO_CONNECT_STREAM, /* Connect streaming (application/connect+...) */
};

struct kumo__io_thread;
struct kumo__conn;
struct kumo_metrics_method;

/* An error detail: a message's full type name and its serialized bytes. */
struct kumo__detail {
    const char *type;
    uint8_t *data;
    size_t len;
};

/* Request headers the server itself reads, indexed as they arrive so that
 * routing never scans the header list. */
enum kumo__known_header {
    KUMO_KH_CONTENT_TYPE,
    KUMO_KH_REQUEST_ID,
    KUMO_KH_GRPC_TIMEOUT,
    KUMO_KH_CONNECT_TIMEOUT,
    KUMO_KH_GRPC_ENCODING,
    KUMO_KH_GRPC_ACCEPT_ENCODING,
    KUMO_KH_CONTENT_ENCODING,
    KUMO_KH_ACCEPT_ENCODING,
    KUMO_KH_CONNECT_CONTENT_ENCODING,
    KUMO_KH_CONNECT_ACCEPT_ENCODING,
    KUMO_KH_AUTHORIZATION,
    KUMO_KH_TRACEPARENT,
    KUMO_KH_TRACESTATE,
    KUMO_KH_COUNT
};

/* One header as received. */
struct kumo__header {
    const char *name;
    const char *value;
    size_t value_len;
};

/* One RPC: the stream state on the I/O side and the call a handler sees.
 * Owned by its I/O thread; while `in_worker` a worker thread may touch the
 * request, arena, response and status (and nothing else). */
struct kumo_rpc_call {
    struct kumo__conn *conn;           /* NULL once the connection is gone */
    struct kumo__io_thread *io;        /* fixed: the thread that owns the call */
    struct kumo_rpc_call *prev, *next; /* the connection's live calls */
    int32_t stream_id;
    struct kumo_arena *arena;

    /* request */
    struct kumo__header *headers;
    size_t n_headers, cap_headers;
    const char *known[KUMO_KH_COUNT]; /* first value of each known header */
    size_t header_bytes;
    const char *method_name; /* :method */
    const char *path;        /* :path, without the query for GET */
    const char *query;       /* GET query string or NULL */
    const char *content_type;
    const char *encoding;        /* grpc-encoding / content-encoding */
    const char *accept_encoding; /* grpc-accept-encoding / accept-encoding */
    char request_id[48];
    int request_id_from_client;
    struct kumo_trace trace; /* the server span of this call (base/trace.h) */
    char peer[64];           /* copy of the connection's: the call may outlive it */
    enum kumo__rpc_protocol protocol;
    int json;     /* codec: JSON rather than binary protobuf */
    int gzip_in;  /* request messages may be gzip-compressed */
    int gzip_out; /* response may be gzip-compressed */
    const struct kumo__rpc_method *method;
    struct kumo_arena_buf body;            /* Connect unary body */
    struct kumo_envelope_reader envelopes; /* gRPC / gRPC-Web */
    int envelopes_inited;
    size_t in_bytes; /* request body bytes held, counted in conn->in_bytes */
    size_t messages_seen;
    int64_t started_ns;
    int64_t deadline; /* monotonic ns, 0 = none */
    struct event *deadline_ev;

    /* handler side */
    const ProtobufCMessage *request;
    ProtobufCMessage *response;
    void *principal; /* from the authenticator */
    kumo_code code;
    char *error_message;          /* arena */
    struct kumo__detail *details; /* arena */
    size_t n_details, cap_details;
    nghttp2_nv *resp_headers; /* extra response headers, arena */
    size_t n_resp_headers, cap_resp_headers;
    nghttp2_nv *resp_trailers;
    size_t n_resp_trailers, cap_resp_trailers;
    nghttp2_nv *final_trailers; /* gRPC trailers sent after the body, arena */
    size_t n_final_trailers;

    /* response side (I/O thread) */
    struct kumo_arena_buf out; /* response body; bytes from out_off still to send */
    size_t out_off;
    int headers_sent; /* response HEADERS submitted */
    int out_eof;      /* nothing more will be appended to `out` */
    int out_deferred; /* data provider returned DEFERRED */
    int answered;     /* final status decided; later results are dropped */
    int request_done; /* END_STREAM received */
    int reset_sent;   /* RST_STREAM submitted after an early answer */
    size_t discarded; /* request bytes dropped after an early answer */
    int dispatched;
    int in_worker;     /* handler running on a worker thread */
    int stream_closed; /* nghttp2 closed the stream */
    atomic_int cancelled;
    pthread_mutex_t sleep_mu; /* for kumo_rpc_call_sleep */
    pthread_cond_t sleep_cv;
    int sleep_inited;

    struct kumo_rpc_call *work_next; /* worker / completion queues */
    int deferred;                    /* waiting in the connection's deferred queue */
    struct kumo_rpc_call *defer_next;

    /* server streams (KUMO_RPC_SERVER_STREAM), I/O thread only */
    int held; /* in io->held, open after half-close */
    struct kumo_rpc_call *held_prev, *held_next;
    void *service_state; /* kumo_rpc_call_set_state */
};

/* One HTTP/2 connection. */
struct kumo__conn {
    struct kumo__io_thread *io;
    struct kumo__conn *prev, *next;
    nghttp2_session *session;
    SSL *ssl;
    int fd;
    struct event *read_ev;  /* first the TLS/h2c sniffer, then reads */
    struct event *write_ev; /* armed only while the kernel refuses bytes */
    int write_armed;
    int tls_ready;
    struct kumo_buf wbuf; /* output not yet taken by the kernel */
    size_t woff;
    int timer_mode;
    struct event *timer;         /* idle / receive / handshake timeout */
    struct kumo_rpc_call *calls; /* live calls */
    size_t n_calls;
    size_t n_receiving;  /* calls whose request has not fully arrived */
    size_t workers_busy; /* calls of this connection running in workers */
    size_t pending_out;  /* response bytes not yet handed to nghttp2 */
    size_t in_bytes;     /* request body bytes held by its calls (all streams) */
    /* Its place in the port's connection limit (kumo__rpc_admit): busy
     * while it has calls, idle (evictable) otherwise; released on close. */
    struct kumo_connlimit_slot *slot;
    int reading_paused;
    int goaway_sent;
    int dead; /* transport gone; freed when workers_busy drops to 0 */
    int preface_done;
    struct kumo_buf *memory_out; /* in-memory connection: output goes here */
    /* Complete requests not yet run because too much output is pending. */
    struct kumo_rpc_call *deferred_head, *deferred_tail;
    /* The call of the stream the last callback was about (stream.c): a
     * request's HEADERS, its header fields and its DATA come one after
     * another, so the nghttp2 stream lookup is skipped while the stream
     * stays the same. Cleared when that call leaves the connection. */
    struct kumo_rpc_call *last_call;
    char peer[64];
};

struct kumo__io_thread {
    struct kumo_rpc_server *srv;
    int index;
    pthread_t thread;
    struct event_base *base;
    struct evconnlistener *listener;
    struct kumo__conn *conns;
    size_t n_conns;
    struct event *wakeup_ev; /* completions / shutdown */
    pthread_mutex_t mu;
    struct kumo_rpc_call *completed; /* from workers, LIFO; guarded by mu */
    int shutdown_requested;          /* guarded by mu */
    int tick_requested;              /* guarded by mu (kumo_rpc_server_tick) */
    struct kumo_rpc_call *held;      /* held server streams (I/O thread only) */
    int draining;
    struct event *drain_ev;
    int stopped;
    /* Arenas of finished calls, reset and kept for the next ones. */
    struct kumo_arena *arena_pool[64];
    int n_arena_pool;
};

struct kumo_rpc_server {
    struct kumo_rpc_server_config cfg;
    char *bind_addr;
    char *tls_cert_file, *tls_key_file;
    SSL_CTX *ssl_ctx;
    struct kumo__rpc_service **services;
    size_t n_services;
    struct kumo__rpc_method *methods; /* sorted by path */
    size_t n_methods;
    int port;
    struct kumo__io_thread *io;
    int n_io;
    /* worker pool */
    pthread_t *workers;
    int n_workers;
    pthread_mutex_t work_mu;
    pthread_cond_t work_cv;
    struct kumo_rpc_call *work_head, *work_tail;
    int work_stop;
    kumo_rpc_auth_fn auth_fn;
    void *auth_ud;
    atomic_int shutdowns;
    atomic_int io_stopped;
    struct kumo_connlimit *limit; /* connection limits (from start) */
    int started;
};

/* rpc_server.c */
const struct kumo__rpc_method *kumo__rpc_find_method(const struct kumo_rpc_server *srv,
                                                     const char *path);
/* Queues a call for a worker thread. */
void kumo__rpc_work_submit(struct kumo_rpc_server *srv, struct kumo_rpc_call *call);
/* Adds (and removes) an event for every descriptor number below `upto`
 * on `base`, so libevent's per-descriptor slots are all allocated now,
 * side by side, and not among the first flood's connection memory (see
 * fdmap.c). Uses descriptors up to `upto` for a moment (fewer when the
 * process may not open that many). Returns the numbers covered. */
int kumo__rpc_prime_fd_map(struct event_base *base, int upto);

/* Admission of a new connection (socket fd) from `peer` on the RPC port:
 * the one place connection limits are decided (KUMO_MAX_CONNECTIONS per
 * port, KUMO_MAX_CONNECTIONS_PER_ADDRESS per client address), with
 * runtime/connlimit.h: at a limit the connection idle the longest (no call
 * open; from that address for the per-address limit) is shut down to make
 * room (kumo_connections_evicted_total), and only when none is idle is the
 * new one refused (kumo_connections_refused_total). Returns its slot, or
 * NULL when it must be refused. Any I/O thread. */
struct kumo_connlimit_slot *kumo__rpc_admit(struct kumo_rpc_server *srv, const char *peer, int fd);
/* Forgets a connection kumo__rpc_admit admitted (NULL: no-op). */
void kumo__rpc_release(struct kumo_rpc_server *srv, struct kumo_connlimit_slot *slot);
/* Marks a connection busy (a call opened) or idle (its last call ended). */
void kumo__rpc_conn_idle(struct kumo_rpc_server *srv, struct kumo_connlimit_slot *slot, int idle);

/* Held server streams (KUMO_RPC_SERVER_STREAM), on the call's I/O thread:
 * hold keeps the call open after the client half-closed; unhold forgets it
 * (kumo__call_free does it for a stream that closed). */
void kumo__io_hold(struct kumo_rpc_call *call);
void kumo__io_unhold(struct kumo_rpc_call *call);

/* Hands a finished call back to its I/O thread (from a worker). */
void kumo__io_post_completion(struct kumo__io_thread *io, struct kumo_rpc_call *call);
/* A connection was freed: the thread may stop if draining. */
void kumo__io_conn_gone(struct kumo__io_thread *io);

/* rpc_conn.c */
/* Takes ownership of an accepted socket. */
void kumo__conn_accept(struct kumo__io_thread *io, int fd, const struct sockaddr *addr, int alen);
/* Sends whatever nghttp2 has queued; closes the connection when done. */
void kumo__conn_flush(struct kumo__conn *conn);
/* Begins graceful close: GOAWAY, no new streams. */
void kumo__conn_goaway(struct kumo__conn *conn);
/* Tears the connection down now. */
void kumo__conn_close(struct kumo__conn *conn);
/* For fuzzing and tests: a connection over no socket. Output is appended
 * to `out` (may be NULL to discard). */
struct kumo__conn *kumo__conn_new_memory(struct kumo__io_thread *io, struct kumo_buf *out);
/* Feeds raw client bytes (after the preface is fine too: nghttp2 expects
 * the client magic first). Returns 0 or a negative nghttp2 error. */
int kumo__conn_feed(struct kumo__conn *conn, const uint8_t *data, size_t len);
/* For fuzzing and tests: prepares the server's I/O structures without
 * binding or starting threads; returns I/O thread 0. */
struct kumo__io_thread *kumo__rpc_server_prepare_offline(struct kumo_rpc_server *srv);
/* For fuzzing and tests: runs queued blocking handlers on this thread and
 * completes them. */
void kumo__rpc_server_run_pending(struct kumo_rpc_server *srv);
/* Output bytes per connection past which no new request is read or run. */
#define KUMO__PENDING_OUT_HIGH (4u * 1024 * 1024)
#define KUMO__PENDING_OUT_LOW  (1u * 1024 * 1024)
/* Runs deferred requests while the output is below the high mark. */
void kumo__conn_run_deferred(struct kumo__conn *conn);
/* Reading back-pressure after response bytes were produced or consumed. */
void kumo__conn_update_backpressure(struct kumo__conn *conn);

/* rpc_stream.c: nghttp2 callbacks for a server session */
void kumo__stream_install_callbacks(nghttp2_session_callbacks *cbs);
/* A worker finished a handler: called on the I/O thread. */
void kumo__stream_work_done(struct kumo_rpc_call *call);
/* Frees a call (I/O thread, not in a worker). */
void kumo__call_free(struct kumo_rpc_call *call);
/* Runs the handler (worker or I/O thread). */
void kumo__call_run_handler(struct kumo_rpc_call *call);
/* Marks cancelled and wakes a sleeping handler. */
void kumo__call_cancel(struct kumo_rpc_call *call);

/* rpc_respond.c */
/* Answers the call with its code/response in the call's protocol, submitting
 * headers, body and trailers to nghttp2. */
void kumo__respond(struct kumo_rpc_call *call);
/* Answers an error decided by the server itself (before or instead of the
 * handler). */
void kumo__respond_error(struct kumo_rpc_call *call, kumo_code code, const char *msg);
/* Answers a plain HTTP error (405, 415...) outside any RPC protocol. */
void kumo__respond_http(struct kumo_rpc_call *call, int status, const char *extra_name,
                        const char *extra_value, const char *json_body);
/* For KUMO_RPC_STREAM_EACH: sends one response message now. */
void kumo__respond_stream_message(struct kumo_rpc_call *call, const ProtobufCMessage *msg);
/* Data provider read callback. */
ssize_t kumo__respond_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                           uint32_t *data_flags, nghttp2_data_source *source, void *user_data);

/* rpc_tls.c */
int kumo__tls_server_ctx(const char *cert_file, const char *key_file, SSL_CTX **out);

/* ---- request_headers.c: reading the request headers ---- */

/* Returns the index of a header the server reads, or -1. */
int kumo__req_known_header(const uint8_t *name, size_t len);

/* The media type without parameters, lowercased: ct itself when it is one
 * already, else a copy in the call's arena. */
const char *kumo__req_media_type(struct kumo_rpc_call *call, const char *ct);

/* Returns 0 and sets protocol/json, or -1 for an unsupported type. */
int kumo__req_classify_content_type(struct kumo_rpc_call *call, const char *mt);

/* Whether a client-sent request id is usable: 1..sizeof(request_id)-1
 * characters of [A-Za-z0-9._-]. */
int kumo__req_request_id_ok(const char *s);

/* Writes a fresh 32-hex-digit request id (unique enough for correlation,
 * not a secret) into out; outlen must be at least 33. */
void kumo__req_make_request_id(char *out, size_t outlen);

/* Reads grpc-timeout / connect-timeout-ms into call->deadline and arms the
 * deadline timer. Returns 0, or -1 after answering (malformed or already
 * expired). */
int kumo__req_parse_deadline(struct kumo_rpc_call *call);

/* Settles the compression of the request body and of the answer from the
 * protocol's encoding headers. Returns 0, or -1 after answering
 * (unsupported request compression). */
int kumo__req_setup_encodings(struct kumo_rpc_call *call);

/* Authenticates from the headers alone, before any of the body is read or
 * decoded: an unauthenticated caller of a non-public method learns nothing
 * about its request and costs no decode; the rest of its body is dropped
 * unbuffered, then its stream reset (discard). Returns 0, or -1 after
 * answering. */
int kumo__req_authenticate(struct kumo_rpc_call *call);

/* Deadline timer callback of a call (arg: the call): answers
 * deadline_exceeded and cancels the handler's work. */
void kumo__call_on_deadline(evutil_socket_t fd, short what, void *arg);

#endif
