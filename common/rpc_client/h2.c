/* nghttp2 glue of the RPC client: the client session of a connection, the
 * gRPC request headers and body, and turning what comes back (headers, DATA,
 * trailers, RST_STREAM, GOAWAY) into the outcome of each call. Runs on the
 * I/O thread. The callbacks never free a connection; they may release a call
 * once nghttp2 is done with its stream. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/pctenc.h"
#include "rpc/rpc.h"
#include "rpc_client/internal.h"
#include "wire/timeout.h"

#define USER_AGENT       "kumo-rpc-client/0.1"
#define STREAM_WINDOW    (1 << 20)
#define CONN_WINDOW      (16 << 20)
#define MAX_GRPC_MESSAGE (16 * 1024)

#define NAME_IS(n, nlen, lit) ((nlen) == sizeof(lit) - 1 && memcmp((n), (lit), (nlen)) == 0)

static struct kumo__rpc_call *stream_call(nghttp2_session *s, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(s, stream_id);
}

/* ---- sending ---- */

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    (void)s;
    (void)flags;
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) >= KUMO__RPC_OUTPUT_HIGH_WATER)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (bufferevent_write(conn->bev, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

/* The data provider: the enveloped request, as flow control allows. */
static ssize_t read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t len,
                         uint32_t *data_flags, nghttp2_data_source *src, void *arg)
{
    struct kumo__rpc_call *call = src->ptr;
    size_t left = call->body.len - call->body_off;
    size_t n = left < len ? left : len;
    (void)s;
    (void)stream_id;
    (void)arg;
    if (n)
        memcpy(buf, call->body.data + call->body_off, n);
    call->body_off += n;
    if (call->body_off == call->body.len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static nghttp2_nv make_nv(const char *name, const char *value)
{
    nghttp2_nv nv = {(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                     NGHTTP2_NV_FLAG_NONE};
    return nv;
}

/* A field whose value is new on every call (request id, trace context,
 * time left): kept out of the HPACK dynamic table, where it would only
 * push out the fields that do repeat (the caller's authorization, a
 * route's metadata) and make both ends encode them again. */
static nghttp2_nv make_nv_once(const char *name, const char *value)
{
    nghttp2_nv nv = make_nv(name, value);
    nv.flags = NGHTTP2_NV_FLAG_NO_INDEX;
    return nv;
}

int32_t kumo__rpc_h2_submit(struct kumo__rpc_conn *conn, struct kumo__rpc_call *call)
{
    struct kumo_rpc_client *c = conn->client;
    size_t n = 0, cap = 13 + call->n_md;
    nghttp2_nv *nva = kumo_calloc(cap, sizeof *nva);
    char timeout[16];

    nva[n++] = make_nv(":method", "POST");
    nva[n++] = make_nv(":scheme", c->tls ? "https" : "http");
    nva[n++] = make_nv(":path", call->path);
    nva[n++] = make_nv(":authority", c->target);
    nva[n++] = make_nv("te", "trailers");
    nva[n++] = make_nv("content-type", "application/grpc+proto");
    nva[n++] = make_nv("user-agent", USER_AGENT);
    if (!c->no_compression)
        nva[n++] = make_nv("grpc-accept-encoding", "gzip");
    if (call->deadline) {
        /* The budget left now, after any wait for a stream slot. */
        int64_t left = call->deadline - kumo_now_ns();
        kumo_grpc_timeout_format(left > 0 ? left : 1, timeout);
        nva[n++] = make_nv_once("grpc-timeout", timeout);
    }
    if (call->request_id)
        nva[n++] = make_nv_once("x-request-id", call->request_id);
    if (call->authorization)
        nva[n++] = make_nv("authorization", call->authorization);
    if (call->traceparent)
        nva[n++] = make_nv_once("traceparent", call->traceparent);
    if (call->tracestate)
        nva[n++] = make_nv("tracestate", call->tracestate);
    for (size_t i = 0; i < call->n_md; i++)
        nva[n++] = make_nv(call->md[2 * i], call->md[2 * i + 1]);

    nghttp2_data_provider prd;
    prd.source.ptr = call;
    prd.read_callback = read_body;
    int32_t id = nghttp2_submit_request(conn->session, NULL, nva, n, &prd, call);
    kumo_free(nva);
    return id;
}

/* ---- receiving ---- */

static int parse_status(const uint8_t *v, size_t len)
{
    int code = 0;
    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        code = code * 10 + (v[i] - '0');
    }
    return code;
}

static int is_grpc_content_type(const uint8_t *v, size_t len)
{
    static const char ct[] = "application/grpc";
    size_t n = sizeof ct - 1;
    if (len < n || strncasecmp((const char *)v, ct, n) != 0)
        return 0;
    return len == n || v[n] == '+' || v[n] == ';';
}

/* grpc-status / grpc-message, in trailers or in a Trailers-Only response. */
static void status_header(struct kumo__rpc_call *call, const uint8_t *name, size_t nlen,
                          const uint8_t *value, size_t vlen)
{
    if (NAME_IS(name, nlen, "grpc-status")) {
        call->have_grpc_status = 1;
        call->grpc_status = parse_status(value, vlen);
    } else if (NAME_IS(name, nlen, "retry-after")) {
        /* delay-seconds only (RFC 9110 10.2.3); an HTTP-date is ignored. */
        int64_t s = 0;
        size_t i = 0;
        for (; i < vlen && i < 9 && value[i] >= '0' && value[i] <= '9'; i++)
            s = s * 10 + (value[i] - '0');
        if (i == vlen && vlen > 0)
            call->retry_after_s = s > 86400 ? 86400 : s;
    } else if (NAME_IS(name, nlen, "grpc-message")) {
        call->have_grpc_message = 1;
        kumo_buf_reset(&call->grpc_message);
        kumo_buf_append(&call->grpc_message, value,
                        vlen < MAX_GRPC_MESSAGE ? vlen : MAX_GRPC_MESSAGE);
    }
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
    struct kumo__rpc_call *call;
    (void)flags;
    (void)arg;
    if (frame->hd.type != NGHTTP2_HEADERS || (call = stream_call(s, frame->hd.stream_id)) == NULL)
        return 0;
    if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        call->got_headers = 1;
        if (NAME_IS(name, nlen, ":status"))
            call->http_status = parse_status(value, vlen);
        else if (NAME_IS(name, nlen, "content-type"))
            call->grpc_content_type = is_grpc_content_type(value, vlen);
        else if (NAME_IS(name, nlen, "grpc-encoding"))
            call->encoding = NAME_IS(value, vlen, "gzip")       ? KUMO__RPC_ENC_GZIP
                             : NAME_IS(value, vlen, "identity") ? KUMO__RPC_ENC_IDENTITY
                                                                : KUMO__RPC_ENC_OTHER;
        else
            status_header(call, name, nlen, value, vlen);
    } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
        status_header(call, name, nlen, value, vlen);
    }
    return 0;
}

/* Ends the stream early from our side with an outcome of our own. */
static void abort_stream(nghttp2_session *s, struct kumo__rpc_call *call, kumo_code code,
                         const char *msg)
{
    kumo__rpc_call_completef(call, code, "%s", msg);
    call->io_done = 1;
    nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                   size_t len, void *arg)
{
    struct kumo__rpc_call *call = stream_call(s, stream_id);
    const uint8_t *msg;
    size_t msg_len;
    uint8_t mflags;
    int rc;
    (void)flags;
    (void)arg;
    /* Not a gRPC body (an HTTP error page): its status decides, at close. */
    if (call == NULL || call->io_done || call->http_status != 200 || !call->grpc_content_type)
        return 0;
    kumo_envelope_reader_feed_borrowed(&call->reader, data, len);
    while ((rc = kumo_envelope_reader_next(&call->reader, &mflags, &msg, &msg_len)) == 1) {
        if (++call->n_msgs > 1) {
            abort_stream(s, call, KUMO_CODE_INTERNAL, "more than one response message");
            break;
        }
        call->resp_flags = mflags;
        kumo_buf_append(&call->resp, msg, msg_len);
    }
    if (rc == KUMO_ERR_TOO_LARGE) {
        struct kumo_buf m = KUMO_BUF_INIT;
        kumo_buf_appendf(&m, "response message larger than %zu bytes",
                         call->client->max_message_size);
        abort_stream(s, call, KUMO_CODE_RESOURCE_EXHAUSTED, (const char *)m.data);
        kumo_buf_free(&m);
    }
    /* `data` belongs to nghttp2: keep what a split message still needs. */
    kumo_envelope_reader_detach(&call->reader);
    return 0;
}

static kumo_code code_from_rst(uint32_t error_code)
{
    switch (error_code) {
    case NGHTTP2_REFUSED_STREAM:
        return KUMO_CODE_UNAVAILABLE;
    case NGHTTP2_CANCEL:
        return KUMO_CODE_CANCELED;
    case NGHTTP2_ENHANCE_YOUR_CALM:
        return KUMO_CODE_RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY:
        return KUMO_CODE_PERMISSION_DENIED;
    default:
        return KUMO_CODE_INTERNAL;
    }
}

static void complete_from_status(struct kumo__rpc_call *call)
{
    int st = call->grpc_status;
    if (st < 0) {
        kumo__rpc_call_completef(call, KUMO_CODE_INTERNAL, "malformed grpc-status");
        return;
    }
    kumo_code code = st > KUMO_CODE_MAX ? KUMO_CODE_UNKNOWN : (kumo_code)st;
    if (code == KUMO_CODE_OK) {
        if (call->n_msgs != 1 || kumo_envelope_reader_pending(&call->reader) != 0)
            kumo__rpc_call_completef(call, KUMO_CODE_INTERNAL,
                                     call->n_msgs == 0 ? "no response message"
                                                       : "truncated response message");
        else
            kumo__rpc_call_complete(call, KUMO_CODE_OK, NULL);
        return;
    }
    char *msg = NULL;
    if (call->have_grpc_message) {
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_pct_decode((const char *)call->grpc_message.data, call->grpc_message.len, &b);
        msg = kumo_buf_steal(&b, NULL);
    }
    kumo__rpc_call_complete(call, code, msg);
}

/* Settles a call whose stream nghttp2 closed. */
static void finish_stream(struct kumo__rpc_call *call, uint32_t error_code)
{
    if (call->io_done)
        return;
    call->io_done = 1;
    if (!call->got_headers)
        kumo__rpc_call_completef(call, code_from_rst(error_code),
                                 error_code == NGHTTP2_REFUSED_STREAM
                                     ? "stream refused by the server (not processed)"
                                     : "stream closed before the response: %s",
                                 nghttp2_http2_strerror(error_code));
    else if (call->http_status != 200)
        kumo__rpc_call_completef(call, kumo_code_from_http_status(call->http_status),
                                 "unexpected HTTP status %d", call->http_status);
    else if (!call->grpc_content_type)
        kumo__rpc_call_completef(call, KUMO_CODE_INTERNAL, "response is not application/grpc");
    else if (!call->have_grpc_status && error_code != NGHTTP2_NO_ERROR)
        kumo__rpc_call_completef(call, code_from_rst(error_code), "stream reset by the server: %s",
                                 nghttp2_http2_strerror(error_code));
    else if (!call->have_grpc_status)
        kumo__rpc_call_completef(call, KUMO_CODE_INTERNAL, "response without grpc-status");
    else
        complete_from_status(call);
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    struct kumo__rpc_call *call = stream_call(s, stream_id);
    if (call == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    finish_stream(call, error_code);
    kumo__rpc_list_remove(&conn->streams, call);
    kumo__rpc_call_io_release(call);
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    (void)s;
    /* Streams above last_stream_id are closed by nghttp2 with
     * REFUSED_STREAM: those calls fail with UNAVAILABLE. New calls go to a
     * new connection. */
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        conn->goaway = 1;
        if (conn->client->conn == conn)
            conn->client->conn = NULL;
    } else if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
               !conn->usable) {
        conn->usable = 1;
        event_del(conn->connect_timer);
        kumo__rpc_stat_inc(conn->client, &conn->client->stats.connections);
    }
    return 0;
}

