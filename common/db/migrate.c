/* Numbered schema migrations, applied under a MySQL named lock so that
 * replicas starting together never race, recorded in schema_migrations
 * with a checksum so that an edited or unknown migration is noticed. */
#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/hex.h"
#include "base/alloc.h"
#include "db/internal.h"
#include "runtime/log.h"

#define LOCK_PREFIX   "kumo_migrate_"
#define LOCK_NAME_MAX 64 /* MySQL's limit for GET_LOCK names */

/* ---- splitting ---- */

struct spans {
    struct kumo__db_span *v;
    size_t n, cap;
};

static void emit(struct spans *s, const char *sql, size_t start, size_t end, int has_content)
{
    if (!has_content)
        return;
    while (start < end && isspace((unsigned char)sql[start]))
        start++;
    while (end > start && isspace((unsigned char)sql[end - 1]))
        end--;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = kumo_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n].off = start;
    s->v[s->n].len = end - start;
    s->n++;
}

/* Index just past the closing quote `q` of a literal starting at i (the
 * opening quote), or 0 if it never closes. Doubled quotes and (outside
 * backquotes) backslash escapes stay inside the literal. */
static size_t skip_quoted(const char *sql, size_t len, size_t i)
{
    char q = sql[i++];
    while (i < len) {
        if (sql[i] == '\\' && q != '`') {
            i += 2;
            continue;
        }
        if (sql[i] == q) {
            if (i + 1 < len && sql[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return 0;
}

static size_t skip_line(const char *sql, size_t len, size_t i)
{
    while (i < len && sql[i] != '\n')
        i++;
    return i;
}

/* "-- " starts a comment only when followed by a blank or the end. */
static int dash_comment(const char *sql, size_t len, size_t i)
{
    return sql[i] == '-' && i + 1 < len && sql[i + 1] == '-' &&
           (i + 2 == len || isspace((unsigned char)sql[i + 2]) ||
            iscntrl((unsigned char)sql[i + 2]));
}

int kumo__db_split_sql(const char *sql, size_t len, struct kumo__db_span **out)
{
    struct spans s = {0};
    size_t i = 0, start = 0;
    int has_content = 0;

    while (i < len) {
        char ch = sql[i];
        if (ch == '\'' || ch == '"' || ch == '`') {
            size_t j = skip_quoted(sql, len, i);
            if (!j)
                goto invalid;
            i = j;
            has_content = 1;
        } else if (dash_comment(sql, len, i) || ch == '#') {
            i = skip_line(sql, len, i);
        } else if (ch == '/' && i + 1 < len && sql[i + 1] == '*') {
            const char *end = NULL;
            for (size_t k = i + 2; k + 1 < len; k++) {
                if (sql[k] == '*' && sql[k + 1] == '/') {
                    end = sql + k;
                    break;
                }
            }
            if (!end)
                goto invalid;
            /* Executable comments ("/ *!" and "/ *M!") are statement text. */
            if (i + 2 < len && (sql[i + 2] == '!' || sql[i + 2] == 'M'))
                has_content = 1;
            i = (size_t)(end - sql) + 2;
        } else if (ch == ';') {
            emit(&s, sql, start, i, has_content);
            start = ++i;
            has_content = 0;
        } else {
            if (!isspace((unsigned char)ch))
                has_content = 1;
            i++;
        }
    }
    emit(&s, sql, start, len, has_content);
    *out = s.v;
    return (int)s.n;
invalid:
    kumo_free(s.v);
    return KUMO_ERR_INVALID;
}

/* ---- helpers ---- */

static void sha256_hex(const char *s, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    EVP_Digest(s, len, md, &md_len, EVP_sha256(), NULL);
    kumo_hex_encode(md, 32, out);
}

static void lock_name(const char *database, char *out, size_t cap)
{
    size_t n = strlen(LOCK_PREFIX) + strlen(database);

    if (n <= LOCK_NAME_MAX) {
        snprintf(out, cap, "%s%s", LOCK_PREFIX, database);
        return;
    }
    /* Too long for GET_LOCK: a digest of the name keeps it unique. */
    char hex[65];
    sha256_hex(database, strlen(database), hex);
    snprintf(out, cap, "%s%.*s", LOCK_PREFIX, (int)(LOCK_NAME_MAX - strlen(LOCK_PREFIX)), hex);
}

static kumo_code fail(struct kumo_db_conn *c, kumo_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static kumo_code fail(struct kumo_db_conn *c, kumo_code code, const char *fmt, ...)
{
    char msg[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kumo__db_error(c, code, msg, NULL);
}

static kumo_code check_array(const struct kumo_db_migration *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].version <= 0 || !m[i].name || !*m[i].name || !m[i].sql || strlen(m[i].name) > 255)
            return fail(NULL, KUMO_CODE_INVALID_ARGUMENT, "migration #%zu is malformed", i);
        if (i > 0 && m[i].version <= m[i - 1].version)
            return fail(NULL, KUMO_CODE_INVALID_ARGUMENT,
                        "migration versions must increase (%" PRId64 " after %" PRId64 ")",
                        m[i].version, m[i - 1].version);
    }
    return KUMO_CODE_OK;
}

/* ---- the applied set ---- */

struct applied {
    int64_t version;
    char checksum[65];
};

static kumo_code create_table(struct kumo_db_conn *c)
{
    static const char sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              " version BIGINT NOT NULL PRIMARY KEY,"
                              " name VARCHAR(255) NOT NULL,"
                              " checksum CHAR(64) NOT NULL,"
                              " applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                              ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
    return kumo__db_text(c, sql, sizeof sql - 1);
}

static kumo_code load_applied(struct kumo_db_conn *c, struct applied **out, size_t *n_out)
{
    struct kumo_db_rows *r = NULL;
    struct applied *v = NULL;
    size_t n = 0, cap = 0;
    int has_row = 0;
    kumo_code rc = kumo_db_query(
        c, "SELECT version, checksum FROM schema_migrations ORDER BY version", NULL, 0, &r);

    while (rc == KUMO_CODE_OK && (rc = kumo_db_rows_next(r, &has_row)) == KUMO_CODE_OK && has_row) {
        size_t len = 0;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = kumo_realloc(v, cap * sizeof *v);
        }
        memset(&v[n], 0, sizeof v[n]);
        rc = kumo_db_rows_scan(r, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&v[n].version),
                                               KUMO_DB_OUT_BUF(v[n].checksum, 65, &len)));
        n++;
    }
    if (r && r->open)
        kumo_db_rows_close(r);
    if (rc != KUMO_CODE_OK) {
        kumo_free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return KUMO_CODE_OK;
}

static const struct kumo_db_migration *find_known(const struct kumo_db_migration *m, size_t n,
                                                  int64_t version)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].version == version)
            return &m[i];
    return NULL;
}

