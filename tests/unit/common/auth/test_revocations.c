#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "auth/revocations.h"

#define NOW 1800000000LL

static struct kumo_revocations *make(void)
{
    struct kumo_revocations *r = NULL;
    assert_int_equal(kumo_revocations_new(&r, 3600), 0);
    return r;
}

static void test_revocations_revoke_by_iat(void **state)
{
    (void)state;
    struct kumo_revocations *r = make();
    assert_false(kumo_revocations_revoked(r, "ten_a", "us_1", NOW - 10));
    assert_int_equal(kumo_revocations_add(r, 1, "ten_a", "us_1", NOW, NOW, NOW), 1);
    assert_true(kumo_revocations_revoked(r, "ten_a", "us_1", NOW - 10));
    assert_true(kumo_revocations_revoked(r, "ten_a", "us_1", NOW)); /* same second */
    assert_false(kumo_revocations_revoked(r, "ten_a", "us_1", NOW + 1));
    /* Another tenant's subject of the same name, another subject: untouched. */
    assert_false(kumo_revocations_revoked(r, "ten_b", "us_1", NOW - 10));
    assert_false(kumo_revocations_revoked(r, "ten_a", "us_2", NOW - 10));
    assert_false(kumo_revocations_revoked(NULL, "ten_a", "us_1", NOW - 10));
    kumo_revocations_free(r);
}

