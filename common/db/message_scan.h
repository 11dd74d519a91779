/* Result rows straight into protobuf-c messages, by column NAME: the SELECT
 * list of a query is also the list of message fields it fills (alias a
 * column `AS field_name` where the names differ), and each field's type,
 * read from the message's descriptor, says how its column is read. One
 * place per table (its store file) then holds the columns, the SQL and the
 * mapping, instead of a row struct, its scanner and a hand-written
 * row-to-message copy.
 *
 * How a column fills the field of its name (SQL NULL always leaves the
 * field unset: 0, "", empty bytes, no sub-message):
 *   int32/sint32/sfixed32, int64/..., uint32/fixed32, uint64/fixed64,
 *   enum, bool   <- an integer column (OUT_OF_RANGE when the value does
 *                   not fit the field; bool is value != 0)
 *   float/double <- an integer or floating-point column
 *   string       <- a text column (CAST(n AS CHAR) for a number as text)
 *   bytes        <- a text or binary column
 *   google.protobuf.Timestamp <- a DATE/DATETIME/TIMESTAMP column (UTC)
 *   any other message <- a text column holding its JSON (codec/json_codec.h);
 *                   "" or JSON that does not decode leaves it unset
 * A field in a oneof (or a proto3 `optional` one) is marked present when
 * its column is not NULL. The column named KUMO_DB_MSG_KEY is no field:
 * it is the row's keyset-pagination key (an integer), handed back apart.
 * Every other column must name a singular field of the message: an
 * unknown name, a repeated field or a column of the wrong kind is INTERNAL
 * (a bug or schema drift, logged with the column's name), never a crash.
 * Text and sub-messages are allocated with the caller's allocator (e.g.
 * kumo_rpc_call_allocator: they live as long as the call). */
#ifndef KUMO_DB_MESSAGE_SCAN_H
#define KUMO_DB_MESSAGE_SCAN_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* The column name of a row's pagination key (e.g. `u.seq AS page_key`). */
#define KUMO_DB_MSG_KEY "page_key"

/* The most columns one row may have. */
#define KUMO_DB_MSG_MAX_COLS 64

/* Fills the fields of `m` (initialized by the caller) named by the
 * columns of the current row of `rows`; sets *key (may be NULL) from the
 * KUMO_DB_MSG_KEY column (unchanged without one). Returns OK or INTERNAL /
 * OUT_OF_RANGE as above (fields filled before the failing column stay). */
kumo_code kumo_db_msg_scan(struct kumo_db_rows *rows, ProtobufCAllocator *a, ProtobufCMessage *m,
                           int64_t *key);

/* Runs a query expected to return at most one row and returns its row as
 * a new message of type `d` in *out (allocated with `a`). Returns OK,
 * NOT_FOUND without a row, or the query's or scan's error (*out NULL).
 * Extra rows are ignored. */
kumo_code kumo_db_msg_query_one(struct kumo_db_conn *c, const char *sql,
                                const struct kumo_db_param *params, size_t n_params,
                                const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a,
                                void **out);

/* Runs a query and returns its first `max` rows (at most; the rest are not
 * read) as messages of type `d`: *out gets an array of *n message pointers
 * and, when keys is not NULL, *keys an array of their KUMO_DB_MSG_KEY
 * values (0 without the column), both allocated with `a` (room for `max`,
 * at least 1). Returns OK, or the query's or scan's error (*n then counts
 * the rows read before it). */
kumo_code kumo_db_msg_query_all(struct kumo_db_conn *c, const char *sql,
                                const struct kumo_db_param *params, size_t n_params,
                                const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a,
                                size_t max, void ***out, int64_t **keys, size_t *n);

#endif
