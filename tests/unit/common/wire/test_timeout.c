#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "wire/timeout.h"

static int64_t grpc_ok(const char *s)
{
    int64_t ns = -1;
    assert_int_equal(kumo_grpc_timeout_parse(s, strlen(s), &ns), 0);
    return ns;
}

static void grpc_bad(const char *s, size_t len)
{
    int64_t ns = -42;
    assert_int_equal(kumo_grpc_timeout_parse(s, len, &ns), KUMO_ERR_INVALID);
    assert_int_equal(ns, -42); /* untouched */
}

#define GRPC_BAD(s) grpc_bad(s, sizeof(s) - 1)

static void test_timeout_grpc_parse_units(void **state)
{
    (void)state;
    assert_int_equal(grpc_ok("1n"), 1);
    assert_int_equal(grpc_ok("1u"), 1000);
    assert_int_equal(grpc_ok("1m"), 1000000);
    assert_int_equal(grpc_ok("1S"), 1000000000);
    assert_int_equal(grpc_ok("1M"), 60000000000);
    assert_int_equal(grpc_ok("1H"), 3600000000000);
    assert_int_equal(grpc_ok("0n"), 0);
    assert_int_equal(grpc_ok("0H"), 0);
    assert_int_equal(grpc_ok("250m"), 250000000);
    assert_int_equal(grpc_ok("00000007S"), 7000000000);
}

static void test_timeout_grpc_parse_eight_digits(void **state)
{
    (void)state;
    assert_int_equal(grpc_ok("99999999n"), 99999999);
    assert_int_equal(grpc_ok("99999999u"), 99999999000);
    assert_int_equal(grpc_ok("99999999S"), 99999999000000000);
    assert_int_equal(grpc_ok("99999999M"), 5999999940000000000);
    GRPC_BAD("100000000n"); /* 9 digits */
    GRPC_BAD("000000001S");
}

static void test_timeout_grpc_parse_saturates(void **state)
{
    (void)state;
    /* 2562047 hours fit in int64 nanoseconds, 2562048 do not. */
    assert_int_equal(grpc_ok("2562047H"), 2562047 * 3600000000000LL);
    assert_int_equal(grpc_ok("2562048H"), INT64_MAX);
    assert_int_equal(grpc_ok("99999999H"), INT64_MAX);
}

static void test_timeout_grpc_parse_rejects_malformed(void **state)
{
    (void)state;
    GRPC_BAD("");
    GRPC_BAD("1");
    GRPC_BAD("S");
    GRPC_BAD("12");
    GRPC_BAD("1h");
    GRPC_BAD("1s");
    GRPC_BAD("1x");
    GRPC_BAD("1SS");
    GRPC_BAD(" 1S");
    GRPC_BAD("1S ");
    GRPC_BAD("1 S");
    GRPC_BAD("-1S");
    GRPC_BAD("+1S");
    GRPC_BAD("1.5S");
    GRPC_BAD("0x1S");
    GRPC_BAD("1\0S");
    GRPC_BAD("\xd9\xa1S"); /* a non-ASCII digit */
    /* The length is honoured, not a NUL. */
    int64_t ns;
    assert_int_equal(kumo_grpc_timeout_parse("5S99", 2, &ns), 0);
    assert_int_equal(ns, 5000000000);
}

static void expect_format(int64_t ns, const char *want)
{
    char out[KUMO_GRPC_TIMEOUT_MAX];
    memset(out, 'x', sizeof out);
    kumo_grpc_timeout_format(ns, out);
    assert_string_equal(out, want);
}

static void test_timeout_grpc_format_finest_unit(void **state)
{
    (void)state;
    expect_format(1, "1n");
    expect_format(99999999, "99999999n");
    expect_format(100000000, "100000u");
    expect_format(1000000000, "1000000u");
    expect_format(99999999000, "99999999u");
    expect_format(99999999001, "100000m"); /* rounded up */
    expect_format(100000000000, "100000m");
    expect_format(99999999000000000, "99999999S");
    expect_format(INT64_MAX, "2562048H");
}

