/* Tests of common/db/error.c against a real MariaDB (db_fixture.h): errno to
 * kumo_code mapping, duplicate keys, affected rows, misuse, what is logged
 * and what clients see, deadlocks and lock wait timeouts (ABORTED). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "db/internal.h"
#include "db_fixture.h"

/* ---- errors ---- */

static void test_db_duplicate_key_already_exists(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    const char *ins =
        "INSERT INTO users (tenant_id, id, email, name, version) VALUES (?, ?, ?, ?, 1)";
    (void)state;

    assert_int_equal(kumo_db_exec(c, ins,
                                  KUMO_DB_PARAMS(KUMO_DB_I64(1), KUMO_DB_I64(1),
                                                 KUMO_DB_STRZ("a@x"), KUMO_DB_STRZ("A")),
                                  NULL),
                     KUMO_CODE_OK);
    assert_int_equal(kumo_db_exec(c, ins,
                                  KUMO_DB_PARAMS(KUMO_DB_I64(1), KUMO_DB_I64(2),
                                                 KUMO_DB_STRZ("a@x"), KUMO_DB_STRZ("B")),
                                  NULL),
                     KUMO_CODE_ALREADY_EXISTS);
    assert_int_equal(kumo_db_last_error()->mysql_errno, 1062);
    assert_string_equal(kumo_db_last_error()->dup_key, "uk_users_email");
    assert_string_equal(kumo_db_last_error()->message, "already exists");
    /* Same email in another tenant is fine. */
    assert_int_equal(kumo_db_exec(c, ins,
                                  KUMO_DB_PARAMS(KUMO_DB_I64(2), KUMO_DB_I64(1),
                                                 KUMO_DB_STRZ("a@x"), KUMO_DB_STRZ("C")),
                                  NULL),
                     KUMO_CODE_OK);
    /* Fail inside a transaction, release (which rolls back), then report:
     * the error survives the release. */
    assert_int_equal(kumo_db_begin(c), KUMO_CODE_OK);
    assert_int_equal(kumo_db_exec(c, ins,
                                  KUMO_DB_PARAMS(KUMO_DB_I64(2), KUMO_DB_I64(9),
                                                 KUMO_DB_STRZ("a@x"), KUMO_DB_STRZ("D")),
                                  NULL),
                     KUMO_CODE_ALREADY_EXISTS);
    kumo_db_release(c);
    assert_int_equal(kumo_db_last_error()->code, KUMO_CODE_ALREADY_EXISTS);
    assert_string_equal(kumo_db_last_error()->dup_key, "uk_users_email");
    kumo_db_free(db);
}

