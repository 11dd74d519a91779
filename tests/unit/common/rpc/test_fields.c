/* rpc/fields.c: the shape of kumo ids, update masks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

static const struct kumo_rpc_mask_path PATHS[] = {{"title", 1}, {"tags", 2}, {"file_name", 4}};

/* The mask's outcome and, when refused, the answer's message. */
static kumo_code mask(const char *const *paths, size_t n, unsigned *bits, char *msg, size_t cap)
{
    struct kumo_rpc_call *call = kumo_rpc_call_background("t", 0, NULL);
    Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    m.paths = (char **)paths;
    m.n_paths = n;
    kumo_code rc = kumo_rpc_update_mask(call, &m, PATHS, 3, bits);
    const char *text = "";
    kumo_rpc_call_status(call, &text);
    snprintf(msg, cap, "%s", text ? text : "");
    kumo_rpc_call_background_free(call);
    return rc;
}

static void test_fields_update_mask(void **state)
{
    (void)state;
    unsigned bits = 99;
    char msg[128];
    const char *ok[] = {"tags", "file_name", "tags"};
    assert_int_equal(mask(ok, 3, &bits, msg, sizeof msg), KUMO_CODE_OK);
    assert_int_equal(bits, 6);
    assert_int_equal(mask(NULL, 0, &bits, msg, sizeof msg), KUMO_CODE_INVALID_ARGUMENT);
    assert_string_equal(msg, "update_mask must name at least one field");
    const char *bad[] = {"title", "owner"};
    assert_int_equal(mask(bad, 2, &bits, msg, sizeof msg), KUMO_CODE_INVALID_ARGUMENT);
    assert_string_equal(msg, "update_mask may only name title, tags and file_name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_id_shape),
        cmocka_unit_test(test_fields_update_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
