/* Prepared statements: a per-connection cache, typed parameter binding,
 * streamed results with bounded column buffers, transactions. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/calendar.h"
#include "db/internal.h"
#include "runtime/log.h"

#define COL_INITIAL_CAP 256
#define COL_KEEP_CAP    (64u << 10) /* bigger buffers are shrunk after use */
#define PARAMS_ON_STACK 16

/* ---- time ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void kumo__db_time_from_us(int64_t us, MYSQL_TIME *t)
{
    int64_t secs = floor_div(us, 1000000), days = floor_div(secs, 86400);
    int64_t sod = secs - days * 86400, y;
    unsigned m, d;

    kumo_civil_from_days(days, &y, &m, &d);
    memset(t, 0, sizeof *t);
    t->year = (unsigned)y;
    t->month = m;
    t->day = d;
    t->hour = (unsigned)(sod / 3600);
    t->minute = (unsigned)(sod % 3600 / 60);
    t->second = (unsigned)(sod % 60);
    t->second_part = (unsigned long)(us - secs * 1000000);
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

int64_t kumo__db_time_to_us(const MYSQL_TIME *t)
{
    int64_t days = kumo_days_from_civil(t->year, t->month ? t->month : 1, t->day ? t->day : 1);
    int64_t secs = days * 86400 + (int64_t)t->hour * 3600 + t->minute * 60 + t->second;
    return secs * 1000000 + (int64_t)t->second_part;
}

/* ---- statement cache ---- */

