/* Answers in the protocol the client spoke: Connect unary (status code and
 * JSON error body), gRPC (body plus trailers, or Trailers-Only for an
 * immediate error) and gRPC-Web (trailers in a final body frame). */
#include "rpc/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "wire/compress.h"
#include "google/rpc/status.pb-c.h"
#include "codec/json_codec.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "base/pctenc.h"

/* Responses smaller than this are not worth compressing. */
#define COMPRESS_MIN_BYTES 1024

struct nvlist {
    nghttp2_nv *nv;
    size_t n, cap;
    struct kumo_arena *arena;
};

/* Entries of a response's header list kept on the stack before it grows
 * into the arena: nghttp2_submit_response copies the array (not the names
 * and values: NO_COPY below). Lists kept for later (final_trailers) start
 * in the arena instead. */
#define NV_LOCAL 8

static void nv_addn(struct nvlist *l, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    if (l->n == l->cap)
        l->nv = kumo_arena_grow(l->arena, l->nv, l->n, &l->cap, sizeof(*l->nv), 16);
    /* Names and values live in the call's arena or are static, and the
     * arena outlives the HEADERS frame: nghttp2 need not copy them. */
    l->nv[l->n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, name_len, value_len,
                                 NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

static void nv_add(struct nvlist *l, const char *name, const char *value, size_t value_len)
{
    nv_addn(l, name, strlen(name), value, value_len);
}

/* A header whose name is a string literal (its length known at compile time). */
#define NV_LIT(l, lit, value) nv_addn((l), (lit), sizeof(lit) - 1, (value), strlen(value))

static void nv_adds(struct nvlist *l, const char *name, const char *value)
{
    nv_add(l, name, value, strlen(value));
}

/* x-request-id goes back only to a client that sent one (its own id); a
 * value unique to each response is kept out of the HPACK table. */
static void add_request_id(struct kumo_rpc_call *call, struct nvlist *l)
{
    if (!call->request_id_from_client)
        return;
    NV_LIT(l, "x-request-id", call->request_id);
    l->nv[l->n - 1].flags |= NGHTTP2_NV_FLAG_NO_INDEX;
}

static const char *status_str(struct kumo_rpc_call *call, int status)
{
    if (status == 200)
        return "200";
    char tmp[8];
    snprintf(tmp, sizeof(tmp), "%d", status);
    return kumo_arena_strdup(call->arena, tmp);
}

static void record_finish(struct kumo_rpc_call *call, kumo_code code)
{
    /* One clock reading ends both the metric's duration and the span. */
    int64_t now = kumo_now_ns();
    if (call->dispatched) {
        double secs = (double)(now - call->started_ns) / 1e9;
        kumo_metrics_rpc_finished_at(call->method->metric, code, secs);
    }
    /* The call's span ends here (base/trace.h). */
    struct kumo_span_end span_end = {
        &call->trace,         "server",         call->path ? call->path : "",
        kumo_code_name(code), call->started_ns, now};
    kumo_trace_end(&span_end);
    const struct kumo_trace *prev = kumo_trace_set_current(&call->trace);
    if (code == KUMO_CODE_INTERNAL || code == KUMO_CODE_UNKNOWN || code == KUMO_CODE_DATA_LOSS) {
        kumo_log(KUMO_LOG_WARN, call->request_id, "rpc failed", "path",
                 call->path ? call->path : "", "code", kumo_code_name(code), "error",
                 call->error_message ? call->error_message : "", NULL);
    } else {
        kumo_log(KUMO_LOG_DEBUG, call->request_id, "rpc", "path", call->path ? call->path : "",
                 "code", kumo_code_name(code), NULL);
    }
    kumo_trace_set_current(prev);
}

static void submit(struct kumo_rpc_call *call, struct nvlist *h, int has_body)
{
    struct kumo__conn *conn = call->conn;
    if (conn == NULL || conn->session == NULL || call->stream_closed)
        return;
    call->headers_sent = 1;
    if (!has_body) {
        nghttp2_submit_response(conn->session, call->stream_id, h->nv, h->n, NULL);
        return;
    }
    nghttp2_data_provider prd;
    prd.source.ptr = call;
    prd.read_callback = kumo__respond_read;
    nghttp2_submit_response(conn->session, call->stream_id, h->nv, h->n, &prd);
}

/* Accounts `len` bytes just added to call->out as pending output. */
static void out_grew(struct kumo_rpc_call *call, size_t len)
{
    if (call->conn) {
        call->conn->pending_out += len;
        if (call->out_deferred && call->conn->session) {
            call->out_deferred = 0;
            nghttp2_session_resume_data(call->conn->session, call->stream_id);
        }
    }
}

/* Appends body bytes and accounts them as pending output. */
static void out_append(struct kumo_rpc_call *call, const void *data, size_t len)
{
    kumo_arena_buf_append(call->arena, &call->out, data, len);
    out_grew(call, len);
}

/* Adds the handler's headers (or trailers) nv[0..n), each name behind
 * `prefix` (NULL: none). */
static void add_custom(struct nvlist *h, nghttp2_nv *nv, size_t n, const char *prefix,
                       struct kumo_arena *arena)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = (const char *)nv[i].name;
        if (prefix) {
            char *full = kumo_arena_alloc(arena, pl + nv[i].namelen + 1);
            memcpy(full, prefix, pl);
            memcpy(full + pl, nv[i].name, nv[i].namelen + 1);
            name = full;
        }
        nv_addn(h, name, pl + nv[i].namelen, (const char *)nv[i].value, nv[i].valuelen);
    }
}

