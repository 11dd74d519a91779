/* http/token.c: RFC 9110 tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/token.h"

static void test_token_lengths(void **state)
{
    (void)state;
    assert_int_equal(kumo_http_token_len("text/plain", 10), 4);
    assert_int_equal(kumo_http_token_len("vnd.ms-excel;x", 14), 12);
    assert_int_equal(kumo_http_token_len("!#$%&'*+-.^_`|~", 15), 15);
    assert_int_equal(kumo_http_token_len(" x", 2), 0);
    assert_int_equal(kumo_http_token_len("a\0b", 3), 1);
    assert_int_equal(kumo_http_token_len("\xc3\xa9", 2), 0);
    assert_false(kumo_http_tchar('"'));
    assert_false(kumo_http_tchar('('));
    assert_false(kumo_http_tchar(0x7f));
    assert_true(kumo_http_tchar('~'));
}

static void test_token_quoted(void **state)
{
    (void)state;
    assert_int_equal(kumo_http_quoted_len("\"a b\";x", 7, 0), 5);
    assert_int_equal(kumo_http_quoted_len("\"a\\\"b\"", 6, 0), 6); /* "a\"b" */
    assert_int_equal(kumo_http_quoted_len("\"\"", 2, 0), 2);       /* empty */
    assert_int_equal(kumo_http_quoted_len("\"abc", 4, 0), 0);      /* not closed */
    assert_int_equal(kumo_http_quoted_len("\"a\\", 3, 0), 0);      /* escape at the end */
    assert_int_equal(kumo_http_quoted_len("abc", 3, 0), 0);
    assert_int_equal(kumo_http_quoted_len("\"a\nb\"", 5, 0), 0);     /* control */
    assert_int_equal(kumo_http_quoted_len("\"a\\\nb\"", 6, 1), 0);   /* escaped control */
    assert_int_equal(kumo_http_quoted_len("\"\xc3\xa9\"", 4, 0), 0); /* obs-text refused */
    assert_int_equal(kumo_http_quoted_len("\"\xc3\xa9\"", 4, 1), 4); /* or allowed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_lengths),
        cmocka_unit_test(test_token_quoted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
