#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "base/ids.h"

static void test_ids_new_has_prefix_and_alphabet(void **state)
{
    (void)state;
    char a[33], b[33];
    assert_int_equal(kumo_id_new("doc", a, sizeof a), 0);
    assert_int_equal(kumo_id_new("doc", b, sizeof b), 0);
    assert_int_equal(strlen(a), 4 + KUMO_ID_RANDOM_CHARS);
    assert_memory_equal(a, "doc_", 4);
    for (const char *p = a + 4; *p; p++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", *p));
    assert_string_not_equal(a, b);
}

static void test_ids_new_refuses_small_buffer(void **state)
{
    (void)state;
    char out[25];
    memset(out, 'x', sizeof out);
    /* "doc_" + 20 + NUL = 25 fits; a longer prefix does not. */
    assert_int_equal(kumo_id_new("doc", out, sizeof out), 0);
    memset(out, 'x', sizeof out);
    assert_int_equal(kumo_id_new("docs", out, sizeof out), KUMO_ERR_INVALID);
    assert_int_equal(out[0], 'x');
}

static void test_ids_etag_round_trip(void **state)
{
    (void)state;
    const int64_t v[] = {1, 9, 10, 12345, 999999999999999999LL};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char e[KUMO_ETAG_MAX];
        kumo_etag_format(v[i], e);
        int64_t back = 0;
        assert_int_equal(kumo_etag_parse(e, &back), 0);
        assert_true(back == v[i]);
    }
}

static void test_ids_etag_rejects_bad(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "0", "01", "-1", "+1", "1a", " 1", "1 ", "abc", "1234567890123456789", "\"3\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 77;
        assert_int_equal(kumo_etag_parse(bad[i], &v), KUMO_ERR_INVALID);
        assert_true(v == 77);
    }
    int64_t v = 77;
    assert_int_equal(kumo_etag_parse(NULL, &v), KUMO_ERR_INVALID);
}

static void test_ids_now_us_is_recent(void **state)
{
    (void)state;
    int64_t a = kumo_now_us();
    assert_true(a > 1700000000LL * 1000000);
    assert_true(kumo_now_us() >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_new_has_prefix_and_alphabet),
        cmocka_unit_test(test_ids_new_refuses_small_buffer),
        cmocka_unit_test(test_ids_etag_round_trip),
        cmocka_unit_test(test_ids_etag_rejects_bad),
        cmocka_unit_test(test_ids_now_us_is_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
