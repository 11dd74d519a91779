/* runtime/probes.c: the background readiness probes run at once, then
 * every interval, report their last outcome, and stop promptly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "runtime/probes.h"

struct fake {
    atomic_int healthy, runs;
};

static int fake_probe(void *ud)
{
    struct fake *f = ud;
    atomic_fetch_add(&f->runs, 1);
    return atomic_load(&f->healthy);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 2 s for probe i's outcome to become `want`. */
static int wait_for(struct kumo_probes *p, int i, int want)
{
    for (int k = 0; k < 200; k++) {
        if (kumo_probes_last(p, i) == want)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

static void test_probes_report_last_outcome(void **state)
{
    (void)state;
    struct fake up = {1, 0}, down = {0, 0};
    struct kumo_probes *p = NULL;
    assert_int_equal(kumo_probes_new(&p, 20), 0);
    assert_int_equal(kumo_probes_add(p, NULL, "up", fake_probe, &up, "up is down"), 0);
    assert_int_equal(kumo_probes_add(p, NULL, "down", fake_probe, &down, "down is down"), 0);
    assert_int_equal(kumo_probes_last(p, 0), 0); /* not run yet: not ready */
    assert_int_equal(kumo_probes_start(p), 0);
    assert_true(wait_for(p, 0, 1));
    assert_int_equal(kumo_probes_last(p, 1), 0);
    atomic_store(&down.healthy, 1); /* a dependency comes back... */
    assert_true(wait_for(p, 1, 1));
    atomic_store(&up.healthy, 0); /* ...another goes away */
    assert_true(wait_for(p, 0, 0));
    assert_true(atomic_load(&up.runs) >= 2);
    assert_int_equal(kumo_probes_last(p, 7), 0); /* no such probe */
    kumo_probes_free(p);
}

static void test_probes_stop_wakes_a_long_wait(void **state)
{
    (void)state;
    struct fake f = {1, 0};
    struct kumo_probes *p = NULL;
    assert_int_equal(kumo_probes_new(&p, 3600 * 1000), 0);
    assert_int_equal(kumo_probes_add(p, NULL, "f", fake_probe, &f, "f"), 0);
    assert_int_equal(kumo_probes_start(p), 0);
    assert_true(wait_for(p, 0, 1));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    kumo_probes_free(p); /* must not wait out the hour */
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(b.tv_sec - a.tv_sec < 2);
    assert_int_equal(atomic_load(&f.runs), 1);
}

static void test_probes_limits(void **state)
{
    (void)state;
    struct fake f = {1, 0};
    struct kumo_probes *p = NULL;
    assert_int_equal(kumo_probes_new(&p, 0), -1);
    assert_null(p);
    assert_int_equal(kumo_probes_new(&p, 1000), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(kumo_probes_add(p, NULL, "f", fake_probe, &f, "f"), 0);
    assert_int_equal(kumo_probes_add(p, NULL, "f", fake_probe, &f, "f"), -1);
    kumo_probes_free(p); /* never started */
    kumo_probes_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes_report_last_outcome),
        cmocka_unit_test(test_probes_stop_wakes_a_long_wait),
        cmocka_unit_test(test_probes_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
