/* Blocking calls of common/rpc_client (rpc_client_fixture.h): configuration
 * and local checks, connect failures on plain sockets, calls against grpcio
 * (unary, metadata, status codes, deadlines, concurrency, large and
 * compressed messages, restarts), TLS, and malformed or unusual answers from
 * the raw HTTP/2 peer (GOAWAY, stream limits, pending calls at free). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>

#include "base/arena.h"
#include "rpc_client_fixture.h"

/* ---- configuration and local checks ---- */

static void test_rpc_client_new_rejects_bad_config(void **state)
{
    static const char *const bad[] = {
        "",       "nohost",  ":80",  "host:",    "host:0",     "host:65536", "host:12a",
        "::1:80", "[::1]80", "[::1", "ho st:80", "host:80:90", "h\nx:80",    "host:123456",
    };
    struct kumo_rpc_client *sentinel = (struct kumo_rpc_client *)&bad;
    struct kumo_rpc_client *c = sentinel;
    (void)state;

    assert_int_equal(kumo_rpc_client_new(&c, NULL), KUMO_ERR_INVALID);
    struct kumo_rpc_client_config cfg = {0};
    assert_int_equal(kumo_rpc_client_new(&c, &cfg), KUMO_ERR_INVALID);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.target = bad[i];
        if (kumo_rpc_client_new(&c, &cfg) != KUMO_ERR_INVALID)
            fail_msg("target \"%s\" accepted", bad[i]);
    }
    cfg.target = "127.0.0.1:1";
    cfg.connect_timeout_ms = -1;
    assert_int_equal(kumo_rpc_client_new(&c, &cfg), KUMO_ERR_INVALID);
    cfg.connect_timeout_ms = 0;
    cfg.tls = 1;
    cfg.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(kumo_rpc_client_new(&c, &cfg), KUMO_ERR_IO);
    assert_ptr_equal(c, sentinel);

    static const char *const good[] = {"[::1]:50051", "localhost:1", "svc.ns.svc:7101",
                                       "10.0.0.1:65535"};
    cfg.tls = 0;
    cfg.ca_file = NULL;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cfg.target = good[i];
        assert_int_equal(kumo_rpc_client_new(&c, &cfg), 0);
        assert_ptr_not_equal(c, sentinel);
        kumo_rpc_client_free(c);
        c = sentinel;
    }
    kumo_rpc_client_free(NULL);
    kumo_rpc_status_clear(NULL);
}

