/* The MySQL layer: a bounded, thread-safe connection pool over libmariadb
 * (Connector/C 3.3) that speaks prepared statements only, with typed
 * parameters and results, transactions, error mapping to kumo codes, and
 * numbered migrations (db_migrate.c).
 *
 * Typical use in a KUMO_RPC_BLOCKING handler:
 *
 *   struct kumo_db_conn *c;
 *   kumo_code rc = kumo_db_acquire(db, kumo_rpc_call_deadline(call), &c);
 *   if (rc != KUMO_CODE_OK)
 *       return kumo_rpc_call_error(call, rc, "%s", kumo_db_last_error()->message);
 *   uint64_t n;
 *   rc = kumo_db_exec(c, "UPDATE users SET name=?, version=version+1"
 *                        " WHERE tenant_id=? AND id=? AND version=?",
 *                     KUMO_DB_PARAMS(KUMO_DB_STR(name, name_len), KUMO_DB_I64(tid),
 *                                    KUMO_DB_I64(id), KUMO_DB_I64(version)), &n);
 *   kumo_db_release(c);
 *
 * Connections never reconnect by themselves (MYSQL_OPT_RECONNECT stays off):
 * a connection that hit a connection-level error (lost connection, server
 * gone, read-only after a failover) is poisoned, fails every later call with
 * KUMO_CODE_UNAVAILABLE at once and is closed when released; the pool then
 * drops every idle connection opened before the error and opens fresh ones
 * on demand, so it recovers by itself when the server is back.
 *
 * Errors: every call returns a kumo_code (KUMO_CODE_OK = 0) and, on failure,
 * records the details in a thread-local struct kumo_db_error (like errno):
 *   duplicate key                                  -> ALREADY_EXISTS
 *   lost connection, server gone, TLS refused, shutdown, killed, read-only
 *     (2002, 2003, 2005, 2006, 2013, 2026, 2055, 1040, 1053, 1290, 1792,
 *      1836, 1927, 4031)                           -> UNAVAILABLE (discarded)
 *   other client-library errors (2xxx, 5xxx)       -> INTERNAL (discarded)
 *   deadlock, lock wait timeout (1213, 1205)       -> ABORTED
 *   statement timeout (1969, 3024)                 -> DEADLINE_EXCEEDED
 *   value too long / bad string / out of range
 *     (1406, 1366, 1264, 1048)                     -> INVALID_ARGUMENT
 *   foreign key violations (1451, 1452)            -> FAILED_PRECONDITION
 *   anything else                                  -> INTERNAL
 * The server's message is logged (with the SQL text, which never holds data
 * since values are bound), never put in kumo_db_error.message, which is safe
 * to send to clients. */
#ifndef KUMO_DB_H
#define KUMO_DB_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/errors.h"

struct kumo_db;      /* a pool; thread-safe */
struct kumo_db_conn; /* one leased connection; one thread at a time */
struct kumo_db_rows; /* an open result of kumo_db_query; owned by its conn */

/* ---- configuration ---- */

enum kumo_db_auth {
    /* A password (fixed, or from password_fn). TLS is optional: set
     * tls_ca_file to require a verified TLS connection. */
    KUMO_DB_AUTH_PASSWORD = 0,
    /* AWS RDS/Aurora IAM: password_fn mints a token for every new physical
     * connection; TCP only; TLS required and verified against tls_ca_file
     * (a connection whose server certificate does not verify, or a server
     * without TLS, fails before anything is sent); only the
     * mysql_clear_password plugin is allowed. */
    KUMO_DB_AUTH_IAM = 1,
};

/* Produces the password for a new physical connection into `out` (empty on
 * entry). Returns 0, or nonzero when no password can be had (the connect
 * then fails with UNAVAILABLE). Called from any thread, possibly
 * concurrently; the pool wipes and frees `out` after use. */
typedef int (*kumo_db_password_fn)(void *ud, struct kumo_buf *out);

