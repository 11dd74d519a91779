/* One request on an HTTP/2 stream: the nghttp2 server callbacks, protocol
 * detection (as connect-go does it: by method and content type), request
 * limits, decoding and dispatch to the handler. */
#include "rpc/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "wire/compress.h"
#include "wire/connect_get.h"
#include "codec/json_codec.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "wire/proto_check.h"
#include "wire/timeout.h"

#define MAX_HEADERS 128
/* Request bytes still accepted (and dropped) on a stream answered before
 * its request ended: what a client had in flight when the answer left. Past
 * this the stream is reset. */
#define DISCARD_MAX (64u * 1024)

/* ---- call lifetime ---- */

static struct kumo_rpc_call *call_new(struct kumo__conn *conn, int32_t stream_id)
{
    struct kumo__io_thread *io = conn->io;
    struct kumo_arena *arena =
        io->n_arena_pool ? io->arena_pool[--io->n_arena_pool] : kumo_arena_new();
    struct kumo_rpc_call *call = kumo_arena_calloc(arena, sizeof(*call));
    call->arena = arena;
    call->conn = conn;
    call->io = conn->io;
    call->stream_id = stream_id;
    memcpy(call->peer, conn->peer, sizeof(call->peer));
    call->started_ns = kumo_now_ns();
    atomic_init(&call->cancelled, 0);
    call->next = conn->calls;
    if (conn->calls)
        conn->calls->prev = call;
    conn->calls = call;
    if (conn->n_calls++ == 0)
        kumo__rpc_conn_idle(conn->io->srv, conn->slot, 0);
    conn->n_receiving++;
    return call;
}

/* Unlinks the call from its connection's books. */
static void call_detach(struct kumo_rpc_call *call)
{
    struct kumo__conn *conn = call->conn;
    if (conn == NULL)
        return;
    if (call->prev)
        call->prev->next = call->next;
    else
        conn->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
    if (conn->last_call == call)
        conn->last_call = NULL;
    if (--conn->n_calls == 0)
        kumo__rpc_conn_idle(conn->io->srv, conn->slot, 1);
    if (!call->request_done)
        conn->n_receiving--;
    conn->pending_out -= call->out.len - call->out_off;
    conn->in_bytes -= call->in_bytes;
    call->in_bytes = 0;
    call->conn = NULL;
}

void kumo__call_free(struct kumo_rpc_call *call)
{
    if (call->held)
        kumo__io_unhold(call);
    call_detach(call);
    if (call->deadline_ev)
        event_free(call->deadline_ev);
    if (call->envelopes_inited)
        kumo_envelope_reader_free(&call->envelopes);
    if (call->sleep_inited) {
        pthread_mutex_destroy(&call->sleep_mu);
        pthread_cond_destroy(&call->sleep_cv);
    }
    /* The call itself lives in its arena: nothing of it is read below. */
    struct kumo__io_thread *io = call->io;
    struct kumo_arena *arena = call->arena;
    if (io->n_arena_pool < (int)(sizeof(io->arena_pool) / sizeof(io->arena_pool[0]))) {
        kumo_arena_reset(arena);
        io->arena_pool[io->n_arena_pool++] = arena;
    } else {
        kumo_arena_free(arena);
    }
}

void kumo__call_cancel(struct kumo_rpc_call *call)
{
    /* Pairs with kumo_rpc_call_sleep: it publishes sleep_inited before
     * checking `cancelled` under the mutex; we set `cancelled` before
     * reading sleep_inited. Either it sees the flag or we see the mutex. */
    atomic_store(&call->cancelled, 1);
    if (__atomic_load_n(&call->sleep_inited, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&call->sleep_mu);
        pthread_cond_broadcast(&call->sleep_cv);
        pthread_mutex_unlock(&call->sleep_mu);
    }
}

/* ---- dispatch ---- */

static void finish_inline(struct kumo_rpc_call *call)
{
    kumo__respond(call);
}