static void test_rpc_client_call_rejects_bad_input(void **state)
{
    struct kumo_rpc_client *c = client_for("127.0.0.1:1", 1024);
    struct kumo_rpc_status st;
    struct kumo_rpc_client_stats stats;
    (void)state;

    static const char *const bad_paths[] = {"", "noslash", "/with space", "/ctl\x01"};
    for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
        assert_int_equal(code_of(c, bad_paths[i], NULL, &st), KUMO_CODE_INVALID_ARGUMENT);
        assert_non_null(st.message);
        kumo_rpc_status_clear(&st);
    }
    static const struct kumo_rpc_metadata bad_md[][1] = {
        {{"X-Upper", "v"}}, {{"grpc-timeout", "1S"}},  {{"content-type", "x"}},   {{"te", "gzip"}},
        {{"", "v"}},        {{"x-ok", "line\nbreak"}}, {{"x-ok", "caf\xc3\xa9"}}, {{":path", "/x"}},
        {{"x-ok", NULL}},
    };
    for (size_t i = 0; i < sizeof bad_md / sizeof bad_md[0]; i++) {
        struct kumo_rpc_call_options o = {.metadata = bad_md[i], .n_metadata = 1};
        assert_int_equal(code_of(c, ECHO_PATH, &o, &st), KUMO_CODE_INVALID_ARGUMENT);
        kumo_rpc_status_clear(&st);
    }
    struct kumo_rpc_call_options o = {.request_id = "id\r\nx-evil: 1"};
    assert_int_equal(code_of(c, ECHO_PATH, &o, &st), KUMO_CODE_INVALID_ARGUMENT);
    kumo_rpc_status_clear(&st);
    o = (struct kumo_rpc_call_options){.authorization = "Bearer \x7f"};
    assert_int_equal(code_of(c, ECHO_PATH, &o, &st), KUMO_CODE_INVALID_ARGUMENT);
    kumo_rpc_status_clear(&st);

    /* Missing arguments. */
    ProtobufCMessage *out = NULL;
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    assert_int_equal(kumo_rpc_client_call(c, ECHO_PATH, NULL,
                                          &kumo__test__v1__echo_response__descriptor, NULL, NULL,
                                          &out, &st),
                     KUMO_CODE_INVALID_ARGUMENT);
    kumo_rpc_status_clear(&st);
    assert_int_equal(kumo_rpc_client_call(c, ECHO_PATH, &req.base, NULL, NULL, NULL, &out, NULL),
                     KUMO_CODE_INVALID_ARGUMENT);

    /* A deadline already passed fails before sending anything. */
    o = (struct kumo_rpc_call_options){.deadline = kumo_now_ns() - 1};
    assert_int_equal(code_of(c, ECHO_PATH, &o, &st), KUMO_CODE_DEADLINE_EXCEEDED);
    kumo_rpc_status_clear(&st);

    /* A request over the limit is refused locally. */
    uint8_t big[2048] = {0};
    Kumo__Test__V1__EchoResponse *resp = NULL;
    assert_int_equal(echo(c, ECHO_PATH, "", big, sizeof big, NULL, &resp, &st),
                     KUMO_CODE_RESOURCE_EXHAUSTED);
    assert_null(resp);
    assert_non_null(strstr(st.message, "larger than"));
    kumo_rpc_status_clear(&st);

    kumo_rpc_client_get_stats(c, &stats);
    assert_int_equal(stats.connects, 0);
    assert_int_equal(stats.calls, 0);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_connection_refused(void **state)
{
    char target[32];
    struct kumo_rpc_status st;
    (void)state;
    snprintf(target, sizeof target, "127.0.0.1:%d", closed_port());
    struct kumo_rpc_client *c = client_for(target, 0);
    for (int i = 0; i < 3; i++) { /* each call tries again */
        assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_UNAVAILABLE);
        assert_int_equal(st.code, KUMO_CODE_UNAVAILABLE);
        assert_non_null(strstr(st.message, "refused"));
        kumo_rpc_status_clear(&st);
    }
    struct kumo_rpc_client_stats stats;
    kumo_rpc_client_get_stats(c, &stats);
    assert_int_equal(stats.connects, 3);
    assert_int_equal(stats.connections, 0);
    kumo_rpc_client_free(c);
}

/* A listener that completes TCP handshakes (the kernel does) but never
 * says anything: neither HTTP/2 SETTINGS nor a TLS ServerHello. */
static void test_rpc_client_connect_timeout(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char target[32];
    (void)state;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(a.sin_port));

    for (int tls = 0; tls <= 1; tls++) {
        struct kumo_rpc_client_config cfg = {
            .target = target, .tls = tls, .connect_timeout_ms = 300};
        struct kumo_rpc_client *c = NULL;
        struct kumo_rpc_status st;
        assert_int_equal(kumo_rpc_client_new(&c, &cfg), 0);
        int64_t t0 = kumo_now_ns();
        assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_UNAVAILABLE);
        int64_t took = kumo_now_ns() - t0;
        assert_true(took >= 250 * MS && took < 2000 * MS);
        assert_non_null(strstr(st.message, "timeout"));
        kumo_rpc_status_clear(&st);
        kumo_rpc_client_free(c);
    }
    close(fd);
}

/* ---- against grpcio ---- */

