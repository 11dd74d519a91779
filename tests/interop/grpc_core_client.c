/* Interop client on the grpc C core (libgrpc-dev 1.51), run against kumo-echo.
 *
 * Usage: grpc-core-client HOST:PORT [--tls CA_PEM]
 *
 * Each case is one unary call made with grpc_call_start_batch on a
 * completion queue; message bytes are packed with the protobuf-c code
 * generated from tests/proto. Prints one TAP line per case ("ok - CASE" /
 * "not ok - CASE", diagnostics as "#   ..."); exits 0 when every case passed,
 * 1 otherwise.
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/compression.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kumo/test/v1/echo.pb-c.h"

#define MIB             (1024 * 1024)
#define LIMIT           (4 * MIB)
#define CALL_TIMEOUT_MS 10000
#define ECHO_PREFIX     "/kumo.test.v1.EchoService/"
/* "héllo 世界 %" in UTF-8, spelled out so the source stays ASCII. */
#define UNICODE_MSG "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c %"

static int failures;

static void report(int ok, const char *name, const char *fmt, ...)
{
    if (ok) {
        printf("ok - %s\n", name);
        fflush(stdout);
        return;
    }
    failures++;
    printf("not ok - %s\n", name);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs("#   ", stdout);
        vprintf(fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    }
    fflush(stdout);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* What one unary call produced. The metadata arrays point into the call, so
 * the call stays referenced until result_free. */
struct result {
    grpc_call *call;
    grpc_status_code status;
    char *details;
    unsigned char *resp;
    size_t resp_len;
    int has_resp;
    grpc_metadata_array initial;
    grpc_metadata_array trailing;
    double elapsed_ms;
};

struct md_pair {
    const char *key;
    const char *value;
    size_t value_len;
};

static void result_free(struct result *r)
{
    grpc_metadata_array_destroy(&r->initial);
    grpc_metadata_array_destroy(&r->trailing);
    free(r->details);
    free(r->resp);
    if (r->call)
        grpc_call_unref(r->call);
    memset(r, 0, sizeof(*r));
}

static void read_response(grpc_byte_buffer *bb, struct result *r)
{
    grpc_byte_buffer_reader reader;
    if (!bb)
        return;
    if (grpc_byte_buffer_reader_init(&reader, bb)) {
        grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
        r->resp_len = GRPC_SLICE_LENGTH(s);
        r->resp = malloc(r->resp_len ? r->resp_len : 1);
        if (!r->resp)
            abort();
        memcpy(r->resp, GRPC_SLICE_START_PTR(s), r->resp_len);
        r->has_resp = 1;
        grpc_slice_unref(s);
        grpc_byte_buffer_reader_destroy(&reader);
    }
    grpc_byte_buffer_destroy(bb);
}

static gpr_timespec deadline_in(long timeout_ms)
{
    if (timeout_ms <= 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

/* Runs one unary call on `path` with the request bytes; timeout_ms <= 0
 * means no deadline. Always fills *r (status UNKNOWN if the batch failed). */
static void unary(grpc_channel *ch, const char *path, const void *req, size_t req_len,
                  long timeout_ms, const struct md_pair *md, size_t n_md, struct result *r)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_metadata send_md[8];
    grpc_op ops[6];
    grpc_byte_buffer *recv = NULL;
    grpc_slice details = grpc_empty_slice();
    grpc_slice method = grpc_slice_from_copied_string(path);
    grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, req_len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    double t0 = now_ms();

    memset(r, 0, sizeof(*r));
    grpc_metadata_array_init(&r->initial);
    grpc_metadata_array_init(&r->trailing);
    r->status = GRPC_STATUS_UNKNOWN;
    memset(send_md, 0, sizeof(send_md));
    for (size_t i = 0; i < n_md && i < 8; i++) {
        send_md[i].key = grpc_slice_from_copied_string(md[i].key);
        send_md[i].value = grpc_slice_from_copied_buffer(md[i].value, md[i].value_len);
    }
    r->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                       deadline_in(timeout_ms), NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = send_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &r->trailing;
    ops[5].data.recv_status_on_client.status = &r->status;
    ops[5].data.recv_status_on_client.status_details = &details;

    if (grpc_call_start_batch(r->call, ops, 6, r, NULL) == GRPC_CALL_OK) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE || ev.tag != r)
            r->status = GRPC_STATUS_UNKNOWN;
    }
    r->elapsed_ms = now_ms() - t0;
    r->details = grpc_slice_to_c_string(details);
    read_response(recv, r);

    grpc_slice_unref(details);
    grpc_slice_unref(method);
    grpc_slice_unref(body);
    grpc_byte_buffer_destroy(send);
    for (size_t i = 0; i < n_md && i < 8; i++) {
        grpc_slice_unref(send_md[i].key);
        grpc_slice_unref(send_md[i].value);
    }
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}

