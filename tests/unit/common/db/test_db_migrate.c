/* Tests of common/db/migrate.c: the SQL splitter (pure), and migrations
 * against a real MariaDB (scripts/mariadb, group setup): ordering,
 * idempotence, refusal of newer/changed/gapped schemas, failures, and
 * concurrent migrators (threads and processes) under GET_LOCK. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "db/db.h"
#include "db/internal.h"
#include "db_test_server.h"
#include "runtime/log.h"

static struct test_mariadb srv;

static int group_setup(void **state)
{
    (void)state;
    kumo_log_init("test_db_migrate", KUMO_LOG_ERROR);
    if (tm_start(&srv, "dbmig") != 0)
        return -1;
    return tm_sql(&srv, "CREATE USER 'mig'@'%' IDENTIFIED BY 'mig-pw';"
                        "GRANT ALL ON `m_%`.* TO 'mig'@'%';"
                        "CREATE DATABASE m_basic; CREATE DATABASE m_newer;"
                        "CREATE DATABASE m_changed; CREATE DATABASE m_gap;"
                        "CREATE DATABASE m_fail; CREATE DATABASE m_trigger;"
                        "CREATE DATABASE m_threads; CREATE DATABASE m_procs;"
                        "CREATE DATABASE m_lock;") == 0
               ? 0
               : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    tm_destroy(&srv);
    return 0;
}

static struct kumo_db *pool_for(const char *database)
{
    struct kumo_db_options o = {0};
    struct kumo_db *db = NULL;
    o.host = "127.0.0.1";
    o.port = (unsigned)srv.port;
    o.user = "mig";
    o.password = "mig-pw";
    o.database = database;
    o.tls_ca_file = srv.ca;
    o.max_conns = 2;
    assert_int_equal(kumo_db_new(&db, &o), 0);
    return db;
}

static int64_t count(struct kumo_db *db, const char *sql)
{
    struct kumo_db_conn *c;
    int64_t n = -1;
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_OK);
    assert_int_equal(kumo_db_query_row(c, sql, NULL, 0, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&n))),
                     KUMO_CODE_OK);
    kumo_db_release(c);
    return n;
}

/* ---- splitting ---- */

static void expect_split(const char *sql, const char *const *want, int n_want)
{
    struct kumo__db_span *sp = NULL;
    int n = kumo__db_split_sql(sql, strlen(sql), &sp);
    assert_int_equal(n, n_want);
    for (int k = 0; k < n; k++) {
        assert_int_equal(sp[k].len, strlen(want[k]));
        assert_memory_equal(sql + sp[k].off, want[k], sp[k].len);
    }
    kumo_free(sp);
}

static void test_db_migrate_split_basic(void **state)
{
    (void)state;
    expect_split("a; b;; ;c", (const char *[]){"a", "b", "c"}, 3);
    expect_split("  CREATE TABLE t (x INT)\n", (const char *[]){"CREATE TABLE t (x INT)"}, 1);
    expect_split("", NULL, 0);
    expect_split(" ;\n; ", NULL, 0);
}

static void test_db_migrate_split_quotes_and_comments(void **state)
{
    (void)state;
    expect_split(
        "INSERT INTO t VALUES ('a;b', \"c;d\"); SELECT `we;ird` FROM t",
        (const char *[]){"INSERT INTO t VALUES ('a;b', \"c;d\")", "SELECT `we;ird` FROM t"}, 2);
    /* Doubled quotes and backslash escapes stay inside the literal. */
    expect_split("SELECT 'it''s;', 'a\\';b'; SELECT `x``;y`",
                 (const char *[]){"SELECT 'it''s;', 'a\\';b'", "SELECT `x``;y`"}, 2);
    /* Comments hide semicolons; "--" without a blank is an operator. */
    expect_split("SELECT 1 -- no; split\n; SELECT 2 # nor; here\n; SELECT 3--1; /* ; */ SELECT 4",
                 (const char *[]){"SELECT 1 -- no; split", "SELECT 2 # nor; here", "SELECT 3--1",
                                  "/* ; */ SELECT 4"},
                 4);
    /* Comment-only pieces are dropped; executable comments are kept (and so
     * is a comment leading a statement: the server skips it). */
    expect_split("-- only a comment;\n/* and; this */ ; # and this;\n/*!40101 SET @x=1 */;",
                 (const char *[]){"# and this;\n/*!40101 SET @x=1 */"}, 1);
}

