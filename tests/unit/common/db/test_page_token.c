#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "db/page_token.h"

#define SCOPE(s) (s), strlen(s)

static void test_page_token_round_trip(void **state)
{
    (void)state;
    const int64_t keys[] = {0, 1, 255, 65536, 1234567890123LL, INT64_MAX};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char tok[KUMO_PAGE_TOKEN_MAX];
        assert_int_equal(kumo_page_token_encode(keys[i], SCOPE("users|t1|0|"), tok), 0);
        assert_int_equal(strlen(tok), 23);
        for (const char *p = tok; *p; p++)
            assert_non_null(
                strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
        int64_t back = -5;
        assert_int_equal(kumo_page_token_decode(tok, strlen(tok), SCOPE("users|t1|0|"), &back), 0);
        assert_true(back == keys[i]);
    }
}

static void test_page_token_empty_is_first_page(void **state)
{
    (void)state;
    int64_t k = 7;
    assert_int_equal(kumo_page_token_decode("", 0, SCOPE("x"), &k), 0);
    assert_true(k == -1);
}

static void test_page_token_bound_to_its_scope(void **state)
{
    (void)state;
    char tok[KUMO_PAGE_TOKEN_MAX];
    assert_int_equal(kumo_page_token_encode(42, SCOPE("users|tenantA|2|"), tok), 0);
    int64_t k = 7;
    assert_int_equal(kumo_page_token_decode(tok, strlen(tok), SCOPE("users|tenantA|1|"), &k),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_page_token_decode(tok, strlen(tok), SCOPE("users|tenantB|2|"), &k),
                     KUMO_ERR_INVALID);
    assert_true(k == 7);
}

static void test_page_token_rejects_garbage(void **state)
{
    (void)state;
    char tok[KUMO_PAGE_TOKEN_MAX];
    assert_int_equal(kumo_page_token_encode(42, SCOPE("s"), tok), 0);
    int64_t k = 7;
    const char *bad[] = {"garbage", "' OR 1=1 --", "AAAAAAAAAAAAAAAAAAAAAAA",
                         "===================="
                         "==="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kumo_page_token_decode(bad[i], strlen(bad[i]), SCOPE("s"), &k),
                         KUMO_ERR_INVALID);
    /* Every single-character change is caught (version, key or digest). */
    for (size_t i = 0; i < strlen(tok); i++) {
        char t2[KUMO_PAGE_TOKEN_MAX];
        memcpy(t2, tok, sizeof t2);
        t2[i] = t2[i] == 'A' ? 'B' : 'A';
        int64_t got = -2;
        int rc = kumo_page_token_decode(t2, strlen(t2), SCOPE("s"), &got);
        assert_true(rc == KUMO_ERR_INVALID || (rc == 0 && got != 42));
    }
    assert_int_equal(kumo_page_token_decode(tok, strlen(tok) - 1, SCOPE("s"), &k),
                     KUMO_ERR_INVALID);
    assert_true(k == 7);
    assert_int_equal(kumo_page_token_encode(-1, SCOPE("s"), tok), KUMO_ERR_INVALID);
}

static void test_page_token_size(void **state)
{
    (void)state;
    int32_t n = -9;
    assert_int_equal(kumo_page_size(0, 20, 100, &n), 0);
    assert_int_equal(n, 20);
    assert_int_equal(kumo_page_size(7, 20, 100, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(kumo_page_size(100000, 20, 100, &n), 0);
    assert_int_equal(n, 100);
    n = -9;
    assert_int_equal(kumo_page_size(-1, 20, 100, &n), KUMO_ERR_INVALID);
    assert_int_equal(n, -9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_token_round_trip),
        cmocka_unit_test(test_page_token_empty_is_first_page),
        cmocka_unit_test(test_page_token_bound_to_its_scope),
        cmocka_unit_test(test_page_token_rejects_garbage),
        cmocka_unit_test(test_page_token_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
