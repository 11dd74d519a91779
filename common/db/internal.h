/* Internals of the MySQL layer shared by db_pool.c, db_stmt.c, db_error.c
 * and db_migrate.c (and their tests). Not for services. */
#ifndef KUMO_DB_INTERNAL_H
#define KUMO_DB_INTERNAL_H

#include <mysql.h>
#include <pthread.h>
#include <stdint.h>

#include "db/db.h"

/* One result column's landing place, chosen from the column's type. */
enum kumo__db_col_kind {
    KUMO__DB_COL_INT,
    KUMO__DB_COL_DOUBLE,
    KUMO__DB_COL_TIME,
    KUMO__DB_COL_BYTES
};

struct kumo__db_col {
    enum kumo__db_col_kind kind;
    int is_unsigned;
    int64_t i64;
    double d;
    MYSQL_TIME t;
    char *buf; /* BYTES: kumo_malloc'd, cap + 1 bytes */
    size_t cap;
    unsigned long length;
    my_bool is_null;
    my_bool error;
    const char *name; /* the column's name, owned by the stmt metadata */
};

/* A prepared statement cached on a connection, with its result bindings. */
struct kumo__db_stmt {
    char *sql;
    size_t sql_len;
    uint64_t hash;
    uint64_t last_used; /* LRU tick */
    MYSQL_STMT *st;
    unsigned n_params;
    unsigned n_cols;
    MYSQL_BIND *rbind;
    struct kumo__db_col *cols;
    MYSQL_RES *meta;
};

struct kumo_db_rows {
    struct kumo_db_conn *conn;
    struct kumo__db_stmt *stmt;
    int open;
    int has_row;
};

struct kumo_db_conn {
    struct kumo_db *db;
    MYSQL *m;
    struct kumo_db_conn *next; /* idle list */
    int64_t expires_ns;        /* born + lifetime - jitter */
    int64_t last_used_ns;
    uint64_t epoch; /* pool epoch when opened */
    int poisoned;   /* connection-level error seen: never reuse */
    int in_tx;
    const char *request_id;
    struct kumo__db_stmt *stmts;
    unsigned n_stmts;
    uint64_t tick;
    uint64_t last_insert_id;
    struct kumo_db_rows rows;
    /* watchdog.c: the lender's deadline bounds every blocking call */
    int64_t deadline_ns; /* monotonic, 0 = none (KUMO_DB_IO_TIMEOUT only) */
    int guarded;         /* in db->guarded (guard_mu) */
    int guard_fired;     /* the watchdog shut the socket (guard_mu) */
    struct kumo_db_conn *guard_next;
};

struct kumo_db {
    /* options, with owned copies of the strings */
    struct kumo_db_options o;
    char *host, *unix_socket, *user, *database, *password, *tls_ca_file;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* a conn was released or a slot freed */
    struct kumo_db_conn *idle;
    struct kumo_db_stats stats; /* what kumo_db_stats reports, kept as it is reported */
    /* Bumped on every connection-level failure: idle conns of an older epoch
     * are closed instead of lent (after a failover they all point at the
     * wrong server, and a ping would not notice a read-only one). */
    uint64_t epoch;
    int64_t down_until_ns; /* reconnect backoff: fail fast until then */
    /* watchdog.c */
    pthread_mutex_t guard_mu;
    pthread_cond_t guard_cv;
    pthread_t guard_thread;
    int guard_started, guard_stop;
    /* When the watchdog wakes next (0 = not before it is signalled): a
     * guarded call whose deadline is no earlier needs no wake-up, so calls
     * with the usual budget cost no context switch (guard_mu). */
    int64_t guard_wakes_at;
    struct kumo_db_conn *guarded; /* connections inside a guarded call */
};

/* ---- db_error.c ---- */

/* Maps a MySQL server or client error number to a kumo code; sets *discard
 * when the connection must not be used again. */
