/* runtime/worker.c: a step runs at once, again after the sleep it asks
 * for, at once when woken (even when woken during the step), and stop ends
 * a long sleep promptly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "runtime/worker.h"

struct counter {
    atomic_int runs;
    int64_t sleep_ms;
    atomic_int block; /* the step waits while set */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t step(void *ud)
{
    struct counter *c = ud;
    atomic_fetch_add(&c->runs, 1);
    while (atomic_load(&c->block))
        sleep_ms(1);
    return c->sleep_ms;
}

/* Waits up to 2 s for at least `want` runs. */
static int runs_reach(struct counter *c, int want)
{
    for (int k = 0; k < 200; k++) {
        if (atomic_load(&c->runs) >= want)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

static int64_t elapsed_ms(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000LL + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void test_worker_repeats_after_interval(void **state)
{
    (void)state;
    struct counter c = {0, 10, 0};
    struct kumo_worker *w = kumo_worker_start(step, &c);
    assert_non_null(w);
    assert_true(runs_reach(&c, 3));
    kumo_worker_stop(w);
    int n = atomic_load(&c.runs);
    sleep_ms(50);
    assert_int_equal(atomic_load(&c.runs), n); /* stopped: no more runs */
}

static void test_worker_stop_ends_a_long_sleep(void **state)
{
    (void)state;
    struct counter c = {0, 3600 * 1000, 0};
    struct kumo_worker *w = kumo_worker_start(step, &c);
    assert_true(runs_reach(&c, 1));
    assert_int_equal(kumo_worker_stopping(w), 0);
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    kumo_worker_stop(w);
    assert_true(elapsed_ms(&a) < 1000);
    assert_int_equal(atomic_load(&c.runs), 1);
    kumo_worker_stop(NULL);
    kumo_worker_wake(NULL);
}

static void test_worker_wake_is_not_lost(void **state)
{
    (void)state;
    struct counter c = {0, 3600 * 1000, 1};
    struct kumo_worker *w = kumo_worker_start(step, &c);
    assert_true(runs_reach(&c, 1));
    kumo_worker_wake(w); /* during the step */
    atomic_store(&c.block, 0);
    assert_true(runs_reach(&c, 2)); /* the hour's sleep ended at once */
    sleep_ms(30);
    assert_int_equal(atomic_load(&c.runs), 2); /* and only once */
    kumo_worker_wake(w);                       /* during the sleep */
    assert_true(runs_reach(&c, 3));
    kumo_worker_stop(w);
}

static void test_worker_sleep_reports_stop(void **state)
{
    (void)state;
    struct counter c = {0, 3600 * 1000, 0};
    struct kumo_worker *w = kumo_worker_start(step, &c);
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(kumo_worker_sleep(w, 20), 0); /* times out: not stopping */
    assert_true(elapsed_ms(&a) >= 19);
    kumo_worker_stop(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_repeats_after_interval),
        cmocka_unit_test(test_worker_stop_ends_a_long_sleep),
        cmocka_unit_test(test_worker_wake_is_not_lost),
        cmocka_unit_test(test_worker_sleep_reports_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
