/* MySQL errors -> kumo codes, the thread-local last error, and logging.
 * Server messages go to the log only: they can quote data and schema. */
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#include "db/internal.h"
#include "runtime/log.h"

/* MySQL 8's "closed for inactivity"; not in MariaDB's headers. */
#define KUMO__ER_CLIENT_INTERACTION_TIMEOUT 4031
/* MySQL's max_execution_time; MariaDB's is ER_STATEMENT_TIMEOUT. */
#define KUMO__ER_QUERY_TIMEOUT 3024

static _Thread_local struct kumo_db_error last;

const struct kumo_db_error *kumo_db_last_error(void)
{
    return &last;
}

void kumo__db_clear_error(void)
{
    memset(&last, 0, sizeof last);
}

/* Server errors that mean "this connection (or its server) can no longer
 * serve us": shutdown, killed, network trouble, too many connections, and
 * read-only, which is how a writer demoted by an Aurora failover answers. */
static int server_error_is_fatal(unsigned err)
{
    switch (err) {
    case ER_CON_COUNT_ERROR:
    case ER_OUT_OF_RESOURCES:
    case ER_SERVER_SHUTDOWN:
    case ER_ABORTING_CONNECTION:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_NET_PACKET_TOO_LARGE:
    case ER_NET_PACKETS_OUT_OF_ORDER:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
    case ER_OPTION_PREVENTS_STATEMENT:
    case ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION:
    case ER_READ_ONLY_MODE:
    case ER_CONNECTION_KILLED:
    case KUMO__ER_CLIENT_INTERACTION_TIMEOUT:
        return 1;
    default:
        return 0;
    }
}

/* Client-side errors that mean the connection is gone or unusable. */
static int client_error_is_unavailable(unsigned err)
{
    switch (err) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_SERVER_LOST:
    case CR_SSL_CONNECTION_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
        return 1;
    default:
        return 0;
    }
}

kumo_code kumo__db_map_errno(unsigned err, int *discard)
{
    *discard = 0;
    if (server_error_is_fatal(err) || client_error_is_unavailable(err)) {
        *discard = 1;
        return KUMO_CODE_UNAVAILABLE;
    }
    if ((err >= CR_MIN_ERROR && err <= CR_MAX_ERROR) || (err >= 5000 && err < 6000)) {
        /* Any other library error (bad use, malformed packet, out of sync):
         * the connection's state is unknown, so it is not reused. */
        *discard = 1;
        return KUMO_CODE_INTERNAL;
    }
    switch (err) {
    case ER_DUP_ENTRY:
    case ER_DUP_ENTRY_WITH_KEY_NAME:
    case ER_DUP_UNIQUE:
        return KUMO_CODE_ALREADY_EXISTS;
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_ABORTED:
    case ER_QUERY_INTERRUPTED:
        return KUMO_CODE_ABORTED;
    case ER_STATEMENT_TIMEOUT:
    case KUMO__ER_QUERY_TIMEOUT:
        return KUMO_CODE_DEADLINE_EXCEEDED;
    case ER_DATA_TOO_LONG:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_WARN_DATA_OUT_OF_RANGE:
    case ER_BAD_NULL_ERROR:
        return KUMO_CODE_INVALID_ARGUMENT;
    case ER_ROW_IS_REFERENCED_2:
    case ER_NO_REFERENCED_ROW_2:
        return KUMO_CODE_FAILED_PRECONDITION;
    default:
        return KUMO_CODE_INTERNAL;
    }
}

static const char *safe_message(kumo_code code, unsigned err)
{
    switch (code) {
    case KUMO_CODE_ALREADY_EXISTS:
        return "already exists";
    case KUMO_CODE_UNAVAILABLE:
        return "database unavailable";
    case KUMO_CODE_ABORTED:
        return "transaction conflict (deadlock or lock wait timeout): retry";
    case KUMO_CODE_DEADLINE_EXCEEDED:
        return "database statement timed out";
    case KUMO_CODE_INVALID_ARGUMENT:
        if (err == ER_DATA_TOO_LONG)
            return "value too long";
        if (err == ER_TRUNCATED_WRONG_VALUE_FOR_FIELD)
            return "invalid value (e.g. not valid UTF-8)";
        if (err == ER_BAD_NULL_ERROR)
            return "missing required value";
        return "value out of range";
    case KUMO_CODE_FAILED_PRECONDITION:
        return "referenced object missing or still referenced";
    default:
        return "internal database error";
    }
}

