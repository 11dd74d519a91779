#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "auth/ratelimit.h"

#define K(s) (s), strlen(s)

static struct kumo_ratelimit *make(double rate, double burst, uint32_t capacity)
{
    struct kumo_ratelimit *r = NULL;
    struct kumo_ratelimit_config c = {rate, burst, capacity};
    assert_int_equal(kumo_ratelimit_new(&r, &c), 0);
    return r;
}

static void test_ratelimit_burst_then_refuse(void **state)
{
    (void)state;
    struct kumo_ratelimit *r = make(1, 3, 0);
    int64_t now = 1000000, retry = 0;
    for (int i = 0; i < 3; i++)
        assert_true(kumo_ratelimit_take(r, K("a"), now, &retry));
    assert_false(kumo_ratelimit_take(r, K("a"), now, &retry));
    assert_true(retry >= 900 && retry <= 1001);
    /* Another key has its own bucket. */
    assert_true(kumo_ratelimit_take(r, K("b"), now, NULL));
    kumo_ratelimit_free(r);
}

static void test_ratelimit_refills_at_rate(void **state)
{
    (void)state;
    struct kumo_ratelimit *r = make(10, 1, 0);
    int64_t now = 5000;
    assert_true(kumo_ratelimit_take(r, K("a"), now, NULL));
    assert_false(kumo_ratelimit_take(r, K("a"), now + 50, NULL));
    assert_true(kumo_ratelimit_take(r, K("a"), now + 100, NULL));
    /* A long pause never fills beyond the burst. */
    assert_true(kumo_ratelimit_take(r, K("a"), now + 100000, NULL));
    assert_false(kumo_ratelimit_take(r, K("a"), now + 100000, NULL));
    kumo_ratelimit_free(r);
}

static void test_ratelimit_bounded_table_forgives(void **state)
{
    (void)state;
    struct kumo_ratelimit *r = make(0.001, 1, 16);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_true(kumo_ratelimit_take(r, K(key), 1000 + i, NULL));
    }
    kumo_ratelimit_free(r);
}

static void test_ratelimit_rejects_bad_config(void **state)
{
    (void)state;
    struct kumo_ratelimit *r = (void *)1;
    struct kumo_ratelimit_config c = {0, 1, 0};
    assert_int_equal(kumo_ratelimit_new(&r, &c), KUMO_ERR_INVALID);
    c.rate = 1;
    c.burst = 0.5;
    assert_int_equal(kumo_ratelimit_new(&r, &c), KUMO_ERR_INVALID);
    c.burst = 1;
    c.capacity = (1u << 24) + 1;
    assert_int_equal(kumo_ratelimit_new(&r, &c), KUMO_ERR_INVALID);
    assert_ptr_equal(r, (void *)1);
}

static void test_ratelimit_parse(void **state)
{
    (void)state;
    double rate = -1, burst = -1;
    assert_int_equal(kumo_ratelimit_parse("50/s burst 100", &rate, &burst), 0);
    assert_true(rate == 50 && burst == 100);
    assert_int_equal(kumo_ratelimit_parse("10/m", &rate, &burst), 0);
    assert_true(rate > 0.166 && rate < 0.167 && burst == 10);
    assert_int_equal(kumo_ratelimit_parse("off", &rate, &burst), 0);
    assert_true(rate == 0);
    assert_int_equal(kumo_ratelimit_parse("3600/h", &rate, &burst), 0);
    assert_true(rate == 1);
    const char *bad[] = {
        "",           "50", "50/x",           "-1/s",  "50/s burst", "50/s burst 0",
        "50/s extra", "/s", "50/s  burst 5x", "1e99/s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rate = burst = 42;
        assert_int_equal(kumo_ratelimit_parse(bad[i], &rate, &burst), KUMO_ERR_INVALID);
        assert_true(rate == 42 && burst == 42);
    }
    assert_int_equal(kumo_ratelimit_parse(NULL, &rate, &burst), KUMO_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_burst_then_refuse),
        cmocka_unit_test(test_ratelimit_refills_at_rate),
        cmocka_unit_test(test_ratelimit_bounded_table_forgives),
        cmocka_unit_test(test_ratelimit_rejects_bad_config),
        cmocka_unit_test(test_ratelimit_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