void kumo__call_run_handler(struct kumo_rpc_call *call)
{
    /* Authenticated already, from the headers (authenticate()). */
    const struct kumo_rpc_method *m = call->method->entry;
    ProtobufCMessage *resp = NULL;
    /* The call's span is current while the handler runs (on a worker thread
     * or inline): its log lines and outgoing RPCs carry the trace. */
    const struct kumo_trace *prev = kumo_trace_set_current(&call->trace);
    kumo_code code = m->handler(call, call->request, &resp);
    kumo_trace_set_current(prev);
    if (code == KUMO_CODE_OK && resp == NULL)
        code = kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "handler returned no response");
    if (code != KUMO_CODE_OK && call->code == KUMO_CODE_OK)
        call->code = code; /* returned a code without kumo_rpc_call_error */
    call->response = code == KUMO_CODE_OK ? resp : NULL;
    if (code != KUMO_CODE_OK)
        call->code = code;
}

void kumo__stream_work_done(struct kumo_rpc_call *call)
{
    call->in_worker = 0;
    struct kumo__conn *conn = call->conn;
    if (conn == NULL || call->stream_closed) {
        kumo__call_free(call);
        return;
    }
    if (!call->answered)
        kumo__respond(call);
    kumo__conn_flush(conn);
}

void kumo__call_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct kumo_rpc_call *call = arg;
    struct kumo__conn *conn = call->conn;
    kumo__call_cancel(call);
    if (call->answered || conn == NULL)
        return;
    kumo__respond_error(call, KUMO_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
    kumo__conn_flush(conn);
}

/* Decodes one request message (already decompressed) into the arena. */
static int decode_request(struct kumo_rpc_call *call, const uint8_t *data, size_t len)
{
    const ProtobufCMessageDescriptor *desc = call->method->desc->input;
    if (call->json) {
        char *err = NULL;
        ProtobufCMessage *msg = NULL;
        int rc = kumo_json_decode(desc, (const char *)data, len, kumo_arena_allocator(call->arena),
                                  &msg, &err);
        if (rc != 0) {
            kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT, err ? err : "invalid JSON");
            kumo_free(err);
            return -1;
        }
        call->request = msg;
        return 0;
    }
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(desc, kumo_arena_allocator(call->arena), len, data);
    if (msg == NULL) {
        kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT,
                            "request is not a valid protobuf message");
        return -1;
    }
    /* protobuf-c checks no UTF-8 and truncates strings at a NUL: look at
     * the string fields on the wire before a handler sees a mangled value. */
    struct kumo_proto_check_error perr;
    if (kumo_proto_check_strings(desc, data, len, &perr) != 0) {
        char text[160];
        snprintf(text, sizeof text, "field %s %s", perr.field[0] ? perr.field : "(unknown)",
                 perr.reason);
        kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT, text);
        return -1;
    }
    call->request = msg;
    return 0;
}

/* Decompresses when needed, enforcing the message limit after
 * decompression. On success *data and *len point at the plain message. */
static int inflate_message(struct kumo_rpc_call *call, int compressed, const uint8_t **data,
                           size_t *len)
{
    size_t max = call->io->srv->cfg.max_message_size;
    if (!compressed) {
        if (*len > max) {
            kumo__respond_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                                "request message larger than the limit");
            return -1;
        }
        return 0;
    }
    struct kumo_buf *plain = kumo_arena_calloc(call->arena, sizeof(*plain));
    int rc = kumo_gzip_decompress(*data, *len, max, plain);
    if (rc == KUMO_ERR_TOO_LARGE) {
        kumo_buf_free(plain);
        kumo__respond_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                            "decompressed request message larger than the limit");
        return -1;
    }
    if (rc != 0) {
        kumo_buf_free(plain);
        kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT, "request is not valid gzip");
        return -1;
    }
    /* Keep the plain bytes alive with the call: copy into the arena. */
    uint8_t *copy = kumo_arena_alloc(call->arena, plain->len ? plain->len : 1);
    if (plain->len)
        memcpy(copy, plain->data, plain->len);
    *data = copy;
    *len = plain->len;
    kumo_buf_free(plain);
    return 0;
}

static void run(struct kumo_rpc_call *call)
{
    call->dispatched = 1;
    kumo_metrics_rpc_started();
    if (call->method->entry->flags & KUMO_RPC_BLOCKING) {
        call->in_worker = 1;
        kumo__rpc_work_submit(call->io->srv, call);
        return;
    }
    kumo__call_run_handler(call);
    finish_inline(call);
}

