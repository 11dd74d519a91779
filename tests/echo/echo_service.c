/* kumo.test.v1.EchoService: the service the interop tests, fuzzers and
 * benchmarks run against (see tests/proto/kumo/test/v1/echo.proto). */
#include "echo_service.h"

#include <string.h>

#include "kumo/test/v1/echo.pb-c.h"

#define MAX_SLEEP_MS 60000
#define BIG_INT64    9007199254740993LL /* 2^53 + 1: not exact as a double */

static kumo_code handle_echo(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response)
{
    const Kumo__Test__V1__EchoRequest *req = (const Kumo__Test__V1__EchoRequest *)request;
    Kumo__Test__V1__EchoResponse *resp = kumo_rpc_call_alloc(call, sizeof(*resp));
    kumo__test__v1__echo_response__init(resp);
    resp->message = req->message;
    resp->payload = req->payload;
    resp->request_id = (char *)kumo_rpc_call_request_id(call);
    int64_t left = kumo_rpc_call_remaining(call);
    resp->deadline_ms = left < 0 ? 0 : left / 1000000;
    resp->headers = kumo_rpc_call_alloc(call, req->n_echo_headers * sizeof(*resp->headers));
    for (size_t i = 0; i < req->n_echo_headers; i++) {
        const char *v = kumo_rpc_call_header(call, req->echo_headers[i]);
        if (v == NULL)
            continue;
        Kumo__Test__V1__EchoResponse__HeadersEntry *e = kumo_rpc_call_alloc(call, sizeof(*e));
        kumo__test__v1__echo_response__headers_entry__init(e);
        e->key = req->echo_headers[i];
        e->value = (char *)v;
        resp->headers[resp->n_headers++] = e;
    }
    kumo_rpc_call_set_header(call, "x-echo-initial", "initial");
    kumo_rpc_call_set_trailer(call, "x-echo-trailer", "trailing");
    *response = &resp->base;
    return KUMO_CODE_OK;
}

static kumo_code handle_fail(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response)
{
    (void)response;
    const Kumo__Test__V1__FailRequest *req = (const Kumo__Test__V1__FailRequest *)request;
    if (req->code < 1 || req->code > KUMO_CODE_MAX)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "code must be 1..16");
    if (req->detail && req->detail[0]) {
        Kumo__Test__V1__EchoResponse detail = KUMO__TEST__V1__ECHO_RESPONSE__INIT;
        detail.message = req->detail;
        kumo_rpc_call_add_error_detail(call, &detail.base);
    }
    return kumo_rpc_call_error(call, (kumo_code)req->code, "%s", req->message);
}

static kumo_code handle_sleep(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response)
{
    const Kumo__Test__V1__SleepRequest *req = (const Kumo__Test__V1__SleepRequest *)request;
    if (req->duration_ms < 0 || req->duration_ms > MAX_SLEEP_MS)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "duration_ms must be 0..60000");
    int64_t start = kumo_now_ns();
    if (kumo_rpc_call_sleep(call, req->duration_ms * 1000000) != 0) {
        if (kumo_rpc_call_deadline(call) && kumo_now_ns() >= kumo_rpc_call_deadline(call))
            return kumo_rpc_call_error(call, KUMO_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
        return kumo_rpc_call_error(call, KUMO_CODE_CANCELED, "canceled");
    }
    Kumo__Test__V1__SleepResponse *resp = kumo_rpc_call_alloc(call, sizeof(*resp));
    kumo__test__v1__sleep_response__init(resp);
    resp->slept_ms = (kumo_now_ns() - start) / 1000000;
    *response = &resp->base;
    return KUMO_CODE_OK;
}

static kumo_code handle_bytes(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response)
{
    const Kumo__Test__V1__BytesRequest *req = (const Kumo__Test__V1__BytesRequest *)request;
    /* The server's response limit applies after encoding; refuse sizes no
     * limit could allow before allocating them. */
    if (req->size < 0 || req->size > (1LL << 30))
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "size must be 0..1GiB");
    Kumo__Test__V1__BytesResponse *resp = kumo_rpc_call_alloc(call, sizeof(*resp));
    kumo__test__v1__bytes_response__init(resp);
    resp->data.len = (size_t)req->size;
    resp->data.data = kumo_rpc_call_alloc(call, resp->data.len ? resp->data.len : 1);
    for (size_t i = 0; i < resp->data.len; i++)
        resp->data.data[i] = (uint8_t)('a' + i % 26);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

static kumo_code handle_lookup(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response)
{
    const Kumo__Test__V1__LookupRequest *req = (const Kumo__Test__V1__LookupRequest *)request;
    Kumo__Test__V1__LookupResponse *resp = kumo_rpc_call_alloc(call, sizeof(*resp));
    kumo__test__v1__lookup_response__init(resp);
    size_t klen = strlen(req->key);
    resp->key = req->key;
    resp->value = kumo_rpc_call_alloc(call, klen + sizeof("value-of-"));
    memcpy(resp->value, "value-of-", 9);
    memcpy(resp->value + 9, req->key, klen + 1);
    resp->kind = req->kind;
    resp->big = BIG_INT64;
    Google__Protobuf__Timestamp *ts = kumo_rpc_call_alloc(call, sizeof(*ts));
    google__protobuf__timestamp__init(ts);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ts->seconds = now.tv_sec;
    ts->nanos = (int32_t)(now.tv_nsec / 1000000 * 1000000);
    resp->looked_up_at = ts;
    *response = &resp->base;
    return KUMO_CODE_OK;
}

static const struct kumo_rpc_method echo_methods[] = {
    {"Echo", handle_echo, 0},
    {"Fail", handle_fail, 0},
    {"Sleep", handle_sleep, KUMO_RPC_BLOCKING},
    {"Bytes", handle_bytes, 0},
    {"Lookup", handle_lookup, KUMO_RPC_NO_SIDE_EFFECTS},
};

const struct kumo_rpc_service kumo_test_echo_service = {
    .descriptor = &kumo__test__v1__echo_service__descriptor,
    .methods = echo_methods,
    .n_methods = sizeof(echo_methods) / sizeof(echo_methods[0]),
};