static void test_timeout_grpc_format_rounds_up(void **state)
{
    (void)state;
    expect_format(100000001, "100001u");
    expect_format(100000999, "100001u");
    expect_format(100001000, "100001u");
    expect_format(100001001, "100002u");
}

static void test_timeout_grpc_format_non_positive(void **state)
{
    (void)state;
    expect_format(0, "1n");
    expect_format(-1, "1n");
    expect_format(INT64_MIN, "1n");
}

/* Format then parse never shortens a deadline and loses less than one unit
 * of the chosen (finest fitting) resolution. */
static void test_timeout_grpc_format_parse_round_trip(void **state)
{
    (void)state;
    srand(5);
    for (int i = 0; i < 100000; i++) {
        int64_t ns;
        switch (i % 3) {
        case 0:
            ns = rand() % 1000000;
            break;
        case 1:
            ns = (int64_t)rand() * rand();
            break;
        default:
            ns = ((int64_t)rand() << 32 | (int64_t)rand()) & INT64_MAX;
        }
        if (ns < 1)
            ns = 1;
        char out[KUMO_GRPC_TIMEOUT_MAX];
        kumo_grpc_timeout_format(ns, out);
        size_t len = strlen(out);
        assert_true(len >= 2 && len <= 9);
        int64_t back;
        assert_int_equal(kumo_grpc_timeout_parse(out, len, &back), 0);
        assert_true(back >= ns);
        /* The loss is below one unit; a coarser unit is only chosen when the
         * value in the next finer one overflows 8 digits, so the value has at
         * least 100000 units (1000x steps) and the relative loss is < 1e-5. */
        int64_t unit = back == INT64_MAX ? 0 : back / strtoll(out, NULL, 10);
        assert_true(back - ns < (unit ? unit : INT64_MAX));
        assert_true(ns < 100000000 || (double)(back - ns) <= (double)ns / 1e5);
    }
}

static int64_t connect_ok(const char *s)
{
    int64_t ns = -1;
    assert_int_equal(kumo_connect_timeout_parse(s, strlen(s), &ns), 0);
    return ns;
}

static void connect_bad(const char *s, size_t len)
{
    int64_t ns = -42;
    assert_int_equal(kumo_connect_timeout_parse(s, len, &ns), KUMO_ERR_INVALID);
    assert_int_equal(ns, -42);
}

#define CONNECT_BAD(s) connect_bad(s, sizeof(s) - 1)

static void test_timeout_connect_parse(void **state)
{
    (void)state;
    assert_int_equal(connect_ok("0"), 0);
    assert_int_equal(connect_ok("1"), 1000000);
    assert_int_equal(connect_ok("1500"), 1500000000);
    assert_int_equal(connect_ok("0000000001"), 1000000);
    assert_int_equal(connect_ok("9999999999"), 9999999999000000);
    CONNECT_BAD("");
    CONNECT_BAD("10000000000"); /* 11 digits */
    CONNECT_BAD("-1");
    CONNECT_BAD("+1");
    CONNECT_BAD(" 1");
    CONNECT_BAD("1 ");
    CONNECT_BAD("1.5");
    CONNECT_BAD("1ms");
    CONNECT_BAD("1e3");
    CONNECT_BAD("0x10");
    CONNECT_BAD("1\0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_grpc_parse_units),
        cmocka_unit_test(test_timeout_grpc_parse_eight_digits),
        cmocka_unit_test(test_timeout_grpc_parse_saturates),
        cmocka_unit_test(test_timeout_grpc_parse_rejects_malformed),
        cmocka_unit_test(test_timeout_grpc_format_finest_unit),
        cmocka_unit_test(test_timeout_grpc_format_rounds_up),
        cmocka_unit_test(test_timeout_grpc_format_non_positive),
        cmocka_unit_test(test_timeout_grpc_format_parse_round_trip),
        cmocka_unit_test(test_timeout_connect_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
