/* Tests of common/db_{pool,stmt,error}.c against a real MariaDB started by
 * scripts/mariadb in a temporary directory (group setup) and stopped in the
 * teardown: typed round trips, hostile values, limits, errors, pool
 * exhaustion and recycling, failover recovery, transactions, TLS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "db/db.h"
#include "db/internal.h"
#include "rpc/rpc.h" /* kumo_now_ns */
#include "db_test_server.h"
#include "runtime/log.h"

static struct test_mariadb srv;
static char other_ca[256]; /* a CA that did not sign the server's cert */

static const char *setup_sql =
    "CREATE DATABASE kumo_test CHARACTER SET utf8mb4;"
    "CREATE USER 'kumo'@'%' IDENTIFIED BY 'kumo-pw' REQUIRE SSL;"
    "GRANT ALL ON kumo_test.* TO 'kumo'@'%';"
    "CREATE USER 'plain'@'%' IDENTIFIED BY 'plain-pw';"
    "GRANT ALL ON kumo_test.* TO 'plain'@'%';"
    "CREATE USER 'sock'@'localhost' IDENTIFIED BY 'sock-pw';"
    "GRANT ALL ON kumo_test.* TO 'sock'@'localhost';"
    "CREATE TABLE kumo_test.rt (id BIGINT AUTO_INCREMENT PRIMARY KEY, i BIGINT NULL,"
    " d DOUBLE NULL, s VARCHAR(255) NULL, b VARBINARY(255) NULL, t DATETIME(6) NULL,"
    " ts TIMESTAMP(6) NULL, big LONGBLOB NULL, txt MEDIUMTEXT NULL, u BIGINT UNSIGNED NULL,"
    " amount DECIMAL(10,2) NULL) CHARACTER SET utf8mb4;"
    "CREATE TABLE kumo_test.users (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL,"
    " email VARCHAR(191) NOT NULL, name VARCHAR(100) NOT NULL, version BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, id), UNIQUE KEY uk_users_email (tenant_id, email));"
    "CREATE TABLE kumo_test.locks (id INT PRIMARY KEY, v INT NOT NULL);"
    "INSERT INTO kumo_test.locks VALUES (1, 0), (2, 0);"
    "CREATE TABLE kumo_test.hits (thread INT NOT NULL, n INT NOT NULL);";

static int group_setup(void **state)
{
    char cmd[1024];
    (void)state;
    kumo_log_init("test_db", KUMO_LOG_ERROR);
    if (tm_start(&srv, "db") != 0)
        return -1;
    if (tm_sql(&srv, setup_sql) != 0)
        return -1;
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.pem", srv.dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
             " -subj /CN=other -keyout %s/other-ca.key -out %s >/dev/null 2>&1",
             srv.dir, other_ca);
    return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    tm_destroy(&srv);
    return 0;
}

static struct kumo_db_options base_opts(void)
{
    struct kumo_db_options o = {0};
    o.host = "127.0.0.1";
    o.port = (unsigned)srv.port;
    o.user = "kumo";
    o.password = "kumo-pw";
    o.database = "kumo_test";
    o.tls_ca_file = srv.ca;
    o.max_conns = 4;
    o.connect_timeout_ms = 3000;
    return o;
}

static struct kumo_db *new_pool(const struct kumo_db_options *o)
{
    struct kumo_db *db = NULL;
    assert_int_equal(kumo_db_new(&db, o), 0);
    assert_non_null(db);
    return db;
}

static struct kumo_db_conn *get(struct kumo_db *db)
{
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(db, 0, &c);
    if (rc != KUMO_CODE_OK)
        fprintf(stderr, "acquire: %s (%u)\n", kumo_db_last_error()->message,
                kumo_db_last_error()->mysql_errno);
    assert_int_equal(rc, KUMO_CODE_OK);
    return c;
}

static int64_t conn_id(struct kumo_db_conn *c)
{
    int64_t id = 0;
    assert_int_equal(
        kumo_db_query_row(c, "SELECT CONNECTION_ID()", NULL, 0, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&id))),
        KUMO_CODE_OK);
    return id;
}

