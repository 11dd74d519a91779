/* The HTTP port: our own listener peeks at each connection's first bytes;
 * the HTTP/2 preface ("PRI ") goes to the h2c front-end (h2c.c), anything
 * else to libmicrohttpd (MHD_add_connection; MHD_USE_NO_LISTEN_SOCKET),
 * which runs without threads of its own on the event loop that also serves
 * h2c (the kumo-documents RPC client's I/O thread; see "MHD on the loop"
 * below), and never blocks there. MHD parses HTTP/1.1; each
 * request becomes a struct bff_request for the core, run on a handler
 * pool while its connection is suspended (MHD_suspend_connection), and
 * its struct bff_response goes back into MHD's when the pool resumes it.
 * A GET of a BFF_ASYNC route takes no pool thread: started on the loop
 * (bff_handle_start), the connection suspended while its RPC is out,
 * resumed by the RPC's answer (on the same loop) and finished there
 * (bff_handle_resume).
 * Two pools (lanes): cheap requests (bff_is_cheap: health, OpenAPI,
 * console files) never wait behind requests blocked on a dependency, and
 * a request finding the other pool's queue full is answered 503 with
 * Retry-After at once: a request read is always answered. The body limit is enforced
 * while reading: a Content-Length over it is answered 413 before any byte
 * of the body is read, and a chunked body stops being buffered at the
 * limit. Slow clients: MHD's connection timeout closes connections silent
 * for KUMO_CLIENT_TIMEOUT, but it is an inactivity timer that every
 * trickled byte resets, so a watchdog also bounds the time to read one
 * request (see "read budget" below). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <errno.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdint.h>
#include <unistd.h>

#include "base/alloc.h"
#include "bff.h"
#include "pool.h"
#include "http/mhd.h"
#include "runtime/connlimit.h"
#include "runtime/connthread.h"
#include "runtime/log.h"
#include "rpc/rpc.h"
#include "rpc_client/client.h"

struct bff_http {
    struct bff *app;
    struct MHD_Daemon *d;
    int port;
    int lfd;     /* our listening socket */
    int wake[2]; /* wakes the accept thread to stop */
    pthread_t acceptor;
    int acceptor_started;
    int quiesced;
    atomic_int draining; /* SIGTERM: finish what was received, then close */
    atomic_int stopping; /* the drain deadline: close everything */
    atomic_int inflight; /* HTTP/1.1 requests being served */
    atomic_int threads;  /* connection threads (classifying or h2c) */
    pthread_mutex_t conns_mu;
    struct h1_conn *conns;   /* every MHD connection (read budget) */
    struct transit *transit; /* handed to MHD, not started yet */
    struct pending *adopt;   /* classified HTTP/1.1, for the loop to hand to MHD */
    /* MHD runs on the loop (the kumo-documents RPC client's I/O thread,
     * as h2c.c): its epoll descriptor, its next timeout, a run at once
     * (requests already buffered, a resumed connection: not the timer,
     * whose re-arming would cancel a pending activation), connections to
     * adopt. */
    struct event *mhd_ev, *mhd_timer, *mhd_now, *adopt_ev;
    struct kumo_connlimit *limit; /* KUMO_HTTP_MAX_CONNECTIONS[_PER_ADDRESS] */
    struct bff_pool *pool;        /* handlers (HTTP/1.1 requests and h2c streams) */
    struct bff_pool *cheap;       /* the lane of bff_is_cheap requests */
    pthread_t watchdog;
    int watchdog_started;
    atomic_int watchdog_stop;
};

/* Most connections waiting for their first bytes or speaking h2c at once
 * (one thread each; an h2c connection's only waits while the loop serves
 * it). */
#define MAX_CONN_THREADS 512

/* The end of the drain left to handlers still running: after it they are
 * abandoned (the process exits under them). */
#define STOP_GRACE_NS (200LL * 1000000)

/* The cheap lane: threads, and requests waiting for one. */
#define CHEAP_THREADS 8
#define CHEAP_QUEUE   1024

