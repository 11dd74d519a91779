/* Unit tests of the RPC server's answers in the protocol the client spoke
 * (rpc_respond, with rpc_stream's protocol detection; rpc_server_fixture.h):
 * Connect unary (proto, JSON, GET, errors and details, gzip, size limits),
 * gRPC (trailers, Trailers-Only, details, message count, gzip, JSON),
 * gRPC-Web trailer frames and deadlines. Real-socket behaviour (threads, TLS,
 * shutdown) is in test_rpc_conn.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "rpc_server_fixture.h"
#include "wire/compress.h"

/* ---- Connect ---- */

static void test_rpc_server_connect_proto_echo(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto",
                                 hello_req, sizeof(hello_req), "x-request-id", "rid-1", NULL);
    assert_true(r->closed);
    assert_int_equal(r->status, 200);
    assert_true(has_line(&r->headers, "content-type: application/proto\n"));
    assert_true(has_line(&r->headers, "x-echo-initial: initial\n"));
    assert_true(has_line(&r->headers, "trailer-x-echo-trailer: trailing\n"));
    assert_true(has_line(&r->headers, "x-request-id: rid-1\n"));
    Kumo__Test__V1__EchoResponse *resp =
        kumo__test__v1__echo_response__unpack(NULL, r->body.len, r->body.data);
    assert_non_null(resp);
    assert_string_equal(resp->message, "hello");
    assert_string_equal(resp->request_id, "rid-1");
    kumo__test__v1__echo_response__free_unpacked(resp, NULL);
    harness_free(h);
}

static void test_rpc_server_connect_json_echo(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    const char *body = "{\"message\":\"hi\",\"payload\":\"AAE=\"}";
    struct response *r =
        request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/json; charset=utf-8",
                (const uint8_t *)body, strlen(body), NULL);
    assert_int_equal(r->status, 200);
    assert_true(has_line(&r->headers, "content-type: application/json\n"));
    assert_non_null(strstr((char *)r->body.data, "\"message\":\"hi\""));
    assert_non_null(strstr((char *)r->body.data, "\"payload\":\"AAE=\""));
    harness_free(h);
    /* Media types are case-insensitive, parameters after blanks ignored. */
    h = harness_new(0);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "Application/JSON \t; charset=utf-8",
                (const uint8_t *)body, strlen(body), NULL);
    assert_int_equal(r->status, 200);
    assert_true(has_line(&r->headers, "content-type: application/json\n"));
    assert_non_null(strstr((char *)r->body.data, "\"message\":\"hi\""));
    harness_free(h);
}

static void test_rpc_server_connect_error_status_mapping(void **state)
{
    (void)state;
    /* Connect spec: each code has one HTTP status. */
    static const int expect[17] = {0,   499, 500, 400, 504, 404, 409, 403, 429,
                                   400, 409, 400, 501, 500, 503, 500, 401};
    for (int code = 1; code <= 16; code++) {
        struct harness *h = harness_new(0);
        char body[64];
        snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"m%d\"}", code, code);
        struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Fail",
                                     "application/json", (const uint8_t *)body, strlen(body), NULL);
        assert_int_equal(r->status, expect[code]);
        assert_true(has_line(&r->headers, "content-type: application/json\n"));
        char want[96];
        snprintf(want, sizeof(want), "{\"code\":\"%s\",\"message\":\"m%d\"}",
                 kumo_code_name((kumo_code)code), code);
        assert_string_equal((char *)r->body.data, want);
        harness_free(h);
    }
}

static void test_rpc_server_connect_error_details(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    const char *body = "{\"code\":9,\"message\":\"no\",\"detail\":\"why\"}";
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Fail", "application/json",
                                 (const uint8_t *)body, strlen(body), NULL);
    assert_int_equal(r->status, 400);
    /* EchoResponse{message:"why"} = 0a 03 77 68 79 -> base64 "CgN3aHk" */
    assert_non_null(strstr((char *)r->body.data,
                           "\"details\":[{\"type\":\"kumo.test.v1.EchoResponse\","
                           "\"value\":\"CgN3aHk\"}]"));
    harness_free(h);
}

