/* The connection pool: bounded, thread-safe, self-healing. Physical
 * connections are opened on demand (with a fresh password or IAM token each
 * time), validated when idle too long, closed past their lifetime, and
 * dropped wholesale after a connection-level failure. Nothing reconnects in
 * place: recovery is always a new connection through the pool. */
#include <openssl/crypto.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "db/internal.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define NS_PER_MS 1000000LL

/* Plugins a password-mode connection may use: everything that never sends
 * the password in clear. mysql_clear_password and dialog are left out, so a
 * hostile or misconfigured server cannot ask for the password in clear. */
#define PASSWORD_MODE_PLUGINS                                                                      \
    "mysql_native_password,client_ed25519,caching_sha2_password,sha256_password"
#define IAM_PLUGIN "mysql_clear_password"

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    /* Not thread-safe when left to mysql_init: do it once, here. */
    mysql_library_init(0, NULL, NULL);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

size_t kumo__db_strlen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* ---- construction ---- */

static char *dup_opt(const char *s)
{
    return s ? kumo_strdup(s) : NULL;
}

static int invalid(const char *why)
{
    kumo__db_error(NULL, KUMO_CODE_INVALID_ARGUMENT, "invalid database options", why);
    return KUMO_ERR_INVALID;
}

static int check_options(const struct kumo_db_options *o)
{
    if (!o->user || !*o->user)
        return invalid("user is required");
    if (!o->unix_socket && (!o->host || !*o->host))
        return invalid("host (or unix_socket in password mode) is required");
    if (o->auth != KUMO_DB_AUTH_PASSWORD && o->auth != KUMO_DB_AUTH_IAM)
        return invalid("unknown auth mode");
    if (o->auth == KUMO_DB_AUTH_IAM) {
        if (!o->host || !*o->host)
            return invalid("IAM auth needs a TCP host");
        if (o->unix_socket)
            return invalid("IAM auth cannot use a unix socket");
        if (!o->password_fn)
            return invalid("IAM auth needs a token function (password_fn)");
        if (!o->tls_ca_file || !*o->tls_ca_file)
            return invalid("IAM auth needs a TLS CA bundle (tls_ca_file)");
    }
    if (o->tls_ca_file && access(o->tls_ca_file, R_OK) != 0)
        return invalid("tls_ca_file is not readable");
    if (o->tls_ca_file && o->unix_socket)
        return invalid("TLS verification needs TCP, not a unix socket");
    return 0;
}

static int is_loopback(const char *host)
{
    return !host || strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0;
}

static void apply_defaults(struct kumo_db_options *o)
{
    if (!o->port)
        o->port = 3306;
    if (!o->max_conns)
        o->max_conns = 8;
    if (o->acquire_timeout_ms <= 0)
        o->acquire_timeout_ms = 2000;
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = 5000;
    if (o->io_timeout_ms <= 0)
        o->io_timeout_ms = 30000;
    if (o->max_lifetime_ms <= 0)
        o->max_lifetime_ms = 600000;
    if (o->validate_idle_ms == 0)
        o->validate_idle_ms = 10000;
    if (o->reconnect_backoff_ms == 0)
        o->reconnect_backoff_ms = 200;
    if (o->lock_wait_timeout_s <= 0)
        o->lock_wait_timeout_s = 10;
    if (!o->max_value_len)
        o->max_value_len = 16u << 20;
    if (!o->max_packet)
        o->max_packet = 64u << 20;
    if (o->max_packet < o->max_value_len + 1024)
        o->max_packet = o->max_value_len + 1024;
    if (!o->max_cached_stmts)
        o->max_cached_stmts = 64;
}

/* Samples the pool at each /metrics render (the DB pool panel and the
 * saturation alert). Labelled by database name: a config value, bounded. */
static void collect_pool(void *ud)
{
    struct kumo_db *db = ud;
    struct kumo_db_stats st;
    kumo_db_stats(db, &st);
    const char *name = db->database && *db->database ? db->database : "none";
    const char *in_use[] = {"database", name, "state", "in_use", NULL};
    const char *idle[] = {"database", name, "state", "idle", NULL};
    const char *only[] = {"database", name, NULL};
    const char *help = "DB pool connections, by state (in_use includes opening).";
    kumo_metrics_gauge_setl("kumo_db_pool_connections", help, in_use,
                            (int64_t)st.open - (int64_t)st.idle);
    kumo_metrics_gauge_setl("kumo_db_pool_connections", help, idle, (int64_t)st.idle);
    kumo_metrics_gauge_setl("kumo_db_pool_max_connections", "DB pool size limit.", only,
                            (int64_t)db->o.max_conns);
    kumo_metrics_gauge_setl("kumo_db_pool_waiting", "Threads waiting for a DB connection.", only,
                            (int64_t)st.waiting);
}

