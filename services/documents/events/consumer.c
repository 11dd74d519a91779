/* The consumer thread of kumo-storage's object events (events.h).
 *
 * Loop: read the cursor; long-poll ListObjectEvents after it (as the
 * service principal); handle each event in order; store the cursor after
 * each handled event. Handling is idempotent (docs_complete_from_event
 * finds a complete version complete), so a crash between handling and
 * storing the cursor only repeats work. A transient failure (DB, storage)
 * stops the batch and retries from the same event after a pause; an event
 * that keeps failing (EVENT_ATTEMPTS times) is skipped and counted, so one
 * bad event cannot stop the feed. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/ids.h"
#include "events.h"
#include "google/protobuf/duration.pb-c.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/worker.h"

#define PAGE              100
#define EVENT_ATTEMPTS    5
#define PAUSE_MS          500
#define EVENT_WORKERS_MAX 16
#define LEASE_SLACK_MS    10000 /* lease = one long poll + this */
#define LEASE_RETRY_MS    1000

#define EV_PUT       KUMO__STORAGE__V1__OBJECT_EVENT_TYPE__OBJECT_EVENT_TYPE_CREATED_PUT
#define EV_MULTIPART KUMO__STORAGE__V1__OBJECT_EVENT_TYPE__OBJECT_EVENT_TYPE_CREATED_MULTIPART
#define EV_RESTORED  KUMO__STORAGE__V1__OBJECT_EVENT_TYPE__OBJECT_EVENT_TYPE_RESTORE_COMPLETED

static struct {
    struct docs_ctx *ctx;
    struct kumo_rpc_client *client; /* the feed's kumo-storage (ctx->storage or its own) */
    struct kumo_rpc_client *own;
    struct kumo_worker *worker;
    int64_t tenant_skip; /* tenants whose service token could not be had */
    char owner[128];     /* "<host>:<pid>", the lease holder's name */
    int owned;           /* this process holds the feed's lease */
    int64_t failing_seq; /* the event that failed last, and how often */
    int failures;
} E;

static const char *const OUTCOMES[] = {"completed", "duplicate", "rejected", "unknown",
                                       "error",     "skipped",   "restored"};

static void count(const char *outcome)
{
    kumo_metrics_counter_addl("kumo_upload_events_total",
                              "Object events handled by kumo-documents, by outcome (unknown: "
                              "no pending version at that key, dropped).",
                              (const char *[]){"outcome", outcome, NULL}, 1);
}

static int stopping(void)
{
    return kumo_worker_stopping(E.worker);
}

/* Sleeps ms unless told to stop. */
static void pause_ms(int64_t ms)
{
    kumo_worker_sleep(E.worker, ms);
}

/* Handles one event. Returns 0 when done with it (whatever the outcome),
 * -1 to retry it later. */
static int handle(struct docs_ctx *ctx, const Kumo__Storage__V1__ObjectEvent *ev)
{
    char tenant[DOCS_ID_MAX], doc[DOCS_ID_MAX];
    int64_t version;
    if (ev->type == EV_RESTORED) {
        const char *outcome = "error";
        int rc = docs__events_restored(ctx, ev, &outcome);
        count(outcome);
        return rc;
    }
    if (ev->type != EV_PUT && ev->type != EV_MULTIPART) {
        count("unknown");
        return 0;
    }
    if (docs_event_key_parse(ev->key, strlen(ev->key), tenant, doc, &version) != 0) {
        count("unknown"); /* not a version's upload key (e.g. written behind our back) */
        kumo_log(KUMO_LOG_INFO, NULL, "object event for an unknown key dropped", "key", ev->key,
                 NULL);
        return 0;
    }
    char rid[48];
    snprintf(rid, sizeof rid, "event-%" PRId64, ev->seq);
    struct kumo_rpc_call *call =
        kumo_rpc_call_background(rid, kumo_now_ns() + 60LL * 1000000000, NULL);
    enum docs_event_outcome out;
    kumo_code rc = docs_complete_from_event(ctx, call, tenant, doc, version, &out);
    const char *msg = "";
    kumo_rpc_call_status(call, &msg);
    if (rc != KUMO_CODE_OK)
        kumo_log(KUMO_LOG_WARN, rid, "object event not handled yet", "key", ev->key, "code",
                 kumo_code_name(rc), "error", msg, NULL);
    else if (out == DOCS_EVENT_UNKNOWN)
        kumo_log(KUMO_LOG_INFO, rid, "object event for an unknown key dropped", "key", ev->key,
                 NULL);
    else if (out == DOCS_EVENT_REJECTED)
        kumo_log(KUMO_LOG_INFO, rid, "uploaded content refused", "key", ev->key, "reason", msg,
                 NULL);
    kumo_rpc_call_background_free(call);
    if (rc != KUMO_CODE_OK) {
        count("error");
        return -1;
    }
    count(OUTCOMES[out]);
    return 0;
}