struct kumo_db_options {
    const char *host;        /* TCP host (names resolved per connect) */
    unsigned port;           /* 0 = 3306 */
    const char *unix_socket; /* password mode only: use this socket, not TCP */
    const char *user;        /* required */
    const char *database;    /* default schema; NULL = none */
    enum kumo_db_auth auth;
    const char *password;            /* password mode, when password_fn is NULL */
    kumo_db_password_fn password_fn; /* required in IAM mode */
    void *password_ud;               /* passed to password_fn */
    const char *tls_ca_file;         /* CA bundle (PEM); required in IAM mode */
    unsigned max_conns;              /* pool size; 0 = 8 */
    int64_t acquire_timeout_ms;      /* longest wait for a free conn; 0 = 2000 */
    int64_t connect_timeout_ms;      /* TCP + TLS + auth; 0 = 5000 */
    int64_t io_timeout_ms;           /* per network read/write; 0 = 30000 */
    int64_t max_lifetime_ms;         /* conns are closed after this (minus up
                                      * to 10% jitter); 0 = 600000 */
    int64_t validate_idle_ms;        /* ping a conn idle longer than this
                                      * before lending it; 0 = 10000; -1 = always */
    int64_t reconnect_backoff_ms;    /* after a failed connect, fail fast for
                                      * this long; 0 = 200; -1 = never */
    int64_t lock_wait_timeout_s;     /* innodb_lock_wait_timeout; 0 = 10 */
    size_t max_value_len;            /* longest column value fetched; 0 = 16 MiB */
    size_t max_packet;               /* client max_allowed_packet; 0 = 64 MiB */
    unsigned max_cached_stmts;       /* prepared statements kept per conn; 0 = 64 */
};

/* Creates a pool (no connection is opened yet). The options' strings are
 * copied. Returns 0 and sets *out (free with kumo_db_free), or
 * KUMO_ERR_INVALID for inconsistent options (missing user, IAM without
 * host/password_fn/tls_ca_file, IAM with unix_socket, unreadable CA file),
 * leaving *out untouched; the reason is logged and in kumo_db_last_error(). */
int kumo_db_new(struct kumo_db **out, const struct kumo_db_options *opts);

/* Closes every connection and frees the pool. Every leased connection must
 * have been released first. NULL is ignored. */
void kumo_db_free(struct kumo_db *db);

/* ---- configuration from KUMO_DB_* variables (db_config.c) ----
 *   KUMO_DB_HOST, KUMO_DB_PORT, KUMO_DB_SOCKET, KUMO_DB_USER, KUMO_DB_NAME,
 *   KUMO_DB_AUTH (password|iam), KUMO_DB_PASSWORD (or KUMO_DB_PASSWORD_FILE),
 *   KUMO_DB_TLS_CA_FILE, KUMO_DB_POOL_SIZE, KUMO_DB_ACQUIRE_TIMEOUT,
 *   KUMO_DB_CONNECT_TIMEOUT, KUMO_DB_IO_TIMEOUT, KUMO_DB_MAX_LIFETIME,
 *   KUMO_DB_LOCK_WAIT_TIMEOUT.
 * A daemon copies them into its variable table (config.h), loads it, then
 * calls kumo_db_options_from_config; in IAM mode it also sets password_fn
 * (the RDS token minter). */
#define KUMO_DB_N_CONFIG_VARS 14

struct kumo_config;
struct kumo_config_var;

/* Copies the KUMO_DB_* declarations into out[0..KUMO_DB_N_CONFIG_VARS-1]
 * (`cap` must be at least that; returns the number copied, or 0 if `cap` is
 * too small), with KUMO_DB_NAME defaulting to `default_database` (a string
 * that must outlive the table, e.g. "kumo_users"). */
size_t kumo_db_config_vars(struct kumo_config_var *out, size_t cap, const char *default_database);

/* A daemon's whole variable table: its own declarations own[0..n_own)
 * followed by the KUMO_DB_* ones (kumo_db_config_vars), built on the first
 * call for `own` and kept for the life of the process (`own` and
 * `default_database` must outlive it). Sets *n; thread-safe. NULL only
 * when more than 4 distinct tables were asked for. */
const struct kumo_config_var *kumo_db_daemon_vars(const struct kumo_config_var *own, size_t n_own,
                                                  const char *default_database, size_t *n);

/* Fills *o from a configuration loaded with those variables (strings are
 * borrowed from `c`: keep it alive until kumo_db_new has copied them).
 * Returns 0, or KUMO_ERR_INVALID (unknown KUMO_DB_AUTH, logged). */
int kumo_db_options_from_config(const struct kumo_config *c, struct kumo_db_options *o);

/* ---- errors ---- */

struct kumo_db_error {
    kumo_code code;       /* as returned */
    unsigned mysql_errno; /* server or client error number; 0 if none */
    char sqlstate[6];     /* "23000"; "" if none */
    char message[128];    /* short, safe to show to clients */
    char dup_key[65];     /* ALREADY_EXISTS: the violated key's name, else "" */
};