/* Connect GET: everything is in the query string. */
static void dispatch_connect_get(struct kumo_rpc_call *call)
{
    struct kumo_connect_get get;
    const char *why = NULL;
    const char *q = call->query ? call->query : "";
    int rc = kumo_connect_get_parse(q, strlen(q), &get, &why);
    if (rc != 0) {
        /* No codec, or one we do not speak: the Connect spec's 415, as for
         * an unsupported content type on POST. */
        if (why && strstr(why, "encoding") != NULL)
            kumo__respond_http(call, 415, NULL, NULL, NULL);
        else
            kumo__respond_error(call, (kumo_code)rc, why ? why : "bad GET query");
        return;
    }
    call->json = strcmp(get.encoding, "json") == 0;
    int compressed = 0;
    if (get.compression[0] && strcmp(get.compression, "identity") != 0) {
        if (strcmp(get.compression, "gzip") != 0) {
            kumo_connect_get_free(&get);
            kumo__respond_error(call, KUMO_CODE_UNIMPLEMENTED,
                                "unsupported compression (supported: gzip, identity)");
            return;
        }
        compressed = 1;
    }
    const uint8_t *data = get.message.data ? get.message.data : (const uint8_t *)"";
    size_t len = get.message.len;
    if (inflate_message(call, compressed, &data, &len) == 0 && decode_request(call, data, len) == 0)
        run(call);
    kumo_connect_get_free(&get);
}

static void dispatch_connect(struct kumo_rpc_call *call)
{
    const uint8_t *data = call->body.data ? call->body.data : (const uint8_t *)"";
    size_t len = call->body.len;
    if (inflate_message(call, call->gzip_in, &data, &len) == 0 &&
        decode_request(call, data, len) == 0)
        run(call);
}

/* gRPC / gRPC-Web unary: exactly one message. */
static void dispatch_grpc(struct kumo_rpc_call *call)
{
    uint8_t flags = 0;
    const uint8_t *msg = NULL;
    size_t len = 0;
    int rc = kumo_envelope_reader_next(&call->envelopes, &flags, &msg, &len);
    if (rc == 0 || rc < 0) {
        if (kumo_envelope_reader_pending(&call->envelopes) > 0)
            kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT, "truncated request message");
        else
            kumo__respond_error(call, KUMO_CODE_UNIMPLEMENTED, "unary request has no message");
        return;
    }
    /* The envelope reader may reuse its buffer: copy into the arena. */
    uint8_t *copy = kumo_arena_alloc(call->arena, len ? len : 1);
    if (len)
        memcpy(copy, msg, len);
    const uint8_t *data = copy;
    uint8_t flags2;
    const uint8_t *msg2;
    size_t len2;
    if (kumo_envelope_reader_next(&call->envelopes, &flags2, &msg2, &len2) != 0 ||
        kumo_envelope_reader_pending(&call->envelopes) > 0) {
        kumo__respond_error(call, KUMO_CODE_UNIMPLEMENTED, "unary request has several messages");
        return;
    }
    if ((flags & KUMO_ENVELOPE_COMPRESSED) && !call->gzip_in) {
        kumo__respond_error(call, KUMO_CODE_INTERNAL,
                            "compressed message flag set without grpc-encoding");
        return;
    }
    if (inflate_message(call, flags & KUMO_ENVELOPE_COMPRESSED, &data, &len) == 0 &&
        decode_request(call, data, len) == 0)
        run(call);
}