/* One page of events, handled by up to KUMO_UPLOAD_EVENTS_WORKERS threads. */
struct batch {
    struct docs_ctx *ctx;
    Kumo__Storage__V1__ObjectEvent **events;
    size_t n, next;
    unsigned char failed[PAGE];
    pthread_mutex_t mu;
};

static void *batch_worker(void *arg)
{
    struct batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        size_t i = b->next < b->n && !stopping() ? b->next++ : b->n;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->n)
            return NULL;
        b->failed[i] = handle(b->ctx, b->events[i]) != 0;
    }
}

/* Records one more failure of event `seq`; 1 when it is to be skipped. */
static int give_up(int64_t seq)
{
    if (E.failing_seq != seq) {
        E.failing_seq = seq;
        E.failures = 0;
    }
    if (++E.failures < EVENT_ATTEMPTS)
        return 0;
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, seq);
    kumo_log(KUMO_LOG_ERROR, NULL, "object event skipped after repeated failures", "seq", s, NULL);
    count("skipped");
    return 1;
}

/* One long poll and its events. */
static int round_trip(struct docs_ctx *ctx, const char *tenant, int64_t *cursor,
                      const char *journal)
{
    Kumo__Storage__V1__ListObjectEventsRequest req =
        KUMO__STORAGE__V1__LIST_OBJECT_EVENTS_REQUEST__INIT;
    Google__Protobuf__Duration wait = GOOGLE__PROTOBUF__DURATION__INIT;
    wait.seconds = ctx->s.upload_events_wait_ms / 1000;
    wait.nanos = (int32_t)(ctx->s.upload_events_wait_ms % 1000) * 1000000;
    req.wait = &wait;
    req.after_seq = *cursor;
    req.page_size = PAGE;
    req.tenant_id = (char *)tenant;
    ProtobufCMessage *m = NULL;
    struct kumo_buf err = KUMO_BUF_INIT;
    kumo_code rc = docs_job_storage_call_via(
        ctx, E.client, "object-events", tenant, "ListObjectEvents", &req.base,
        &kumo__storage__v1__list_object_events_response__descriptor, &m, &err);
    if (rc != KUMO_CODE_OK) {
        kumo_log(KUMO_LOG_WARN, NULL, "cannot read kumo-storage's object events", "error",
                 err.data ? (const char *)err.data : "", NULL);
        int token = err.data && strncmp((const char *)err.data, "service token", 13) == 0;
        kumo_buf_free(&err);
        pause_ms(PAUSE_MS);
        return token ? -1 : 0;
    }
    kumo_buf_free(&err);
    const Kumo__Storage__V1__ListObjectEventsResponse *r = (const void *)m;
    const char *id = r->journal_id ? r->journal_id : "";
    if (id[0] && strcmp(id, journal) != 0) {
        /* Another journal than the cursor counts in (storage replaced, or
         * the cursor predates identities): a known one starts over from
         * its beginning; the first one seen is adopted as it is. */
        int reset = journal[0] != '\0' || r->last_seq < *cursor;
        char was[24];
        snprintf(was, sizeof was, "%" PRId64, *cursor);
        kumo_log(KUMO_LOG_WARN, NULL, "object event journal changed", "journal", id, "was", journal,
                 "cursor", was, "reset", reset ? "yes" : "no", NULL);
        docs__events_cursor_journal(ctx, id, reset);
        protobuf_c_message_free_unpacked(m, NULL);
        return 0; /* read again from the cursor now stored */
    }
    if (r->last_seq < *cursor) {
        /* Cannot be within one journal: start over from it. */
        char was[24];
        snprintf(was, sizeof was, "%" PRId64, *cursor);
        kumo_log(KUMO_LOG_WARN, NULL, "object event journal behind the cursor: reset", "cursor",
                 was, NULL);
        if (docs__events_cursor_journal(ctx, id, 1) == KUMO_CODE_OK)
            *cursor = 0;
        protobuf_c_message_free_unpacked(m, NULL);
        return 0;
    } else if (r->first_seq > *cursor + 1 && r->n_events > 0) {
        char was[24];
        snprintf(was, sizeof was, "%" PRId64, *cursor);
        kumo_log(KUMO_LOG_WARN, NULL, "object events lost to journal compaction", "cursor", was,
                 NULL);
    }
    /* The page's events are handled side by side (each is independent:
     * two for one version race as two CompleteUpload calls do, and the
     * version row decides); the cursor then moves past the longest run of
     * handled events from its start. */
    struct batch b = {ctx, r->events, r->n_events, 0, {0}, PTHREAD_MUTEX_INITIALIZER};
    if (b.n > PAGE)
        b.n = PAGE;
    size_t nt =
        b.n < (size_t)ctx->s.upload_events_workers ? b.n : (size_t)ctx->s.upload_events_workers;
    pthread_t th[EVENT_WORKERS_MAX];
    size_t started = 0;
    for (; started + 1 < nt; started++)
        if (pthread_create(&th[started], NULL, batch_worker, &b) != 0)
            break;
    batch_worker(&b); /* this thread works too */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < b.n; i++) {
        const Kumo__Storage__V1__ObjectEvent *ev = r->events[i];
        if (b.failed[i] && !give_up(ev->seq)) {
            pause_ms(PAUSE_MS);
            break;
        }
        if (i + 1 < b.n && !b.failed[i + 1])
            continue; /* store once per run */
        if (docs__events_cursor_store(ctx, ev->seq) != KUMO_CODE_OK) {
            pause_ms(PAUSE_MS); /* handled again later: idempotent */
            break;
        }
        *cursor = ev->seq;
    }
    kumo_metrics_gauge_set("kumo_upload_events_lag",
                           "Object events journaled by kumo-storage and not yet handled here.",
                           r->last_seq > *cursor ? r->last_seq - *cursor : 0);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