ssize_t kumo__respond_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                           uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)user_data;
    struct kumo_rpc_call *call = source->ptr;
    size_t left = call->out.len - call->out_off;
    size_t n = left < length ? left : length;
    if (n)
        memcpy(buf, call->out.data + call->out_off, n);
    call->out_off += n;
    if (call->conn)
        call->conn->pending_out -= n;
    if (call->out_off == call->out.len) {
        if (!call->out_eof) {
            if (n == 0) {
                call->out_deferred = 1;
                return NGHTTP2_ERR_DEFERRED;
            }
            return (ssize_t)n;
        }
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (call->n_final_trailers > 0) {
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(session, stream_id, call->final_trailers,
                                   call->n_final_trailers);
        }
    }
    return (ssize_t)n;
}

/* ---- error encodings ---- */

static char *connect_error_json(struct kumo_rpc_call *call, kumo_code code, const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(kumo_code_name(code)));
    if (msg && *msg)
        json_object_set_new(o, "message", json_stringn_nocheck(msg, strlen(msg)));
    if (call->n_details) {
        json_t *arr = json_array();
        for (size_t i = 0; i < call->n_details; i++) {
            struct kumo_buf b64 = KUMO_BUF_INIT;
            kumo_base64_encode(call->details[i].data, call->details[i].len, 0, 0, &b64);
            json_t *d = json_object();
            json_object_set_new(d, "type", json_string(call->details[i].type));
            json_object_set_new(d, "value", json_string(b64.data ? (char *)b64.data : ""));
            json_array_append_new(arr, d);
            kumo_buf_free(&b64);
        }
        json_object_set_new(o, "details", arr);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *copy = kumo_arena_strdup(call->arena, s ? s : "{\"code\":\"internal\"}");
    free(s);
    return copy;
}

/* Connect streaming: the final message (flag 0x02) carries the error, if
 * any, and the trailers as metadata. */
#define CONNECT_END_STREAM 0x02

