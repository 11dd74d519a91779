/* The RPC server object: service registry, I/O threads with SO_REUSEPORT
 * listeners, the worker pool for blocking handlers, and shutdown. */
#include "rpc/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define DEFAULT_MAX_MESSAGE     (4u * 1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_MAX_PER_ADDRESS 256
#define DEFAULT_CONN_BUFFER     (16u * 1024 * 1024)
/* Descriptors kept for the rest of the process (MySQL pool, outgoing RPC
 * connections, admin port, files) when fitting connections into
 * RLIMIT_NOFILE. */
#define FD_RESERVE 256

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;

static void evthread_setup(void)
{
    evthread_use_pthreads();
}

static char *dup_or_null(const char *s)
{
    return s ? kumo_strdup(s) : NULL;
}

int kumo_rpc_server_new(struct kumo_rpc_server **out, const struct kumo_rpc_server_config *cfg)
{
    pthread_once(&evthread_once, evthread_setup);
    struct kumo_rpc_server *srv = kumo_calloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    srv->bind_addr = kumo_strdup(cfg->bind_addr ? cfg->bind_addr : "127.0.0.1");
    srv->cfg.bind_addr = srv->bind_addr;
    srv->tls_cert_file = dup_or_null(cfg->tls_cert_file);
    srv->tls_key_file = dup_or_null(cfg->tls_key_file);
    srv->cfg.tls_cert_file = srv->tls_cert_file;
    srv->cfg.tls_key_file = srv->tls_key_file;
    struct kumo_rpc_server_config *c = &srv->cfg;
    if (c->io_threads <= 0)
        c->io_threads = 1;
    if (c->worker_threads <= 0)
        c->worker_threads = 4;
    if (c->max_message_size == 0)
        c->max_message_size = DEFAULT_MAX_MESSAGE;
    if (c->max_concurrent_streams == 0)
        c->max_concurrent_streams = 100;
    if (c->max_header_list_size == 0)
        c->max_header_list_size = 16 * 1024;
    if (c->idle_timeout_ms <= 0)
        c->idle_timeout_ms = 120000;
    if (c->recv_timeout_ms <= 0)
        c->recv_timeout_ms = 20000;
    if (c->handshake_timeout_ms <= 0)
        c->handshake_timeout_ms = 10000;
    if (c->drain_timeout_ms <= 0)
        c->drain_timeout_ms = 15000;
    if (c->max_connections <= 0)
        c->max_connections = DEFAULT_MAX_CONNECTIONS;
    if (c->max_connections_per_address <= 0)
        c->max_connections_per_address = DEFAULT_MAX_PER_ADDRESS;
    if (c->max_connection_buffer == 0)
        c->max_connection_buffer = DEFAULT_CONN_BUFFER;
    /* One message of the largest size, in its envelope, always fits. */
    if (c->max_connection_buffer < c->max_message_size + 64)
        c->max_connection_buffer = c->max_message_size + 64;
    if (srv->tls_cert_file && srv->tls_key_file) {
        int rc = kumo__tls_server_ctx(srv->tls_cert_file, srv->tls_key_file, &srv->ssl_ctx);
        if (rc != 0) {
            kumo_rpc_server_free(srv);
            return rc;
        }
    }
    pthread_mutex_init(&srv->work_mu, NULL);
    pthread_cond_init(&srv->work_cv, NULL);
    *out = srv;
    return 0;
}

static int method_cmp(const void *a, const void *b)
{
    const struct kumo__rpc_method *x = a, *y = b;
    return strcmp(x->path, y->path);
}