static void count_connect(const struct kumo_db *db, const char *outcome)
{
    const char *name = db->database && *db->database ? db->database : "none";
    kumo_metrics_counter_addl("kumo_db_connects_total",
                              "New DB connections, by outcome (error: MySQL unreachable or "
                              "refusing).",
                              (const char *[]){"database", name, "outcome", outcome, NULL}, 1);
}

int kumo_db_new(struct kumo_db **out, const struct kumo_db_options *opts)
{
    struct kumo_db *db;
    pthread_condattr_t ca;

    kumo__db_clear_error();
    if (!opts)
        return invalid("no options");
    if (check_options(opts) != 0)
        return KUMO_ERR_INVALID;
    if (!opts->tls_ca_file && !opts->unix_socket && !is_loopback(opts->host))
        kumo_log(KUMO_LOG_WARN, NULL,
                 "db: no TLS CA configured: the connection to a remote MySQL is not encrypted",
                 "host", opts->host, NULL);
    pthread_once(&lib_once, lib_init);
    db = kumo_calloc(1, sizeof *db);
    db->o = *opts;
    apply_defaults(&db->o);
    db->o.host = db->host = dup_opt(opts->host);
    db->o.unix_socket = db->unix_socket = dup_opt(opts->unix_socket);
    db->o.user = db->user = dup_opt(opts->user);
    db->o.database = db->database = dup_opt(opts->database);
    db->o.password = db->password = dup_opt(opts->password);
    db->o.tls_ca_file = db->tls_ca_file = dup_opt(opts->tls_ca_file);
    pthread_mutex_init(&db->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&db->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (kumo__db_watchdog_start(db) != 0)
        kumo_log(KUMO_LOG_WARN, NULL,
                 "db: no deadline watchdog (thread creation failed): calls are bounded by "
                 "KUMO_DB_IO_TIMEOUT only",
                 NULL);
    kumo_metrics_collector_add(collect_pool, db);
    *out = db;
    return 0;
}

/* ---- physical connections ---- */

static void close_conn(struct kumo_db_conn *c)
{
    kumo__db_stmts_free(c);
    if (c->m)
        mysql_close(c->m);
    kumo_free(c);
}

/* Closes a connection that counted in stats.open and wakes a waiter, who may
 * now open a new one. */
static void discard_conn(struct kumo_db *db, struct kumo_db_conn *c)
{
    close_conn(c);
    pthread_mutex_lock(&db->mu);
    db->stats.open--;
    db->stats.discarded++;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

static unsigned secs_ceil(int64_t ms)
{
    int64_t s = (ms + 999) / 1000;
    return s < 1 ? 1u : (unsigned)s;
}

/* TLS: verify the server against the CA bundle and refuse a server without
 * TLS; the library checks this before it sends any authentication data. */
static int set_tls(MYSQL *m, const char *ca)
{
    my_bool yes = 1;
    int r = 0;

    r |= mysql_optionsv(m, MYSQL_OPT_SSL_CA, ca);
    r |= mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
    r |= mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes);
    r |= mysql_optionsv(m, MARIADB_OPT_TLS_VERSION, "TLSv1.2,TLSv1.3");
    return r;
}

static int set_options(const struct kumo_db *db, MYSQL *m, int64_t connect_ms)
{
    const struct kumo_db_options *o = &db->o;
    unsigned connect_s = secs_ceil(connect_ms), io_s = secs_ceil(o->io_timeout_ms);
    unsigned long max_packet = (unsigned long)o->max_packet;
    my_bool no = 0, yes = 1;
    unsigned proto = o->unix_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
    int r = 0;

    r |= mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
    r |= mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &io_s);
    r |= mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
    r |= mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &proto);
    r |= mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no);
    /* A server must never be able to read our files (LOAD DATA LOCAL). */
    r |= mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &no);
    r |= mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    r |= mysql_optionsv(m, MYSQL_REPORT_DATA_TRUNCATION, &yes);
    r |= mysql_optionsv(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
    if (o->tls_ca_file)
        r |= set_tls(m, o->tls_ca_file);
    if (o->auth == KUMO_DB_AUTH_IAM) {
        /* The token is a bearer credential sent in clear inside TLS: allow
         * that plugin only, and make it the first one tried. */
        r |= mysql_optionsv(m, MARIADB_OPT_RESTRICTED_AUTH, IAM_PLUGIN);
        r |= mysql_optionsv(m, MYSQL_DEFAULT_AUTH, IAM_PLUGIN);
        r |= mysql_optionsv(m, MYSQL_ENABLE_CLEARTEXT_PLUGIN, &yes);
    } else {
        r |= mysql_optionsv(m, MARIADB_OPT_RESTRICTED_AUTH, PASSWORD_MODE_PLUGINS);
    }
    return r;
}

