/* Tests of common/base/errors.c: names and HTTP mappings per the Connect spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/errors.h"

static void test_errors_names_round_trip(void **state)
{
    (void)state;
    for (int c = 0; c <= KUMO_CODE_MAX; c++) {
        kumo_code back;
        assert_int_equal(kumo_code_from_name(kumo_code_name((kumo_code)c), &back), 0);
        assert_int_equal(back, c);
    }
    assert_string_equal(kumo_code_name(KUMO_CODE_FAILED_PRECONDITION), "failed_precondition");
    assert_string_equal(kumo_code_name((kumo_code)99), "unknown");
    kumo_code out = KUMO_CODE_OK;
    assert_int_equal(kumo_code_from_name("NOT_FOUND", &out), KUMO_ERR_INVALID);
    assert_int_equal(kumo_code_from_name("", &out), KUMO_ERR_INVALID);
    assert_int_equal(out, KUMO_CODE_OK);
}

static void test_errors_http_status(void **state)
{
    (void)state;
    assert_int_equal(kumo_code_http_status(KUMO_CODE_OK), 200);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_CANCELED), 499);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_INVALID_ARGUMENT), 400);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_DEADLINE_EXCEEDED), 504);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_NOT_FOUND), 404);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_ALREADY_EXISTS), 409);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_PERMISSION_DENIED), 403);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_RESOURCE_EXHAUSTED), 429);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_FAILED_PRECONDITION), 400);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_ABORTED), 409);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_OUT_OF_RANGE), 400);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_UNIMPLEMENTED), 501);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_INTERNAL), 500);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_UNAVAILABLE), 503);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_DATA_LOSS), 500);
    assert_int_equal(kumo_code_http_status(KUMO_CODE_UNAUTHENTICATED), 401);
    assert_int_equal(kumo_code_http_status((kumo_code)77), 500);
}

static void test_errors_code_from_http(void **state)
{
    (void)state;
    assert_int_equal(kumo_code_from_http_status(400), KUMO_CODE_INTERNAL);
    assert_int_equal(kumo_code_from_http_status(401), KUMO_CODE_UNAUTHENTICATED);
    assert_int_equal(kumo_code_from_http_status(403), KUMO_CODE_PERMISSION_DENIED);
    assert_int_equal(kumo_code_from_http_status(404), KUMO_CODE_UNIMPLEMENTED);
    assert_int_equal(kumo_code_from_http_status(429), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_code_from_http_status(502), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_code_from_http_status(503), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_code_from_http_status(504), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_code_from_http_status(500), KUMO_CODE_UNKNOWN);
    assert_int_equal(kumo_code_from_http_status(418), KUMO_CODE_UNKNOWN);
}

static void test_errors_strerror(void **state)
{
    (void)state;
    assert_string_equal(kumo_strerror(KUMO_ERR_TOO_LARGE), "size limit exceeded");
    assert_string_equal(kumo_strerror(-ENOENT), strerror(ENOENT));
    assert_string_equal(kumo_strerror(0), "success");
    assert_string_equal(kumo_strerror(-99999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_names_round_trip),
        cmocka_unit_test(test_errors_http_status),
        cmocka_unit_test(test_errors_code_from_http),
        cmocka_unit_test(test_errors_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