static void test_db_migrate_split_unterminated(void **state)
{
    static const char *bad[] = {"SELECT 'abc", "SELECT \"abc",   "SELECT `abc",
                                "/* abc",      "SELECT 'abc\\'", "SELECT 1; /*"};
    struct kumo__db_span *sp = (struct kumo__db_span *)0x1;
    (void)state;
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(kumo__db_split_sql(bad[k], strlen(bad[k]), &sp), KUMO_ERR_INVALID);
        assert_ptr_equal(sp, (struct kumo__db_span *)0x1);
    }
}

/* ---- migrations ---- */

static const struct kumo_db_migration M[] = {
    {1, "create_users",
     "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);\n"
     "-- a comment; with a semicolon\n"
     "CREATE INDEX ix_users_name ON users (name);",
     0},
    {2, "seed", "INSERT INTO users VALUES (1, 'semi;colon'), (2, 'it''s'); /* trailing; */", 0},
    {3, "log", "CREATE TABLE applied_log (v INT NOT NULL); INSERT INTO applied_log VALUES (3);", 0},
};
#define N_M (sizeof M / sizeof *M)

static void test_db_migrate_applies_and_records(void **state)
{
    struct kumo_db *db = pool_for("m_basic");
    struct kumo_db_migrate_result res;
    struct kumo_db_conn *c;
    char name[64], sum[65];
    size_t len;
    (void)state;

    assert_int_equal(kumo_db_migrate(db, M, 2, 5000, &res), KUMO_CODE_OK);
    assert_int_equal(res.from_version, 0);
    assert_int_equal(res.to_version, 2);
    assert_int_equal(res.applied, 2);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM users WHERE name = 'semi;colon'"), 1);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM schema_migrations"), 2);

    /* Again: nothing to do. Then with one more known: only that one. */
    assert_int_equal(kumo_db_migrate(db, M, 2, 5000, &res), KUMO_CODE_OK);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.to_version, 2);
    assert_int_equal(kumo_db_migrate(db, M, N_M, 5000, &res), KUMO_CODE_OK);
    assert_int_equal(res.from_version, 2);
    assert_int_equal(res.to_version, 3);
    assert_int_equal(res.applied, 1);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM users"), 2);

    /* Recorded with name, SHA-256 checksum and time. */
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_OK);
    assert_int_equal(kumo_db_query_row(c,
                                       "SELECT name, checksum FROM schema_migrations"
                                       " WHERE version = 2 AND applied_at IS NOT NULL",
                                       NULL, 0,
                                       KUMO_DB_OUTS(KUMO_DB_OUT_BUF(name, sizeof name, &len),
                                                    KUMO_DB_OUT_BUF(sum, sizeof sum, &len))),
                     KUMO_CODE_OK);
    assert_string_equal(name, "seed");
    assert_int_equal(strlen(sum), 64);
    assert_int_equal(strspn(sum, "0123456789abcdef"), 64);
    kumo_db_release(c);
    /* The named lock was released. */
    assert_int_equal(count(db, "SELECT IS_FREE_LOCK('kumo_migrate_m_basic')"), 1);
    kumo_db_free(db);
}

static void test_db_migrate_refuses_newer_schema(void **state)
{
    struct kumo_db *db = pool_for("m_newer");
    struct kumo_db_migrate_result res;
    static const struct kumo_db_migration newer[] = {
        M[0], M[1], M[2], {4, "future", "CREATE TABLE future (x INT)", 0}};
    (void)state;

    assert_int_equal(kumo_db_migrate(db, newer, 4, 5000, &res), KUMO_CODE_OK);
    /* An older binary that knows only 1..3. */
    assert_int_equal(kumo_db_migrate(db, M, N_M, 5000, &res), KUMO_CODE_FAILED_PRECONDITION);
    assert_non_null(strstr(kumo_db_last_error()->message, "newer than this binary knows"));
    assert_int_equal(res.applied, 0);
    assert_int_equal(count(db, "SELECT IS_FREE_LOCK('kumo_migrate_m_newer')"), 1);
    kumo_db_free(db);
}

