#include "runtime/admin_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define MAX_HEADERS_SIZE 8192
#define MAX_BODY_SIZE    1024
#define TIMEOUT_SECONDS  10
#define CHECK_ERR_LEN    256

struct check {
    char *name;
    kumo_admin_check_fn fn;
    void *ud;
};

struct extra_route {
    char *path;
    kumo_admin_route_fn fn; /* or NULL, then: */
    kumo_admin_query_route_fn qfn;
    void *ud;
};

struct kumo_admin {
    struct evhttp *http;
    int port;
    atomic_int draining;
    struct check *checks;
    size_t n_checks;
    struct extra_route *routes;
    size_t n_routes;
};

/* ---- responses ---- */

static void send_body(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                      const void *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    /* Probe answers are live state: no proxy or client may reuse one. */
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    struct evbuffer *evb = evbuffer_new();
    if (evb == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* evhttp 2.1 would send the body of a HEAD reply (and omit its
         * length): send none, and the length a GET would have. */
        char clen[24];
        snprintf(clen, sizeof clen, "%zu", len);
        evhttp_add_header(h, "Content-Length", clen);
    } else {
        evbuffer_add(evb, body, len);
    }
    evhttp_send_reply(req, code, reason, evb);
    evbuffer_free(evb);
}

static void send_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    send_body(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

static void send_json(struct evhttp_request *req, int code, const char *reason,
                      const struct kumo_buf *b)
{
    send_body(req, code, reason, "application/json", b->data, b->len);
}

/* ---- endpoints ---- */

static void serve_healthz(struct evhttp_request *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    send_body(req, 200, "OK", "application/json", body, sizeof body - 1);
}

/* Runs one check and appends "name":{"ok":...}; returns 1 if it passed. */
static int run_check(const struct check *c, struct kumo_buf *b)
{
    char err[CHECK_ERR_LEN];
    err[0] = '\0';
    int rc = c->fn(c->ud, err, sizeof err);
    err[sizeof err - 1] = '\0';
    kumo__json_append_string(b, c->name, strlen(c->name));
    if (rc == 0) {
        kumo_buf_append_str(b, ":{\"ok\":true}");
        return 1;
    }
    kumo_buf_append_str(b, ":{\"ok\":false,\"error\":");
    const char *msg = err[0] ? err : "check failed";
    kumo__json_append_string(b, msg, strlen(msg));
    kumo_buf_append_byte(b, '}');
    return 0;
}

static void serve_readyz(struct kumo_admin *a, struct evhttp_request *req)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    if (atomic_load(&a->draining)) {
        kumo_buf_append_str(&b, "{\"status\":\"draining\"}");
        send_json(req, 503, "Service Unavailable", &b);
        kumo_buf_free(&b);
        return;
    }
    struct kumo_buf checks = KUMO_BUF_INIT;
    int all_ok = 1;
    for (size_t i = 0; i < a->n_checks; i++) {
        if (i)
            kumo_buf_append_byte(&checks, ',');
        all_ok &= run_check(&a->checks[i], &checks);
    }
    kumo_buf_appendf(&b, "{\"status\":\"%s\",\"checks\":{", all_ok ? "ok" : "unavailable");
    kumo_buf_append(&b, checks.data, checks.len);
    kumo_buf_append_str(&b, "}}");
    kumo_buf_free(&checks);
    if (all_ok)
        send_json(req, 200, "OK", &b);
    else
        send_json(req, 503, "Service Unavailable", &b);
    kumo_buf_free(&b);
}

/* Readiness as metrics, sampled at each scrape (checks answer at once by
 * contract): the not-ready and MySQL-unreachable alerts read these, since a
 * failing readiness probe alone only takes the pod out of the Service. */
static void sample_readiness(struct kumo_admin *a)
{
    int all_ok = !atomic_load(&a->draining);
    for (size_t i = 0; i < a->n_checks; i++) {
        char err[CHECK_ERR_LEN];
        err[0] = '\0';
        int ok = a->checks[i].fn(a->checks[i].ud, err, sizeof err) == 0;
        all_ok &= ok;
        kumo_metrics_gauge_setl("kumo_readiness_check",
                                "Readiness checks of /readyz: 1 passing, 0 failing.",
                                (const char *[]){"check", a->checks[i].name, NULL}, ok);
    }
    kumo_metrics_gauge_set("kumo_ready", "1 when /readyz would answer 200.", all_ok);
}

static void serve_metrics(struct kumo_admin *a, struct evhttp_request *req)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    sample_readiness(a);
    kumo_metrics_render(&b);
    send_body(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    kumo_buf_free(&b);
}

static void serve_extra(const struct extra_route *rt, struct evhttp_request *req)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    const char *ctype = "application/json";
    int status;
    if (rt->fn) {
        status = rt->fn(rt->ud, &b, &ctype);
    } else {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
        status = rt->qfn(rt->ud, q ? q : "", &b, &ctype);
    }
    if (status < 200 || status > 599)
        status = 500;
    send_body(req, status, NULL, ctype ? ctype : "application/json", b.data ? b.data : (void *)"",
              b.len);
    kumo_buf_free(&b);
}

enum route { ROUTE_NONE, ROUTE_HEALTHZ, ROUTE_READYZ, ROUTE_METRICS, ROUTE_EXTRA };

static enum route builtin_route(const char *path)
{
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTHZ;
    if (strcmp(path, "/readyz") == 0)
        return ROUTE_READYZ;
    if (strcmp(path, "/metrics") == 0)
        return ROUTE_METRICS;
    return ROUTE_NONE;
}