int kumo_rpc_server_add_service(struct kumo_rpc_server *srv, const struct kumo_rpc_service *svc)
{
    const ProtobufCServiceDescriptor *d = svc->descriptor;
    for (size_t i = 0; i < srv->n_services; i++)
        if (strcmp(srv->services[i]->def.descriptor->name, d->name) == 0)
            return KUMO_ERR_INVALID;
    /* Validate the whole table before changing anything. */
    for (size_t i = 0; i < svc->n_methods; i++) {
        if (protobuf_c_service_descriptor_get_method_by_name(d, svc->methods[i].name) == NULL) {
            kumo_logf(KUMO_LOG_ERROR, NULL, "service %s has no method %s", d->name,
                      svc->methods[i].name);
            return KUMO_ERR_INVALID;
        }
    }
    struct kumo__rpc_service *s = kumo_calloc(1, sizeof(*s));
    s->def = *svc;
    s->methods = kumo_calloc(svc->n_methods, sizeof(*s->methods));
    memcpy(s->methods, svc->methods, svc->n_methods * sizeof(*s->methods));
    s->def.methods = s->methods;
    srv->services = kumo_realloc(srv->services, (srv->n_services + 1) * sizeof(*srv->services));
    srv->services[srv->n_services++] = s;

    /* Every method of the descriptor gets a path, with or without handler:
     * a known method without handler answers unimplemented. */
    srv->methods =
        kumo_realloc(srv->methods, (srv->n_methods + d->n_methods) * sizeof(*srv->methods));
    for (unsigned i = 0; i < d->n_methods; i++) {
        struct kumo__rpc_method *m = &srv->methods[srv->n_methods++];
        struct kumo_buf path = KUMO_BUF_INIT;
        kumo_buf_appendf(&path, "/%s/%s", d->name, d->methods[i].name);
        m->path = kumo_buf_steal(&path, NULL);
        m->desc = &d->methods[i];
        m->service = s;
        m->entry = NULL;
        for (size_t j = 0; j < svc->n_methods; j++)
            if (strcmp(s->methods[j].name, d->methods[i].name) == 0)
                m->entry = &s->methods[j];
    }
    qsort(srv->methods, srv->n_methods, sizeof(*srv->methods), method_cmp);
    for (size_t i = 0; i < srv->n_methods; i++)
        srv->methods[i].metric = kumo_metrics_method(srv->methods[i].path);
    return 0;
}

void kumo_rpc_server_set_auth(struct kumo_rpc_server *srv, kumo_rpc_auth_fn fn, void *ud)
{
    srv->auth_fn = fn;
    srv->auth_ud = ud;
}

size_t kumo_rpc_server_service_count(const struct kumo_rpc_server *srv)
{
    return srv->n_services;
}

const char *kumo_rpc_server_service_name(const struct kumo_rpc_server *srv, size_t i)
{
    return i < srv->n_services ? srv->services[i]->def.descriptor->name : NULL;
}

const struct kumo__rpc_method *kumo__rpc_find_method(const struct kumo_rpc_server *srv,
                                                     const char *path)
{
    struct kumo__rpc_method key = {.path = (char *)path};
    return bsearch(&key, srv->methods, srv->n_methods, sizeof(*srv->methods), method_cmp);
}

/* ---- connection admission ---- */

struct kumo_connlimit_slot *kumo__rpc_admit(struct kumo_rpc_server *srv, const char *peer, int fd)
{
    long evicted = kumo_connlimit_evicted(srv->limit);
    struct kumo_connlimit_slot *slot = kumo_connlimit_admit(srv->limit, peer, fd);
    long now_evicted = kumo_connlimit_evicted(srv->limit) - evicted;
    if (now_evicted > 0)
        kumo_metrics_counter_add("kumo_connections_evicted_total",
                                 "idle connections closed to make room for a new one: "
                                 "KUMO_MAX_CONNECTIONS open on the RPC port, or "
                                 "KUMO_MAX_CONNECTIONS_PER_ADDRESS from the client's address",
                                 (double)now_evicted);
    if (slot)
        return slot;
    kumo_metrics_counter_add("kumo_connections_refused_total",
                             "connections closed at once: KUMO_MAX_CONNECTIONS open on the RPC "
                             "port, or KUMO_MAX_CONNECTIONS_PER_ADDRESS from the client's address, "
                             "none of them idle",
                             1);
    if (peer && *peer && srv->cfg.max_connections_per_address > 0 &&
        kumo_connlimit_count(srv->limit, peer) >= srv->cfg.max_connections_per_address)
        kumo_metrics_counter_add(
            "kumo_connections_refused_address_total",
            "connections closed at once: KUMO_MAX_CONNECTIONS_PER_ADDRESS open "
            "from the client's address, none of them idle",
            1);
    return NULL;
}

