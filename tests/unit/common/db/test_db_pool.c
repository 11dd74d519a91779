/* Tests of common/db/pool.c, options.c and watchdog.c against a real MariaDB
 * (db_fixture.h): option checks, deadlines, pool exhaustion and recycling,
 * failover recovery, password functions, TLS and the unix socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db/internal.h"
#include "rpc/rpc.h" /* kumo_now_ns */
#include "db_fixture.h"

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

/* Sends SIGSTOP to `pid` and waits (up to 2 s) until every thread of it is
 * stopped: the stop is asynchronous, and a query sent at once could still
 * be answered by a thread not stopped yet. Returns 0 or -1. */
static int stop_server(pid_t pid)
{
    if (kill(pid, SIGSTOP) != 0)
        return -1;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    for (int tries = 0; tries < 200; tries++) {
        DIR *d = opendir(dir);
        if (!d)
            return -1;
        int running = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[384], buf[512];
            snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            const char *close_paren = strrchr(buf, ')'); /* "pid (comm) S ..." */
            if (close_paren && close_paren[1] == ' ' && close_paren[2] != 'T' &&
                close_paren[2] != 't')
                running = 1;
        }
        closedir(d);
        if (!running)
            return 0;
        usleep(10 * 1000);
    }
    return -1;
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

struct slow_call {
    struct kumo_db *db;
    int64_t budget_ns;
    kumo_code rc;
    double took;
};

static void *slow_call_main(void *arg)
{
    struct slow_call *s = arg;
    struct kumo_db_conn *c = NULL;
    double t0 = tm_now();
    s->rc = kumo_db_acquire(s->db, kumo_now_ns() + s->budget_ns, &c);
    if (s->rc == KUMO_CODE_OK) {
        s->rc = kumo_db_exec(c, "DO SLEEP(5)", NULL, 0, NULL);
        kumo_db_release(c);
    }
    s->took = since(t0);
    return NULL;
}

/* The watchdog is woken only for a deadline earlier than its next wake-up:
 * a call with a later deadline than one already guarded is still cut on
 * time (when the watchdog wakes for the earlier one it looks again), and
 * one with an earlier deadline than the watchdog's next wake-up (a long
 * budget already guarded) is cut at its own. */
static void test_db_deadline_watchdog_wakes_for_each_deadline(void **state)
{
    (void)state;
    struct kumo_db_options o = base_opts();
    struct kumo_db *db = new_pool(&o);
    struct slow_call calls[3] = {
        {db, 20000000000LL, 0, 0}, /* guarded first: the watchdog sleeps 20 s */
        {db, 300000000LL, 0, 0},   /* earlier: must wake it */
        {db, 600000000LL, 0, 0},   /* later than 0.3 s: no wake-up of its own */
    };
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, slow_call_main, &calls[i]), 0);
        usleep(100 * 1000); /* in this order */
    }
    for (int i = 1; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(calls[i].rc, KUMO_CODE_DEADLINE_EXCEEDED);
        assert_true(calls[i].took < 3.0); /* SLEEP(5), cut at 0.3 / 0.6 s; slack for valgrind */
    }
    pthread_join(th[0], NULL); /* SLEEP(5) within its 20 s */
    assert_int_equal(calls[0].rc, KUMO_CODE_OK);
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
    assert_int_equal(stop_server(pid), 0);
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
        cmocka_unit_test(test_db_deadline_watchdog_wakes_for_each_deadline),
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