static uint64_t hash_sql(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void free_cols(struct kumo__db_stmt *s)
{
    for (unsigned i = 0; i < s->n_cols; i++)
        kumo_free(s->cols[i].buf);
    kumo_free(s->cols);
    kumo_free(s->rbind);
    s->cols = NULL;
    s->rbind = NULL;
    s->n_cols = 0;
}

static void stmt_close(struct kumo__db_stmt *s)
{
    free_cols(s);
    if (s->st)
        mysql_stmt_close(s->st);
    kumo_free(s->sql);
    memset(s, 0, sizeof *s);
}

void kumo__db_stmts_free(struct kumo_db_conn *c)
{
    for (unsigned i = 0; i < c->n_stmts; i++)
        stmt_close(&c->stmts[i]);
    kumo_free(c->stmts);
    c->stmts = NULL;
    c->n_stmts = 0;
}

static struct kumo__db_stmt *cache_find(struct kumo_db_conn *c, const char *sql, size_t len,
                                        uint64_t h)
{
    for (unsigned i = 0; i < c->n_stmts; i++) {
        struct kumo__db_stmt *s = &c->stmts[i];
        if (s->hash == h && s->sql_len == len && memcmp(s->sql, sql, len) == 0)
            return s;
    }
    return NULL;
}

/* A free cache slot: a new one, or the least recently used, closed. */
static struct kumo__db_stmt *cache_slot(struct kumo_db_conn *c)
{
    unsigned max = c->db->o.max_cached_stmts, lru = 0;

    if (!c->stmts)
        c->stmts = kumo_calloc(max, sizeof *c->stmts);
    if (c->n_stmts < max)
        return &c->stmts[c->n_stmts++];
    for (unsigned i = 1; i < c->n_stmts; i++)
        if (c->stmts[i].last_used < c->stmts[lru].last_used)
            lru = i;
    stmt_close(&c->stmts[lru]);
    return &c->stmts[lru];
}

static kumo_code usable(struct kumo_db_conn *c)
{
    if (c->poisoned)
        return kumo__db_error(c, KUMO_CODE_UNAVAILABLE, "database unavailable",
                              "connection already failed");
    if (c->rows.open)
        return kumo__db_error(c, KUMO_CODE_INTERNAL, "internal database error",
                              "connection used while a result is open (close the rows first)");
    return KUMO_CODE_OK;
}

/* Returns the cached prepared statement for `sql`, preparing it if new. */
static kumo_code prepare(struct kumo_db_conn *c, const char *sql, struct kumo__db_stmt **out)
{
    size_t len = strlen(sql);
    uint64_t h = hash_sql(sql, len);
    struct kumo__db_stmt *s = cache_find(c, sql, len, h);
    MYSQL_STMT *st;

    if (!s) {
        st = mysql_stmt_init(c->m);
        if (!st)
            return kumo__db_conn_error(c, sql);
        kumo__db_guard_begin(c);
        int bad = mysql_stmt_prepare(st, sql, (unsigned long)len) != 0;
        if (kumo__db_guard_end(c) && bad) {
            mysql_stmt_close(st);
            return kumo__db_deadline_error(c, sql);
        }
        if (bad) {
            kumo_code rc = kumo__db_stmt_error(c, st, sql);
            mysql_stmt_close(st);
            return rc;
        }
        s = cache_slot(c);
        s->sql = kumo_strndup(sql, len);
        s->sql_len = len;
        s->hash = h;
        s->st = st;
        s->n_params = (unsigned)mysql_stmt_param_count(st);
    }
    s->last_used = ++c->tick;
    *out = s;
    return KUMO_CODE_OK;
}

/* ---- parameters ---- */

struct param_space {
    MYSQL_BIND *b;
    MYSQL_TIME *t;
    unsigned long *len;
    my_bool *null;
    MYSQL_BIND b_local[PARAMS_ON_STACK];
    MYSQL_TIME t_local[PARAMS_ON_STACK];
    unsigned long len_local[PARAMS_ON_STACK];
    my_bool null_local[PARAMS_ON_STACK];
};

static void space_init(struct param_space *ps, size_t n)
{
    if (n <= PARAMS_ON_STACK) {
        ps->b = ps->b_local;
        ps->t = ps->t_local;
        ps->len = ps->len_local;
        ps->null = ps->null_local;
    } else {
        ps->b = kumo_calloc(n, sizeof *ps->b);
        ps->t = kumo_calloc(n, sizeof *ps->t);
        ps->len = kumo_calloc(n, sizeof *ps->len);
        ps->null = kumo_calloc(n, sizeof *ps->null);
    }
    memset(ps->b, 0, n * sizeof *ps->b);
}

static void space_free(struct param_space *ps)
{
    if (ps->b != ps->b_local) {
        kumo_free(ps->b);
        kumo_free(ps->t);
        kumo_free(ps->len);
        kumo_free(ps->null);
    }
}

/* Fills one MYSQL_BIND; 0, or -1 for an unknown type. */
static int bind_one(const struct kumo_db_param *p, MYSQL_BIND *b, MYSQL_TIME *t, unsigned long *len,
                    my_bool *null)
{
    *null = 1;
    b->is_null = null;
    switch (p->type) {
    case KUMO_DB_T_NULL:
        b->buffer_type = MYSQL_TYPE_NULL;
        return 0;
    case KUMO_DB_T_I64:
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = (void *)&p->i64;
        break;
    case KUMO_DB_T_DOUBLE:
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = (void *)&p->d;
        break;
    case KUMO_DB_T_STR:
    case KUMO_DB_T_BYTES:
        b->buffer_type = p->type == KUMO_DB_T_STR ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
        if (!p->p)
            return 0; /* SQL NULL */
        b->buffer = (void *)p->p;
        b->buffer_length = (unsigned long)p->len;
        *len = (unsigned long)p->len;
        b->length = len;
        break;
    case KUMO_DB_T_TIME:
        kumo__db_time_from_us(p->i64, t);
        b->buffer_type = MYSQL_TYPE_DATETIME;
        b->buffer = t;
        break;
    default:
        return -1;
    }
    *null = 0;
    return 0;
}

static kumo_code bind_params(struct kumo_db_conn *c, struct kumo__db_stmt *s,
                             const struct kumo_db_param *params, size_t n, struct param_space *ps)
{
    char detail[160];

    if (n != s->n_params) {
        snprintf(detail, sizeof detail, "statement has %u placeholders but %zu params were given",
                 s->n_params, n);
        return kumo__db_error(c, KUMO_CODE_INTERNAL, "internal database error", detail);
    }
    if (n == 0)
        return KUMO_CODE_OK;
    for (size_t i = 0; i < n; i++) {
        if (bind_one(&params[i], &ps->b[i], &ps->t[i], &ps->len[i], &ps->null[i]) != 0) {
            snprintf(detail, sizeof detail, "param %zu has an unknown type", i);
            return kumo__db_error(c, KUMO_CODE_INTERNAL, "internal database error", detail);
        }
    }
    if (mysql_stmt_bind_param(s->st, ps->b) != 0)
        return kumo__db_stmt_error(c, s->st, s->sql);
    return KUMO_CODE_OK;
}

/* Prepares (or finds), binds and executes `sql`. */
static kumo_code run(struct kumo_db_conn *c, const char *sql, const struct kumo_db_param *params,
                     size_t n, struct kumo__db_stmt **out)
{
    struct param_space ps;
    struct kumo__db_stmt *s = NULL;
    kumo_code rc;

    kumo__db_clear_error();
    if ((rc = usable(c)) != KUMO_CODE_OK || (rc = prepare(c, sql, &s)) != KUMO_CODE_OK)
        return rc;
    if (n > 0 && !params)
        return kumo__db_error(c, KUMO_CODE_INTERNAL, "internal database error", "params is NULL");
    space_init(&ps, n);
    rc = bind_params(c, s, params, n, &ps);
    if (rc == KUMO_CODE_OK) {
        kumo__db_guard_begin(c);
        int bad = mysql_stmt_execute(s->st) != 0;
        if (kumo__db_guard_end(c) && bad)
            rc = kumo__db_deadline_error(c, s->sql);
        else if (bad)
            rc = kumo__db_stmt_error(c, s->st, s->sql);
    }
    space_free(&ps);
    if (rc == KUMO_CODE_OK)
        *out = s;
    return rc;
}

/* ---- results ---- */

static enum kumo__db_col_kind kind_of(enum enum_field_types t)
{
    switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
        return KUMO__DB_COL_INT;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
        return KUMO__DB_COL_DOUBLE;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
        return KUMO__DB_COL_TIME;
    default:
        return KUMO__DB_COL_BYTES; /* strings, blobs, DECIMAL, JSON, BIT, TIME... */
    }
}

