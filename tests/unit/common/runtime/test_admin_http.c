#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "runtime/admin_http.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* ---- a server on its own loop thread ---- */

struct server {
    struct event_base *base;
    struct kumo_admin *admin;
    struct event *stop_ev;
    pthread_t thread;
};

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void *loop_main(void *arg)
{
    struct server *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

/* Creates the admin (checks may be added before server_run). */
static struct server *server_new(void)
{
    struct server *s = kumo_calloc(1, sizeof *s);
    s->base = event_base_new();
    assert_non_null(s->base);
    assert_int_equal(kumo_admin_new(&s->admin, s->base, "127.0.0.1", 0), 0);
    assert_true(kumo_admin_port(s->admin) > 0);
    s->stop_ev = event_new(s->base, -1, 0, stop_cb, s->base);
    return s;
}

static void server_run(struct server *s)
{
    assert_int_equal(pthread_create(&s->thread, NULL, loop_main, s), 0);
}

static void server_free(struct server *s)
{
    /* An activated event stays pending until the loop runs it, so the stop
     * cannot be lost even if the loop has not started yet. */
    event_active(s->stop_ev, EV_TIMEOUT, 0);
    pthread_join(s->thread, NULL);
    kumo_admin_free(s->admin);
    event_free(s->stop_ev);
    event_base_free(s->base);
    kumo_free(s);
}

/* ---- a raw HTTP/1.1 client ---- */

struct response {
    int status; /* 0: connection closed without a status line */
    char *head; /* status line and headers */
    char *body;
    size_t body_len;
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close early on bad input: fine */
        data += n;
        len -= (size_t)n;
    }
}

static void parse_response(struct response *r, char *raw, size_t len)
{
    memset(r, 0, sizeof *r);
    char *sep = strstr(raw, "\r\n\r\n");
    if (sep == NULL || sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1) {
        r->status = 0;
        r->head = raw;
        r->body = kumo_strdup("");
        return;
    }
    *sep = '\0';
    r->head = raw;
    r->body_len = len - (size_t)(sep + 4 - raw);
    r->body = kumo_strndup(sep + 4, r->body_len);
}

/* Sends `req` on a new connection and reads until the server closes. */
static struct response request_raw(int port, const char *req, size_t req_len)
{
    int fd = connect_to(port);
    send_all(fd, req, req_len);
    struct kumo_buf b = KUMO_BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0)
        kumo_buf_append(&b, chunk, (size_t)n);
    close(fd);
    size_t len;
    char *raw = kumo_buf_steal(&b, &len);
    struct response r;
    parse_response(&r, raw, len);
    return r;
}

static struct response request(int port, const char *method, const char *path)
{
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     method, path);
    return request_raw(port, req, (size_t)n);
}

static void response_free(struct response *r)
{
    kumo_free(r->head);
    kumo_free(r->body);
}

/* The value of header `name` (case-insensitive), copied into `out`. */
static const char *header(const struct response *r, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            size_t vl = end ? (size_t)(end - v) : strlen(v);
            snprintf(out, outlen, "%.*s", (int)vl, v);
            return out;
        }
    }
    return NULL;
}

static json_t *body_json(const struct response *r)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    if (j == NULL)
        fail_msg("body is not JSON (%s): %s", err.text, r->body);
    return j;
}

