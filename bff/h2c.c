/* The h2c front-end (HTTP/2 over cleartext with prior knowledge, as
 * `curl --http2-prior-knowledge` speaks it) on the same port as HTTP/1.1:
 * the listener hands a connection whose first bytes are the HTTP/2 preface
 * to bff_h2c_serve. The connection is served by an event loop, the I/O
 * thread of the RPC client to kumo-documents (kumo_rpc_client_event_base):
 * its bytes are read there, its nghttp2 server session runs there, and a
 * GET of a BFF_ASYNC route is started there (bff_handle_start: its RPC
 * goes out from the thread that sends it, no wake-up across threads),
 * answered there when the RPC's answer arrives (bff_handle_resume) and
 * written there: once every RPC answer of one read is delivered
 * (kumo_rpc_client_defer), the answers ready on a connection go out in
 * one send. Any other request (bff_handle) runs on a thread of the handler
 * pool (pool.h), so the streams of one connection are served side by side;
 * the pool thread hands the stream back through the connection's `done`
 * list and a libevent event. An asynchronous request whose RPC was made
 * on another client (kumo-users) comes back the same way. The socket is
 * non-blocking: what it does not take waits for EV_WRITE, and nghttp2 is
 * asked for more only once that is out. The thread that called
 * bff_h2c_serve only waits for the loop to be done with the connection
 * (a condition variable; it takes no part in serving), then lingers after
 * a GOAWAY and frees. Limits: the body limit while reading DATA (413),
 * BFF_MAX_HEADERS headers, 64 KiB of header list, and KUMO_CLIENT_TIMEOUT
 * three times: a connection without an open stream that long is closed
 * (PINGs or a trickled preface do not keep it), a request still being
 * received that long after its HEADERS began is answered 408 and reset
 * (trickling bytes must not hold a stream forever), and a client that
 * takes none of our bytes for that long is disconnected. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/alloc.h"
#include "bff.h"
#include "pool.h"
#include "rpc_client/client.h"
#include "runtime/connlimit.h"
#include "runtime/log.h"
#include "base/pctenc.h"
#include "runtime/metrics.h"
#include "rpc/rpc.h"

struct h2_stream {
    int32_t id;
    struct kumo_arena *arena;
    struct bff_request rq;
    char *method, *path_raw;
    struct kumo_buf body;
    struct bff_response rs;
    size_t sent;
    int too_large;
    int header_bytes;
    int complete;            /* END_STREAM received */
    int cut;                 /* answered 408 for reading too slowly */
    int reset;               /* and then reset: it kept sending */
    int64_t cut_ns;          /* when it was answered 408 */
    int64_t begin_ns;        /* HEADERS began (kumo_now_ns) */
    int busy;                /* a pool thread is serving it, or its RPC is in flight */
    struct bff_async *async; /* served without a thread: pending (bff_handle_start) */
    int orphan;              /* closed while busy: freed when the pool hands it back */
    struct h2_conn *conn;
    struct h2_stream *next_ready;
    struct h2_stream *next_done;
    struct h2_stream *prev_all, *next_all; /* every live stream of the conn */
};

/* Streams a client may open at once on one connection: a page's worth of
 * requests (a console view sends ~50) fits; they are served side by side,
 * bounded over all connections by the handler pool. */
#define MAX_STREAMS 100

/* Longest lingering close after GOAWAY (see the end of bff_h2c_serve). */
#define LINGER_NS (500LL * 1000000)

/* How long a stream answered 408 may go on sending before it is reset. */
#define CUT_GRACE_NS (1000LL * 1000000)

/* How often the loop looks at a connection's clocks (idle, slow
 * requests, a stalled reader) and at the drain flags. */
#define TICK_MS 100

