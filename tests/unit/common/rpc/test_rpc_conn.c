/* Real-socket tests of the RPC server's connections (rpc_conn.c,
 * rpc_server.c threads, rpc_tls.c): h2c and TLS on one port, concurrency
 * through the worker pool, timeouts, graceful shutdown. Calls go through
 * kumo's own client (rpc_client.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "echo_service.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "rpc_client/client.h"
#include "rpc/internal.h"
#include "rpc/server.h"

static char tls_dir[] = "/tmp/kumo-test-tls-XXXXXX";
static char cert_file[256], key_file[256], ca_file[256];

static struct kumo_rpc_server *start_server(const struct kumo_rpc_server_config *cfg)
{
    struct kumo_rpc_server *srv;
    assert_int_equal(kumo_rpc_server_new(&srv, cfg), 0);
    assert_int_equal(kumo_rpc_server_add_service(srv, &kumo_test_echo_service), 0);
    assert_int_equal(kumo_rpc_server_start(srv), 0);
    assert_true(kumo_rpc_server_port(srv) > 0);
    return srv;
}

static void stop_server(struct kumo_rpc_server *srv)
{
    kumo_rpc_server_shutdown(srv);
    kumo_rpc_server_wait(srv);
    assert_true(kumo_rpc_server_stopped(srv));
    kumo_rpc_server_free(srv);
}

static struct kumo_rpc_client *client_for(struct kumo_rpc_server *srv, int tls)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", kumo_rpc_server_port(srv));
    struct kumo_rpc_client_config cc = {.target = target, .tls = tls, .ca_file = ca_file};
    struct kumo_rpc_client *c;
    assert_int_equal(kumo_rpc_client_new(&c, &cc), 0);
    return c;
}

static kumo_code echo(struct kumo_rpc_client *c, const char *msg, int64_t deadline, char *got,
                      size_t gotlen)
{
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    req.message = (char *)msg;
    struct kumo_rpc_call_options opts = {.deadline = deadline, .request_id = "lifecycle"};
    ProtobufCMessage *resp = NULL;
    struct kumo_rpc_status st = {0};
    kumo_code code =
        kumo_rpc_client_call(c, "/kumo.test.v1.EchoService/Echo", &req.base,
                             &kumo__test__v1__echo_response__descriptor, NULL, &opts, &resp, &st);
    if (code == KUMO_CODE_OK) {
        Kumo__Test__V1__EchoResponse *r = (Kumo__Test__V1__EchoResponse *)resp;
        if (got)
            snprintf(got, gotlen, "%s|%s|%lld", r->message, r->request_id,
                     (long long)r->deadline_ms);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    kumo_rpc_status_clear(&st);
    return code;
}

static kumo_code sleep_call(struct kumo_rpc_client *c, int64_t ms)
{
    Kumo__Test__V1__SleepRequest req = KUMO__TEST__V1__SLEEP_REQUEST__INIT;
    req.duration_ms = ms;
    ProtobufCMessage *resp = NULL;
    struct kumo_rpc_status st = {0};
    struct kumo_rpc_call_options opts = {0};
    kumo_code code =
        kumo_rpc_client_call(c, "/kumo.test.v1.EchoService/Sleep", &req.base,
                             &kumo__test__v1__sleep_response__descriptor, NULL, &opts, &resp, &st);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    kumo_rpc_status_clear(&st);
    return code;
}

static int setup_tls(void **state)
{
    (void)state;
    if (mkdtemp(tls_dir) == NULL)
        return -1;
    snprintf(cert_file, sizeof(cert_file), "%s/server.pem", tls_dir);
    snprintf(key_file, sizeof(key_file), "%s/server.key", tls_dir);
    snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", tls_dir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj /CN=kumo-test-ca >/dev/null 2>&1 && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
             "-out server.csr -subj /CN=127.0.0.1 >/dev/null 2>&1 && "
             "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile ext >/dev/null 2>&1",
             tls_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown_tls(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_rpc_conn_h2c_echo_and_deadline(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {.port = 0};
    struct kumo_rpc_server *srv = start_server(&cfg);
    struct kumo_rpc_client *c = client_for(srv, 0);
    char got[256];
    assert_int_equal(echo(c, "hi", 0, got, sizeof(got)), KUMO_CODE_OK);
    assert_string_equal(got, "hi|lifecycle|0");
    /* The client's remaining budget reaches the handler. */
    assert_int_equal(echo(c, "dl", kumo_now_ns() + 3000000000LL, got, sizeof(got)), KUMO_CODE_OK);
    long long left = strtoll(strrchr(got, '|') + 1, NULL, 10);
    assert_true(left > 2000 && left <= 3000);
    kumo_rpc_client_free(c);
    stop_server(srv);
}

