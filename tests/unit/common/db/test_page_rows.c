/* db/page_rows.c: the end of a listing page keeps at most a page of rows
 * and writes the next token (bound to the page's scope) only when a row
 * beyond the page was read, from the key of the page's last row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db/page_rows.h"
#include "db/page_token.h"

struct row {
    const char *name;
    int64_t key;
};

static struct kumo_db_page page_of(size_t size, const char *scope)
{
    struct kumo_db_page pg = {(char *)scope, strlen(scope), -1, size};
    return pg;
}

static void test_page_end_short_page_has_no_next(void **state)
{
    (void)state;
    struct kumo_rpc_call *call = kumo_rpc_call_background("t", 0, NULL);
    struct row rows[2] = {{"a", 10}, {"b", 20}};
    struct kumo_db_page pg = page_of(3, "users|t1");
    char *next = (char *)"unset";
    assert_int_equal(KUMO_DB_PAGE_END(&pg, call, rows, 2, key, &next), 2);
    assert_string_equal(next, "unset");
    assert_int_equal(KUMO_DB_PAGE_END(&pg, call, rows, 0, key, &next), 0);
    assert_string_equal(next, "unset");
    kumo_rpc_call_background_free(call);
}

static void test_page_end_full_page_points_past_its_last_row(void **state)
{
    (void)state;
    struct kumo_rpc_call *call = kumo_rpc_call_background("t", 0, NULL);
    struct row rows[3] = {{"a", 10}, {"b", 20}, {"c", 30}};
    struct kumo_db_page pg = page_of(2, "users|t1");
    char *next = NULL;
    assert_int_equal(KUMO_DB_PAGE_END(&pg, call, rows, 3, key, &next), 2);
    assert_non_null(next);
    int64_t after = 0;
    assert_int_equal(kumo_page_token_decode(next, strlen(next), "users|t1", 8, &after), 0);
    assert_true(after == 20); /* the page's last row, not the extra one */
    /* bound to its scope: another query refuses it */
    assert_int_not_equal(kumo_page_token_decode(next, strlen(next), "users|t2", 8, &after), 0);
    kumo_rpc_call_background_free(call);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_end_short_page_has_no_next),
        cmocka_unit_test(test_page_end_full_page_points_past_its_last_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