/* ---- read budget ------------------------------------------------------
 * A request must arrive whole (first byte to end of body) within
 * KUMO_CLIENT_TIMEOUT. MHD has no such timer, so every MHD connection is
 * registered here with its own dup of the socket (so the watchdog never
 * touches a descriptor number MHD may have closed and reused) and the
 * moment its current request started: for the first request, when its
 * first bytes were there (the classifier had seen them); for a later one
 * on a kept-alive connection, when its request line was parsed (MHD
 * offers nothing earlier; the idle time before it is MHD's own timer).
 * From the end of the body (the handler runs: its RPCs have their own
 * deadline) until the response is sent the connection is not watched.
 * The watchdog answers a request over budget with 408 and shuts the
 * socket down, which MHD sees as the client closing. */
enum h1_phase { H1_READING, H1_SERVING, H1_IDLE, H1_CUT };

/* A connection's admission slot on its way from the classifier to MHD's
 * start notification (which only knows the socket). */
struct transit {
    int fd;
    struct kumo_connlimit_slot *slot;
    struct transit *next;
};

struct h1_conn {
    int fd; /* our dup of the socket */
    struct kumo_connlimit_slot *slot;
    enum h1_phase phase;
    int64_t since; /* kumo_now_ns when the request being read began */
    char peer[64];
    struct h1_conn *prev, *next;
};

struct h1_req {
    struct bff_http *h;
    struct MHD_Connection *conn;
    struct kumo_buf body;
    int too_large;
    int done;                /* the response is queued */
    int served;              /* rs holds the answer (set before the connection resumes) */
    struct bff_async *async; /* served without a thread: pending (bff_handle_start) */
    char peer[64];
    struct bff_request rq;
    struct bff_response rs;
};

struct collect {
    struct bff_request *rq;
    int query;
};

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct collect *cl = cls;
    struct bff_request *rq = cl->rq;
    if (!key)
        return MHD_YES;
    if (kind == MHD_GET_ARGUMENT_KIND) {
        if (rq->n_query >= BFF_MAX_QUERY) {
            rq->too_many_query = 1;
            return MHD_YES;
        }
        rq->query[rq->n_query].name = key;
        rq->query[rq->n_query].value = value ? value : "";
        rq->n_query++;
    } else if (rq->n_headers >= BFF_MAX_HEADERS) {
        rq->too_many_headers = 1;
    } else {
        rq->headers[rq->n_headers].name = key;
        rq->headers[rq->n_headers].value = value ? value : "";
        rq->n_headers++;
    }
    return MHD_YES;
}

static void peer_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)cap);
        else
            inet_ntop(AF_INET6, a6, out, (socklen_t)cap);
    }
}

static struct h1_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Moves a connection to `phase`; entering H1_READING restarts its clock,
 * but only from H1_IDLE (the first request's clock runs from the start). */
static void set_phase(struct bff_http *h, struct MHD_Connection *conn, enum h1_phase phase)
{
    struct h1_conn *hc = conn_of(conn);
    if (!hc)
        return;
    pthread_mutex_lock(&h->conns_mu);
    if (hc->phase != H1_CUT) {
        if (phase == H1_IDLE)
            hc->since = kumo_now_ns(); /* idle since */
        if (phase != H1_READING)
            hc->phase = phase;
        else if (hc->phase == H1_IDLE) {
            hc->phase = H1_READING;
            hc->since = kumo_now_ns();
        }
    }
    pthread_mutex_unlock(&h->conns_mu);
    kumo_connlimit_set_idle(h->limit, hc->slot, phase == H1_IDLE);
}

/* Takes the admission slot of connection `fd` out of the transit list
 * (NULL if none). */
static struct kumo_connlimit_slot *take_transit(struct bff_http *h, int fd)
{
    struct kumo_connlimit_slot *slot = NULL;
    pthread_mutex_lock(&h->conns_mu);
    for (struct transit **t = &h->transit; *t; t = &(*t)->next) {
        if ((*t)->fd == fd) {
            struct transit *found = *t;
            *t = found->next;
            slot = found->slot;
            kumo_free(found);
            break;
        }
    }
    pthread_mutex_unlock(&h->conns_mu);
    return slot;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct bff_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct kumo_connlimit_slot *slot = ci ? take_transit(h, ci->connect_fd) : NULL;
        int fd = ci ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (fd < 0) {
            kumo_connlimit_release(h->limit, slot);
            return; /* out of descriptors: only MHD's idle timer applies */
        }
        struct h1_conn *hc = kumo_calloc(1, sizeof *hc);
        hc->fd = fd;
        hc->slot = slot;
        hc->phase = H1_READING;
        hc->since = kumo_now_ns();
        peer_addr(conn, hc->peer, sizeof hc->peer);
        pthread_mutex_lock(&h->conns_mu);
        hc->next = h->conns;
        if (h->conns)
            h->conns->prev = hc;
        h->conns = hc;
        pthread_mutex_unlock(&h->conns_mu);
        *socket_context = hc;
        return;
    }
    struct h1_conn *hc = *socket_context;
    if (!hc)
        return;
    pthread_mutex_lock(&h->conns_mu);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        h->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    pthread_mutex_unlock(&h->conns_mu);
    kumo_connlimit_release(h->limit, hc->slot);
    close(hc->fd);
    kumo_free(hc);
    *socket_context = NULL;
}

