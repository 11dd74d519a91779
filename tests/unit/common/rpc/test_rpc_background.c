/* Tests of background calls (kumo_rpc_call_background, call.c): a call no
 * client made carries its request id, deadline and principal to the
 * helpers a handler uses, records errors for the caller to read back, and
 * gives memory from its arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rpc/propagate.h"
#include "rpc/rpc.h"

static void test_background_call(void **state)
{
    (void)state;
    int principal = 42;
    int64_t deadline = kumo_now_ns() + 1000000000LL;
    struct kumo_rpc_call *call = kumo_rpc_call_background("event-7", deadline, &principal);
    assert_string_equal(kumo_rpc_call_request_id(call), "event-7");
    assert_true(kumo_rpc_call_deadline(call) == deadline);
    assert_ptr_equal(kumo_rpc_call_principal(call), &principal);
    assert_false(kumo_rpc_call_cancelled(call));
    const char *msg = NULL;
    assert_int_equal(kumo_rpc_call_status(call, &msg), KUMO_CODE_OK);
    assert_string_equal(msg, "");

    char *p = kumo_rpc_call_alloc(call, 100);
    assert_non_null(p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0); /* zeroed */

    assert_int_equal(kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "no %s", "row"),
                     KUMO_CODE_NOT_FOUND);
    assert_int_equal(kumo_rpc_call_status(call, &msg), KUMO_CODE_NOT_FOUND);
    assert_string_equal(msg, "no row");

    struct kumo_rpc_call_options o;
    kumo_rpc_propagate(call, 0, &o);
    assert_true(o.deadline == deadline);
    assert_string_equal(o.request_id, "event-7");
    assert_null(o.authorization);
    kumo_rpc_call_background_free(call);

    /* No request id, a deadline passed: cancelled. */
    call = kumo_rpc_call_background(NULL, kumo_now_ns() - 1, NULL);
    assert_string_equal(kumo_rpc_call_request_id(call), "");
    assert_true(kumo_rpc_call_cancelled(call));
    kumo_rpc_call_background_free(call);
    kumo_rpc_call_background_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_background_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