static const char *jstr(json_t *j, const char *path1, const char *path2)
{
    json_t *v = json_object_get(j, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

/* ---- checks driven by the test thread ---- */

struct flag_check {
    atomic_int fail;
    const char *msg;
};

static int flag_check_fn(void *ud, char *err, size_t errlen)
{
    struct flag_check *c = ud;
    if (!atomic_load(&c->fail))
        return 0;
    if (c->msg)
        snprintf(err, errlen, "%s", c->msg);
    return -1;
}

/* ---- tests ---- */

static void test_admin_http_healthz(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    struct response r = request(kumo_admin_port(s->admin), "GET", "/healthz");
    char v[128];
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type", v, sizeof v), "application/json");
    assert_string_equal(header(&r, "Cache-Control", v, sizeof v), "no-store");
    json_t *j = body_json(&r);
    assert_string_equal(jstr(j, "status", NULL), "ok");
    json_decref(j);
    response_free(&r);

    /* The query string does not change the route. */
    r = request(kumo_admin_port(s->admin), "GET", "/healthz?verbose=1");
    assert_int_equal(r.status, 200);
    response_free(&r);
    server_free(s);
}

static void test_admin_http_head_has_no_body(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    const char *paths[] = {"/healthz", "/readyz", "/metrics"};
    for (size_t i = 0; i < 3; i++) {
        struct response r = request(kumo_admin_port(s->admin), "HEAD", paths[i]);
        char v[128];
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 0);
        assert_non_null(header(&r, "Content-Type", v, sizeof v));
        /* The length a GET would have. */
        struct response g = request(kumo_admin_port(s->admin), "GET", paths[i]);
        assert_non_null(header(&r, "Content-Length", v, sizeof v));
        if (i < 2) /* /metrics changes between two renders */
            assert_int_equal(strtoul(v, NULL, 10), g.body_len);
        response_free(&g);
        response_free(&r);
    }
    struct response r = request(kumo_admin_port(s->admin), "HEAD", "/nope");
    assert_int_equal(r.status, 404);
    assert_int_equal(r.body_len, 0);
    response_free(&r);
    /* After a HEAD reply the connection stays usable: no stray body bytes. */
    const char *two = "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    r = request_raw(kumo_admin_port(s->admin), two, strlen(two));
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(r.body, "\r\n\r\n{\"status\":\"ok\"}"));
    response_free(&r);
    server_free(s);
}

static void test_admin_http_readyz_without_checks(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    struct response r = request(kumo_admin_port(s->admin), "GET", "/readyz");
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(jstr(j, "status", NULL), "ok");
    assert_true(json_is_object(json_object_get(j, "checks")));
    assert_int_equal(json_object_size(json_object_get(j, "checks")), 0);
    json_decref(j);
    response_free(&r);
    server_free(s);
}

static void test_admin_http_readyz_flips_with_checks(void **state)
{
    (void)state;
    struct flag_check db = {0, "ping failed: \"timeout\"\nafter 2s \xff"};
    struct flag_check cache = {0, NULL};
    struct server *s = server_new();
    kumo_admin_add_check(s->admin, "db", flag_check_fn, &db);
    kumo_admin_add_check(s->admin, "cache", flag_check_fn, &cache);
    server_run(s);
    int port = kumo_admin_port(s->admin);

    struct response r = request(port, "GET", "/readyz");
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(jstr(j, "status", NULL), "ok");
    assert_true(
        json_is_true(json_object_get(json_object_get(json_object_get(j, "checks"), "db"), "ok")));
    json_decref(j);
    response_free(&r);

    atomic_store(&db.fail, 1);
    r = request(port, "GET", "/readyz");
    assert_int_equal(r.status, 503);
    j = body_json(&r); /* escaping held: quotes, newline, invalid UTF-8 */
    assert_string_equal(jstr(j, "status", NULL), "unavailable");
    json_t *checks = json_object_get(j, "checks");
    json_t *jdb = json_object_get(checks, "db");
    assert_true(json_is_false(json_object_get(jdb, "ok")));
    assert_string_equal(json_string_value(json_object_get(jdb, "error")),
                        "ping failed: \"timeout\"\nafter 2s \xef\xbf\xbd");
    assert_true(json_is_true(json_object_get(json_object_get(checks, "cache"), "ok")));
    assert_null(json_object_get(json_object_get(checks, "cache"), "error"));
    json_decref(j);
    response_free(&r);

    /* A failing check that gives no reason still gets one. */
    atomic_store(&cache.fail, 1);
    r = request(port, "GET", "/readyz");
    assert_int_equal(r.status, 503);
    j = body_json(&r);
    assert_string_equal(jstr(json_object_get(j, "checks"), "cache", "error"), "check failed");
    json_decref(j);
    response_free(&r);

    atomic_store(&db.fail, 0);
    atomic_store(&cache.fail, 0);
    r = request(port, "GET", "/readyz");
    assert_int_equal(r.status, 200);
    response_free(&r);
    server_free(s);
}

static void test_admin_http_draining(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    int port = kumo_admin_port(s->admin);
    kumo_admin_set_draining(s->admin); /* from another thread than the loop */
    struct response r = request(port, "GET", "/readyz");
    assert_int_equal(r.status, 503);
    json_t *j = body_json(&r);
    assert_string_equal(jstr(j, "status", NULL), "draining");
    json_decref(j);
    response_free(&r);
    /* Liveness is unaffected: the process is healthy, just leaving. */
    r = request(port, "GET", "/healthz");
    assert_int_equal(r.status, 200);
    response_free(&r);
    server_free(s);
}