/* Packs a protobuf-c message into a malloc'd buffer. */
static unsigned char *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    unsigned char *buf = malloc(*len ? *len : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(m, buf);
    return buf;
}

static void call_msg(grpc_channel *ch, const char *method, const ProtobufCMessage *m,
                     long timeout_ms, const struct md_pair *md, size_t n_md, struct result *r)
{
    char path[128];
    size_t len;
    unsigned char *buf = pack(m, &len);
    snprintf(path, sizeof(path), "%s%s", ECHO_PREFIX, method);
    unary(ch, path, buf, len, timeout_ms, md, n_md, r);
    free(buf);
}

static const char *find_md(const grpc_metadata_array *a, const char *key, size_t *len)
{
    for (size_t i = 0; i < a->count; i++) {
        const grpc_slice *k = &a->metadata[i].key;
        if (GRPC_SLICE_LENGTH(*k) == strlen(key) &&
            memcmp(GRPC_SLICE_START_PTR(*k), key, strlen(key)) == 0) {
            *len = GRPC_SLICE_LENGTH(a->metadata[i].value);
            return (const char *)GRPC_SLICE_START_PTR(a->metadata[i].value);
        }
    }
    return NULL;
}

static int md_equals(const grpc_metadata_array *a, const char *key, const char *want)
{
    size_t len;
    const char *v = find_md(a, key, &len);
    return v && len == strlen(want) && memcmp(v, want, len) == 0;
}

/* Reports a failure when the call did not fail with `code` (and `message`,
 * when not NULL). Returns 1 when it did. */
static int expect_error(const char *name, const struct result *r, grpc_status_code code,
                        const char *message)
{
    if (r->status != code) {
        report(0, name, "expected status %d, got %d: \"%s\"", code, r->status, r->details);
        return 0;
    }
    if (message && strcmp(r->details, message) != 0) {
        report(0, name, "message: expected \"%s\", got \"%s\"", message, r->details);
        return 0;
    }
    report(1, name, NULL);
    return 1;
}

static int expect_ok(const char *name, const struct result *r)
{
    if (r->status != GRPC_STATUS_OK || !r->has_resp) {
        report(0, name, "expected a response, got status %d: \"%s\"", r->status, r->details);
        return 0;
    }
    return 1;
}

static Kumo__Test__V1__EchoResponse *echo_resp(const struct result *r)
{
    return kumo__test__v1__echo_response__unpack(NULL, r->resp_len, r->resp);
}

/* Echo with the given payload; returns 1 when the payload came back intact. */
static int echo_roundtrip(grpc_channel *ch, const char *message, const unsigned char *payload,
                          size_t len, const char *name)
{
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    struct result r;
    int ok = 0;
    req.message = (char *)message;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = len;
    call_msg(ch, "Echo", &req.base, 30000, NULL, 0, &r);
    if (expect_ok(name, &r)) {
        Kumo__Test__V1__EchoResponse *resp = echo_resp(&r);
        ok = resp && strcmp(resp->message, message) == 0 && resp->payload.len == len &&
             (len == 0 || memcmp(resp->payload.data, payload, len) == 0);
        report(ok, name, "message \"%s\" payload len %zu", resp ? resp->message : "(undecodable)",
               resp ? resp->payload.len : 0);
        kumo__test__v1__echo_response__free_unpacked(resp, NULL);
    }
    result_free(&r);
    return ok;
}

/* Returns 0 when the server could not be reached at all. */
static int case_echo(grpc_channel *ch)
{
    unsigned char payload[256];
    struct result r;
    int reachable;
    for (int i = 0; i < 256; i++)
        payload[i] = (unsigned char)i;
    if (echo_roundtrip(ch, "hello", payload, sizeof(payload), "echo"))
        return 1;
    unary(ch, ECHO_PREFIX "Echo", "", 0, CALL_TIMEOUT_MS, NULL, 0, &r);
    reachable = r.status != GRPC_STATUS_UNAVAILABLE;
    result_free(&r);
    return reachable;
}