/* Streaming, message by message: handle every complete message now. */
static void pump_messages(struct kumo_rpc_call *call)
{
    for (;;) {
        if (call->answered)
            return;
        uint8_t flags = 0;
        const uint8_t *msg = NULL;
        size_t len = 0;
        int rc = kumo_envelope_reader_next(&call->envelopes, &flags, &msg, &len);
        if (rc <= 0)
            break;
        if ((flags & KUMO_ENVELOPE_COMPRESSED) && !call->gzip_in) {
            kumo__respond_error(call, KUMO_CODE_INTERNAL,
                                "compressed message flag set without grpc-encoding");
            return;
        }
        uint8_t *copy = kumo_arena_alloc(call->arena, len ? len : 1);
        if (len)
            memcpy(copy, msg, len);
        const uint8_t *data = copy;
        if (inflate_message(call, flags & KUMO_ENVELOPE_COMPRESSED, &data, &len) != 0 ||
            decode_request(call, data, len) != 0)
            return;
        if (++call->messages_seen > 1 && (call->method->entry->flags & KUMO_RPC_SERVER_STREAM)) {
            kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                "a server stream takes exactly one request message");
            return;
        }
        if (!call->dispatched) {
            call->dispatched = 1;
            kumo_metrics_rpc_started();
        }
        ProtobufCMessage *resp = NULL;
        const struct kumo_trace *prev = kumo_trace_set_current(&call->trace);
        kumo_code code = call->method->entry->handler(call, call->request, &resp);
        kumo_trace_set_current(prev);
        if (code != KUMO_CODE_OK) {
            call->code = code;
            kumo__respond(call);
            return;
        }
        if (resp)
            kumo__respond_stream_message(call, resp);
    }
    if (call->request_done && !call->answered) {
        if (kumo_envelope_reader_pending(&call->envelopes) > 0) {
            kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT, "truncated request message");
            return;
        }
        if (call->method->entry->flags & KUMO_RPC_SERVER_STREAM) {
            /* One request message, then the stream stays open for ticks. */
            if (call->messages_seen != 1 || !call->dispatched)
                kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                    "a server stream takes exactly one request message");
            else if (!call->held)
                kumo__io_hold(call);
            return;
        }
        if (!call->dispatched) {
            call->dispatched = 1;
            kumo_metrics_rpc_started();
        }
        call->code = KUMO_CODE_OK;
        call->response = NULL;
        kumo__respond(call);
    }
}

/* A message-by-message stream holds only what its envelope reader has not
 * handed out yet: give the rest back to the connection's budget. */
static void release_consumed(struct kumo_rpc_call *call)
{
    size_t held = kumo_envelope_reader_pending(&call->envelopes);
    if (call->conn && held < call->in_bytes) {
        call->conn->in_bytes -= call->in_bytes - held;
        call->in_bytes = held;
    }
}

static void pump_stream_each(struct kumo_rpc_call *call)
{
    pump_messages(call);
    release_consumed(call);
}

static void dispatch(struct kumo_rpc_call *call)
{
    switch (call->protocol) {
    case KUMO_PROTO_CONNECT_GET:
        dispatch_connect_get(call);
        break;
    case KUMO_PROTO_CONNECT:
        dispatch_connect(call);
        break;
    default:
        dispatch_grpc(call);
        break;
    }
}

void kumo__conn_run_deferred(struct kumo__conn *conn)
{
    while (conn->deferred_head && conn->pending_out < KUMO__PENDING_OUT_HIGH) {
        struct kumo_rpc_call *call = conn->deferred_head;
        conn->deferred_head = call->defer_next;
        if (conn->deferred_head == NULL)
            conn->deferred_tail = NULL;
        call->deferred = 0;
        call->defer_next = NULL;
        if (!call->answered)
            dispatch(call);
    }
}

static void defer(struct kumo_rpc_call *call)
{
    struct kumo__conn *conn = call->conn;
    call->deferred = 1;
    call->defer_next = NULL;
    if (conn->deferred_tail)
        conn->deferred_tail->defer_next = call;
    else
        conn->deferred_head = call;
    conn->deferred_tail = call;
}

static void undefer(struct kumo_rpc_call *call)
{
    struct kumo__conn *conn = call->conn;
    struct kumo_rpc_call **pp = &conn->deferred_head, *prev = NULL;
    while (*pp && *pp != call) {
        prev = *pp;
        pp = &(*pp)->defer_next;
    }
    if (*pp == NULL)
        return;
    *pp = call->defer_next;
    if (conn->deferred_tail == call)
        conn->deferred_tail = prev;
    call->deferred = 0;
}