void kumo__rpc_release(struct kumo_rpc_server *srv, struct kumo_connlimit_slot *slot)
{
    kumo_connlimit_release(srv->limit, slot);
}

void kumo__rpc_conn_idle(struct kumo_rpc_server *srv, struct kumo_connlimit_slot *slot, int idle)
{
    kumo_connlimit_set_idle(srv->limit, slot, idle);
}

/* Every connection is two descriptors (its socket, and the connection
 * limit's dup of it, kept to shut it down when evicted): raise the soft
 * RLIMIT_NOFILE so the limit fits with room for the rest of the process,
 * or lower the limit to what fits (as Redis does with maxclients). accept()
 * then never fails with EMFILE, on which libevent's listener would spin. */
static void fit_fd_limit(struct kumo_rpc_server *srv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = 2 * (rlim_t)srv->cfg.max_connections + FD_RESERVE;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
        rl = raised;
    if (rl.rlim_cur >= want)
        return;
    int fit =
        rl.rlim_cur > 2 * FD_RESERVE ? (int)(rl.rlim_cur - FD_RESERVE) / 2 : (int)rl.rlim_cur / 4;
    if (fit < 1)
        fit = 1;
    char was[16], now[16];
    snprintf(was, sizeof was, "%d", srv->cfg.max_connections);
    snprintf(now, sizeof now, "%d", fit);
    kumo_log(KUMO_LOG_WARN, NULL, "RLIMIT_NOFILE too low: fewer connections allowed",
             "max_connections", was, "now", now, NULL);
    srv->cfg.max_connections = fit;
}

/* The descriptor numbers a port's connections can reach (fit_fd_limit),
 * less the top FD_MAP_SPARE the process may open: priming holds every
 * number it covers for a moment, and other threads (the database pool,
 * log files) must not meet EMFILE meanwhile. */
#define FD_MAP_SPARE 64
static int fd_map_size(const struct kumo_rpc_server *srv)
{
    long n = 2L * srv->cfg.max_connections + FD_RESERVE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)n + FD_MAP_SPARE > rl.rlim_cur)
        n = (long)rl.rlim_cur - FD_MAP_SPARE;
    return n > 65536 ? 65536 : n < 0 ? 0 : (int)n;
}

/* ---- worker pool ---- */

void kumo__rpc_work_submit(struct kumo_rpc_server *srv, struct kumo_rpc_call *call)
{
    call->work_next = NULL;
    pthread_mutex_lock(&srv->work_mu);
    if (srv->work_tail)
        srv->work_tail->work_next = call;
    else
        srv->work_head = call;
    srv->work_tail = call;
    pthread_cond_signal(&srv->work_cv);
    pthread_mutex_unlock(&srv->work_mu);
}

static void *worker_main(void *arg)
{
    struct kumo_rpc_server *srv = arg;
    for (;;) {
        pthread_mutex_lock(&srv->work_mu);
        while (srv->work_head == NULL && !srv->work_stop)
            pthread_cond_wait(&srv->work_cv, &srv->work_mu);
        struct kumo_rpc_call *call = srv->work_head;
        if (call == NULL) {
            pthread_mutex_unlock(&srv->work_mu);
            return NULL;
        }
        srv->work_head = call->work_next;
        if (srv->work_head == NULL)
            srv->work_tail = NULL;
        pthread_mutex_unlock(&srv->work_mu);

        /* call->conn is the I/O thread's to change; call->io is fixed at
         * dispatch and outlives every call. */
        kumo__call_run_handler(call);
        kumo__io_post_completion(call->io, call);
    }
}

/* ---- I/O threads ---- */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr, int alen,
                      void *arg)
{
    (void)l;
    kumo__conn_accept(arg, fd, addr, alen);
}

/* ---- held server streams ---- */