static const char *const CODE_NAMES[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

static void case_fail_codes(grpc_channel *ch)
{
    for (int code = 1; code <= 17; code++) {
        Kumo__Test__V1__FailRequest req = KUMO__TEST__V1__FAIL_REQUEST__INIT;
        struct result r;
        char name[96];
        /* 17 stands for "any code outside 1..16" (sent as 99). */
        req.code = code <= 16 ? code : 99;
        req.message = code <= 16 ? UNICODE_MSG : "bad code";
        call_msg(ch, "Fail", &req.base, CALL_TIMEOUT_MS, NULL, 0, &r);
        if (code <= 16) {
            snprintf(name, sizeof(name), "fail/%d %s", code, CODE_NAMES[code]);
            expect_error(name, &r, (grpc_status_code)code, UNICODE_MSG);
        } else {
            expect_error("fail/out-of-range code -> INVALID_ARGUMENT", &r,
                         GRPC_STATUS_INVALID_ARGUMENT, NULL);
        }
        result_free(&r);
    }
}

/* Minimal protobuf reading for google.rpc.Status / google.protobuf.Any
 * (the googleapis protos are not linked here). */
struct pb_reader {
    const unsigned char *p;
    const unsigned char *end;
};

static int pb_varint(struct pb_reader *rd, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && rd->p < rd->end; shift += 7) {
        unsigned char b = *rd->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 1;
    }
    return 0;
}

/* Reads the next field; for length-delimited fields sets *data and *len. */
static int pb_field(struct pb_reader *rd, uint32_t *no, uint64_t *v, const unsigned char **data,
                    size_t *len)
{
    uint64_t tag;
    if (rd->p >= rd->end || !pb_varint(rd, &tag))
        return 0;
    *no = (uint32_t)(tag >> 3);
    switch (tag & 7) {
    case 0:
        return pb_varint(rd, v);
    case 2:
        if (!pb_varint(rd, v) || *v > (uint64_t)(rd->end - rd->p))
            return 0;
        *data = rd->p;
        *len = (size_t)*v;
        rd->p += *len;
        return 1;
    default:
        return 0;
    }
}

/* Finds the first Any in a Status blob; returns 1 with its type_url and value. */
static int status_first_detail(const unsigned char *buf, size_t n, uint64_t *code,
                               const unsigned char **url, size_t *url_len,
                               const unsigned char **val, size_t *val_len)
{
    struct pb_reader rd = {buf, buf + n};
    uint32_t no;
    uint64_t v;
    const unsigned char *d = NULL;
    size_t dl = 0;
    int found = 0;
    *code = 0;
    while (pb_field(&rd, &no, &v, &d, &dl)) {
        if (no == 1)
            *code = v;
        if (no == 3 && !found) {
            struct pb_reader any = {d, d + dl};
            const unsigned char *ad = NULL;
            size_t al = 0;
            while (pb_field(&any, &no, &v, &ad, &al)) {
                if (no == 1) {
                    *url = ad;
                    *url_len = al;
                } else if (no == 2) {
                    *val = ad;
                    *val_len = al;
                }
            }
            found = 1;
        }
    }
    return found;
}