static void wipe_buf(struct kumo_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    kumo_buf_free(b);
}

static kumo_code get_password(const struct kumo_db *db, struct kumo_buf *pw)
{
    if (db->o.password_fn) {
        if (db->o.password_fn(db->o.password_ud, pw) != 0)
            return kumo__db_error(NULL, KUMO_CODE_UNAVAILABLE, "database unavailable",
                                  "no database credentials: the password/token source failed");
    } else if (db->password) {
        kumo_buf_append_str(pw, db->password);
    }
    kumo_buf_append(pw, "", 0); /* a C string even when empty */
    if (memchr(pw->data, '\0', pw->len))
        return kumo__db_error(NULL, KUMO_CODE_UNAVAILABLE, "database unavailable",
                              "the database password/token contains a NUL byte");
    return KUMO_CODE_OK;
}

/* Every session: UTC, strict SQL modes, and the configured lock wait. */
#define SESSION_SETUP_SQL                                                                          \
    "SET time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"            \
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', innodb_lock_wait_timeout="

static kumo_code session_setup(struct kumo_db_conn *c)
{
    char sql[sizeof SESSION_SETUP_SQL + 24]; /* + the digits of a long long */
    int n = snprintf(sql, sizeof sql, SESSION_SETUP_SQL "%lld",
                     (long long)c->db->o.lock_wait_timeout_s);
    return kumo__db_text(c, sql, (size_t)n);
}

static kumo_code connect_failed(struct kumo_db_conn *c)
{
    char num[16];
    unsigned err = mysql_errno(c->m);

    snprintf(num, sizeof num, "%u", err);
    kumo_log(KUMO_LOG_WARN, NULL, "db: connect failed", "errno", num, "mysql_message",
             mysql_error(c->m), "host", c->db->o.unix_socket ? c->db->o.unix_socket : c->db->o.host,
             "user", c->db->o.user, NULL);
    /* Keep the number for callers and tests (e.g. 2026: TLS refused). */
    kumo__db_set_last(KUMO_CODE_UNAVAILABLE, err, "database unavailable");
    return KUMO_CODE_UNAVAILABLE;
}

static int64_t lifetime_jitter(const struct kumo_db *db, const void *salt)
{
    uint64_t x = (uint64_t)now_ns() ^ (uint64_t)(uintptr_t)salt;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (int64_t)(x % (uint64_t)(db->o.max_lifetime_ms / 10 + 1)) * NS_PER_MS;
}

/* Opens and sets up one physical connection within `connect_ms`. */
static kumo_code open_conn(struct kumo_db *db, int64_t connect_ms, uint64_t epoch,
                           struct kumo_db_conn **out)
{
    struct kumo_db_conn *c = kumo_calloc(1, sizeof *c);
    struct kumo_buf pw = KUMO_BUF_INIT;
    const struct kumo_db_options *o = &db->o;
    kumo_code rc;
    MYSQL *ok;

    c->db = db;
    c->epoch = epoch;
    c->m = mysql_init(NULL);
    if (set_options(db, c->m, connect_ms) != 0) {
        close_conn(c);
        return kumo__db_error(NULL, KUMO_CODE_INTERNAL, "internal database error",
                              "libmariadb rejected a connection option");
    }
    rc = get_password(db, &pw);
    if (rc != KUMO_CODE_OK) {
        wipe_buf(&pw);
        close_conn(c);
        return rc;
    }
    ok = mysql_real_connect(c->m, o->unix_socket ? NULL : o->host, o->user, (char *)pw.data,
                            o->database, o->port, o->unix_socket, CLIENT_FOUND_ROWS);
    wipe_buf(&pw);
    if (!ok) {
        rc = connect_failed(c);
        close_conn(c);
        return rc;
    }
    if (o->tls_ca_file && !mysql_get_ssl_cipher(c->m)) {
        /* Cannot happen with the options above; never trust it silently. */
        close_conn(c);
        return kumo__db_error(NULL, KUMO_CODE_UNAVAILABLE, "database unavailable",
                              "connected without TLS although TLS is required");
    }
    rc = session_setup(c);
    if (rc != KUMO_CODE_OK) {
        close_conn(c);
        return rc;
    }
    c->expires_ns = now_ns() + o->max_lifetime_ms * NS_PER_MS - lifetime_jitter(db, c);
    c->last_used_ns = now_ns();
    *out = c;
    return KUMO_CODE_OK;
}

