/* Tests of common/db/stmt.c and call.c against a real MariaDB (db_fixture.h):
 * typed round trips and row iteration, hostile values and size limits,
 * time conversion, the statement cache, transactions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "db/internal.h"
#include "db_fixture.h"

/* ---- typed round trips ---- */

static void test_db_typed_roundtrip(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    struct kumo_arena *a = kumo_arena_new();
    const int64_t t_us = 1700000000123456LL, old_us = -315619200000001LL; /* 1960 */
    uint64_t n = 0;
    (void)state;

    assert_int_equal(
        kumo_db_exec(
            c, "INSERT INTO rt (i, d, s, b, t, ts, u, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            KUMO_DB_PARAMS(KUMO_DB_I64(INT64_MIN), KUMO_DB_DOUBLE(0.1), KUMO_DB_STRZ("héllo"),
                           KUMO_DB_BYTES("\x00\xff\x01", 3), KUMO_DB_TIME(t_us), KUMO_DB_TIME(t_us),
                           KUMO_DB_I64(INT64_MAX), KUMO_DB_STRZ("12.34")),
            &n),
        KUMO_CODE_OK);
    assert_int_equal(n, 1);
    uint64_t id1 = kumo_db_last_insert_id(c);
    assert_true(id1 > 0);
    assert_int_equal(
        kumo_db_exec(c, "INSERT INTO rt (i, s, t) VALUES (?, ?, ?)",
                     KUMO_DB_PARAMS(KUMO_DB_NULL, KUMO_DB_STRZ(NULL), KUMO_DB_TIME(old_us)), &n),
        KUMO_CODE_OK);
    uint64_t id2 = kumo_db_last_insert_id(c);

    int64_t i = 0, t = 0, ts = 0, u = 0;
    double d = 0;
    char *s = NULL, *amount = NULL;
    size_t s_len = 0, b_len = 0, amount_len = 0;
    unsigned char b[8];
    assert_int_equal(
        kumo_db_query_row(c, "SELECT i, d, s, b, t, ts, u, amount FROM rt WHERE id = ?",
                          KUMO_DB_PARAMS(KUMO_DB_I64(id1)),
                          KUMO_DB_OUTS(KUMO_DB_OUT_I64(&i), KUMO_DB_OUT_DOUBLE(&d),
                                       KUMO_DB_OUT_STR(a, &s, &s_len),
                                       KUMO_DB_OUT_BUF(b, sizeof b, &b_len), KUMO_DB_OUT_TIME(&t),
                                       KUMO_DB_OUT_TIME(&ts), KUMO_DB_OUT_I64(&u),
                                       KUMO_DB_OUT_STR(a, &amount, &amount_len))),
        KUMO_CODE_OK);
    assert_true(i == INT64_MIN);
    assert_true(d == 0.1);
    assert_string_equal(s, "héllo");
    assert_int_equal(s_len, strlen("héllo"));
    assert_int_equal(b_len, 3);
    assert_memory_equal(b, "\x00\xff\x01", 3);
    assert_true(t == t_us);
    assert_true(ts == t_us); /* TIMESTAMP stays UTC: the session time zone is +00:00 */
    assert_true(u == INT64_MAX);
    assert_string_equal(amount, "12.34");

    /* NULLs: reported through is_null, or *str == NULL for arena strings. */
    int i_null = 0, t_null = 1;
    s = (char *)"sentinel";
    assert_int_equal(
        kumo_db_query_row(
            c, "SELECT i, s, t FROM rt WHERE id = ?", KUMO_DB_PARAMS(KUMO_DB_I64(id2)),
            KUMO_DB_OUTS(
                ((struct kumo_db_out){.type = KUMO_DB_T_I64, .i64 = &i, .is_null = &i_null}),
                KUMO_DB_OUT_STR(a, &s, &s_len),
                ((struct kumo_db_out){.type = KUMO_DB_T_TIME, .i64 = &t, .is_null = &t_null}))),
        KUMO_CODE_OK);
    assert_int_equal(i_null, 1);
    assert_int_equal(i, 0);
    assert_null(s);
    assert_int_equal(t_null, 0);
    assert_true(t == old_us);

    /* A NULL without is_null is an error, never a silent zero. */
    assert_int_equal(kumo_db_query_row(c, "SELECT i FROM rt WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(id2)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_I64(&i))),
                     KUMO_CODE_INTERNAL);
    /* Type mismatch: a string scanned as an integer. */
    assert_int_equal(kumo_db_query_row(c, "SELECT s FROM rt WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(id1)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_I64(&i))),
                     KUMO_CODE_INTERNAL);
    /* Too small a caller buffer. */
    char small[2];
    assert_int_equal(kumo_db_query_row(c, "SELECT s FROM rt WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(id1)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_BUF(small, sizeof small, &s_len))),
                     KUMO_CODE_OUT_OF_RANGE);
    /* No row. */
    assert_int_equal(kumo_db_query_row(c, "SELECT i FROM rt WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(-1)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_I64(&i))),
                     KUMO_CODE_NOT_FOUND);
    assert_string_equal(kumo_db_last_error()->message, "not found");
    /* The connection is still fine after all that. */
    assert_true(conn_id(c) > 0);

    kumo_arena_free(a);
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_rows_iteration(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    struct kumo_db_rows *r = NULL;
    int has_row = 0, seen = 0;
    (void)state;

    exec_ok(c, "CREATE TABLE seq (n INT PRIMARY KEY, label VARCHAR(20))");
    for (int k = 0; k < 50; k++) {
        char label[20];
        snprintf(label, sizeof label, "row-%d", k);
        assert_int_equal(kumo_db_exec(c, "INSERT INTO seq VALUES (?, ?)",
                                      KUMO_DB_PARAMS(KUMO_DB_I64(k), KUMO_DB_STRZ(label)), NULL),
                         KUMO_CODE_OK);
    }
    assert_int_equal(kumo_db_query(c, "SELECT n, label FROM seq WHERE n >= ? ORDER BY n",
                                   KUMO_DB_PARAMS(KUMO_DB_I64(10)), &r),
                     KUMO_CODE_OK);
    assert_int_equal(kumo_db_rows_columns(r), 2);
    /* Another statement while the result is open is refused cleanly. */
    assert_int_equal(kumo_db_exec(c, "SELECT 1", NULL, 0, NULL), KUMO_CODE_INTERNAL);
    while (kumo_db_rows_next(r, &has_row) == KUMO_CODE_OK && has_row) {
        int64_t n = -1;
        size_t len = 0;
        char want[20];
        assert_int_equal(kumo_db_rows_scan(r, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&n))), KUMO_CODE_OK);
        const char *label = kumo_db_rows_bytes(r, 1, &len);
        snprintf(want, sizeof want, "row-%d", (int)n);
        assert_int_equal(n, 10 + seen);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(label, want, len);
        seen++;
        if (seen == 25)
            break; /* close with rows left: they are drained */
    }
    kumo_db_rows_close(r);
    kumo_db_rows_close(r); /* idempotent */
    assert_int_equal(seen, 25);
    assert_true(conn_id(c) > 0);
    /* Leaving a result open at release is handled too. */
    assert_int_equal(kumo_db_query(c, "SELECT n FROM seq", NULL, 0, &r), KUMO_CODE_OK);
    kumo_db_release(c);
    c = get(db);
    exec_ok(c, "DROP TABLE seq");
    kumo_db_release(c);
    kumo_db_free(db);
}

/* ---- hostile values ---- */

static void roundtrip_str(struct kumo_db_conn *c, struct kumo_arena *a, const char *v, size_t len,
                          int as_bytes)
{
    char *out = NULL;
    size_t out_len = 0;
    struct kumo_db_param p = as_bytes ? KUMO_DB_BYTES(v, len) : KUMO_DB_STR(v, len);
    assert_int_equal(kumo_db_exec(c,
                                  as_bytes ? "INSERT INTO rt (big) VALUES (?)"
                                           : "INSERT INTO rt (txt) VALUES (?)",
                                  &p, 1, NULL),
                     KUMO_CODE_OK);
    assert_int_equal(kumo_db_query_row(c,
                                       as_bytes ? "SELECT big FROM rt WHERE id = ?"
                                                : "SELECT txt FROM rt WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(kumo_db_last_insert_id(c))),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_STR(a, &out, &out_len))),
                     KUMO_CODE_OK);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, v, len);
}

static void test_db_sql_metacharacters_roundtrip(void **state)
{
    static const char *evil[] = {
        "'; DROP TABLE rt; --",
        "\" OR 1=1 #",
        "\\",
        "\\'",
        "%_%",
        "`rt`",
        "?",
        "/* x */ ;",
        "Robert'); DELETE FROM rt WHERE ('1'='1",
        "\xf0\x9f\x98\x80 emoji",
        "",
    };
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    struct kumo_arena *a = kumo_arena_new();
    int64_t count = 0;
    (void)state;

    for (size_t k = 0; k < sizeof evil / sizeof *evil; k++) {
        roundtrip_str(c, a, evil[k], strlen(evil[k]), 0);
        roundtrip_str(c, a, evil[k], strlen(evil[k]), 1);
    }
    /* NUL bytes inside text and binary values. */
    roundtrip_str(c, a, "a\0b\0", 4, 0);
    roundtrip_str(c, a, "\0\0\0", 3, 1);
    /* Every byte value as binary. */
    char all[256];
    for (int k = 0; k < 256; k++)
        all[k] = (char)k;
    roundtrip_str(c, a, all, sizeof all, 1);
    /* The table survived every injection attempt. */
    assert_int_equal(kumo_db_query_row(c, "SELECT COUNT(*) FROM rt", NULL, 0,
                                       KUMO_DB_OUTS(KUMO_DB_OUT_I64(&count))),
                     KUMO_CODE_OK);
    assert_true(count >= 2 * (int64_t)(sizeof evil / sizeof *evil));
    kumo_arena_free(a);
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_invalid_utf8_fails_cleanly(void **state)
{
    static const char *bad[] = {"\xff\xfe", "abc\xc3", "\xc0\xaf", "\xf8\x88\x80\x80\x80"};
    /* An encoded UTF-16 surrogate: MariaDB 10.11 stores it (MySQL 8 does
     * not), so the services must validate UTF-8 themselves; here it must
     * either round-trip exactly or fail cleanly. */
    static const char surrogate[] = "\xed\xa0\x80";
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    struct kumo_arena *a = kumo_arena_new();
    kumo_code rc;
    (void)state;

    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        /* Into a utf8mb4 column: a clear invalid_argument... */
        assert_int_equal(kumo_db_exec(c, "INSERT INTO rt (s) VALUES (?)",
                                      KUMO_DB_PARAMS(KUMO_DB_STRZ(bad[k])), NULL),
                         KUMO_CODE_INVALID_ARGUMENT);
        assert_int_equal(kumo_db_last_error()->mysql_errno, 1366);
        assert_string_equal(kumo_db_last_error()->message, "invalid value (e.g. not valid UTF-8)");
        /* ...and into a binary column, an exact round trip. */
        roundtrip_str(c, a, bad[k], strlen(bad[k]), 1);
    }
    rc = kumo_db_exec(c, "INSERT INTO rt (s) VALUES (?)", KUMO_DB_PARAMS(KUMO_DB_STRZ(surrogate)),
                      NULL);
    if (rc == KUMO_CODE_OK) {
        char out[8];
        size_t len = 0;
        assert_int_equal(kumo_db_query_row(c, "SELECT s FROM rt WHERE id = ?",
                                           KUMO_DB_PARAMS(KUMO_DB_I64(kumo_db_last_insert_id(c))),
                                           KUMO_DB_OUTS(KUMO_DB_OUT_BUF(out, sizeof out, &len))),
                         KUMO_CODE_OK);
        assert_int_equal(len, 3);
        assert_memory_equal(out, surrogate, 3);
    } else {
        assert_int_equal(rc, KUMO_CODE_INVALID_ARGUMENT);
    }
    /* A value longer than its column: invalid_argument, not truncation. */
    char longv[300];
    memset(longv, 'x', sizeof longv);
    assert_int_equal(kumo_db_exec(c, "INSERT INTO rt (s) VALUES (?)",
                                  KUMO_DB_PARAMS(KUMO_DB_STR(longv, sizeof longv)), NULL),
                     KUMO_CODE_INVALID_ARGUMENT);
    assert_string_equal(kumo_db_last_error()->message, "value too long");
    assert_true(conn_id(c) > 0);
    kumo_arena_free(a);
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_megabyte_values_roundtrip(void **state)
{
    const size_t mb = 1u << 20;
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    struct kumo_arena *a = kumo_arena_new();
    char *v = malloc(mb);
    (void)state;

    for (size_t k = 0; k < mb; k++)
        v[k] = (char)(k * 2654435761u >> 13);
    roundtrip_str(c, a, v, mb, 1);
    memset(v, 'x', mb);
    v[mb / 2] = '\'';
    roundtrip_str(c, a, v, mb, 0);
    /* The big buffer was shrunk after use; small values still work. */
    roundtrip_str(c, a, "small", 5, 1);
    free(v);
    kumo_arena_free(a);
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_value_over_limit_fails_cleanly(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    struct kumo_arena *a = kumo_arena_new();
    char v[5000], *out = NULL;
    size_t len = 0;
    int64_t id;
    (void)state;

    o.max_value_len = 1000;
    db = new_pool(&o);
    c = get(db);
    memset(v, 'y', sizeof v);
    assert_int_equal(kumo_db_exec(c, "INSERT INTO rt (big) VALUES (?)",
                                  KUMO_DB_PARAMS(KUMO_DB_BYTES(v, sizeof v)), NULL),
                     KUMO_CODE_OK);
    id = (int64_t)kumo_db_last_insert_id(c);
    assert_int_equal(kumo_db_query_row(c, "SELECT big FROM rt WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(id)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_STR(a, &out, &len))),
                     KUMO_CODE_OUT_OF_RANGE);
    assert_string_equal(kumo_db_last_error()->message, "value too large");
    /* Under the limit still works on the same connection. */
    assert_int_equal(kumo_db_query_row(c, "SELECT LEFT(big, 1000) FROM rt WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(id)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_STR(a, &out, &len))),
                     KUMO_CODE_OK);
    assert_int_equal(len, 1000);
    kumo_arena_free(a);
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_time_conversion(void **state)
{
    static const int64_t cases[] = {0,
                                    1,
                                    -1,
                                    999999,
                                    -1000000,
                                    951782400000000LL /* 2000-02-29 */,
                                    253402300799999999LL /* 9999-12-31 23:59:59.999999 */,
                                    -30610224000000000LL /* 1000-01-01 */};
    MYSQL_TIME t;
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        kumo__db_time_from_us(cases[k], &t);
        assert_true(kumo__db_time_to_us(&t) == cases[k]);
    }
    kumo__db_time_from_us(951782400000000LL, &t);
    assert_int_equal(t.year, 2000);
    assert_int_equal(t.month, 2);
    assert_int_equal(t.day, 29);
    kumo__db_time_from_us(-1, &t);
    assert_int_equal(t.year, 1969);
    assert_int_equal(t.second, 59);
    assert_int_equal(t.second_part, 999999);
}

/* ---- statement cache ---- */

static int64_t prepares(struct kumo_db_conn *c)
{
    char v[32];
    size_t len = 0;
    assert_int_equal(
        kumo_db_query_row(c,
                          "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                          " WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'",
                          NULL, 0, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(v, sizeof v, &len))),
        KUMO_CODE_OK);
    return strtoll(v, NULL, 10);
}

static void test_db_statement_cache(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    int64_t p0, p1, v = 0;
    (void)state;

    o.max_cached_stmts = 3;
    db = new_pool(&o);
    c = get(db);
    p0 = prepares(c);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(kumo_db_query_row(c, "SELECT ? + 1", KUMO_DB_PARAMS(KUMO_DB_I64(k)),
                                           KUMO_DB_OUTS(KUMO_DB_OUT_I64(&v))),
                         KUMO_CODE_OK);
        assert_int_equal(v, k + 1);
    }
    p1 = prepares(c);
    assert_int_equal(p1 - p0, 1); /* prepared once, executed 10 times */
    /* Five distinct statements through a cache of three: evictions, still correct. */
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 5; k++) {
            char sql[32];
            snprintf(sql, sizeof sql, "SELECT ? * %d", k + 2);
            assert_int_equal(kumo_db_query_row(c, sql, KUMO_DB_PARAMS(KUMO_DB_I64(round)),
                                               KUMO_DB_OUTS(KUMO_DB_OUT_I64(&v))),
                             KUMO_CODE_OK);
            assert_int_equal(v, round * (k + 2));
        }
    }
    assert_true(prepares(c) - p1 > 5);
    kumo_db_release(c);
    kumo_db_free(db);
}

/* ---- transactions ---- */

static void test_db_transactions(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c, *other;
    (void)state;

    o.max_conns = 1; /* so the next acquire gets the same connection */
    db = new_pool(&o);
    c = get(db);
    set_v(c, 1, 0);
    assert_int_equal(kumo_db_begin(c), KUMO_CODE_OK);
    assert_true(kumo_db_in_transaction(c));
    assert_int_equal(kumo_db_begin(c), KUMO_CODE_INTERNAL); /* no implicit commit */
    set_v(c, 1, 5);
    assert_int_equal(kumo_db_rollback(c), KUMO_CODE_OK);
    assert_false(kumo_db_in_transaction(c));
    assert_int_equal(locks_v(c, 1), 0);

    assert_int_equal(kumo_db_begin(c), KUMO_CODE_OK);
    set_v(c, 1, 6);
    assert_int_equal(kumo_db_commit(c), KUMO_CODE_OK);
    assert_int_equal(locks_v(c, 1), 6);
    assert_int_equal(kumo_db_commit(c), KUMO_CODE_INTERNAL); /* not in a transaction */

    /* Released inside a transaction: rolled back, and the next user of
     * the same connection starts clean. */
    int64_t id = conn_id(c);
    assert_int_equal(kumo_db_begin(c), KUMO_CODE_OK);
    set_v(c, 1, 7);
    kumo_db_release(c);
    other = get(db);
    assert_int_equal(conn_id(other), id);
    assert_false(kumo_db_in_transaction(other));
    assert_int_equal(locks_v(other, 1), 6);
    /* A transaction opened by a statement (not kumo_db_begin) too. */
    exec_ok(other, "START TRANSACTION");
    assert_true(kumo_db_in_transaction(other));
    set_v(other, 1, 8);
    kumo_db_release(other);
    c = get(db);
    assert_int_equal(locks_v(c, 1), 6);
    kumo_db_release(c);
    kumo_db_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_typed_roundtrip),
        cmocka_unit_test(test_db_rows_iteration),
        cmocka_unit_test(test_db_sql_metacharacters_roundtrip),
        cmocka_unit_test(test_db_invalid_utf8_fails_cleanly),
        cmocka_unit_test(test_db_megabyte_values_roundtrip),
        cmocka_unit_test(test_db_value_over_limit_fails_cleanly),
        cmocka_unit_test(test_db_time_conversion),
        cmocka_unit_test(test_db_statement_cache),
        cmocka_unit_test(test_db_transactions),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