static void connect_end_stream(struct kumo_rpc_call *call, kumo_code code, const char *msg)
{
    json_t *o = json_object();
    if (code != KUMO_CODE_OK) {
        const char *err = connect_error_json(call, code, msg);
        json_object_set_new(o, "error", json_loads(err, 0, NULL));
    }
    if (call->n_resp_trailers) {
        json_t *md = json_object();
        for (size_t i = 0; i < call->n_resp_trailers; i++) {
            json_t *arr = json_array();
            json_array_append_new(arr,
                                  json_stringn_nocheck((const char *)call->resp_trailers[i].value,
                                                       call->resp_trailers[i].valuelen));
            json_object_set_new(md, (const char *)call->resp_trailers[i].name, arr);
        }
        json_object_set_new(o, "metadata", md);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct kumo_buf frame = KUMO_BUF_INIT;
    kumo_envelope_write(&frame, CONNECT_END_STREAM, (const uint8_t *)s, strlen(s));
    free(s);
    call->out_eof = 1;
    out_append(call, frame.data, frame.len);
    kumo_buf_free(&frame);
}

/* grpc-status-details-bin: google.rpc.Status, base64 without padding. */
static const char *grpc_status_details(struct kumo_rpc_call *call, kumo_code code, const char *msg)
{
    if (call->n_details == 0)
        return NULL;
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = (int32_t)code;
    st.message = (char *)(msg ? msg : "");
    Google__Protobuf__Any *anys = kumo_arena_alloc(call->arena, call->n_details * sizeof(*anys));
    Google__Protobuf__Any **ptrs = kumo_arena_alloc(call->arena, call->n_details * sizeof(*ptrs));
    for (size_t i = 0; i < call->n_details; i++) {
        google__protobuf__any__init(&anys[i]);
        struct kumo_buf url = KUMO_BUF_INIT;
        kumo_buf_appendf(&url, "type.googleapis.com/%s", call->details[i].type);
        anys[i].type_url = kumo_arena_strdup(call->arena, (char *)url.data);
        kumo_buf_free(&url);
        anys[i].value.data = call->details[i].data;
        anys[i].value.len = call->details[i].len;
        ptrs[i] = &anys[i];
    }
    st.n_details = call->n_details;
    st.details = ptrs;
    size_t len = google__rpc__status__get_packed_size(&st);
    uint8_t *packed = kumo_arena_alloc(call->arena, len ? len : 1);
    google__rpc__status__pack(&st, packed);
    struct kumo_buf b64 = KUMO_BUF_INIT;
    kumo_base64_encode(packed, len, 0, 0, &b64);
    const char *s = kumo_arena_strdup(call->arena, b64.data ? (char *)b64.data : "");
    kumo_buf_free(&b64);
    return s;
}

static const char *content_type_out(struct kumo_rpc_call *call)
{
    switch (call->protocol) {
    case KUMO_PROTO_GRPC:
        return call->json ? "application/grpc+json" : "application/grpc+proto";
    case KUMO_PROTO_GRPC_WEB:
        return call->json ? "application/grpc-web+json" : "application/grpc-web+proto";
    case KUMO_PROTO_CONNECT_STREAM:
        return call->json ? "application/connect+json" : "application/connect+proto";
    default:
        return call->json ? "application/json" : "application/proto";
    }
}

/* gRPC status trailers: grpc-status, grpc-message, details, custom ones. */
static void grpc_trailers(struct kumo_rpc_call *call, struct nvlist *t, kumo_code code,
                          const char *msg)
{
    static const char *const codes[] = {"0", "1",  "2",  "3",  "4",  "5",  "6",  "7", "8",
                                        "9", "10", "11", "12", "13", "14", "15", "16"};
    NV_LIT(t, "grpc-status", codes[(unsigned)code <= KUMO_CODE_MAX ? code : KUMO_CODE_UNKNOWN]);
    if (msg && *msg) {
        struct kumo_buf enc = KUMO_BUF_INIT;
        kumo_pct_encode(msg, strlen(msg), &enc);
        NV_LIT(t, "grpc-message", kumo_arena_strdup(call->arena, (char *)enc.data));
        kumo_buf_free(&enc);
    }
    const char *details = grpc_status_details(call, code, msg);
    if (details)
        NV_LIT(t, "grpc-status-details-bin", details);
    add_custom(t, call->resp_trailers, call->n_resp_trailers, NULL, call->arena);
}

void kumo__respond_error(struct kumo_rpc_call *call, kumo_code code, const char *msg)
{
    if (call->answered)
        return;
    call->answered = 1;
    call->code = code;
    if (msg && call->error_message != msg)
        call->error_message = kumo_arena_strdup(call->arena, msg);
    record_finish(call, code);
    nghttp2_nv hv[NV_LOCAL];
    struct nvlist h = {.nv = hv, .cap = NV_LOCAL, .arena = call->arena};
    if (call->protocol == KUMO_PROTO_CONNECT || call->protocol == KUMO_PROTO_CONNECT_GET ||
        call->protocol == 0) {
        NV_LIT(&h, ":status", status_str(call, kumo_code_http_status(code)));
        NV_LIT(&h, "content-type", "application/json");
        add_request_id(call, &h);
        add_custom(&h, call->resp_headers, call->n_resp_headers, NULL, call->arena);
        add_custom(&h, call->resp_trailers, call->n_resp_trailers, "trailer-", call->arena);
        const char *body = connect_error_json(call, code, msg);
        out_append(call, body, strlen(body));
        call->out_eof = 1;
        submit(call, &h, 1);
        return;
    }
    if (call->protocol == KUMO_PROTO_CONNECT_STREAM) {
        if (!call->headers_sent) {
            NV_LIT(&h, ":status", "200");
            NV_LIT(&h, "content-type", content_type_out(call));
            add_request_id(call, &h);
            add_custom(&h, call->resp_headers, call->n_resp_headers, NULL, call->arena);
            connect_end_stream(call, code, msg);
            submit(call, &h, 1);
        } else {
            connect_end_stream(call, code, msg);
        }
        return;
    }
    if (!call->headers_sent) {
        /* Trailers-Only: one HEADERS frame with END_STREAM. */
        NV_LIT(&h, ":status", "200");
        NV_LIT(&h, "content-type", content_type_out(call));
        add_request_id(call, &h);
        add_custom(&h, call->resp_headers, call->n_resp_headers, NULL, call->arena);
        grpc_trailers(call, &h, code, msg);
        call->out_eof = 1;
        submit(call, &h, 0);
        return;
    }
    /* Headers already went out (a stream): finish with trailers. */
    struct nvlist t = {.arena = call->arena};
    grpc_trailers(call, &t, code, msg);
    if (call->protocol == KUMO_PROTO_GRPC_WEB) {
        struct kumo_buf tb = KUMO_BUF_INIT;
        for (size_t i = 0; i < t.n; i++)
            kumo_buf_appendf(&tb, "%.*s: %.*s\r\n", (int)t.nv[i].namelen, t.nv[i].name,
                             (int)t.nv[i].valuelen, t.nv[i].value);
        struct kumo_buf frame = KUMO_BUF_INIT;
        kumo_envelope_write(&frame, KUMO_ENVELOPE_END_STREAM, tb.data, tb.len);
        call->out_eof = 1;
        out_append(call, frame.data, frame.len);
        kumo_buf_free(&tb);
        kumo_buf_free(&frame);
    } else {
        call->final_trailers = t.nv;
        call->n_final_trailers = t.n;
        call->out_eof = 1;
        out_append(call, "", 0);
    }
    if (call->conn && call->conn->session && call->out_deferred) {
        call->out_deferred = 0;
        nghttp2_session_resume_data(call->conn->session, call->stream_id);
    }
}

void kumo__respond_http(struct kumo_rpc_call *call, int status, const char *extra_name,
                        const char *extra_value, const char *json_body)
{
    if (call->answered)
        return;
    call->answered = 1;
    kumo_logf(KUMO_LOG_DEBUG, call->request_id, "http %d for %s %s", status,
              call->method_name ? call->method_name : "?", call->path ? call->path : "?");
    nghttp2_nv hv[NV_LOCAL];
    struct nvlist h = {.nv = hv, .cap = NV_LOCAL, .arena = call->arena};
    NV_LIT(&h, ":status", status_str(call, status));
    if (extra_name)
        nv_adds(&h, extra_name, extra_value);
    if (json_body) {
        NV_LIT(&h, "content-type", "application/json");
        out_append(call, json_body, strlen(json_body));
    }
    call->out_eof = 1;
    submit(call, &h, json_body != NULL);
}

/* ---- success ---- */

/* Appends `msg` to the call's output in wire form: bare for Connect unary,
 * in an envelope for the streaming protocols; gzip when the client accepts
 * it and the message is big enough. The common case (binary, small) packs
 * straight into the output buffer. Returns 0 and sets *compressed, or
 * answers resource_exhausted and returns -1. */
static int append_message(struct kumo_rpc_call *call, const ProtobufCMessage *msg, int enveloped,
                          int *compressed)
{
    size_t max = call->io->srv->cfg.max_message_size;
    size_t hdr = enveloped ? KUMO_ENVELOPE_HEADER_LEN : 0;
    *compressed = 0;
    if (!call->json) {
        size_t len = protobuf_c_message_get_packed_size(msg);
        if (len > max)
            goto too_large;
        if (!call->gzip_out || len < COMPRESS_MIN_BYTES) {
            kumo_arena_buf_reserve(call->arena, &call->out, hdr + len);
            uint8_t *p = call->out.data + call->out.len;
            if (enveloped)
                kumo_envelope_header(p, 0, len);
            protobuf_c_message_pack(msg, p + hdr);
            call->out.len += hdr + len;
            out_grew(call, hdr + len);
            return 0;
        }
    }
    struct kumo_buf plain = KUMO_BUF_INIT, packed = KUMO_BUF_INIT;
    if (call->json) {
        if (kumo_json_encode(msg, &plain) != 0) {
            kumo_buf_free(&plain);
            kumo__respond_error(call, KUMO_CODE_INTERNAL, "response cannot be written as JSON");
            return -1;
        }
    } else {
        size_t len = protobuf_c_message_get_packed_size(msg);
        kumo_buf_reserve(&plain, len);
        protobuf_c_message_pack(msg, plain.data);
        plain.len = len;
    }
    if (plain.len > max) {
        kumo_buf_free(&plain);
        goto too_large;
    }
    struct kumo_buf *m = &plain;
    if (call->gzip_out && plain.len >= COMPRESS_MIN_BYTES) {
        kumo_gzip_compress(plain.data, plain.len, &packed);
        m = &packed;
        *compressed = 1;
    }
    if (enveloped) {
        uint8_t h[KUMO_ENVELOPE_HEADER_LEN];
        kumo_envelope_header(h, *compressed ? KUMO_ENVELOPE_COMPRESSED : 0, m->len);
        out_append(call, h, sizeof(h));
    }
    out_append(call, m->data, m->len);
    kumo_buf_free(&plain);
    kumo_buf_free(&packed);
    return 0;
too_large:
    kumo__respond_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                        "response message larger than the limit");
    return -1;
}