void kumo__db_dup_key(const char *msg, char *out, size_t cap)
{
    const char *k = msg ? strstr(msg, "for key '") : NULL;
    size_t n = 0;

    if (cap == 0)
        return;
    if (k) {
        k += strlen("for key '");
        /* MySQL 8 says 'table.key': keep the key. */
        const char *end = strchr(k, '\'');
        const char *dot = end ? memchr(k, '.', (size_t)(end - k)) : NULL;
        if (dot)
            k = dot + 1;
        if (end) {
            n = (size_t)(end - k);
            if (n >= cap)
                n = cap - 1;
            memcpy(out, k, n);
        }
    }
    out[n] = '\0';
}

static void set_last(kumo_code code, unsigned err, const char *sqlstate, const char *message)
{
    memset(&last, 0, sizeof last);
    last.code = code;
    last.mysql_errno = err;
    if (sqlstate)
        snprintf(last.sqlstate, sizeof last.sqlstate, "%s", sqlstate);
    snprintf(last.message, sizeof last.message, "%s", message);
}

static const char *rid(const struct kumo_db_conn *c)
{
    return c ? c->request_id : NULL;
}

void kumo__db_restore_error(const struct kumo_db_error *e)
{
    last = *e;
}

void kumo__db_set_last(kumo_code code, unsigned err, const char *message)
{
    set_last(code, err, NULL, message);
}

kumo_code kumo__db_error(struct kumo_db_conn *c, kumo_code code, const char *message,
                         const char *detail)
{
    set_last(code, 0, NULL, message);
    kumo_log(code == KUMO_CODE_INTERNAL ? KUMO_LOG_ERROR : KUMO_LOG_WARN, rid(c), "db: error",
             "code", kumo_code_name(code), "error", message, "detail", detail, NULL);
    return code;
}

static void log_mysql(struct kumo_db_conn *c, kumo_code code, const char *sql, unsigned err,
                      const char *sqlstate, const char *msg)
{
    char num[16];
    enum kumo_log_level lvl;

    snprintf(num, sizeof num, "%u", err);
    if (code == KUMO_CODE_ALREADY_EXISTS) {
        /* Expected in normal operation; the message quotes the values. */
        kumo_log(KUMO_LOG_DEBUG, rid(c), "db: duplicate key", "errno", num, "key", last.dup_key,
                 "sql", sql, NULL);
        return;
    }
    lvl = code == KUMO_CODE_INTERNAL ? KUMO_LOG_ERROR : KUMO_LOG_WARN;
    kumo_log(lvl, rid(c), "db: mysql error", "code", kumo_code_name(code), "errno", num, "sqlstate",
             sqlstate ? sqlstate : "", "mysql_message", msg ? msg : "", "sql", sql, NULL);
}

kumo_code kumo__db_mysql_error(struct kumo_db_conn *c, const char *sql, unsigned err,
                               const char *sqlstate, const char *msg)
{
    int discard = 0;
    kumo_code code = err ? kumo__db_map_errno(err, &discard) : KUMO_CODE_INTERNAL;

    set_last(code, err, sqlstate, safe_message(code, err));
    if (code == KUMO_CODE_ALREADY_EXISTS)
        kumo__db_dup_key(msg, last.dup_key, sizeof last.dup_key);
    log_mysql(c, code, sql, err, sqlstate, msg);
    if (discard && c)
        kumo__db_poison(c, code == KUMO_CODE_UNAVAILABLE);
    return code;
}

kumo_code kumo__db_conn_error(struct kumo_db_conn *c, const char *sql)
{
    return kumo__db_mysql_error(c, sql, mysql_errno(c->m), mysql_sqlstate(c->m), mysql_error(c->m));
}

kumo_code kumo__db_stmt_error(struct kumo_db_conn *c, MYSQL_STMT *st, const char *sql)
{
    return kumo__db_mysql_error(c, sql, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
                                mysql_stmt_error(st));
}

kumo_code kumo__db_deadline_error(struct kumo_db_conn *c, const char *sql)
{
    set_last(KUMO_CODE_DEADLINE_EXCEEDED, 0, NULL,
             "the database did not answer within the request's deadline");
    kumo_log(KUMO_LOG_WARN, rid(c), "db: call cut at the request's deadline", "sql", sql, NULL);
    if (c)
        c->poisoned = 1;
    return KUMO_CODE_DEADLINE_EXCEEDED;
}
