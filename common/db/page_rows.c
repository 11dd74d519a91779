/* One keyset page's rows, scanned into an arena array. */
#include <string.h>

#include "db/page_rows.h"
#include "db/page_token.h"

kumo_code kumo_db_row_query_page(struct kumo_db_conn *c, const char *sql,
                                 const struct kumo_db_param *params, size_t n_params,
                                 kumo_db_row_scan_fn scan, struct kumo_rpc_call *call,
                                 size_t row_size, size_t max, void **out, size_t *n)
{
    *n = 0;
    *out = kumo_rpc_call_alloc(call, (max ? max : 1) * row_size);
    struct kumo_db_rows *rows;
    kumo_code rc = kumo_db_query(c, sql, params, n_params, &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    while (*n < max) {
        int has = 0;
        if ((rc = kumo_db_rows_next(rows, &has)) != KUMO_CODE_OK || !has)
            break;
        if ((rc = scan(call, rows, (char *)*out + *n * row_size)) != KUMO_CODE_OK)
            break;
        (*n)++;
    }
    kumo_db_rows_close(rows);
    return rc;
}

kumo_code kumo_db_page_token_read(struct kumo_rpc_call *call, const char *token,
                                  const struct kumo_buf *scope, int64_t *after)
{
    if (kumo_page_token_decode(token, strlen(token), scope->data, scope->len, after) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "page_token is not a token of this query");
    return KUMO_CODE_OK;
}

char *kumo_db_page_token_write(struct kumo_rpc_call *call, int64_t last,
                               const struct kumo_buf *scope)
{
    char *t = kumo_rpc_call_alloc(call, KUMO_PAGE_TOKEN_MAX);
    kumo_page_token_encode(last, scope->data, scope->len, t);
    return t;
}
