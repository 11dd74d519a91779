#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "db/page_cursor.h"

#define SCOPE(s) (s), strlen(s)

static void test_page_cursor_round_trip(void **state)
{
    (void)state;
    const char *strs[] = {"", "Annual report", "\xc3\xa9t\xc3\xa9 \"q\"\\"};
    const int64_t nums[] = {0, -1, 1763900000123456LL, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 5; j++) {
            struct kumo_page_cursor c = {12345 + (int64_t)j, nums[j], strs[i], strlen(strs[i])};
            struct kumo_buf tok = KUMO_BUF_INIT, sb = KUMO_BUF_INIT;
            assert_int_equal(kumo_page_cursor_encode(&c, SCOPE("docs|t1|1"), &tok), 0);
            assert_int_equal(strlen((char *)tok.data), tok.len);
            struct kumo_page_cursor d;
            assert_int_equal(
                kumo_page_cursor_decode((char *)tok.data, tok.len, SCOPE("docs|t1|1"), &d, &sb), 0);
            assert_true(d.seq == c.seq);
            assert_true(d.num == c.num);
            assert_int_equal(d.str_len, c.str_len);
            assert_string_equal(d.str, strs[i]);
            kumo_buf_free(&tok);
            kumo_buf_free(&sb);
        }
    }
}

static void test_page_cursor_empty_is_first_page(void **state)
{
    (void)state;
    struct kumo_buf sb = KUMO_BUF_INIT;
    struct kumo_page_cursor d = {5, 5, NULL, 5};
    assert_int_equal(kumo_page_cursor_decode("", 0, SCOPE("x"), &d, &sb), 0);
    assert_true(d.seq == -1);
    assert_string_equal(d.str, "");
    kumo_buf_free(&sb);
}

static void test_page_cursor_bound_to_scope(void **state)
{
    (void)state;
    struct kumo_page_cursor c = {42, 7, "t", 1};
    struct kumo_buf tok = KUMO_BUF_INIT, sb = KUMO_BUF_INIT;
    assert_int_equal(kumo_page_cursor_encode(&c, SCOPE("docs|tA|1"), &tok), 0);
    struct kumo_page_cursor d = {99, 99, NULL, 0};
    assert_int_equal(
        kumo_page_cursor_decode((char *)tok.data, tok.len, SCOPE("docs|tB|1"), &d, &sb),
        KUMO_ERR_INVALID);
    assert_true(d.seq == 99);
    kumo_buf_free(&tok);
    kumo_buf_free(&sb);
}

static void test_page_cursor_rejects_garbage(void **state)
{
    (void)state;
    struct kumo_buf sb = KUMO_BUF_INIT;
    const char *bad[] = {"x",   "' OR 1=1 --", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "a b", "====",        "AQ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kumo_page_cursor d = {99, 99, NULL, 0};
        assert_int_equal(kumo_page_cursor_decode(bad[i], strlen(bad[i]), SCOPE("s"), &d, &sb),
                         KUMO_ERR_INVALID);
        assert_true(d.seq == 99);
    }
    /* A valid token with a byte cut off or added. */
    struct kumo_page_cursor c = {1, 2, "abc", 3};
    struct kumo_buf tok = KUMO_BUF_INIT;
    assert_int_equal(kumo_page_cursor_encode(&c, SCOPE("s"), &tok), 0);
    struct kumo_page_cursor d;
    assert_int_equal(kumo_page_cursor_decode((char *)tok.data, tok.len - 2, SCOPE("s"), &d, &sb),
                     KUMO_ERR_INVALID);
    kumo_buf_append_str(&tok, "AAAA");
    assert_int_equal(kumo_page_cursor_decode((char *)tok.data, tok.len, SCOPE("s"), &d, &sb),
                     KUMO_ERR_INVALID);
    char *huge = calloc(1, KUMO_PAGE_CURSOR_TOKEN_MAX + 2);
    memset(huge, 'A', KUMO_PAGE_CURSOR_TOKEN_MAX + 1);
    assert_int_equal(kumo_page_cursor_decode(huge, strlen(huge), SCOPE("s"), &d, &sb),
                     KUMO_ERR_INVALID);
    free(huge);
    kumo_buf_free(&tok);
    kumo_buf_free(&sb);
}

static void test_page_cursor_encode_refuses_bad(void **state)
{
    (void)state;
    struct kumo_buf tok = KUMO_BUF_INIT;
    struct kumo_page_cursor neg = {-1, 0, "", 0};
    assert_int_equal(kumo_page_cursor_encode(&neg, SCOPE("s"), &tok), KUMO_ERR_INVALID);
    char *big = calloc(1, KUMO_PAGE_CURSOR_STR_MAX + 2);
    memset(big, 'a', KUMO_PAGE_CURSOR_STR_MAX + 1);
    struct kumo_page_cursor lng = {1, 0, big, KUMO_PAGE_CURSOR_STR_MAX + 1};
    assert_int_equal(kumo_page_cursor_encode(&lng, SCOPE("s"), &tok), KUMO_ERR_INVALID);
    assert_int_equal(tok.len, 0);
    /* The longest string still fits the longest token. */
    lng.str_len = KUMO_PAGE_CURSOR_STR_MAX;
    assert_int_equal(kumo_page_cursor_encode(&lng, SCOPE("s"), &tok), 0);
    assert_true(tok.len <= KUMO_PAGE_CURSOR_TOKEN_MAX);
    free(big);
    kumo_buf_free(&tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_cursor_round_trip),
        cmocka_unit_test(test_page_cursor_empty_is_first_page),
        cmocka_unit_test(test_page_cursor_bound_to_scope),
        cmocka_unit_test(test_page_cursor_rejects_garbage),
        cmocka_unit_test(test_page_cursor_encode_refuses_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