static void bind_col(struct kumo__db_col *col, MYSQL_BIND *b)
{
    memset(b, 0, sizeof *b);
    b->length = &col->length;
    b->is_null = &col->is_null;
    b->error = &col->error;
    switch (col->kind) {
    case KUMO__DB_COL_INT:
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &col->i64;
        b->is_unsigned = (my_bool)col->is_unsigned;
        break;
    case KUMO__DB_COL_DOUBLE:
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &col->d;
        break;
    case KUMO__DB_COL_TIME:
        b->buffer_type = MYSQL_TYPE_DATETIME;
        b->buffer = &col->t;
        break;
    case KUMO__DB_COL_BYTES:
        if (!col->buf) {
            col->cap = COL_INITIAL_CAP;
            col->buf = kumo_malloc(col->cap + 1);
        }
        b->buffer_type = MYSQL_TYPE_STRING;
        b->buffer = col->buf;
        b->buffer_length = (unsigned long)col->cap;
        break;
    }
}

/* Sets up the result bindings after an execute that returned a result. */
static kumo_code bind_results(struct kumo_db_conn *c, struct kumo__db_stmt *s)
{
    unsigned n = mysql_stmt_field_count(s->st);
    MYSQL_RES *meta = mysql_stmt_result_metadata(s->st);
    MYSQL_FIELD *f;

    if (!meta)
        return kumo__db_stmt_error(c, s->st, s->sql);
    f = mysql_fetch_fields(meta);
    if (n != s->n_cols) {
        free_cols(s);
        s->cols = kumo_calloc(n, sizeof *s->cols);
        s->rbind = kumo_calloc(n, sizeof *s->rbind);
        s->n_cols = n;
    }
    for (unsigned i = 0; i < n; i++) {
        struct kumo__db_col *col = &s->cols[i];
        enum kumo__db_col_kind k = kind_of(f[i].type);
        if (k != col->kind && col->buf) {
            kumo_free(col->buf);
            col->buf = NULL;
        }
        col->kind = k;
        col->is_unsigned = (f[i].flags & UNSIGNED_FLAG) != 0;
        col->name = f[i].name;
        bind_col(col, &s->rbind[i]);
    }
    mysql_free_result(meta);
    if (mysql_stmt_bind_result(s->st, s->rbind) != 0)
        return kumo__db_stmt_error(c, s->st, s->sql);
    return KUMO_CODE_OK;
}