static void exec_ok(struct kumo_db_conn *c, const char *sql)
{
    kumo_code rc = kumo_db_exec(c, sql, NULL, 0, NULL);
    if (rc != KUMO_CODE_OK)
        fprintf(stderr, "exec %s: %s\n", sql, kumo_db_last_error()->message);
    assert_int_equal(rc, KUMO_CODE_OK);
}

/* ---- options ---- */

static int fake_token(void *ud, struct kumo_buf *out)
{
    (void)ud;
    kumo_buf_append_str(out, "token");
    return 0;
}

static void test_db_new_rejects_bad_options(void **state)
{
    struct kumo_db *db = (struct kumo_db *)0x1;
    struct kumo_db_options o = base_opts();
    (void)state;

    o.user = NULL;
    assert_int_equal(kumo_db_new(&db, &o), KUMO_ERR_INVALID);
    assert_ptr_equal(db, (struct kumo_db *)0x1); /* untouched */
    assert_int_equal(kumo_db_last_error()->code, KUMO_CODE_INVALID_ARGUMENT);

    o = base_opts();
    o.auth = KUMO_DB_AUTH_IAM; /* no token function */
    assert_int_equal(kumo_db_new(&db, &o), KUMO_ERR_INVALID);
    o.password_fn = fake_token;
    o.tls_ca_file = NULL; /* IAM without TLS */
    assert_int_equal(kumo_db_new(&db, &o), KUMO_ERR_INVALID);
    o.tls_ca_file = srv.ca;
    o.unix_socket = srv.socket; /* IAM over a socket */
    assert_int_equal(kumo_db_new(&db, &o), KUMO_ERR_INVALID);
    o.unix_socket = NULL;
    o.tls_ca_file = "/nonexistent/ca.pem";
    assert_int_equal(kumo_db_new(&db, &o), KUMO_ERR_INVALID);
    assert_int_equal(kumo_db_new(&db, NULL), KUMO_ERR_INVALID);
    assert_ptr_equal(db, (struct kumo_db *)0x1);

    o.tls_ca_file = srv.ca; /* now valid */
    assert_int_equal(kumo_db_new(&db, &o), 0);
    kumo_db_free(db);
    kumo_db_free(NULL);
}

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

static int64_t locks_v(struct kumo_db_conn *c, int id)
{
    int64_t v = -1;
    assert_int_equal(kumo_db_query_row(c, "SELECT v FROM locks WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(id)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_I64(&v))),
                     KUMO_CODE_OK);
    return v;
}

static void set_v(struct kumo_db_conn *c, int id, int v)
{
    assert_int_equal(kumo_db_exec(c, "UPDATE locks SET v = ? WHERE id = ?",
                                  KUMO_DB_PARAMS(KUMO_DB_I64(v), KUMO_DB_I64(id)), NULL),
                     KUMO_CODE_OK);
}

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

/* ---- pool ---- */

struct delayed_release {
    struct kumo_db_conn *c;
    useconds_t after;
};

static void *release_later(void *p)
{
    struct delayed_release *d = p;
    usleep(d->after);
    kumo_db_release(d->c);
    return NULL;
}

static int64_t mono_ns(void)
{
    return (int64_t)(tm_now() * 1e9);
}

static void test_db_pool_exhaustion(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *a, *b, *c = NULL;
    struct kumo_db_stats st;
    double t0, dt;
    (void)state;

    o.max_conns = 2;
    o.acquire_timeout_ms = 200;
    db = new_pool(&o);
    a = get(db);
    b = get(db);
    t0 = tm_now();
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_RESOURCE_EXHAUSTED);
    dt = tm_now() - t0;
    assert_null(c);
    assert_true(dt >= 0.18 && dt < 1.5);
    assert_non_null(strstr(kumo_db_last_error()->message, "busy"));
    /* A caller deadline shorter than the pool's wait wins. */
    t0 = tm_now();
    assert_int_equal(kumo_db_acquire(db, mono_ns() + 50 * 1000000LL, &c),
                     KUMO_CODE_DEADLINE_EXCEEDED); /* not RESOURCE_EXHAUSTED: the deadline won */
    assert_true(tm_now() - t0 >= 0.04 && tm_now() - t0 < 1.0);
    /* A deadline already past fails at once. */
    assert_int_equal(kumo_db_acquire(db, mono_ns() - 1, &c), KUMO_CODE_DEADLINE_EXCEEDED);
    kumo_db_stats(db, &st);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.idle, 0);
    /* A release during the wait hands the connection over. */
    struct delayed_release d = {a, 50000};
    pthread_t th;
    pthread_create(&th, NULL, release_later, &d);
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_OK);
    pthread_join(th, NULL);
    assert_ptr_equal(c, a);
    kumo_db_release(b);
    kumo_db_release(c);
    kumo_db_stats(db, &st);
    assert_int_equal(st.idle, 2);
    assert_int_equal(st.connects, 2);
    kumo_db_free(db);
}