struct load_arg {
    struct kumo_rpc_client *c;
    int ok;
};

static void *load_thread(void *p)
{
    struct load_arg *a = p;
    for (int i = 0; i < 100; i++) {
        kumo_code code = (i % 10 == 0) ? sleep_call(a->c, 5) : echo(a->c, "x", 0, NULL, 0);
        if (code == KUMO_CODE_OK)
            a->ok++;
    }
    return NULL;
}

static void test_rpc_conn_concurrent_calls_two_io_threads(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {.port = 0, .io_threads = 2, .worker_threads = 2};
    struct kumo_rpc_server *srv = start_server(&cfg);
    struct kumo_rpc_client *c1 = client_for(srv, 0), *c2 = client_for(srv, 0);
    pthread_t th[4];
    struct load_arg args[4] = {{c1, 0}, {c1, 0}, {c2, 0}, {c2, 0}};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, load_thread, &args[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 100);
    }
    kumo_rpc_client_free(c1);
    kumo_rpc_client_free(c2);
    stop_server(srv);
}

static void test_rpc_conn_tls_and_h2c_on_one_port(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {
        .port = 0, .tls_cert_file = cert_file, .tls_key_file = key_file};
    struct kumo_rpc_server *srv = start_server(&cfg);
    struct kumo_rpc_client *tls = client_for(srv, 1);
    struct kumo_rpc_client *plain = client_for(srv, 0);
    char got[256];
    assert_int_equal(echo(tls, "secure", 0, got, sizeof(got)), KUMO_CODE_OK);
    assert_string_equal(got, "secure|lifecycle|0");
    assert_int_equal(echo(plain, "plain", 0, got, sizeof(got)), KUMO_CODE_OK);
    assert_string_equal(got, "plain|lifecycle|0");
    kumo_rpc_client_free(tls);
    kumo_rpc_client_free(plain);
    stop_server(srv);
}

static void test_rpc_conn_bad_tls_files_refused(void **state)
{
    (void)state;
    struct kumo_rpc_server *srv = NULL;
    struct kumo_rpc_server_config cfg = {.tls_cert_file = "/nonexistent.pem",
                                         .tls_key_file = key_file};
    assert_int_equal(kumo_rpc_server_new(&srv, &cfg), KUMO_ERR_INVALID);
    assert_null(srv);
}

struct sleeper {
    struct kumo_rpc_client *c;
    kumo_code code;
};

static void *sleeper_thread(void *p)
{
    struct sleeper *s = p;
    s->code = sleep_call(s->c, 300);
    return NULL;
}

static void test_rpc_conn_graceful_shutdown_finishes_in_flight(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {.port = 0, .drain_timeout_ms = 5000};
    struct kumo_rpc_server *srv = start_server(&cfg);
    struct kumo_rpc_client *c = client_for(srv, 0);
    assert_int_equal(echo(c, "warm", 0, NULL, 0), KUMO_CODE_OK);
    struct sleeper s = {c, KUMO_CODE_UNKNOWN};
    pthread_t th;
    pthread_create(&th, NULL, sleeper_thread, &s);
    usleep(100000); /* the Sleep call is in flight */
    int64_t start = kumo_now_ns();
    kumo_rpc_server_shutdown(srv);
    kumo_rpc_server_wait(srv);
    int64_t waited_ms = (kumo_now_ns() - start) / 1000000;
    pthread_join(th, NULL);
    assert_int_equal(s.code, KUMO_CODE_OK); /* finished, not cut */
    assert_true(waited_ms < 3000);
    kumo_rpc_client_free(c);
    kumo_rpc_server_free(srv);
}

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Reads until EOF; returns ms waited, or -1 on a receive timeout. */
static long wait_closed(int fd)
{
    int64_t start = kumo_now_ns();
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return (long)((kumo_now_ns() - start) / 1000000);
        if (n < 0)
            return -1;
    }
}