static void test_db_migrate_detects_changed_checksum(void **state)
{
    struct kumo_db *db = pool_for("m_changed");
    struct kumo_db_migration edited[N_M];
    (void)state;

    assert_int_equal(kumo_db_migrate(db, M, N_M, 5000, NULL), KUMO_CODE_OK);
    memcpy(edited, M, sizeof M);
    edited[1].sql = "INSERT INTO users VALUES (1, 'semi;colon'), (2, 'its');";
    assert_int_equal(kumo_db_migrate(db, edited, N_M, 5000, NULL), KUMO_CODE_FAILED_PRECONDITION);
    assert_non_null(strstr(kumo_db_last_error()->message, "changed after it was applied"));
    kumo_db_free(db);
}

static void test_db_migrate_refuses_gap_and_unknown(void **state)
{
    struct kumo_db *db = pool_for("m_gap");
    const struct kumo_db_migration only_1_3[] = {M[0], M[2]};
    const struct kumo_db_migration with_2[] = {M[0], M[1], M[2]};
    const struct kumo_db_migration without_1[] = {M[1], M[2]};
    (void)state;

    assert_int_equal(kumo_db_migrate(db, only_1_3, 2, 5000, NULL), KUMO_CODE_OK);
    /* A binary that knows 2 but finds 3 applied without it. */
    assert_int_equal(kumo_db_migrate(db, with_2, 3, 5000, NULL), KUMO_CODE_FAILED_PRECONDITION);
    assert_non_null(strstr(kumo_db_last_error()->message, "is not applied but later"));
    /* A binary that does not know applied migration 1. */
    assert_int_equal(kumo_db_migrate(db, without_1, 2, 5000, NULL), KUMO_CODE_FAILED_PRECONDITION);
    assert_non_null(strstr(kumo_db_last_error()->message, "unknown to this binary"));
    kumo_db_free(db);
}

static void test_db_migrate_rejects_bad_array(void **state)
{
    struct kumo_db *db = pool_for("m_gap");
    const struct kumo_db_migration zero[] = {{0, "z", "SELECT 1", 0}};
    const struct kumo_db_migration down[] = {{2, "a", "SELECT 1", 0}, {1, "b", "SELECT 1", 0}};
    const struct kumo_db_migration no_sql[] = {{1, "a", NULL, 0}};
    const struct kumo_db_migration no_name[] = {{1, "", "SELECT 1", 0}};
    struct kumo_db *nodb;
    struct kumo_db_options o = {0};
    (void)state;

    assert_int_equal(kumo_db_migrate(db, zero, 1, 1000, NULL), KUMO_CODE_INVALID_ARGUMENT);
    assert_int_equal(kumo_db_migrate(db, down, 2, 1000, NULL), KUMO_CODE_INVALID_ARGUMENT);
    assert_non_null(strstr(kumo_db_last_error()->message, "must increase"));
    assert_int_equal(kumo_db_migrate(db, no_sql, 1, 1000, NULL), KUMO_CODE_INVALID_ARGUMENT);
    assert_int_equal(kumo_db_migrate(db, no_name, 1, 1000, NULL), KUMO_CODE_INVALID_ARGUMENT);
    kumo_db_free(db);
    /* A pool without a database cannot name its lock. */
    o.host = "127.0.0.1";
    o.port = (unsigned)srv.port;
    o.user = "mig";
    assert_int_equal(kumo_db_new(&nodb, &o), 0);
    assert_int_equal(kumo_db_migrate(nodb, M, N_M, 1000, NULL), KUMO_CODE_INVALID_ARGUMENT);
    kumo_db_free(nodb);
}