static void request_complete(struct kumo_rpc_call *call)
{
    if (call->request_done)
        return;
    call->request_done = 1;
    if (call->conn)
        call->conn->n_receiving--;
    if (call->answered || call->method == NULL)
        return;
    if (call->method->entry->flags & KUMO_RPC_STREAM_EACH) {
        pump_stream_each(call);
        return;
    }
    /* A client that does not read its answers cannot make us produce more:
     * past the mark, requests wait until the output drains. */
    if (call->conn &&
        (call->conn->pending_out >= KUMO__PENDING_OUT_HIGH || call->conn->deferred_head)) {
        defer(call);
        return;
    }
    dispatch(call);
}

static void headers_done_traced(struct kumo_rpc_call *call);

/* All request headers are in: decide protocol and method, or answer. */
static void headers_done(struct kumo_rpc_call *call)
{
    /* The server span starts with the headers: the child of the caller's
     * traceparent, or a new trace for a caller that sent none. */
    kumo_trace_start_from_headers(&call->trace, call->known[KUMO_KH_TRACEPARENT],
                                  call->known[KUMO_KH_TRACESTATE]);
    const char *rid = call->known[KUMO_KH_REQUEST_ID];
    if (rid && kumo__req_request_id_ok(rid)) {
        snprintf(call->request_id, sizeof(call->request_id), "%s", rid);
        call->request_id_from_client = 1;
    } else if (call->trace.parent_span_id[0] == '\0') {
        /* A new trace's random id is this request's alone: it serves as
         * the request id too (same 32 hex digits). */
        memcpy(call->request_id, call->trace.trace_id, KUMO_TRACE_ID_LEN + 1);
    } else {
        kumo__req_make_request_id(call->request_id, sizeof(call->request_id));
    }
    /* Current while the headers are judged (authentication logs). The call
     * may be answered and freed inside: only the pointer is restored. */
    const struct kumo_trace *prev = kumo_trace_set_current(&call->trace);
    headers_done_traced(call);
    kumo_trace_set_current(prev);
}

static void headers_done_traced(struct kumo_rpc_call *call)
{

    if (call->method_name == NULL || call->path == NULL) {
        kumo__respond_http(call, 400, NULL, NULL, NULL);
        return;
    }
    const char *hm = call->method_name;
    int is_get = hm[0] == 'G' && hm[1] == 'E' && hm[2] == 'T' && hm[3] == '\0';
    int is_post = hm[0] == 'P' && hm[1] == 'O' && hm[2] == 'S' && hm[3] == 'T' && hm[4] == '\0';
    const struct kumo__rpc_method *m = kumo__rpc_find_method(call->io->srv, call->path);
    if (!is_get && !is_post) {
        int get_ok = m && m->entry && (m->entry->flags & KUMO_RPC_NO_SIDE_EFFECTS);
        kumo__respond_http(call, 405, "allow", get_ok ? "GET, POST" : "POST", NULL);
        return;
    }
    if (is_get) {
        call->protocol = KUMO_PROTO_CONNECT_GET;
    } else {
        /* What clients send is a plain media type: classified as it is,
         * normalized (parameters dropped, lowercased) only when not known. */
        const char *ct = call->known[KUMO_KH_CONTENT_TYPE];
        call->content_type = ct;
        if (ct == NULL ||
            (kumo__req_classify_content_type(call, ct) != 0 &&
             kumo__req_classify_content_type(call, kumo__req_media_type(call, ct)) != 0)) {
            kumo__respond_http(call, 415, "accept-post",
                               "application/proto, application/json, application/grpc, "
                               "application/grpc+proto, application/grpc+json, "
                               "application/grpc-web, application/grpc-web+proto",
                               NULL);
            return;
        }
    }
    call->method = m;
    if (m == NULL || m->entry == NULL) {
        if (call->protocol == KUMO_PROTO_CONNECT || call->protocol == KUMO_PROTO_CONNECT_GET)
            kumo__respond_http(call, 404, NULL, NULL,
                               "{\"code\":\"unimplemented\",\"message\":\"no such method\"}");
        else
            kumo__respond_error(call, KUMO_CODE_UNIMPLEMENTED, "no such method");
        call->method = NULL;
        return;
    }
    int streaming = (m->entry->flags & KUMO_RPC_STREAM_EACH) != 0;
    if (is_get && !(m->entry->flags & KUMO_RPC_NO_SIDE_EFFECTS)) {
        kumo__respond_http(call, 405, "allow", "POST", NULL);
        call->method = NULL;
        return;
    }
    if (streaming && (call->protocol == KUMO_PROTO_CONNECT || is_get)) {
        kumo__respond_http(call, 415, "accept-post",
                           "application/connect+proto, application/connect+json, "
                           "application/grpc, application/grpc+proto, application/grpc-web",
                           NULL);
        call->method = NULL;
        return;
    }
    if (!streaming && call->protocol == KUMO_PROTO_CONNECT_STREAM) {
        kumo__respond_http(call, 415, "accept-post",
                           "application/proto, application/json, application/grpc, "
                           "application/grpc+proto, application/grpc+json, "
                           "application/grpc-web, application/grpc-web+proto",
                           NULL);
        call->method = NULL;
        return;
    }
    if (kumo__req_authenticate(call) != 0 || kumo__req_setup_encodings(call) != 0 ||
        kumo__req_parse_deadline(call) != 0)
        return;
    if (call->protocol == KUMO_PROTO_GRPC || call->protocol == KUMO_PROTO_GRPC_WEB ||
        call->protocol == KUMO_PROTO_CONNECT_STREAM) {
        /* The wire limit: a compressed message may not exceed it either. */
        kumo_envelope_reader_init(&call->envelopes, call->io->srv->cfg.max_message_size);
        call->envelopes_inited = 1;
    }
}

