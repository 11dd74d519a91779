/* rpc/fields.c: the shape of kumo ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/fields.h"

static void test_fields_id_shape(void **state)
{
    (void)state;
    assert_true(kumo_rpc_id_valid("doc_abcdefghij0123456789"));
    assert_true(kumo_rpc_id_valid("a"));
    assert_false(kumo_rpc_id_valid(""));
    assert_false(kumo_rpc_id_valid("Doc_1"));       /* upper case */
    assert_false(kumo_rpc_id_valid("doc-1"));       /* '-' */
    assert_false(kumo_rpc_id_valid("doc_1' OR 1")); /* anything else */
    assert_false(kumo_rpc_id_valid("doc_\xc3\xa9"));
    char id[KUMO_RPC_ID_MAX + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    assert_false(kumo_rpc_id_valid(id)); /* 33 characters */
    id[KUMO_RPC_ID_MAX] = '\0';
    assert_true(kumo_rpc_id_valid(id)); /* 32 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_id_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
