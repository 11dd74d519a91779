#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/row.h"
#include "base/ids.h"

/* A malloc allocator that records what it handed out, to free it all. */
static void *blocks[64];
static size_t n_blocks;
static void *t_alloc(void *ud, size_t n)
{
    (void)ud;
    void *p = calloc(1, n);
    blocks[n_blocks++] = p;
    return p;
}
static void t_free(void *ud, void *p)
{
    (void)ud;
    (void)p;
}
static ProtobufCAllocator A = {t_alloc, t_free, NULL};
static void free_all(void)
{
    while (n_blocks)
        free(blocks[--n_blocks]);
}

static void test_db_row_timestamp_positive(void **state)
{
    (void)state;
    Google__Protobuf__Timestamp *t = kumo_pb_timestamp(&A, 1763900000123456LL);
    assert_true(t->seconds == 1763900000);
    assert_int_equal(t->nanos, 123456000);
    t = kumo_pb_timestamp(&A, 0);
    assert_true(t->seconds == 0);
    assert_int_equal(t->nanos, 0);
    free_all();
}

static void test_db_row_timestamp_negative(void **state)
{
    (void)state;
    /* -1.5 s is -2 s + 0.5 s: nanos never negative. */
    Google__Protobuf__Timestamp *t = kumo_pb_timestamp(&A, -1500000);
    assert_true(t->seconds == -2);
    assert_int_equal(t->nanos, 500000000);
    t = kumo_pb_timestamp(&A, -1);
    assert_true(t->seconds == -1);
    assert_int_equal(t->nanos, 999999000);
    free_all();
}

static void test_db_row_etag_round_trips(void **state)
{
    (void)state;
    char *e = kumo_pb_etag(&A, 1234567);
    assert_string_equal(e, "1234567");
    int64_t v = 0;
    assert_int_equal(kumo_etag_parse(e, &v), 0);
    assert_true(v == 1234567);
    free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_row_timestamp_positive),
        cmocka_unit_test(test_db_row_timestamp_negative),
        cmocka_unit_test(test_db_row_etag_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
