/* One keyset page of a listing RPC: its rows (the loop every listing
 * wrote out: next row, stop past the page, scan, append) and its page
 * token in and out (db/page_token.h, bound to the query's scope). */
#ifndef KUMO_DB_PAGE_ROWS_H
#define KUMO_DB_PAGE_ROWS_H

#include <stddef.h>

#include "base/buf.h"
#include "db/db.h"
#include "db/row.h"
#include "rpc/rpc.h"

/* Runs `sql` (which should ask for at most `max` rows: a page's size + 1,
 * so that a row beyond the page tells there is a next one) and hands each
 * row to `scan`, which fills element i of an array of `row_size`-byte rows
 * allocated in the call's arena. Sets *out to the array and *n to the rows
 * read (at most `max`; rows past `max` are not read). Returns OK, or the
 * query's or scan's error (*n then counts the rows scanned before it). */
kumo_code kumo_db_row_query_page(struct kumo_db_conn *c, const char *sql,
                                 const struct kumo_db_param *params, size_t n_params,
                                 kumo_db_row_scan_fn scan, struct kumo_rpc_call *call,
                                 size_t row_size, size_t max, void **out, size_t *n);

/* Decodes the request's page token (bound to `scope`) into *after (-1 for
 * the first page). Returns OK, or answers invalid_argument ("page_token is
 * not a token of this query") and returns that code. */
kumo_code kumo_db_page_token_read(struct kumo_rpc_call *call, const char *token,
                                  const struct kumo_buf *scope, int64_t *after);

/* The token of the page after the row whose key is `last` (>= 0), bound
 * to `scope`, in the call's arena. */
char *kumo_db_page_token_write(struct kumo_rpc_call *call, int64_t last,
                               const struct kumo_buf *scope);

#endif
