/* S3 Event Notifications through SQS into the event journal (sqs.h).
 *
 * A thread long-polls the queue with SQS's JSON protocol (POST /, X-Amz-
 * Target AmazonSQS.ReceiveMessage / AmazonSQS.DeleteMessage, Content-Type
 * application/x-amz-json-1.0), signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4, service "sqs") with the credentials of the AWS
 * provider chain (common/aws/credentials.h). Each message's S3 records go
 * into the journal (fsynced) and only then is the message deleted: a crash
 * in between leaves the message in the queue, which delivers it again after
 * its visibility timeout, and kumo-documents handles the repeated event as
 * a duplicate. Messages that cannot be events (S3's s3:TestEvent,
 * malformed bodies, another bucket) are deleted and counted. */
#include "sqs.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/credentials.h"
#include "base/alloc.h"
#include "base/secret.h"
#include "../journal.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define RESPONSE_MAX (4 * 1024 * 1024) /* 10 messages of at most 256 KiB, JSON-escaped */
#define PAUSE_MS     1000

struct stg_sqs {
    struct stg_ctx *ctx;
    struct kumo_aws_provider *prov;
    char *queue_url;
    char *endpoint; /* "<scheme>://<host>[:port]/" of the queue URL */
    char sigv4[128];
    int wait_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int started;
};

static void count(const char *result, long n)
{
    kumo_metrics_counter_addl("kumo_storage_sqs_messages_total",
                              "SQS messages of S3 event notifications, by result.",
                              (const char *[]){"result", result, NULL}, n);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct kumo_buf *b = ud;
    if (b->len + size * n > RESPONSE_MAX)
        return 0; /* aborts the transfer */
    kumo_buf_append(b, p, size * n);
    return size * n;
}

/* One signed JSON-protocol call. Returns the HTTP status (0: no answer),
 * the body in *out. */
static long sqs_call(struct stg_sqs *q, const char *target, const char *body, long timeout_ms,
                     struct kumo_buf *out)
{
    struct kumo_aws_credentials c;
    if (kumo_aws_credentials_get(q->prov, &c) != 0) {
        struct kumo_buf err = KUMO_BUF_INIT;
        kumo_aws_provider_last_error(q->prov, &err);
        kumo_log(KUMO_LOG_ERROR, NULL, "no AWS credentials for SQS", "error",
                 err.data ? (const char *)err.data : "", NULL);
        kumo_buf_free(&err);
        return 0;
    }
    struct kumo_buf tgt = KUMO_BUF_INIT, tok = KUMO_BUF_INIT;
    kumo_buf_appendf(&tgt, "X-Amz-Target: AmazonSQS.%s", target);
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
    l = curl_slist_append(l, (const char *)tgt.data);
    if (c.session_token) {
        kumo_buf_appendf(&tok, "X-Amz-Security-Token: %s", c.session_token);
        l = curl_slist_append(l, (const char *)tok.data);
    }
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, q->endpoint);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, q->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, c.access_key_id);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c.secret_access_key);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (q->ctx->s.s3_ca_file && q->ctx->s.s3_ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, q->ctx->s.s3_ca_file);
    long status = 0;
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        kumo_log(KUMO_LOG_WARN, NULL, "SQS request failed", "target", target, "error",
                 curl_easy_strerror(rc), NULL);
    curl_easy_cleanup(h);
    curl_slist_free_all(l);
    kumo_secret_wipe(tok.data, tok.len);
    kumo_buf_free(&tok);
    kumo_buf_free(&tgt);
    kumo_aws_credentials_clear(&c);
    return status;
}

int stg_sqs_delete(struct stg_sqs *q, const char *receipt)
{
    json_t *o = json_pack("{s:s, s:s}", "QueueUrl", q->queue_url, "ReceiptHandle", receipt);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct kumo_buf out = KUMO_BUF_INIT;
    long st = sqs_call(q, "DeleteMessage", body, 10000, &out);
    free(body); /* jansson's allocator */
    if (st != 200)
        kumo_log(KUMO_LOG_WARN, NULL, "SQS DeleteMessage refused", "body",
                 out.data ? (const char *)out.data : "", NULL);
    kumo_buf_free(&out);
    return st == 200 ? 0 : -1;
}

/* Journals the events of one message body. 1: done (journaled, or nothing
 * to journal: delete it), 0: retry later (keep it). */