static void case_fail_detail(grpc_channel *ch)
{
    static const char want_url[] = "type.googleapis.com/kumo.test.v1.EchoResponse";
    Kumo__Test__V1__FailRequest req = KUMO__TEST__V1__FAIL_REQUEST__INIT;
    struct result r;
    req.code = 9;
    req.message = "with detail";
    req.detail = "the detail";
    call_msg(ch, "Fail", &req.base, CALL_TIMEOUT_MS, NULL, 0, &r);
    if (expect_error("fail/detail code", &r, GRPC_STATUS_FAILED_PRECONDITION, "with detail")) {
        size_t len = 0, url_len = 0, val_len = 0;
        const unsigned char *url = NULL, *val = NULL;
        uint64_t code = 0;
        const char *bin = find_md(&r.trailing, "grpc-status-details-bin", &len);
        if (!bin) {
            report(0, "fail/detail", "no grpc-status-details-bin in the trailers");
        } else if (!status_first_detail((const unsigned char *)bin, len, &code, &url, &url_len,
                                        &val, &val_len)) {
            report(0, "fail/detail", "google.rpc.Status without details (%zu bytes)", len);
        } else {
            Kumo__Test__V1__EchoResponse *d =
                val ? kumo__test__v1__echo_response__unpack(NULL, val_len, val) : NULL;
            int ok = code == 9 && url_len == strlen(want_url) &&
                     memcmp(url, want_url, url_len) == 0 && d &&
                     strcmp(d->message, "the detail") == 0;
            report(ok, "fail/detail", "status code %d, type_url \"%.*s\", detail \"%s\"", (int)code,
                   (int)url_len, url ? (const char *)url : "", d ? d->message : "(none)");
            kumo__test__v1__echo_response__free_unpacked(d, NULL);
        }
    }
    result_free(&r);
}

static void case_deadline(grpc_channel *ch)
{
    const char *name = "deadline (Sleep 2000 ms, deadline 200 ms)";
    Kumo__Test__V1__SleepRequest req = KUMO__TEST__V1__SLEEP_REQUEST__INIT;
    struct result r;
    req.duration_ms = 2000;
    call_msg(ch, "Sleep", &req.base, 200, NULL, 0, &r);
    expect_error(name, &r, GRPC_STATUS_DEADLINE_EXCEEDED, NULL);
    report(r.elapsed_ms <= 1500.0,
           "deadline (Sleep 2000 ms, deadline 200 ms) returned within 1.5 s", "took %.0f ms",
           r.elapsed_ms);
    result_free(&r);
    echo_roundtrip(ch, "after", NULL, 0, "deadline/server still answers");
}

static void case_deadline_propagation(grpc_channel *ch)
{
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    struct result r;
    req.message = "d";
    for (int with = 1; with >= 0; with--) {
        const char *name = with ? "deadline/propagated (5 s deadline -> 0 < deadline_ms <= 5100)"
                                : "deadline/none -> deadline_ms 0";
        call_msg(ch, "Echo", &req.base, with ? 5000 : 0, NULL, 0, &r);
        if (expect_ok(name, &r)) {
            Kumo__Test__V1__EchoResponse *resp = echo_resp(&r);
            int64_t d = resp ? resp->deadline_ms : -1;
            report(with ? (d > 0 && d <= 5100) : d == 0, name, "deadline_ms=%lld", (long long)d);
            kumo__test__v1__echo_response__free_unpacked(resp, NULL);
        }
        result_free(&r);
    }
}

static void case_large(grpc_channel *ch)
{
    size_t n = LIMIT + 1024;
    unsigned char *payload = malloc(n);
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    struct result r;
    if (!payload)
        abort();
    for (size_t i = 0; i < n; i++)
        payload[i] = (unsigned char)((i * 7) & 0xff);
    echo_roundtrip(ch, "", payload, LIMIT - 1024, "large/4MiB-1KiB ok");
    req.payload.data = payload;
    req.payload.len = n;
    call_msg(ch, "Echo", &req.base, 30000, NULL, 0, &r);
    expect_error("large/4MiB+1KiB -> RESOURCE_EXHAUSTED", &r, GRPC_STATUS_RESOURCE_EXHAUSTED, NULL);
    result_free(&r);
    free(payload);
    echo_roundtrip(ch, "after", NULL, 0, "large/server still answers");
}

static void case_bytes(grpc_channel *ch)
{
    Kumo__Test__V1__BytesRequest req = KUMO__TEST__V1__BYTES_REQUEST__INIT;
    struct result r;
    req.size = 1000;
    call_msg(ch, "Bytes", &req.base, CALL_TIMEOUT_MS, NULL, 0, &r);
    if (expect_ok("bytes/1000", &r)) {
        Kumo__Test__V1__BytesResponse *resp =
            kumo__test__v1__bytes_response__unpack(NULL, r.resp_len, r.resp);
        int ok = resp && resp->data.len == 1000;
        for (size_t i = 0; ok && i < 1000; i++)
            ok = resp->data.data[i] == 'a' + i % 26;
        report(ok, "bytes/1000", "got %zu bytes", resp ? resp->data.len : 0);
        kumo__test__v1__bytes_response__free_unpacked(resp, NULL);
    }
    result_free(&r);
    req.size = -1;
    call_msg(ch, "Bytes", &req.base, CALL_TIMEOUT_MS, NULL, 0, &r);
    expect_error("bytes/-1 -> INVALID_ARGUMENT", &r, GRPC_STATUS_INVALID_ARGUMENT, NULL);
    result_free(&r);
    req.size = LIMIT + 1024;
    call_msg(ch, "Bytes", &req.base, 30000, NULL, 0, &r);
    expect_error("bytes/response over limit -> RESOURCE_EXHAUSTED", &r,
                 GRPC_STATUS_RESOURCE_EXHAUSTED, NULL);
    result_free(&r);
}

