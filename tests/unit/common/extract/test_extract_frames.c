/* Tests of common/extract/frames.c: the extractor's answer round-trips,
 * and each kind of malformed or oversized stream is refused with a
 * reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "extract/frames.h"

static void test_round_trip(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_xf_put(&b, KUMO_XF_TEXT, "就業規則 ", strlen("就業規則 "));
    kumo_xf_put(&b, KUMO_XF_TEXT, "working", 7);
    kumo_xf_put(&b, KUMO_XF_PAGES, "\0\0\1\2", 4);
    kumo_xf_put(&b, KUMO_XF_THUMB, "\x89PNG", 4);
    kumo_xf_put(&b, KUMO_XF_END, NULL, 0);
    struct kumo_xf_result r;
    memset(&r, 0, sizeof r);
    const char *why = NULL;
    assert_int_equal(kumo_xf_decode(b.data, b.len, 100, 100, &r, &why), 0);
    assert_int_equal(r.text.len, strlen("就業規則 working"));
    assert_memory_equal(r.text.data, "就業規則 working", r.text.len);
    assert_int_equal(r.pages, 258);
    assert_int_equal(r.thumb.len, 4);
    assert_int_equal(r.ended, 1);
    assert_string_equal(r.error, "");
    kumo_xf_result_free(&r);
    kumo_buf_free(&b);
}

static void test_error_frame(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_xf_put(&b, KUMO_XF_ERROR, "zip bomb\n\x01", 10);
    kumo_xf_put(&b, KUMO_XF_END, NULL, 0);
    struct kumo_xf_result r;
    memset(&r, 0, sizeof r);
    const char *why = NULL;
    assert_int_equal(kumo_xf_decode(b.data, b.len, 100, 100, &r, &why), 0);
    assert_string_equal(r.error, "zip bomb??"); /* control characters never pass */
    kumo_xf_result_free(&r);
    kumo_buf_free(&b);
}

static void expect_refused(const void *data, size_t len, size_t text_max, const char *reason)
{
    struct kumo_xf_result r;
    memset(&r, 0, sizeof r);
    const char *why = NULL;
    assert_int_equal(kumo_xf_decode(data, len, text_max, 8, &r, &why), -1);
    assert_non_null(why);
    assert_string_equal(why, reason);
    kumo_xf_result_free(&r);
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("T\0\0", 3, 100, "truncated frame header");
    expect_refused("T\0\0\0\5abc", 8, 100, "truncated frame");
    expect_refused("X\0\0\0\0", 5, 100, "unknown frame type");
    expect_refused("Z\0\0\0\0T\0\0\0\0", 10, 100, "data after the end frame");
    expect_refused("T\0\0\0\5abcde", 10, 4, "text over its limit");
    expect_refused("P\0\0\0\3abc", 8, 100, "bad pages frame");
    expect_refused("I\0\0\0\0", 5, 100, "bad thumbnail frame");
    expect_refused("I\0\0\0\x09"
                   "123456789",
                   14, 100, "thumbnail over its limit");
    expect_refused("I\0\0\0\1aI\0\0\0\1a", 12, 100, "bad thumbnail frame");
    expect_refused("E\0\0\0\1aE\0\0\0\1a", 12, 100, "bad error frame");
    expect_refused("Z\0\0\0\1a", 6, 100, "bad end frame");
    /* A length near 4 GiB is a truncated frame, not an overflow. */
    expect_refused("T\xff\xff\xff\xff", 5, 100, "truncated frame");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_error_frame),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