static void grpc_headers(struct kumo_rpc_call *call, struct nvlist *h, int compressed)
{
    int connect = call->protocol == KUMO_PROTO_CONNECT_STREAM;
    NV_LIT(h, ":status", "200");
    NV_LIT(h, "content-type", content_type_out(call));
    if (compressed)
        nv_adds(h, connect ? "connect-content-encoding" : "grpc-encoding", "gzip");
    nv_adds(h, connect ? "connect-accept-encoding" : "grpc-accept-encoding", "gzip,identity");
    add_request_id(call, h);
    add_custom(h, call->resp_headers, call->n_resp_headers, NULL, call->arena);
}

void kumo__respond_stream_message(struct kumo_rpc_call *call, const ProtobufCMessage *msg)
{
    if (call->answered)
        return;
    int first = !call->headers_sent, compressed;
    if (append_message(call, msg, 1, &compressed) != 0)
        return;
    if (first) {
        /* The encoding header names the algorithm; each message says by
         * its flag whether it used it. */
        nghttp2_nv hv[NV_LOCAL];
        struct nvlist h = {.nv = hv, .cap = NV_LOCAL, .arena = call->arena};
        grpc_headers(call, &h, call->gzip_out);
        submit(call, &h, 1);
    }
    if (call->conn)
        kumo__conn_update_backpressure(call->conn);
}

