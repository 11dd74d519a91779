/* bff/pool.c: queued jobs all run, side by side up to the maximum, and
 * freeing the pool runs what is queued before the threads stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool.h"

static atomic_int ran, running, most;

static void job(void *arg)
{
    (void)arg;
    int now = atomic_fetch_add(&running, 1) + 1;
    int seen = atomic_load(&most);
    while (now > seen && !atomic_compare_exchange_weak(&most, &seen, now))
        ;
    usleep(20 * 1000);
    atomic_fetch_sub(&running, 1);
    atomic_fetch_add(&ran, 1);
}

static void test_pool_runs_every_job_side_by_side(void **state)
{
    (void)state;
    struct bff_pool *p;
    atomic_store(&ran, 0);
    atomic_store(&most, 0);
    assert_int_equal(bff_pool_new(&p, 8), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(bff_pool_run(p, job, NULL), 0);
    bff_pool_free(p); /* runs what is queued, then stops */
    assert_int_equal(atomic_load(&ran), 40);
    assert_true(atomic_load(&most) > 1);
    assert_true(atomic_load(&most) <= 8);
}

static void test_pool_bad_size(void **state)
{
    (void)state;
    struct bff_pool *p = NULL;
    assert_int_equal(bff_pool_new(&p, 0), -1);
    assert_null(p);
    bff_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_runs_every_job_side_by_side),
        cmocka_unit_test(test_pool_bad_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
