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

kumo_code kumo_db_row_query_one(struct kumo_db_conn *c, const char *sql,
                                const struct kumo_db_param *params, size_t n,
                                kumo_db_row_scan_fn scan, struct kumo_rpc_call *call, void *out)
{
    struct kumo_db_rows *rows;
    kumo_code rc = kumo_db_query(c, sql, params, n, &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    int has = 0;
    rc = kumo_db_rows_next(rows, &has);
    if (rc == KUMO_CODE_OK)
        rc = has ? scan(call, rows, out) : KUMO_CODE_NOT_FOUND;
    kumo_db_rows_close(rows);
    return rc;
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
