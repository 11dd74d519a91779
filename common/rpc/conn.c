/* One HTTP/2 connection of the RPC server: transport (plain or TLS, told
 * apart by the first byte), the nghttp2 session, timeouts and reading
 * back-pressure. Lives on one I/O thread.
 *
 * The socket is driven directly (read/writev or SSL_read/SSL_write) rather
 * than through libevent bufferevents: a bufferevent adds an ioctl(FIONREAD)
 * per read and an epoll_ctl pair per write, which cost a third of the
 * throughput on small RPCs. Output is coalesced in one buffer per
 * connection and EV_WRITE is armed only when the kernel refuses bytes. */
#include "rpc/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* Coalesce nghttp2 output up to this much before a write. */
#define OUTPUT_CHUNK (64u * 1024)
#define READ_CHUNK   (16u * 1024)
/* Reads per readable event before yielding to other connections. */
#define READS_PER_EVENT 4
#define STREAM_WINDOW   (1u << 20)
#define CONN_WINDOW     (16u << 20)

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
    int mode = !conn->preface_done ? 0 : conn->n_receiving ? 1 : conn->n_calls == 0 ? 2 : 3;
    /* Re-adding a timer is a heap operation: skip it when nothing changed,
     * except in receive mode where any progress restarts the clock. */
    if (mode == conn->timer_mode && mode != 1)
        return;
    conn->timer_mode = mode;
    switch (mode) {
    case 0:
        return; /* the handshake timer set at accept stays */
    case 1:
        set_timer(conn, cfg->recv_timeout_ms);
        return;
    case 2:
        set_timer(conn, cfg->idle_timeout_ms);
        return;
    default:
        set_timer(conn, 0); /* waiting on handlers: their deadlines apply */
        return;
    }
}

void kumo__conn_close(struct kumo__conn *conn)
{
    struct kumo__io_thread *io = conn->io;
    /* The session goes first: its queued frames point into call arenas
     * (headers are submitted without copies). nghttp2_session_del reports no
     * stream closes, so calls are detached here. */
    if (conn->session) {
        nghttp2_session_del(conn->session);
        conn->session = NULL;
    }
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
    if (conn->ssl)
        SSL_free(conn->ssl);
    if (conn->read_ev)
        event_free(conn->read_ev);
    if (conn->write_ev)
        event_free(conn->write_ev);
    if (conn->fd >= 0)
        close(conn->fd);
    if (conn->timer)
        event_free(conn->timer);
    kumo_buf_free(&conn->wbuf);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        io->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    io->n_conns--;
    kumo__rpc_release(io->srv, conn->slot);
    kumo_metrics_connection_closed();
    kumo_free(conn);
    kumo__io_conn_gone(io);
}

void kumo__conn_update_backpressure(struct kumo__conn *conn)
{
    if (conn->read_ev == NULL)
        return;
    if (!conn->reading_paused && conn->pending_out > KUMO__PENDING_OUT_HIGH) {
        conn->reading_paused = 1;
        event_del(conn->read_ev);
    } else if (conn->reading_paused && conn->pending_out < KUMO__PENDING_OUT_LOW) {
        conn->reading_paused = 0;
        event_add(conn->read_ev, NULL);
    }
}

/* ---- raw transport ---- */

/* Returns bytes read, 0 at EOF, -EAGAIN when nothing is there, or another
 * negative error. */
