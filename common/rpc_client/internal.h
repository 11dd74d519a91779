/* Internals shared by rpc_client.c (the callers' side: building calls,
 * waiting, decoding) and rpc_client_conn.c / rpc_client_h2.c (the I/O
 * thread: connections, TLS, nghttp2). Not a public header. */
#ifndef KUMO_RPC_CLIENT_INTERNAL_H
#define KUMO_RPC_CLIENT_INTERNAL_H

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "wire/envelope.h"
#include "rpc_client/client.h"

struct kumo__rpc_call;
struct kumo__rpc_conn;

/* An intrusive FIFO of calls (a call is in at most one list at a time). */
struct kumo__rpc_call_list {
    struct kumo__rpc_call *head;
    struct kumo__rpc_call *tail;
    size_t n;
};

enum kumo__rpc_encoding {
    KUMO__RPC_ENC_IDENTITY = 0,
    KUMO__RPC_ENC_GZIP = 1,
    KUMO__RPC_ENC_OTHER = 2,
};

/* One call in flight. Two references: the caller's, dropped when
 * kumo_rpc_client_call returns (or once an asynchronous call's callback ran), and the I/O thread's,
 * dropped by kumo__rpc_call_io_release once neither libevent nor nghttp2 can reach the call any
 * more. Whoever drops the last one frees it. */
struct kumo__rpc_call {
    struct kumo_rpc_client *client;
    struct kumo__rpc_call *prev, *next;

    /* The request; immutable once submitted. */
    char *path;
    char *request_id;    /* or NULL */
    char *authorization; /* or NULL */
    char *traceparent;   /* or NULL: W3C trace context of the caller's span */
    char *tracestate;    /* or NULL */
    char **md;           /* n_md name/value pairs: md[2i], md[2i+1] */
    size_t n_md;
    int64_t deadline;     /* CLOCK_MONOTONIC ns, 0 = none */
    struct kumo_buf body; /* the enveloped request message */
    size_t body_off;      /* bytes of body handed to nghttp2 so far */

    /* I/O thread only. */
    struct kumo__rpc_conn *conn; /* set while the call has a stream */
    int32_t stream_id;
    struct event *timer; /* deadline, or NULL */
    int io_done;         /* the I/O thread has settled the outcome */
    int got_headers;
    int http_status;
    int grpc_content_type;
    int have_grpc_status;
    int grpc_status; /* -1 when the value was malformed */
    int have_grpc_message;
    struct kumo_buf grpc_message; /* raw, still percent-encoded */
    int64_t retry_after_s;        /* from a retry-after header or trailer, 0 = none */
    enum kumo__rpc_encoding encoding;
    struct kumo_envelope_reader reader;
    int n_msgs;
    uint8_t resp_flags;
    struct kumo_buf resp; /* the response message as received (maybe compressed) */

    /* Asynchronous calls: the callback and how to unpack the response
     * (immutable once submitted); done_fn NULL for a blocking call. */
    kumo_rpc_done_fn done_fn;
    void *done_arg;
    const ProtobufCMessageDescriptor *resp_desc;
    ProtobufCAllocator *resp_alloc;

    /* Under client->mu. */
    int refs;
    int done;
    kumo_code code;
    char *message; /* owned until the caller takes it */
    pthread_cond_t cond;
};

/* nghttp2's send callback stops (WOULDBLOCK) while a connection's output
 * holds this much: memory per connection stays bounded. */
#define KUMO__RPC_OUTPUT_HIGH_WATER (256 * 1024)

/* An HTTP/2 connection; I/O thread only. */
struct kumo__rpc_conn {
    struct kumo_rpc_client *client;
    struct kumo__rpc_conn *prev, *next; /* in client->conns */
    struct bufferevent *bev;
    nghttp2_session *session; /* created once the transport is up */
    struct event *connect_timer;
    struct event *kick; /* deferred "send what nghttp2 has queued" */
    struct event *rd;   /* plaintext once up: read here, not by bev (conn.c) */
    struct kumo__rpc_call_list streams;
    int ready;        /* transport up, session created */
    int usable;       /* the server's SETTINGS arrived: streams may start */
    int goaway;       /* no new streams: GOAWAY received or ids exhausted */
    int closing;      /* client shutting down: close once output drained */
    int check_unsent; /* some request HEADERS were not sent (see h2.c) */
};

