/* The handler-facing API of a call (rpc.h). A handler may run on a worker
 * thread: these functions touch only the call's own state, never the
 * connection. */
#include "rpc/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"

void *kumo_rpc_call_alloc(struct kumo_rpc_call *call, size_t size)
{
    return kumo_arena_calloc(call->arena, size);
}

void *kumo_rpc_call_new(struct kumo_rpc_call *call, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = kumo_arena_calloc(call->arena, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    return m;
}

ProtobufCAllocator *kumo_rpc_call_allocator(struct kumo_rpc_call *call)
{
    return kumo_arena_allocator(call->arena);
}

kumo_code kumo_rpc_call_error(struct kumo_rpc_call *call, kumo_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    call->error_message = kumo_arena_vsprintf(call->arena, fmt, ap);
    va_end(ap);
    if (code == KUMO_CODE_OK || (unsigned)code > KUMO_CODE_MAX)
        code = KUMO_CODE_UNKNOWN;
    call->code = code;
    return code;
}

void kumo_rpc_call_add_error_detail(struct kumo_rpc_call *call, const ProtobufCMessage *msg)
{
    if (call->n_details == call->cap_details)
        call->details = kumo_arena_grow(call->arena, call->details, call->n_details,
                                        &call->cap_details, sizeof(*call->details), 4);
    struct kumo__detail *d = &call->details[call->n_details++];
    d->type = msg->descriptor->name;
    d->len = protobuf_c_message_get_packed_size(msg);
    d->data = kumo_arena_alloc(call->arena, d->len ? d->len : 1);
    protobuf_c_message_pack(msg, d->data);
}

const char *kumo_rpc_call_header(const struct kumo_rpc_call *call, const char *name)
{
    for (size_t i = 0; i < call->n_headers; i++)
        if (strcmp(call->headers[i].name, name) == 0)
            return call->headers[i].value;
    return NULL;
}

static void nv_push(struct kumo_rpc_call *call, nghttp2_nv **arr, size_t *n, size_t *cap,
                    const char *name, const char *value)
{
    if (*n == *cap)
        *arr = kumo_arena_grow(call->arena, *arr, *n, cap, sizeof(**arr), 4);
    /* One arena block holds the name and the value. */
    size_t nl = strlen(name), vl = strlen(value);
    char *buf = kumo_arena_alloc(call->arena, nl + vl + 2);
    memcpy(buf, name, nl + 1); /* HTTP/2 names are lowercase: the caller's contract */
    memcpy(buf + nl + 1, value, vl + 1);
    (*arr)[(*n)++] =
        (nghttp2_nv){(uint8_t *)buf, (uint8_t *)buf + nl + 1, nl, vl, NGHTTP2_NV_FLAG_NONE};
}

void kumo_rpc_call_set_header(struct kumo_rpc_call *call, const char *name, const char *value)
{
    nv_push(call, &call->resp_headers, &call->n_resp_headers, &call->cap_resp_headers, name, value);
}

void kumo_rpc_call_set_trailer(struct kumo_rpc_call *call, const char *name, const char *value)
{
    nv_push(call, &call->resp_trailers, &call->n_resp_trailers, &call->cap_resp_trailers, name,
            value);
}

const struct kumo_trace *kumo_rpc_call_trace(const struct kumo_rpc_call *call)
{
    return &call->trace;
}

const char *kumo_rpc_call_request_id(const struct kumo_rpc_call *call)
{
    return call->request_id;
}

const char *kumo_rpc_call_path(const struct kumo_rpc_call *call)
{
    return call->path ? call->path : "";
}

int64_t kumo_rpc_call_deadline(const struct kumo_rpc_call *call)
{
    return call->deadline;
}

int64_t kumo_rpc_call_remaining(const struct kumo_rpc_call *call)
{
    if (call->deadline == 0)
        return -1;
    int64_t left = call->deadline - kumo_now_ns();
    return left > 0 ? left : 0;
}

int kumo_rpc_call_cancelled(const struct kumo_rpc_call *call)
{
    if (atomic_load(&((struct kumo_rpc_call *)call)->cancelled))
        return 1;
    return call->deadline != 0 && kumo_now_ns() >= call->deadline;
}

int kumo_rpc_call_sleep(struct kumo_rpc_call *call, int64_t ns)
{
    /* Set up lazily (few handlers sleep). Publishing sleep_inited before
     * checking `cancelled` under the mutex pairs with kumo__call_cancel,
     * which sets `cancelled` before reading sleep_inited. */
    if (!call->sleep_inited) {
        pthread_mutex_init(&call->sleep_mu, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&call->sleep_cv, &attr);
        pthread_condattr_destroy(&attr);
        __atomic_store_n(&call->sleep_inited, 1, __ATOMIC_SEQ_CST);
    }
    int64_t until = kumo_now_ns() + ns;
    if (call->deadline != 0 && call->deadline < until)
        until = call->deadline;
    struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
    pthread_mutex_lock(&call->sleep_mu);
    while (!atomic_load(&call->cancelled) && kumo_now_ns() < until) {
        if (pthread_cond_timedwait(&call->sleep_cv, &call->sleep_mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&call->sleep_mu);
    return kumo_rpc_call_cancelled(call) ? 1 : 0;
}

void *kumo_rpc_call_service_data(const struct kumo_rpc_call *call)
{
    return call->method->service->def.user_data;
}

void *kumo_rpc_call_principal(const struct kumo_rpc_call *call)
{
    return call->principal;
}

const char *kumo_rpc_call_peer(const struct kumo_rpc_call *call)
{
    return call->peer;
}

void kumo_rpc_call_set_state(struct kumo_rpc_call *call, void *state)
{
    call->service_state = state;
}

void *kumo_rpc_call_state(const struct kumo_rpc_call *call)
{
    return call->service_state;
}

struct kumo_rpc_call *kumo_rpc_call_background(const char *request_id, int64_t deadline,
                                               void *principal)
{
    struct kumo_arena *arena = kumo_arena_new();
    struct kumo_rpc_call *call = kumo_arena_calloc(arena, sizeof *call);
    call->arena = arena;
    call->deadline = deadline;
    call->principal = principal;
    call->code = KUMO_CODE_OK;
    atomic_init(&call->cancelled, 0);
    if (request_id)
        snprintf(call->request_id, sizeof call->request_id, "%s", request_id);
    return call;
}

void kumo_rpc_call_background_free(struct kumo_rpc_call *call)
{
    if (call == NULL)
        return;
    if (call->sleep_inited) {
        pthread_mutex_destroy(&call->sleep_mu);
        pthread_cond_destroy(&call->sleep_cv);
    }
    kumo_arena_free(call->arena);
}

kumo_code kumo_rpc_call_status(const struct kumo_rpc_call *call, const char **message)
{
    if (message)
        *message = call->error_message ? call->error_message : "";
    return call->code;
}
