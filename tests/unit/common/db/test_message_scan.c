/* db/message_scan.c against a real MariaDB (scripts/mariadb, group setup):
 * each column fills the field of its name with the field's type (numbers,
 * bool, enum, text, bytes, Timestamp, a JSON Struct, a oneof member);
 * NULL leaves a field unset; values that do not fit, unknown columns,
 * repeated fields and columns of the wrong kind are errors, not crashes;
 * the page key column; listing pages of messages (db/page_rows.h); the
 * shared loop over a result (kumo_db_query_each, db/row.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "db/message_scan.h"
#include "db/page_rows.h"
#include "db/page_token.h"
#include "db/row.h"
#include "db_test_server.h"
#include "kumo/test/v1/types.pb-c.h"
#include "rpc/rpc.h"
#include "runtime/log.h"

typedef Kumo__Test__V1__AllTypes AllTypes;
#define ALL_TYPES (&kumo__test__v1__all_types__descriptor)

static struct test_mariadb srv;
static struct kumo_db *db;
static struct kumo_db_conn *conn;
static struct kumo_rpc_call *call;

static int group_setup(void **state)
{
    (void)state;
    kumo_log_init("test_message_scan", KUMO_LOG_ERROR);
    if (tm_start(&srv, "msgscan") != 0 ||
        tm_sql(&srv, "CREATE DATABASE kumo_test CHARACTER SET utf8mb4;"
                     "CREATE USER 'plain'@'%' IDENTIFIED BY 'plain-pw';"
                     "GRANT ALL ON kumo_test.* TO 'plain'@'%';"
                     "CREATE TABLE kumo_test.items (seq BIGINT PRIMARY KEY, name VARCHAR(50),"
                     " t DATETIME(6) NULL);"
                     "INSERT INTO kumo_test.items VALUES (10, 'a', '2026-01-02 03:04:05.123456'),"
                     " (20, 'b', NULL), (30, 'c', NULL), (40, 'd', NULL), (50, 'e', NULL);") != 0)
        return -1;
    struct kumo_db_options o = {0};
    o.host = "127.0.0.1";
    o.port = (unsigned)srv.port;
    o.user = "plain";
    o.password = "plain-pw";
    o.database = "kumo_test";
    o.max_conns = 1;
    if (kumo_db_new(&db, &o) != 0 || kumo_db_acquire(db, 0, &conn) != KUMO_CODE_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kumo_db_release(conn);
    kumo_db_free(db);
    tm_destroy(&srv);
    return 0;
}

static int each_setup(void **state)
{
    (void)state;
    call = kumo_rpc_call_background("t", 0, NULL);
    return call ? 0 : -1;
}

static int each_teardown(void **state)
{
    (void)state;
    kumo_rpc_call_background_free(call);
    return 0;
}

/* One row of `sql` as an AllTypes message: the code, *out set on OK. */
static kumo_code one(const char *sql, AllTypes **out)
{
    void *m = NULL;
    kumo_code rc =
        kumo_db_msg_query_one(conn, sql, NULL, 0, ALL_TYPES, kumo_rpc_call_allocator(call), &m);
    *out = m;
    return rc;
}

static void test_every_kind_of_field(void **state)
{
    (void)state;
    AllTypes *m = NULL;
    assert_int_equal(
        one("SELECT -7 AS int32_value, -9000000000 AS int64_value, 4000000000 AS uint32_value,"
            " 18 AS uint64_value, 2 AS bool_value, 'héllo' AS string_value,"
            " X'00FF10' AS bytes_value, 3 AS color, 2.5e0 AS double_value, 1.5e0 AS float_value,"
            " CAST('2026-01-02 03:04:05.123456' AS DATETIME(6)) AS timestamp,"
            " '{\"a\":[1,\"x\"],\"b\":null}' AS struct_value, CAST(42 AS CHAR) AS sint32_value",
            &m),
        KUMO_CODE_INTERNAL); /* sint32_value: text into a number */
    assert_int_equal(
        one("SELECT -7 AS int32_value, -9000000000 AS int64_value, 4000000000 AS uint32_value,"
            " 18 AS uint64_value, 2 AS bool_value, 'héllo' AS string_value,"
            " X'00FF10' AS bytes_value, 3 AS color, 1.5e0 AS double_value, 1.5e0 AS float_value,"
            " CAST('2026-01-02 03:04:05.123456' AS DATETIME(6)) AS timestamp,"
            " '{\"a\":[1,\"x\"],\"b\":null}' AS struct_value, CAST(42 AS CHAR) AS string_value",
            &m),
        KUMO_CODE_OK);
    assert_int_equal(m->int32_value, -7);
    assert_true(m->int64_value == -9000000000LL);
    assert_true(m->uint32_value == 4000000000U);
    assert_true(m->uint64_value == 18);
    assert_true(m->bool_value);
    assert_string_equal(m->string_value, "42"); /* the later column wins */
    assert_int_equal(m->bytes_value.len, 3);
    assert_memory_equal(m->bytes_value.data, "\x00\xff\x10", 3);
    assert_int_equal(m->color, KUMO__TEST__V1__COLOR__COLOR_BLUE);
    assert_true(m->double_value == 1.5);
    assert_true(m->float_value == 1.5f);
    assert_non_null(m->timestamp);
    assert_true(m->timestamp->seconds == 1767323045);
    assert_int_equal(m->timestamp->nanos, 123456000);
    assert_non_null(m->struct_value);
    assert_int_equal(m->struct_value->n_fields, 2);
    /* untouched fields keep their defaults */
    assert_null(m->inner);
    assert_int_equal(m->sint64_value, 0);
}