struct worker {
    struct kumo_db *db;
    int thread;
    int ok;
};

static void *worker_main(void *p)
{
    struct worker *w = p;
    for (int k = 0; k < 40; k++) {
        struct kumo_db_conn *c;
        int64_t n = -1;
        if (kumo_db_acquire(w->db, 0, &c) != KUMO_CODE_OK)
            continue;
        if (kumo_db_exec(c, "INSERT INTO hits (thread, n) VALUES (?, ?)",
                         KUMO_DB_PARAMS(KUMO_DB_I64(w->thread), KUMO_DB_I64(k)),
                         NULL) == KUMO_CODE_OK &&
            kumo_db_query_row(c, "SELECT COUNT(*) FROM hits WHERE thread = ?",
                              KUMO_DB_PARAMS(KUMO_DB_I64(w->thread)),
                              KUMO_DB_OUTS(KUMO_DB_OUT_I64(&n))) == KUMO_CODE_OK &&
            n == k + 1)
            w->ok++;
        kumo_db_release(c);
    }
    return NULL;
}

static void test_db_pool_threads(void **state)
{
    enum { N = 6 };
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct worker w[N];
    pthread_t th[N];
    struct kumo_db_stats st;
    (void)state;

    o.max_conns = 3;
    o.acquire_timeout_ms = 10000;
    db = new_pool(&o);
    for (int k = 0; k < N; k++) {
        w[k] = (struct worker){db, k, 0};
        pthread_create(&th[k], NULL, worker_main, &w[k]);
    }
    for (int k = 0; k < N; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(w[k].ok, 40);
    }
    kumo_db_stats(db, &st);
    assert_true(st.open <= 3);
    assert_int_equal(st.open, st.idle);
    assert_true(st.connects <= 3);
    kumo_db_free(db);
}

static void test_db_max_lifetime_recycles(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    struct kumo_db_stats st;
    int64_t id1, id2;
    (void)state;

    o.max_lifetime_ms = 800; /* minus up to 10% jitter */
    db = new_pool(&o);
    c = get(db);
    id1 = conn_id(c);
    kumo_db_release(c);
    c = get(db);
    assert_int_equal(conn_id(c), id1); /* reused while young */
    kumo_db_release(c);
    usleep(900000);
    c = get(db);
    id2 = conn_id(c);
    assert_true(id2 != id1);
    kumo_db_release(c);
    kumo_db_stats(db, &st);
    assert_int_equal(st.discarded, 1);
    assert_int_equal(st.connects, 2);
    kumo_db_free(db);
}

static void kill_conn(int64_t id)
{
    char sql[64];
    snprintf(sql, sizeof sql, "KILL %lld", (long long)id);
    assert_int_equal(tm_sql(&srv, sql), 0);
}

static void test_db_idle_validation_recovers_killed(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    int64_t id1;
    (void)state;

    o.validate_idle_ms = -1; /* ping before every lend */
    db = new_pool(&o);
    c = get(db);
    id1 = conn_id(c);
    kumo_db_release(c);
    kill_conn(id1);
    c = get(db); /* the ping notices, a new connection is lent */
    assert_true(conn_id(c) != id1);
    kumo_db_release(c);
    kumo_db_free(db);
}

/* The server's pid, from the private instance's pid file. */
static pid_t server_pid(void)
{
    char path[256], text[32] = "";
    snprintf(path, sizeof path, "%s/mariadbd.pid", srv.dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof text, f));
    fclose(f);
    long v = strtol(text, NULL, 10);
    assert_true(v > 1);
    return (pid_t)v;
}

static double since(double t0)
{
    return tm_now() - t0;
}