/* Called by MHD once a request line is parsed: a new request on a
 * kept-alive connection starts its clock here. Returns the initial
 * per-request pointer (none yet). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)uri;
    set_phase(cls, conn, H1_READING);
    return NULL;
}

/* Answers 408 on a connection over its budget and shuts it down. Called
 * with conns_mu held. */
static void cut_conn(struct h1_conn *hc)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nCache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\nContent-Length: %zu\r\n\r\n",
                     sizeof BFF_TIMEOUT_BODY - 1);
    /* Best effort and never blocking: the close is what matters. */
    if (n > 0 && send(hc->fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
        (void)!send(hc->fd, BFF_TIMEOUT_BODY, sizeof BFF_TIMEOUT_BODY - 1,
                    MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(hc->fd, SHUT_RDWR);
    hc->phase = H1_CUT;
    kumo_log(KUMO_LOG_INFO, NULL, "slow client cut off", "peer", hc->peer, "protocol", "http/1.1",
             NULL);
}

/* During the drain a keep-alive connection idle this long, with no byte
 * of a next request in its socket, is closed. A client that sends its
 * next request at once gets it answered with `Connection: close` instead
 * (closing an idle connection always races with a request in flight:
 * the grace makes that a client that sat idle across the signal). */
#define DRAIN_IDLE_GRACE_NS (100LL * 1000000)

/* Every ~quarter of a second (50 ms while draining), cuts the connections
 * whose request has been arriving for longer than the client timeout. One
 * whose bytes are waiting unread in the socket is spared this round: the
 * delay is ours (the loop is busy), not the client's.
 * While draining it also closes the idle keep-alive connections (shut down:
 * MHD sees the client leave and frees them). */
static void *watchdog_main(void *arg)
{
    struct bff_http *h = arg;
    int64_t budget = h->app->s.client_timeout_ms * 1000000;
    while (!atomic_load(&h->watchdog_stop)) {
        int draining = atomic_load(&h->draining);
        usleep(draining ? 50 * 1000 : 250 * 1000);
        int64_t now = kumo_now_ns();
        pthread_mutex_lock(&h->conns_mu);
        for (struct h1_conn *hc = h->conns; hc; hc = hc->next) {
            int idle = hc->phase == H1_IDLE && draining && now - hc->since > DRAIN_IDLE_GRACE_NS;
            if (!idle && (hc->phase != H1_READING || now - hc->since <= budget))
                continue;
            int unread = 0;
            if (ioctl(hc->fd, FIONREAD, &unread) == 0 && unread > 0)
                continue;
            if (idle) {
                shutdown(hc->fd, SHUT_RDWR);
                hc->phase = H1_CUT;
            } else {
                cut_conn(hc);
            }
        }
        pthread_mutex_unlock(&h->conns_mu);
    }
    return NULL;
}

/* Hands r's answer to MHD. */
static enum MHD_Result queue_answer(struct bff_http *h, struct MHD_Connection *conn,
                                    struct h1_req *r)
{
    struct bff_response *rs = &r->rs;
    r->done = 1;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        rs->body.len, rs->body.data ? rs->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    for (size_t i = 0; i < rs->n_headers; i++)
        MHD_add_response_header(resp, rs->header_names[i], rs->header_values[i]);
    if (rs->content_type)
        MHD_add_response_header(resp, "Content-Type", rs->content_type);
    if (r->too_large || atomic_load(&h->draining))
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)rs->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Whether the request carries credentials (the larger body limit of
 * bff_body_limit is not for anonymous requests). */
static int authorized(struct MHD_Connection *conn)
{
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    return a && *a;
}

/* Resumes a suspended connection and has MHD run on the loop to serve
 * it: MHD without a listening socket does not watch its own wake-up
 * (ITC) in its epoll set, so the loop is told through libevent (from any
 * thread; resumes on the loop in one iteration share one run). */
static void resume_conn(struct bff_http *h, struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
    event_active(h->mhd_now, EV_READ, 0);
}

/* Runs on a pool thread: the request through the core, then the
 * connection back to MHD, which calls on_request again to send it. */
static void serve_job(void *arg)
{
    struct h1_req *r = arg;
    bff_handle(r->h->app, &r->rq, &r->rs);
    r->served = 1;
    resume_conn(r->h, r->conn);
}

/* An asynchronous request's RPC is answered (on the RPC client's
 * thread): MHD calls on_request again, which finishes it. */
static void resume_req(void *arg)
{
    struct h1_req *r = arg;
    resume_conn(r->h, r->conn);
}

/* Serves a GET of a BFF_ASYNC route on the loop: its checks here,
 * its RPC asynchronously with the connection suspended (no pool thread; a
 * place in the pool's bound all the same). Returns 0 when taken care of,
 * -1 to leave it to the pool. */
static int serve_async(struct bff_http *h, struct h1_req *r)
{
    if (!bff_async_ok(&r->rq))
        return -1;
    int rc = bff_pool_reserve(h->pool);
    if (rc == BFF_POOL_STOPPING)
        return -1;
    if (rc == BFF_POOL_FULL) {
        bff_busy(&r->rs);
        r->served = 1;
        resume_conn(h, r->conn);
        return 0;
    }
    if (bff_handle_start(h->app, &r->rq, &r->rs, resume_req, r, &r->async) == 0) {
        r->async = NULL;
        bff_pool_unreserve(h->pool);
        r->served = 1;
        resume_conn(h, r->conn);
    }
    return 0;
}

/* The RPC of a suspended asynchronous request is answered: finish it
 * (MHD_YES with the answer queued), or suspend again for its next RPC. */
static enum MHD_Result resume_async(struct bff_http *h, struct MHD_Connection *conn,
                                    struct h1_req *r)
{
    if (bff_handle_resume(r->async) != 0) {
        MHD_suspend_connection(conn);
        return MHD_YES;
    }
    r->async = NULL;
    bff_pool_unreserve(h->pool);
    r->served = 1;
    return queue_answer(h, conn, r);
}

/* The request is read whole: onto a lane (the connection suspended until
 * its answer is ready), or answered 503 at once when the lane is full. */
static enum MHD_Result dispatch(struct bff_http *h, struct MHD_Connection *conn, const char *url,
                                const char *method, struct h1_req *r)
{
    struct bff_request *rq = &r->rq;
    peer_addr(conn, r->peer, sizeof r->peer);
    rq->method = method;
    rq->path = url;
    rq->peer = r->peer;
    rq->received_ns = kumo_now_ns();
    rq->body = r->body.data ? (const char *)r->body.data : "";
    rq->body_len = r->body.len;
    rq->body_too_large = r->too_large;
    struct collect cl = {rq, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, &cl);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_kv, &cl);
    set_phase(h, conn, H1_SERVING);
    if (r->too_large) { /* no RPC: answered here */
        bff_handle(h->app, rq, &r->rs);
        return queue_answer(h, conn, r);
    }
    r->h = h;
    r->conn = conn;
    MHD_suspend_connection(conn);
    if (serve_async(h, r) == 0)
        return MHD_YES;
    int rc = bff_pool_run(bff_is_cheap(rq) ? h->cheap : h->pool, serve_job, r);
    if (rc != 0) {
        /* Full, or stopping (no thread to be had): 503 + Retry-After. Never
         * served here: this is the loop, and bff_handle may block on an RPC. */
        bff_busy(&r->rs);
        r->served = 1;
        resume_conn(h, conn);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct bff_http *h = cls;
    struct h1_req *r = *req_cls;
    if (r == NULL) {
        r = kumo_calloc(1, sizeof *r);
        *req_cls = r;
        atomic_fetch_add(&h->inflight, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || *end ||
                n > (unsigned long long)bff_body_limit(h->app, method, url, authorized(conn))) {
                /* Refuse before reading any of the body. */
                r->too_large = 1;
                return dispatch(h, conn, url, method, r);
            }
        }
        return MHD_YES;
    }
    if (r->done) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->served) /* resumed by its handler */
        return queue_answer(h, conn, r);
    if (r->async) /* resumed by its RPC's answer */
        return resume_async(h, conn, r);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!r->too_large) {
            if (r->body.len + n > (size_t)bff_body_limit(h->app, method, url, authorized(conn))) {
                r->too_large = 1;
                kumo_buf_free(&r->body);
            } else {
                kumo_buf_append(&r->body, upload_data, n);
            }
        }
        return MHD_YES;
    }
    if (r->h) /* on a lane already */
        return MHD_YES;
    return dispatch(h, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct bff_http *h = cls;
    set_phase(h, conn, H1_IDLE);
    struct h1_req *r = *req_cls;
    if (!r)
        return;
    kumo_buf_free(&r->body);
    bff_response_clear(&r->rs);
    kumo_free(r);
    *req_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len, int *port)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 512) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &gl);
    *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                            : ((struct sockaddr_in *)&got)->sin_port);
    return fd;
}