/* One round: takes (or keeps) the feed's lease, then one long poll and its
 * events for the next tenant with a service token. */
static int64_t consumer_step(void *arg)
{
    struct docs_ctx *ctx = arg;
    int64_t lease_ms = ctx->s.upload_events_wait_ms + LEASE_SLACK_MS;
    int owned = 0;
    if (docs__events_lease(ctx, E.owner, lease_ms, &owned) != KUMO_CODE_OK || !owned) {
        if (E.owned)
            kumo_log(KUMO_LOG_WARN, NULL, "object event feed lease lost", NULL);
        E.owned = 0;
        kumo_metrics_gauge_set("kumo_upload_events_consumer_active",
                               "1 when this process consumes the object event feed "
                               "(one kumo-documents at a time holds its lease).",
                               0);
        return LEASE_RETRY_MS; /* another replica consumes */
    }
    if (!E.owned)
        kumo_log(KUMO_LOG_INFO, NULL, "object event feed lease taken", "owner", E.owner, NULL);
    E.owned = 1;
    kumo_metrics_gauge_set("kumo_upload_events_consumer_active",
                           "1 when this process consumes the object event feed "
                           "(one kumo-documents at a time holds its lease).",
                           1);
    char tenant[DOCS_ID_MAX], journal[DOCS_JOURNAL_ID_MAX];
    int64_t cursor = 0;
    kumo_code trc = docs__events_token_tenant(ctx, E.tenant_skip, tenant);
    if (trc == KUMO_CODE_NOT_FOUND && E.tenant_skip > 0) {
        E.tenant_skip = 0; /* every tenant tried: from the newest again */
        return 0;
    }
    if (trc != KUMO_CODE_OK || docs__events_cursor_load(ctx, &cursor, journal) != KUMO_CODE_OK)
        return PAUSE_MS; /* no documents yet (nothing to complete), or no DB */
    /* No service token for that tenant (deleted meanwhile?): try the next. */
    if (round_trip(ctx, tenant, &cursor, journal) != 0)
        E.tenant_skip++;
    return 0;
}

int docs_events_start(struct docs_ctx *ctx)
{
    if (!ctx->s.upload_events) {
        kumo_log(KUMO_LOG_INFO, NULL, "object events off (KUMO_UPLOAD_EVENTS=false)", NULL);
        return 0;
    }
    if (!ctx->service_api_key || !ctx->service_api_key[0] || !ctx->exchange || !ctx->storage) {
        kumo_log(KUMO_LOG_WARN, NULL,
                 "object events off: no service API key (KUMO_SERVICE_API_KEY_FILE)", NULL);
        return 0;
    }
    for (size_t i = 0; i < sizeof OUTCOMES / sizeof OUTCOMES[0]; i++)
        kumo_metrics_counter_addl("kumo_upload_events_total",
                                  "Object events handled by kumo-documents, by outcome (unknown: "
                                  "no pending version at that key, dropped).",
                                  (const char *[]){"outcome", OUTCOMES[i], NULL}, 0);
    E.ctx = ctx;
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(E.owner, sizeof E.owner, "%s:%ld", host[0] ? host : "?", (long)getpid());
    E.client = ctx->storage;
    const char *t = ctx->s.upload_events_target;
    if (t && t[0] && strcmp(t, ctx->s.storage_target) != 0) {
        struct kumo_rpc_client_config cc = {.target = t};
        if (kumo_rpc_client_new(&E.own, &cc) != 0) {
            kumo_log(KUMO_LOG_ERROR, NULL, "bad KUMO_UPLOAD_EVENTS_TARGET", "target", t, NULL);
            return -1;
        }
        E.client = E.own;
    }
    kumo_log(KUMO_LOG_INFO, NULL, "object event consumer started", "owner", E.owner, NULL);
    E.worker = kumo_worker_start(consumer_step, ctx);
    if (E.worker == NULL) {
        kumo_rpc_client_free(E.own);
        E.own = NULL;
        return -1;
    }
    return 0;
}

void docs_events_stop(void)
{
    if (E.worker == NULL)
        return;
    kumo_worker_stop(E.worker);
    E.worker = NULL;
    if (E.owned)
        docs__events_lease_release(E.ctx, E.owner);
    E.owned = 0;
    kumo_rpc_client_free(E.own);
    E.own = NULL;
}