static void test_admin_http_metrics(void **state)
{
    (void)state;
    kumo_metrics_rpc_finished("/kumo.test.v1.EchoService/Echo", KUMO_CODE_OK, 0.01);
    struct server *s = server_new();
    server_run(s);
    struct response r = request(kumo_admin_port(s->admin), "GET", "/metrics");
    char v[128];
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type", v, sizeof v),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "# TYPE kumo_rpc_requests_total counter\n"));
    assert_non_null(strstr(
        r.body,
        "kumo_rpc_requests_total{method=\"/kumo.test.v1.EchoService/Echo\",code=\"ok\"} 1\n"));
    assert_non_null(strstr(r.body, "process_start_time_seconds "));
    response_free(&r);
    server_free(s);
    kumo_metrics_reset();
}

static void test_admin_http_unknown_path_404(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    int port = kumo_admin_port(s->admin);
    const char *paths[] = {"/",           "/nope", "/healthz/", "/HEALTHZ", "/healthz/../metrics",
                           "/metrics.txt"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct response r = request(port, "GET", paths[i]);
        if (r.status != 404)
            fail_msg("%s: status %d", paths[i], r.status);
        response_free(&r);
    }
    /* Unknown path with a non-GET method: still 404 (nothing lives there). */
    struct response r = request(port, "POST", "/nope");
    assert_int_equal(r.status, 404);
    response_free(&r);
    server_free(s);
}

static void test_admin_http_other_methods_405(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    int port = kumo_admin_port(s->admin);
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct response r = request(port, methods[i], "/readyz");
        char v[64];
        if (r.status != 405)
            fail_msg("%s: status %d", methods[i], r.status);
        assert_string_equal(header(&r, "Allow", v, sizeof v), "GET, HEAD");
        response_free(&r);
    }
    server_free(s);
}