static void test_null_leaves_fields_unset(void **state)
{
    (void)state;
    AllTypes *m = NULL;
    assert_int_equal(one("SELECT NULL AS int32_value, NULL AS string_value, NULL AS bytes_value,"
                         " CAST(NULL AS DATETIME(6)) AS timestamp, NULL AS struct_value,"
                         " NULL AS bool_value, '' AS struct_value, 'not json' AS value",
                         &m),
                     KUMO_CODE_OK);
    assert_int_equal(m->int32_value, 0);
    assert_string_equal(m->string_value, "");
    assert_int_equal(m->bytes_value.len, 0);
    assert_null(m->timestamp);
    assert_null(m->struct_value);
    assert_null(m->value); /* JSON that does not decode: unset */
    assert_false(m->bool_value);
}

static void test_oneof_member_is_marked_present(void **state)
{
    (void)state;
    AllTypes *m = NULL;
    assert_int_equal(one("SELECT 5 AS optional_int32, NULL AS optional_string", &m), KUMO_CODE_OK);
    assert_int_equal(m->presence_int32_case,
                     KUMO__TEST__V1__ALL_TYPES__PRESENCE_INT32_OPTIONAL_INT32);
    assert_int_equal(m->optional_int32, 5);
    assert_int_equal(m->presence_string_case, KUMO__TEST__V1__ALL_TYPES__PRESENCE_STRING__NOT_SET);
}

static void test_values_that_do_not_fit_are_errors(void **state)
{
    (void)state;
    AllTypes *m = NULL;
    assert_int_equal(one("SELECT 2147483648 AS int32_value", &m), KUMO_CODE_OUT_OF_RANGE);
    assert_null(m);
    assert_int_equal(one("SELECT -1 AS uint64_value", &m), KUMO_CODE_OUT_OF_RANGE);
    assert_int_equal(one("SELECT -1 AS uint32_value", &m), KUMO_CODE_OUT_OF_RANGE);
    assert_int_equal(one("SELECT 4294967296 AS uint32_value", &m), KUMO_CODE_OUT_OF_RANGE);
    assert_int_equal(one("SELECT -2147483649 AS color", &m), KUMO_CODE_OUT_OF_RANGE);
}

static void test_bad_columns_are_errors(void **state)
{
    (void)state;
    AllTypes *m = NULL;
    assert_int_equal(one("SELECT 1 AS no_such_field", &m), KUMO_CODE_INTERNAL);
    assert_null(m);
    assert_int_equal(one("SELECT 1 AS repeated_int32", &m), KUMO_CODE_INTERNAL);
    assert_int_equal(one("SELECT 1", &m), KUMO_CODE_INTERNAL); /* column named "1" */
    assert_int_equal(one("SELECT 7 AS string_value", &m), KUMO_CODE_INTERNAL);
    assert_int_equal(one("SELECT 'x' AS int64_value", &m), KUMO_CODE_INTERNAL);
    assert_int_equal(one("SELECT NOW() AS int64_value", &m), KUMO_CODE_INTERNAL);
    assert_int_equal(one("SELECT 'x' AS timestamp", &m), KUMO_CODE_INTERNAL);
    assert_int_equal(one("SELECT 5 AS `inner`", &m), KUMO_CODE_INTERNAL);
    /* the connection is still good */
    assert_int_equal(one("SELECT 'ok' AS string_value", &m), KUMO_CODE_OK);
    assert_string_equal(m->string_value, "ok");
}

static void test_no_row_is_not_found(void **state)
{
    (void)state;
    AllTypes *m = (AllTypes *)1;
    assert_int_equal(one("SELECT name AS string_value FROM items WHERE seq = 0", &m),
                     KUMO_CODE_NOT_FOUND);
    assert_null(m);
}

static void test_query_all_reads_at_most_max_rows_with_keys(void **state)
{
    (void)state;
    void **msgs = NULL;
    int64_t *keys = NULL;
    size_t n = 99;
    assert_int_equal(kumo_db_msg_query_all(
                         conn,
                         "SELECT seq AS " KUMO_DB_MSG_KEY ", name AS string_value,"
                         " t AS timestamp FROM items ORDER BY seq",
                         NULL, 0, ALL_TYPES, kumo_rpc_call_allocator(call), 3, &msgs, &keys, &n),
                     KUMO_CODE_OK);
    assert_int_equal(n, 3);
    assert_true(keys[0] == 10 && keys[1] == 20 && keys[2] == 30);
    assert_string_equal(((AllTypes *)msgs[0])->string_value, "a");
    assert_non_null(((AllTypes *)msgs[0])->timestamp);
    assert_string_equal(((AllTypes *)msgs[2])->string_value, "c");
    assert_null(((AllTypes *)msgs[2])->timestamp);
    /* an error stops the listing, counting the rows read before it */
    assert_int_equal(kumo_db_msg_query_all(conn,
                                           "SELECT IF(seq < 30, 1, 99999999999) AS int32_value"
                                           " FROM items ORDER BY seq",
                                           NULL, 0, ALL_TYPES, kumo_rpc_call_allocator(call), 10,
                                           &msgs, NULL, &n),
                     KUMO_CODE_OUT_OF_RANGE);
    assert_int_equal(n, 2);
}

