/* Tests of the health registry core (common/rpc/health.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "grpc/health/v1/health.pb-c.h"
#include "rpc/health.h"

#define SERVING     GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING

static int status_of(struct kumo_health *h, const char *service)
{
    int status = -1;
    assert_int_equal(kumo_health_check(h, service, &status), KUMO_CODE_OK);
    return status;
}

static void test_health_server_serving_at_start(void **state)
{
    (void)state;
    struct kumo_health *h = NULL;
    assert_int_equal(kumo_health_new(&h), 0);
    assert_non_null(h);
    assert_int_equal(status_of(h, ""), SERVING);
    assert_int_equal(status_of(h, NULL), SERVING); /* NULL means the whole server */
    kumo_health_free(h);
}

static void test_health_unknown_service_not_found(void **state)
{
    (void)state;
    struct kumo_health *h;
    assert_int_equal(kumo_health_new(&h), 0);
    int status = 12345;
    assert_int_equal(kumo_health_check(h, "kumo.test.v1.EchoService", &status),
                     KUMO_CODE_NOT_FOUND);
    assert_int_equal(status, 12345); /* untouched */
    /* A prefix or a case variant of a known name is still unknown. */
    kumo_health_set(h, "kumo.test.v1.EchoService", 1);
    assert_int_equal(kumo_health_check(h, "kumo.test.v1.Echo", &status), KUMO_CODE_NOT_FOUND);
    assert_int_equal(kumo_health_check(h, "KUMO.test.v1.EchoService", &status),
                     KUMO_CODE_NOT_FOUND);
    kumo_health_free(h);
}

static void test_health_set_flips_status(void **state)
{
    (void)state;
    struct kumo_health *h;
    assert_int_equal(kumo_health_new(&h), 0);
    kumo_health_set(h, "svc", 0);
    assert_int_equal(status_of(h, "svc"), NOT_SERVING);
    kumo_health_set(h, "svc", 1);
    assert_int_equal(status_of(h, "svc"), SERVING);
    kumo_health_set(h, "svc", 42); /* any nonzero is SERVING */
    assert_int_equal(status_of(h, "svc"), SERVING);
    /* Shutdown: the whole server goes NOT_SERVING, named services keep theirs. */
    kumo_health_set(h, NULL, 0);
    assert_int_equal(status_of(h, ""), NOT_SERVING);
    assert_int_equal(status_of(h, "svc"), SERVING);
    kumo_health_free(h);
}

static void test_health_set_copies_name(void **state)
{
    (void)state;
    struct kumo_health *h;
    assert_int_equal(kumo_health_new(&h), 0);
    char name[] = "copied.Service";
    kumo_health_set(h, name, 0);
    name[0] = 'X';
    assert_int_equal(status_of(h, "copied.Service"), NOT_SERVING);
    kumo_health_free(h);
}

static void count_change(void *ud)
{
    (*(int *)ud)++;
}

/* The change hook (which wakes held Watch streams) fires on real changes
 * only: a new name, or a status that flipped. */
static void test_health_on_change_fires_on_changes_only(void **state)
{
    (void)state;
    struct kumo_health *h = NULL;
    assert_int_equal(kumo_health_new(&h), 0);
    int n = 0;
    kumo_health_on_change(h, count_change, &n);
    kumo_health_set(h, "", 1); /* already SERVING */
    assert_int_equal(n, 0);
    kumo_health_set(h, "", 0);
    assert_int_equal(n, 1);
    kumo_health_set(h, "", 0);
    assert_int_equal(n, 1);
    kumo_health_set(h, "kumo.x.v1.X", 1); /* a new name */
    assert_int_equal(n, 2);
    kumo_health_on_change(h, NULL, NULL);
    kumo_health_set(h, "", 1);
    assert_int_equal(n, 2);
    kumo_health_free(h);
}

static void test_health_free_null(void **state)
{
    (void)state;
    kumo_health_free(NULL); /* must not crash */
    assert_true(1);
}

/* ---- concurrency: flips, additions and checks from several threads ---- */

#define FLIPS   20000
#define ADDED   200
#define CHECKER 3

struct race {
    struct kumo_health *h;
    atomic_int bad;     /* checks that saw something impossible */
    atomic_int done;    /* writer threads finished */
    atomic_long checks; /* successful checks */
};

static void *flipper(void *arg)
{
    struct race *rc = arg;
    for (int i = 0; i < FLIPS; i++) {
        kumo_health_set(rc->h, "", i & 1);
        kumo_health_set(rc->h, "flip", !(i & 1));
    }
    /* Last iteration (odd): "" SERVING, "flip" NOT_SERVING. */
    atomic_fetch_add(&rc->done, 1);
    return NULL;
}

static void *adder(void *arg)
{
    struct race *rc = arg;
    char name[32];
    /* Growing the table reallocates it under the checkers' feet. */
    for (int i = 0; i < ADDED; i++) {
        snprintf(name, sizeof(name), "added.S%d", i);
        kumo_health_set(rc->h, name, i % 2);
    }
    atomic_fetch_add(&rc->done, 1);
    return NULL;
}

static void *checker(void *arg)
{
    struct race *rc = arg;
    while (atomic_load(&rc->done) < 2) {
        int status = -1;
        if (kumo_health_check(rc->h, "", &status) != KUMO_CODE_OK ||
            (status != SERVING && status != NOT_SERVING))
            atomic_fetch_add(&rc->bad, 1);
        kumo_code c = kumo_health_check(rc->h, "flip", &status);
        if (c != KUMO_CODE_OK && c != KUMO_CODE_NOT_FOUND)
            atomic_fetch_add(&rc->bad, 1);
        kumo_health_check(rc->h, "added.S7", &status);
        atomic_fetch_add(&rc->checks, 1);
    }
    return NULL;
}

static void test_health_status_flips_thread_safely(void **state)
{
    (void)state;
    struct race rc;
    assert_int_equal(kumo_health_new(&rc.h), 0);
    atomic_init(&rc.bad, 0);
    atomic_init(&rc.done, 0);
    atomic_init(&rc.checks, 0);
    pthread_t w[2], c[CHECKER];
    for (int i = 0; i < CHECKER; i++)
        assert_int_equal(pthread_create(&c[i], NULL, checker, &rc), 0);
    assert_int_equal(pthread_create(&w[0], NULL, flipper, &rc), 0);
    assert_int_equal(pthread_create(&w[1], NULL, adder, &rc), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    for (int i = 0; i < CHECKER; i++)
        pthread_join(c[i], NULL);

    assert_int_equal(atomic_load(&rc.bad), 0);
    assert_true(atomic_load(&rc.checks) > 0);
    assert_int_equal(status_of(rc.h, ""), SERVING);
    assert_int_equal(status_of(rc.h, "flip"), NOT_SERVING);
    for (int i = 0; i < ADDED; i++) {
        char name[32];
        snprintf(name, sizeof(name), "added.S%d", i);
        assert_int_equal(status_of(rc.h, name), i % 2 ? SERVING : NOT_SERVING);
    }
    kumo_health_free(rc.h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_server_serving_at_start),
        cmocka_unit_test(test_health_unknown_service_not_found),
        cmocka_unit_test(test_health_set_flips_status),
        cmocka_unit_test(test_health_set_copies_name),
        cmocka_unit_test(test_health_on_change_fires_on_changes_only),
        cmocka_unit_test(test_health_free_null),
        cmocka_unit_test(test_health_status_flips_thread_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
