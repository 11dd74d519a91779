/* model.c (kumo-users): which roles a user may hold, and their ranks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "users.h"

static void test_users_model_roles(void **state)
{
    (void)state;
    assert_true(users_role_valid_for_user(KUMO__USERS__V1__ROLE__ROLE_VIEWER));
    assert_true(users_role_valid_for_user(KUMO__USERS__V1__ROLE__ROLE_EDITOR));
    assert_true(users_role_valid_for_user(KUMO__USERS__V1__ROLE__ROLE_ADMIN));
    assert_false(users_role_valid_for_user(KUMO__USERS__V1__ROLE__ROLE_UNSPECIFIED));
    assert_false(users_role_valid_for_user((Kumo__Users__V1__Role)99));
    assert_true(users_role_rank(KUMO__USERS__V1__ROLE__ROLE_ADMIN) >
                users_role_rank(KUMO__USERS__V1__ROLE__ROLE_EDITOR));
    assert_true(users_role_rank(KUMO__USERS__V1__ROLE__ROLE_EDITOR) >
                users_role_rank(KUMO__USERS__V1__ROLE__ROLE_VIEWER));
    assert_int_equal(users_role_rank((Kumo__Users__V1__Role)99), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_model_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