static void test_rpc_server_connect_get(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct response *r =
        request(h, "GET",
                "/kumo.test.v1.EchoService/Lookup?encoding=json&message=%7B%22key%22%3A%22k%22%7D",
                NULL, NULL, 0, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr((char *)r->body.data, "\"value\":\"value-of-k\""));
    assert_non_null(strstr((char *)r->body.data, "\"big\":\"9007199254740993\""));
    /* GET on a method with side effects: 405, naming POST. */
    r = request(h, "GET", "/kumo.test.v1.EchoService/Echo?encoding=json&message=%7B%7D", NULL, NULL,
                0, NULL);
    assert_int_equal(r->status, 405);
    assert_true(has_line(&r->headers, "allow: POST\n"));
    /* Missing message parameter. */
    r = request(h, "GET", "/kumo.test.v1.EchoService/Lookup?encoding=json", NULL, NULL, 0, NULL);
    assert_int_equal(r->status, 400);
    /* No codec, or an unknown one: 415 as the Connect spec says. */
    r = request(h, "GET", "/kumo.test.v1.EchoService/Lookup?message=%7B%7D", NULL, NULL, 0, NULL);
    assert_int_equal(r->status, 415);
    r = request(h, "GET", "/kumo.test.v1.EchoService/Lookup?encoding=xml&message=%7B%7D", NULL,
                NULL, 0, NULL);
    assert_int_equal(r->status, 415);
    harness_free(h);
}

static void test_rpc_server_protocol_errors(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct response *r = request(h, "PUT", "/kumo.test.v1.EchoService/Echo", "application/proto",
                                 hello_req, sizeof(hello_req), NULL);
    assert_int_equal(r->status, 405);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "text/plain", hello_req,
                sizeof(hello_req), NULL);
    assert_int_equal(r->status, 415);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Nope", "application/proto", hello_req,
                sizeof(hello_req), NULL);
    assert_int_equal(r->status, 404);
    assert_non_null(strstr((char *)r->body.data, "\"code\":\"unimplemented\""));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto",
                (const uint8_t *)"\xff\xff", 2, NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr((char *)r->body.data, "invalid_argument"));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/json",
                (const uint8_t *)"{\"nope\":1}", 10, NULL);
    assert_int_equal(r->status, 400);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", hello_req,
                sizeof(hello_req), "content-encoding", "br", NULL);
    assert_int_equal(r->status, 501);
    assert_non_null(strstr((char *)r->body.data, "unimplemented"));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", hello_req,
                sizeof(hello_req), "connect-timeout-ms", "abc", NULL);
    assert_int_equal(r->status, 400);
    harness_free(h);
}

static void test_rpc_server_connect_gzip_both_ways(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    /* A 4000-byte payload compresses well and exceeds the 1 KiB threshold. */
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    uint8_t payload[4000];
    memset(payload, 'z', sizeof(payload));
    req.payload.data = payload;
    req.payload.len = sizeof(payload);
    uint8_t packed[4100];
    size_t plen = kumo__test__v1__echo_request__pack(&req, packed);
    struct kumo_buf gz = KUMO_BUF_INIT;
    kumo_gzip_compress(packed, plen, &gz);
    struct response *r =
        request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", gz.data, gz.len,
                "content-encoding", "gzip", "accept-encoding", "gzip, br", NULL);
    assert_int_equal(r->status, 200);
    assert_true(has_line(&r->headers, "content-encoding: gzip\n"));
    struct kumo_buf plain = KUMO_BUF_INIT;
    assert_int_equal(kumo_gzip_decompress(r->body.data, r->body.len, 1 << 20, &plain), 0);
    Kumo__Test__V1__EchoResponse *resp =
        kumo__test__v1__echo_response__unpack(NULL, plain.len, plain.data);
    assert_non_null(resp);
    assert_int_equal(resp->payload.len, sizeof(payload));
    kumo__test__v1__echo_response__free_unpacked(resp, NULL);
    kumo_buf_free(&plain);
    kumo_buf_free(&gz);
    harness_free(h);
}

static void test_rpc_server_size_limits(void **state)
{
    (void)state;
    struct harness *h = harness_new(2048);
    uint8_t big[4096];
    memset(big, 0, sizeof(big));
    big[0] = 0x12; /* field 2, bytes */
    big[1] = 0x80;
    big[2] = 0x20; /* length 4096 - 3... content irrelevant: the size is */
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto",
                                 big, sizeof(big), NULL);
    assert_int_equal(r->status, 429);
    assert_non_null(strstr((char *)r->body.data, "resource_exhausted"));
    /* A zip bomb: small on the wire, over the limit once inflated. */
    uint8_t zeros[64 * 1024] = {0};
    struct kumo_buf gz = KUMO_BUF_INIT;
    kumo_gzip_compress(zeros, sizeof(zeros), &gz);
    assert_true(gz.len < 2048);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/proto", gz.data, gz.len,
                "content-encoding", "gzip", NULL);
    assert_int_equal(r->status, 429);
    /* A response over the limit. */
    const uint8_t bytes_req[] = {0x08, 0x80, 0x40}; /* size 8192 */
    r = request(h, "POST", "/kumo.test.v1.EchoService/Bytes", "application/proto", bytes_req,
                sizeof(bytes_req), NULL);
    assert_int_equal(r->status, 429);
    kumo_buf_free(&gz);
    harness_free(h);
}

