/* One HTTP/2 connection of the RPC server: transport (plain or TLS, told
 * apart by the first byte), the nghttp2 session, timeouts and reading
 * back-pressure. Lives on one I/O thread. */
#include "rpc_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "metrics.h"

/* Stop reading new requests while this many response bytes wait to be sent
 * (a client that never reads cannot make us buffer without bound). */
#define PENDING_OUT_HIGH (8u * 1024 * 1024)
#define PENDING_OUT_LOW  (4u * 1024 * 1024)
/* Hand nghttp2 output to the socket in slices; resume below the low mark. */
#define OUTPUT_HIGH   (64u * 1024)
#define OUTPUT_LOW    (16u * 1024)
#define STREAM_WINDOW (1u << 20)
#define CONN_WINDOW   (16u << 20)

static nghttp2_session_callbacks *server_callbacks;
static nghttp2_option *server_options;
static pthread_once_t callbacks_once = PTHREAD_ONCE_INIT;

static void callbacks_setup(void)
{
    nghttp2_session_callbacks_new(&server_callbacks);
    kumo__stream_install_callbacks(server_callbacks);
    nghttp2_option_new(&server_options);
    /* Hardening beyond nghttp2's defaults, stated explicitly. */
    nghttp2_option_set_max_outbound_ack(server_options, 1000);
    nghttp2_option_set_max_settings(server_options, 32);
    nghttp2_option_set_stream_reset_rate_limit(server_options, 200, 50);
    nghttp2_option_set_max_continuations(server_options, 8);
    nghttp2_option_set_max_deflate_dynamic_table_size(server_options, 4096);
}

static void set_timer(struct kumo__conn *conn, int ms)
{
    if (ms <= 0) {
        evtimer_del(conn->timer);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(conn->timer, &tv);
}

/* Picks the timeout that applies to the connection's current state. */
static void rearm_timer(struct kumo__conn *conn)
{
    const struct kumo_rpc_server_config *cfg = &conn->io->srv->cfg;
    if (!conn->preface_done)
        return; /* the handshake timer set at accept stays */
    if (conn->n_receiving > 0)
        set_timer(conn, cfg->recv_timeout_ms);
    else if (conn->n_calls == 0)
        set_timer(conn, cfg->idle_timeout_ms);
    else
        set_timer(conn, 0); /* waiting on handlers: their deadlines apply */
}

void kumo__conn_close(struct kumo__conn *conn)
{
    struct kumo__io_thread *io = conn->io;
    /* nghttp2_session_del reports no stream closes: detach calls here. */
    while (conn->calls) {
        struct kumo_rpc_call *call = conn->calls;
        conn->calls = call->next;
        call->prev = call->next = NULL;
        call->conn = NULL;
        call->stream_closed = 1;
        kumo__call_cancel(call);
        if (!call->in_worker)
            kumo__call_free(call);
        /* else freed by kumo__stream_work_done when the worker returns */
    }
    if (conn->session)
        nghttp2_session_del(conn->session);
    if (conn->bev)
        bufferevent_free(conn->bev); /* closes fd and frees SSL */
    else if (conn->fd >= 0)
        close(conn->fd);
    if (conn->ssl && !conn->bev)
        SSL_free(conn->ssl);
    if (conn->sniff_ev)
        event_free(conn->sniff_ev);
    if (conn->timer)
        event_free(conn->timer);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        io->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    io->n_conns--;
    kumo_metrics_connection_closed();
    kumo_free(conn);
    kumo__io_conn_gone(io);
}

void kumo__conn_update_backpressure(struct kumo__conn *conn)
{
    if (conn->bev == NULL)
        return;
    if (!conn->reading_paused && conn->pending_out > PENDING_OUT_HIGH) {
        conn->reading_paused = 1;
        bufferevent_disable(conn->bev, EV_READ);
    } else if (conn->reading_paused && conn->pending_out < PENDING_OUT_LOW) {
        conn->reading_paused = 0;
        bufferevent_enable(conn->bev, EV_READ);
    }
}

void kumo__conn_flush(struct kumo__conn *conn)
{
    if (conn->session == NULL)
        return;
    if (conn->bev == NULL) {
        /* In-memory connection (fuzzing): collect everything. */
        const uint8_t *data;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(conn->session, &data)) > 0)
            if (conn->memory_out)
                kumo_buf_append(conn->memory_out, data, (size_t)n);
        return;
    }
    struct evbuffer *output = bufferevent_get_output(conn->bev);
    while (evbuffer_get_length(output) < OUTPUT_HIGH) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);
        if (n < 0) {
            kumo__conn_close(conn);
            return;
        }
        if (n == 0)
            break;
        bufferevent_write(conn->bev, data, (size_t)n);
    }
    kumo__conn_update_backpressure(conn);
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session) &&
        evbuffer_get_length(output) == 0) {
        kumo__conn_close(conn);
        return;
    }
    rearm_timer(conn);
}

