/* base/calendar.c: Gregorian dates <-> days since the epoch, month
 * lengths, UTC years. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/calendar.h"

static void test_calendar_known_days(void **state)
{
    (void)state;
    assert_int_equal(kumo_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(kumo_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(kumo_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(kumo_days_from_civil(1, 1, 1), -719162);
    assert_int_equal(kumo_days_from_civil(9999, 12, 31), 2932896);
}

static void test_calendar_round_trips(void **state)
{
    (void)state;
    for (int64_t z = -800000; z <= 3000000; z += 997) {
        int64_t y;
        unsigned m, d;
        kumo_civil_from_days(z, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && (int)d <= kumo_days_in_month(y, m));
        assert_int_equal(kumo_days_from_civil(y, m, d), z);
    }
}

static void test_calendar_month_lengths_and_years(void **state)
{
    (void)state;
    assert_int_equal(kumo_days_in_month(2024, 2), 29);
    assert_int_equal(kumo_days_in_month(1900, 2), 28);
    assert_int_equal(kumo_days_in_month(2000, 2), 29);
    assert_int_equal(kumo_days_in_month(2026, 12), 31);
    assert_int_equal(kumo_utc_year_us(0), 1970);
    assert_int_equal(kumo_utc_year_us(-1), 1969);
    assert_int_equal(kumo_utc_year_us(1767225599LL * 1000000), 2025);
    assert_int_equal(kumo_utc_year_us(1767225600LL * 1000000), 2026);
}

/* Checked date-times: what exists gives the epoch seconds timegm gives,
 * what does not (normalising would hide it) is refused. */
static void test_calendar_utc_seconds(void **state)
{
    (void)state;
    int64_t t = -7;
    assert_int_equal(kumo_utc_seconds(1970, 1, 1, 0, 0, 0, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(kumo_utc_seconds(2015, 8, 30, 12, 36, 0, &t), 0);
    assert_int_equal(t, 1440938160);
    assert_int_equal(kumo_utc_seconds(2024, 2, 29, 23, 59, 59, &t), 0);
    assert_int_equal(t, 1709251199);
    t = -7;
    assert_int_equal(kumo_utc_seconds(2015, 2, 31, 0, 0, 0, &t), -1);
    assert_int_equal(kumo_utc_seconds(2023, 2, 29, 0, 0, 0, &t), -1);
    assert_int_equal(kumo_utc_seconds(2015, 1, 1, 24, 0, 0, &t), -1);
    assert_int_equal(kumo_utc_seconds(2015, 1, 1, 0, 60, 0, &t), -1);
    assert_int_equal(kumo_utc_seconds(2015, 1, 1, 0, 0, 60, &t), -1);
    assert_int_equal(kumo_utc_seconds(2015, 13, 1, 0, 0, 0, &t), -1);
    assert_int_equal(kumo_utc_seconds(2015, 0, 1, 0, 0, 0, &t), -1);
    assert_int_equal(kumo_utc_seconds(1969, 12, 31, 23, 59, 59, &t), -1);
    assert_int_equal(kumo_utc_seconds(10000, 1, 1, 0, 0, 0, &t), -1);
    assert_int_equal(t, -7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar_known_days),
        cmocka_unit_test(test_calendar_round_trips),
        cmocka_unit_test(test_calendar_month_lengths_and_years),
        cmocka_unit_test(test_calendar_utc_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
