/* The jobs table (the transactional outbox) and the job_runs and
 * dead_letters rows a finished job leaves: enqueue inside the caller's
 * transaction, claim with a lease, finish conditional on the lease. All
 * their SQL is in store/jobs.c (listing and re-driving dead letters:
 * store/dead_letters.c). The workers that run jobs are in jobs/. */
#ifndef KUMO_DOCUMENTS_STORE_JOBS_H
#define KUMO_DOCUMENTS_STORE_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "../documents.h"
#include "db/db.h"

/* Job kinds. */
#define DOCS_JOB_EXTRACT        "extract"
#define DOCS_JOB_PURGE_CONTENT  "purge_content"
#define DOCS_JOB_CLEANUP_UPLOAD "cleanup_upload"

/* Queues a job inside the caller's open transaction on `c` (so the job
 * exists exactly when the caller's change commits). `kind` is one of the
 * DOCS_JOB_* kinds; document_id may be NULL (""); payload_json NULL or a
 * JSON object text; run_at_us 0 = now (microseconds since the epoch).
 * Returns OK, INVALID_ARGUMENT (unknown kind, no tenant, no open
 * transaction), or the database's error. */
kumo_code docs_job_enqueue(struct kumo_db_conn *c, const char *tenant_id, const char *kind,
                           const char *document_id, int32_t version, const char *payload_json,
                           int64_t run_at_us);

#define DOCS_JOB_KIND_MAX   32
#define DOCS_JOB_LEASE_LEN  32   /* hex characters of a lease token */
#define DOCS_JOB_ERROR_MAX  1024 /* job_runs.error, jobs.last_error */
#define DOCS_JOB_WORKER_MAX 128

/* ExtractionState values (documents.proto). */
enum { DOCS_EXTRACT_PENDING = 1, DOCS_EXTRACT_DONE = 2, DOCS_EXTRACT_FAILED = 3 };

/* A claimed job. */
struct docs_job {
    char id[DOCS_ID_MAX + 1];
    char tenant_id[DOCS_ID_MAX + 1];
    char kind[DOCS_JOB_KIND_MAX + 1];
    char document_id[DOCS_ID_MAX + 1];
    int32_t version;
    char *payload;    /* kumo_malloc'd JSON text or NULL */
    int64_t attempts; /* including this run */
    char lease[DOCS_JOB_LEASE_LEN + 1];
};

/* Like docs_job_enqueue, also writing the new job's id to
 * id_out[DOCS_ID_MAX + 1] when id_out is not NULL. */
kumo_code docs__job_enqueue_id(struct kumo_db_conn *c, const char *tenant_id, const char *kind,
                               const char *document_id, int32_t version, const char *payload_json,
                               int64_t run_at_us, int64_t create_us, char *id_out);

/* Claims the next due job: sets *out (free its payload with
 * docs__job_clear) and *found = 1, or *found = 0 when none is due. */
kumo_code docs__job_claim(struct docs_ctx *ctx, struct docs_job *out, int *found);

/* Records the outcome of a claimed job in one transaction, if the lease is
 * still ours: ok != 0 deletes the job; else reschedules it with backoff, or
 * dead-letters it after jobs_max_attempts. `error` is the failure text
 * (ignored when ok). Sets *outcome to "ok", "error", "dead" or "lost". */
kumo_code docs__job_finish(struct docs_ctx *ctx, const struct docs_job *job, const char *worker,
                           int64_t start_us, int ok, const char *error, const char **outcome);

/* Inside an open transaction on `c`: locks the job's row and checks that
 * the lease is still ours. Returns OK, or ABORTED ("lease lost") when the
 * job was taken over or is gone, so the job's writes are never applied by
 * two workers. */
kumo_code docs__job_lease_check(struct kumo_db_conn *c, const struct docs_job *job);

/* Pushes the job's lease_until to now + jobs_lease_ms if the lease is
 * still ours (for long transfers). Returns OK, ABORTED when the lease was
 * lost, or the database's error. */
kumo_code docs__job_lease_extend(struct docs_ctx *ctx, const struct docs_job *job);

/* Frees what a claimed job holds. */
void docs__job_clear(struct docs_job *job);

/* Backoff before retry number `attempts` (>= 1) in ms: a uniformly random
 * value in [0, min(max_ms, base_ms * 2^(attempts-1))] ("full jitter"). */
int64_t docs__job_backoff_ms(int64_t base_ms, int64_t max_ms, int64_t attempts);

/* Inside the caller's transaction: 1 in *queued when a cleanup_upload job
 * of version `version` of the document is queued or dead-lettered (not
 * re-driven) already. OK or the DB error. */
kumo_code docs_job_cleanup_queued(struct kumo_db_conn *c, const char *document_id, int64_t version,
                                  int *queued);

#endif