static void test_rpc_conn_handshake_and_idle_timeouts(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {
        .port = 0, .handshake_timeout_ms = 200, .idle_timeout_ms = 300};
    struct kumo_rpc_server *srv = start_server(&cfg);
    /* Silent client: cut after the handshake timeout. */
    int fd = raw_connect(kumo_rpc_server_port(srv));
    long ms = wait_closed(fd);
    close(fd);
    assert_true(ms >= 0 && ms < 2000);
    /* A client that sends the preface and then idles: GOAWAY and close. */
    fd = raw_connect(kumo_rpc_server_port(srv));
    const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                           "\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* empty SETTINGS */
    assert_int_equal(send(fd, preface, sizeof(preface) - 1, 0), (ssize_t)sizeof(preface) - 1);
    ms = wait_closed(fd);
    close(fd);
    assert_true(ms >= 0 && ms < 2000);
    stop_server(srv);
}

/* Opens a connection from source address `src` (NULL: any) that speaks
 * the HTTP/2 preface; returns it once the server's SETTINGS arrived
 * (admitted), or -1 when the server closed it. */
static int open_h2_from(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (src) {
        struct sockaddr_in me = {.sin_family = AF_INET};
        inet_pton(AF_INET, src, &me.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                           "\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* empty SETTINGS */
    send(fd, preface, sizeof(preface) - 1, MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0)
        return fd;
    assert_true(n == 0 || errno == ECONNRESET); /* closed, not timed out */
    close(fd);
    return -1;
}

static int open_h2(int port)
{
    return open_h2_from(port, NULL);
}

/* Whether the server closed `fd` (EOF or reset within a second). */
static int closed_by_server(int fd)
{
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[256];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n < 0)
            return 0; /* timed out: still open */
    }
}

static void test_rpc_conn_connection_limit(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {.port = 0, .max_connections = 4};
    struct kumo_rpc_server *srv = start_server(&cfg);
    int port = kumo_rpc_server_port(srv);
    int held[4];
    for (int i = 0; i < 4; i++) {
        held[i] = open_h2(port);
        assert_true(held[i] >= 0);
        usleep(2000); /* distinct idle times: held[0] is the longest idle */
    }
    assert_int_equal(kumo_connlimit_count(srv->limit, NULL), 4);
    /* At the limit, a new client is served: the connection idle the
     * longest is closed to make room, and the port stays at its limit. */
    struct kumo_rpc_client *c = client_for(srv, 0);
    assert_int_equal(echo(c, "in", kumo_now_ns() + 2000000000LL, NULL, 0), KUMO_CODE_OK);
    kumo_rpc_client_free(c);
    assert_true(closed_by_server(held[0]));
    assert_false(closed_by_server(held[3]));
    assert_true(kumo_connlimit_count(srv->limit, NULL) <= 4);
    assert_true(kumo_connlimit_evicted(srv->limit) >= 1);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    stop_server(srv);
}

