/* Tests of common/rpc/admit.c: the connection limits of an RPC port, in
 * total and per client address, and the per-address table under many
 * addresses coming and going (checked against a plain array). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rpc/admit.h"

static void test_rpc_admit_total_limit(void **state)
{
    (void)state;
    struct kumo__rpc_admit a;
    kumo__rpc_admit_init(&a, 3, 0); /* no per-address limit */
    assert_null(a.slots);
    for (int i = 0; i < 3; i++)
        assert_int_equal(kumo__rpc_admit_take(&a, "192.0.2.1"), KUMO_ADMIT_OK);
    assert_int_equal(kumo__rpc_admit_take(&a, "192.0.2.2"), KUMO_ADMIT_PORT_FULL);
    assert_int_equal(kumo__rpc_admit_open(&a, NULL), 3);
    kumo__rpc_admit_release(&a, "192.0.2.1");
    assert_int_equal(kumo__rpc_admit_take(&a, "192.0.2.2"), KUMO_ADMIT_OK);
    assert_int_equal(kumo__rpc_admit_open(&a, NULL), 3);
    kumo__rpc_admit_free(&a);
}

static void test_rpc_admit_per_address_limit(void **state)
{
    (void)state;
    struct kumo__rpc_admit a;
    kumo__rpc_admit_init(&a, 5, 2);
    assert_int_equal(kumo__rpc_admit_take(&a, "2001:db8::1"), KUMO_ADMIT_OK);
    assert_int_equal(kumo__rpc_admit_take(&a, "2001:db8::1"), KUMO_ADMIT_OK);
    /* One address cannot take the whole port... */
    assert_int_equal(kumo__rpc_admit_take(&a, "2001:db8::1"), KUMO_ADMIT_ADDRESS_FULL);
    assert_int_equal(kumo__rpc_admit_open(&a, "2001:db8::1"), 2);
    /* ...others still get in, until the port is full. */
    assert_int_equal(kumo__rpc_admit_take(&a, "192.0.2.7"), KUMO_ADMIT_OK);
    assert_int_equal(kumo__rpc_admit_take(&a, "192.0.2.7"), KUMO_ADMIT_OK);
    assert_int_equal(kumo__rpc_admit_take(&a, ""), KUMO_ADMIT_OK); /* unknown: total only */
    assert_int_equal(kumo__rpc_admit_take(&a, "192.0.2.8"), KUMO_ADMIT_PORT_FULL);
    assert_int_equal(kumo__rpc_admit_open(&a, NULL), 5);
    assert_int_equal(kumo__rpc_admit_open(&a, "192.0.2.8"), 0);
    kumo__rpc_admit_release(&a, "2001:db8::1");
    assert_int_equal(kumo__rpc_admit_open(&a, "2001:db8::1"), 1);
    assert_int_equal(kumo__rpc_admit_take(&a, "2001:db8::1"), KUMO_ADMIT_OK);
    kumo__rpc_admit_free(&a);
    /* A per-address limit at or above the total is no limit: no table. */
    kumo__rpc_admit_init(&a, 4, 4);
    assert_null(a.slots);
    kumo__rpc_admit_free(&a);
}

/* Deterministic pseudo-random numbers (xorshift32). */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void test_rpc_admit_table_under_churn(void **state)
{
    (void)state;
    /* 200 addresses coming and going with up to 3 connections each: the
     * table (deletions shift entries back) must agree with a plain count. */
    enum { ADDRS = 200, TOTAL = 256, PER = 3 };
    struct kumo__rpc_admit a;
    kumo__rpc_admit_init(&a, TOTAL, PER);
    int model[ADDRS] = {0};
    int total = 0;
    uint32_t seed = 12345;
    char peer[32];
    for (int step = 0; step < 200000; step++) {
        int i = (int)(rnd(&seed) % ADDRS);
        snprintf(peer, sizeof peer, "10.%d.%d.1", i % 7, i);
        if (rnd(&seed) % 2) {
            enum kumo__rpc_admit_result want = total >= TOTAL    ? KUMO_ADMIT_PORT_FULL
                                               : model[i] >= PER ? KUMO_ADMIT_ADDRESS_FULL
                                                                 : KUMO_ADMIT_OK;
            assert_int_equal(kumo__rpc_admit_take(&a, peer), want);
            if (want == KUMO_ADMIT_OK) {
                model[i]++;
                total++;
            }
        } else if (model[i] > 0) {
            kumo__rpc_admit_release(&a, peer);
            model[i]--;
            total--;
        }
        if (step % 1000 == 0) {
            assert_int_equal(kumo__rpc_admit_open(&a, NULL), total);
            for (int j = 0; j < ADDRS; j++) {
                snprintf(peer, sizeof peer, "10.%d.%d.1", j % 7, j);
                assert_int_equal(kumo__rpc_admit_open(&a, peer), model[j]);
            }
        }
    }
    kumo__rpc_admit_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_admit_total_limit),
        cmocka_unit_test(test_rpc_admit_per_address_limit),
        cmocka_unit_test(test_rpc_admit_table_under_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