struct h2_conn {
    struct bff *app;
    int fd;
    const char *peer;
    nghttp2_session *sess;
    struct h2_stream *ready, **ready_tail;
    struct h2_stream *all; /* freed at the end: nghttp2_session_del does not
                              call on_stream_close */
    int failed;
    struct bff_pool *pool, *cheap; /* the lanes (http1.c) */
    int outstanding;               /* streams with a pool thread or an RPC out */
    int goaway;                    /* GOAWAY sent (drain): later streams are refused */
    int32_t last_id;               /* the GOAWAY's last stream id */
    int32_t refuse[8];             /* streams past it, to be refused after mem_recv */
    int n_refuse;
    atomic_int *draining, *stopping;
    struct kumo_connlimit *limit;
    struct kumo_connlimit_slot *slot;
    int idle;           /* as told to `limit`: no stream open */
    int64_t idle_since; /* no stream open since (kumo_now_ns) */
    /* The loop's events: readable, writable (only while `out` holds bytes),
     * the clock, the first send (SETTINGS), streams handed back. */
    struct event *rd, *wr, *tick, *kick, *back;
    pthread_t loop; /* the loop's thread (set by its first callback, before
                       any stream exists) */
    int loop_known;
    struct kumo_buf out; /* bytes the socket did not take yet */
    size_t out_off;      /* sent of them */
    int64_t out_since;   /* when the socket last took nothing of `out` */
    int wr_on;
    int ending; /* the loop is done reading and writing: streams still out
                   come back through `back`, then `finished` */
    /* Handed back by pool threads (and by another client's I/O thread). */
    pthread_mutex_t done_mu;
    struct h2_stream *done;
    /* The answers finished while an RPC client delivered one read's answers
     * go out once it is done (kumo_rpc_client_defer): one send for all. */
    struct kumo_rpc_deferred later;
    int later_queued;
    /* The loop's end of the connection, told to bff_h2c_serve's thread. */
    pthread_mutex_t fin_mu;
    pthread_cond_t fin_cv;
    int finished;
};

static void unlink_all(struct h2_conn *c, struct h2_stream *st)
{
    if (st->prev_all)
        st->prev_all->next_all = st->next_all;
    else if (c->all == st)
        c->all = st->next_all;
    if (st->next_all)
        st->next_all->prev_all = st->prev_all;
    st->prev_all = st->next_all = NULL;
}

static void stream_free(struct h2_conn *c, struct h2_stream *st)
{
    if (!st->orphan)
        unlink_all(c, st);
    bff_response_clear(&st->rs);
    kumo_buf_free(&st->body);
    kumo_arena_free(st->arena);
    kumo_free(st);
}

static void know_loop(struct h2_conn *c)
{
    if (!c->loop_known) {
        c->loop = pthread_self();
        c->loop_known = 1;
    }
}

static int on_loop(const struct h2_conn *c)
{
    return pthread_equal(pthread_self(), c->loop);
}

/* The loop is done with the connection: tells bff_h2c_serve's thread,
 * which frees it. Nothing may touch `c` after this. */
static void finish(struct h2_conn *c)
{
    pthread_mutex_lock(&c->fin_mu);
    c->finished = 1;
    pthread_cond_signal(&c->fin_cv);
    pthread_mutex_unlock(&c->fin_mu);
}

/* Stops reading and writing (closing, failed, or the drain deadline);
 * finished at once when no stream is out, else when the last comes back
 * (take_done). Returns 1 when finished: the caller must not touch `c`. */
static int end_conn(struct h2_conn *c)
{
    if (!c->ending) {
        c->ending = 1;
        event_del(c->rd);
        event_del(c->wr);
        event_del(c->tick);
        event_del(c->kick);
    }
    if (c->outstanding > 0)
        return 0;
    finish(c);
    return 1;
}

/* Sends out[out_off..) without blocking. Returns 0 (some may be left, with
 * EV_WRITE armed), or -1 with the connection failed. */
static int send_out(struct h2_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            c->failed = 1;
            return -1;
        }
        c->out_off += (size_t)n;
        c->out_since = kumo_now_ns();
    }
    if (c->out_off == c->out.len) {
        kumo_buf_reset(&c->out);
        c->out_off = 0;
        if (c->wr_on) {
            event_del(c->wr);
            c->wr_on = 0;
        }
    } else if (!c->wr_on) {
        event_add(c->wr, NULL);
        c->wr_on = 1;
    }
    return 0;
}

/* Sends what nghttp2 has queued, gathered into as few send(2) calls as
 * it fits (the answers finished in one loop iteration go out together,
 * not a syscall per frame); nothing more is taken from nghttp2 while the
 * socket still holds back earlier bytes. Then closes the connection if it
 * failed or nghttp2 has nothing left to do. Returns 1 when the connection
 * is finished (the caller must not touch `c`), else 0. Loop only. */
