/* The dead_letters table: jobs that failed for good (store/jobs.c moves
 * them here), listed and re-driven by a tenant admin. Its SQL is in
 * store/dead_letters.c, next to the columns its rows are read with. */
#ifndef KUMO_DOCUMENTS_STORE_DEAD_LETTERS_H
#define KUMO_DOCUMENTS_STORE_DEAD_LETTERS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/page_rows.h"
#include "kumo/documents/v1/documents.pb-c.h"
#include "rpc/rpc.h"

/* A page `pg` (db/page_rows.h; keyed by seq, pg->after < 0: the first) of
 * the tenant's dead letters not yet re-driven, newest first: *out gets *n
 * DeadLetter messages (call arena), *next the next page's token (left
 * alone on the last page). OK or the DB error. */
kumo_code docs_dead_letter_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const struct kumo_db_page *pg, const char *tenant_id,
                                Kumo__Documents__V1__DeadLetter ***out, size_t *n, char **next);

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
