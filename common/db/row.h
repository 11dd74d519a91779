/* Turning result rows into response messages inside an RPC handler: string
 * columns copied into the call's memory, one-row queries handed to a
 * scanner, and Timestamp messages. Shared by every service that serves rows
 * (kumo-users, kumo-documents). */
#ifndef KUMO_DB_ROW_H
#define KUMO_DB_ROW_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "db/db.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "rpc/rpc.h"

/* Column `i` of the current row copied with `a` (e.g. the call's
 * allocator), NUL-terminated; "" for SQL NULL. Never NULL (`a` must not
 * fail). */
char *kumo_db_row_str(ProtobufCAllocator *a, struct kumo_db_rows *rows, unsigned i);

/* A row visitor: reads the current row of `rows`, the i-th of its result
 * (from 0). Returns OK to go on, or an error, which stops the query. */
typedef kumo_code (*kumo_db_row_fn)(void *ud, struct kumo_db_rows *rows, size_t i);

/* Runs a query and hands its rows, in order, to `fn`: at most `max` of
 * them (the rest are not read; 0: every row). Sets *n (may be NULL) to the
 * rows `fn` accepted. Returns OK, or the query's, a row's or fn's error.
 * The one loop over a result (open, next, stop, close) every reader of
 * many rows shares. */
kumo_code kumo_db_query_each(struct kumo_db_conn *c, const char *sql,
                             const struct kumo_db_param *params, size_t n_params, size_t max,
                             kumo_db_row_fn fn, void *ud, size_t *n);

/* A row scanner: stores the current row of `rows` into `out`, allocating
 * what it keeps from `call`. Returns OK or the scan error. */
typedef kumo_code (*kumo_db_row_scan_fn)(struct kumo_rpc_call *call, struct kumo_db_rows *rows,
                                         void *out);

/* Runs a query expected to return at most one row and hands that row to
 * `scan`. Returns OK, NOT_FOUND without a row, or the query's (or scan's)
 * error. Extra rows are ignored. */
kumo_code kumo_db_row_query_one(struct kumo_db_conn *c, const char *sql,
                                const struct kumo_db_param *params, size_t n,
                                kumo_db_row_scan_fn scan, struct kumo_rpc_call *call, void *out);

/* Runs a query and hands its rows, at most `max`, to `scan`, row i into
 * out + i * row_size (caller memory, room for `max`; 0 reads nothing).
 * Sets *n to the rows scanned. Returns OK, or the query's or scan's error. */
kumo_code kumo_db_row_query_rows(struct kumo_db_conn *c, const char *sql,
                                 const struct kumo_db_param *params, size_t n_params,
                                 kumo_db_row_scan_fn scan, struct kumo_rpc_call *call, void *out,
                                 size_t row_size, size_t max, size_t *n);

/* Runs a query whose first row's only column is text (an id, a hash) and
 * copies it into out[cap], NUL-terminated. Returns OK, NOT_FOUND without a
 * row, INTERNAL for NULL, OUT_OF_RANGE when it does not fit, or the
 * query's error. */
kumo_code kumo_db_query_text(struct kumo_db_conn *c, const char *sql,
                             const struct kumo_db_param *params, size_t n, char *out, size_t cap);

/* A Timestamp for `us` microseconds since the epoch (negative allowed:
 * nanos stay in 0..999999999), allocated with `a`. */
Google__Protobuf__Timestamp *kumo_pb_timestamp(ProtobufCAllocator *a, int64_t us);

/* The etag text of row version `version` (ids.h), allocated with `a`. */
char *kumo_pb_etag(ProtobufCAllocator *a, int64_t version);

#endif