static enum route route_of(const struct kumo_admin *a, struct evhttp_request *req,
                           const struct extra_route **extra)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL)
        return ROUTE_NONE;
    enum route r = builtin_route(path);
    if (r != ROUTE_NONE)
        return r;
    for (size_t i = 0; i < a->n_routes; i++) {
        if (strcmp(path, a->routes[i].path) == 0) {
            *extra = &a->routes[i];
            return ROUTE_EXTRA;
        }
    }
    return ROUTE_NONE;
}

static void handle_request(struct evhttp_request *req, void *arg)
{
    struct kumo_admin *a = arg;
    const struct extra_route *extra = NULL;
    enum route r = route_of(a, req, &extra);
    if (r == ROUTE_NONE) {
        send_text(req, 404, "Not Found", "not found\n");
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        send_text(req, 405, "Method Not Allowed", "method not allowed\n");
        return;
    }
    switch (r) {
    case ROUTE_HEALTHZ:
        serve_healthz(req);
        break;
    case ROUTE_READYZ:
        serve_readyz(a, req);
        break;
    case ROUTE_EXTRA:
        serve_extra(extra, req);
        break;
    default:
        serve_metrics(a, req);
        break;
    }
}

/* ---- lifecycle ---- */

static int bound_port(struct evhttp_bound_socket *handle)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(handle);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return KUMO_ERR_UNSUPPORTED;
}

/* Only numeric addresses: a host name would mean a blocking DNS lookup at
 * startup and an ambiguous choice among its addresses. */
static int numeric_address(const char *addr)
{
    struct in6_addr a6;
    return inet_pton(AF_INET, addr, &a6) == 1 || inet_pton(AF_INET6, addr, &a6) == 1;
}

static struct evhttp *new_http(struct event_base *base, struct kumo_admin *a)
{
    struct evhttp *http = evhttp_new(base);
    if (http == NULL)
        return NULL;
    evhttp_set_max_headers_size(http, MAX_HEADERS_SIZE);
    evhttp_set_max_body_size(http, MAX_BODY_SIZE);
    evhttp_set_timeout(http, TIMEOUT_SECONDS);
    /* Let every method reach the handler, which answers 405 (evhttp itself
     * would answer 501 for a method outside this set). */
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(http, handle_request, a);
    return http;
}

int kumo_admin_new(struct kumo_admin **out, struct event_base *base, const char *bind_addr,
                   int port)
{
    const char *addr = bind_addr ? bind_addr : "0.0.0.0";
    if (strcmp(addr, "localhost") == 0)
        addr = "127.0.0.1";
    if (port < 0 || port > 65535 || base == NULL || !numeric_address(addr))
        return KUMO_ERR_INVALID;
    struct kumo_admin *a = kumo_calloc(1, sizeof *a);
    atomic_init(&a->draining, 0);
    a->http = new_http(base, a);
    if (a->http == NULL) {
        kumo_free(a);
        return KUMO_ERR_IO;
    }
    errno = 0;
    struct evhttp_bound_socket *handle =
        evhttp_bind_socket_with_handle(a->http, addr, (ev_uint16_t)port);
    int rc = handle ? bound_port(handle) : (errno ? -errno : KUMO_ERR_IO);
    if (rc < 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "admin port: cannot listen", "addr", addr, "error",
                 kumo_strerror(rc), NULL);
        evhttp_free(a->http);
        kumo_free(a);
        return rc;
    }
    a->port = rc;
    *out = a;
    return 0;
}

int kumo_admin_port(const struct kumo_admin *a)
{
    return a->port;
}

void kumo_admin_add_check(struct kumo_admin *a, const char *name, kumo_admin_check_fn fn, void *ud)
{
    a->checks = kumo_realloc(a->checks, (a->n_checks + 1) * sizeof *a->checks);
    a->checks[a->n_checks].name = kumo_strdup(name);
    a->checks[a->n_checks].fn = fn;
    a->checks[a->n_checks].ud = ud;
    a->n_checks++;
}

static int add_route(struct kumo_admin *a, const char *path, kumo_admin_route_fn fn,
                     kumo_admin_query_route_fn qfn, void *ud)
{
    if (path == NULL || path[0] != '/' || (fn == NULL && qfn == NULL) ||
        builtin_route(path) != ROUTE_NONE)
        return KUMO_ERR_INVALID;
    for (size_t i = 0; i < a->n_routes; i++)
        if (strcmp(a->routes[i].path, path) == 0)
            return KUMO_ERR_INVALID;
    a->routes = kumo_realloc(a->routes, (a->n_routes + 1) * sizeof *a->routes);
    a->routes[a->n_routes].path = kumo_strdup(path);
    a->routes[a->n_routes].fn = fn;
    a->routes[a->n_routes].qfn = qfn;
    a->routes[a->n_routes].ud = ud;
    a->n_routes++;
    return 0;
}

int kumo_admin_add_route(struct kumo_admin *a, const char *path, kumo_admin_route_fn fn, void *ud)
{
    return add_route(a, path, fn, NULL, ud);
}

int kumo_admin_add_query_route(struct kumo_admin *a, const char *path, kumo_admin_query_route_fn fn,
                               void *ud)
{
    return add_route(a, path, NULL, fn, ud);
}

void kumo_admin_set_draining(struct kumo_admin *a)
{
    atomic_store(&a->draining, 1);
}

void kumo_admin_free(struct kumo_admin *a)
{
    if (a == NULL)
        return;
    evhttp_free(a->http);
    for (size_t i = 0; i < a->n_checks; i++)
        kumo_free(a->checks[i].name);
    kumo_free(a->checks);
    for (size_t i = 0; i < a->n_routes; i++)
        kumo_free(a->routes[i].path);
    kumo_free(a->routes);
    kumo_free(a);
}