static void test_db_migrate_failure_not_recorded(void **state)
{
    struct kumo_db *db = pool_for("m_fail");
    struct kumo_db_migrate_result res;
    struct kumo_db_migration broken[] = {
        M[0],
        {2, "broken", "CREATE TABLE ok_part (x INT); INSERT INTO no_such_table VALUES (1);", 0},
    };
    const struct kumo_db_migration unterminated[] = {{2, "bad", "SELECT 'oops", 0}};
    (void)state;

    assert_int_equal(kumo_db_migrate(db, broken, 2, 5000, &res), KUMO_CODE_INTERNAL);
    assert_non_null(
        strstr(kumo_db_last_error()->message, "migration 2 (broken) failed at statement 2 of 2"));
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.to_version, 1);
    assert_int_equal(count(db, "SELECT MAX(version) FROM schema_migrations"), 1);
    assert_int_equal(count(db, "SELECT IS_FREE_LOCK('kumo_migrate_m_fail')"), 1);
    /* Fixed (and idempotent), it applies. */
    broken[1].sql = "CREATE TABLE IF NOT EXISTS ok_part (x INT); INSERT INTO ok_part VALUES (1);";
    assert_int_equal(kumo_db_migrate(db, broken, 2, 5000, &res), KUMO_CODE_OK);
    assert_int_equal(res.applied, 1);
    /* Unterminated quote: refused before anything runs. */
    const struct kumo_db_migration three[] = {
        broken[0], broken[1], {3, "bad", unterminated[0].sql, 0}};
    assert_int_equal(kumo_db_migrate(db, three, 3, 5000, NULL), KUMO_CODE_INVALID_ARGUMENT);
    kumo_db_free(db);
}

static void test_db_migrate_single_statement_body(void **state)
{
    struct kumo_db *db = pool_for("m_trigger");
    const struct kumo_db_migration m[] = {
        {1, "table", "CREATE TABLE t (x INT, doubled INT)", 0},
        {2, "trigger",
         "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW BEGIN\n"
         "  SET NEW.doubled = NEW.x * 2;\n"
         "  SET NEW.x = NEW.x;\n"
         "END",
         1},
        {3, "use", "INSERT INTO t (x) VALUES (21)", 0},
    };
    (void)state;

    assert_int_equal(kumo_db_migrate(db, m, 3, 5000, NULL), KUMO_CODE_OK);
    assert_int_equal(count(db, "SELECT doubled FROM t"), 42);
    kumo_db_free(db);
}

/* ---- concurrency ---- */

static const struct kumo_db_migration RACE[] = {
    {1, "slow_create",
     "CREATE TABLE log (v INT NOT NULL); DO SLEEP(0.2); INSERT INTO log VALUES (1)", 0},
    {2, "second", "INSERT INTO log VALUES (2)", 0},
    {3, "third", "INSERT INTO log VALUES (3); CREATE TABLE done (x INT)", 0},
};

struct racer {
    pthread_barrier_t *start;
    kumo_code rc;
    size_t applied;
};

static void *race_thread(void *p)
{
    struct racer *r = p;
    struct kumo_db *db = pool_for("m_threads");
    struct kumo_db_migrate_result res = {0};
    pthread_barrier_wait(r->start);
    r->rc = kumo_db_migrate(db, RACE, 3, 10000, &res);
    r->applied = res.applied;
    kumo_db_free(db);
    return NULL;
}