/* The details of the last failed kumo_db call on this thread. Valid until
 * the next kumo_db call on the same thread (kumo_db_release and
 * kumo_db_rows_close leave it alone, so release-then-report works). Never
 * NULL (code OK if none). */
const struct kumo_db_error *kumo_db_last_error(void);

/* ---- connections ---- */

/* Lends a connection: an idle one (pinged first if idle longer than
 * validate_idle_ms; closed instead if past its lifetime or opened before a
 * connection-level failure), else a new one if fewer than max_conns are
 * open, else waits for a release. `deadline_ns` is a CLOCK_MONOTONIC time
 * (kumo_now_ns() base, e.g. kumo_rpc_call_deadline) or 0 for none; the wait
 * also never exceeds acquire_timeout_ms. Returns OK and sets *out; or
 * RESOURCE_EXHAUSTED (no free connection in time), DEADLINE_EXCEEDED
 * (deadline passed), UNAVAILABLE (cannot connect; fails fast during the
 * reconnect backoff), leaving *out untouched. */
kumo_code kumo_db_acquire(struct kumo_db *db, int64_t deadline_ns, struct kumo_db_conn **out);

/* Gives a connection back. An open result is closed; an open transaction
 * is rolled back (and logged: it is a bug in the caller); a poisoned,
 * expired or stale connection is closed. `c` is invalid afterwards. NULL is
 * ignored. */
void kumo_db_release(struct kumo_db_conn *c);

/* Tags the connection's log lines with a request id (not copied: keep it
 * valid until release). NULL clears it. */
void kumo_db_conn_set_request_id(struct kumo_db_conn *c, const char *request_id);

/* Readiness: acquires a connection, pings the server, releases it. */
kumo_code kumo_db_ping(struct kumo_db *db, int64_t deadline_ns);

/* Pool counters, for metrics and tests. */
struct kumo_db_stats {
    unsigned open;          /* physical connections (idle + leased + opening) */
    unsigned idle;          /* waiting in the pool */
    unsigned waiting;       /* threads blocked in kumo_db_acquire */
    uint64_t connects;      /* successful connects since creation */
    uint64_t connect_fails; /* failed connects */
    uint64_t discarded;     /* closed because poisoned, stale or expired */
};
void kumo_db_stats(struct kumo_db *db, struct kumo_db_stats *out);

/* ---- parameters ---- */

enum kumo_db_type {
    KUMO_DB_T_NULL,   /* param: SQL NULL; out: skip the column */
    KUMO_DB_T_I64,    /* signed 64-bit integer */
    KUMO_DB_T_DOUBLE, /* double */
    KUMO_DB_T_STR,    /* text in the connection charset (utf8mb4) */
    KUMO_DB_T_BYTES,  /* binary (no charset) */
    KUMO_DB_T_TIME,   /* microseconds since the Unix epoch, UTC */
};

/* One bound parameter. Values are borrowed for the duration of the call. */
struct kumo_db_param {
    enum kumo_db_type type;
    int64_t i64;   /* I64, TIME */
    double d;      /* DOUBLE */
    const void *p; /* STR, BYTES: data (NULL means SQL NULL) */
    size_t len;    /* STR, BYTES: length in bytes (may hold NULs) */
};

#define KUMO_DB_NULL      ((struct kumo_db_param){.type = KUMO_DB_T_NULL})
#define KUMO_DB_I64(v)    ((struct kumo_db_param){.type = KUMO_DB_T_I64, .i64 = (int64_t)(v)})
#define KUMO_DB_DOUBLE(v) ((struct kumo_db_param){.type = KUMO_DB_T_DOUBLE, .d = (v)})
#define KUMO_DB_STR(s, n) ((struct kumo_db_param){.type = KUMO_DB_T_STR, .p = (s), .len = (n)})
/* A NUL-terminated string; NULL binds SQL NULL. */
#define KUMO_DB_STRZ(s)                                                                            \
    ((struct kumo_db_param){.type = KUMO_DB_T_STR, .p = (s), .len = kumo__db_strlen(s)})
#define KUMO_DB_BYTES(b, n) ((struct kumo_db_param){.type = KUMO_DB_T_BYTES, .p = (b), .len = (n)})
#define KUMO_DB_TIME(us)    ((struct kumo_db_param){.type = KUMO_DB_T_TIME, .i64 = (int64_t)(us)})

/* Expands to "array, count" for the (params, n_params) arguments:
 *   kumo_db_exec(c, sql, KUMO_DB_PARAMS(KUMO_DB_I64(1), KUMO_DB_STRZ(s)), &n); */