static void test_rpc_conn_per_address_limit(void **state)
{
    (void)state;
    /* 127.0.0.2 and .3 reach the server over loopback as distinct peers. */
    struct kumo_rpc_server_config cfg = {
        .port = 0, .max_connections = 5, .max_connections_per_address = 3};
    struct kumo_rpc_server *srv = start_server(&cfg);
    int port = kumo_rpc_server_port(srv);
    int a[4], b[2];
    for (int i = 0; i < 3; i++) {
        a[i] = open_h2_from(port, "127.0.0.2");
        assert_true(a[i] >= 0);
        usleep(2000);
    }
    for (int i = 0; i < 2; i++) {
        b[i] = open_h2_from(port, "127.0.0.3");
        assert_true(b[i] >= 0);
        usleep(2000);
    }
    /* One address cannot take more than its share: a fourth from .2
     * closes .2's own longest-idle connection, never .3's. */
    a[3] = open_h2_from(port, "127.0.0.2");
    assert_true(a[3] >= 0);
    assert_true(closed_by_server(a[0]));
    assert_false(closed_by_server(b[0]));
    for (int i = 0; i < 100 && kumo_connlimit_count(srv->limit, "127.0.0.2") > 3; i++)
        usleep(20000);
    assert_int_equal(kumo_connlimit_count(srv->limit, "127.0.0.2"), 3);
    assert_int_equal(kumo_connlimit_count(srv->limit, "127.0.0.3"), 2);
    close(a[0]);
    for (int i = 1; i < 4; i++)
        close(a[i]);
    for (int i = 0; i < 2; i++)
        close(b[i]);
    /* Closed connections are forgotten (the server sees the EOFs soon). */
    for (int i = 0; i < 100 && kumo_connlimit_count(srv->limit, NULL) > 0; i++)
        usleep(20000);
    assert_int_equal(kumo_connlimit_count(srv->limit, NULL), 0);
    stop_server(srv);
}

static void test_rpc_conn_limit_fits_fd_limit(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 900000) {
        skip();
        return;
    }
    /* More connections than descriptors: the limit is lowered to what fits
     * (accept would otherwise fail with EMFILE), and the server serves. */
    struct kumo_rpc_server_config cfg = {.port = 0, .max_connections = 1000000};
    struct kumo_rpc_server *srv = start_server(&cfg);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true((rlim_t)srv->cfg.max_connections < rl.rlim_cur);
    assert_true(srv->cfg.max_connections >= 1);
    struct kumo_rpc_client *c = client_for(srv, 0);
    assert_int_equal(echo(c, "x", kumo_now_ns() + 5000000000LL, NULL, 0), KUMO_CODE_OK);
    kumo_rpc_client_free(c);
    stop_server(srv);
}

static void test_rpc_conn_port_in_use(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {.port = 0};
    struct kumo_rpc_server *a = start_server(&cfg);
    /* A second server on a port in use must fail, SO_REUSEPORT or not. */
    struct kumo_rpc_server *c;
    struct kumo_rpc_server_config same = {.port = kumo_rpc_server_port(a)};
    assert_int_equal(kumo_rpc_server_new(&c, &same), 0);
    assert_int_equal(kumo_rpc_server_start(c), -EADDRINUSE);
    kumo_rpc_server_free(c);
    struct kumo_rpc_server *b;
    struct kumo_rpc_server_config bad = {.bind_addr = "not-an-address", .port = 0};
    assert_int_equal(kumo_rpc_server_new(&b, &bad), 0);
    assert_int_not_equal(kumo_rpc_server_start(b), 0);
    kumo_rpc_server_free(b);
    stop_server(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_conn_h2c_echo_and_deadline),
        cmocka_unit_test(test_rpc_conn_concurrent_calls_two_io_threads),
        cmocka_unit_test(test_rpc_conn_tls_and_h2c_on_one_port),
        cmocka_unit_test(test_rpc_conn_bad_tls_files_refused),
        cmocka_unit_test(test_rpc_conn_graceful_shutdown_finishes_in_flight),
        cmocka_unit_test(test_rpc_conn_handshake_and_idle_timeouts),
        cmocka_unit_test(test_rpc_conn_port_in_use),
        cmocka_unit_test(test_rpc_conn_connection_limit),
        cmocka_unit_test(test_rpc_conn_per_address_limit),
        cmocka_unit_test(test_rpc_conn_limit_fits_fd_limit),
    };
    return cmocka_run_group_tests(tests, setup_tls, teardown_tls);
}