struct pending {
    struct bff_http *h;
    struct pending *next; /* in h->adopt */
    int fd;
    struct kumo_connlimit_slot *slot;
    struct sockaddr_storage ss;
    socklen_t sl;
};

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)cap);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)cap);
        else
            inet_ntop(AF_INET6, a6, out, (socklen_t)cap);
    }
}

/* Waits (up to the client timeout) for enough bytes to tell the HTTP/2
 * preface from an HTTP/1.1 request line. Returns 2, 1, or 0 (gone). */
static int classify(struct bff_http *h, int fd)
{
    int64_t deadline = kumo_now_ns() + h->app->s.client_timeout_ms * 1000000;
    for (;;) {
        int64_t left = (deadline - kumo_now_ns()) / 1000000;
        if (left <= 0 || atomic_load(&h->stopping))
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, left > 100 ? 100 : (int)left);
        if (r < 0 && errno != EINTR)
            return 0;
        if (r == 0 && atomic_load(&h->draining))
            return 0; /* nothing was sent before the drain: close */
        if (r <= 0)
            continue;
        char b[4];
        ssize_t n = recv(fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return 0;
        if (n > 0 && memcmp(b, "PRI ", (size_t)n) != 0)
            return 1;
        if (n == 4)
            return 2;
        usleep(2000); /* a partial preface: its bytes stay readable */
    }
}