void kumo__conn_goaway(struct kumo__conn *conn)
{
    if (conn->session == NULL || conn->goaway_sent)
        return;
    conn->goaway_sent = 1;
    nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(conn->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
    /* With GOAWAY sent and no streams left, nghttp2 wants neither read nor
     * write any more, and flush closes the connection. */
    kumo__conn_flush(conn);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct kumo__conn *conn = arg;
    struct evbuffer *input = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(input);
    while (len > 0) {
        struct evbuffer_iovec vec;
        if (evbuffer_peek(input, -1, NULL, &vec, 1) < 1)
            break;
        ssize_t n = nghttp2_session_mem_recv(conn->session, vec.iov_base, vec.iov_len);
        if (n < 0) {
            kumo_metrics_counter_add("kumo_h2_protocol_errors_total",
                                     "HTTP/2 connections closed for a protocol error", 1);
            /* Tell the peer why when nghttp2 queued a GOAWAY, then close. */
            const uint8_t *data;
            ssize_t m;
            while ((m = nghttp2_session_mem_send(conn->session, &data)) > 0)
                bufferevent_write(conn->bev, data, (size_t)m);
            kumo__conn_close(conn);
            return;
        }
        evbuffer_drain(input, (size_t)n);
        len -= (size_t)n;
        if (conn->session == NULL)
            return;
    }
    kumo__conn_flush(conn);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    kumo__conn_flush(arg);
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    struct kumo__conn *conn = arg;
    (void)bev;
    if (events & BEV_EVENT_CONNECTED) {
        /* TLS handshake done: we speak only h2. */
        const unsigned char *alpn = NULL;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(conn->ssl, &alpn, &alpn_len);
        if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
            kumo__conn_close(conn);
            return;
        }
        return;
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        kumo__conn_close(conn);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct kumo__conn *conn = arg;
    if (conn->preface_done && conn->n_calls == 0 && conn->session) {
        kumo__conn_goaway(conn); /* idle: polite close */
        if (conn->session == NULL)
            return;
        /* Flush left it open (e.g. unsent output): cut it. */
    }
    kumo_metrics_counter_add("kumo_h2_timeouts_total", "connections closed by a timeout", 1);
    kumo__conn_close(conn);
}

static int new_session(struct kumo__conn *conn)
{
    const struct kumo_rpc_server_config *cfg = &conn->io->srv->cfg;
    pthread_once(&callbacks_once, callbacks_setup);
    if (nghttp2_session_server_new2(&conn->session, server_callbacks, conn, server_options) != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_list_size},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    return 0;
}

static void link_conn(struct kumo__io_thread *io, struct kumo__conn *conn)
{
    conn->io = io;
    conn->fd = -1;
    conn->next = io->conns;
    if (io->conns)
        io->conns->prev = conn;
    io->conns = conn;
    io->n_conns++;
    kumo_metrics_connection_opened();
    conn->timer = evtimer_new(io->base, on_timer, conn);
}

struct kumo__conn *kumo__conn_new_memory(struct kumo__io_thread *io, struct kumo_buf *out)
{
    struct kumo__conn *conn = kumo_calloc(1, sizeof(*conn));
    link_conn(io, conn);
    conn->memory_out = out;
    conn->preface_done = 1;
    if (new_session(conn) != 0) {
        kumo__conn_close(conn);
        return NULL;
    }
    return conn;
}

int kumo__conn_feed(struct kumo__conn *conn, const uint8_t *data, size_t len)
{
    ssize_t n = nghttp2_session_mem_recv(conn->session, data, len);
    kumo__conn_flush(conn);
    return n < 0 ? (int)n : 0;
}

static int start_session(struct kumo__conn *conn)
{
    if (new_session(conn) != 0)
        return -1;
    bufferevent_setcb(conn->bev, on_read, on_write, on_event, conn);
    bufferevent_setwatermark(conn->bev, EV_WRITE, OUTPUT_LOW, 0);
    bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
    kumo__conn_flush(conn);
    return 0;
}

static void start_transport(struct kumo__conn *conn, int tls)
{
    struct event_base *base = conn->io->base;
    if (tls) {
        conn->ssl = SSL_new(conn->io->srv->ssl_ctx);
        conn->bev =
            bufferevent_openssl_socket_new(base, conn->fd, conn->ssl, BUFFEREVENT_SSL_ACCEPTING,
                                           BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    } else {
        conn->bev = bufferevent_socket_new(base, conn->fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (conn->bev == NULL || start_session(conn) != 0)
        kumo__conn_close(conn);
}

/* First byte 0x16 is a TLS handshake record; HTTP/2 prior knowledge starts
 * with "PRI". */
static void on_sniff(evutil_socket_t fd, short what, void *arg)
{
    struct kumo__conn *conn = arg;
    event_free(conn->sniff_ev);
    conn->sniff_ev = NULL;
    if (what & EV_TIMEOUT) {
        kumo__conn_close(conn);
        return;
    }
    unsigned char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            conn->sniff_ev = event_new(conn->io->base, fd, EV_READ, on_sniff, conn);
            event_add(conn->sniff_ev, NULL);
            return;
        }
        kumo__conn_close(conn);
        return;
    }
    start_transport(conn, b == 0x16);
}

void kumo__conn_accept(struct kumo__io_thread *io, int fd, const struct sockaddr *addr, int alen)
{
    (void)alen;
    struct kumo__conn *conn = kumo_calloc(1, sizeof(*conn));
    link_conn(io, conn);
    conn->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, conn->peer,
                  sizeof(conn->peer));
    else if (addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, conn->peer,
                  sizeof(conn->peer));
    set_timer(conn, io->srv->cfg.handshake_timeout_ms);
    if (io->draining) {
        kumo__conn_close(conn);
        return;
    }
    if (io->srv->ssl_ctx) {
        struct timeval tv = {io->srv->cfg.handshake_timeout_ms / 1000,
                             (io->srv->cfg.handshake_timeout_ms % 1000) * 1000};
        conn->sniff_ev = event_new(io->base, fd, EV_READ, on_sniff, conn);
        event_add(conn->sniff_ev, &tv);
    } else {
        start_transport(conn, 0);
    }
}
