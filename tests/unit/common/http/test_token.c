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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