static struct kumo__rpc_call *find_call(struct kumo__rpc_conn *conn, int32_t stream_id)
{
    for (struct kumo__rpc_call *call = conn->streams.head; call; call = call->next)
        if (call->stream_id == stream_id)
            return call;
    return NULL;
}

/* Request HEADERS that nghttp2 dropped: after a GOAWAY, a reset while
 * queued, or headers too large. The stream may never have been opened, in
 * which case on_stream_close will not come: see reap_unsent. */
static int on_frame_not_send(nghttp2_session *s, const nghttp2_frame *frame, int lib_error,
                             void *arg)
{
    struct kumo__rpc_conn *conn = arg;
    struct kumo__rpc_call *call;
    (void)s;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if ((call = find_call(conn, frame->hd.stream_id)) == NULL)
        return 0;
    kumo__rpc_call_completef(call,
                             lib_error == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED
                                 ? KUMO_CODE_UNAVAILABLE
                                 : KUMO_CODE_INTERNAL,
                             "request not sent: %s", nghttp2_strerror(lib_error));
    call->io_done = 1;
    call->stream_id = -call->stream_id; /* marks it for reap_unsent */
    conn->check_unsent = 1;
    return 0;
}

void kumo__rpc_h2_reap_unsent(struct kumo__rpc_conn *conn)
{
    struct kumo__rpc_call *call, *next;
    conn->check_unsent = 0;
    for (call = conn->streams.head; call; call = next) {
        next = call->next;
        if (call->stream_id < 0) {
            kumo__rpc_list_remove(&conn->streams, call);
            kumo__rpc_call_io_release(call);
        }
    }
}

int kumo__rpc_h2_session_new(struct kumo__rpc_conn *conn)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    int rv;

    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return KUMO_ERR_IO;
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        return KUMO_ERR_IO;
    }
    rv = nghttp2_session_client_new2(&conn->session, cbs, conn, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) {
        conn->session = NULL;
        return KUMO_ERR_IO;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
    };
    rv = nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    if (rv == 0)
        rv =
            nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    return rv == 0 ? 0 : KUMO_ERR_IO;
}