static void test_admin_http_limits(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    int port = kumo_admin_port(s->admin);

    /* Headers beyond 8 KiB are refused. */
    struct kumo_buf req = KUMO_BUF_INIT;
    kumo_buf_append_str(&req, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
    for (int i = 0; i < 9000; i++)
        kumo_buf_append_byte(&req, 'a');
    kumo_buf_append_str(&req, "\r\nConnection: close\r\n\r\n");
    struct response r = request_raw(port, (const char *)req.data, req.len);
    assert_true(r.status == 0 || r.status >= 400);
    assert_true(r.status != 200);
    response_free(&r);
    kumo_buf_free(&req);

    /* A body beyond 1 KiB is refused before any handler runs. */
    kumo_buf_append_str(&req, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n"
                              "Connection: close\r\n\r\n");
    for (int i = 0; i < 4096; i++)
        kumo_buf_append_byte(&req, 'b');
    r = request_raw(port, (const char *)req.data, req.len);
    assert_true(r.status == 0 || r.status == 413);
    response_free(&r);
    kumo_buf_free(&req);

    /* Garbage is answered (or dropped) without harm, and the server lives on. */
    const char *junk = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n";
    r = request_raw(port, junk, strlen(junk));
    assert_true(r.status == 0 || r.status == 400);
    response_free(&r);
    r = request(port, "GET", "/healthz");
    assert_int_equal(r.status, 200);
    response_free(&r);
    server_free(s);
}

static void test_admin_http_keep_alive_serves_several_requests(void **state)
{
    (void)state;
    struct server *s = server_new();
    server_run(s);
    const char *two = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    struct response r = request_raw(kumo_admin_port(s->admin), two, strlen(two));
    assert_int_equal(r.status, 200);
    /* Both answers arrived on the one connection. */
    assert_non_null(strstr(r.body, "HTTP/1.1 200"));
    assert_non_null(strstr(r.body, "\"checks\""));
    response_free(&r);
    server_free(s);
}

static void test_admin_http_new_rejects_bad_arguments(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct kumo_admin *a = (struct kumo_admin *)(uintptr_t)0x1;
    int devnull = open("/dev/null", O_WRONLY);
    kumo_log_set_fd(devnull); /* the bind failure is logged */
    assert_int_equal(kumo_admin_new(&a, base, "127.0.0.1", -1), KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_new(&a, base, "127.0.0.1", 65536), KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_new(&a, base, "not-an-ip", 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_new(&a, base, "example.com", 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_new(&a, base, "", 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_new(&a, NULL, "127.0.0.1", 0), KUMO_ERR_INVALID);

    /* A port someone else holds. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    assert_int_equal(kumo_admin_new(&a, base, "127.0.0.1", ntohs(sin.sin_port)), -EADDRINUSE);
    assert_ptr_equal(a, (struct kumo_admin *)(uintptr_t)0x1); /* untouched */
    close(fd);
    kumo_log_set_fd(2);
    close(devnull);

    /* "localhost" is accepted without a lookup. */
    struct kumo_admin *al = NULL;
    assert_int_equal(kumo_admin_new(&al, base, "localhost", 0), 0);
    kumo_admin_free(al);

    /* IPv6 loopback works where the machine has it. */
    struct kumo_admin *a6 = NULL;
    if (kumo_admin_new(&a6, base, "::1", 0) == 0) {
        assert_true(kumo_admin_port(a6) > 0);
        kumo_admin_free(a6);
    }
    kumo_admin_free(NULL);
    event_base_free(base);
}

static int route_calls;

static int jwks_route(void *ud, struct kumo_buf *body, const char **content_type)
{
    route_calls++;
    kumo_buf_append_str(body, (const char *)ud);
    *content_type = "application/jwk-set+json";
    return 200;
}

static int broken_route(void *ud, struct kumo_buf *body, const char **content_type)
{
    (void)ud;
    (void)content_type;
    kumo_buf_append_str(body, "{}");
    return 42; /* not an HTTP status */
}

static void test_admin_http_extra_routes(void **state)
{
    (void)state;
    struct server *s = server_new();
    route_calls = 0;
    assert_int_equal(
        kumo_admin_add_route(s->admin, "/.well-known/jwks.json", jwks_route, "{\"keys\":[]}"), 0);
    assert_int_equal(kumo_admin_add_route(s->admin, "/broken", broken_route, NULL), 0);
    /* Duplicates, built-in paths and malformed paths are refused. */
    assert_int_equal(kumo_admin_add_route(s->admin, "/.well-known/jwks.json", jwks_route, NULL),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_add_route(s->admin, "/healthz", jwks_route, NULL),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_add_route(s->admin, "nope", jwks_route, NULL), KUMO_ERR_INVALID);
    assert_int_equal(kumo_admin_add_route(s->admin, "/x", NULL, NULL), KUMO_ERR_INVALID);
    server_run(s);
    int port = kumo_admin_port(s->admin);
    struct response r = request(port, "GET", "/.well-known/jwks.json?x=1");
    char v[128];
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type", v, sizeof v), "application/jwk-set+json");
    assert_string_equal(r.body, "{\"keys\":[]}");
    response_free(&r);
    r = request(port, "HEAD", "/.well-known/jwks.json");
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Length", v, sizeof v), "11");
    assert_int_equal(r.body_len, 0);
    response_free(&r);
    r = request(port, "POST", "/.well-known/jwks.json");
    assert_int_equal(r.status, 405);
    response_free(&r);
    r = request(port, "GET", "/broken");
    assert_int_equal(r.status, 500);
    response_free(&r);
    r = request(port, "GET", "/.well-known/jwks.jsonx");
    assert_int_equal(r.status, 404);
    response_free(&r);
    server_free(s);
    assert_int_equal(route_calls, 2);
}

static int group_setup(void **state)
{
    (void)state;
    /* The tests stop the loop from the main thread. */
    return evthread_use_pthreads();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_http_healthz),
        cmocka_unit_test(test_admin_http_head_has_no_body),
        cmocka_unit_test(test_admin_http_readyz_without_checks),
        cmocka_unit_test(test_admin_http_readyz_flips_with_checks),
        cmocka_unit_test(test_admin_http_draining),
        cmocka_unit_test(test_admin_http_metrics),
        cmocka_unit_test(test_admin_http_unknown_path_404),
        cmocka_unit_test(test_admin_http_other_methods_405),
        cmocka_unit_test(test_admin_http_limits),
        cmocka_unit_test(test_admin_http_keep_alive_serves_several_requests),
        cmocka_unit_test(test_admin_http_new_rejects_bad_arguments),
        cmocka_unit_test(test_admin_http_extra_routes),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
