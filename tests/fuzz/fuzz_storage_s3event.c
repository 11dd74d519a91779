/* storage s3event: an SQS message body (S3 event notification JSON, read
 * by jansson) and the hand-written key decoding and time parsing behind it
 * must take any bytes; every event accepted has a key stg_key_check passes
 * and formats to a journal line that parses back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/sqs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    struct stg_event evs[STG_SQS_RECORDS_MAX];
    size_t n = 0;
    const char *why = NULL;
    if (stg_s3_event_parse((const char *)data, size, "kumo", evs, STG_SQS_RECORDS_MAX, &n, &why) !=
        0) {
        if (why == NULL)
            abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (stg_key_check(evs[i].key, strlen(evs[i].key), NULL) != STG_OK)
            abort();
        evs[i].seq = 1;
        struct kumo_buf b = KUMO_BUF_INIT;
        stg_event_format(&evs[i], &b);
        struct stg_event back;
        if (stg_event_parse((const char *)b.data, b.len - 1, &back) != 0)
            abort();
        kumo_buf_free(&b);
    }
    char key[64];
    long k = stg_s3_event_key((const char *)data, size, key, sizeof key);
    if (k >= (long)sizeof key || (k >= 0 && (size_t)k != strlen(key)))
        abort();
    char text[40];
    size_t t = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, t);
    text[t] = '\0';
    int64_t ms;
    if (stg_s3_event_time(text, &ms) == 0 && ms < 0)
        abort();
    return 0;
}
