/* Object events: recording what the data plane created, and the
 * ListObjectEvents long poll over the journal (journal.h).
 *
 * Why a long-poll unary RPC rather than a server stream: the server runtime
 * can hold server streams (KUMO_RPC_SERVER_STREAM), but kumo's C RPC client,
 * which kumo-documents calls with, does unary calls only. A unary call that
 * waits up to `wait` for the first event answers within milliseconds of an
 * append (the append wakes it), costs one worker thread per waiting reader
 * (one per kumo-documents replica) and needs nothing new in the client. */
#include <string.h>

#include "base/alloc.h"
#include "db/row.h"
#include "journal.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "storage.h"

#define PAGE_MAX    1000
#define WAIT_MAX_MS (30 * 1000LL)

int stg_event_created(struct stg_ctx *ctx, int type, const struct stg_meta *m)
{
    if (ctx->journal == NULL || !ctx->dataport_events)
        return 0; /* events come from SQS */
    struct stg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (enum stg_event_type)type;
    ev.size = m->size;
    ev.time_ms = m->mtime_ms ? m->mtime_ms : stg_now_ms();
    snprintf(ev.etag, sizeof ev.etag, "%s", m->etag);
    static const uint8_t zero[32];
    if (memcmp(m->sha256, zero, 32) != 0) {
        memcpy(ev.sha256, m->sha256, 32);
        ev.has_sha256 = 1;
    }
    snprintf(ev.key, sizeof ev.key, "%s", m->key);
    if (stg_journal_append(ctx->journal, &ev) != 0)
        return -1;
    kumo_metrics_counter_addl("kumo_storage_events_total", "Object events journaled, by type.",
                              (const char *[]){"type",
                                               type == STG_EV_CREATED_PUT ? "created_put"
                                               : type == STG_EV_CREATED_MULTIPART
                                                   ? "created_multipart"
                                                   : "restore_completed",
                                               NULL},
                              1);
    return 0;
}

static int call_cancelled(void *arg)
{
    return kumo_rpc_call_cancelled(arg);
}

static Kumo__Storage__V1__ObjectEvent *event_msg(struct kumo_rpc_call *call,
                                                 const struct stg_event *ev)
{
    Kumo__Storage__V1__ObjectEvent *e =
        kumo_rpc_call_new(call, &kumo__storage__v1__object_event__descriptor);
    e->seq = ev->seq;
    e->type = (Kumo__Storage__V1__ObjectEventType)ev->type;
    size_t kl = strlen(ev->key);
    e->key = kumo_rpc_call_alloc(call, kl + 1);
    memcpy(e->key, ev->key, kl + 1);
    e->size = ev->size;
    size_t el = strlen(ev->etag);
    e->etag = kumo_rpc_call_alloc(call, el + 1);
    memcpy(e->etag, ev->etag, el + 1);
    if (ev->has_sha256) {
        e->sha256.data = kumo_rpc_call_alloc(call, 32);
        memcpy(e->sha256.data, ev->sha256, 32);
        e->sha256.len = 32;
    }
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    e->event_time = kumo_pb_timestamp(a, 1000 * ev->time_ms);
    if (ev->expire_ms)
        e->restore_expire_time = kumo_pb_timestamp(a, 1000 * ev->expire_ms);
    return e;
}

kumo_code stg_list_object_events(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response)
{
    struct stg_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Storage__V1__ListObjectEventsRequest *rq = (const void *)request;
    const char *tid;
    kumo_code rc = stg_acting_tenant(call, rq->tenant_id, &tid);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (rq->after_seq < 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "after_seq is negative");
    if (rq->page_size < 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "page_size is negative");
    int64_t wait_ms = 0;
    if (rq->wait) {
        if (rq->wait->seconds < 0 || rq->wait->nanos < 0 ||
            rq->wait->seconds * 1000 + rq->wait->nanos / 1000000 > WAIT_MAX_MS)
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                       "wait must be from 0 to 30 seconds");
        wait_ms = rq->wait->seconds * 1000 + rq->wait->nanos / 1000000;
    }
    /* Answer before the caller's deadline, with some room for the trip. */
    int64_t left = kumo_rpc_call_remaining(call);
    if (left >= 0 && wait_ms > left / 1000000 - 500)
        wait_ms = left / 1000000 - 500;
    if (ctx->journal == NULL)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAVAILABLE, "no event journal");
    size_t max = rq->page_size == 0 || rq->page_size > PAGE_MAX ? PAGE_MAX : (size_t)rq->page_size;
    struct stg_event *evs;
    size_t n;
    int64_t first, last;
    stg_journal_read(ctx->journal, rq->after_seq, max, wait_ms, call_cancelled, call, &evs, &n,
                     &first, &last);
    Kumo__Storage__V1__ListObjectEventsResponse *resp =
        kumo_rpc_call_new(call, &kumo__storage__v1__list_object_events_response__descriptor);
    resp->events = kumo_rpc_call_alloc(call, (n ? n : 1) * sizeof *resp->events);
    for (size_t i = 0; i < n; i++)
        resp->events[i] = event_msg(call, &evs[i]);
    resp->n_events = n;
    resp->first_seq = first;
    resp->last_seq = last;
    resp->journal_id = (char *)stg_journal_id(ctx->journal); /* lives as long as the journal */
    kumo_free(evs);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