static void test_db_migrate_concurrent_threads(void **state)
{
    enum { N = 4 };
    struct racer r[N];
    pthread_t th[N];
    pthread_barrier_t start;
    size_t total = 0;
    struct kumo_db *db;
    (void)state;

    pthread_barrier_init(&start, NULL, N);
    for (int k = 0; k < N; k++) {
        r[k] = (struct racer){&start, KUMO_CODE_UNKNOWN, 0};
        pthread_create(&th[k], NULL, race_thread, &r[k]);
    }
    for (int k = 0; k < N; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(r[k].rc, KUMO_CODE_OK);
        total += r[k].applied;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(total, 3); /* exactly one migrator applied each */
    db = pool_for("m_threads");
    for (int v = 1; v <= 3; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM log WHERE v = %d", v);
        assert_int_equal(count(db, sql), 1);
    }
    assert_int_equal(count(db, "SELECT COUNT(*) FROM schema_migrations"), 3);
    kumo_db_free(db);
}

static void test_db_migrate_concurrent_processes(void **state)
{
    enum { N = 3 };
    pid_t pids[N];
    int total = 0;
    struct kumo_db *db;
    (void)state;

    for (int k = 0; k < N; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            struct kumo_db_options o = {0};
            struct kumo_db *cdb = NULL;
            struct kumo_db_migrate_result res = {0};
            kumo_code rc;
            o.host = "127.0.0.1";
            o.port = (unsigned)srv.port;
            o.user = "mig";
            o.password = "mig-pw";
            o.database = "m_procs";
            o.tls_ca_file = srv.ca;
            if (kumo_db_new(&cdb, &o) != 0)
                _exit(100);
            rc = kumo_db_migrate(cdb, RACE, 3, 10000, &res);
            kumo_db_free(cdb);
            _exit(rc == KUMO_CODE_OK ? (int)res.applied : 100 + (int)rc);
        }
    }
    for (int k = 0; k < N; k++) {
        int st = 0;
        assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
        assert_true(WIFEXITED(st));
        assert_true(WEXITSTATUS(st) <= 3);
        total += WEXITSTATUS(st);
    }
    assert_int_equal(total, 3);
    db = pool_for("m_procs");
    assert_int_equal(count(db, "SELECT COUNT(*) FROM log"), 3);
    assert_int_equal(count(db, "SELECT COUNT(DISTINCT v) FROM log"), 3);
    kumo_db_free(db);
}

static void test_db_migrate_lock_timeout(void **state)
{
    struct kumo_db *db = pool_for("m_lock");
    struct kumo_db_conn *holder;
    int64_t got = 0;
    double t0;
    (void)state;

    /* Another migrator (or a stuck one) holds the lock. */
    assert_int_equal(kumo_db_acquire(db, 0, &holder), KUMO_CODE_OK);
    assert_int_equal(kumo_db_query_row(holder, "SELECT GET_LOCK('kumo_migrate_m_lock', 0)", NULL, 0,
                                       KUMO_DB_OUTS(KUMO_DB_OUT_I64(&got))),
                     KUMO_CODE_OK);
    assert_int_equal(got, 1);
    t0 = tm_now();
    assert_int_equal(kumo_db_migrate(db, M, N_M, 1000, NULL), KUMO_CODE_ABORTED);
    assert_true(tm_now() - t0 >= 0.9 && tm_now() - t0 < 5);
    assert_non_null(strstr(kumo_db_last_error()->message, "another migration holds the lock"));
    kumo_db_release(holder); /* RELEASE_LOCK is not needed: ...but the session lives on */
    assert_int_equal(kumo_db_acquire(db, 0, &holder), KUMO_CODE_OK);
    assert_int_equal(kumo_db_query_row(holder, "SELECT RELEASE_LOCK('kumo_migrate_m_lock')", NULL,
                                       0, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&got))),
                     KUMO_CODE_OK);
    kumo_db_release(holder);
    assert_int_equal(kumo_db_migrate(db, M, N_M, 1000, NULL), KUMO_CODE_OK);
    kumo_db_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_migrate_split_basic),
        cmocka_unit_test(test_db_migrate_split_quotes_and_comments),
        cmocka_unit_test(test_db_migrate_split_unterminated),
        cmocka_unit_test(test_db_migrate_applies_and_records),
        cmocka_unit_test(test_db_migrate_refuses_newer_schema),
        cmocka_unit_test(test_db_migrate_detects_changed_checksum),
        cmocka_unit_test(test_db_migrate_refuses_gap_and_unknown),
        cmocka_unit_test(test_db_migrate_rejects_bad_array),
        cmocka_unit_test(test_db_migrate_failure_not_recorded),
        cmocka_unit_test(test_db_migrate_single_statement_body),
        cmocka_unit_test(test_db_migrate_concurrent_threads),
        cmocka_unit_test(test_db_migrate_concurrent_processes),
        cmocka_unit_test(test_db_migrate_lock_timeout),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