/* ---- gRPC ---- */

static void test_rpc_server_grpc_echo_trailers(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct kumo_buf body = KUMO_BUF_INIT;
    envelope(&body, 0, hello_req, sizeof(hello_req));
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc",
                                 body.data, body.len, "te", "trailers", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->header_frames, 2);
    assert_true(has_line(&r->headers, "content-type: application/grpc+proto\n"));
    assert_true(has_line(&r->headers, "x-echo-initial: initial\n"));
    assert_true(has_line(&r->trailers, "grpc-status: 0\n"));
    assert_true(has_line(&r->trailers, "x-echo-trailer: trailing\n"));
    assert_true(r->body.len > 5);
    assert_int_equal(r->body.data[0], 0);
    uint32_t len = (uint32_t)r->body.data[1] << 24 | (uint32_t)r->body.data[2] << 16 |
                   (uint32_t)r->body.data[3] << 8 | r->body.data[4];
    assert_int_equal(len + 5, r->body.len);
    kumo_buf_free(&body);
    harness_free(h);
}

static void test_rpc_server_grpc_trailers_only_error(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct kumo_buf body = KUMO_BUF_INIT;
    /* FailRequest{code:5, message:"h\xc3\xa9 %"} */
    const uint8_t fail[] = {0x08, 0x05, 0x12, 0x05, 'h', 0xc3, 0xa9, ' ', '%'};
    envelope(&body, 0, fail, sizeof(fail));
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Fail", "application/grpc",
                                 body.data, body.len, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->header_frames, 1); /* Trailers-Only */
    assert_int_equal(r->body.len, 0);
    assert_true(has_line(&r->headers, "grpc-status: 5\n"));
    assert_true(has_line(&r->headers, "grpc-message: h%C3%A9 %25\n"));
    /* Unknown method: unimplemented, still HTTP 200 for gRPC. */
    r = request(h, "POST", "/kumo.test.v1.EchoService/Nope", "application/grpc", body.data,
                body.len, NULL);
    assert_int_equal(r->status, 200);
    assert_true(has_line(&r->headers, "grpc-status: 12\n"));
    kumo_buf_free(&body);
    harness_free(h);
}

static void test_rpc_server_grpc_status_details(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct kumo_buf body = KUMO_BUF_INIT;
    const uint8_t fail[] = {0x08, 0x07, 0x12, 0x01, 'x', 0x1a, 0x01, 'd'};
    envelope(&body, 0, fail, sizeof(fail));
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Fail", "application/grpc",
                                 body.data, body.len, NULL);
    assert_true(has_line(&r->headers, "grpc-status: 7\n"));
    assert_true(has_line(&r->headers, "grpc-status-details-bin: "));
    kumo_buf_free(&body);
    harness_free(h);
}

static void test_rpc_server_grpc_message_count(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    /* zero messages */
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc",
                                 (const uint8_t *)"", 0, NULL);
    assert_true(has_line(&r->headers, "grpc-status: 12\n"));
    /* two messages */
    struct kumo_buf body = KUMO_BUF_INIT;
    envelope(&body, 0, hello_req, sizeof(hello_req));
    envelope(&body, 0, hello_req, sizeof(hello_req));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc", body.data,
                body.len, NULL);
    assert_true(has_line(&r->headers, "grpc-status: 12\n"));
    /* truncated message */
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc", body.data, 9,
                NULL);
    assert_true(has_line(&r->headers, "grpc-status: 3\n"));
    /* compressed flag without grpc-encoding */
    kumo_buf_reset(&body);
    envelope(&body, 1, hello_req, sizeof(hello_req));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc", body.data,
                body.len, NULL);
    assert_true(has_line(&r->headers, "grpc-status: 13\n"));
    /* unsupported grpc-encoding */
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc", body.data,
                body.len, "grpc-encoding", "snappy", NULL);
    assert_true(has_line(&r->headers, "grpc-status: 12\n"));
    kumo_buf_free(&body);
    harness_free(h);
}

