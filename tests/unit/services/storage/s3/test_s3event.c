/* Tests of the S3 event notification reader of kumo-storage's SQS source
 * (s3event.c) on bodies in the documented format (event structure 2.1):
 * created (Put, CompleteMultipartUpload), restore completed, the test
 * event, another bucket, copies, encoded keys, malformed bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "s3/sqs.h"

static const char put_body[] =
    "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":"
    "\"us-east-1\",\"eventTime\":\"2026-12-07T05:00:01.250Z\",\"eventName\":\"ObjectCreated:Put\","
    "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"bucket\":{\"name\":\"kumo\"},\"object\":{\"key\":"
    "\"t/ten_1/d/doc_a/v1\",\"size\":1024,\"eTag\":\"d41d8cd98f00b204e9800998ecf8427e\","
    "\"sequencer\":\"0055AED6DCD90281E5\"}}}]}";

static void test_put(void **state)
{
    (void)state;
    struct stg_event ev[4];
    size_t n;
    const char *why = NULL;
    assert_int_equal(stg_s3_event_parse(put_body, strlen(put_body), "kumo", ev, 4, &n, &why), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].type, STG_EV_CREATED_PUT);
    assert_string_equal(ev[0].key, "t/ten_1/d/doc_a/v1");
    assert_int_equal(ev[0].size, 1024);
    assert_string_equal(ev[0].etag, "d41d8cd98f00b204e9800998ecf8427e");
    assert_int_equal(ev[0].time_ms, 1796619601000LL);
    /* Another bucket: nothing. */
    assert_int_equal(stg_s3_event_parse(put_body, strlen(put_body), "other", ev, 4, &n, &why), 0);
    assert_int_equal(n, 0);
}

static void test_multipart_restore_and_others(void **state)
{
    (void)state;
    const char body[] =
        "{\"Records\":["
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:CompleteMultipartUpload\","
        "\"eventTime\":\"2026-12-07T05:00:00Z\",\"s3\":{\"bucket\":{\"name\":\"kumo\"},"
        "\"object\":{\"key\":\"t/ten/a+b%2Fc%C3%BC\",\"size\":5,\"eTag\":\"abc-2\"}}},"
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectRestore:Completed\","
        "\"eventTime\":\"2026-12-07T05:00:00Z\",\"s3\":{\"bucket\":{\"name\":\"kumo\"},"
        "\"object\":{\"key\":\"t/ten/d/doc/v2\",\"size\":7}},\"glacierEventData\":"
        "{\"restoreEventData\":{\"lifecycleRestorationExpiryTime\":\"2026-12-08T00:00:00.000Z\","
        "\"lifecycleRestoreStorageClass\":\"GLACIER\"}}},"
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Copy\",\"s3\":{\"bucket\":"
        "{\"name\":\"kumo\"},\"object\":{\"key\":\"t/ten/x\"}}},"
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
        "{\"name\":\"kumo\"},\"object\":{\"key\":\"t/ten/../x\"}}}"
        "]}";
    struct stg_event ev[8];
    size_t n;
    const char *why = NULL;
    assert_int_equal(stg_s3_event_parse(body, strlen(body), "kumo", ev, 8, &n, &why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].type, STG_EV_CREATED_MULTIPART);
    assert_string_equal(ev[0].key, "t/ten/a b/c\xc3\xbc");
    assert_string_equal(ev[0].etag, "abc-2");
    assert_int_equal(ev[1].type, STG_EV_RESTORE_COMPLETED);
    assert_int_equal(ev[1].expire_ms, 1796688000000LL);
    /* Fewer slots than records: refused whole. */
    assert_int_equal(stg_s3_event_parse(body, strlen(body), "kumo", ev, 2, &n, &why), -1);
}

static void test_test_event_and_malformed(void **state)
{
    (void)state;
    struct stg_event ev[2];
    size_t n = 9;
    const char *why = NULL;
    const char test[] =
        "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Bucket\":\"kumo\"}";
    assert_int_equal(stg_s3_event_parse(test, strlen(test), "kumo", ev, 2, &n, &why), 0);
    assert_int_equal(n, 0);
    const char *bad[] = {"", "not json", "[]", "{\"Records\":{}}", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(stg_s3_event_parse(bad[i], strlen(bad[i]), "kumo", ev, 2, &n, &why), -1);
        assert_non_null(why);
    }
}

static void test_key_and_time(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(stg_s3_event_key("a%20b+c", 7, out, sizeof out), 5);
    assert_string_equal(out, "a b c");
    assert_int_equal(stg_s3_event_key("a%2", 3, out, sizeof out), -1);
    assert_int_equal(stg_s3_event_key("a%zz", 4, out, sizeof out), -1);
    assert_int_equal(stg_s3_event_key("a%00", 4, out, sizeof out), -1);
    assert_int_equal(stg_s3_event_key("0123456789abcdef", 16, out, sizeof out), -1);
    int64_t ms;
    assert_int_equal(stg_s3_event_time("1970-01-01T00:00:01.5Z", &ms), 0);
    assert_int_equal(ms, 1000);
    assert_int_equal(stg_s3_event_time("2026-12-07T05:00:00Z", &ms), 0);
    assert_int_equal(stg_s3_event_time("2026-12-07T05:00:00", &ms), -1);
    assert_int_equal(stg_s3_event_time("2026-13-07T05:00:00Z", &ms), -1);
    assert_int_equal(stg_s3_event_time("2026-12-07T05:00:00.Z", &ms), -1);
    assert_int_equal(stg_s3_event_time("2026-12-07T05:00:00ZZ", &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put),
        cmocka_unit_test(test_multipart_restore_and_others),
        cmocka_unit_test(test_test_event_and_malformed),
        cmocka_unit_test(test_key_and_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
