/* The RPC client's I/O thread: its event loop, the queue of calls waiting
 * for a stream, connections (TCP, TLS + ALPN), deadlines and shutdown.
 * Everything here runs on the I/O thread except kumo__rpc_io_start/stop.
 * A connection is never freed inside an nghttp2 callback: callbacks only
 * record state, and the bufferevent/timer callbacks act on it afterwards. */
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include "base/alloc.h"
#include "rpc/rpc.h"
#include "rpc_client/internal.h"
#include "runtime/log.h"

#define SHUTDOWN_GRACE_MS 200

static void conn_flush(struct kumo__rpc_conn *conn);
static void dispatch(struct kumo_rpc_client *c);

static struct timeval ms_to_tv(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

/* ---- connection teardown ---- */

static void conn_destroy(struct kumo__rpc_conn *conn)
{
    struct kumo_rpc_client *c = conn->client;
    struct kumo__rpc_call *call;

    if (c->conn == conn)
        c->conn = NULL;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    /* Deleting the session first: afterwards nothing refers to the calls. */
    if (conn->session)
        nghttp2_session_del(conn->session);
    while ((call = kumo__rpc_list_pop(&conn->streams)) != NULL) {
        kumo__rpc_call_completef(call, KUMO_CODE_UNAVAILABLE, "connection to %s closed", c->target);
        kumo__rpc_call_io_release(call);
    }
    if (conn->rd)
        event_free(conn->rd); /* before the bufferevent closes its socket */
    bufferevent_free(conn->bev);
    event_free(conn->connect_timer);
    event_free(conn->kick);
    kumo_free(conn);
    if (c->shutting_down && c->conns == NULL)
        event_base_loopbreak(c->base);
}

static void fail_pending(struct kumo_rpc_client *c, kumo_code code, const char *why)
{
    struct kumo__rpc_call *call;
    while ((call = kumo__rpc_list_pop(&c->pending)) != NULL) {
        kumo__rpc_call_completef(call, code, "%s", why);
        kumo__rpc_call_io_release(call);
    }
}

/* The transport failed: calls on it fail with UNAVAILABLE; when it never
 * became usable, so do the calls that were waiting for it. */
static void conn_fail(struct kumo__rpc_conn *conn, const char *why)
{
    struct kumo_rpc_client *c = conn->client;
    struct kumo_buf msg = KUMO_BUF_INIT;

    if (!conn->usable && c->conn == conn) {
        kumo_buf_appendf(&msg, "cannot connect to %s: %s", c->target, why);
        fail_pending(c, KUMO_CODE_UNAVAILABLE, (const char *)msg.data);
    } else {
        kumo_buf_appendf(&msg, "connection to %s lost: %s", c->target, why);
    }
    for (struct kumo__rpc_call *call = conn->streams.head; call; call = call->next) {
        if (!call->io_done)
            kumo__rpc_call_completef(call, KUMO_CODE_UNAVAILABLE, "%s", (const char *)msg.data);
        call->io_done = 1;
    }
    kumo_buf_free(&msg);
    conn_destroy(conn);
}

/* ---- sending ---- */

/* Plaintext connections, once up, are read and written here rather than by
 * their bufferevent. The bufferevent asks the kernel how many bytes are
 * readable (ioctl) before every read, and writes only on the loop's next
 * pass after switching its write event on, then off (two epoll_ctl per
 * batch of requests, and a pass). Here a read goes into a stack buffer and
 * straight to nghttp2, and what nghttp2 queued is written at once; the
 * bufferevent's write event is on only while the socket holds bytes back,
 * and its write errors still reach on_event. TLS stays on the bufferevent. */
#define DIRECT_READ_SIZE   (32 * 1024)
#define DIRECT_READ_ROUNDS 4 /* per readable event, so one peer cannot hog the loop */

/* Writes what the bufferevent's output holds; what the socket does not
 * take now goes when it is writable (the write event is switched on). */
static void direct_write(struct kumo__rpc_conn *conn)
{
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    if (evbuffer_get_length(out) == 0)
        return;
    (void)evbuffer_write(out, bufferevent_getfd(conn->bev));
    if (evbuffer_get_length(out) > 0)
        bufferevent_enable(conn->bev, EV_WRITE); /* also after an error: on_event reports it */
}

/* Lets nghttp2 write what it has queued. Returns 0, or -1 when the
 * connection failed and was destroyed. */
static int conn_send(struct kumo__rpc_conn *conn)
{
    if (conn->session == NULL)
        return 0;
    for (;;) {
        int rv = nghttp2_session_send(conn->session);
        if (conn->check_unsent)
            kumo__rpc_h2_reap_unsent(conn);
        if (rv != 0) {
            conn_fail(conn, nghttp2_strerror(rv));
            return -1;
        }
        if (conn->rd == NULL)
            return 0; /* the bufferevent writes, and calls on_write when drained */
        struct evbuffer *out = bufferevent_get_output(conn->bev);
        size_t queued = evbuffer_get_length(out);
        direct_write(conn);
        /* nghttp2 stops at the output's high water mark (h2.c): when the
         * socket took it all, nothing else would call us again. */
        if (queued < KUMO__RPC_OUTPUT_HIGH_WATER || evbuffer_get_length(out) > 0)
            return 0;
    }
}

/* Closes a connection that has nothing left to do. Returns -1 if it did. */
static int conn_maybe_close(struct kumo__rpc_conn *conn)
{
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    int idle = conn->streams.n == 0 && evbuffer_get_length(out) == 0;

    if (conn->closing) {
        if (evbuffer_get_length(out) == 0) {
            conn_destroy(conn);
            return -1;
        }
        return 0;
    }
    if (conn->session && !nghttp2_session_want_read(conn->session) &&
        !nghttp2_session_want_write(conn->session) && evbuffer_get_length(out) == 0) {
        conn_fail(conn, "session ended");
        return -1;
    }
    if (conn->goaway && idle) {
        conn_destroy(conn);
        return -1;
    }
    return 0;
}

/* After any activity on a connection: send, close if done, and start the
 * calls that were waiting (a stream slot or the connection itself may have
 * become free). */
static void conn_flush(struct kumo__rpc_conn *conn)
{
    struct kumo_rpc_client *c = conn->client;
    if (conn_send(conn) == 0)
        conn_maybe_close(conn);
    dispatch(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_flush(arg);
}

void kumo__rpc_conn_kick(struct kumo__rpc_conn *conn)
{
    event_active(conn->kick, EV_READ, 0);
}

/* ---- bufferevent callbacks ---- */

/* Feeds the buffered input to nghttp2. Returns 0, or -1 when the
 * connection failed and was destroyed. */
static int conn_recv(struct kumo__rpc_conn *conn)
{
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    struct evbuffer_iovec v[8];

    while (evbuffer_get_length(in) > 0) {
        int n = evbuffer_peek(in, -1, NULL, v, 8);
        size_t used = 0;
        for (int i = 0; i < n && i < 8; i++) {
            ssize_t rv = nghttp2_session_mem_recv(conn->session, v[i].iov_base, v[i].iov_len);
            if (rv < 0) {
                conn_fail(conn, nghttp2_strerror((int)rv));
                return -1;
            }
            used += (size_t)rv;
        }
        evbuffer_drain(in, used);
    }
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    struct kumo_rpc_client *c = conn->client;

    if (conn->closing) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    /* Bytes read before the transport is reported up wait for conn_ready. */
    if (conn->session == NULL)
        return;
    kumo__rpc_batch_begin();
    int rc = conn_recv(conn);
    kumo__rpc_batch_end();
    if (rc != 0) {
        dispatch(c);
        return;
    }
    conn_flush(conn);
}

/* A plaintext connection's socket is readable (see direct_write). */
static void on_direct_read(evutil_socket_t fd, short what, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    struct kumo_rpc_client *c = conn->client;
    uint8_t buf[DIRECT_READ_SIZE];
    (void)what;

    for (int round = 0; round < DIRECT_READ_ROUNDS; round++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_fail(conn, n == 0 ? "connection closed by peer" : strerror(errno));
            dispatch(c);
            return;
        }
        if (conn->closing)
            continue; /* shutting down: what arrives is dropped */
        kumo__rpc_batch_begin();
        ssize_t rv = nghttp2_session_mem_recv(conn->session, buf, (size_t)n);
        kumo__rpc_batch_end();
        if (rv < 0) {
            conn_fail(conn, nghttp2_strerror((int)rv));
            dispatch(c);
            return;
        }
        if ((size_t)n < sizeof buf)
            break;
    }
    conn_flush(conn);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    /* Output drained: a plaintext connection's write event goes off again
     * (it is not pending now, so this costs no syscall). */
    if (conn->rd)
        bufferevent_disable(bev, EV_WRITE);
    conn_flush(conn);
}

/* Moves an established plaintext connection to direct reads and writes. */
static void direct_start(struct kumo__rpc_conn *conn, evutil_socket_t fd)
{
    conn->rd = event_new(conn->client->base, fd, EV_READ | EV_PERSIST, on_direct_read, conn);
    if (conn->rd == NULL)
        return; /* stays on the bufferevent */
    bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
    event_add(conn->rd, NULL);
}

static void tls_error(struct kumo__rpc_conn *conn, char *out, size_t out_len)
{
    SSL *ssl = bufferevent_openssl_get_ssl(conn->bev);
    unsigned long e = bufferevent_get_openssl_error(conn->bev);
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify != X509_V_OK)
        snprintf(out, out_len, "TLS: certificate verify failed: %s",
                 X509_verify_cert_error_string(verify));
    else if (e != 0)
        snprintf(out, out_len, "TLS: %s", ERR_reason_error_string(e));
    else
        snprintf(out, out_len, "TLS: %s",
                 EVUTIL_SOCKET_ERROR() ? strerror(EVUTIL_SOCKET_ERROR()) : "connection closed");
    ERR_clear_error();
}