/* kumo_db_row_fn: records seq; refuses seq 40 (ud: the sum so far). */
static kumo_code sum_row(void *ud, struct kumo_db_rows *rows, size_t i)
{
    int64_t seq = 0;
    kumo_code rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&seq)));
    if (rc == KUMO_CODE_OK && seq == 40)
        return KUMO_CODE_ABORTED;
    *(int64_t *)ud += seq * 100 + (int64_t)i;
    return rc;
}

static void test_query_each_visits_rows_in_order_and_stops_on_error(void **state)
{
    (void)state;
    int64_t sum = 0;
    size_t n = 99;
    const char *sql = "SELECT seq FROM items WHERE seq < ? ORDER BY seq";
    /* max 0: every row */
    assert_int_equal(
        kumo_db_query_each(conn, sql, KUMO_DB_PARAMS(KUMO_DB_I64(40)), 0, sum_row, &sum, &n),
        KUMO_CODE_OK);
    assert_int_equal(n, 3);
    assert_true(sum == 1000 + 0 + 2000 + 1 + 3000 + 2);
    /* max 2: the rest is not read */
    sum = 0;
    assert_int_equal(
        kumo_db_query_each(conn, sql, KUMO_DB_PARAMS(KUMO_DB_I64(40)), 2, sum_row, &sum, &n),
        KUMO_CODE_OK);
    assert_int_equal(n, 2);
    assert_true(sum == 1000 + 2000 + 1);
    /* the visitor's error stops the query and is returned */
    sum = 0;
    assert_int_equal(
        kumo_db_query_each(conn, sql, KUMO_DB_PARAMS(KUMO_DB_I64(99)), 0, sum_row, &sum, &n),
        KUMO_CODE_ABORTED);
    assert_int_equal(n, 3);
    /* the query's error */
    assert_int_not_equal(
        kumo_db_query_each(conn, "SELECT nope FROM items", NULL, 0, 0, sum_row, &sum, &n),
        KUMO_CODE_OK);
    assert_int_equal(n, 0);
    /* the connection is still good; max 0 of messages reads nothing */
    void **msgs = NULL;
    assert_int_equal(kumo_db_msg_query_all(conn, "SELECT name AS string_value FROM items", NULL, 0,
                                           ALL_TYPES, kumo_rpc_call_allocator(call), 0, &msgs, NULL,
                                           &n),
                     KUMO_CODE_OK);
    assert_int_equal(n, 0);
}

static void test_page_msgs_ends_the_page_with_a_token(void **state)
{
    (void)state;
    struct kumo_db_page pg = {(char *)"items", 5, 10, 2};
    void **msgs = NULL;
    size_t n = 0;
    char *next = NULL;
    const char *sql = "SELECT seq AS " KUMO_DB_MSG_KEY ", name AS string_value FROM items"
                      " WHERE seq > ? ORDER BY seq LIMIT ?";
    assert_int_equal(kumo_db_page_msgs(&pg, call, conn, sql,
                                       KUMO_DB_PARAMS(KUMO_DB_I64(pg.after), KUMO_DB_I64(3)),
                                       ALL_TYPES, &msgs, &n, &next),
                     KUMO_CODE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(((AllTypes *)msgs[1])->string_value, "c");
    assert_non_null(next);
    int64_t after = 0;
    assert_int_equal(kumo_page_token_decode(next, strlen(next), "items", 5, &after), 0);
    assert_true(after == 30);
    /* the last page: no token */
    pg.after = 30;
    next = NULL;
    assert_int_equal(kumo_db_page_msgs(&pg, call, conn, sql,
                                       KUMO_DB_PARAMS(KUMO_DB_I64(pg.after), KUMO_DB_I64(3)),
                                       ALL_TYPES, &msgs, &n, &next),
                     KUMO_CODE_OK);
    assert_int_equal(n, 2);
    assert_null(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_kind_of_field, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_null_leaves_fields_unset, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_oneof_member_is_marked_present, each_setup,
                                        each_teardown),
        cmocka_unit_test_setup_teardown(test_values_that_do_not_fit_are_errors, each_setup,
                                        each_teardown),
        cmocka_unit_test_setup_teardown(test_bad_columns_are_errors, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_no_row_is_not_found, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_query_all_reads_at_most_max_rows_with_keys, each_setup,
                                        each_teardown),
        cmocka_unit_test_setup_teardown(test_query_each_visits_rows_in_order_and_stops_on_error,
                                        each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_page_msgs_ends_the_page_with_a_token, each_setup,
                                        each_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
