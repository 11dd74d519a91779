/* Unit tests of the RPC server's streams and connections (rpc_stream,
 * rpc_conn, rpc_server; rpc_server_fixture.h): client resets, oversized
 * headers, the authenticator (before decoding, before the body, once per
 * stream), the per-connection buffer budget, string checks, the caller's
 * peer, service registration and the fd map priming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_server_fixture.h"

static void test_rpc_server_health_and_reset(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    /* A stream the client resets mid-request is forgotten cleanly. */
    struct kumo_buf body = KUMO_BUF_INIT;
    envelope(&body, 0, hello_req, sizeof(hello_req));
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"t", 10, 1, 0},
        {(uint8_t *)":path", (uint8_t *)"/kumo.test.v1.EchoService/Echo", 5, 30, 0},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
    };
    int32_t id = nghttp2_submit_headers(h->client, NGHTTP2_FLAG_NONE, -1, NULL, nv, 5, NULL);
    pump(h);
    assert_int_equal(h->conn->n_calls, 1);
    nghttp2_submit_rst_stream(h->client, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump(h);
    assert_int_equal(h->conn->n_calls, 0);
    assert_int_equal(h->conn->n_receiving, 0);
    kumo_buf_free(&body);
    harness_free(h);
}

static void test_rpc_server_oversized_headers_reset(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    char big[8000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct response *r =
        request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", hello_req,
                sizeof(hello_req), "x-a", big, "x-b", big, "x-c", big, NULL);
    assert_true(r->closed);
    assert_int_equal(r->status, 0); /* reset, never answered */
    assert_int_not_equal(r->rst_code, 0);
    /* The connection still serves. */
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", hello_req,
                sizeof(hello_req), NULL);
    assert_int_equal(r->status, 200);
    harness_free(h);
}

static kumo_code test_auth(void *ud, struct kumo_rpc_call *call, const char *authorization,
                           void **principal)
{
    (*(int *)ud)++;
    if (authorization == NULL || strcmp(authorization, "Bearer good") != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, "bad token");
    *principal = kumo_rpc_call_alloc(call, 8);
    return KUMO_CODE_OK;
}

static void test_rpc_server_authenticator(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    int calls = 0;
    kumo_rpc_server_set_auth(h->srv, test_auth, &calls);
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto",
                                 hello_req, sizeof(hello_req), NULL);
    assert_int_equal(r->status, 401);
    assert_non_null(strstr((char *)r->body.data, "unauthenticated"));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", hello_req,
                sizeof(hello_req), "authorization", "Bearer bad", NULL);
    assert_int_equal(r->status, 401);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", hello_req,
                sizeof(hello_req), "authorization", "Bearer good", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(calls, 3);
    harness_free(h);
}

/* Sends a request's headers and `len` body bytes without ending the
 * stream: the client is still sending. */
static ssize_t read_body_open(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                              uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    ssize_t n = read_body(s, id, buf, length, flags, src, ud);
    if (*flags & NGHTTP2_DATA_FLAG_EOF)
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    return n;
}

static struct response *open_request(struct harness *h, const char *path, const char *ctype,
                                     const char *authorization, const uint8_t *body, size_t len)
{
    nghttp2_nv nv[6];
    size_t n = 0;
#define ADD(nm, v) nv[n++] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(v), strlen(nm), strlen(v), 0}
    ADD(":method", "POST");
    ADD(":scheme", "http");
    ADD(":authority", "test");
    ADD(":path", path);
    ADD("content-type", ctype);
    if (authorization)
        ADD("authorization", authorization);
#undef ADD
    assert_true(h->n < MAX_STREAMS);
    struct request_body *b = &h->bodies[h->n];
    *b = (struct request_body){body, len, 0};
    nghttp2_data_provider prd = {.source.ptr = b, .read_callback = read_body_open};
    int32_t id = len ? nghttp2_submit_request(h->client, NULL, nv, n, &prd, NULL)
                     : nghttp2_submit_headers(h->client, NGHTTP2_FLAG_NONE, -1, NULL, nv, n, NULL);
    assert_true(id > 0);
    struct response *r = &h->resp[h->n++];
    memset(r, 0, sizeof(*r));
    r->stream_id = id;
    pump(h);
    return r;
}

static struct harness *harness_with_auth(int *calls)
{
    struct harness *h = harness_new(0);
    kumo_rpc_server_set_auth(h->srv, test_auth, calls);
    return h;
}