static kumo_code too_large(struct kumo_db_rows *r, unsigned i, unsigned long len)
{
    char detail[160];
    snprintf(detail, sizeof detail, "column %u (%s) value of %lu bytes exceeds max_value_len %zu",
             i, r->stmt->cols[i].name ? r->stmt->cols[i].name : "?", len,
             r->conn->db->o.max_value_len);
    return kumo__db_error(r->conn, KUMO_CODE_OUT_OF_RANGE, "value too large", detail);
}

/* A string column did not fit its buffer: grow it (up to max_value_len)
 * and fetch the whole value again from the row the library holds. */
static kumo_code refetch_long(struct kumo_db_rows *r, unsigned i)
{
    struct kumo__db_stmt *s = r->stmt;
    struct kumo__db_col *col = &s->cols[i];
    unsigned long len = col->length;

    if (len > r->conn->db->o.max_value_len)
        return too_large(r, i, len);
    col->buf = kumo_realloc(col->buf, (size_t)len + 1);
    col->cap = len;
    bind_col(col, &s->rbind[i]);
    if (mysql_stmt_fetch_column(s->st, &s->rbind[i], i, 0) != 0)
        return kumo__db_stmt_error(r->conn, s->st, s->sql);
    if (mysql_stmt_bind_result(s->st, s->rbind) != 0)
        return kumo__db_stmt_error(r->conn, s->st, s->sql);
    return KUMO_CODE_OK;
}

static kumo_code complete_row(struct kumo_db_rows *r)
{
    struct kumo__db_stmt *s = r->stmt;

    for (unsigned i = 0; i < s->n_cols; i++) {
        struct kumo__db_col *col = &s->cols[i];
        if (col->kind != KUMO__DB_COL_BYTES || col->is_null)
            continue;
        if (col->length > col->cap) {
            kumo_code rc = refetch_long(r, i);
            if (rc != KUMO_CODE_OK)
                return rc;
        }
        col->buf[col->length] = '\0';
    }
    return KUMO_CODE_OK;
}

kumo_code kumo_db_rows_next(struct kumo_db_rows *r, int *has_row)
{
    int f;

    *has_row = 0;
    kumo__db_clear_error();
    if (!r->open)
        return kumo__db_error(r->conn, KUMO_CODE_INTERNAL, "internal database error",
                              "rows used after close");
    if (r->conn->poisoned)
        return kumo__db_error(r->conn, KUMO_CODE_UNAVAILABLE, "database unavailable",
                              "connection already failed");
    r->has_row = 0;
    kumo__db_guard_begin(r->conn);
    f = mysql_stmt_fetch(r->stmt->st);
    if (kumo__db_guard_end(r->conn) && f != 0 && f != MYSQL_DATA_TRUNCATED)
        return kumo__db_deadline_error(r->conn, r->stmt->sql);
    if (f == MYSQL_NO_DATA)
        return KUMO_CODE_OK;
    if (f != 0 && f != MYSQL_DATA_TRUNCATED)
        return kumo__db_stmt_error(r->conn, r->stmt->st, r->stmt->sql);
    kumo_code rc = complete_row(r);
    if (rc != KUMO_CODE_OK)
        return rc;
    r->has_row = 1;
    *has_row = 1;
    return KUMO_CODE_OK;
}

unsigned kumo_db_rows_columns(const struct kumo_db_rows *r)
{
    return r->stmt ? r->stmt->n_cols : 0;
}

const void *kumo_db_rows_bytes(struct kumo_db_rows *r, unsigned i, size_t *len)
{
    struct kumo__db_col *col;

    *len = 0;
    if (!r->has_row || i >= r->stmt->n_cols)
        return NULL;
    col = &r->stmt->cols[i];
    if (col->is_null || col->kind != KUMO__DB_COL_BYTES)
        return NULL;
    *len = col->length;
    return col->buf;
}

static void shrink_buffers(struct kumo__db_stmt *s)
{
    for (unsigned i = 0; i < s->n_cols; i++) {
        if (s->cols[i].cap > COL_KEEP_CAP) {
            kumo_free(s->cols[i].buf);
            s->cols[i].buf = NULL;
            s->cols[i].cap = 0;
        }
    }
}

