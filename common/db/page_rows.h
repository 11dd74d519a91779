/* One keyset page of a listing RPC: its rows (the loop every listing
 * wrote out: next row, stop past the page, scan, append) and its page
 * (db/page_token.h: the token in and out, bound to the query's scope; the
 * size; a connection). */
#ifndef KUMO_DB_PAGE_ROWS_H
#define KUMO_DB_PAGE_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "db/db.h"
#include "db/message_scan.h"
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

/* A listing's page: the text its tokens are bound to (the query and its
 * filters, in the call's arena), the key after which it starts (-1: the
 * first page) and its size. */
struct kumo_db_page {
    char *scope;
    size_t scope_len;
    int64_t after;
    size_t size;
};

/* Starts a page: resolves the requested size (0: def; above max: max),
 * takes `scope` (copied into the call's arena; the buffer is freed here
 * whatever the outcome), decodes the request's page token bound to it into
 * pg->after, and leases a connection of `db` into *c. Returns OK (release
 * *c), or answers the call (invalid_argument for a negative page_size or a
 * page_token of another query; the pool's failure) and returns the code. */
kumo_code kumo_db_page_open(struct kumo_db_page *pg, struct kumo_rpc_call *call, struct kumo_db *db,
                            struct kumo_buf *scope, const char *token, int32_t page_size,
                            int32_t def, int32_t max, struct kumo_db_conn **c);

/* Ends a page of the n rows read (the query asked for pg->size + 1):
 * returns how many belong to the page; when a row beyond it was read,
 * sets *next to the token of the page after the page's last row, whose
 * key is the int64_t at key_offset in element pg->size - 1 of `rows`
 * (row_size bytes each), and leaves *next alone otherwise. */
size_t kumo_db_page_end(const struct kumo_db_page *pg, struct kumo_rpc_call *call, const void *rows,
                        size_t row_size, size_t key_offset, size_t n, char **next);

/* A page of messages: runs `sql`, which asks for at most pg->size + 1
 * rows (LIMIT ?) after pg->after and names its key column KUMO_DB_MSG_KEY,
 * reading rows into messages of type `d` (db/message_scan.h) in the call's
 * arena. Sets *out and *n to the page's messages and, when a row beyond
 * the page was read, *next to the token of the page after it (*next is
 * left alone otherwise). Returns OK or the query's or scan's error. */
kumo_code kumo_db_page_msgs(const struct kumo_db_page *pg, struct kumo_rpc_call *call,
                            struct kumo_db_conn *c, const char *sql,
                            const struct kumo_db_param *params, size_t n_params,
                            const ProtobufCMessageDescriptor *d, void ***out, size_t *n,
                            char **next);

/* kumo_db_page_end for an array `rows` whose key is the int64_t member
 * `key`. */
#define KUMO_DB_PAGE_END(pg, call, rows, n, key, next)                                             \
    kumo_db_page_end((pg), (call), (rows), sizeof *(rows), offsetof(__typeof__(*(rows)), key),     \
                     (n), (next))

#endif