static void test_rpc_server_auth_before_decode(void **state)
{
    (void)state;
    int calls = 0;
    struct harness *h = harness_with_auth(&calls);
    static const char path[] = "/kumo.test.v1.EchoService/Echo";
    /* Bodies that fail to decode: unauthenticated all the same, for every
     * protocol, since the authenticator runs before the decoder. */
    struct response *r = request(h, "POST", path, "application/json",
                                 (const uint8_t *)"{\"userId\":\"x\"}", 14, NULL);
    assert_int_equal(r->status, 401);
    assert_non_null(strstr((char *)r->body.data, "\"code\":\"unauthenticated\""));
    r = request(h, "POST", path, "application/proto", (const uint8_t *)"\xff\xff", 2, NULL);
    assert_int_equal(r->status, 401);
    struct kumo_buf env = KUMO_BUF_INIT;
    envelope(&env, 0, "\xff\xff", 2);
    r = request(h, "POST", path, "application/grpc", env.data, env.len, "te", "trailers", NULL);
    assert_true(has_line(&r->headers, "grpc-status: 16\n"));
    r = request(h, "POST", path, "application/grpc-web+proto", env.data, env.len, NULL);
    assert_true(has_line(&r->headers, "grpc-status: 16\n"));
    r = request(h, "POST", path, "application/grpc+json", env.data, env.len, NULL);
    assert_true(has_line(&r->headers, "grpc-status: 16\n"));
    r = request(h, "GET", "/kumo.test.v1.EchoService/Lookup?encoding=json&message=%7Bnope", NULL,
                NULL, 0, NULL);
    assert_int_equal(r->status, 401);
    assert_int_equal(calls, 6);
    /* With a valid token the same body reaches the decoder. */
    r = request(h, "POST", path, "application/json", (const uint8_t *)"{\"userId\":\"x\"}", 14,
                "authorization", "Bearer good", NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr((char *)r->body.data, "invalid_argument"));
    r = request(h, "POST", path, "application/grpc", env.data, env.len, "authorization",
                "Bearer good", "te", "trailers", NULL);
    assert_true(has_line(&r->headers, "grpc-status: 3\n"));
    kumo_buf_free(&env);
    harness_free(h);
}

static void test_rpc_server_auth_answers_before_the_body(void **state)
{
    (void)state;
    int calls = 0;
    struct harness *h = harness_with_auth(&calls);
    static const char path[] = "/kumo.test.v1.EchoService/Echo";
    /* Headers only, the body still to come: the answer is already there. */
    struct response *r = open_request(h, path, "application/json", NULL, NULL, 0);
    assert_int_equal(r->status, 401);
    assert_non_null(strstr((char *)r->body.data, "\"code\":\"unauthenticated\""));
    r = open_request(h, path, "application/grpc", "Bearer bad", NULL, 0);
    assert_true(has_line(&r->headers, "grpc-status: 16\n"));
    /* What the client had in flight is dropped, never buffered... */
    static uint8_t junk[200 * 1024];
    r = open_request(h, path, "application/proto", NULL, junk, 3000);
    assert_int_equal(r->status, 401);
    assert_false(r->closed);
    assert_int_equal(h->conn->in_bytes, 0);
    /* ...and a client that keeps sending is reset (NO_ERROR) soon after. */
    r = open_request(h, path, "application/proto", NULL, junk, sizeof(junk));
    assert_int_equal(r->status, 401);
    assert_true(r->closed);
    assert_int_equal(r->rst_code, NGHTTP2_NO_ERROR);
    assert_int_equal(h->conn->in_bytes, 0);
    assert_int_equal(calls, 4);
    /* The connection still serves an authenticated call. */
    r = request(h, "POST", path, "application/proto", hello_req, sizeof(hello_req), "authorization",
                "Bearer good", NULL);
    assert_int_equal(r->status, 200);
    harness_free(h);
}

static kumo_code stream_echo(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response)
{
    const Kumo__Test__V1__EchoRequest *req = (const void *)request;
    Kumo__Test__V1__EchoResponse *r = kumo_rpc_call_alloc(call, sizeof *r);
    kumo__test__v1__echo_response__init(r);
    r->message = req->message;
    *response = &r->base;
    return KUMO_CODE_OK;
}

static struct harness *harness_streaming(int *calls)
{
    struct harness *h = calloc(1, sizeof(*h));
    struct kumo_rpc_server_config cfg = {0};
    static const struct kumo_rpc_method m[] = {{"Echo", stream_echo, KUMO_RPC_STREAM_EACH}};
    struct kumo_rpc_service svc = {&kumo__test__v1__echo_service__descriptor, m, 1, NULL};
    assert_int_equal(kumo_rpc_server_new(&h->srv, &cfg), 0);
    assert_int_equal(kumo_rpc_server_add_service(h->srv, &svc), 0);
    kumo_rpc_server_set_auth(h->srv, test_auth, calls);
    h->io = kumo__rpc_server_prepare_offline(h->srv);
    h->conn = kumo__conn_new_memory(h->io, &h->server_out);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_client_new(&h->client, cbs, h);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(h->client, NGHTTP2_FLAG_NONE, NULL, 0);
    return h;
}