static void test_rpc_server_grpc_gzip_and_json(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct kumo_buf gz = KUMO_BUF_INIT, body = KUMO_BUF_INIT;
    kumo_gzip_compress(hello_req, sizeof(hello_req), &gz);
    envelope(&body, 1, gz.data, gz.len);
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc",
                                 body.data, body.len, "grpc-encoding", "gzip", NULL);
    assert_true(has_line(&r->trailers, "grpc-status: 0\n"));
    assert_non_null(memmem(r->body.data, r->body.len, "hello", 5));
    kumo_buf_reset(&body);
    envelope(&body, 0, "{\"message\":\"js\"}", 16);
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc+json", body.data,
                body.len, NULL);
    assert_true(has_line(&r->headers, "content-type: application/grpc+json\n"));
    assert_true(has_line(&r->trailers, "grpc-status: 0\n"));
    assert_non_null(memmem(r->body.data, r->body.len, "\"message\":\"js\"", 14));
    kumo_buf_free(&gz);
    kumo_buf_free(&body);
    harness_free(h);
}

static void test_rpc_server_grpc_web_trailer_frame(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct kumo_buf body = KUMO_BUF_INIT;
    envelope(&body, 0, hello_req, sizeof(hello_req));
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Echo",
                                 "application/grpc-web+proto", body.data, body.len, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->header_frames, 1);
    /* message frame, then a 0x80 frame with the status as HTTP/1 headers */
    assert_int_equal(r->body.data[0], 0);
    uint32_t len = (uint32_t)r->body.data[3] << 8 | r->body.data[4];
    const uint8_t *t = r->body.data + 5 + len;
    assert_int_equal(t[0], 0x80);
    assert_non_null(memmem(t + 5, r->body.len - 10 - len, "grpc-status: 0\r\n", 16));
    kumo_buf_free(&body);
    harness_free(h);
}

static void test_rpc_server_deadline(void **state)
{
    (void)state;
    struct harness *h = harness_new(0);
    struct kumo_buf body = KUMO_BUF_INIT;
    const uint8_t sleep_req[] = {0x08, 0xd0, 0x0f}; /* 2000 ms */
    envelope(&body, 0, sleep_req, sizeof(sleep_req));
    int64_t start = kumo_now_ns();
    struct response *r = request(h, "POST", "/kumo.test.v1.EchoService/Sleep", "application/grpc",
                                 body.data, body.len, "grpc-timeout", "50m", NULL);
    int64_t elapsed_ms = (kumo_now_ns() - start) / 1000000;
    assert_true(has_line(&r->headers, "grpc-status: 4\n"));
    assert_true(elapsed_ms < 1000);
    /* A zero budget fails at once. */
    r = request(h, "POST", "/kumo.test.v1.EchoService/Sleep", "application/grpc", body.data,
                body.len, "grpc-timeout", "0n", NULL);
    assert_true(has_line(&r->headers, "grpc-status: 4\n"));
    /* Echo reports the budget it saw. */
    kumo_buf_reset(&body);
    envelope(&body, 0, hello_req, sizeof(hello_req));
    r = request(h, "POST", "/kumo.test.v1.EchoService/Echo", "application/grpc", body.data,
                body.len, "grpc-timeout", "5S", NULL);
    Kumo__Test__V1__EchoResponse *resp =
        kumo__test__v1__echo_response__unpack(NULL, r->body.len - 5, r->body.data + 5);
    assert_non_null(resp);
    assert_true(resp->deadline_ms > 4000 && resp->deadline_ms <= 5000);
    kumo__test__v1__echo_response__free_unpacked(resp, NULL);
    kumo_buf_free(&body);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_server_connect_proto_echo),
        cmocka_unit_test(test_rpc_server_connect_json_echo),
        cmocka_unit_test(test_rpc_server_connect_error_status_mapping),
        cmocka_unit_test(test_rpc_server_connect_error_details),
        cmocka_unit_test(test_rpc_server_connect_get),
        cmocka_unit_test(test_rpc_server_protocol_errors),
        cmocka_unit_test(test_rpc_server_connect_gzip_both_ways),
        cmocka_unit_test(test_rpc_server_size_limits),
        cmocka_unit_test(test_rpc_server_grpc_echo_trailers),
        cmocka_unit_test(test_rpc_server_grpc_trailers_only_error),
        cmocka_unit_test(test_rpc_server_grpc_status_details),
        cmocka_unit_test(test_rpc_server_grpc_message_count),
        cmocka_unit_test(test_rpc_server_grpc_gzip_and_json),
        cmocka_unit_test(test_rpc_server_grpc_web_trailer_frame),
        cmocka_unit_test(test_rpc_server_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