#define KUMO_DB_PARAMS(...)                                                                        \
    (const struct kumo_db_param[]){__VA_ARGS__},                                                   \
        (sizeof((const struct kumo_db_param[]){__VA_ARGS__}) / sizeof(struct kumo_db_param))

/* strlen that takes NULL (as 0), for KUMO_DB_STRZ. */
size_t kumo__db_strlen(const char *s);

/* ---- statements ----
 * `sql` is a statement with ? placeholders; it is prepared once per
 * connection and cached (keyed by its text: build no SQL from data, bind
 * it). The number of params must equal the number of placeholders
 * (INTERNAL otherwise). */

/* Executes a statement that returns no rows (a result set, if any, is
 * discarded). Sets *affected (may be NULL) to the rows inserted, deleted, or
 * for UPDATE *matched* (CLIENT_FOUND_ROWS: the WHERE matched, whether or not
 * values changed, which is what optimistic concurrency wants). */
kumo_code kumo_db_exec(struct kumo_db_conn *c, const char *sql, const struct kumo_db_param *params,
                       size_t n_params, uint64_t *affected);

/* The AUTO_INCREMENT id generated by the last kumo_db_exec on `c`, or 0. */
uint64_t kumo_db_last_insert_id(const struct kumo_db_conn *c);

/* Runs a query and opens its result (streamed from the server: memory is
 * bounded by one row). Sets *rows, owned by `c`, until kumo_db_rows_close;
 * `c` runs no other statement meanwhile (INTERNAL if tried). */
kumo_code kumo_db_query(struct kumo_db_conn *c, const char *sql, const struct kumo_db_param *params,
                        size_t n_params, struct kumo_db_rows **rows);

/* Moves to the next row. Returns OK and sets *has_row to 1 (a row) or 0 (no
 * more rows); or an error (e.g. OUT_OF_RANGE when a value exceeds
 * max_value_len). */
kumo_code kumo_db_rows_next(struct kumo_db_rows *r, int *has_row);

/* Number of columns of the result. */
unsigned kumo_db_rows_columns(const struct kumo_db_rows *r);

/* Where a result column goes. The column is converted to `type`:
 *   I64    <- integer columns (OUT_OF_RANGE if unsigned above INT64_MAX)
 *   DOUBLE <- integer or floating-point columns
 *   STR/BYTES <- any column as its bytes (DECIMAL as text); into `buf`
 *             (capacity `cap`, OUT_OF_RANGE if too small; NUL-terminated
 *             when room remains) or, when `arena` is set, a NUL-terminated
 *             copy in the arena stored in *str
 *   TIME   <- DATE/DATETIME/TIMESTAMP (UTC: the pool sets time_zone
 *             '+00:00'), as microseconds since the epoch
 *   NULL   <- skips the column
 * A SQL NULL sets *is_null = 1 if is_null is set and zeroes the value
 * (*str = NULL, *len = 0); without is_null, a NULL in an I64/DOUBLE/TIME
 * column is an error (INTERNAL), so NULLs are never silently zero. Other
 * type mismatches are INTERNAL (a bug or schema drift, logged). */
struct kumo_db_out {
    enum kumo_db_type type;
    int64_t *i64;             /* I64, TIME */
    double *d;                /* DOUBLE */
    void *buf;                /* STR/BYTES into caller memory */
    size_t cap;               /* capacity of buf */
    struct kumo_arena *arena; /* STR/BYTES into an arena */
    char **str;               /* with arena: the copy */
    size_t *len;              /* STR/BYTES: length (may be NULL) */
    int *is_null;             /* optional */
};

#define KUMO_DB_OUT_SKIP      ((struct kumo_db_out){.type = KUMO_DB_T_NULL})
#define KUMO_DB_OUT_I64(p)    ((struct kumo_db_out){.type = KUMO_DB_T_I64, .i64 = (p)})
#define KUMO_DB_OUT_DOUBLE(p) ((struct kumo_db_out){.type = KUMO_DB_T_DOUBLE, .d = (p)})
#define KUMO_DB_OUT_TIME(p)   ((struct kumo_db_out){.type = KUMO_DB_T_TIME, .i64 = (p)})
/* The same, also reporting SQL NULL into *n (1 NULL, else 0). */
#define KUMO_DB_OUT_I64_N(p, n)                                                                    \
    ((struct kumo_db_out){.type = KUMO_DB_T_I64, .i64 = (p), .is_null = (n)})
#define KUMO_DB_OUT_TIME_N(p, n)                                                                   \
    ((struct kumo_db_out){.type = KUMO_DB_T_TIME, .i64 = (p), .is_null = (n)})