static void test_db_affected_rows_for_optimistic_concurrency(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    const char *upd = "UPDATE users SET name = ?, version = version + 1"
                      " WHERE tenant_id = ? AND id = ? AND version = ?";
    uint64_t n = 99;
    (void)state;

    assert_int_equal(kumo_db_exec(c,
                                  "INSERT INTO users (tenant_id, id, email, name, version)"
                                  " VALUES (7, 1, 'o@x', 'same', 1)",
                                  NULL, 0, &n),
                     KUMO_CODE_OK);
    /* Same name: rows *matched* count (CLIENT_FOUND_ROWS), so 1. */
    assert_int_equal(kumo_db_exec(c, upd,
                                  KUMO_DB_PARAMS(KUMO_DB_STRZ("same"), KUMO_DB_I64(7),
                                                 KUMO_DB_I64(1), KUMO_DB_I64(1)),
                                  &n),
                     KUMO_CODE_OK);
    assert_int_equal(n, 1);
    /* Stale version: nothing matched. */
    assert_int_equal(kumo_db_exec(c, upd,
                                  KUMO_DB_PARAMS(KUMO_DB_STRZ("new"), KUMO_DB_I64(7),
                                                 KUMO_DB_I64(1), KUMO_DB_I64(1)),
                                  &n),
                     KUMO_CODE_OK);
    assert_int_equal(n, 0);
    /* Other tenant: nothing matched either. */
    assert_int_equal(kumo_db_exec(c, upd,
                                  KUMO_DB_PARAMS(KUMO_DB_STRZ("new"), KUMO_DB_I64(8),
                                                 KUMO_DB_I64(1), KUMO_DB_I64(2)),
                                  &n),
                     KUMO_CODE_OK);
    assert_int_equal(n, 0);
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_misuse_is_internal(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    (void)state;

    /* Placeholder count mismatch. */
    assert_int_equal(kumo_db_exec(c, "SELECT ?, ?", KUMO_DB_PARAMS(KUMO_DB_I64(1)), NULL),
                     KUMO_CODE_INTERNAL);
    /* Unknown param type. */
    struct kumo_db_param bogus = {.type = (enum kumo_db_type)42};
    assert_int_equal(kumo_db_exec(c, "SELECT ?", &bogus, 1, NULL), KUMO_CODE_INTERNAL);
    /* query on a statement without rows. */
    struct kumo_db_rows *r = NULL;
    assert_int_equal(kumo_db_query(c, "DO 1", NULL, 0, &r), KUMO_CODE_INTERNAL);
    /* exec of a SELECT: rows drained, connection intact. */
    assert_int_equal(kumo_db_exec(c, "SELECT id FROM rt", NULL, 0, NULL), KUMO_CODE_OK);
    /* The connection is still fine. */
    assert_true(conn_id(c) > 0);
    kumo_db_release(c);
    kumo_db_free(db);
}

/* Reads everything written to the log while `fn` runs. */
static void capture_log(void (*fn)(void *), void *arg, char *out, size_t cap)
{
    int fds[2];
    ssize_t n;
    assert_int_equal(pipe(fds), 0);
    kumo_log_init("test_db", KUMO_LOG_DEBUG);
    kumo_log_set_fd(fds[1]);
    fn(arg);
    kumo_log_set_fd(2);
    kumo_log_init("test_db", KUMO_LOG_ERROR);
    close(fds[1]);
    n = read(fds[0], out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fds[0]);
}

static void syntax_error(void *arg)
{
    struct kumo_db_conn *c = arg;
    assert_int_equal(kumo_db_exec(c, "SELEC 1 FROM nowhere", NULL, 0, NULL), KUMO_CODE_INTERNAL);
}

static void wrong_password(void *arg)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    (void)arg;
    o.password = "s3cr3t-WRONG-pw";
    db = new_pool(&o);
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_db_last_error()->mysql_errno, 1045);
    kumo_db_free(db);
}

static void test_db_errors_logged_not_exposed(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    char log[16384];
    (void)state;

    capture_log(syntax_error, c, log, sizeof log);
    /* Clients get a generic message; the log has the server's. */
    assert_string_equal(kumo_db_last_error()->message, "internal database error");
    assert_int_equal(kumo_db_last_error()->mysql_errno, 1064);
    assert_non_null(strstr(log, "error in your SQL syntax"));
    assert_non_null(strstr(log, "SELEC 1 FROM nowhere"));
    kumo_db_release(c);

    /* A failed login never logs the password. */
    capture_log(wrong_password, NULL, log, sizeof log);
    assert_non_null(strstr(log, "db: connect failed"));
    assert_null(strstr(log, "s3cr3t"));
    kumo_db_free(db);
}

static void test_db_map_errno(void **state)
{
    static const struct {
        unsigned err;
        kumo_code code;
        int discard;
    } cases[] = {
        {1062, KUMO_CODE_ALREADY_EXISTS, 0},
        {1586, KUMO_CODE_ALREADY_EXISTS, 0},
        {2006, KUMO_CODE_UNAVAILABLE, 1},
        {2013, KUMO_CODE_UNAVAILABLE, 1},
        {2055, KUMO_CODE_UNAVAILABLE, 1},
        {2002, KUMO_CODE_UNAVAILABLE, 1},
        {2026, KUMO_CODE_UNAVAILABLE, 1},
        {1290, KUMO_CODE_UNAVAILABLE, 1},
        {1836, KUMO_CODE_UNAVAILABLE, 1},
        {1792, KUMO_CODE_UNAVAILABLE, 1},
        {1053, KUMO_CODE_UNAVAILABLE, 1},
        {1927, KUMO_CODE_UNAVAILABLE, 1},
        {4031, KUMO_CODE_UNAVAILABLE, 1},
        {1213, KUMO_CODE_ABORTED, 0},
        {1205, KUMO_CODE_ABORTED, 0},
        {1969, KUMO_CODE_DEADLINE_EXCEEDED, 0},
        {1406, KUMO_CODE_INVALID_ARGUMENT, 0},
        {1366, KUMO_CODE_INVALID_ARGUMENT, 0},
        {1451, KUMO_CODE_FAILED_PRECONDITION, 0},
        {1064, KUMO_CODE_INTERNAL, 0},
        {1146, KUMO_CODE_INTERNAL, 0},
        {2014, KUMO_CODE_INTERNAL, 1},
        {5010, KUMO_CODE_INTERNAL, 1},
    };
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int discard = -1;
        assert_int_equal(kumo__db_map_errno(cases[k].err, &discard), cases[k].code);
        assert_int_equal(discard, cases[k].discard);
    }
}