static void *conn_main(void *arg)
{
    struct pending *pc = arg;
    struct bff_http *h = pc->h;
    int kind = classify(h, pc->fd);
    if (kind != 0) /* a request is arriving */
        kumo_connlimit_set_idle(h->limit, pc->slot, 0);
    if (kind == 1) {
        /* MHD owns (and closes) the socket from here on; its start
         * notification takes the slot over. */
        struct transit *t = kumo_calloc(1, sizeof *t);
        t->fd = pc->fd;
        t->slot = pc->slot;
        pthread_mutex_lock(&h->conns_mu);
        t->next = h->transit;
        h->transit = t;
        /* MHD runs on the loop and takes connections only there. */
        int was_empty = h->adopt == NULL;
        pc->next = h->adopt;
        h->adopt = pc;
        pthread_mutex_unlock(&h->conns_mu);
        if (was_empty)
            event_active(h->adopt_ev, EV_READ, 0);
        atomic_fetch_sub(&h->threads, 1);
        return NULL; /* pc is the loop's */
    } else {
        if (kind == 2) {
            char peer[64];
            addr_text(&pc->ss, peer, sizeof peer);
            bff_h2c_serve(h->app, h->pool, h->cheap, pc->fd, peer, &h->draining, &h->stopping,
                          h->limit, pc->slot);
        }
        kumo_connlimit_release(h->limit, pc->slot);
        close(pc->fd);
    }
    kumo_free(pc);
    atomic_fetch_sub(&h->threads, 1);
    return NULL;
}