void kumo_db_rows_close(struct kumo_db_rows *r)
{
    if (!r || !r->open)
        return;
    r->open = 0;
    r->has_row = 0;
    if (!r->conn->poisoned && mysql_stmt_free_result(r->stmt->st) != 0) {
        /* Reported only if nothing failed before: the first error is the
         * one the caller needs. */
        struct kumo_db_error saved = *kumo_db_last_error();
        kumo__db_stmt_error(r->conn, r->stmt->st, r->stmt->sql);
        kumo__db_poison(r->conn, 0);
        if (saved.code != KUMO_CODE_OK)
            kumo__db_restore_error(&saved);
    }
    shrink_buffers(r->stmt);
}

kumo_code kumo_db_query(struct kumo_db_conn *c, const char *sql, const struct kumo_db_param *params,
                        size_t n_params, struct kumo_db_rows **rows)
{
    struct kumo__db_stmt *s = NULL;
    kumo_code rc = run(c, sql, params, n_params, &s);

    if (rc != KUMO_CODE_OK)
        return rc;
    if (mysql_stmt_field_count(s->st) == 0)
        return kumo__db_error(c, KUMO_CODE_INTERNAL, "internal database error",
                              "kumo_db_query on a statement that returns no rows");
    c->rows.conn = c;
    c->rows.stmt = s;
    c->rows.open = 1;
    c->rows.has_row = 0;
    rc = bind_results(c, s);
    if (rc != KUMO_CODE_OK) {
        kumo_db_rows_close(&c->rows);
        return rc;
    }
    *rows = &c->rows;
    return KUMO_CODE_OK;
}

/* ---- scanning ---- */

static kumo_code mismatch(struct kumo_db_rows *r, unsigned i, const char *want)
{
    char detail[160];
    snprintf(detail, sizeof detail, "column %u (%s) cannot be scanned as %s", i,
             r->stmt->cols[i].name ? r->stmt->cols[i].name : "?", want);
    return kumo__db_error(r->conn, KUMO_CODE_INTERNAL, "internal database error", detail);
}

static void zero_out(const struct kumo_db_out *o)
{
    if (o->i64)
        *o->i64 = 0;
    if (o->d)
        *o->d = 0;
    if (o->str)
        *o->str = NULL;
    if (o->len)
        *o->len = 0;
}

/* The column as bytes (integers and doubles formatted as text). */
static const char *col_text(struct kumo__db_col *col, char *tmp, size_t tmp_len, size_t *len)
{
    int n;
    switch (col->kind) {
    case KUMO__DB_COL_BYTES:
        *len = col->length;
        return col->buf;
    case KUMO__DB_COL_INT:
        n = col->is_unsigned ? snprintf(tmp, tmp_len, "%" PRIu64, (uint64_t)col->i64)
                             : snprintf(tmp, tmp_len, "%" PRId64, col->i64);
        break;
    case KUMO__DB_COL_DOUBLE:
        n = snprintf(tmp, tmp_len, "%.17g", col->d);
        break;
    default:
        return NULL;
    }
    *len = (size_t)n;
    return tmp;
}

static kumo_code scan_bytes(struct kumo_db_rows *r, unsigned i, const struct kumo_db_out *o)
{
    char tmp[32];
    size_t len;
    const char *p = col_text(&r->stmt->cols[i], tmp, sizeof tmp, &len);

    if (!p)
        return mismatch(r, i, "bytes");
    if (o->arena) {
        if (!o->str)
            return mismatch(r, i, "a string without a destination");
        *o->str = kumo_arena_strndup(o->arena, p, len);
    } else {
        if (!o->buf || len > o->cap) {
            char detail[128];
            snprintf(detail, sizeof detail, "column %u: %zu bytes do not fit a %zu-byte buffer", i,
                     len, o->cap);
            return kumo__db_error(r->conn, KUMO_CODE_OUT_OF_RANGE, "value too large", detail);
        }
        memcpy(o->buf, p, len);
        if (len < o->cap)
            ((char *)o->buf)[len] = '\0';
    }
    if (o->len)
        *o->len = len;
    return KUMO_CODE_OK;
}