static int flush(struct h2_conn *c)
{
    if (c->ending)
        return 0;
    while (!c->failed && c->out.len == 0) {
        for (;;) {
            const uint8_t *data;
            ssize_t len = nghttp2_session_mem_send(c->sess, &data);
            if (len < 0) {
                c->failed = 1;
                break;
            }
            if (len == 0)
                break;
            kumo_buf_append(&c->out, data, (size_t)len);
            if (c->out.len >= 64 * 1024)
                break;
        }
        if (c->out.len == 0 || send_out(c) != 0)
            break;
    }
    if (c->failed)
        return end_conn(c);
    if (c->out.len == 0 && !nghttp2_session_want_read(c->sess) &&
        !nghttp2_session_want_write(c->sess))
        return end_conn(c);
    return 0;
}

/* After our GOAWAY, nghttp2 silently ignores a stream the client opens
 * past its last stream id; a client that has not read the GOAWAY yet is
 * told at once, with RST_STREAM REFUSED_STREAM, that it may retry it
 * elsewhere (RFC 9113 8.7: it was not processed). */
static int on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *ud)
{
    struct h2_conn *c = ud;
    if (c->goaway && hd->type == NGHTTP2_HEADERS && hd->stream_id > c->last_id &&
        (hd->stream_id & 1) && !nghttp2_session_get_stream_user_data(s, hd->stream_id) &&
        c->n_refuse < (int)(sizeof c->refuse / sizeof c->refuse[0]))
        c->refuse[c->n_refuse++] = hd->stream_id;
    return 0;
}

/* Refuses the streams on_begin_frame noted, once nghttp2 has read their
 * HEADERS (before that it takes them for idle and drops an RST_STREAM). */