/* ---- lending ---- */

void kumo__db_poison(struct kumo_db_conn *c, int whole_pool)
{
    c->poisoned = 1;
    if (whole_pool) {
        pthread_mutex_lock(&c->db->mu);
        if (c->epoch == c->db->epoch)
            c->db->epoch++;
        pthread_mutex_unlock(&c->db->mu);
    }
}

/* Decides whether an idle connection may be lent: not from before a
 * failure, not expired, and alive if it sat idle long enough to doubt it. */
static int idle_usable(struct kumo_db_conn *c, uint64_t epoch, int64_t now)
{
    const struct kumo_db_options *o = &c->db->o;

    if (c->epoch != epoch || now >= c->expires_ns)
        return 0;
    if (o->validate_idle_ms < 0 || now - c->last_used_ns > o->validate_idle_ms * NS_PER_MS) {
        kumo__db_guard_begin(c);
        int bad = mysql_ping(c->m) != 0;
        if (kumo__db_guard_end(c))
            return 0; /* the lender's deadline passed while the server was silent */
        if (bad) {
            kumo__db_conn_error(c, "(ping)");
            kumo__db_clear_error();
            return 0;
        }
    }
    return 1;
}

static kumo_code wait_failed(struct kumo_db *db, int by_deadline)
{
    char detail[128];

    if (by_deadline)
        return kumo__db_error(NULL, KUMO_CODE_DEADLINE_EXCEEDED,
                              "deadline exceeded waiting for a database connection", NULL);
    snprintf(detail, sizeof detail, "all %u connections busy for %lld ms", db->o.max_conns,
             (long long)db->o.acquire_timeout_ms);
    return kumo__db_error(NULL, KUMO_CODE_RESOURCE_EXHAUSTED,
                          "database busy: no free connection in time", detail);
}

/* Opens a connection for a slot already counted in stats.open. */
static kumo_code open_in_slot(struct kumo_db *db, uint64_t epoch, int64_t until,
                              struct kumo_db_conn **out)
{
    int64_t ms = (until - now_ns()) / NS_PER_MS;
    kumo_code rc;