static void case_gzip(grpc_channel *gz)
{
    unsigned char payload[65536];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (unsigned char)('a' + i % 8);
    echo_roundtrip(gz, "gz", payload, sizeof(payload), "gzip/request compressed");
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes padded or unpadded base64; returns the length or -1. */
static long b64_decode(const char *s, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s && *s != '='; s++) {
        int v = b64_value((unsigned char)*s);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)n;
}

static const char *map_get(const Kumo__Test__V1__EchoResponse *resp, const char *key)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcmp(resp->headers[i]->key, key) == 0)
            return resp->headers[i]->value;
    return NULL;
}

static void check_metadata_response(const struct result *r)
{
    static const unsigned char raw_bin[] = {0, 1, 0xfe, 0xff};
    Kumo__Test__V1__EchoResponse *resp = echo_resp(r);
    const char *custom, *bin;
    unsigned char dec[16];
    long dl;
    if (!resp) {
        report(0, "metadata", "undecodable response");
        return;
    }
    custom = map_get(resp, "x-custom");
    report(custom && strcmp(custom, "hello") == 0, "metadata/echo_headers x-custom",
           "x-custom=%s (%zu headers)", custom ? custom : "(missing)", resp->n_headers);
    bin = map_get(resp, "x-bin-bin");
    dl = bin ? b64_decode(bin, dec, sizeof(dec)) : -1;
    report(dl == (long)sizeof(raw_bin) && memcmp(dec, raw_bin, sizeof(raw_bin)) == 0,
           "metadata/echo_headers x-bin-bin (base64 as on the wire)", "got \"%s\"",
           bin ? bin : "(missing)");
    report(strcmp(resp->request_id, "interop-rid-1") == 0, "metadata/request_id from x-request-id",
           "request_id=\"%s\"", resp->request_id);
    kumo__test__v1__echo_response__free_unpacked(resp, NULL);
    report(md_equals(&r->initial, "x-echo-initial", "initial"), "metadata/header x-echo-initial",
           "%zu initial metadata entries", r->initial.count);
    report(md_equals(&r->trailing, "x-echo-trailer", "trailing"), "metadata/trailer x-echo-trailer",
           "%zu trailing metadata entries", r->trailing.count);
}

static void case_metadata(grpc_channel *ch)
{
    static const char raw_bin[] = {0, 1, (char)0xfe, (char)0xff};
    static char *names[] = {"x-custom", "x-bin-bin"};
    const struct md_pair md[] = {
        {"x-custom", "hello", 5},
        {"x-request-id", "interop-rid-1", 13},
        {"x-bin-bin", raw_bin, sizeof(raw_bin)},
    };
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    struct result r;
    req.message = "m";
    req.n_echo_headers = 2;
    req.echo_headers = names;
    call_msg(ch, "Echo", &req.base, CALL_TIMEOUT_MS, md, 3, &r);
    if (expect_ok("metadata", &r))
        check_metadata_response(&r);
    result_free(&r);

    req.n_echo_headers = 0;
    call_msg(ch, "Echo", &req.base, CALL_TIMEOUT_MS, NULL, 0, &r);
    if (expect_ok("metadata/generated request_id", &r)) {
        Kumo__Test__V1__EchoResponse *resp = echo_resp(&r);
        report(resp && resp->request_id[0] != '\0', "metadata/generated request_id", NULL);
        kumo__test__v1__echo_response__free_unpacked(resp, NULL);
    }
    result_free(&r);
}