struct kumo_rpc_client {
    /* Configuration, immutable after new(). */
    char *target; /* also the :authority */
    char *host;
    char *port;
    int tls;
    char *verify_name;
    int verify_name_is_ip;
    size_t max_message_size;
    int connect_timeout_ms;
    int no_compression;           /* cfg->no_compression */
    struct sockaddr_storage addr; /* when host is a numeric address */
    socklen_t addr_len;           /* 0 when host is a name */

    SSL_CTX *ssl_ctx;
    struct event_base *base;
    struct evdns_base *dns; /* only for a name target */
    struct event *wake;
    struct event *shutdown_timer;
    struct event *log_flush; /* writes the I/O thread's held log lines (conn.c) */
    pthread_t thread;

    pthread_mutex_t mu;
    pthread_condattr_t cond_attr;         /* CLOCK_MONOTONIC, for the calls' conds */
    pthread_cond_t idle;                  /* signalled when n_callers drops to 0 while closing */
    struct kumo__rpc_call_list submitted; /* callers -> I/O thread, under mu */
    int closing;                          /* under mu */
    int n_callers;                        /* under mu */
    struct kumo_rpc_client_stats stats;   /* under mu */

    /* I/O thread only. */
    struct kumo__rpc_call_list pending; /* waiting for a connection or a stream slot */
    struct kumo__rpc_conn *conn;        /* where new streams go, or NULL */
    struct kumo__rpc_conn *conns;       /* every open connection */
    int shutting_down;
};

/* ---- rpc_client.c ---- */

void kumo__rpc_list_push(struct kumo__rpc_call_list *l, struct kumo__rpc_call *call);
void kumo__rpc_list_push_front(struct kumo__rpc_call_list *l, struct kumo__rpc_call *call);
void kumo__rpc_list_remove(struct kumo__rpc_call_list *l, struct kumo__rpc_call *call);
struct kumo__rpc_call *kumo__rpc_list_pop(struct kumo__rpc_call_list *l);

/* Settles the outcome of `call` unless it already is (first one wins) and
 * wakes its caller (an asynchronous call's callback runs in it, on the I/O
 * thread, without the lock). Takes ownership of `message` (malloc'd or NULL). */
void kumo__rpc_call_complete(struct kumo__rpc_call *call, kumo_code code, char *message);
/* Same with a printf-formatted message. */
void kumo__rpc_call_completef(struct kumo__rpc_call *call, kumo_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Drops the I/O thread's reference (frees its timer and reader first). The
 * call must be in no list of the I/O thread any more. */
void kumo__rpc_call_io_release(struct kumo__rpc_call *call);
/* Bumps a counter of client->stats under the lock. */
void kumo__rpc_stat_inc(struct kumo_rpc_client *c, uint64_t *counter);
/* Around the I/O thread's delivery of the answers of one read: the work the
 * callbacks deferred (kumo_rpc_client_defer) runs at the outermost end. */
void kumo__rpc_batch_begin(void);
void kumo__rpc_batch_end(void);

/* ---- rpc_client_conn.c: the I/O thread ---- */

/* Creates the base, wake event and TLS context pieces the thread needs and
 * starts the thread. Returns 0 or a negative KUMO_ERR_*. */
int kumo__rpc_io_start(struct kumo_rpc_client *c);
/* Asks the thread to shut down (c->closing must be set) and joins it. */
void kumo__rpc_io_stop(struct kumo_rpc_client *c);
/* Schedules conn_flush for `conn` on the next loop iteration. */
void kumo__rpc_conn_kick(struct kumo__rpc_conn *conn);

/* ---- rpc_client_h2.c: nghttp2 glue ---- */

/* Creates the nghttp2 client session of `conn` and queues its SETTINGS.
 * Returns 0 or a negative KUMO_ERR_*. */
int kumo__rpc_h2_session_new(struct kumo__rpc_conn *conn);
/* Submits the request of `call` on `conn`. Returns the stream id (> 0), or a
 * negative nghttp2 error. */
int32_t kumo__rpc_h2_submit(struct kumo__rpc_conn *conn, struct kumo__rpc_call *call);
/* Releases the calls whose request HEADERS nghttp2 dropped without opening a
 * stream (after nghttp2_session_send returned). */
void kumo__rpc_h2_reap_unsent(struct kumo__rpc_conn *conn);

#endif
