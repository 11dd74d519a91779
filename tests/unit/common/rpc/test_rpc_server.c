/* Unit tests of the RPC server's protocol layer (rpc_conn, rpc_stream,
 * rpc_respond, rpc_call): an nghttp2 client session talks to an in-memory
 * server connection with the EchoService registered, so every byte on the
 * wire is checked without sockets or threads. Real-socket behaviour
 * (threads, TLS, shutdown) is in test_rpc_lifecycle.c. */
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
#include <zlib.h>

#include "wire/compress.h"
#include "echo_service.h"
#include "wire/envelope.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "rpc/internal.h"

#define MAX_STREAMS 16

struct response {
    int32_t stream_id;
    int status;
    struct kumo_buf headers;  /* "name: value\n" lines */
    struct kumo_buf trailers; /* same, for a trailing HEADERS frame */
    struct kumo_buf body;
    int closed;
    uint32_t rst_code;
    int header_frames;
};

struct request_body {
    const uint8_t *data;
    size_t len, off;
};

struct harness {
    struct kumo_rpc_server *srv;
    struct kumo__io_thread *io;
    struct kumo__conn *conn;
    struct kumo_buf server_out;
    nghttp2_session *client;
    struct response resp[MAX_STREAMS];
    struct request_body bodies[MAX_STREAMS];
    int n;
    int conn_closed;
};

static struct response *find_resp(struct harness *h, int32_t id)
{
    for (int i = 0; i < h->n; i++)
        if (h->resp[i].stream_id == id)
            return &h->resp[i];
    return NULL;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)s;
    (void)flags;
    struct response *r = find_resp(ud, frame->hd.stream_id);
    if (r == NULL)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        r->status = (int)strtol((const char *)value, NULL, 10);
        return 0;
    }
    struct kumo_buf *b = r->header_frames > 1 ? &r->trailers : &r->headers;
    kumo_buf_appendf(b, "%.*s: %.*s\n", (int)namelen, name, (int)valuelen, value);
    return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    (void)s;
    struct response *r = find_resp(ud, frame->hd.stream_id);
    if (r)
        r->header_frames++;
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
    (void)s;
    (void)flags;
    struct response *r = find_resp(ud, id);
    if (r)
        kumo_buf_append(&r->body, data, len);
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    struct response *r = find_resp(ud, id);
    if (r) {
        r->closed = 1;
        r->rst_code = code;
    }
    return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    struct request_body *b = src->ptr;
    size_t n = b->len - b->off < length ? b->len - b->off : length;
    memcpy(buf, b->data + b->off, n);
    b->off += n;
    if (b->off == b->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static struct harness *harness_new(size_t max_message)
{
    struct harness *h = calloc(1, sizeof(*h));
    struct kumo_rpc_server_config cfg = {.max_message_size = max_message};
    assert_int_equal(kumo_rpc_server_new(&h->srv, &cfg), 0);
    assert_int_equal(kumo_rpc_server_add_service(h->srv, &kumo_test_echo_service), 0);
    h->io = kumo__rpc_server_prepare_offline(h->srv);
    h->conn = kumo__conn_new_memory(h->io, &h->server_out);
    assert_non_null(h->conn);
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

static void harness_free(struct harness *h)
{
    if (!h->conn_closed)
        kumo__conn_close(h->conn);
    kumo__rpc_server_run_pending(h->srv);
    nghttp2_session_del(h->client);
    for (int i = 0; i < h->n; i++) {
        kumo_buf_free(&h->resp[i].headers);
        kumo_buf_free(&h->resp[i].trailers);
        kumo_buf_free(&h->resp[i].body);
    }
    kumo_buf_free(&h->server_out);
    /* prepare_offline's structures are freed with the server */
    kumo_rpc_server_free(h->srv);
    free(h);
}

/* Moves bytes both ways until neither side has anything to say. Returns the
 * server's feed result (negative when it tore the connection down). */
static int pump(struct harness *h)
{
    int rc = 0;
    for (int round = 0; round < 1000; round++) {
        int moved = 0;
        const uint8_t *data;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(h->client, &data)) > 0) {
            moved = 1;
            if (rc == 0)
                rc = kumo__conn_feed(h->conn, data, (size_t)n);
        }
        kumo__rpc_server_run_pending(h->srv);
        event_base_loop(h->io->base, EVLOOP_NONBLOCK);
        if (h->server_out.len) {
            moved = 1;
            nghttp2_session_mem_recv(h->client, h->server_out.data, h->server_out.len);
            kumo_buf_reset(&h->server_out);
        }
        if (!moved)
            break;
    }
    return rc;
}

/* Sends one request; extra headers as "name", "value" pairs ending in NULL. */
static struct response *request(struct harness *h, const char *method, const char *path,
                                const char *ctype, const uint8_t *body, size_t len, ...)
{
    nghttp2_nv nv[32];
    size_t n = 0;
#define ADD(nm, v) nv[n++] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(v), strlen(nm), strlen(v), 0}
    ADD(":method", method);
    ADD(":scheme", "http");
    ADD(":authority", "test");
    ADD(":path", path);
    if (ctype)
        ADD("content-type", ctype);
    va_list ap;
    va_start(ap, len);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        ADD(name, value);
    }
    va_end(ap);
#undef ADD
    assert_true(h->n < MAX_STREAMS);
    struct request_body *b = &h->bodies[h->n];
    *b = (struct request_body){body, len, 0};
    nghttp2_data_provider prd = {.source.ptr = b, .read_callback = read_body};
    int32_t id = nghttp2_submit_request(h->client, NULL, nv, n, body ? &prd : NULL, NULL);
    assert_true(id > 0);
    struct response *r = &h->resp[h->n++];
    memset(r, 0, sizeof(*r));
    r->stream_id = id;
    pump(h);
    return r;
}

static int has_line(const struct kumo_buf *b, const char *line)
{
    return b->data && strstr((const char *)b->data, line) != NULL;
}

static void envelope(struct kumo_buf *out, uint8_t flags, const void *msg, size_t len)
{
    kumo_envelope_write(out, flags, msg, len);
}

static const uint8_t hello_req[] = {0x0a, 0x05, 'h', 'e', 'l', 'l', 'o'};

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