static void refuse_noted(struct h2_conn *c)
{
    for (int i = 0; i < c->n_refuse; i++)
        nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, c->refuse[i], NGHTTP2_REFUSED_STREAM);
    c->n_refuse = 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct h2_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *st = kumo_calloc(1, sizeof *st);
    st->id = f->hd.stream_id;
    st->arena = kumo_arena_new();
    st->begin_ns = kumo_now_ns();
    st->conn = c;
    st->next_all = c->all;
    if (c->all)
        c->all->prev_all = st;
    c->all = st;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static void add_header(struct h2_stream *st, const char *name, const char *value, size_t vlen)
{
    struct bff_request *rq = &st->rq;
    if (strcmp(name, "cookie") == 0) {
        /* HTTP/2 may split Cookie into several fields: join them. */
        for (size_t i = 0; i < rq->n_headers; i++) {
            if (strcmp(rq->headers[i].name, "cookie") == 0) {
                size_t old = strlen(rq->headers[i].value);
                char *j = kumo_arena_alloc(st->arena, old + 2 + vlen + 1);
                memcpy(j, rq->headers[i].value, old);
                memcpy(j + old, "; ", 2);
                memcpy(j + old + 2, value, vlen);
                j[old + 2 + vlen] = '\0';
                rq->headers[i].value = j;
                return;
            }
        }
    }
    if (rq->n_headers >= BFF_MAX_HEADERS) {
        rq->too_many_headers = 1;
        return;
    }
    rq->headers[rq->n_headers].name = kumo_arena_strdup(st->arena, name);
    rq->headers[rq->n_headers].value = kumo_arena_strndup(st->arena, value, vlen);
    rq->n_headers++;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    st->header_bytes += (int)(namelen + valuelen + 32);
    if (st->header_bytes > 64 * 1024)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    char *n = kumo_arena_strndup(st->arena, (const char *)name, namelen);
    if (strcmp(n, ":method") == 0)
        st->method = kumo_arena_strndup(st->arena, (const char *)value, valuelen);
    else if (strcmp(n, ":path") == 0)
        st->path_raw = kumo_arena_strndup(st->arena, (const char *)value, valuelen);
    else if (n[0] != ':')
        add_header(st, n, (const char *)value, valuelen);
    if (strcmp(n, "content-length") == 0) {
        /* Refuse a declared oversize body without buffering any of it. */
        char *end;
        unsigned long long cl =
            strtoull(kumo_arena_strndup(st->arena, (const char *)value, valuelen), &end, 10);
        /* Authorization may come later: the route's ceiling here, the
         * exact limit on the DATA (all headers known by then). */
        if (cl > (unsigned long long)bff_body_limit(((struct h2_conn *)ud)->app, st->method,
                                                    st->path_raw, 1))
            st->too_large = 1;
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
    (void)flags;
    struct h2_conn *c = ud;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st || st->too_large || st->cut)
        return 0;
    const char *auth = bff_header(&st->rq, "authorization");
    if (st->body.len + len >
        (size_t)bff_body_limit(c->app, st->method, st->path_raw, auth && *auth)) {
        st->too_large = 1;
        kumo_buf_free(&st->body);
        return 0;
    }
    kumo_buf_append(&st->body, data, len);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct h2_conn *c = ud;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st || st->complete)
        return 0;
    st->complete = 1;
    if (st->cut)
        return 0; /* already answered 408 */
    st->next_ready = NULL;
    *c->ready_tail = st;
    c->ready_tail = &st->next_ready;
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    struct h2_conn *c = ud;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st)
        return 0;
    /* Unlink it if it was still waiting to be served. */
    for (struct h2_stream **p = &c->ready; *p; p = &(*p)->next_ready) {
        if (*p == st) {
            *p = st->next_ready;
            if (c->ready_tail == &st->next_ready)
                c->ready_tail = p;
            break;
        }
    }
    nghttp2_session_set_stream_user_data(s, id, NULL);
    if (st->busy) {
        /* A pool thread still uses it: unlink it now, free it when it
         * comes back. */
        st->orphan = 1;
        unlink_all(c, st);
        return 0;
    }
    stream_free(c, st);
    return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    struct h2_stream *st = src->ptr;
    size_t left = st->rs.body.len - st->sent;
    size_t n = left < len ? left : len;
    if (n)
        memcpy(buf, st->rs.body.data + st->sent, n);
    st->sent += n;
    if (st->sent == st->rs.body.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Percent-decodes a path (no '+' rule); a bad escape is kept verbatim. */
static char *decode_path(struct kumo_arena *a, const char *s, size_t len)
{
    char *out = kumo_arena_alloc(a, len + 1);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned hi, lo;
        if (s[i] == '%' && i + 2 < len && sscanf(s + i + 1, "%1x%1x", &hi, &lo) == 2) {
            unsigned char ch = (unsigned char)(hi * 16 + lo);
            if (ch == 0)
                ch = '?'; /* never a NUL inside a path */
            out[j++] = (char)ch;
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static void parse_query(struct h2_stream *st, const char *q)
{
    struct bff_request *rq = &st->rq;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            if (rq->n_query >= BFF_MAX_QUERY) {
                rq->too_many_query = 1;
                return;
            }
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            struct kumo_buf k = KUMO_BUF_INIT, v = KUMO_BUF_INIT;
            if (kumo_url_query_decode(q, klen, &k) == 0 &&
                (!eq || kumo_url_query_decode(eq + 1, len - klen - 1, &v) == 0)) {
                rq->query[rq->n_query].name =
                    kumo_arena_strndup(st->arena, k.data ? (char *)k.data : "", k.len);
                rq->query[rq->n_query].value =
                    kumo_arena_strndup(st->arena, v.data ? (char *)v.data : "", v.len);
                rq->n_query++;
            }
            kumo_buf_free(&k);
            kumo_buf_free(&v);
        }
        q += len + (amp ? 1 : 0);
    }
}

static void submit_response(struct h2_conn *c, struct h2_stream *st);

/* Hands a stream back to its connection's loop (from a pool thread, from
 * another client's I/O thread, or once the loop is ending). One activation
 * per batch: a stream pushed onto a non-empty list is taken with the one
 * whose push found it empty, and that push's activation is still to come. */
static void hand_back(struct h2_stream *st)
{
    struct h2_conn *c = st->conn;
    pthread_mutex_lock(&c->done_mu);
    int was_empty = c->done == NULL;
    st->next_done = c->done;
    c->done = st;
    pthread_mutex_unlock(&c->done_mu);
    if (was_empty)
        event_active(c->back, EV_READ, 0);
}

/* Runs on a pool thread: the request through the core, then the
 * stream back to its connection's loop. */
static void serve_job(void *arg)
{
    struct h2_stream *st = arg;
    bff_handle(st->conn->app, &st->rq, &st->rs);
    hand_back(st);
}

/* A stream is served: back to its pool place, then answered (or freed
 * when its client reset it meanwhile). Loop only. */
static void stream_served(struct h2_conn *c, struct h2_stream *st)
{
    st->busy = 0;
    c->outstanding--;
    if (st->orphan)
        stream_free(c, st);
    else
        submit_response(c, st);
}

/* The send of what was answered while an RPC client delivered one read's
 * answers (deferred by resume_stream). */
static void send_later(void *arg)
{
    struct h2_conn *c = arg;
    c->later_queued = 0;
    (void)flush(c);
}

/* An asynchronous stream's RPC is answered. On the connection's loop (the
 * kumo-documents client's I/O thread) the request is finished and answered
 * here, its bytes sent with the other answers of the same read; from
 * another client's thread, or once the connection is ending, it is handed
 * back. The start (bff_handle_start) ran on the loop, so it is over. */
static void resume_stream(void *arg)
{
    struct h2_stream *st = arg;
    struct h2_conn *c = st->conn;
    if (!on_loop(c) || c->ending) {
        hand_back(st);
        return;
    }
    if (bff_handle_resume(st->async) != 0)
        return; /* another RPC is out */
    st->async = NULL;
    bff_pool_unreserve(c->pool);
    stream_served(c, st);
    if (!c->later_queued) {
        c->later_queued = 1;
        kumo_rpc_client_defer(&c->later);
    }
}

/* Serves a GET of a BFF_ASYNC route on the connection's loop: its checks
 * here, its RPC asynchronously (no pool thread; a place in the pool's
 * bound all the same). Returns 0 when taken care of (answered, or
 * pending), -1 to leave it to the pool. */
static int serve_async(struct h2_conn *c, struct h2_stream *st)
{
    if (!bff_async_ok(&st->rq))
        return -1;
    int rc = bff_pool_reserve(c->pool);
    if (rc == BFF_POOL_STOPPING)
        return -1;
    if (rc == BFF_POOL_FULL) {
        bff_busy(&st->rs); /* 503 + Retry-After: answered, never dropped */
        submit_response(c, st);
        return 0;
    }
    st->busy = 1;
    c->outstanding++;
    if (bff_handle_start(c->app, &st->rq, &st->rs, resume_stream, st, &st->async) == 0) {
        st->async = NULL;
        st->busy = 0;
        c->outstanding--;
        bff_pool_unreserve(c->pool);
        submit_response(c, st);
    }
    return 0;
}

static void serve_stream(struct h2_conn *c, struct h2_stream *st)
{
    const char *raw = st->path_raw ? st->path_raw : "/";
    const char *qm = strchr(raw, '?');
    st->rq.method = st->method ? st->method : "GET";
    st->rq.path = decode_path(st->arena, raw, qm ? (size_t)(qm - raw) : strlen(raw));
    if (qm)
        parse_query(st, qm + 1);
    st->rq.body = st->body.data ? (const char *)st->body.data : "";
    st->rq.body_len = st->body.len;
    st->rq.body_too_large = st->too_large;
    st->rq.peer = c->peer;
    st->rq.received_ns = kumo_now_ns();
    if (serve_async(c, st) == 0)
        return;
    st->busy = 1;
    c->outstanding++;
    int rc = bff_pool_run(bff_is_cheap(&st->rq) ? c->cheap : c->pool, serve_job, st);
    if (rc != 0) {
        st->busy = 0;
        c->outstanding--;
        /* Full, or no thread to be had (shutting down): 503 + Retry-After,
         * answered, never dropped. Never served here: the loop is an RPC
         * client's I/O thread, and bff_handle may make a blocking call. */
        bff_busy(&st->rs);
        submit_response(c, st);
    }
}

/* Answers the streams handed back (on the loop). Returns 1 when the
 * connection is finished (the last stream out came back while ending). */
static int take_done(struct h2_conn *c)
{
    pthread_mutex_lock(&c->done_mu);
    struct h2_stream *st = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->done_mu);
    while (st) {
        struct h2_stream *next = st->next_done;
        if (st->async) {
            /* Its RPC is answered: finish it here (or it makes another). */
            if (bff_handle_resume(st->async) != 0) {
                st = next;
                continue;
            }
            st->async = NULL;
            bff_pool_unreserve(c->pool);
        }
        stream_served(c, st);
        st = next;
    }
    if (c->ending)
        return c->outstanding == 0 ? end_conn(c) : 0;
    return 0;
}

