/* Tests of common/base/clock.c: the monotonic clock and the milliseconds
 * text of the access log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/clock.h"

static void test_clock_is_monotonic(void **state)
{
    (void)state;
    int64_t a = kumo_now_ns();
    int64_t b = kumo_now_ns();
    assert_true(a > 0);
    assert_true(b >= a);
}

static void test_format_ms_examples(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *text;
    } cases[] = {
        {0, "0.000"},
        {-5, "0.000"},
        {499, "0.000"},
        {500, "0.001"},
        {2440000, "2.440"},
        {2439600, "2.440"},
        {999999499, "999.999"},
        {999999500, "1000.000"},
        {12345678901234LL, "12345678.901"},
        {INT64_MAX, "9223372036854.776"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        kumo_format_ms(out, sizeof out, cases[i].ns);
        assert_string_equal(out, cases[i].text);
    }
}

/* Agrees with printf's "%.3f" of the same microseconds over a sweep. */
static void test_format_ms_matches_printf(void **state)
{
    (void)state;
    for (int64_t us = 0; us < 3000000; us += 7919) {
        char mine[32], theirs[32];
        kumo_format_ms(mine, sizeof mine, us * 1000);
        snprintf(theirs, sizeof theirs, "%lld.%03lld", (long long)(us / 1000),
                 (long long)(us % 1000));
        assert_string_equal(mine, theirs);
    }
}

static void test_format_ms_truncates_to_fit(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'x', sizeof out);
    kumo_format_ms(out, 4, 123456000);
    assert_string_equal(out, "123");
    kumo_format_ms(out, 1, 123456000);
    assert_string_equal(out, "");
    kumo_format_ms(out, 6, 1500000);
    assert_string_equal(out, "1.500");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_is_monotonic),
        cmocka_unit_test(test_format_ms_examples),
        cmocka_unit_test(test_format_ms_matches_printf),
        cmocka_unit_test(test_format_ms_truncates_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