void kumo__io_hold(struct kumo_rpc_call *call)
{
    struct kumo__io_thread *io = call->io;
    call->held = 1;
    call->held_prev = NULL;
    call->held_next = io->held;
    if (io->held)
        io->held->held_prev = call;
    io->held = call;
}

void kumo__io_unhold(struct kumo_rpc_call *call)
{
    struct kumo__io_thread *io = call->io;
    if (call->held_prev)
        call->held_prev->held_next = call->held_next;
    else
        io->held = call->held_next;
    if (call->held_next)
        call->held_next->held_prev = call->held_prev;
    call->held = 0;
    call->held_prev = call->held_next = NULL;
}

/* Runs the tick of every held stream of `io`; with `end`, then ends them
 * with `unavailable` (the server drains). */
static void tick_held(struct kumo__io_thread *io, int end)
{
    for (struct kumo_rpc_call *c = io->held, *next; c; c = next) {
        next = c->held_next;
        struct kumo__conn *conn = c->conn;
        if (conn == NULL || c->stream_closed || c->answered) {
            kumo__io_unhold(c);
            continue;
        }
        ProtobufCMessage *msg = c->method->entry->tick ? c->method->entry->tick(c) : NULL;
        if (msg)
            kumo__respond_stream_message(c, msg);
        if (end) {
            kumo__io_unhold(c);
            kumo__respond_error(c, KUMO_CODE_UNAVAILABLE, "the server is shutting down");
        }
        kumo__conn_flush(conn);
    }
}

static void io_stop_if_idle(struct kumo__io_thread *io)
{
    if (io->draining && io->n_conns == 0)
        event_base_loopexit(io->base, NULL);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct kumo__io_thread *io = arg;
    kumo_logf(KUMO_LOG_WARN, NULL, "drain timeout: closing %zu connection(s)", io->n_conns);
    while (io->conns)
        kumo__conn_close(io->conns);
    event_base_loopexit(io->base, NULL);
}

static void begin_drain(struct kumo__io_thread *io, int immediate)
{
    if (io->listener) {
        evconnlistener_free(io->listener);
        io->listener = NULL;
    }
    if (immediate) {
        on_drain_timeout(-1, 0, io);
        return;
    }
    if (io->draining)
        return;
    io->draining = 1;
    /* Held streams get their last message (e.g. NOT_SERVING) and end. */
    tick_held(io, 1);
    for (struct kumo__conn *c = io->conns, *next; c; c = next) {
        next = c->next;
        kumo__conn_goaway(c);
    }
    struct timeval tv = {io->srv->cfg.drain_timeout_ms / 1000,
                         (io->srv->cfg.drain_timeout_ms % 1000) * 1000};
    io->drain_ev = evtimer_new(io->base, on_drain_timeout, io);
    evtimer_add(io->drain_ev, &tv);
    io_stop_if_idle(io);
}

/* Completions from workers and shutdown requests arrive here. */
static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct kumo__io_thread *io = arg;
    pthread_mutex_lock(&io->mu);
    struct kumo_rpc_call *done = io->completed;
    io->completed = NULL;
    int shutdown = io->shutdown_requested;
    io->shutdown_requested = 0;
    int tick = io->tick_requested;
    io->tick_requested = 0;
    pthread_mutex_unlock(&io->mu);
    if (tick)
        tick_held(io, 0);
    /* Reverse the LIFO so calls complete in the order they finished. */
    struct kumo_rpc_call *ordered = NULL;
    while (done) {
        struct kumo_rpc_call *next = done->work_next;
        done->work_next = ordered;
        ordered = done;
        done = next;
    }
    while (ordered) {
        struct kumo_rpc_call *next = ordered->work_next;
        kumo__stream_work_done(ordered);
        ordered = next;
    }
    if (shutdown)
        begin_drain(io, shutdown > 1);
    io_stop_if_idle(io);
}

