/* auth.c (kumo-users): who ranks how, and how far an API key may grant
 * (only below its own role unless the tenant lets keys grant). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "users.h"

static struct kumo_principal who(const char *sub, const char *tid, unsigned roles)
{
    struct kumo_principal p;
    memset(&p, 0, sizeof p);
    snprintf(p.sub, sizeof p.sub, "%s", sub);
    snprintf(p.tid, sizeof p.tid, "%s", tid);
    p.roles = roles;
    p.service = (roles & KUMO_ROLE_SERVICE) != 0;
    return p;
}

static void test_users_auth_ranks(void **state)
{
    (void)state;
    struct kumo_principal admin = who("us_1", "tn_1", KUMO_ROLE_ADMIN | KUMO_ROLE_VIEWER);
    struct kumo_principal editor = who("us_2", "tn_1", KUMO_ROLE_EDITOR);
    struct kumo_principal viewer = who("us_3", "tn_1", KUMO_ROLE_VIEWER);
    struct kumo_principal svc = who("documents", "tn_1", KUMO_ROLE_SERVICE | KUMO_ROLE_ADMIN);
    assert_int_equal(users_caller_rank(&admin), 3);
    assert_int_equal(users_caller_rank(&editor), 2);
    assert_int_equal(users_caller_rank(&viewer), 1);
    assert_int_equal(users_caller_rank(&svc), 0); /* a service is no user */
    assert_int_equal(users_caller_rank(NULL), 0);
    assert_true(users_caller_is_admin(&admin));
    assert_false(users_caller_is_admin(&editor));
    assert_false(users_caller_is_admin(&svc));
}

static void test_users_auth_keys_grant_below_their_role(void **state)
{
    (void)state;
    struct users_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    struct kumo_principal user = who("us_1", "tn_1", KUMO_ROLE_ADMIN);
    struct kumo_principal key = who(USERS_KEY_SUB_PREFIX "k1", "tn_1", KUMO_ROLE_ADMIN);
    assert_false(users_key_principal(&user));
    assert_true(users_key_principal(&key));
    assert_int_equal(users_grant_rank(&ctx, &user), 3);
    assert_int_equal(users_grant_rank(&ctx, &key), 2);
    ctx.s.key_grant_tenants = "tn_0, tn_1";
    assert_int_equal(users_grant_rank(&ctx, &key), 3);
    ctx.s.key_grant_tenants = "tn_10,tn_"; /* whole names only */
    assert_int_equal(users_grant_rank(&ctx, &key), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_auth_ranks),
        cmocka_unit_test(test_users_auth_keys_grant_below_their_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