static void test_rpc_client_unary_ok(void **state)
{
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    Kumo__Test__V1__EchoResponse *r = NULL;
    struct kumo_rpc_status st = {KUMO_CODE_UNKNOWN, NULL};
    (void)state;

    assert_int_equal(echo(c, ECHO_PATH, "hello", (const uint8_t *)"\x00\x01\x02", 3, NULL, &r, &st),
                     KUMO_CODE_OK);
    assert_int_equal(st.code, KUMO_CODE_OK);
    assert_null(st.message);
    assert_string_equal(r->message, "hello");
    assert_int_equal(r->payload.len, 3);
    assert_memory_equal(r->payload.data, "\x00\x01\x02", 3);
    assert_int_equal(r->deadline_ms, 0); /* no deadline: no grpc-timeout */
    assert_non_null(strstr(header_of(r, "user-agent"), "kumo-rpc-client/0.1"));
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* An empty request and response work too, and a deadline is sent as
     * grpc-timeout with the remaining budget. */
    struct kumo_rpc_call_options o = {.deadline = kumo_now_ns() + 5000 * MS};
    assert_int_equal(echo(c, ECHO_PATH, "", NULL, 0, &o, &r, &st), KUMO_CODE_OK);
    assert_string_equal(r->message, "");
    assert_true(r->deadline_ms > 3000 && r->deadline_ms <= 5000);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The caller's allocator is used for the response. */
    struct kumo_arena *arena = kumo_arena_new();
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "in the arena";
    assert_int_equal(
        kumo_rpc_client_call(c, ECHO_PATH, &req.base, &kumo__test__v1__echo_response__descriptor,
                             kumo_arena_allocator(arena), NULL, (ProtobufCMessage **)&r, &st),
        KUMO_CODE_OK);
    assert_string_equal(r->message, "in the arena");
    assert_true(kumo_arena_used(arena) > 0);
    kumo_arena_free(arena); /* frees the response */
    kumo_rpc_client_free(c);
}

