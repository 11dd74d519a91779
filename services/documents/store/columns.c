/* Column readers shared by the store/ files. */
#include <string.h>

#include "columns.h"
#include "db/row.h"
#include "documents.h"

char *docs_col_str(struct kumo_rpc_call *call, struct kumo_db_rows *rows, unsigned i)
{
    return kumo_db_row_str(kumo_rpc_call_allocator(call), rows, i);
}

void docs_col_sha256(struct kumo_db_rows *rows, unsigned i, uint8_t out[32], size_t *len)
{
    size_t n = 0;
    const void *p = kumo_db_rows_bytes(rows, i, &n);
    *len = (p && n == 32) ? 32 : 0;
    if (*len)
        memcpy(out, p, 32);
}

kumo_code docs_col_refs(struct kumo_db_conn *c, const char *sql, int64_t time_us, int with_version,
                        struct docs_doc_ref *refs, size_t max, size_t *n)
{
    *n = 0;
    struct kumo_db_rows *rows = NULL;
    kumo_code rc = kumo_db_query(c, sql, KUMO_DB_PARAMS(KUMO_DB_TIME(time_us)), &rows);
    int has = 0;
    while (rc == KUMO_CODE_OK && *n < max && (rc = kumo_db_rows_next(rows, &has)) == KUMO_CODE_OK &&
           has) {
        struct docs_doc_ref *x = &refs[*n];
        size_t tl = 0, dl = 0;
        memset(x, 0, sizeof *x);
        if (with_version)
            rc = kumo_db_rows_scan(
                rows, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(x->tenant_id, sizeof x->tenant_id - 1, &tl),
                                   KUMO_DB_OUT_BUF(x->id, sizeof x->id - 1, &dl),
                                   KUMO_DB_OUT_I64(&x->version)));
        else
            rc = kumo_db_rows_scan(
                rows, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(x->tenant_id, sizeof x->tenant_id - 1, &tl),
                                   KUMO_DB_OUT_BUF(x->id, sizeof x->id - 1, &dl)));
        if (rc == KUMO_CODE_OK)
            (*n)++;
    }
    kumo_db_rows_close(rows);
    return rc;
}
