/* bff/pool.c: queued jobs all run, side by side up to the maximum, and
 * freeing the pool runs what is queued before the threads stop; past the
 * queue bound a job is refused at once (BFF_POOL_FULL); places reserved
 * for requests served without a thread count in the same bound. */
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
    assert_int_equal(bff_pool_new(&p, 8, 64), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(bff_pool_run(p, job, NULL), 0);
    bff_pool_free(p); /* runs what is queued, then stops */
    assert_int_equal(atomic_load(&ran), 40);
    assert_true(atomic_load(&most) > 1);
    assert_true(atomic_load(&most) <= 8);
}

static atomic_int release;

static void blocked(void *arg)
{
    (void)arg;
    while (!atomic_load(&release))
        usleep(1000);
    atomic_fetch_add(&ran, 1);
}

static void test_pool_refuses_past_its_queue(void **state)
{
    (void)state;
    struct bff_pool *p;
    atomic_store(&ran, 0);
    atomic_store(&release, 0);
    assert_int_equal(bff_pool_new(&p, 2, 3), 0);
    for (int i = 0; i < 5; i++) /* 2 running, 3 waiting */
        assert_int_equal(bff_pool_run(p, blocked, NULL), 0);
    assert_int_equal(bff_pool_run(p, blocked, NULL), BFF_POOL_FULL);
    assert_int_equal(bff_pool_load(p), 5);
    atomic_store(&release, 1);
    while (bff_pool_load(p) > 0)
        usleep(1000);
    assert_int_equal(bff_pool_run(p, blocked, NULL), 0); /* room again */
    bff_pool_free(p);
    assert_int_equal(atomic_load(&ran), 6);
}

static void test_pool_reserved_places_share_the_bound(void **state)
{
    (void)state;
    struct bff_pool *p;
    atomic_store(&ran, 0);
    atomic_store(&release, 0);
    assert_int_equal(bff_pool_new(&p, 2, 3), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(bff_pool_reserve(p), 0);
    for (int i = 0; i < 2; i++) /* 3 reserved + 2 jobs = 5 = 2 + 3 */
        assert_int_equal(bff_pool_run(p, blocked, NULL), 0);
    assert_int_equal(bff_pool_load(p), 5);
    assert_int_equal(bff_pool_run(p, blocked, NULL), BFF_POOL_FULL);
    assert_int_equal(bff_pool_reserve(p), BFF_POOL_FULL);
    bff_pool_unreserve(p);
    assert_int_equal(bff_pool_load(p), 4);
    assert_int_equal(bff_pool_reserve(p), 0); /* room again */
    for (int i = 0; i < 3; i++)
        bff_pool_unreserve(p);
    atomic_store(&release, 1);
    while (bff_pool_load(p) > 0)
        usleep(1000);
    bff_pool_free(p);
    assert_int_equal(atomic_load(&ran), 2);
}

static void test_pool_bad_size(void **state)
{
    (void)state;
    struct bff_pool *p = NULL;
    assert_int_equal(bff_pool_new(&p, 0, 1), -1);
    assert_int_equal(bff_pool_new(&p, 1, -1), -1);
    assert_null(p);
    bff_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_runs_every_job_side_by_side),
        cmocka_unit_test(test_pool_refuses_past_its_queue),
        cmocka_unit_test(test_pool_reserved_places_share_the_bound),
        cmocka_unit_test(test_pool_bad_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