static void test_rpc_client_request_id_and_authorization(void **state)
{
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    Kumo__Test__V1__EchoResponse *r = NULL;
    struct kumo_rpc_status st;
    static const struct kumo_rpc_metadata md[] = {{"x-tenant-hint", "t-1"},
                                                  {"x-trace-bin", "AAEC"}};
    struct kumo_rpc_call_options o = {.request_id = "req-42",
                                      .authorization = "Bearer abc.def.ghi",
                                      .metadata = md,
                                      .n_metadata = 2};
    (void)state;
    assert_int_equal(echo(c, ECHO_PATH, "x", NULL, 0, &o, &r, &st), KUMO_CODE_OK);
    assert_string_equal(r->request_id, "req-42");
    assert_string_equal(header_of(r, "x-request-id"), "req-42");
    assert_string_equal(header_of(r, "authorization"), "Bearer abc.def.ghi");
    assert_string_equal(header_of(r, "x-tenant-hint"), "t-1");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Without them, nothing is sent. */
    assert_int_equal(echo(c, ECHO_PATH, "x", NULL, 0, NULL, &r, &st), KUMO_CODE_OK);
    assert_string_equal(r->request_id, "");
    assert_null(header_of(r, "authorization"));
    protobuf_c_message_free_unpacked(&r->base, NULL);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_error_status(void **state)
{
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    struct kumo_rpc_status st;
    (void)state;

    /* grpcio percent-encodes the UTF-8 message; we decode it. */
    static const struct kumo_rpc_metadata md[] = {
        {"x-fail-code", "5"}, {"x-fail-message", "caf%C3%A9 %E2%9C%93 100%25 done"}};
    struct kumo_rpc_call_options o = {.metadata = md, .n_metadata = 2};
    Kumo__Test__V1__EchoResponse *r = (Kumo__Test__V1__EchoResponse *)&st;
    assert_int_equal(echo(c, FAIL_PATH, "", NULL, 0, &o, &r, &st), KUMO_CODE_NOT_FOUND);
    assert_null(r);
    assert_int_equal(st.code, KUMO_CODE_NOT_FOUND);
    assert_string_equal(st.message, "caf\xc3\xa9 \xe2\x9c\x93 100% done");
    kumo_rpc_status_clear(&st);
    assert_null(st.message);

    for (int code = 1; code <= 16; code++) {
        char num[16];
        snprintf(num, sizeof num, "%d", code);
        struct kumo_rpc_metadata m[] = {{"x-fail-code", num}, {"x-fail-message", "m"}};
        o.metadata = m;
        assert_int_equal(code_of(c, FAIL_PATH, &o, &st), code);
        kumo_rpc_status_clear(&st);
    }

    /* Unknown method / service: grpcio answers Trailers-Only UNIMPLEMENTED. */
    assert_int_equal(code_of(c, "/kumo.test.v1.EchoService/Nope", NULL, &st),
                     KUMO_CODE_UNIMPLEMENTED);
    kumo_rpc_status_clear(&st);
    assert_int_equal(code_of(c, "/no.Such/Thing", NULL, &st), KUMO_CODE_UNIMPLEMENTED);
    kumo_rpc_status_clear(&st);

    /* A response that does not parse as the expected type. */
    Kumo__Test__V1__BytesRequest breq = KUMO__TEST__V1__BYTES_REQUEST__INIT;
    breq.size = 10;
    ProtobufCMessage *out = NULL;
    assert_int_equal(kumo_rpc_client_call(c, BYTES_PATH, &breq.base,
                                          &kumo__test__v1__sleep_response__descriptor, NULL, NULL,
                                          &out, &st),
                     KUMO_CODE_INTERNAL);
    assert_null(out);
    kumo_rpc_status_clear(&st);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_deadline_exceeded_on_time(void **state)
{
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    struct kumo_rpc_status st;
    static const struct kumo_rpc_metadata md[] = {{"x-sleep-ms", "2000"}};
    (void)state;

    int64_t t0 = kumo_now_ns();
    struct kumo_rpc_call_options o = {.deadline = t0 + 200 * MS, .metadata = md, .n_metadata = 1};
    assert_int_equal(code_of(c, SLEEP_PATH, &o, &st), KUMO_CODE_DEADLINE_EXCEEDED);
    int64_t took = kumo_now_ns() - t0;
    assert_true(took >= 195 * MS);
    assert_true(took < 1000 * MS);
    kumo_rpc_status_clear(&st);

    /* The connection is still good. */
    assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_OK);
    kumo_rpc_client_free(c);
}

struct hammer {
    struct kumo_rpc_client *c;
    int id;
    int calls;
    int ok;
    char peer[64];
    int peers; /* distinct peers seen */
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < h->calls; i++) {
        char text[32];
        uint8_t payload[64];
        size_t plen = (size_t)(i % 64);
        Kumo__Test__V1__EchoResponse *r = NULL;
        struct kumo_rpc_status st;
        snprintf(text, sizeof text, "t%d-%d", h->id, i);
        for (size_t k = 0; k < plen; k++)
            payload[k] = (uint8_t)(h->id * 31 + i + k);
        struct kumo_rpc_call_options o = {.request_id = text,
                                          .deadline = kumo_now_ns() + 30000 * MS};
        if (echo(h->c, ECHO_PATH, text, payload, plen, &o, &r, &st) != KUMO_CODE_OK) {
            kumo_rpc_status_clear(&st);
            continue;
        }
        const char *peer = header_of(r, ":peer");
        if (strcmp(r->message, text) == 0 && strcmp(r->request_id, text) == 0 &&
            r->payload.len == plen && (plen == 0 || memcmp(r->payload.data, payload, plen) == 0) &&
            peer)
            h->ok++;
        if (peer && strcmp(peer, h->peer) != 0) {
            snprintf(h->peer, sizeof h->peer, "%s", peer);
            h->peers++;
        }
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    return NULL;
}

static void test_rpc_client_concurrent_calls_one_connection(void **state)
{
    enum { THREADS = 8, CALLS = 250 };
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    struct hammer h[THREADS];
    pthread_t t[THREADS];
    (void)state;

    for (int i = 0; i < THREADS; i++) {
        h[i] = (struct hammer){.c = c, .id = i, .calls = CALLS};
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(h[i].ok, CALLS);
        assert_int_equal(h[i].peers, 1);           /* one client address... */
        assert_string_equal(h[i].peer, h[0].peer); /* ...the same for all */
    }
    struct kumo_rpc_client_stats stats;
    kumo_rpc_client_get_stats(c, &stats);
    assert_int_equal(stats.connections, 1);
    assert_int_equal(stats.calls, THREADS * CALLS);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_large_messages(void **state)
{
    const size_t size = 3u << 20;
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    uint8_t *payload = malloc(size);
    Kumo__Test__V1__EchoResponse *r = NULL;
    Kumo__Test__V1__BytesResponse *b = NULL;
    struct kumo_rpc_status st;
    (void)state;

    for (size_t i = 0; i < size; i++)
        payload[i] = (uint8_t)(i * 7 + (i >> 12));
    assert_int_equal(echo(c, ECHO_PATH, "big", payload, size, NULL, &r, &st), KUMO_CODE_OK);
    assert_int_equal(r->payload.len, size);
    assert_memory_equal(r->payload.data, payload, size);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    assert_int_equal(fetch_bytes(c, (int64_t)size, NULL, &b, &st), KUMO_CODE_OK);
    assert_pattern(&b->data, size);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    free(payload);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_response_over_limit(void **state)
{
    struct kumo_rpc_client *c = client_for(grpc_target, 64 * 1024);
    Kumo__Test__V1__BytesResponse *b = NULL;
    struct kumo_rpc_status st;
    (void)state;

    assert_int_equal(fetch_bytes(c, 100 * 1024, NULL, &b, &st), KUMO_CODE_RESOURCE_EXHAUSTED);
    assert_null(b);
    assert_non_null(strstr(st.message, "larger than"));
    kumo_rpc_status_clear(&st);
    /* Just under the limit (the message has a 4-byte field header). */
    assert_int_equal(fetch_bytes(c, 64 * 1024 - 4, NULL, &b, &st), KUMO_CODE_OK);
    assert_pattern(&b->data, 64 * 1024 - 4);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    /* The stream was reset, not the connection. */
    struct kumo_rpc_client_stats stats;
    kumo_rpc_client_get_stats(c, &stats);
    assert_int_equal(stats.connections, 1);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_gzip_response(void **state)
{
    struct kumo_rpc_client *c = client_for(grpc_target, 64 * 1024);
    Kumo__Test__V1__BytesResponse *b = NULL;
    struct kumo_rpc_status st;
    static const struct kumo_rpc_metadata md[] = {{"x-compress", "gzip"}};
    struct kumo_rpc_call_options o = {.metadata = md, .n_metadata = 1};
    (void)state;

    assert_int_equal(fetch_bytes(c, 60000, &o, &b, &st), KUMO_CODE_OK);
    assert_pattern(&b->data, 60000);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    /* Small on the wire, over the limit once inflated: the message names
     * decompression, which shows grpcio did compress. */
    assert_int_equal(fetch_bytes(c, 1 << 20, &o, &b, &st), KUMO_CODE_RESOURCE_EXHAUSTED);
    assert_null(b);
    assert_non_null(strstr(st.message, "decompression"));
    kumo_rpc_status_clear(&st);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_server_restart(void **state)
{
    struct peer p;
    char target[32];
    struct kumo_rpc_status st;
    (void)state;
    assert_int_equal(peer_start(&p, 0, NULL), 0);
    snprintf(target, sizeof target, "127.0.0.1:%d", p.port);
    struct kumo_rpc_client *c = client_for(target, 0);

    assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_OK);
    int port = p.port;
    peer_kill(&p);
    assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_UNAVAILABLE);
    assert_non_null(st.message);
    kumo_rpc_status_clear(&st);
    assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_UNAVAILABLE);
    kumo_rpc_status_clear(&st);

    assert_int_equal(peer_start(&p, port, NULL), 0);
    assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_OK);
    struct kumo_rpc_client_stats stats;
    kumo_rpc_client_get_stats(c, &stats);
    assert_int_equal(stats.connections, 2);
    kumo_rpc_client_free(c);
    peer_stop(&p);
}

/* ---- TLS ---- */

static kumo_code tls_call(const char *target, const char *ca, const char *name,
                          struct kumo_rpc_status *st)
{
    char ca_path[128];
    snprintf(ca_path, sizeof ca_path, "%s/%s", cert_dir, ca);
    struct kumo_rpc_client_config cfg = {
        .target = target, .tls = 1, .ca_file = ca_path, .server_name = name};
    struct kumo_rpc_client *c = NULL;
    assert_int_equal(kumo_rpc_client_new(&c, &cfg), 0);
    kumo_code code = code_of(c, ECHO_PATH, NULL, st);
    kumo_rpc_client_free(c);
    return code;
}

static void test_rpc_client_tls(void **state)
{
    struct peer p;
    char cert[128], key[128], target[64], name_target[64];
    struct kumo_rpc_status st;
    (void)state;
    snprintf(cert, sizeof cert, "%s/server.pem", cert_dir);
    snprintf(key, sizeof key, "%s/server.key", cert_dir);
    const char *args[] = {"--cert", cert, "--key", key, NULL};
    assert_int_equal(peer_start(&p, 0, args), 0);
    snprintf(target, sizeof target, "127.0.0.1:%d", p.port);
    snprintf(name_target, sizeof name_target, "localhost:%d", p.port);

    expect_code(tls_call(target, "ca.pem", NULL, &st), KUMO_CODE_OK, &st);
    /* By name: resolved, sent as SNI and checked against the DNS SAN. */
    expect_code(tls_call(name_target, "ca.pem", NULL, &st), KUMO_CODE_OK, &st);

    assert_int_equal(tls_call(target, "other.pem", NULL, &st), KUMO_CODE_UNAVAILABLE);
    assert_non_null(strstr(st.message, "certificate"));
    kumo_rpc_status_clear(&st);
    assert_int_equal(tls_call(target, "ca.pem", "wrong.example", &st), KUMO_CODE_UNAVAILABLE);
    kumo_rpc_status_clear(&st);

    /* Cleartext to a TLS port, TLS to a cleartext port: fail, do not hang. */
    struct kumo_rpc_client *c = client_for(target, 0);
    assert_int_equal(code_of(c, ECHO_PATH, NULL, &st), KUMO_CODE_UNAVAILABLE);
    kumo_rpc_status_clear(&st);
    kumo_rpc_client_free(c);
    assert_int_equal(tls_call(grpc_target, "ca.pem", NULL, &st), KUMO_CODE_UNAVAILABLE);
    kumo_rpc_status_clear(&st);
    peer_stop(&p);
}

/* ---- against the raw HTTP/2 peer ---- */

static void test_rpc_client_malformed_responses(void **state)
{
    static const struct {
        const char *method;
        kumo_code code;
    } cases[] = {
        {"Http503", KUMO_CODE_UNAVAILABLE},    {"Http404", KUMO_CODE_UNIMPLEMENTED},
        {"NoStatus", KUMO_CODE_INTERNAL},      {"BadContentType", KUMO_CODE_INTERNAL},
        {"TwoMessages", KUMO_CODE_INTERNAL},   {"NoMessage", KUMO_CODE_INTERNAL},
        {"BadStatus", KUMO_CODE_INTERNAL},     {"UnknownStatus", KUMO_CODE_UNKNOWN},
        {"Truncated", KUMO_CODE_INTERNAL},     {"Garbage", KUMO_CODE_INTERNAL},
        {"CorruptGzip", KUMO_CODE_INTERNAL},   {"CompressedNoEncoding", KUMO_CODE_INTERNAL},
        {"RstRefused", KUMO_CODE_UNAVAILABLE}, {"RstInternal", KUMO_CODE_INTERNAL},
        {"Close", KUMO_CODE_UNAVAILABLE},      {"Unknown", KUMO_CODE_UNIMPLEMENTED},
    };
    struct peer p;
    struct kumo_rpc_status st;
    const char *args[] = {"--raw", NULL};
    (void)state;
    assert_int_equal(peer_start(&p, 0, args), 0);
    struct kumo_rpc_client *c = client_raw(&p);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/raw.Svc/%s", cases[i].method);
        kumo_code code = code_of(c, path, NULL, &st);
        if (code != cases[i].code)
            fail_msg("%s: got %d (%s), want %d", cases[i].method, code,
                     st.message ? st.message : "", cases[i].code);
        /* Every failure is described, except a server status without
         * grpc-message. */
        if (strcmp(cases[i].method, "Unknown") != 0)
            assert_non_null(st.message);
        kumo_rpc_status_clear(&st);
    }
    /* A well-formed gzip response decodes. */
    Kumo__Test__V1__EchoResponse *r = NULL;
    assert_int_equal(echo(c, "/raw.Svc/Gzip", "zipped", NULL, 0, NULL, &r, &st), KUMO_CODE_OK);
    assert_string_equal(r->message, "zipped");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    kumo_rpc_client_free(c);
    peer_stop(&p);
}