static void test_revocations_dedup_and_out_of_order(void **state)
{
    (void)state;
    struct kumo_revocations *r = make();
    assert_int_equal(kumo_revocations_add(r, 5, "t", "ak_x", NOW, NOW, NOW), 1);
    assert_int_equal(kumo_revocations_add(r, 5, "t", "ak_x", NOW, NOW, NOW), 0);
    /* A lower seq committed later still counts. */
    assert_int_equal(kumo_revocations_add(r, 3, "t", "us_late", NOW, NOW, NOW), 1);
    assert_true(kumo_revocations_revoked(r, "t", "us_late", NOW));
    assert_int_equal(kumo_revocations_cursor(r), 5);
    assert_int_equal(kumo_revocations_count(r), 2);
    /* Bad input. */
    assert_int_equal(kumo_revocations_add(r, 0, "t", "s", NOW, NOW, NOW), KUMO_ERR_INVALID);
    assert_int_equal(kumo_revocations_add(r, 9, "", "s", NOW, NOW, NOW), KUMO_ERR_INVALID);
    assert_int_equal(kumo_revocations_add(r, 9, "t", "a\"b", NOW, NOW, NOW), KUMO_ERR_INVALID);
    char big[KUMO_REVOCATION_ID_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(kumo_revocations_add(r, 9, "t", big, NOW, NOW, NOW), KUMO_ERR_INVALID);
    kumo_revocations_free(r);
}

static void test_revocations_expire(void **state)
{
    (void)state;
    struct kumo_revocations *r = make();
    /* Older than keep: ignored at once. */
    assert_int_equal(kumo_revocations_add(r, 1, "t", "old", NOW - 4000, NOW - 4000, NOW), 0);
    assert_int_equal(kumo_revocations_add(r, 2, "t", "a", NOW, NOW, NOW), 1);
    assert_int_equal(kumo_revocations_add(r, 3, "t", "b", NOW + 3000, NOW + 3000, NOW + 3000), 1);
    /* Past a's expiry, adding prunes it; b stays. */
    assert_int_equal(kumo_revocations_add(r, 4, "t", "c", NOW + 3700, NOW + 3700, NOW + 3700), 1);
    assert_int_equal(kumo_revocations_count(r), 2);
    assert_false(kumo_revocations_revoked(r, "t", "a", NOW - 1));
    assert_true(kumo_revocations_revoked(r, "t", "b", NOW));
    kumo_revocations_free(r);
}

static void test_revocations_feed_round_trip(void **state)
{
    (void)state;
    struct kumo_revocations *src = make(), *dst = make();
    char sub[32];
    for (int i = 1; i <= 600; i++) {
        snprintf(sub, sizeof sub, "us_%d", i);
        assert_int_equal(kumo_revocations_add(src, i, "t", sub, NOW, NOW - 100, NOW), 1);
    }
    int more = 1, pages = 0;
    while (more) {
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_revocations_feed_json(src, kumo_revocations_cursor(dst), NOW - 30, &b);
        assert_true(kumo_revocations_apply_json(dst, (const char *)b.data, b.len, NOW, &more) >= 0);
        kumo_buf_free(&b);
        pages++;
    }
    assert_int_equal(pages, 2);
    assert_int_equal(kumo_revocations_count(dst), 600);
    assert_int_equal(kumo_revocations_cursor(dst), 600);
    assert_true(kumo_revocations_revoked(dst, "t", "us_599", NOW));
    /* Nothing new: an empty page with the same cursor. */
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_revocations_feed_json(src, 600, NOW - 30, &b);
    assert_string_equal((const char *)b.data, "{\"cursor\":600,\"more\":false,\"revocations\":[]}");
    kumo_buf_free(&b);
    /* A late row (seq 7 committed after 600 was read) comes with the recent
     * window, whatever the cursor. */
    assert_int_equal(kumo_revocations_add(src, 601, "t", "x", NOW, NOW, NOW), 1);
    kumo_revocations_free(src);
    src = make();
    assert_int_equal(kumo_revocations_add(src, 700, "t", "late", NOW, NOW, NOW), 1);
    kumo_revocations_feed_json(src, 800, NOW - 30, &b);
    assert_int_equal(kumo_revocations_apply_json(dst, (const char *)b.data, b.len, NOW, &more), 1);
    assert_true(kumo_revocations_revoked(dst, "t", "late", NOW));
    kumo_buf_free(&b);
    kumo_revocations_free(src);
    kumo_revocations_free(dst);
}

static void test_revocations_malformed_pages_refused(void **state)
{
    (void)state;
    struct kumo_revocations *r = make();
    const char *bad[] = {
        "",
        "[]",
        "{\"cursor\":1,\"more\":false}",
        "{\"cursor\":1,\"more\":false,\"revocations\":{}}",
        "{\"cursor\":\"1\",\"more\":false,\"revocations\":[]}",
        "{\"cursor\":1,\"more\":0,\"revocations\":[]}",
        "{\"cursor\":1,\"more\":false,\"revocations\":[],\"x\":1}",
        "{\"cursor\":1,\"cursor\":2,\"more\":false,\"revocations\":[]}",
        "{\"cursor\":2,\"more\":false,\"revocations\":[{\"seq\":1,\"tenant_id\":\"t\","
        "\"subject\":\"s\",\"not_before\":1}]}",
        "{\"cursor\":2,\"more\":false,\"revocations\":[{\"seq\":2,\"tenant_id\":\"t\","
        "\"subject\":\"s\",\"not_before\":1,\"created\":1},{\"seq\":1,\"tenant_id\":\"t\","
        "\"subject\":\"s\",\"not_before\":1,\"created\":1}]}",
        "{\"cursor\":1,\"more\":false,\"revocations\":[{\"seq\":2,\"tenant_id\":\"t\","
        "\"subject\":\"s\",\"not_before\":1,\"created\":1}]}",
        "{\"cursor\":2,\"more\":false,\"revocations\":[{\"seq\":2,\"tenant_id\":\"t\","
        "\"subject\":\"a b\",\"not_before\":1,\"created\":1}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int more = 7;
        assert_int_equal(kumo_revocations_apply_json(r, bad[i], strlen(bad[i]), NOW, &more),
                         KUMO_ERR_INVALID);
        assert_int_equal(more, 7);
    }
    assert_int_equal(kumo_revocations_count(r), 0);
    assert_int_equal(kumo_revocations_cursor(r), 0);
    kumo_revocations_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revocations_revoke_by_iat),
        cmocka_unit_test(test_revocations_dedup_and_out_of_order),
        cmocka_unit_test(test_revocations_expire),
        cmocka_unit_test(test_revocations_feed_round_trip),
        cmocka_unit_test(test_revocations_malformed_pages_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