static int handle_body(struct stg_sqs *q, const char *body)
{
    struct stg_event evs[STG_SQS_RECORDS_MAX];
    size_t n = 0;
    const char *why = NULL;
    if (stg_s3_event_parse(body, strlen(body), q->ctx->s.bucket, evs, STG_SQS_RECORDS_MAX, &n,
                           &why) != 0) {
        kumo_log(KUMO_LOG_WARN, NULL, "SQS message is no S3 event: deleted", "why", why, NULL);
        count("dropped", 1);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (stg_journal_append(q->ctx->journal, &evs[i]) != 0)
            return 0;
    count("journaled", 1);
    return 1;
}

/* One ReceiveMessage and its messages. */
static void receive(struct stg_sqs *q)
{
    json_t *o = json_pack("{s:s, s:i, s:i, s:[s]}", "QueueUrl", q->queue_url, "MaxNumberOfMessages",
                          10, "WaitTimeSeconds", q->wait_s, "MessageSystemAttributeNames",
                          "ApproximateReceiveCount");
    char *req = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct kumo_buf out = KUMO_BUF_INIT;
    long st = sqs_call(q, "ReceiveMessage", req, (q->wait_s + 10) * 1000L, &out);
    free(req);
    json_t *resp = NULL;
    if (st == 200)
        resp = json_loadb(out.data ? (const char *)out.data : "", out.len, 0, NULL);
    if (resp == NULL) {
        if (st != 0)
            kumo_log(KUMO_LOG_WARN, NULL, "SQS ReceiveMessage failed", "body",
                     out.data ? (const char *)out.data : "", NULL);
        kumo_buf_free(&out);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += PAUSE_MS / 1000;
        pthread_mutex_lock(&q->mu);
        if (!q->stopping)
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        pthread_mutex_unlock(&q->mu);
        return;
    }
    kumo_buf_free(&out);
    json_t *msgs = json_object_get(resp, "Messages");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *body = json_string_value(json_object_get(m, "Body"));
        const char *receipt = json_string_value(json_object_get(m, "ReceiptHandle"));
        if (receipt == NULL)
            continue;
        if (body == NULL || handle_body(q, body))
            stg_sqs_delete(q, receipt);
        /* else: stays in the queue, delivered again after its visibility timeout */
    }
    json_decref(resp);
}

static int stopping(struct stg_sqs *q)
{
    pthread_mutex_lock(&q->mu);
    int s = q->stopping;
    pthread_mutex_unlock(&q->mu);
    return s;
}

static void *poller(void *arg)
{
    struct stg_sqs *q = arg;
    while (!stopping(q))
        receive(q);
    return NULL;
}

int stg_sqs_start(struct stg_ctx *ctx, struct stg_sqs **out)
{
    const struct stg_settings *s = &ctx->s;
    struct stg_sqs *q = kumo_calloc(1, sizeof *q);
    q->ctx = ctx;
    q->queue_url = kumo_strdup(s->sqs_queue_url);
    q->wait_s = (int)(s->sqs_wait_ms / 1000);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    /* The JSON protocol posts to the endpoint: the queue URL's origin. */
    const char *p = strstr(q->queue_url, "://");
    const char *slash = p ? strchr(p + 3, '/') : NULL;
    if (p == NULL || slash == NULL ||
        (strncmp(q->queue_url, "https://", 8) != 0 && strncmp(q->queue_url, "http://", 7) != 0)) {
        kumo_log(KUMO_LOG_ERROR, NULL,
                 "KUMO_STORAGE_SQS_QUEUE_URL must be http(s)://host/<account>/<queue>", NULL);
        stg_sqs_stop(q);
        return -1;
    }
    q->endpoint = kumo_strndup(q->queue_url, (size_t)(slash - q->queue_url) + 1);
    snprintf(q->sigv4, sizeof q->sigv4, "aws:amz:%s:sqs",
             s->sqs_region && s->sqs_region[0] ? s->sqs_region : s->region);
    struct kumo_aws_provider_config pc = {
        .ca_file = s->s3_ca_file && s->s3_ca_file[0] ? s->s3_ca_file : NULL};
    if (kumo_aws_provider_new(&q->prov, &pc) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL,
                 "SQS: no AWS credentials configured (AWS_ACCESS_KEY_ID, web identity or "
                 "container credentials)",
                 NULL);
        stg_sqs_stop(q);
        return -1;
    }
    count("journaled", 0);
    count("dropped", 0);
    if (pthread_create(&q->thread, NULL, poller, q) != 0) {
        stg_sqs_stop(q);
        return -1;
    }
    q->started = 1;
    kumo_log(KUMO_LOG_INFO, NULL, "SQS event source started", "queue", q->queue_url, NULL);
    *out = q;
    return 0;
}

void stg_sqs_stop(struct stg_sqs *q)
{
    if (q == NULL)
        return;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stopping = 1;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL); /* within the long poll's wait */
    }
    kumo_aws_provider_free(q->prov);
    kumo_free(q->queue_url);
    kumo_free(q->endpoint);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    kumo_free(q);
}