static int is_applied(const struct applied *a, size_t n, int64_t version)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].version == version)
            return 1;
    return 0;
}

/* Refuses a database this binary does not fully understand. */
static kumo_code check_applied(struct kumo_db_conn *c, const struct kumo_db_migration *m, size_t n,
                               const struct applied *a, size_t n_a)
{
    int64_t max_known = n ? m[n - 1].version : 0, max_applied = n_a ? a[n_a - 1].version : 0;

    for (size_t i = 0; i < n_a; i++) {
        const struct kumo_db_migration *k = find_known(m, n, a[i].version);
        char sum[65];
        if (!k && a[i].version > max_known)
            return fail(c, KUMO_CODE_FAILED_PRECONDITION,
                        "database schema is at version %" PRId64
                        ", newer than this binary knows (%" PRId64 ")",
                        max_applied, max_known);
        if (!k)
            return fail(c, KUMO_CODE_FAILED_PRECONDITION,
                        "applied migration %" PRId64 " is unknown to this binary", a[i].version);
        sha256_hex(k->sql, strlen(k->sql), sum);
        if (strcmp(sum, a[i].checksum) != 0)
            return fail(c, KUMO_CODE_FAILED_PRECONDITION,
                        "migration %" PRId64 " (%s) changed after it was applied (checksum)",
                        k->version, k->name);
    }
    for (size_t i = 0; i < n; i++)
        if (m[i].version < max_applied && !is_applied(a, n_a, m[i].version))
            return fail(c, KUMO_CODE_FAILED_PRECONDITION,
                        "migration %" PRId64 " is not applied but later %" PRId64 " is",
                        m[i].version, max_applied);
    return KUMO_CODE_OK;
}

/* ---- applying ---- */

