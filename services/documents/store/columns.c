/* Column readers shared by the store/ files. */
#include <string.h>

#include "columns.h"
#include "db/row.h"

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