static void test_rpc_server_auth_streaming(void **state)
{
    (void)state;
    int calls = 0;
    struct harness *h = harness_streaming(&calls);
    static const char path[] = "/kumo.test.v1.EchoService/Echo";
    struct kumo_buf env = KUMO_BUF_INIT;
    envelope(&env, 0, "{\"nope\":1}", 10);
    /* Connect streaming, JSON that would not decode: unauthenticated. */
    struct response *r =
        request(h, "POST", path, "application/connect+json", env.data, env.len, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(memmem(r->body.data, r->body.len, "unauthenticated", 15));
    r = open_request(h, path, "application/grpc+json", NULL, env.data, env.len);
    assert_true(has_line(&r->headers, "grpc-status: 16\n"));
    assert_int_equal(h->conn->in_bytes, 0);
    kumo_buf_free(&env);
    /* Authenticated once for the stream, whatever the number of messages. */
    calls = 0;
    envelope(&env, 0, "{\"message\":\"a\"}", 15);
    envelope(&env, 0, "{\"message\":\"b\"}", 15);
    r = request(h, "POST", path, "application/grpc+json", env.data, env.len, "authorization",
                "Bearer good", NULL);
    assert_true(has_line(&r->trailers, "grpc-status: 0\n"));
    assert_non_null(memmem(r->body.data, r->body.len, "\"b\"", 3));
    assert_int_equal(calls, 1);
    assert_int_equal(h->conn->in_bytes, 0);
    kumo_buf_free(&env);
    harness_free(h);
}

static void test_rpc_server_connection_buffer_limit(void **state)
{
    (void)state;
    struct harness *h = calloc(1, sizeof(*h));
    /* 1 KiB messages; 2 KiB of request bytes per connection. */
    struct kumo_rpc_server_config cfg = {.max_message_size = 1024, .max_connection_buffer = 2048};
    assert_int_equal(kumo_rpc_server_new(&h->srv, &cfg), 0);
    assert_int_equal(kumo_rpc_server_add_service(h->srv, &kumo_test_echo_service), 0);
    h->io = kumo__rpc_server_prepare_offline(h->srv);
    h->conn = kumo__conn_new_memory(h->io, &h->server_out);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_client_new(&h->client, cbs, h);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(h->client, NGHTTP2_FLAG_NONE, NULL, 0);
    static const char path[] = "/kumo.test.v1.EchoService/Echo";
    /* Three streams, each sending 900 bytes of a 1000-byte message that
     * never ends: the third would pass the connection's budget. */
    static uint8_t part[900];
    part[0] = 0;
    part[3] = 0x03;
    part[4] = 0xe8; /* envelope: 1000 bytes */
    struct response *a = open_request(h, path, "application/grpc", NULL, part, sizeof(part));
    struct response *b = open_request(h, path, "application/grpc", NULL, part, sizeof(part));
    assert_int_equal(h->conn->in_bytes, 1800);
    assert_false(a->closed);
    assert_false(b->closed);
    struct response *c = open_request(h, path, "application/grpc", NULL, part, sizeof(part));
    assert_true(has_line(&c->headers, "grpc-status: 8\n"));
    assert_true(has_line(&c->headers, "grpc-message: too many request bytes"));
    assert_int_equal(h->conn->in_bytes, 1800);
    /* Closing a stream gives its bytes back: a new request fits again. */
    nghttp2_submit_rst_stream(h->client, NGHTTP2_FLAG_NONE, a->stream_id, NGHTTP2_CANCEL);
    pump(h);
    assert_int_equal(h->conn->in_bytes, 900);
    struct response *d =
        request(h, "POST", path, "application/proto", hello_req, sizeof(hello_req), NULL);
    assert_int_equal(d->status, 200);
    assert_int_equal(h->conn->in_bytes, 900);
    harness_free(h);
}

static void test_rpc_server_rejects_bad_strings(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    /* EchoRequest.message (a string) with a NUL inside, then with a
     * surrogate: protobuf-c would hand the handler "ab" and garbage. */
    static const uint8_t nul[] = {0x0a, 0x05, 'a', 'b', 0, 'c', 'd'};
    static const uint8_t surrogate[] = {0x0a, 0x03, 0xed, 0xa0, 0x80};
    static const uint8_t bytes_ok[] = {0x12, 0x03, 0xed, 0x00, 0x80}; /* payload: bytes */
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto",
                                 nul, sizeof(nul), NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr((char *)r->body.data, "invalid_argument"));
    assert_non_null(strstr((char *)r->body.data, "field message contains a NUL byte"));
    struct kumo_buf env = KUMO_BUF_INIT;
    envelope(&env, 0, surrogate, sizeof(surrogate));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc", env.data, env.len,
                "te", "trailers", NULL);
    /* Trailers-only error: the status is in the (only) HEADERS. */
    assert_true(has_line(&r->headers, "grpc-status: 3\n"));
    assert_true(has_line(&r->headers, "grpc-message: field message is not valid UTF-8\n"));
    kumo_buf_free(&env);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", bytes_ok,
                sizeof(bytes_ok), NULL);
    assert_int_equal(r->status, 200);
    harness_free(h);
}

