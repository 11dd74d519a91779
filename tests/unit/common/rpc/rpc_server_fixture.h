/* Fixture shared by test_rpc_server_respond.c and test_rpc_server_stream.c:
 * an nghttp2 client session that talks to an in-memory server connection
 * with the EchoService registered (harness_new, pump, request), so every byte
 * on the wire is checked without sockets or threads.
 * Static (inline) definitions: each binary includes it once, after cmocka.h. */
#ifndef KUMO_RPC_SERVER_FIXTURE_H
#define KUMO_RPC_SERVER_FIXTURE_H

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo_service.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "rpc/internal.h"
#include "wire/envelope.h"

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

static inline struct response *find_resp(struct harness *h, int32_t id)
{
    for (int i = 0; i < h->n; i++)
        if (h->resp[i].stream_id == id)
            return &h->resp[i];
    return NULL;
}

static inline int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                            size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                            void *ud)
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

static inline int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    (void)s;
    struct response *r = find_resp(ud, frame->hd.stream_id);
    if (r)
        r->header_frames++;
    return 0;
}

static inline int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                          size_t len, void *ud)
{
    (void)s;
    (void)flags;
    struct response *r = find_resp(ud, id);
    if (r)
        kumo_buf_append(&r->body, data, len);
    return 0;
}

static inline int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    struct response *r = find_resp(ud, id);
    if (r) {
        r->closed = 1;
        r->rst_code = code;
    }
    return 0;
}

static inline ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
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

static inline struct harness *harness_new(size_t max_message)
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

static inline void harness_free(struct harness *h)
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
static inline int pump(struct harness *h)
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
static inline struct response *request(struct harness *h, const char *method, const char *path,
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

static inline int has_line(const struct kumo_buf *b, const char *line)
{
    return b->data && strstr((const char *)b->data, line) != NULL;
}

static inline void envelope(struct kumo_buf *out, uint8_t flags, const void *msg, size_t len)
{
    kumo_envelope_write(out, flags, msg, len);
}

static const uint8_t hello_req[] = {0x0a, 0x05, 'h', 'e', 'l', 'l', 'o'};

#endif