static void test_rpc_client_deadline_with_silent_server(void **state)
{
    struct peer p;
    struct kumo_rpc_status st;
    const char *args[] = {"--raw", NULL};
    (void)state;
    assert_int_equal(peer_start(&p, 0, args), 0);
    struct kumo_rpc_client *c = client_raw(&p);

    int64_t t0 = kumo_now_ns();
    struct kumo_rpc_call_options o = {.deadline = t0 + 200 * MS};
    assert_int_equal(code_of(c, "/raw.Svc/Hang", &o, &st), KUMO_CODE_DEADLINE_EXCEEDED);
    int64_t took = kumo_now_ns() - t0;
    assert_true(took >= 195 * MS && took < 1000 * MS);
    kumo_rpc_status_clear(&st);
    /* The server saw the stream reset with CANCEL. */
    long cancels = 0;
    for (int i = 0; i < 100 && cancels == 0; i++) {
        cancels = raw_stat(c, "cancels");
        if (cancels == 0)
            usleep(10000);
    }
    assert_int_equal(cancels, 1);
    kumo_rpc_client_free(c);
    peer_stop(&p);
}

static void test_rpc_client_goaway(void **state)
{
    struct peer p;
    struct kumo_rpc_status st;
    struct kumo_rpc_client_stats stats;
    const char *args[] = {"--raw", NULL};
    Kumo__Test__V1__EchoResponse *r = NULL;
    (void)state;
    assert_int_equal(peer_start(&p, 0, args), 0);
    struct kumo_rpc_client *c = client_raw(&p);

    /* Stream above last_stream_id: not processed, UNAVAILABLE. */
    assert_int_equal(code_of(c, "/raw.Svc/Goaway", NULL, &st), KUMO_CODE_UNAVAILABLE);
    kumo_rpc_status_clear(&st);
    /* The next call reconnects. */
    assert_int_equal(echo(c, "/raw.Svc/Echo", "again", NULL, 0, NULL, &r, &st), KUMO_CODE_OK);
    assert_string_equal(r->message, "again");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    kumo_rpc_client_get_stats(c, &stats);
    assert_int_equal(stats.connections, 2);

    /* A GOAWAY covering the stream: it completes, later calls move on. */
    assert_int_equal(echo(c, "/raw.Svc/GoawayGraceful", "last", NULL, 0, NULL, &r, &st),
                     KUMO_CODE_OK);
    assert_string_equal(r->message, "last");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(echo(c, "/raw.Svc/Echo", "next", NULL, 0, NULL, &r, &st), KUMO_CODE_OK);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    kumo_rpc_client_get_stats(c, &stats);
    assert_int_equal(stats.connections, 3);
    kumo_rpc_client_free(c);
    peer_stop(&p);
}