    if (ms > db->o.connect_timeout_ms || ms < 1)
        ms = ms < 1 ? 1 : db->o.connect_timeout_ms;
    rc = open_conn(db, ms, epoch, out);
    pthread_mutex_lock(&db->mu);
    count_connect(db, rc == KUMO_CODE_OK ? "ok" : "error");
    if (rc == KUMO_CODE_OK) {
        db->stats.connects++;
        db->down_until_ns = 0;
    } else {
        db->stats.open--;
        db->stats.connect_fails++;
        if (db->o.reconnect_backoff_ms > 0)
            db->down_until_ns = now_ns() + db->o.reconnect_backoff_ms * NS_PER_MS;
        pthread_cond_signal(&db->cv);
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

kumo_code kumo_db_acquire(struct kumo_db *db, int64_t deadline_ns, struct kumo_db_conn **out)
{
    int64_t now = now_ns(), until = now + db->o.acquire_timeout_ms * NS_PER_MS;
    int by_deadline = 0;
    struct timespec ts;

    kumo__db_clear_error();
    if (deadline_ns && deadline_ns <= now)
        return wait_failed(db, 1);
    if (deadline_ns && deadline_ns < until) {
        until = deadline_ns;
        by_deadline = 1;
    }
    ts.tv_sec = (time_t)(until / 1000000000LL);
    ts.tv_nsec = (long)(until % 1000000000LL);
    pthread_mutex_lock(&db->mu);
    for (;;) {
        if (db->idle) {
            struct kumo_db_conn *c = db->idle;
            uint64_t epoch = db->epoch;
            db->idle = c->next;
            db->stats.idle--;
            pthread_mutex_unlock(&db->mu);
            c->next = NULL;
            c->deadline_ns = deadline_ns;
            if (idle_usable(c, epoch, now_ns())) {
                *out = c;
                return KUMO_CODE_OK;
            }
            if (deadline_ns && now_ns() >= deadline_ns) {
                discard_conn(db, c);
                return wait_failed(db, 1);
            }
            discard_conn(db, c);
            pthread_mutex_lock(&db->mu);
            continue;
        }
        if (db->stats.open < db->o.max_conns) {
            if (db->down_until_ns && now_ns() < db->down_until_ns) {
                pthread_mutex_unlock(&db->mu);
                return kumo__db_error(NULL, KUMO_CODE_UNAVAILABLE, "database unavailable",
                                      "recent connect failed; backing off");
            }
            uint64_t epoch = db->epoch;
            db->stats.open++;
            pthread_mutex_unlock(&db->mu);
            kumo_code orc = open_in_slot(db, epoch, until, out);
            if (orc == KUMO_CODE_OK)
                (*out)->deadline_ns = deadline_ns;
            return orc;
        }
        db->stats.waiting++;
        int r = pthread_cond_timedwait(&db->cv, &db->mu, &ts);
        db->stats.waiting--;
        if (r == ETIMEDOUT && !db->idle && db->stats.open >= db->o.max_conns) {
            pthread_mutex_unlock(&db->mu);
            return wait_failed(db, by_deadline);
        }
    }
}

static void rollback_on_release(struct kumo_db_conn *c)
{
    if (c->poisoned)
        return;
    if (!c->in_tx && !(c->m->server_status & SERVER_STATUS_IN_TRANS))
        return;
    kumo_log(KUMO_LOG_WARN, c->request_id,
             "db: connection released inside a transaction: rolled back", NULL);
    kumo__db_guard_begin(c);
    int bad = mysql_rollback(c->m) != 0;
    if (kumo__db_guard_end(c))
        c->poisoned = 1; /* never reused; the server rolls back on disconnect */
    else if (bad)
        kumo__db_conn_error(c, "ROLLBACK");
    c->in_tx = 0;
}

void kumo_db_release(struct kumo_db_conn *c)
{
    struct kumo_db *db;
    int64_t now;

    if (!c)
        return;
    /* Callers often release before reporting the error of their last call:
     * keep it, whatever the cleanup below runs into (that is logged). */
    struct kumo_db_error saved = *kumo_db_last_error();
    db = c->db;
    if (c->rows.open)
        kumo_db_rows_close(&c->rows);
    rollback_on_release(c);
    kumo__db_restore_error(&saved);
    c->request_id = NULL;
    c->deadline_ns = 0;
    now = now_ns();
    pthread_mutex_lock(&db->mu);
    if (c->poisoned || c->epoch != db->epoch || now >= c->expires_ns) {
        pthread_mutex_unlock(&db->mu);
        discard_conn(db, c);
        return;
    }
    c->last_used_ns = now;
    c->next = db->idle;
    db->idle = c;
    db->stats.idle++;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

void kumo_db_conn_set_request_id(struct kumo_db_conn *c, const char *request_id)
{
    c->request_id = request_id;
}

kumo_code kumo_db_ping(struct kumo_db *db, int64_t deadline_ns)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_acquire(db, deadline_ns, &c);

    if (rc != KUMO_CODE_OK)
        return rc;
    kumo__db_guard_begin(c);
    int bad = mysql_ping(c->m) != 0;
    if (kumo__db_guard_end(c) && bad)
        rc = kumo__db_deadline_error(c, "(ping)");
    else if (bad)
        rc = kumo__db_conn_error(c, "(ping)");
    kumo_db_release(c);
    return rc;
}

void kumo_db_stats(struct kumo_db *db, struct kumo_db_stats *out)
{
    pthread_mutex_lock(&db->mu);
    *out = db->stats;
    pthread_mutex_unlock(&db->mu);
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        kumo_free(s);
    }
}

void kumo_db_free(struct kumo_db *db)
{
    if (!db)
        return;
    kumo__db_watchdog_stop(db);
    kumo_metrics_collector_remove(collect_pool, db);
    while (db->idle) {
        struct kumo_db_conn *c = db->idle;
        db->idle = c->next;
        db->stats.idle--;
        db->stats.open--;
        close_conn(c);
    }
    if (db->stats.open)
        kumo_log(KUMO_LOG_ERROR, NULL, "db: pool freed with connections still leased", NULL);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->mu);
    kumo_free(db->host);
    kumo_free(db->unix_socket);
    kumo_free(db->user);
    kumo_free(db->database);
    free_secret(db->password);
    kumo_free(db->tls_ca_file);
    kumo_free(db);
}