static void test_db_dup_key_parse(void **state)
{
    char k[16];
    (void)state;
    kumo__db_dup_key("Duplicate entry 'a' for key 'uk_email'", k, sizeof k);
    assert_string_equal(k, "uk_email");
    kumo__db_dup_key("Duplicate entry 'a' for key 'users.uk_email'", k, sizeof k);
    assert_string_equal(k, "uk_email");
    kumo__db_dup_key("Duplicate entry 'a' for key 'a_very_long_key_name_indeed'", k, sizeof k);
    assert_string_equal(k, "a_very_long_key");
    kumo__db_dup_key("no key here", k, sizeof k);
    assert_string_equal(k, "");
    kumo__db_dup_key(NULL, k, sizeof k);
    assert_string_equal(k, "");
}

struct tx_arg {
    struct kumo_db_conn *c;
    int id;
    kumo_code rc;
};

static void *update_in_thread(void *p)
{
    struct tx_arg *a = p;
    a->rc = kumo_db_exec(a->c, "UPDATE locks SET v = v + 1 WHERE id = ?",
                         KUMO_DB_PARAMS(KUMO_DB_I64(a->id)), NULL);
    return NULL;
}

static void test_db_deadlock_is_aborted(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *a = get(db), *b = get(db);
    struct tx_arg ta = {a, 2, KUMO_CODE_OK};
    pthread_t th;
    kumo_code rb;
    (void)state;

    assert_int_equal(kumo_db_begin(a), KUMO_CODE_OK);
    assert_int_equal(kumo_db_begin(b), KUMO_CODE_OK);
    set_v(a, 1, 10);
    set_v(b, 2, 20);
    pthread_create(&th, NULL, update_in_thread, &ta); /* a waits for b's row 2 */
    usleep(200000);
    rb = kumo_db_exec(b, "UPDATE locks SET v = v + 1 WHERE id = ?", KUMO_DB_PARAMS(KUMO_DB_I64(1)),
                      NULL); /* b waits for a's row 1: deadlock */
    pthread_join(th, NULL);
    /* Exactly one victim, told to retry. */
    assert_true((ta.rc == KUMO_CODE_ABORTED) != (rb == KUMO_CODE_ABORTED));
    assert_true(ta.rc == KUMO_CODE_OK || rb == KUMO_CODE_OK);
    kumo_db_rollback(a);
    kumo_db_rollback(b);
    kumo_db_release(a);
    kumo_db_release(b);
    kumo_db_free(db);
}

static void test_db_lock_wait_timeout_is_aborted(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *a, *b;
    double t0;
    (void)state;

    o.lock_wait_timeout_s = 1;
    db = new_pool(&o);
    a = get(db);
    b = get(db);
    assert_int_equal(kumo_db_begin(a), KUMO_CODE_OK);
    set_v(a, 2, 1);
    assert_int_equal(kumo_db_begin(b), KUMO_CODE_OK);
    t0 = tm_now();
    assert_int_equal(kumo_db_exec(b, "UPDATE locks SET v = 3 WHERE id = 2", NULL, 0, NULL),
                     KUMO_CODE_ABORTED);
    assert_int_equal(kumo_db_last_error()->mysql_errno, 1205);
    assert_true(tm_now() - t0 < 3.0);
    kumo_db_release(a); /* both rolled back on release */
    kumo_db_release(b);
    kumo_db_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_duplicate_key_already_exists),
        cmocka_unit_test(test_db_affected_rows_for_optimistic_concurrency),
        cmocka_unit_test(test_db_misuse_is_internal),
        cmocka_unit_test(test_db_errors_logged_not_exposed),
        cmocka_unit_test(test_db_map_errno),
        cmocka_unit_test(test_db_dup_key_parse),
        cmocka_unit_test(test_db_deadlock_is_aborted),
        cmocka_unit_test(test_db_lock_wait_timeout_is_aborted),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
