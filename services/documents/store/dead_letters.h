/* The dead_letters table: jobs that failed for good (store/jobs.c moves
 * them here), listed and re-driven by a tenant admin. Its SQL is in
 * store/dead_letters.c, next to the columns its rows are read with. */
#ifndef KUMO_DOCUMENTS_STORE_DEAD_LETTERS_H
#define KUMO_DOCUMENTS_STORE_DEAD_LETTERS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "rpc/rpc.h"

/* One listed dead letter (text in the call's arena). */
struct docs_dead_letter_row {
    int64_t seq, version, attempts, create_us, dead_us;
    char *id, *kind, *document_id, *last_error;
};

/* Up to `limit` dead letters of the tenant not yet re-driven, with seq
 * below `before` (all when before < 0), newest first: rows[0..*n) in the
 * call's arena. OK or the DB error. */
kumo_code docs_dead_letter_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *tenant_id, int64_t before, int32_t limit,
                                struct docs_dead_letter_row **rows, size_t *n);

/* What re-driving a dead letter needs, read under its row lock. */
struct docs_dead_letter_job {
    char *kind, *document_id, *payload; /* payload NULL when none */
    int64_t version;
    int redriven; /* re-driven already */
};

/* Inside the caller's transaction: locks dead letter `id` of the tenant
 * and reads its job into *j. *found = 0 when there is none. OK or the DB
 * error. */
kumo_code docs_dead_letter_lock(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *tenant_id, const char *id,
                                struct docs_dead_letter_job *j, int *found);

/* Records that dead letter `id` was re-driven as job `job_id` (it leaves
 * the list). OK or the DB error. */
kumo_code docs_dead_letter_mark_redriven(struct kumo_db_conn *c, const char *tenant_id,
                                         const char *id, const char *job_id, int64_t now_us);

#endif