/* Into the arena `a`: *s (NUL-terminated) and *n. */
#define KUMO_DB_OUT_STR(a, s, n)                                                                   \
    ((struct kumo_db_out){.type = KUMO_DB_T_STR, .arena = (a), .str = (s), .len = (n)})
/* Into caller memory `b` of `c` bytes; *n gets the length. */
#define KUMO_DB_OUT_BUF(b, c, n)                                                                   \
    ((struct kumo_db_out){.type = KUMO_DB_T_BYTES, .buf = (b), .cap = (c), .len = (n)})
/* The same, also reporting SQL NULL into *z (1 NULL, else 0). */
#define KUMO_DB_OUT_BUF_N(b, c, n, z)                                                              \
    ((struct kumo_db_out){                                                                         \
        .type = KUMO_DB_T_BYTES, .buf = (b), .cap = (c), .len = (n), .is_null = (z)})

#define KUMO_DB_OUTS(...)                                                                          \
    (const struct kumo_db_out[]){__VA_ARGS__},                                                     \
        (sizeof((const struct kumo_db_out[]){__VA_ARGS__}) / sizeof(struct kumo_db_out))

/* Stores the current row's first `n_outs` columns (n_outs <= columns). */
kumo_code kumo_db_rows_scan(struct kumo_db_rows *r, const struct kumo_db_out *outs, size_t n_outs);

/* The current row's column `i` as bytes: a pointer valid until the next
 * kumo_db_rows_next/close, or NULL for SQL NULL (and for non-string
 * columns). */
const void *kumo_db_rows_bytes(struct kumo_db_rows *r, unsigned i, size_t *len);

/* Closes the result (the rest of it is read and discarded). NULL ignored. */
void kumo_db_rows_close(struct kumo_db_rows *r);

/* Runs a query expected to return at most one row and scans it: OK, or
 * NOT_FOUND when there is no row (kumo_db_last_error() then says "not
 * found"). Extra rows are ignored. */
kumo_code kumo_db_query_row(struct kumo_db_conn *c, const char *sql,
                            const struct kumo_db_param *params, size_t n_params,
                            const struct kumo_db_out *outs, size_t n_outs);

/* ---- transactions ----
 * begin/commit/rollback on the connection. COMMIT may fail with ABORTED
 * (deadlock: retry the whole transaction) or UNAVAILABLE (the outcome is
 * unknown). A connection released inside a transaction is rolled back. */
kumo_code kumo_db_begin(struct kumo_db_conn *c);
kumo_code kumo_db_commit(struct kumo_db_conn *c);
kumo_code kumo_db_rollback(struct kumo_db_conn *c);
/* 1 if the connection is inside a transaction. */
int kumo_db_in_transaction(const struct kumo_db_conn *c);

/* ---- migrations (db_migrate.c) ---- */

/* One schema change. `sql` may hold several statements separated by ';'
 * (split outside quotes, backquotes and comments); with `single` set it is
 * sent as one statement (for bodies with ';' inside, e.g. triggers). Each
 * statement is sent as text: migrations are code, never data. */
struct kumo_db_migration {
    int64_t version;  /* > 0, strictly increasing in the array */
    const char *name; /* short, e.g. "create_users" */
    const char *sql;
    int single;
};

struct kumo_db_migrate_result {
    int64_t from_version; /* highest applied before (0 = none) */
    int64_t to_version;   /* highest applied after */
    size_t applied;       /* migrations applied by this call */
};

/* Brings the schema up to date: takes GET_LOCK('kumo_migrate_<database>')
 * (waiting up to lock_timeout_ms; ABORTED if another migrator holds it that
 * long), creates schema_migrations (version, name, checksum, applied_at) if
 * needed, and applies, in order and once each, the migrations not recorded
 * there, recording each after it ran. Refuses with FAILED_PRECONDITION,
 * before changing anything, when the database records a version this array
 * does not know (a newer binary migrated it), an applied migration whose SQL
 * changed (SHA-256 checksum), or a gap (a known version not applied below an
 * applied one). INVALID_ARGUMENT for a malformed array. `res` may be NULL.
 * DDL is not transactional in MySQL: if a statement fails, earlier
 * statements of that migration stay applied and it is not recorded; the
 * error names the migration and statement. */
kumo_code kumo_db_migrate(struct kumo_db *db, const struct kumo_db_migration *migrations, size_t n,
                          int64_t lock_timeout_ms, struct kumo_db_migrate_result *res);

#endif