static ssize_t transport_read(struct kumo__conn *conn, uint8_t *buf, size_t len)
{
    if (conn->ssl == NULL) {
        ssize_t n = read(conn->fd, buf, len);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
        return n;
    }
    ERR_clear_error();
    int n = SSL_read(conn->ssl, buf, (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(conn->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    return -EIO;
}

/* Returns bytes written, -EAGAIN, or another negative error. */
static ssize_t transport_write(struct kumo__conn *conn, const uint8_t *buf, size_t len)
{
    if (conn->ssl == NULL) {
        ssize_t n = send(conn->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
        return n;
    }
    ERR_clear_error();
    int n = SSL_write(conn->ssl, buf, (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(conn->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -EAGAIN;
    return -EIO;
}

static void want_write(struct kumo__conn *conn, int on)
{
    if (on == conn->write_armed)
        return;
    conn->write_armed = on;
    if (on)
        event_add(conn->write_ev, NULL);
    else
        event_del(conn->write_ev);
}

/* Writes what is buffered. Returns 0 when all went out, 1 when the kernel
 * took only part (EV_WRITE armed), -1 on a dead connection. */
static int write_pending(struct kumo__conn *conn)
{
    while (conn->woff < conn->wbuf.len) {
        ssize_t n =
            transport_write(conn, conn->wbuf.data + conn->woff, conn->wbuf.len - conn->woff);
        if (n == -EAGAIN) {
            want_write(conn, 1);
            return 1;
        }
        if (n < 0)
            return -1;
        conn->woff += (size_t)n;
    }
    kumo_buf_reset(&conn->wbuf);
    conn->woff = 0;
    want_write(conn, 0);
    return 0;
}

void kumo__conn_flush(struct kumo__conn *conn)
{
    if (conn->session == NULL)
        return;
    if (conn->fd < 0) {
        /* In-memory connection (fuzzing, tests): collect everything. */
        const uint8_t *data;
        ssize_t n;
        do {
            while ((n = nghttp2_session_mem_send(conn->session, &data)) > 0)
                if (conn->memory_out)
                    kumo_buf_append(conn->memory_out, data, (size_t)n);
            kumo__conn_run_deferred(conn);
        } while (nghttp2_session_want_write(conn->session) && conn->pending_out == 0 &&
                 conn->deferred_head == NULL && n > 0);
        return;
    }
    for (;;) {
        int rc = write_pending(conn);
        if (rc < 0) {
            kumo__conn_close(conn);
            return;
        }
        if (rc > 0)
            break; /* resumed from EV_WRITE */
        /* Coalesce frames into one write. */
        const uint8_t *data;
        ssize_t n;
        while (conn->wbuf.len < OUTPUT_CHUNK &&
               (n = nghttp2_session_mem_send(conn->session, &data)) != 0) {
            if (n < 0) {
                kumo__conn_close(conn);
                return;
            }
            kumo_buf_append(&conn->wbuf, data, (size_t)n);
        }
        if (conn->wbuf.len == 0) {
            /* Output drained: requests held back may run now. */
            if (conn->deferred_head && conn->pending_out < KUMO__PENDING_OUT_LOW) {
                kumo__conn_run_deferred(conn);
                continue;
            }
            break;
        }
    }
    kumo__conn_update_backpressure(conn);
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session) &&
        conn->wbuf.len == 0) {
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

/* Feeds bytes to nghttp2. Returns 0, or -1 after closing the connection. */
static int feed(struct kumo__conn *conn, const uint8_t *data, size_t len)
{
    ssize_t n = nghttp2_session_mem_recv(conn->session, data, len);
    if (n >= 0)
        return 0;
    kumo_metrics_counter_add("kumo_h2_protocol_errors_total",
                             "HTTP/2 connections closed for a protocol error", 1);
    /* Tell the peer why when nghttp2 queued a GOAWAY, then close. */
    const uint8_t *out;
    ssize_t m;
    while ((m = nghttp2_session_mem_send(conn->session, &out)) > 0)
        kumo_buf_append(&conn->wbuf, out, (size_t)m);
    write_pending(conn);
    kumo__conn_close(conn);
    return -1;
}

static int start_session(struct kumo__conn *conn);

/* TLS handshake step. Returns 0 while in progress or done, -1 after
 * closing the connection. */
static int tls_handshake(struct kumo__conn *conn)
{
    ERR_clear_error();
    int r = SSL_do_handshake(conn->ssl);
    if (r == 1) {
        const unsigned char *alpn = NULL;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(conn->ssl, &alpn, &alpn_len);
        if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
            kumo__conn_close(conn); /* we speak only h2 */
            return -1;
        }
        conn->tls_ready = 1;
        want_write(conn, 0);
        if (start_session(conn) != 0) {
            kumo__conn_close(conn);
            return -1;
        }
        return 0;
    }
    int e = SSL_get_error(conn->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        want_write(conn, 0);
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        want_write(conn, 1);
        return 0;
    }
    kumo_metrics_counter_add("kumo_tls_handshake_failures_total", "failed TLS handshakes", 1);
    kumo__conn_close(conn);
    return -1;
}

static void on_readable(struct kumo__conn *conn)
{
    if (conn->ssl && !conn->tls_ready) {
        if (tls_handshake(conn) != 0 || !conn->tls_ready)
            return;
    }
    uint8_t buf[READ_CHUNK];
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n = transport_read(conn, buf, sizeof(buf));
        if (n == -EAGAIN)
            break;
        if (n <= 0) {
            kumo__conn_close(conn);
            return;
        }
        if (feed(conn, buf, (size_t)n) != 0)
            return;
        if ((size_t)n < sizeof(buf) && (conn->ssl == NULL || SSL_pending(conn->ssl) == 0))
            break; /* drained */
        if (conn->reading_paused)
            break;
    }
    kumo__conn_flush(conn);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct kumo__conn *conn = arg;
    if (what & EV_WRITE) {
        if (conn->ssl && !conn->tls_ready) {
            tls_handshake(conn);
            return;
        }
        kumo__conn_flush(conn);
        return;
    }
    on_readable(conn);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct kumo__conn *conn = arg;
    if (conn->preface_done && conn->n_calls == 0 && conn->session && !conn->goaway_sent) {
        /* Idle: a polite GOAWAY, then a second to let it leave. */
        conn->timer_mode = -1;
        struct timeval tv = {1, 0};
        evtimer_add(conn->timer, &tv);
        kumo__conn_goaway(conn); /* may close and free conn */
        return;
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
    conn->timer_mode = -1;
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
    kumo__conn_flush(conn);
    return 0;
}

/* First byte 0x16 is a TLS handshake record; HTTP/2 prior knowledge starts
 * with "PRI". */
static void on_sniff(evutil_socket_t fd, short what, void *arg)
{
    struct kumo__conn *conn = arg;
    if (what & EV_TIMEOUT) {
        kumo__conn_close(conn);
        return;
    }
    unsigned char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        event_add(conn->read_ev, NULL);
        return;
    }
    if (n <= 0) {
        kumo__conn_close(conn);
        return;
    }
    /* From now on the same events drive the connection. */
    event_del(conn->read_ev);
    event_assign(conn->read_ev, conn->io->base, conn->fd, EV_READ | EV_PERSIST, on_io, conn);
    event_add(conn->read_ev, NULL);
    if (b == 0x16) {
        conn->ssl = SSL_new(conn->io->srv->ssl_ctx);
        SSL_set_fd(conn->ssl, conn->fd);
        SSL_set_accept_state(conn->ssl);
        SSL_set_mode(conn->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
        tls_handshake(conn);
        return;
    }
    if (start_session(conn) != 0)
        kumo__conn_close(conn);
    else
        on_readable(conn);
}

void kumo__conn_accept(struct kumo__io_thread *io, int fd, const struct sockaddr *addr, int alen)
{
    (void)alen;
    char peer[sizeof(((struct kumo__conn *)0)->peer)] = "";
    if (addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, peer, sizeof(peer));
    else if (addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, peer, sizeof(peer));
    /* Refused before anything is allocated for it: past the limit, with
     * no idle connection to close instead, a connection costs an accept and
     * a close, nothing more. */
    struct kumo_connlimit_slot *slot = kumo__rpc_admit(io->srv, peer, fd);
    if (slot == NULL) {
        close(fd);
        return;
    }
    struct kumo__conn *conn = kumo_calloc(1, sizeof(*conn));
    link_conn(io, conn);
    conn->slot = slot;
    conn->fd = fd;
    memcpy(conn->peer, peer, sizeof(peer));
    evutil_make_socket_nonblocking(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    set_timer(conn, io->srv->cfg.handshake_timeout_ms);
    if (io->draining) {
        kumo__conn_close(conn);
        return;
    }
    conn->write_ev = event_new(io->base, fd, EV_WRITE | EV_PERSIST, on_io, conn);
    if (io->srv->ssl_ctx) {
        conn->read_ev = event_new(io->base, fd, EV_READ, on_sniff, conn);
        event_add(conn->read_ev, NULL);
        return;
    }
    conn->read_ev = event_new(io->base, fd, EV_READ | EV_PERSIST, on_io, conn);
    event_add(conn->read_ev, NULL);
    if (start_session(conn) != 0)
        kumo__conn_close(conn);
}
