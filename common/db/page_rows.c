/* One keyset page's rows, scanned into an arena array. */
#include <string.h>

#include "db/page_rows.h"
#include "db/call.h"
#include "rpc/fields.h"
#include "db/page_token.h"

kumo_code kumo_db_row_query_page(struct kumo_db_conn *c, const char *sql,
                                 const struct kumo_db_param *params, size_t n_params,
                                 kumo_db_row_scan_fn scan, struct kumo_rpc_call *call,
                                 size_t row_size, size_t max, void **out, size_t *n)
{
    *out = kumo_rpc_call_alloc(call, (max ? max : 1) * row_size);
    return kumo_db_row_query_rows(c, sql, params, n_params, scan, call, *out, row_size, max, n);
}

kumo_code kumo_db_page_open(struct kumo_db_page *pg, struct kumo_rpc_call *call, struct kumo_db *db,
                            struct kumo_buf *scope, const char *token, int32_t page_size,
                            int32_t def, int32_t max, struct kumo_db_conn **c)
{
    memset(pg, 0, sizeof *pg);
    pg->scope_len = scope->len;
    pg->scope = kumo_rpc_call_alloc(call, scope->len + 1);
    if (scope->len)
        memcpy(pg->scope, scope->data, scope->len);
    pg->scope[scope->len] = '\0';
    kumo_buf_free(scope);
    int32_t size;
    if (kumo_page_size(page_size, def, max, &size) != 0)
        return kumo_rpc_invalid(call, "page_size", "must not be negative");
    pg->size = (size_t)size;
    if (kumo_page_token_decode(token, strlen(token), pg->scope, pg->scope_len, &pg->after) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "page_token is not a token of this query");
    return kumo_db_call_acquire(db, call, c);
}

size_t kumo_db_page_end(const struct kumo_db_page *pg, struct kumo_rpc_call *call, const void *rows,
                        size_t row_size, size_t key_offset, size_t n, char **next)
{
    if (n <= pg->size)
        return n;
    int64_t last;
    memcpy(&last, (const char *)rows + (pg->size - 1) * row_size + key_offset, sizeof last);
    *next = kumo_rpc_call_alloc(call, KUMO_PAGE_TOKEN_MAX);
    kumo_page_token_encode(last, pg->scope, pg->scope_len, *next);
    return pg->size;
}

kumo_code kumo_db_page_msgs(const struct kumo_db_page *pg, struct kumo_rpc_call *call,
                            struct kumo_db_conn *c, const char *sql,
                            const struct kumo_db_param *params, size_t n_params,
                            const ProtobufCMessageDescriptor *d, void ***out, size_t *n,
                            char **next)
{
    int64_t *keys = NULL;
    kumo_code rc = kumo_db_msg_query_all(c, sql, params, n_params, d, kumo_rpc_call_allocator(call),
                                         pg->size + 1, out, &keys, n);
    if (rc == KUMO_CODE_OK)
        *n = kumo_db_page_end(pg, call, keys, sizeof *keys, 0, *n, next);
    return rc;
}