static void transport_error(struct kumo__rpc_conn *conn, short what, char *out, size_t out_len)
{
    int dns = bufferevent_socket_get_dns_error(conn->bev);
    if (dns != 0)
        snprintf(out, out_len, "resolving %s: %s", conn->client->host, evutil_gai_strerror(dns));
    else if (conn->client->tls && !conn->ready)
        tls_error(conn, out, out_len);
    else if (what & BEV_EVENT_EOF)
        snprintf(out, out_len, "connection closed by peer");
    else
        snprintf(out, out_len, "%s",
                 EVUTIL_SOCKET_ERROR() ? strerror(EVUTIL_SOCKET_ERROR()) : "I/O error");
}

/* The transport is up (TCP connected, or TLS handshake done). */
static void conn_ready(struct kumo__rpc_conn *conn)
{
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(conn->bev);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    if (conn->client->tls) {
        const unsigned char *alpn = NULL;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(conn->bev), &alpn, &alpn_len);
        if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
            conn_fail(conn, "server did not select HTTP/2 with ALPN");
            return;
        }
    }
    if (kumo__rpc_h2_session_new(conn) != 0) {
        conn_fail(conn, "cannot create the HTTP/2 session");
        return;
    }
    /* Usable once the server's SETTINGS arrive (on_frame_recv): that proves
     * it speaks HTTP/2 and tells how many streams it takes. Until then the
     * connect timer runs. */
    conn->ready = 1;
    if (!conn->client->tls && fd >= 0)
        direct_start(conn, fd);
    if (conn_recv(conn) == 0)
        conn_flush(conn);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    struct kumo_rpc_client *c = conn->client;
    char why[256];
    (void)bev;

    if (what & BEV_EVENT_CONNECTED) {
        conn_ready(conn);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        transport_error(conn, what, why, sizeof why);
        conn_fail(conn, why);
        dispatch(c);
    }
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    struct kumo_rpc_client *c = conn->client;
    (void)fd;
    (void)what;
    conn_fail(conn, "connect timeout");
    dispatch(c);
}

