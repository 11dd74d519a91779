#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "auth/throttle.h"

#define K(s) (s), strlen(s)

static struct kumo_throttle *make(uint32_t limit, int64_t window_ms, uint32_t capacity)
{
    struct kumo_throttle *t = NULL;
    struct kumo_throttle_config c = {limit, window_ms, capacity};
    assert_int_equal(kumo_throttle_new(&t, &c), 0);
    return t;
}

static void test_throttle_blocks_at_the_limit(void **state)
{
    (void)state;
    struct kumo_throttle *t = make(3, 60000, 0);
    int64_t now = 1000000;
    for (int i = 0; i < 3; i++) {
        assert_false(kumo_throttle_blocked(t, K("acct"), now));
        kumo_throttle_hit(t, K("acct"), now);
    }
    assert_true(kumo_throttle_blocked(t, K("acct"), now));
    assert_false(kumo_throttle_blocked(t, K("other"), now));
    assert_true(kumo_throttle_count(t, K("acct"), now) == 3.0);
    kumo_throttle_free(t);
}

/* retry_after names the first moment the key is no longer blocked: one
 * millisecond earlier it still is. */
static void test_throttle_retry_after_is_exact(void **state)
{
    (void)state;
    struct kumo_throttle *t = make(4, 10000, 0);
    int64_t w0 = 1000000; /* a window boundary (multiple of 10000) */
    assert_int_equal(kumo_throttle_retry_after_ms(t, K("a"), w0), 0);
    int64_t checks[] = {w0 + 2000, w0 + 9999, w0 + 10000, w0 + 12000};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        /* A key of its own per check: the clock never runs backwards. */
        char key[8];
        snprintf(key, sizeof key, "k%zu", i);
        for (int j = 0; j < 6; j++)
            kumo_throttle_hit(t, K(key), w0 + 2000);
        int64_t now = checks[i];
        int64_t ra = kumo_throttle_retry_after_ms(t, K(key), now);
        assert_true(ra >= 1);
        assert_true(kumo_throttle_blocked(t, K(key), now + ra - 2));
        assert_false(kumo_throttle_blocked(t, K(key), now + ra));
    }
    /* Below the limit: 0. */
    assert_int_equal(kumo_throttle_retry_after_ms(t, K("b"), w0), 0);
    kumo_throttle_hit(t, K("b"), w0);
    assert_int_equal(kumo_throttle_retry_after_ms(t, K("b"), w0), 0);
    kumo_throttle_free(t);
}

static void test_throttle_window_slides(void **state)
{
    (void)state;
    struct kumo_throttle *t = make(4, 1000, 0);
    int64_t w0 = 5000; /* start of a fixed window */
    for (int i = 0; i < 4; i++)
        kumo_throttle_hit(t, K("k"), w0 + 100);
    assert_true(kumo_throttle_blocked(t, K("k"), w0 + 999));
    /* A quarter into the next window, 3/4 of the previous count still
     * weighs: 3 < 4, no longer blocked. */
    assert_true(kumo_throttle_count(t, K("k"), w0 + 1250) == 3.0);
    assert_false(kumo_throttle_blocked(t, K("k"), w0 + 1250));
    kumo_throttle_hit(t, K("k"), w0 + 1250);
    assert_true(kumo_throttle_blocked(t, K("k"), w0 + 1250));
    /* Two windows later, everything is forgotten. */
    assert_true(kumo_throttle_count(t, K("k"), w0 + 3100) == 0.0);
    kumo_throttle_free(t);
}

static void test_throttle_reset_forgets(void **state)
{
    (void)state;
    struct kumo_throttle *t = make(1, 60000, 0);
    kumo_throttle_hit(t, K("a"), 10);
    assert_true(kumo_throttle_blocked(t, K("a"), 10));
    kumo_throttle_reset(t, K("a"));
    assert_false(kumo_throttle_blocked(t, K("a"), 10));
    kumo_throttle_reset(t, K("never seen"));
    kumo_throttle_hit(t, "", 0, 10); /* empty key is a key */
    assert_true(kumo_throttle_blocked(t, "", 0, 10));
    kumo_throttle_free(t);
}

static void test_throttle_memory_is_bounded(void **state)
{
    (void)state;
    /* 16 slots, thousands of keys: old keys are forgotten, recent ones
     * still count, nothing grows. */
    struct kumo_throttle *t = make(2, 60000, 16);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        kumo_throttle_hit(t, K(key), 1000 + i);
        kumo_throttle_hit(t, K(key), 1000 + i);
    }
    assert_true(kumo_throttle_blocked(t, K("key-4999"), 7000));
    int remembered = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        remembered += kumo_throttle_blocked(t, K(key), 7000);
    }
    assert_true(remembered <= 16);
    assert_true(remembered >= 1);
    kumo_throttle_free(t);
}

static void test_throttle_rejects_bad_config(void **state)
{
    (void)state;
    struct kumo_throttle *t = (struct kumo_throttle *)&t;
    struct kumo_throttle_config zero_limit = {0, 1000, 0};
    struct kumo_throttle_config zero_window = {1, 0, 0};
    struct kumo_throttle_config huge = {1, 1000, (1u << 24) + 1};
    assert_int_equal(kumo_throttle_new(&t, &zero_limit), KUMO_ERR_INVALID);
    assert_int_equal(kumo_throttle_new(&t, &zero_window), KUMO_ERR_INVALID);
    assert_int_equal(kumo_throttle_new(&t, &huge), KUMO_ERR_INVALID);
    assert_int_equal(kumo_throttle_new(&t, NULL), KUMO_ERR_INVALID);
    assert_ptr_equal(t, (struct kumo_throttle *)&t);
    kumo_throttle_free(NULL);
}

static struct kumo_throttle *shared;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        kumo_throttle_hit(shared, K("hot"), 50);
    return NULL;
}

static void test_throttle_counts_from_many_threads(void **state)
{
    (void)state;
    shared = make(1000000, 60000, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(kumo_throttle_count(shared, K("hot"), 50) == 4000.0);
    kumo_throttle_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_throttle_blocks_at_the_limit),
        cmocka_unit_test(test_throttle_retry_after_is_exact),
        cmocka_unit_test(test_throttle_window_slides),
        cmocka_unit_test(test_throttle_reset_forgets),
        cmocka_unit_test(test_throttle_memory_is_bounded),
        cmocka_unit_test(test_throttle_rejects_bad_config),
        cmocka_unit_test(test_throttle_counts_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