static kumo_code peer_echo(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response)
{
    (void)request;
    Kumo__Test__V1__EchoResponse *r = kumo_rpc_call_alloc(call, sizeof *r);
    kumo__test__v1__echo_response__init(r);
    r->message = (char *)kumo_rpc_call_peer(call);
    *response = &r->base;
    return KUMO_CODE_OK;
}

static void test_rpc_server_call_peer(void **state)
{
    (void)state;
    struct harness *h = calloc(1, sizeof(*h));
    struct kumo_rpc_server_config cfg = {0};
    static const struct kumo_rpc_method m[] = {{"Echo", peer_echo, 0}};
    struct kumo_rpc_service svc = {&kumo__test__v1__echo_service__descriptor, m, 1, NULL};
    assert_int_equal(kumo_rpc_server_new(&h->srv, &cfg), 0);
    assert_int_equal(kumo_rpc_server_add_service(h->srv, &svc), 0);
    h->io = kumo__rpc_server_prepare_offline(h->srv);
    h->conn = kumo__conn_new_memory(h->io, &h->server_out);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_client_new(&h->client, cbs, h);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(h->client, NGHTTP2_FLAG_NONE, NULL, 0);
    /* In-memory connections have no peer; a socket's is its numeric address. */
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/json",
                                 (const uint8_t *)"{}", 2, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal((char *)r->body.data, "{}");
    snprintf(h->conn->peer, sizeof h->conn->peer, "%s", "2001:db8::7");
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/json",
                (const uint8_t *)"{}", 2, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal((char *)r->body.data, "{\"message\":\"2001:db8::7\"}");
    harness_free(h);
}

static void test_rpc_server_registration_validates(void **state)
{
    (void)state;
    struct kumo_rpc_server *srv;
    struct kumo_rpc_server_config cfg = {0};
    assert_int_equal(kumo_rpc_server_new(&srv, &cfg), 0);
    static const struct kumo_rpc_method bad[] = {{"NoSuchMethod", NULL, 0}};
    struct kumo_rpc_service svc = {&kumo__test__v1__echo_service__descriptor, bad, 1, NULL};
    assert_int_equal(kumo_rpc_server_add_service(srv, &svc), KUMO_ERR_INVALID);
    assert_int_equal(kumo_rpc_server_service_count(srv), 0);
    assert_int_equal(kumo_rpc_server_add_service(srv, &kumo_test_echo_service), 0);
    assert_int_equal(kumo_rpc_server_add_service(srv, &kumo_test_echo_service), KUMO_ERR_INVALID);
    assert_string_equal(kumo_rpc_server_service_name(srv, 0), "kumo.test.v1.EchoService");
    assert_non_null(kumo__rpc_find_method(srv, "/kumo.test.v1.EchoService/Lookup"));
    assert_null(kumo__rpc_find_method(srv, "/kumo.test.v1.EchoService/Lookupx"));
    kumo_rpc_server_free(srv);
}

static int prime_reads;

static void on_prime_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    prime_reads++;
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* kumo__rpc_prime_fd_map adds an event for every descriptor number below
 * its bound (dups of one eventfd, all closed again): nothing leaks, and
 * the base works as before afterwards. */
static void test_rpc_prime_fd_map(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    assert_int_equal(kumo__rpc_prime_fd_map(base, 0), 0);
    int before = open_fds();
    assert_true(kumo__rpc_prime_fd_map(base, 300) >= 300);
    assert_int_equal(open_fds(), before);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct event *ev = event_new(base, p[0], EV_READ, on_prime_read, NULL);
    assert_int_equal(event_add(ev, NULL), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    prime_reads = 0;
    event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(prime_reads, 1);
    event_free(ev);
    close(p[0]);
    close(p[1]);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_server_health_and_reset),
        cmocka_unit_test(test_rpc_server_oversized_headers_reset),
        cmocka_unit_test(test_rpc_server_authenticator),
        cmocka_unit_test(test_rpc_server_auth_before_decode),
        cmocka_unit_test(test_rpc_server_auth_answers_before_the_body),
        cmocka_unit_test(test_rpc_server_auth_streaming),
        cmocka_unit_test(test_rpc_server_connection_buffer_limit),
        cmocka_unit_test(test_rpc_server_registration_validates),
        cmocka_unit_test(test_rpc_server_rejects_bad_strings),
        cmocka_unit_test(test_rpc_server_call_peer),
        cmocka_unit_test(test_rpc_prime_fd_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