/* A statement never outlives the lender's deadline: the watchdog cuts it
 * (deadline_exceeded), the connection is discarded, the pool goes on. */
static void test_db_deadline_bounds_a_slow_statement(void **state)
{
    (void)state;
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = NULL;
    assert_int_equal(kumo_db_acquire(db, kumo_now_ns() + 300000000LL, &c), KUMO_CODE_OK);
    double t0 = tm_now();
    assert_int_equal(kumo_db_exec(c, "DO SLEEP(5)", NULL, 0, NULL), KUMO_CODE_DEADLINE_EXCEEDED);
    assert_true(since(t0) < 3.0); /* SLEEP(5): cut at 0.3 s; slack for valgrind */
    assert_int_equal(kumo_db_last_error()->code, KUMO_CODE_DEADLINE_EXCEEDED);
    /* Poisoned: never touches the shut socket again. */
    assert_int_equal(kumo_db_exec(c, "SELECT 1", NULL, 0, NULL), KUMO_CODE_UNAVAILABLE);
    kumo_db_release(c);
    struct kumo_db_stats st;
    kumo_db_stats(db, &st);
    assert_int_equal(st.discarded, 1);
    /* Without a deadline, the same pool serves normally. */
    c = get(db);
    exec_ok(c, "DO SLEEP(0.1)");
    kumo_db_release(c);
    kumo_db_free(db);
}

/* A hung server (SIGSTOP) holds no request past its deadline: the query
 * and the idle-connection ping are both cut; after SIGCONT the pool
 * recovers without a restart. */
