/* Rows to messages (see db_row.h). */
#include "db/row.h"

#include <string.h>

#include "base/ids.h"

char *kumo_db_row_str(ProtobufCAllocator *a, struct kumo_db_rows *rows, unsigned i)
{
    size_t len = 0;
    const void *p = kumo_db_rows_bytes(rows, i, &len);
    char *s = a->alloc(a->allocator_data, len + 1);
    if (p && len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

kumo_code kumo_db_query_each(struct kumo_db_conn *c, const char *sql,
                             const struct kumo_db_param *params, size_t n_params, size_t max,
                             kumo_db_row_fn fn, void *ud, size_t *n)
{
    struct kumo_db_rows *rows = NULL;
    size_t got = 0;
    kumo_code rc = kumo_db_query(c, sql, params, n_params, &rows);
    while (rc == KUMO_CODE_OK && (max == 0 || got < max)) {
        int has = 0;
        if ((rc = kumo_db_rows_next(rows, &has)) != KUMO_CODE_OK || !has)
            break;
        if ((rc = fn(ud, rows, got)) == KUMO_CODE_OK)
            got++;
    }
    kumo_db_rows_close(rows);
    if (n)
        *n = got;
    return rc;
}

struct scan_into {
    kumo_db_row_scan_fn scan;
    struct kumo_rpc_call *call;
    char *out;
    size_t row_size;
};

/* kumo_db_row_fn: the i-th row into element i of an array of rows. */
static kumo_code scan_into(void *ud, struct kumo_db_rows *rows, size_t i)
{
    struct scan_into *s = ud;
    return s->scan(s->call, rows, s->out + i * s->row_size);
}

kumo_code kumo_db_row_query_one(struct kumo_db_conn *c, const char *sql,
                                const struct kumo_db_param *params, size_t n,
                                kumo_db_row_scan_fn scan, struct kumo_rpc_call *call, void *out)
{
    size_t got = 0;
    kumo_code rc = kumo_db_row_query_rows(c, sql, params, n, scan, call, out, 0, 1, &got);
    return rc == KUMO_CODE_OK && got == 0 ? KUMO_CODE_NOT_FOUND : rc;
}

kumo_code kumo_db_row_query_rows(struct kumo_db_conn *c, const char *sql,
                                 const struct kumo_db_param *params, size_t n_params,
                                 kumo_db_row_scan_fn scan, struct kumo_rpc_call *call, void *out,
                                 size_t row_size, size_t max, size_t *n)
{
    struct scan_into s = {scan, call, out, row_size};
    *n = 0;
    if (max == 0) /* not "every row": there is no room */
        return KUMO_CODE_OK;
    return kumo_db_query_each(c, sql, params, n_params, max, scan_into, &s, n);
}

kumo_code kumo_db_query_text(struct kumo_db_conn *c, const char *sql,
                             const struct kumo_db_param *params, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    int is_null = 0;
    if (cap == 0)
        return KUMO_CODE_INTERNAL;
    kumo_code rc = kumo_db_query_row(c, sql, params, n,
                                     KUMO_DB_OUTS(KUMO_DB_OUT_BUF_N(out, cap - 1, &len, &is_null)));
    if (rc == KUMO_CODE_OK && is_null)
        rc = KUMO_CODE_INTERNAL;
    out[rc == KUMO_CODE_OK ? len : 0] = '\0';
    return rc;
}

Google__Protobuf__Timestamp *kumo_pb_timestamp(ProtobufCAllocator *a, int64_t us)
{
    Google__Protobuf__Timestamp *t = a->alloc(a->allocator_data, sizeof *t);
    google__protobuf__timestamp__init(t);
    int64_t s = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        s--;
        rem += 1000000;
    }
    t->seconds = s;
    t->nanos = (int32_t)(rem * 1000);
    return t;
}

char *kumo_pb_etag(ProtobufCAllocator *a, int64_t version)
{
    char *s = a->alloc(a->allocator_data, KUMO_ETAG_MAX);
    kumo_etag_format(version, s);
    return s;
}
