/* S3 event notification bodies to journal events (sqs.h): the JSON is read
 * by jansson, keys decoded by common's form decoder, times by common/aws's
 * ISO 8601 reader (fuzzed: tests/fuzz/fuzz_storage_s3event.c). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/credentials.h"
#include "base/pctenc.h"
#include "sqs.h"

long stg_s3_event_key(const char *in, size_t len, char *out, size_t cap)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    long n = -1;
    if (kumo_url_query_decode(in, len, &b) == 0 && b.len + 1 <= cap &&
        (b.len == 0 || memchr(b.data, '\0', b.len) == NULL)) {
        if (b.len)
            memcpy(out, b.data, b.len);
        out[b.len] = '\0';
        n = (long)b.len;
    }
    kumo_buf_free(&b);
    return n;
}

int stg_s3_event_time(const char *s, int64_t *ms)
{
    time_t t;
    if (kumo__aws_parse_iso8601(s, strlen(s), &t) != 0 || t < 0)
        return -1;
    *ms = (int64_t)t * 1000; /* whole seconds: what the events need */
    return 0;
}

/* The event type of an S3 event name, or 0 for names not journaled. */
static int type_of(const char *name)
{
    if (strcmp(name, "ObjectCreated:Put") == 0 || strcmp(name, "ObjectCreated:Post") == 0)
        return STG_EV_CREATED_PUT;
    if (strcmp(name, "ObjectCreated:CompleteMultipartUpload") == 0)
        return STG_EV_CREATED_MULTIPART;
    if (strcmp(name, "ObjectRestore:Completed") == 0)
        return STG_EV_RESTORE_COMPLETED;
    return 0; /* ObjectCreated:Copy (kumo's own sealing copies), removals, ... */
}

/* Fills *ev from one record; 0 when it is to be journaled. */
static int record(json_t *r, const char *bucket, struct stg_event *ev)
{
    const char *src = json_string_value(json_object_get(r, "eventSource"));
    const char *name = json_string_value(json_object_get(r, "eventName"));
    json_t *s3 = json_object_get(r, "s3");
    const char *b = json_string_value(json_object_get(json_object_get(s3, "bucket"), "name"));
    json_t *obj = json_object_get(s3, "object");
    const char *key = json_string_value(json_object_get(obj, "key"));
    if (!src || strcmp(src, "aws:s3") != 0 || !name || !b || strcmp(b, bucket) != 0 || !key)
        return -1;
    int type = type_of(name);
    if (type == 0)
        return -1;
    memset(ev, 0, sizeof *ev);
    ev->type = (enum stg_event_type)type;
    long kl = stg_s3_event_key(key, strlen(key), ev->key, sizeof ev->key);
    if (kl <= 0 || stg_key_check(ev->key, (size_t)kl, NULL) != STG_OK)
        return -1;
    json_t *size = json_object_get(obj, "size");
    ev->size =
        json_is_integer(size) && json_integer_value(size) >= 0 ? json_integer_value(size) : 0;
    const char *etag = json_string_value(json_object_get(obj, "eTag"));
    if (etag && strlen(etag) < sizeof ev->etag) {
        size_t i = 0;
        for (; etag[i]; i++)
            if (!((etag[i] >= '0' && etag[i] <= '9') || (etag[i] >= 'a' && etag[i] <= 'f') ||
                  etag[i] == '-'))
                break;
        if (etag[i] == '\0')
            memcpy(ev->etag, etag, i + 1);
    }
    const char *when = json_string_value(json_object_get(r, "eventTime"));
    if (when == NULL || stg_s3_event_time(when, &ev->time_ms) != 0)
        ev->time_ms = 0;
    json_t *glacier = json_object_get(json_object_get(r, "glacierEventData"), "restoreEventData");
    const char *exp = json_string_value(json_object_get(glacier, "lifecycleRestorationExpiryTime"));
    if (exp == NULL || stg_s3_event_time(exp, &ev->expire_ms) != 0)
        ev->expire_ms = 0;
    return 0;
}

int stg_s3_event_parse(const char *body, size_t len, const char *bucket, struct stg_event *evs,
                       size_t max, size_t *n, const char **why)
{
    *n = 0;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        *why = "not a JSON object";
        return -1;
    }
    const char *test = json_string_value(json_object_get(root, "Event"));
    if (test && strcmp(test, "s3:TestEvent") == 0) {
        json_decref(root);
        return 0;
    }
    json_t *records = json_object_get(root, "Records");
    if (!json_is_array(records) || json_array_size(records) > max) {
        *why = json_is_array(records) ? "too many records" : "no Records array";
        json_decref(root); /* records belongs to root */
        return -1;
    }
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        if (record(r, bucket, &evs[*n]) == 0)
            (*n)++;
    }
    json_decref(root);
    return 0;
}