static kumo_code apply_one(struct kumo_db_conn *c, const struct kumo_db_migration *m)
{
    size_t len = strlen(m->sql);
    struct kumo__db_span one = {0, len}, *spans = &one;
    int n = 1;
    char sum[65];
    kumo_code rc = KUMO_CODE_OK;

    if (!m->single) {
        n = kumo__db_split_sql(m->sql, len, &spans);
        if (n < 0)
            return fail(c, KUMO_CODE_INVALID_ARGUMENT,
                        "migration %" PRId64 " (%s): unterminated quote or comment", m->version,
                        m->name);
    }
    for (int i = 0; i < n && rc == KUMO_CODE_OK; i++) {
        rc = kumo__db_text(c, m->sql + spans[i].off, spans[i].len);
        if (rc != KUMO_CODE_OK)
            rc = fail(c, rc, "migration %" PRId64 " (%s) failed at statement %d of %d", m->version,
                      m->name, i + 1, n);
    }
    if (spans != &one)
        kumo_free(spans);
    if (rc != KUMO_CODE_OK)
        return rc;
    sha256_hex(m->sql, len, sum);
    rc = kumo_db_exec(
        c, "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
        KUMO_DB_PARAMS(KUMO_DB_I64(m->version), KUMO_DB_STRZ(m->name), KUMO_DB_STR(sum, 64)), NULL);
    if (rc == KUMO_CODE_OK) {
        char v[24];
        snprintf(v, sizeof v, "%" PRId64, m->version);
        kumo_log(KUMO_LOG_INFO, NULL, "db: migration applied", "version", v, "name", m->name, NULL);
    }
    return rc;
}

static kumo_code migrate_locked(struct kumo_db_conn *c, const struct kumo_db_migration *m, size_t n,
                                struct kumo_db_migrate_result *res)
{
    struct applied *a = NULL;
    size_t n_a = 0;
    kumo_code rc = create_table(c);

    if (rc == KUMO_CODE_OK)
        rc = load_applied(c, &a, &n_a);
    if (rc == KUMO_CODE_OK)
        rc = check_applied(c, m, n, a, n_a);
    res->from_version = res->to_version = n_a ? a[n_a - 1].version : 0;
    for (size_t i = 0; i < n && rc == KUMO_CODE_OK; i++) {
        if (is_applied(a, n_a, m[i].version))
            continue;
        rc = apply_one(c, &m[i]);
        if (rc == KUMO_CODE_OK) {
            res->applied++;
            res->to_version = m[i].version;
        }
    }
    kumo_free(a);
    return rc;
}

static kumo_code get_lock(struct kumo_db_conn *c, const char *name, int64_t timeout_ms)
{
    int64_t got = 0, secs = (timeout_ms + 999) / 1000;
    int is_null = 0;
    kumo_code rc = kumo_db_query_row(
        c, "SELECT GET_LOCK(?, ?)", KUMO_DB_PARAMS(KUMO_DB_STRZ(name), KUMO_DB_I64(secs)),
        KUMO_DB_OUTS(
            ((struct kumo_db_out){.type = KUMO_DB_T_I64, .i64 = &got, .is_null = &is_null})));

    if (rc != KUMO_CODE_OK)
        return rc;
    if (is_null)
        return fail(c, KUMO_CODE_INTERNAL, "GET_LOCK(%s) failed", name);
    if (got != 1)
        return fail(c, KUMO_CODE_ABORTED,
                    "another migration holds the lock %s (waited %" PRId64 " s)", name, secs);
    return KUMO_CODE_OK;
}

kumo_code kumo_db_migrate(struct kumo_db *db, const struct kumo_db_migration *migrations, size_t n,
                          int64_t lock_timeout_ms, struct kumo_db_migrate_result *res)
{
    struct kumo_db_migrate_result local = {0};
    struct kumo_db_conn *c;
    char name[LOCK_NAME_MAX + 1];
    kumo_code rc;

    kumo__db_clear_error();
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (!db->o.database || !*db->o.database)
        return fail(NULL, KUMO_CODE_INVALID_ARGUMENT, "migrations need a database in the options");
    if ((rc = check_array(migrations, n)) != KUMO_CODE_OK)
        return rc;
    if ((rc = kumo_db_acquire(db, 0, &c)) != KUMO_CODE_OK)
        return rc;
    lock_name(db->o.database, name, sizeof name);
    rc = get_lock(c, name, lock_timeout_ms > 0 ? lock_timeout_ms : 60000);
    if (rc == KUMO_CODE_OK) {
        rc = migrate_locked(c, migrations, n, res);
        /* The lock also goes with the session if this fails. */
        struct kumo_db_error saved = *kumo_db_last_error();
        int64_t ignored = 0;
        int is_null = 0;
        kumo_db_query_row(c, "SELECT RELEASE_LOCK(?)", KUMO_DB_PARAMS(KUMO_DB_STRZ(name)),
                          KUMO_DB_OUTS(((struct kumo_db_out){
                              .type = KUMO_DB_T_I64, .i64 = &ignored, .is_null = &is_null})));
        if (rc != KUMO_CODE_OK)
            kumo__db_restore_error(&saved);
        else
            kumo__db_clear_error();
    }
    kumo_db_release(c);
    return rc;
}