static kumo_code scan_one(struct kumo_db_rows *r, unsigned i, const struct kumo_db_out *o)
{
    struct kumo__db_col *col = &r->stmt->cols[i];

    if (o->type == KUMO_DB_T_NULL)
        return KUMO_CODE_OK;
    if (col->is_null) {
        if (o->is_null) {
            *o->is_null = 1;
            zero_out(o);
            return KUMO_CODE_OK;
        }
        if ((o->type == KUMO_DB_T_STR || o->type == KUMO_DB_T_BYTES) && o->arena) {
            zero_out(o); /* *str == NULL says NULL */
            return KUMO_CODE_OK;
        }
        return mismatch(r, i, "a non-NULL value (NULL found; set is_null)");
    }
    if (o->is_null)
        *o->is_null = 0;
    switch (o->type) {
    case KUMO_DB_T_I64:
        if (col->kind != KUMO__DB_COL_INT || !o->i64)
            return mismatch(r, i, "I64");
        if (col->is_unsigned && (uint64_t)col->i64 > (uint64_t)INT64_MAX)
            return kumo__db_error(r->conn, KUMO_CODE_OUT_OF_RANGE, "value out of range",
                                  "unsigned value above INT64_MAX");
        *o->i64 = col->i64;
        return KUMO_CODE_OK;
    case KUMO_DB_T_DOUBLE:
        if (!o->d || (col->kind != KUMO__DB_COL_DOUBLE && col->kind != KUMO__DB_COL_INT))
            return mismatch(r, i, "DOUBLE");
        *o->d = col->kind == KUMO__DB_COL_DOUBLE
                    ? col->d
                    : (col->is_unsigned ? (double)(uint64_t)col->i64 : (double)col->i64);
        return KUMO_CODE_OK;
    case KUMO_DB_T_TIME:
        if (col->kind != KUMO__DB_COL_TIME || !o->i64)
            return mismatch(r, i, "TIME");
        *o->i64 = kumo__db_time_to_us(&col->t);
        return KUMO_CODE_OK;
    case KUMO_DB_T_STR:
    case KUMO_DB_T_BYTES:
        return scan_bytes(r, i, o);
    default:
        return mismatch(r, i, "an unknown type");
    }
}

kumo_code kumo_db_rows_scan(struct kumo_db_rows *r, const struct kumo_db_out *outs, size_t n_outs)
{
    kumo__db_clear_error();
    if (!r->has_row)
        return kumo__db_error(r->conn, KUMO_CODE_INTERNAL, "internal database error",
                              "scan without a current row");
    if (n_outs > r->stmt->n_cols)
        return kumo__db_error(r->conn, KUMO_CODE_INTERNAL, "internal database error",
                              "more outputs than result columns");
    for (size_t i = 0; i < n_outs; i++) {
        kumo_code rc = scan_one(r, (unsigned)i, &outs[i]);
        if (rc != KUMO_CODE_OK)
            return rc;
    }
    return KUMO_CODE_OK;
}

kumo_code kumo_db_query_row(struct kumo_db_conn *c, const char *sql,
                            const struct kumo_db_param *params, size_t n_params,
                            const struct kumo_db_out *outs, size_t n_outs)
{
    struct kumo_db_rows *r;
    int has_row = 0;
    kumo_code rc = kumo_db_query(c, sql, params, n_params, &r);

    if (rc != KUMO_CODE_OK)
        return rc;
    rc = kumo_db_rows_next(r, &has_row);
    if (rc == KUMO_CODE_OK && has_row)
        rc = kumo_db_rows_scan(r, outs, n_outs);
    kumo_db_rows_close(r);
    if (rc == KUMO_CODE_OK && !has_row) {
        kumo__db_set_last(KUMO_CODE_NOT_FOUND, 0, "not found");
        return KUMO_CODE_NOT_FOUND;
    }
    return rc;
}

/* ---- exec ---- */

/* Reads and drops the rows of a statement run through kumo_db_exec. */
static kumo_code drain(struct kumo_db_conn *c, struct kumo__db_stmt *s)
{
    struct kumo_db_rows *r = &c->rows;
    int has_row = 1;
    kumo_code rc;

    r->conn = c;
    r->stmt = s;
    r->open = 1;
    rc = bind_results(c, s);
    while (rc == KUMO_CODE_OK && has_row)
        rc = kumo_db_rows_next(r, &has_row);
    kumo_db_rows_close(r);
    return rc;
}