/* ---- MHD on the loop ---------------------------------------------------
 * MHD runs without threads of its own (external polling, epoll) on the
 * loop that also serves h2c and receives the RPC answers: an asynchronous
 * GET is read, started, answered and written there with no hand-off
 * between threads. Its epoll descriptor is one libevent event; after each
 * MHD_run its timeout is armed (0 = requests already buffered: run again
 * at once). A resumed connection (resume_conn) activates the same
 * event. */

/* The longest wait between runs (MHD's connection timeout is in seconds). */
#define MHD_MAX_WAIT_MS 1000

static void run_mhd(struct bff_http *h)
{
    MHD_run(h->d);
    MHD_UNSIGNED_LONG_LONG ms = MHD_MAX_WAIT_MS;
    if (MHD_get_timeout(h->d, &ms) != MHD_YES || ms > MHD_MAX_WAIT_MS)
        ms = MHD_MAX_WAIT_MS;
    if (ms == 0) {
        event_active(h->mhd_now, EV_READ, 0);
        return;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(h->mhd_timer, &tv);
}

static void on_mhd(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_mhd(arg);
}

/* Hands the connections the classifiers queued to MHD (on the loop: MHD
 * without threads takes them only on the thread that runs it). */
static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct bff_http *h = arg;
    pthread_mutex_lock(&h->conns_mu);
    struct pending *pc = h->adopt;
    h->adopt = NULL;
    pthread_mutex_unlock(&h->conns_mu);
    while (pc) {
        struct pending *next = pc->next;
        /* MHD owns (and closes) the socket from here on; its start
         * notification takes the slot over. */
        if (MHD_add_connection(h->d, pc->fd, (const struct sockaddr *)&pc->ss, pc->sl) != MHD_YES)
            kumo_connlimit_release(h->limit, take_transit(h, pc->fd)); /* MHD closed it */
        kumo_free(pc);
        pc = next;
    }
    run_mhd(h);
}

/* Connects MHD to the loop. Returns 0 or -1. */
static int loop_start(struct bff_http *h)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    struct event_base *loop = kumo_rpc_client_event_base(h->app->documents);
    if (!di || !loop)
        return -1;
    h->mhd_ev = event_new(loop, di->epoll_fd, EV_READ | EV_PERSIST, on_mhd, h);
    h->mhd_timer = evtimer_new(loop, on_mhd, h);
    h->mhd_now = event_new(loop, -1, 0, on_mhd, h);
    h->adopt_ev = event_new(loop, -1, 0, on_adopt, h);
    if (!h->mhd_ev || !h->mhd_timer || !h->mhd_now || !h->adopt_ev ||
        event_add(h->mhd_ev, NULL) != 0)
        return -1;
    event_active(h->mhd_now, EV_READ, 0);
    return 0;
}

/* Disconnects MHD from the loop (waits for a run in progress) and closes
 * the connections it never adopted. */
static void loop_stop(struct bff_http *h)
{
    struct event *evs[] = {h->mhd_ev, h->mhd_timer, h->mhd_now, h->adopt_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) {
            event_del(evs[i]);
            event_free(evs[i]);
        }
    h->mhd_ev = h->mhd_timer = h->mhd_now = h->adopt_ev = NULL;
    while (h->adopt) {
        struct pending *pc = h->adopt;
        h->adopt = pc->next;
        kumo_connlimit_release(h->limit, take_transit(h, pc->fd));
        close(pc->fd);
        kumo_free(pc);
    }
}