/* Answers a stream still being received past the client timeout with 408
 * (ending our side of it). Clients such as curl then stop sending; one that
 * does not is reset after CUT_GRACE_NS (resetting at once would make curl
 * drop the 408 it has not read yet). */
static void cut_stream(struct h2_conn *c, struct h2_stream *st)
{
    st->cut = 1;
    st->cut_ns = kumo_now_ns();
    kumo_buf_free(&st->body);
    st->rq.method = st->method ? st->method : "POST";
    st->rs.status = 408;
    st->rs.content_type = "application/json";
    kumo_buf_append_str(&st->rs.body, BFF_TIMEOUT_BODY);
    bff_resp_header(&st->rs, "Cache-Control", "no-store");
    bff_resp_header(&st->rs, "X-Content-Type-Options", "nosniff");
    kumo_log(KUMO_LOG_INFO, NULL, "slow client cut off", "peer", c->peer, "protocol", "h2c", NULL);
    submit_response(c, st);
}

/* Cuts every stream whose request has been arriving for longer than the
 * client timeout (the loop never serves a blocking request itself,
 * so the time is the client's). */
static void cut_slow_streams(struct h2_conn *c)
{
    int64_t now = kumo_now_ns(), budget = c->app->s.client_timeout_ms * 1000000;
    for (struct h2_stream *st = c->all; st; st = st->next_all) {
        if (st->complete || st->reset)
            continue;
        if (st->cut) {
            if (now - st->cut_ns > CUT_GRACE_NS) {
                st->reset = 1;
                nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
            }
        } else if (now - st->begin_ns > budget) {
            cut_stream(c, st);
        }
    }
}

