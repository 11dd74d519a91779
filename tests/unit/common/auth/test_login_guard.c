#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "auth/login_guard.h"

static struct kumo_login_guard *make(void)
{
    struct kumo_login_guard *g = NULL;
    struct kumo_login_guard_config c = {20, 5, 10, 15 * 60 * 1000, 0.5};
    assert_int_equal(kumo_login_guard_new(&g, &c), 0);
    return g;
}

static int admit(struct kumo_login_guard *g, const char *acct, const char *addr, int64_t now,
                 int64_t *ra)
{
    *ra = 0;
    return kumo_login_guard_admit(g, acct, addr, now, ra);
}

/* A sprayer's failures block its own address only. */
static void test_login_guard_address_spray_blocks_only_the_sprayer(void **state)
{
    (void)state;
    struct kumo_login_guard *g = make();
    int64_t now = 5000000, ra;
    char acct[32];
    for (int i = 0; i < 20; i++) {
        snprintf(acct, sizeof acct, "t|user%d", i);
        assert_true(admit(g, acct, "203.0.113.7", now, &ra));
        kumo_login_guard_failed(g, acct, "203.0.113.7", now);
    }
    for (int i = 0; i < 20; i++) /* API keys, no account */
        kumo_login_guard_failed(g, NULL, "203.0.113.7", now);
    assert_false(admit(g, "t|owner", "203.0.113.7", now, &ra));
    assert_true(ra > 0 && ra <= 15 * 60 * 1000 * 2);
    assert_false(admit(g, NULL, "203.0.113.7", now, &ra));
    assert_true(ra > 0);
    /* Another address: the same accounts and any API key are fine. */
    assert_true(admit(g, "t|owner", "198.51.100.9", now, &ra));
    assert_true(admit(g, "t|user3", "198.51.100.9", now, &ra));
    assert_true(admit(g, NULL, "198.51.100.9", now, &ra));
    assert_int_equal(ra, 0);
    /* A success from the sprayer does not launder its count. */
    kumo_login_guard_succeeded(g, "t|user3", "203.0.113.7");
    assert_false(admit(g, "t|user3", "203.0.113.7", now, &ra));
    kumo_login_guard_free(g);
}

/* Failures on one account from one address block that pair only. */
static void test_login_guard_pair_blocks_only_the_pair(void **state)
{
    (void)state;
    struct kumo_login_guard *g = make();
    int64_t now = 5000000, ra;
    for (int i = 0; i < 5; i++)
        kumo_login_guard_failed(g, "t|alice", "192.0.2.1", now);
    assert_false(admit(g, "t|alice", "192.0.2.1", now, &ra));
    assert_true(ra > 0);
    assert_true(admit(g, "t|bob", "192.0.2.1", now, &ra));
    assert_true(admit(g, "t|alice", "192.0.2.2", now, &ra));
    kumo_login_guard_free(g);
}

/* Many addresses against one account slow it down, never lock it. */
static void test_login_guard_distributed_guess_slows_the_account(void **state)
{
    (void)state;
    struct kumo_login_guard *g = make();
    int64_t now = 5000000, ra;
    char addr[32];
    for (int i = 0; i < 10; i++) {
        snprintf(addr, sizeof addr, "10.0.0.%d", i + 1);
        kumo_login_guard_failed(g, "t|alice", addr, now);
    }
    /* One attempt admitted per 2 s (rate 0.5/s), whatever the address. */
    assert_true(admit(g, "t|alice", "198.51.100.9", now, &ra));
    assert_false(admit(g, "t|alice", "198.51.100.10", now, &ra));
    assert_true(ra >= 1 && ra <= 2001);
    assert_true(admit(g, "t|alice", "198.51.100.10", now + ra, &ra));
    /* Other accounts are untouched. */
    assert_true(admit(g, "t|bob", "10.0.0.1", now, &ra));
    assert_true(admit(g, "t|bob", "10.0.0.1", now, &ra));
    /* The owner's success clears the slowdown. */
    kumo_login_guard_succeeded(g, "t|alice", "198.51.100.9");
    assert_true(admit(g, "t|alice", "198.51.100.11", now + 2001, &ra));
    assert_true(admit(g, "t|alice", "198.51.100.12", now + 2001, &ra));
    kumo_login_guard_free(g);
}

static void test_login_guard_rejects_bad_config(void **state)
{
    (void)state;
    struct kumo_login_guard *g = (void *)0x1;
    struct kumo_login_guard_config c = {0, 5, 10, 1000, 1};
    assert_int_equal(kumo_login_guard_new(&g, &c), KUMO_ERR_INVALID);
    c = (struct kumo_login_guard_config){1, 5, 10, 1000, 0};
    assert_int_equal(kumo_login_guard_new(&g, &c), KUMO_ERR_INVALID);
    c = (struct kumo_login_guard_config){1, 5, 10, 0, 1};
    assert_int_equal(kumo_login_guard_new(&g, &c), KUMO_ERR_INVALID);
    assert_int_equal(kumo_login_guard_new(&g, NULL), KUMO_ERR_INVALID);
    assert_ptr_equal(g, (void *)0x1);
    kumo_login_guard_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_guard_address_spray_blocks_only_the_sprayer),
        cmocka_unit_test(test_login_guard_pair_blocks_only_the_pair),
        cmocka_unit_test(test_login_guard_distributed_guess_slows_the_account),
        cmocka_unit_test(test_login_guard_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