static void test_db_deadline_bounds_a_hung_server(void **state)
{
    (void)state;
    struct kumo_db_options o = base_opts();
    o.validate_idle_ms = -1; /* ping every idle connection before lending it */
    struct kumo_db *db = new_pool(&o);
    struct kumo_db_conn *c = get(db);
    exec_ok(c, "SELECT 1");
    kumo_db_release(c);
    pid_t pid = server_pid();
    assert_int_equal(kill(pid, SIGSTOP), 0);
    double t0 = tm_now();
    kumo_code rc = kumo_db_acquire(db, kumo_now_ns() + 400000000LL, &c);
    if (rc == KUMO_CODE_OK) {
        rc = kumo_db_exec(c, "SELECT 1", NULL, 0, NULL);
        kumo_db_release(c);
    }
    double took = since(t0);
    kill(pid, SIGCONT);
    assert_true(rc == KUMO_CODE_DEADLINE_EXCEEDED || rc == KUMO_CODE_UNAVAILABLE);
    assert_true(took < 3.0); /* unguarded: KUMO_DB_IO_TIMEOUT, 30 s */
    c = get(db);
    exec_ok(c, "SELECT 1");
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_killed_connection_unavailable_then_recovers(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    struct kumo_db_stats st;
    int64_t id1;
    (void)state;

    o.validate_idle_ms = 60000; /* no ping: the statement itself finds out */
    db = new_pool(&o);
    c = get(db);
    id1 = conn_id(c);
    kill_conn(id1);
    assert_int_equal(kumo_db_exec(c, "UPDATE locks SET v = v WHERE id = 1", NULL, 0, NULL),
                     KUMO_CODE_UNAVAILABLE);
    /* Poisoned: fails fast without touching the network again. */
    assert_int_equal(kumo_db_exec(c, "SELECT 1", NULL, 0, NULL), KUMO_CODE_UNAVAILABLE);
    kumo_db_release(c);
    kumo_db_stats(db, &st);
    assert_int_equal(st.discarded, 1);
    c = get(db);
    assert_true(conn_id(c) != id1);
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_read_only_failover_drops_pool(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *a, *b;
    struct kumo_db_stats st;
    (void)state;

    o.validate_idle_ms = 60000;
    db = new_pool(&o);
    a = get(db);
    b = get(db);
    kumo_db_release(b);
    /* What a writer demoted by an Aurora failover answers: read-only. */
    assert_int_equal(tm_sql(&srv, "SET GLOBAL read_only = 1"), 0);
    assert_int_equal(kumo_db_exec(a, "UPDATE locks SET v = 1 WHERE id = 1", NULL, 0, NULL),
                     KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_db_last_error()->mysql_errno, 1290);
    kumo_db_release(a);
    assert_int_equal(tm_sql(&srv, "SET GLOBAL read_only = 0"), 0);
    /* The idle connection from before the failure is dropped, not lent. */
    a = get(db);
    set_v(a, 1, 1);
    kumo_db_release(a);
    kumo_db_stats(db, &st);
    assert_int_equal(st.discarded, 2);
    assert_int_equal(st.connects, 3);
    kumo_db_free(db);
}

static void test_db_failover_recovery(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    double t0, worst = 0, recovered;
    int port = srv.port, attempts = 0;
    (void)state;

    o.validate_idle_ms = 60000;
    o.max_conns = 2;
    db = new_pool(&o);
    c = get(db);
    set_v(c, 2, 0);
    kumo_db_release(c);

    tm_stop(&srv);
    for (int k = 0; k < 6; k++) {
        kumo_code rc;
        t0 = tm_now();
        rc = kumo_db_acquire(db, 0, &c);
        if (rc == KUMO_CODE_OK) {
            rc = kumo_db_exec(c, "UPDATE locks SET v = v + 1 WHERE id = 2", NULL, 0, NULL);
            kumo_db_release(c);
        }
        assert_int_equal(rc, KUMO_CODE_UNAVAILABLE);
        if (tm_now() - t0 > worst)
            worst = tm_now() - t0;
        usleep(20000);
    }
    print_message("db down: 6 calls, slowest %.1f ms\n", worst * 1e3);
    assert_true(worst < 0.5); /* fail fast */

    t0 = tm_now();
    assert_int_equal(tm_start_opts(&srv, port, NULL), 0);
    print_message("db restart on port %d: %.0f ms\n", port, (tm_now() - t0) * 1e3);
    t0 = tm_now();
    for (;;) {
        kumo_code rc = kumo_db_acquire(db, 0, &c);
        attempts++;
        if (rc == KUMO_CODE_OK) {
            rc = kumo_db_exec(c, "UPDATE locks SET v = v + 1 WHERE id = 2", NULL, 0, NULL);
            kumo_db_release(c);
            if (rc == KUMO_CODE_OK)
                break;
        }
        assert_true(tm_now() - t0 < 5.0);
        usleep(50000);
    }
    recovered = tm_now() - t0;
    print_message("db back: first success after %.0f ms (%d attempts)\n", recovered * 1e3,
                  attempts);
    c = get(db);
    assert_int_equal(locks_v(c, 2), 1);
    kumo_db_release(c);
    kumo_db_free(db);
}

/* ---- authentication and TLS ---- */

struct counted {
    int calls;
    int fail;
};

static int counted_password(void *ud, struct kumo_buf *out)
{
    struct counted *c = ud;
    c->calls++;
    if (c->fail)
        return -1;
    kumo_buf_append_str(out, "kumo-pw");
    return 0;
}

static void test_db_password_fn_per_new_connection(void **state)
{
    struct kumo_db_options o = base_opts();
    struct counted cnt = {0, 0};
    struct kumo_db *db;
    struct kumo_db_conn *c, *c2;
    struct kumo_db_stats st;
    (void)state;

    o.password = NULL;
    o.password_fn = counted_password;
    o.password_ud = &cnt;
    o.max_lifetime_ms = 800; /* minus up to 10% jitter */
    db = new_pool(&o);
    for (int k = 0; k < 3; k++)
        kumo_db_release(get(db));
    assert_int_equal(cnt.calls, 1); /* pooled reuse needs no new password */
    c = get(db);
    c2 = get(db);
    assert_int_equal(cnt.calls, 2); /* a second physical connection */
    kumo_db_release(c);
    kumo_db_release(c2);
    usleep(900000);
    kumo_db_release(get(db));
    assert_int_equal(cnt.calls, 3); /* expired: a fresh one, a fresh token */

    /* A failing source: unavailable, nothing sent. */
    kumo_db_free(db);
    cnt = (struct counted){0, 1};
    db = new_pool(&o);
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(cnt.calls, 1);
    kumo_db_stats(db, &st);
    assert_int_equal(st.connect_fails, 1);
    assert_int_equal(st.open, 0);
    kumo_db_free(db);
}

static void session_cipher(struct kumo_db_conn *c, char *out, size_t cap)
{
    size_t len = 0;
    assert_int_equal(
        kumo_db_query_row(c,
                          "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                          " WHERE VARIABLE_NAME = 'SSL_CIPHER'",
                          NULL, 0, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(out, cap, &len))),
        KUMO_CODE_OK);
}

static void test_db_tls_require_ssl_user(void **state)
{
    struct kumo_db_options o = base_opts();
    struct kumo_db *db;
    struct kumo_db_conn *c;
    char cipher[128];
    (void)state;

    /* REQUIRE SSL user, password auth, TLS verified against the CA. */
    db = new_pool(&o);
    c = get(db);
    session_cipher(c, cipher, sizeof cipher);
    assert_true(strlen(cipher) > 0);
    kumo_db_release(c);
    kumo_db_free(db);

    /* The same user without TLS is refused by the server. */
    o.tls_ca_file = NULL;
    db = new_pool(&o);
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_db_last_error()->mysql_errno, 1045);
    kumo_db_free(db);

    /* A CA that did not sign the server's certificate: refused by us. */
    o.tls_ca_file = other_ca;
    db = new_pool(&o);
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(kumo_db_last_error()->mysql_errno, 2026);
    kumo_db_free(db);

    /* A user without REQUIRE SSL, plain TCP: allowed in password mode. */
    o = base_opts();
    o.user = "plain";
    o.password = "plain-pw";
    o.tls_ca_file = NULL;
    db = new_pool(&o);
    c = get(db);
    session_cipher(c, cipher, sizeof cipher);
    assert_string_equal(cipher, "");
    kumo_db_release(c);
    kumo_db_free(db);
}