static void case_lookup(grpc_channel *ch)
{
    Kumo__Test__V1__LookupRequest req = KUMO__TEST__V1__LOOKUP_REQUEST__INIT;
    struct result r;
    req.key = "k1";
    req.kind = KUMO__TEST__V1__KIND__KIND_FANCY;
    call_msg(ch, "Lookup", &req.base, CALL_TIMEOUT_MS, NULL, 0, &r);
    if (expect_ok("lookup", &r)) {
        Kumo__Test__V1__LookupResponse *resp =
            kumo__test__v1__lookup_response__unpack(NULL, r.resp_len, r.resp);
        long long at = resp && resp->looked_up_at ? (long long)resp->looked_up_at->seconds : 0;
        long long skew = at - (long long)time(NULL);
        int ok = resp && strcmp(resp->key, "k1") == 0 && strcmp(resp->value, "value-of-k1") == 0 &&
                 resp->kind == KUMO__TEST__V1__KIND__KIND_FANCY &&
                 resp->big == 9007199254740993LL && skew > -60 && skew < 60;
        report(ok, "lookup", "value \"%s\" kind %d big %lld looked_up_at %lld",
               resp ? resp->value : "", resp ? (int)resp->kind : -1,
               resp ? (long long)resp->big : 0LL, at);
        kumo__test__v1__lookup_response__free_unpacked(resp, NULL);
    }
    result_free(&r);
}

static void case_health(grpc_channel *ch)
{
    struct result r;
    /* HealthCheckRequest{service: ""} is the empty message; SERVING is 08 01. */
    unary(ch, "/grpc.health.v1.Health/Check", "", 0, CALL_TIMEOUT_MS, NULL, 0, &r);
    if (expect_ok("health/Check", &r))
        report(r.resp_len == 2 && r.resp[0] == 0x08 && r.resp[1] == 0x01, "health/Check",
               "response of %zu bytes", r.resp_len);
    result_free(&r);
}

static void case_unknown(grpc_channel *ch)
{
    struct result r;
    unary(ch, ECHO_PREFIX "NoSuchMethod", "", 0, CALL_TIMEOUT_MS, NULL, 0, &r);
    expect_error("unknown method -> UNIMPLEMENTED", &r, GRPC_STATUS_UNIMPLEMENTED, NULL);
    result_free(&r);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static grpc_channel *open_channel(const char *target, grpc_channel_credentials *creds, int gzip)
{
    grpc_arg args[4];
    grpc_channel_args ca;
    memset(args, 0, sizeof(args));
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[0].value.integer = 16 * MIB;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[1].value.integer = 16 * MIB;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_ENABLE_RETRIES;
    args[2].value.integer = 0;
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
    args[3].value.integer = GRPC_COMPRESS_GZIP;
    ca.num_args = gzip ? 4 : 3;
    ca.args = args;
    return grpc_channel_create(target, creds, &ca);
}

int main(int argc, char **argv)
{
    grpc_channel_credentials *creds;
    grpc_channel *ch, *gz;
    char *ca = NULL;

    if (argc == 4 && strcmp(argv[2], "--tls") == 0) {
        ca = read_file(argv[3]);
        if (!ca) {
            fprintf(stderr, "cannot read %s\n", argv[3]);
            return 2;
        }
    } else if (argc != 2) {
        fprintf(stderr, "usage: grpc-core-client HOST:PORT [--tls CA_PEM]\n");
        return 2;
    }
    grpc_init();
    creds =
        ca ? grpc_ssl_credentials_create(ca, NULL, NULL, NULL) : grpc_insecure_credentials_create();
    ch = open_channel(argv[1], creds, 0);
    gz = open_channel(argv[1], creds, 1);

    if (!case_echo(ch)) {
        /* Nothing else can work when the server is unreachable. */
        printf("# server unreachable, remaining cases skipped\n");
        failures++;
        goto out;
    }
    case_fail_codes(ch);
    case_fail_detail(ch);
    case_deadline(ch);
    case_deadline_propagation(ch);
    case_large(ch);
    case_bytes(ch);
    case_gzip(gz);
    case_metadata(ch);
    case_lookup(ch);
    case_health(ch);
    case_unknown(ch);

out:
    grpc_channel_destroy(gz);
    grpc_channel_destroy(ch);
    grpc_channel_credentials_release(creds);
    grpc_shutdown();
    free(ca);
    return failures ? 1 : 0;
}
