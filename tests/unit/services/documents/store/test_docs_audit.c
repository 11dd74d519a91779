/* store/audit.c: the actor_roles text written into audit events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/audit.h"
#include "auth/jwt.h"

static void test_docs_auth_roles_text(void **state)
{
    (void)state;
    char out[64];
    docs_roles_text(KUMO_ROLE_ADMIN, out);
    assert_string_equal(out, "admin");
    docs_roles_text(KUMO_ROLE_VIEWER | KUMO_ROLE_EDITOR, out);
    assert_string_equal(out, "editor,viewer");
    docs_roles_text(KUMO_ROLE_ALL, out);
    assert_string_equal(out, "admin,editor,viewer,service");
    docs_roles_text(0, out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_auth_roles_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