static void test_db_unix_socket(void **state)
{
    struct kumo_db_options o = {0};
    struct kumo_db *db;
    struct kumo_db_conn *c;
    (void)state;

    o.unix_socket = srv.socket;
    o.user = "sock";
    o.password = "sock-pw";
    o.database = "kumo_test";
    db = new_pool(&o);
    c = get(db);
    assert_true(locks_v(c, 1) >= 0);
    kumo_db_release(c);
    assert_int_equal(kumo_db_ping(db, 0), KUMO_CODE_OK);
    kumo_db_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_new_rejects_bad_options),
        cmocka_unit_test(test_db_deadline_bounds_a_slow_statement),
        cmocka_unit_test(test_db_deadline_bounds_a_hung_server),
        cmocka_unit_test(test_db_typed_roundtrip),
        cmocka_unit_test(test_db_rows_iteration),
        cmocka_unit_test(test_db_sql_metacharacters_roundtrip),
        cmocka_unit_test(test_db_invalid_utf8_fails_cleanly),
        cmocka_unit_test(test_db_megabyte_values_roundtrip),
        cmocka_unit_test(test_db_value_over_limit_fails_cleanly),
        cmocka_unit_test(test_db_duplicate_key_already_exists),
        cmocka_unit_test(test_db_affected_rows_for_optimistic_concurrency),
        cmocka_unit_test(test_db_misuse_is_internal),
        cmocka_unit_test(test_db_errors_logged_not_exposed),
        cmocka_unit_test(test_db_map_errno),
        cmocka_unit_test(test_db_dup_key_parse),
        cmocka_unit_test(test_db_time_conversion),
        cmocka_unit_test(test_db_statement_cache),
        cmocka_unit_test(test_db_transactions),
        cmocka_unit_test(test_db_deadlock_is_aborted),
        cmocka_unit_test(test_db_lock_wait_timeout_is_aborted),
        cmocka_unit_test(test_db_pool_exhaustion),
        cmocka_unit_test(test_db_pool_threads),
        cmocka_unit_test(test_db_max_lifetime_recycles),
        cmocka_unit_test(test_db_idle_validation_recovers_killed),
        cmocka_unit_test(test_db_killed_connection_unavailable_then_recovers),
        cmocka_unit_test(test_db_read_only_failover_drops_pool),
        cmocka_unit_test(test_db_password_fn_per_new_connection),
        cmocka_unit_test(test_db_tls_require_ssl_user),
        cmocka_unit_test(test_db_unix_socket),
        cmocka_unit_test(test_db_failover_recovery),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