static void submit_response(struct h2_conn *c, struct h2_stream *st)
{
    struct bff_response *rs = &st->rs;
    nghttp2_nv nva[BFF_MAX_RESP_HEADERS + 3];
    size_t n = 0;
    char status[8], clen[24];
    snprintf(status, sizeof status, "%d", rs->status);
    snprintf(clen, sizeof clen, "%zu", rs->body.len);
#define NV(nm, val)                                                                                \
    nva[n++] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(val), strlen(nm), strlen(val),            \
                            NGHTTP2_NV_FLAG_NONE}
    NV(":status", status);
    if (rs->content_type)
        NV("content-type", rs->content_type);
    NV("content-length", clen);
    for (size_t i = 0; i < rs->n_headers; i++) {
        /* HTTP/2 field names are lowercase. */
        for (char *p = rs->header_names[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        NV(rs->header_names[i], rs->header_values[i]);
    }
#undef NV
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    int has_body = rs->body.len > 0 && rs->status != 204 && strcmp(st->rq.method, "HEAD") != 0;
    nghttp2_submit_response(c->sess, st->id, nva, n, has_body ? &prd : NULL);
}

/* The drain (bff.h): GOAWAY naming the last stream the client opened, so
 * every stream up to it is served and answered; the connection closes
 * when nghttp2 has nothing left to read or write (no active stream). */
static void start_drain(struct h2_conn *c)
{
    c->goaway = 1;
    c->last_id = nghttp2_session_get_last_proc_stream_id(c->sess);
    nghttp2_submit_goaway(c->sess, NGHTTP2_FLAG_NONE, c->last_id, NGHTTP2_NO_ERROR, NULL, 0);
}

/* ---- the loop's callbacks ---- */

static void serve_ready(struct h2_conn *c)
{
    while (c->ready) {
        struct h2_stream *st = c->ready;
        c->ready = st->next_ready;
        if (!c->ready)
            c->ready_tail = &c->ready;
        serve_stream(c, st);
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct h2_conn *c = arg;
    know_loop(c);
    uint8_t buf[16384];
    ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got <= 0 || nghttp2_session_mem_recv(c->sess, buf, (size_t)got) < 0) {
        (void)end_conn(c);
        return;
    }
    refuse_noted(c);
    serve_ready(c);
    (void)flush(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct h2_conn *c = arg;
    if (send_out(c) != 0) {
        (void)end_conn(c);
        return;
    }
    (void)flush(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct h2_conn *c = arg;
    know_loop(c);
    (void)flush(c);
}

static void on_back(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct h2_conn *c = arg;
    know_loop(c);
    if (take_done(c))
        return;
    (void)flush(c);
}

/* The clock: slow requests, idleness, a reader that takes nothing, the
 * drain. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct h2_conn *c = arg;
    int64_t now = kumo_now_ns(), budget = c->app->s.client_timeout_ms * 1000000;
    cut_slow_streams(c);
    /* Only open streams count as activity: a connection that sends
     * nothing but PINGs or a trickled preface is idle. */
    if (c->all)
        c->idle_since = now;
    if ((!c->all && now - c->idle_since > budget) || atomic_load(c->stopping) ||
        (c->out.len && now - c->out_since > budget)) {
        (void)end_conn(c); /* idle, past the drain deadline, or not reading */
        return;
    }
    if (c->idle != !c->all) { /* an idle connection may be closed for a new one */
        c->idle = !c->all;
        kumo_connlimit_set_idle(c->limit, c->slot, c->idle);
    }
    if (!c->goaway && atomic_load(c->draining))
        start_drain(c);
    (void)flush(c);
}

void bff_h2c_serve(struct bff *app, struct bff_pool *pool, struct bff_pool *cheap, int fd,
                   const char *peer, atomic_int *draining, atomic_int *stopping,
                   struct kumo_connlimit *limit, struct kumo_connlimit_slot *slot)
{
    struct event_base *base = kumo_rpc_client_event_base(app->documents);
    struct h2_conn c = {.app = app,
                        .fd = fd,
                        .peer = peer,
                        .pool = pool,
                        .cheap = cheap,
                        .draining = draining,
                        .stopping = stopping,
                        .limit = limit,
                        .slot = slot};
    c.ready_tail = &c.ready;
    c.later.fn = send_later;
    c.later.arg = &c;
    c.idle_since = c.out_since = kumo_now_ns();
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return;
    pthread_mutex_init(&c.done_mu, NULL);
    pthread_mutex_init(&c.fin_mu, NULL);
    pthread_cond_init(&c.fin_cv, NULL);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_server_new(&c.sess, cb, &c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
                                   {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024}};
    nghttp2_submit_settings(c.sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    /* Answers go out as soon as they are ready (flush gathers what is
     * ready together): no Nagle delay behind the client's delayed ACK. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.rd = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, &c);
    c.wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, &c);
    c.tick = event_new(base, -1, EV_PERSIST, on_tick, &c);
    c.kick = event_new(base, -1, 0, on_kick, &c);
    c.back = event_new(base, -1, 0, on_back, &c);
    kumo_metrics_connection_opened();
    if (c.rd && c.wr && c.tick && c.kick && c.back) {
        struct timeval tv = {0, TICK_MS * 1000};
        event_add(c.tick, &tv);
        event_add(c.rd, NULL);
        event_active(c.kick, EV_WRITE, 0); /* our SETTINGS */
        pthread_mutex_lock(&c.fin_mu);
        while (!c.finished)
            pthread_cond_wait(&c.fin_cv, &c.fin_mu);
        pthread_mutex_unlock(&c.fin_mu);
    }
    /* The loop is done with the connection (its events are deleted, no
     * stream is out): the rest is this thread's. A lingering close after
     * GOAWAY: bytes the client sent before it read our GOAWAY would make
     * the kernel answer the close with a reset, and a reset can destroy
     * responses not yet read on the client's side. So our side is shut
     * first and what still arrives is read and dropped until the client
     * closes (bounded; not once the drain deadline hit). */
    if (c.goaway && !c.failed && !atomic_load(stopping)) {
        uint8_t buf[4096];
        shutdown(fd, SHUT_WR);
        int64_t until = kumo_now_ns() + LINGER_NS;
        for (int64_t left; (left = (until - kumo_now_ns()) / 1000000) > 0;) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, (int)left) <= 0 || recv(fd, buf, sizeof buf, 0) <= 0)
                break;
        }
    }
    struct event *evs[] = {c.rd, c.wr, c.tick, c.kick, c.back};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    nghttp2_session_del(c.sess);
    while (c.all)
        stream_free(&c, c.all);
    kumo_buf_free(&c.out);
    pthread_cond_destroy(&c.fin_cv);
    pthread_mutex_destroy(&c.fin_mu);
    pthread_mutex_destroy(&c.done_mu);
    kumo_metrics_connection_closed();
}