/* ---- connecting ---- */

static SSL *tls_new(struct kumo_rpc_client *c)
{
    SSL *ssl = SSL_new(c->ssl_ctx);
    if (ssl == NULL)
        return NULL;
    int ok = 1;
    if (c->verify_name_is_ip) {
        /* RFC 6066: no SNI for an address; verify the iPAddress SAN. */
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->verify_name) == 1;
    } else {
        ok = SSL_set_tlsext_host_name(ssl, c->verify_name) == 1 &&
             SSL_set1_host(ssl, c->verify_name) == 1;
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    if (!ok) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    return ssl;
}

static struct bufferevent *transport_new(struct kumo_rpc_client *c)
{
    /* Deferred callbacks: an OpenSSL bufferevent would otherwise report an
     * error from inside bufferevent_write, i.e. from inside nghttp2's send
     * callback, and the connection would be freed under nghttp2's feet. */
    const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (!c->tls)
        return bufferevent_socket_new(c->base, -1, opts);
    SSL *ssl = tls_new(c);
    if (ssl == NULL)
        return NULL;
    struct bufferevent *bev =
        bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* A peer that dies without close_notify is just a closed connection. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* Starts a connection and makes it c->conn; on immediate failure fails the
 * pending calls instead. */
static void conn_start(struct kumo_rpc_client *c)
{
    struct bufferevent *bev = transport_new(c);
    kumo__rpc_stat_inc(c, &c->stats.connects);
    if (bev == NULL) {
        fail_pending(c, KUMO_CODE_UNAVAILABLE, "cannot set up the connection");
        return;
    }
    struct kumo__rpc_conn *conn = kumo_calloc(1, sizeof *conn);
    conn->client = c;
    conn->bev = bev;
    conn->connect_timer = evtimer_new(c->base, on_connect_timeout, conn);
    conn->kick = event_new(c->base, -1, 0, on_kick, conn);
    conn->next = c->conns;
    if (c->conns)
        c->conns->prev = conn;
    c->conns = conn;
    c->conn = conn;
    bufferevent_setcb(bev, on_read, on_write, on_event, conn);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    struct timeval tv = ms_to_tv(c->connect_timeout_ms);
    evtimer_add(conn->connect_timer, &tv);

    int rc = c->addr_len
                 ? bufferevent_socket_connect(bev, (struct sockaddr *)&c->addr, (int)c->addr_len)
                 : bufferevent_socket_connect_hostname(bev, c->dns, AF_UNSPEC, c->host,
                                                       (int)strtol(c->port, NULL, 10));
    if (rc != 0) {
        char why[256];
        transport_error(conn, BEV_EVENT_ERROR, why, sizeof why);
        conn_fail(conn, why);
    }
}

/* ---- the queue of calls ---- */

static size_t stream_limit(struct kumo__rpc_conn *conn)
{
    return nghttp2_session_get_remote_settings(conn->session,
                                               NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

/* Moves pending calls onto streams while the current connection has room,
 * connecting first when there is no connection. */
static void dispatch(struct kumo_rpc_client *c)
{
    struct kumo__rpc_conn *conn;

    while (c->pending.head != NULL && !c->shutting_down) {
        if (c->conn == NULL) {
            conn_start(c);
            continue; /* either c->conn is set or the pending calls failed */
        }
        conn = c->conn;
        if (!conn->usable || conn->streams.n >= stream_limit(conn))
            break;
        struct kumo__rpc_call *call = kumo__rpc_list_pop(&c->pending);
        int32_t id = kumo__rpc_h2_submit(conn, call);
        if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
            /* Stream ids exhausted: finish this connection, open another. */
            kumo__rpc_list_push_front(&c->pending, call);
            conn->goaway = 1;
            c->conn = NULL;
            continue;
        }
        if (id < 0) {
            kumo__rpc_call_completef(call, KUMO_CODE_INTERNAL, "cannot submit the request: %s",
                                     nghttp2_strerror(id));
            kumo__rpc_call_io_release(call);
            continue;
        }
        call->conn = conn;
        call->stream_id = id;
        kumo__rpc_list_push(&conn->streams, call);
        kumo__rpc_conn_kick(conn);
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct kumo__rpc_call *call = arg;
    struct kumo__rpc_conn *conn = call->conn;
    (void)fd;
    (void)what;

    kumo__rpc_call_completef(call, KUMO_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
    if (conn == NULL) {
        kumo__rpc_list_remove(&call->client->pending, call);
        kumo__rpc_call_io_release(call);
        return;
    }
    if (call->io_done)
        return; /* already reset, or its connection is going away */
    /* The stream stays until nghttp2 closes it (after sending RST_STREAM). */
    call->io_done = 1;
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
    kumo__rpc_conn_kick(conn);
}

/* A call handed over by a caller: arm its deadline and queue it. */
static void accept_call(struct kumo_rpc_client *c, struct kumo__rpc_call *call)
{
    if (call->deadline != 0) {
        int64_t left = call->deadline - kumo_now_ns();
        if (left <= 0) {
            kumo__rpc_call_completef(call, KUMO_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
            kumo__rpc_call_io_release(call);
            return;
        }
        /* Rounded up so that the timer never fires before the deadline. */
        int64_t us = (left + 999) / 1000;
        struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
        call->timer = evtimer_new(c->base, on_deadline, call);
        evtimer_add(call->timer, &tv);
    }
    kumo__rpc_list_push(&c->pending, call);
}

/* ---- shutdown ---- */

static void on_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct kumo_rpc_client *c = arg;
    (void)fd;
    (void)what;
    while (c->conns)
        conn_destroy(c->conns);
    event_base_loopbreak(c->base);
}

/* Fails every call, sends GOAWAY on usable connections and lets them flush
 * for a moment before the loop ends. */
static void begin_shutdown(struct kumo_rpc_client *c)
{
    struct kumo__rpc_conn *conn, *next;

    c->shutting_down = 1;
    fail_pending(c, KUMO_CODE_UNAVAILABLE, "client closed");
    for (conn = c->conns; conn; conn = next) {
        next = conn->next;
        for (struct kumo__rpc_call *call = conn->streams.head; call; call = call->next) {
            kumo__rpc_call_completef(call, KUMO_CODE_UNAVAILABLE, "client closed");
            call->io_done = 1;
        }
        if (!conn->ready) {
            conn_destroy(conn);
            continue;
        }
        conn->closing = 1;
        nghttp2_session_terminate_session(conn->session, NGHTTP2_NO_ERROR);
        if (conn_send(conn) == 0)
            conn_maybe_close(conn);
    }
    if (c->conns == NULL) {
        event_base_loopbreak(c->base);
        return;
    }
    struct timeval tv = ms_to_tv(SHUTDOWN_GRACE_MS);
    evtimer_add(c->shutdown_timer, &tv);
}

/* ---- the thread ---- */

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct kumo_rpc_client *c = arg;
    struct kumo__rpc_call_list incoming;
    struct kumo__rpc_call *call;
    (void)fd;
    (void)what;

    pthread_mutex_lock(&c->mu);
    incoming = c->submitted;
    memset(&c->submitted, 0, sizeof c->submitted);
    int closing = c->closing;
    pthread_mutex_unlock(&c->mu);

    while ((call = kumo__rpc_list_pop(&incoming)) != NULL)
        accept_call(c, call);
    if (closing && !c->shutting_down)
        begin_shutdown(c);
    else
        dispatch(c);
}

/* Log lines written on the I/O thread (the access lines of the requests
 * its callbacks finish, when a front end serves on this loop) are held and
 * leave together, at most LOG_LINGER_MS after the first of them, in
 * writes of whole lines (kumo_log_hold): one write(2) per line was ~2% of
 * kumo-bff's CPU per GET. As an access log with a buffer and a flush
 * interval (nginx's access_log buffer= flush=); what is held is written
 * when the thread ends. */
#define LOG_LINGER_MS 2

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    kumo_log_flush();
}

static void arm_log_flush(void *arg)
{
    struct kumo_rpc_client *c = arg;
    struct timeval tv = ms_to_tv(LOG_LINGER_MS);
    evtimer_add(c->log_flush, &tv);
}

static void *io_main(void *arg)
{
    struct kumo_rpc_client *c = arg;
    kumo_log_hold();
    kumo_log_on_first_held(arm_log_flush, c);
    event_base_loop(c->base, EVLOOP_NO_EXIT_ON_EMPTY);
    kumo_log_on_first_held(NULL, NULL);
    kumo_log_release();
    return NULL;
}

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_rc;

static void threads_init(void)
{
    threads_rc = evthread_use_pthreads();
}

static void io_free(struct kumo_rpc_client *c)
{
    if (c->shutdown_timer)
        event_free(c->shutdown_timer);
    if (c->log_flush)
        event_free(c->log_flush);
    c->log_flush = NULL;
    if (c->wake)
        event_free(c->wake);
    if (c->dns)
        evdns_base_free(c->dns, 1);
    if (c->base)
        event_base_free(c->base);
    c->shutdown_timer = c->wake = NULL;
    c->dns = NULL;
    c->base = NULL;
}

int kumo__rpc_io_start(struct kumo_rpc_client *c)
{
    pthread_once(&threads_once, threads_init);
    if (threads_rc != 0 || (c->base = event_base_new()) == NULL)
        return KUMO_ERR_IO;
    if (c->addr_len == 0) {
        c->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (c->dns == NULL) {
            io_free(c);
            return KUMO_ERR_IO;
        }
    }
    c->wake = event_new(c->base, -1, 0, on_wake, c);
    c->shutdown_timer = evtimer_new(c->base, on_shutdown_timeout, c);
    c->log_flush = evtimer_new(c->base, on_log_flush, c);

    /* The I/O thread takes no signals: they stay with the application's
     * threads, and a write to a dead peer returns EPIPE instead of raising
     * SIGPIPE for the whole process. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&c->thread, NULL, io_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        io_free(c);
        return KUMO_ERR_IO;
    }
    return 0;
}

void kumo__rpc_io_stop(struct kumo_rpc_client *c)
{
    pthread_mutex_lock(&c->mu);
    event_active(c->wake, EV_READ, 0);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    /* Calls handed over after the last wake-up cannot exist: callers check
     * `closing` under the lock before queueing. */
    io_free(c);
}