/* ---- nghttp2 callbacks ---- */

/* The call of `stream_id` (its stream user data), or NULL. The last one
 * found is kept on the connection: every header field of a request and its
 * DATA would otherwise each cost a lookup in nghttp2's stream map. Stream
 * ids are never reused within a session, and a call leaves last_call when
 * it leaves its connection (call_detach), so a kept call is the live one. */
static struct kumo_rpc_call *stream_call(nghttp2_session *session, struct kumo__conn *conn,
                                         int32_t stream_id)
{
    struct kumo_rpc_call *call = conn->last_call;
    if (call && call->stream_id == stream_id)
        return call;
    call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (call)
        conn->last_call = call;
    return call;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct kumo__conn *conn = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct kumo_rpc_call *call = call_new(conn, frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
    conn->last_call = call;
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    (void)flags;
    struct kumo__conn *conn = user_data;
    struct kumo_rpc_call *call = stream_call(session, conn, frame->hd.stream_id);
    if (call == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;                                  /* request trailers: ignored */
    call->header_bytes += namelen + valuelen + 32; /* RFC 9113 accounting */
    if (call->header_bytes > conn->io->srv->cfg.max_header_list_size ||
        call->n_headers >= MAX_HEADERS) {
        kumo_metrics_counter_add("kumo_h2_oversized_headers_total",
                                 "requests refused for too many header bytes", 1);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
    }
    if (name[0] == ':') {
        /* Only :method and :path are kept; nghttp2 validated the rest. */
        if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
            call->method_name = kumo_arena_strndup(call->arena, (const char *)value, valuelen);
        } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
            const char *v = (const char *)value;
            const char *q = memchr(v, '?', valuelen);
            size_t plen = q ? (size_t)(q - v) : valuelen;
            call->path = kumo_arena_strndup(call->arena, v, plen);
            if (q)
                call->query = kumo_arena_strndup(call->arena, q + 1, valuelen - plen - 1);
        }
        return 0;
    }
    /* One arena block for the name and the value. */
    char *n = kumo_arena_alloc(call->arena, namelen + valuelen + 2);
    memcpy(n, name, namelen);
    n[namelen] = '\0';
    char *v = n + namelen + 1;
    memcpy(v, value, valuelen);
    v[valuelen] = '\0';
    if (call->n_headers == call->cap_headers)
        call->headers = kumo_arena_grow(call->arena, call->headers, call->n_headers,
                                        &call->cap_headers, sizeof(*call->headers), 16);
    call->headers[call->n_headers++] = (struct kumo__header){n, v, valuelen};
    int k = kumo__req_known_header(name, namelen);
    if (k >= 0 && call->known[k] == NULL)
        call->known[k] = v;
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct kumo__conn *conn = user_data;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        conn->preface_done = 1;
        return 0;
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA: {
        struct kumo_rpc_call *call = stream_call(session, conn, frame->hd.stream_id);
        if (call == NULL)
            return 0;
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            headers_done(call);
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
            request_complete(call);
        return 0;
    }
    default:
        return 0;
    }
}