void kumo__io_post_completion(struct kumo__io_thread *io, struct kumo_rpc_call *call)
{
    pthread_mutex_lock(&io->mu);
    call->work_next = io->completed;
    io->completed = call;
    pthread_mutex_unlock(&io->mu);
    event_active(io->wakeup_ev, EV_READ, 0);
}

void kumo__io_conn_gone(struct kumo__io_thread *io)
{
    io_stop_if_idle(io);
}

static void *io_main(void *arg)
{
    struct kumo__io_thread *io = arg;
    event_base_dispatch(io->base);
    /* Connections left after loopexit (drain timeout) are torn down here. */
    while (io->conns)
        kumo__conn_close(io->conns);
    atomic_fetch_add(&io->srv->io_stopped, 1);
    return NULL;
}

/* The bind address (numeric) and `port`, resolved for a listener. Returns
 * 0 (free *res with freeaddrinfo) or -EINVAL. */
static int resolve(const struct kumo_rpc_server *srv, int port, struct addrinfo **res)
{
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    return getaddrinfo(srv->bind_addr, portstr, &hints, res) == 0 ? 0 : -EINVAL;
}

static int make_listener(struct kumo_rpc_server *srv, int port, int *fd_out, int *bound_port)
{
    struct addrinfo *res = NULL;
    int rc = resolve(srv, port, &res);
    if (rc != 0)
        return rc;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        freeaddrinfo(res);
        return rc;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        rc = -errno;
        close(fd);
        freeaddrinfo(res);
        return rc;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

/* SO_REUSEPORT would let a second daemon share a port already serving
 * another: probe the port without it first, so "in use" is an error. */
static int probe_port_free(struct kumo_rpc_server *srv, int port)
{
    struct addrinfo *res = NULL;
    if (resolve(srv, port, &res) != 0)
        return -EINVAL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
    } else {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
            rc = -errno;
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

int kumo_rpc_server_start(struct kumo_rpc_server *srv)
{
    if (srv->cfg.port != 0) {
        int rc = probe_port_free(srv, srv->cfg.port);
        if (rc != 0)
            return rc;
    }
    fit_fd_limit(srv);
    if (kumo_connlimit_new(&srv->limit, srv->cfg.max_connections,
                           srv->cfg.max_connections_per_address) != 0)
        return KUMO_ERR_INVALID;
    int n = srv->cfg.io_threads;
    srv->io = kumo_calloc((size_t)n, sizeof(*srv->io));
    srv->n_io = n;
    int port = srv->cfg.port;
    for (int i = 0; i < n; i++) {
        struct kumo__io_thread *io = &srv->io[i];
        io->srv = srv;
        io->index = i;
        pthread_mutex_init(&io->mu, NULL);
        /* Lockable (evthread_use_pthreads): workers call event_active on
         * wakeup_ev from their own threads. */
        io->base = event_base_new();
        kumo__rpc_prime_fd_map(io->base, fd_map_size(srv));
        int fd = -1, bound = 0;
        int rc = make_listener(srv, port, &fd, &bound);
        if (rc != 0)
            return rc;
        if (port == 0)
            port = bound; /* the other threads share the ephemeral port */
        srv->port = bound;
        io->listener = evconnlistener_new(io->base, on_accept, io,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
        io->wakeup_ev = event_new(io->base, -1, EV_PERSIST, on_wakeup, io);
        event_add(io->wakeup_ev, NULL);
    }
    srv->n_workers = srv->cfg.worker_threads;
    srv->workers = kumo_calloc((size_t)srv->n_workers, sizeof(*srv->workers));
    for (int i = 0; i < srv->n_workers; i++)
        pthread_create(&srv->workers[i], NULL, worker_main, srv);
    for (int i = 0; i < n; i++)
        pthread_create(&srv->io[i].thread, NULL, io_main, &srv->io[i]);
    srv->started = 1;
    return 0;
}

struct kumo__io_thread *kumo__rpc_server_prepare_offline(struct kumo_rpc_server *srv)
{
    srv->io = kumo_calloc(1, sizeof(*srv->io));
    srv->n_io = 1;
    struct kumo__io_thread *io = &srv->io[0];
    io->srv = srv;
    pthread_mutex_init(&io->mu, NULL);
    io->base = event_base_new();
    io->wakeup_ev = event_new(io->base, -1, EV_PERSIST, on_wakeup, io);
    return io;
}

void kumo__rpc_server_run_pending(struct kumo_rpc_server *srv)
{
    for (;;) {
        pthread_mutex_lock(&srv->work_mu);
        struct kumo_rpc_call *call = srv->work_head;
        if (call) {
            srv->work_head = call->work_next;
            if (srv->work_head == NULL)
                srv->work_tail = NULL;
        }
        pthread_mutex_unlock(&srv->work_mu);
        if (call == NULL)
            return;
        kumo__call_run_handler(call);
        kumo__stream_work_done(call);
    }
}

int kumo_rpc_server_port(const struct kumo_rpc_server *srv)
{
    return srv->port;
}

void kumo_rpc_server_shutdown(struct kumo_rpc_server *srv)
{
    int n = atomic_fetch_add(&srv->shutdowns, 1) + 1;
    for (int i = 0; i < srv->n_io; i++) {
        struct kumo__io_thread *io = &srv->io[i];
        pthread_mutex_lock(&io->mu);
        io->shutdown_requested = n > 1 ? 2 : 1;
        pthread_mutex_unlock(&io->mu);
        event_active(io->wakeup_ev, EV_READ, 0);
    }
}

void kumo_rpc_server_tick(struct kumo_rpc_server *srv)
{
    if (srv == NULL || !srv->started)
        return;
    for (int i = 0; i < srv->n_io; i++) {
        struct kumo__io_thread *io = &srv->io[i];
        pthread_mutex_lock(&io->mu);
        io->tick_requested = 1;
        pthread_mutex_unlock(&io->mu);
        event_active(io->wakeup_ev, EV_READ, 0);
    }
}

int kumo_rpc_server_stopped(const struct kumo_rpc_server *srv)
{
    return atomic_load(&((struct kumo_rpc_server *)srv)->io_stopped) == srv->n_io;
}

void kumo_rpc_server_wait(struct kumo_rpc_server *srv)
{
    if (!srv->started)
        return;
    for (int i = 0; i < srv->n_io; i++)
        pthread_join(srv->io[i].thread, NULL);
    pthread_mutex_lock(&srv->work_mu);
    srv->work_stop = 1;
    pthread_cond_broadcast(&srv->work_cv);
    pthread_mutex_unlock(&srv->work_mu);
    for (int i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i], NULL);
    srv->started = 0;
}

void kumo_rpc_server_free(struct kumo_rpc_server *srv)
{
    if (srv == NULL)
        return;
    for (int i = 0; i < srv->n_io; i++) {
        struct kumo__io_thread *io = &srv->io[i];
        if (io->listener)
            evconnlistener_free(io->listener);
        if (io->wakeup_ev)
            event_free(io->wakeup_ev);
        if (io->drain_ev)
            event_free(io->drain_ev);
        if (io->base)
            event_base_free(io->base);
        for (int j = 0; j < io->n_arena_pool; j++)
            kumo_arena_free(io->arena_pool[j]);
        pthread_mutex_destroy(&io->mu);
    }
    kumo_connlimit_free(srv->limit);
    srv->limit = NULL;
    kumo_free(srv->io);
    kumo_free(srv->workers);
    for (size_t i = 0; i < srv->n_methods; i++)
        kumo_free(srv->methods[i].path);
    kumo_free(srv->methods);
    for (size_t i = 0; i < srv->n_services; i++) {
        kumo_free(srv->services[i]->methods);
        kumo_free(srv->services[i]);
    }
    kumo_free(srv->services);
    if (srv->ssl_ctx)
        SSL_CTX_free(srv->ssl_ctx);
    kumo_free(srv->bind_addr);
    kumo_free(srv->tls_cert_file);
    kumo_free(srv->tls_key_file);
    pthread_mutex_destroy(&srv->work_mu);
    pthread_cond_destroy(&srv->work_cv);
    kumo_free(srv);
}
