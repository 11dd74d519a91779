/* S3 event notification bodies to journal events (sqs.h). The JSON is read
 * by jansson; the key decoding and the time format are small enough to be
 * written here (fuzzed: tests/fuzz/fuzz_storage_s3event.c). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sqs.h"

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long stg_s3_event_key(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len || hexv(in[i + 1]) < 0 || hexv(in[i + 2]) < 0)
                return -1;
            c = hexv(in[i + 1]) * 16 + hexv(in[i + 2]);
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

int stg_s3_event_time(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60 || h < 0 || mi < 0 || sec < 0)
        return -1;
    const char *p = s + 19;
    int frac = 0, digits = 0;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0 || digits > 9)
            return -1;
        for (int i = digits; i < 3; i++)
            frac *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t < 0)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
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