kumo_code kumo__db_map_errno(unsigned err, int *discard);

/* Resets this thread's last error to OK. */
void kumo__db_clear_error(void);

/* Sets this thread's last error without logging (for outcomes such as
 * NOT_FOUND, or to attach the MySQL number of an already logged error). */
void kumo__db_set_last(kumo_code code, unsigned err, const char *message);

/* Puts back a saved copy of the last error (after cleanup calls). */
void kumo__db_restore_error(const struct kumo_db_error *e);

/* Records an error that did not come from MySQL (bad use, limits): sets the
 * thread's last error with `code` and the client-safe message, logs
 * `detail` (may be NULL) at error level, and returns `code`. */
kumo_code kumo__db_error(struct kumo_db_conn *c, kumo_code code, const char *message,
                         const char *detail);

/* Records a MySQL error (number, SQLSTATE, server message) raised while
 * running `sql` (may be NULL) on `c` (may be NULL: a connect): maps it,
 * poisons `c` when needed, logs, and returns the code. */
kumo_code kumo__db_mysql_error(struct kumo_db_conn *c, const char *sql, unsigned err,
                               const char *sqlstate, const char *msg);

/* Shorthands reading the error of the connection / statement. */
kumo_code kumo__db_conn_error(struct kumo_db_conn *c, const char *sql);
kumo_code kumo__db_stmt_error(struct kumo_db_conn *c, MYSQL_STMT *st, const char *sql);

/* Extracts the key name from an ER_DUP_ENTRY message ("... for key 'k'")
 * into `out` (cap bytes); "" if absent. */
void kumo__db_dup_key(const char *msg, char *out, size_t cap);

/* ---- db_pool.c ---- */

/* Marks `c` unusable (closed on release). With `whole_pool` (the server or
 * the network failed, not just this connection's state), also makes the
 * pool drop every connection opened before now. */
void kumo__db_poison(struct kumo_db_conn *c, int whole_pool);

/* ---- db_stmt.c ---- */

/* Closes every cached statement of `c` (before mysql_close). */
void kumo__db_stmts_free(struct kumo_db_conn *c);

/* Sends a constant statement as text (session setup, transaction control,
 * migrations) and discards any result. */
kumo_code kumo__db_text(struct kumo_db_conn *c, const char *sql, size_t len);

/* Converts between MYSQL_TIME (UTC) and microseconds since the epoch. */
void kumo__db_time_from_us(int64_t us, MYSQL_TIME *t);
int64_t kumo__db_time_to_us(const MYSQL_TIME *t);

/* ---- db_migrate.c ---- */

struct kumo__db_span {
    size_t off, len;
};

/* Splits `sql` into statements at top-level ';' (outside '...', "...",
 * `...`, -- and # comments, and C comments), trimming blanks and dropping
 * statements that are only blanks/comments (a comment leading a statement
 * stays part of it). Returns the number of spans
 * stored in *out (kumo_malloc'd, free with kumo_free; NULL when 0) or
 * KUMO_ERR_INVALID for an unterminated quote or comment. */
int kumo__db_split_sql(const char *sql, size_t len, struct kumo__db_span **out);

/* watchdog.c: database calls bounded by the lender's deadline. start/stop
 * run with the pool (kumo_db_new/free). guard_begin before a blocking
 * libmariadb call on `c` (nothing without a deadline); guard_end after it
 * returns 1 if the deadline passed and the socket was shut (the call's
 * error is then deadline_exceeded, and `c` is poisoned). */
int kumo__db_watchdog_start(struct kumo_db *db);
void kumo__db_watchdog_stop(struct kumo_db *db);
void kumo__db_guard_begin(struct kumo_db_conn *c);
int kumo__db_guard_end(struct kumo_db_conn *c);
/* error.c: the error of a call the watchdog cut short. */
kumo_code kumo__db_deadline_error(struct kumo_db_conn *c, const char *sql);

#endif
