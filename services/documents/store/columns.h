/* Reading columns back into rows, for the store/ files: text copied into
 * the call's arena, SHA-256 digests (nullable numbers and times:
 * KUMO_DB_OUT_I64_N / KUMO_DB_OUT_TIME_N in db/db.h). */
#ifndef KUMO_DOCUMENTS_STORE_COLUMNS_H
#define KUMO_DOCUMENTS_STORE_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "rpc/rpc.h"

/* Column i of the current row as text in the call's arena ("" for NULL). */
char *docs_col_str(struct kumo_rpc_call *call, struct kumo_db_rows *rows, unsigned i);

/* Column i as a SHA-256 digest: copied to out with *len = 32, or *len = 0
 * when it is NULL or not 32 bytes long. */
void docs_col_sha256(struct kumo_db_rows *rows, unsigned i, uint8_t out[32], size_t *len);

struct docs_doc_ref;

/* Runs `sql` (one TIME parameter, `time_us`) whose rows are (tenant_id,
 * document id[, version when with_version]) into refs[0..*n), at most
 * `max`. OK or the DB error. */
kumo_code docs_col_refs(struct kumo_db_conn *c, const char *sql, int64_t time_us, int with_version,
                        struct docs_doc_ref *refs, size_t max, size_t *n);

#endif