/* Counts `len` more request bytes against the connection's budget (all its
 * streams), or answers resource_exhausted when they would pass it: many
 * streams each below the message limit must not add up to unbounded memory.
 * Returns 1 when refused. */
static int over_budget(struct kumo_rpc_call *call, size_t len)
{
    struct kumo__conn *conn = call->conn;
    if (conn->in_bytes + len <= call->io->srv->cfg.max_connection_buffer) {
        conn->in_bytes += len;
        call->in_bytes += len;
        return 0;
    }
    kumo_metrics_counter_add("kumo_rpc_buffer_refused_total",
                             "requests refused: their connection held too many request bytes", 1);
    kumo__respond_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                        "too many request bytes in flight on this connection");
    return 1;
}

/* Request bytes of a stream already answered (refused, failed, too large)
 * are dropped, never buffered. A client that keeps sending past DISCARD_MAX
 * is told to stop with RST_STREAM(NO_ERROR) (RFC 9113 8.1), once the answer
 * has left (the stream is half-closed on our side: an RST queued earlier
 * would overtake it). Not at once: a client whose short body was already on
 * its way when the answer came is better left to finish (curl 7.88 reports
 * an RST_STREAM racing its upload as an error, even with NO_ERROR after a
 * complete response). Checked here rather than per frame sent, which would
 * cost every request a stream lookup. */
static void discard(nghttp2_session *session, struct kumo_rpc_call *call, size_t len)
{
    call->discarded += len;
    if (call->discarded <= DISCARD_MAX || call->reset_sent || call->request_done)
        return;
    nghttp2_stream *st = nghttp2_session_find_stream(session, call->stream_id);
    if (st == NULL || nghttp2_stream_get_state(st) != NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL)
        return;
    call->reset_sent = 1;
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_NO_ERROR);
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    (void)flags;
    struct kumo_rpc_call *call = stream_call(session, user_data, stream_id);
    if (call == NULL)
        return 0;
    if (call->answered || call->method == NULL) {
        discard(session, call, len);
        return 0;
    }
    if (call->protocol == KUMO_PROTO_CONNECT_GET)
        return 0; /* a GET body is ignored */
    if (over_budget(call, len))
        return 0;
    size_t max = call->io->srv->cfg.max_message_size;
    if (call->protocol == KUMO_PROTO_CONNECT) {
        if (call->body.len + len > max) {
            kumo__respond_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                                "request message larger than the limit");
            return 0;
        }
        kumo_arena_buf_append(call->arena, &call->body, data, len);
        return 0;
    }
    if (kumo_envelope_reader_feed(&call->envelopes, data, len) != 0) {
        kumo__respond_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                            "request message larger than the limit");
        return 0;
    }
    if (call->method->entry->flags & KUMO_RPC_STREAM_EACH)
        pump_stream_each(call);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    (void)error_code;
    struct kumo_rpc_call *call = stream_call(session, user_data, stream_id);
    if (call == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    if (call->deferred && call->conn)
        undefer(call);
    call->stream_closed = 1;
    if (!call->answered && call->dispatched) {
        /* The client reset the stream before the answer: canceled. */
        call->answered = 1;
        kumo_metrics_rpc_finished_at(call->method->metric, KUMO_CODE_CANCELED,
                                     (double)(kumo_now_ns() - call->started_ns) / 1e9);
    }
    kumo__call_cancel(call);
    if (call->in_worker) {
        call_detach(call); /* freed when the worker hands it back */
        return 0;
    }
    kumo__call_free(call);
    return 0;
}

void kumo__stream_install_callbacks(nghttp2_session_callbacks *cbs)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}