static void *slow_main(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < h->calls; i++) {
        char text[32];
        Kumo__Test__V1__EchoResponse *r = NULL;
        struct kumo_rpc_status st;
        snprintf(text, sizeof text, "s%d-%d", h->id, i);
        if (echo(h->c, "/raw.Svc/Slow", text, NULL, 0, NULL, &r, &st) != KUMO_CODE_OK) {
            kumo_rpc_status_clear(&st);
            continue;
        }
        if (strcmp(r->message, text) == 0)
            h->ok++;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    return NULL;
}

/* The server allows 2 concurrent streams: the other calls wait in the
 * client's queue instead of being refused. */
static void test_rpc_client_max_concurrent_streams(void **state)
{
    enum { THREADS = 8, CALLS = 6 };
    struct peer p;
    struct hammer h[THREADS];
    pthread_t t[THREADS];
    const char *args[] = {"--raw", "--max-streams", "2", NULL};
    (void)state;
    assert_int_equal(peer_start(&p, 0, args), 0);
    struct kumo_rpc_client *c = client_raw(&p);

    for (int i = 0; i < THREADS; i++) {
        h[i] = (struct hammer){.c = c, .id = i, .calls = CALLS};
        pthread_create(&t[i], NULL, slow_main, &h[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(h[i].ok, CALLS);
    assert_int_equal(raw_stat(c, "violations"), 0);
    assert_int_equal(raw_stat(c, "max_active"), 2);
    assert_int_equal(raw_stat(c, "conns"), 1);
    kumo_rpc_client_free(c);
    peer_stop(&p);
}

struct blocked {
    struct kumo_rpc_client *c;
    kumo_code code;
    int64_t returned_at;
};

static void *blocked_main(void *arg)
{
    struct blocked *b = arg;
    struct kumo_rpc_status st;
    b->code = code_of(b->c, "/raw.Svc/Hang", NULL, &st);
    b->returned_at = kumo_now_ns();
    kumo_rpc_status_clear(&st);
    return NULL;
}

static void test_rpc_client_free_fails_pending_calls(void **state)
{
    struct peer p;
    const char *args[] = {"--raw", NULL};
    struct blocked b[3];
    pthread_t t[3];
    (void)state;
    assert_int_equal(peer_start(&p, 0, args), 0);
    struct kumo_rpc_client *c = client_raw(&p);

    for (int i = 0; i < 3; i++) {
        b[i] = (struct blocked){.c = c, .code = KUMO_CODE_OK};
        pthread_create(&t[i], NULL, blocked_main, &b[i]);
    }
    usleep(300000); /* the calls are waiting on the server */
    int64_t t0 = kumo_now_ns();
    kumo_rpc_client_free(c);
    int64_t freed = kumo_now_ns() - t0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(b[i].code, KUMO_CODE_UNAVAILABLE);
        assert_true(b[i].returned_at - t0 < 1000 * MS);
    }
    assert_true(freed < 1000 * MS);
    peer_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_client_new_rejects_bad_config),
        cmocka_unit_test(test_rpc_client_call_rejects_bad_input),
        cmocka_unit_test(test_rpc_client_connection_refused),
        cmocka_unit_test(test_rpc_client_connect_timeout),
        cmocka_unit_test(test_rpc_client_unary_ok),
        cmocka_unit_test(test_rpc_client_request_id_and_authorization),
        cmocka_unit_test(test_rpc_client_error_status),
        cmocka_unit_test(test_rpc_client_deadline_exceeded_on_time),
        cmocka_unit_test(test_rpc_client_concurrent_calls_one_connection),
        cmocka_unit_test(test_rpc_client_large_messages),
        cmocka_unit_test(test_rpc_client_response_over_limit),
        cmocka_unit_test(test_rpc_client_gzip_response),
        cmocka_unit_test(test_rpc_client_server_restart),
        cmocka_unit_test(test_rpc_client_tls),
        cmocka_unit_test(test_rpc_client_malformed_responses),
        cmocka_unit_test(test_rpc_client_deadline_with_silent_server),
        cmocka_unit_test(test_rpc_client_goaway),
        cmocka_unit_test(test_rpc_client_max_concurrent_streams),
        cmocka_unit_test(test_rpc_client_free_fails_pending_calls),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