/* Accepts one connection from the listening socket and gives it a
 * thread. Returns 0, or -1 when none was waiting (EAGAIN) or on error. */
static int take_one(struct bff_http *h, const pthread_attr_t *attr)
{
    struct pending *pc = kumo_calloc(1, sizeof *pc);
    pc->h = h;
    pc->sl = sizeof pc->ss;
    pc->fd = accept4(h->lfd, (struct sockaddr *)&pc->ss, &pc->sl, SOCK_CLOEXEC);
    if (pc->fd < 0) {
        int e = errno;
        kumo_free(pc);
        if (e == EMFILE || e == ENFILE || e == ENOMEM)
            usleep(10000);
        return -1;
    }
    char peer[64];
    addr_text(&pc->ss, peer, sizeof peer);
    pc->slot = kumo_connlimit_admit(h->limit, peer, pc->fd);
    if (!pc->slot) { /* over a limit with nothing idle to close */
        close(pc->fd);
        kumo_free(pc);
        return 0;
    }
    (void)attr; /* stacks unmapped when the thread ends (runtime/connthread.h, issue 21) */
    if (atomic_fetch_add(&h->threads, 1) >= MAX_CONN_THREADS ||
        kumo_connthread_start(conn_main, pc, 256 * 1024) != 0) {
        atomic_fetch_sub(&h->threads, 1);
        kumo_connlimit_release(h->limit, pc->slot);
        close(pc->fd);
        kumo_free(pc);
    }
    return 0;
}