kumo_code kumo_db_exec(struct kumo_db_conn *c, const char *sql, const struct kumo_db_param *params,
                       size_t n_params, uint64_t *affected)
{
    struct kumo__db_stmt *s = NULL;
    kumo_code rc = run(c, sql, params, n_params, &s);

    if (rc != KUMO_CODE_OK)
        return rc;
    if (mysql_stmt_field_count(s->st) > 0) {
        rc = drain(c, s);
        if (affected)
            *affected = 0;
        return rc;
    }
    if (affected)
        *affected = (uint64_t)mysql_stmt_affected_rows(s->st);
    c->last_insert_id = (uint64_t)mysql_stmt_insert_id(s->st);
    return KUMO_CODE_OK;
}

uint64_t kumo_db_last_insert_id(const struct kumo_db_conn *c)
{
    return c->last_insert_id;
}

/* ---- text statements and transactions ---- */

kumo_code kumo__db_text(struct kumo_db_conn *c, const char *sql, size_t len)
{
    MYSQL_RES *res;

    if (c->poisoned)
        return kumo__db_error(c, KUMO_CODE_UNAVAILABLE, "database unavailable",
                              "connection already failed");
    kumo__db_guard_begin(c);
    int bad = mysql_real_query(c->m, sql, (unsigned long)len) != 0;
    res = bad ? NULL : mysql_store_result(c->m);
    if (kumo__db_guard_end(c) && (bad || (!res && mysql_field_count(c->m) != 0))) {
        if (res)
            mysql_free_result(res);
        return kumo__db_deadline_error(c, sql);
    }
    if (bad)
        return kumo__db_conn_error(c, sql);
    if (res)
        mysql_free_result(res);
    else if (mysql_field_count(c->m) != 0)
        return kumo__db_conn_error(c, sql);
    return KUMO_CODE_OK;
}

kumo_code kumo_db_begin(struct kumo_db_conn *c)
{
    static const char sql[] = "START TRANSACTION";
    kumo_code rc;

    kumo__db_clear_error();
    if ((rc = usable(c)) != KUMO_CODE_OK)
        return rc;
    /* A second START TRANSACTION would silently commit the first. */
    if (kumo_db_in_transaction(c))
        return kumo__db_error(c, KUMO_CODE_INTERNAL, "internal database error",
                              "begin inside a transaction");
    rc = kumo__db_text(c, sql, sizeof sql - 1);
    if (rc == KUMO_CODE_OK)
        c->in_tx = 1;
    return rc;
}

kumo_code kumo_db_commit(struct kumo_db_conn *c)
{
    kumo_code rc;

    kumo__db_clear_error();
    if ((rc = usable(c)) != KUMO_CODE_OK)
        return rc;
    if (!kumo_db_in_transaction(c))
        return kumo__db_error(c, KUMO_CODE_INTERNAL, "internal database error",
                              "commit outside a transaction");
    kumo__db_guard_begin(c);
    int bad = mysql_commit(c->m) != 0;
    if (kumo__db_guard_end(c) && bad) {
        rc = kumo__db_deadline_error(c, "COMMIT");
    } else if (bad) {
        rc = kumo__db_conn_error(c, "COMMIT");
        if (!c->poisoned && mysql_rollback(c->m) != 0)
            kumo__db_poison(c, 0);
    }
    c->in_tx = 0;
    return rc;
}

kumo_code kumo_db_rollback(struct kumo_db_conn *c)
{
    kumo_code rc;

    kumo__db_clear_error();
    if ((rc = usable(c)) != KUMO_CODE_OK)
        return rc;
    c->in_tx = 0;
    kumo__db_guard_begin(c);
    int bad = mysql_rollback(c->m) != 0;
    if (kumo__db_guard_end(c) && bad)
        return kumo__db_deadline_error(c, "ROLLBACK");
    if (bad)
        return kumo__db_conn_error(c, "ROLLBACK");
    return KUMO_CODE_OK;
}

int kumo_db_in_transaction(const struct kumo_db_conn *c)
{
    return c->in_tx || (c->m && (c->m->server_status & SERVER_STATUS_IN_TRANS));
}
