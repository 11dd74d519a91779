/* common/runtime/connthread.c: threads on stacks mapped for them run their
 * function with the stack size asked for, and once they end their stacks
 * are unmapped (by the next thread to end, or kumo_connthread_reap), so
 * nothing stays mapped after a burst of threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/connthread.h"

static atomic_int ran;
static atomic_size_t stack_seen;

static void *body(void *arg)
{
    /* A stack at least as big as asked: arg KiB of it are usable. */
    size_t use = (size_t)(uintptr_t)arg * 1024;
    volatile char big[use];
    memset((char *)big, 1, use);
    pthread_attr_t a;
    size_t sz = 0;
    void *addr = NULL;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &addr, &sz);
        pthread_attr_destroy(&a);
    }
    atomic_store(&stack_seen, sz);
    atomic_fetch_add(&ran, 1);
    return NULL;
}

static void wait_ran(int n)
{
    for (int i = 0; i < 2000 && atomic_load(&ran) < n; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&ran), n);
}

static void test_runs_and_unmaps(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    kumo_connthread_reap();
    assert_int_equal(kumo_connthread_stacks(), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(kumo_connthread_start(body, (void *)(uintptr_t)200, 256 * 1024), 0);
    wait_ran(50);
    assert_true(atomic_load(&stack_seen) >= 256 * 1024);
    /* Every thread but the last to end has been joined and unmapped by a
     * later one, or is about to be; an explicit reap takes the rest. */
    for (int i = 0; i < 2000 && kumo_connthread_stacks() > 1; i++) {
        usleep(1000);
        if (i > 100)
            kumo_connthread_reap();
    }
    assert_true(kumo_connthread_stacks() <= 1);
    kumo_connthread_reap();
    assert_int_equal(kumo_connthread_stacks(), 0);
}

static void test_small_stack_is_raised(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    atomic_store(&stack_seen, 0);
    assert_int_equal(kumo_connthread_start(body, (void *)(uintptr_t)16, 1), 0);
    wait_ran(1);
    assert_true(atomic_load(&stack_seen) >= 64 * 1024);
    for (int i = 0; i < 2000 && kumo_connthread_stacks() > 0; i++) {
        kumo_connthread_reap();
        usleep(1000);
    }
    assert_int_equal(kumo_connthread_stacks(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_and_unmaps),
        cmocka_unit_test(test_small_stack_is_raised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