void kumo__respond(struct kumo_rpc_call *call)
{
    if (call->answered)
        return;
    if (call->code != KUMO_CODE_OK) {
        kumo__respond_error(call, call->code, call->error_message);
        return;
    }
    int streaming = call->method && (call->method->entry->flags & KUMO_RPC_STREAM_EACH);
    if (streaming) {
        /* End of a message-by-message stream: status trailers. */
        if (!call->headers_sent && call->protocol != KUMO_PROTO_CONNECT_STREAM) {
            call->answered = 1;
            record_finish(call, KUMO_CODE_OK);
            nghttp2_nv hv[NV_LOCAL];
            struct nvlist h = {.nv = hv, .cap = NV_LOCAL, .arena = call->arena};
            grpc_headers(call, &h, 0);
            grpc_trailers(call, &h, KUMO_CODE_OK, NULL);
            submit(call, &h, 0);
            return;
        }
        kumo__respond_error(call, KUMO_CODE_OK, NULL);
        return;
    }
    int connect = call->protocol == KUMO_PROTO_CONNECT || call->protocol == KUMO_PROTO_CONNECT_GET;
    int compressed;
    if (append_message(call, call->response, !connect, &compressed) != 0)
        return;
    call->answered = 1;
    record_finish(call, KUMO_CODE_OK);
    nghttp2_nv hv[NV_LOCAL];
    struct nvlist h = {.nv = hv, .cap = NV_LOCAL, .arena = call->arena};
    if (connect) {
        NV_LIT(&h, ":status", "200");
        NV_LIT(&h, "content-type", content_type_out(call));
        if (compressed)
            NV_LIT(&h, "content-encoding", "gzip");
        add_request_id(call, &h);
        add_custom(&h, call->resp_headers, call->n_resp_headers, NULL, call->arena);
        add_custom(&h, call->resp_trailers, call->n_resp_trailers, "trailer-", call->arena);
    } else {
        grpc_headers(call, &h, compressed);
        uint8_t hdr[KUMO_ENVELOPE_HEADER_LEN];
        struct nvlist t = {.arena = call->arena};
        grpc_trailers(call, &t, KUMO_CODE_OK, NULL);
        if (call->protocol == KUMO_PROTO_GRPC_WEB) {
            struct kumo_buf tb = KUMO_BUF_INIT;
            for (size_t i = 0; i < t.n; i++)
                kumo_buf_appendf(&tb, "%.*s: %.*s\r\n", (int)t.nv[i].namelen, t.nv[i].name,
                                 (int)t.nv[i].valuelen, t.nv[i].value);
            kumo_envelope_header(hdr, KUMO_ENVELOPE_END_STREAM, tb.len);
            out_append(call, hdr, sizeof(hdr));
            out_append(call, tb.data, tb.len);
            kumo_buf_free(&tb);
        } else {
            call->final_trailers = t.nv;
            call->n_final_trailers = t.n;
        }
    }
    call->out_eof = 1;
    submit(call, &h, 1);
    if (call->conn)
        kumo__conn_update_backpressure(call->conn);
}