static void conn_attr(pthread_attr_t *attr)
{
    pthread_attr_init(attr);
    pthread_attr_setdetachstate(attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(attr, 256 * 1024);
}

static void *accept_main(void *arg)
{
    struct bff_http *h = arg;
    pthread_attr_t attr;
    conn_attr(&attr);
    while (!atomic_load(&h->stopping)) {
        struct pollfd p[2] = {{h->lfd, POLLIN, 0}, {h->wake[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & POLLIN)
            (void)take_one(h, &attr);
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

static void stop_watchdog(struct bff_http *h)
{
    if (!h->watchdog_started)
        return;
    atomic_store(&h->watchdog_stop, 1);
    pthread_join(h->watchdog, NULL);
    h->watchdog_started = 0;
}

int bff_http_start(struct bff *app, struct bff_http **out)
{
    const struct bff_settings *s = &app->s;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (kumo_http_listen_addr(s->http_addr, s->http_port, &ss, &sl) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error",
                 "KUMO_HTTP_ADDR must be a numeric IP address", NULL);
        return -1;
    }
    struct bff_http *h = kumo_calloc(1, sizeof *h);
    h->app = app;
    h->lfd = h->wake[0] = h->wake[1] = -1;
    pthread_mutex_init(&h->conns_mu, NULL);
    if (bff_pool_new(&h->pool, s->http_handlers, s->http_queue) != 0 ||
        bff_pool_new(&h->cheap, CHEAP_THREADS, CHEAP_QUEUE) != 0 ||
        kumo_connlimit_new(&h->limit, s->http_max_connections, s->http_max_per_address) != 0)
        goto fail;
    h->lfd = listen_on(&ss, sl, &h->port);
    if (h->lfd < 0) {
        char port[16];
        snprintf(port, sizeof port, "%d", s->http_port);
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot listen on the HTTP port", "port", port, "error",
                 strerror(-h->lfd), NULL);
        goto fail;
    }
    unsigned timeout_s = (unsigned)((s->client_timeout_ms + 999) / 1000);
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET |
                     MHD_ALLOW_SUSPEND_RESUME;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, kumo_mhd_log,
        (void *)(intptr_t)KUMO_LOG_DEBUG, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->http_max_connections + 64, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
    if (h->d == NULL || pipe2(h->wake, O_CLOEXEC) != 0 || loop_start(h) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the HTTP server", "error", strerror(errno),
                 NULL);
        goto fail;
    }
    int rc = pthread_create(&h->watchdog, NULL, watchdog_main, h);
    if (rc == 0) {
        h->watchdog_started = 1;
        rc = pthread_create(&h->acceptor, NULL, accept_main, h);
    }
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the HTTP threads", NULL);
        goto fail;
    }
    h->acceptor_started = 1;
    *out = h;
    return 0;

fail: /* undoes whatever was done, in reverse */
    stop_watchdog(h);
    loop_stop(h);
    if (h->d)
        MHD_stop_daemon(h->d);
    for (int i = 0; i < 2; i++)
        if (h->wake[i] >= 0)
            close(h->wake[i]);
    if (h->lfd >= 0)
        close(h->lfd);
    pthread_mutex_destroy(&h->conns_mu);
    bff_pool_free(h->pool);
    bff_pool_free(h->cheap);
    kumo_connlimit_free(h->limit);
    kumo_free(h);
    return -1;
}

int bff_http_port(const struct bff_http *h)
{
    return h ? h->port : 0;
}

void bff_http_quiesce(struct bff_http *h)
{
    if (!h || h->quiesced)
        return;
    h->quiesced = 1;
    atomic_store(&h->draining, 1);
    if (write(h->wake[1], "x", 1) < 0) {
        /* The pipe cannot be full: one byte, once. */
    }
    pthread_join(h->acceptor, NULL);
    /* Connections the kernel completed but nobody accepted yet would be
     * reset by the close, with their requests already sent: take them
     * (they are served, then closed, like any other during the drain). */
    int fl = fcntl(h->lfd, F_GETFL);
    if (fl >= 0 && fcntl(h->lfd, F_SETFL, fl | O_NONBLOCK) == 0) {
        pthread_attr_t attr;
        conn_attr(&attr);
        while (take_one(h, &attr) == 0)
            ;
        pthread_attr_destroy(&attr);
    }
    close(h->lfd);
}

int bff_http_drained(struct bff_http *h)
{
    if (!h)
        return 1;
    pthread_mutex_lock(&h->conns_mu);
    int open = h->conns != NULL;
    pthread_mutex_unlock(&h->conns_mu);
    return !open && atomic_load(&h->inflight) == 0 && atomic_load(&h->threads) == 0;
}

int bff_http_stop(struct bff_http *h, int64_t deadline)
{
    if (!h)
        return 0;
    bff_http_quiesce(h);
    while (!bff_http_drained(h) && kumo_now_ns() < deadline - STOP_GRACE_NS)
        usleep(10 * 1000);
    /* At the deadline (less the grace): h2c connections close at once,
     * requests still being read are dropped with their connections
     * (MHD_stop_daemon); handlers still in an RPC get until the deadline,
     * then are abandoned. */
    atomic_store(&h->stopping, 1);
    int64_t grace = deadline > kumo_now_ns() ? deadline : kumo_now_ns() + 10 * 1000000;
    while ((atomic_load(&h->threads) > 0 || bff_pool_load(h->pool) > 0 ||
            bff_pool_load(h->cheap) > 0) &&
           kumo_now_ns() < grace)
        usleep(10 * 1000);
    stop_watchdog(h);
    if (atomic_load(&h->threads) > 0 || bff_pool_load(h->pool) > 0 || bff_pool_load(h->cheap) > 0)
        return -1; /* a handler still holds h (and the app): leave both */
    /* No h2c connection is left and no handler holds a suspended HTTP/1.1
     * connection (MHD must not stop with one). */
    bff_pool_free(h->pool);
    bff_pool_free(h->cheap);
    loop_stop(h);
    MHD_stop_daemon(h->d);
    close(h->wake[0]);
    close(h->wake[1]);
    while (h->transit) {
        struct transit *t = h->transit;
        h->transit = t->next;
        kumo_connlimit_release(h->limit, t->slot);
        kumo_free(t);
    }
    kumo_connlimit_free(h->limit);
    pthread_mutex_destroy(&h->conns_mu);
    kumo_free(h);
    return 0;
}
