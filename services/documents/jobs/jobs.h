/* kumo-documents background jobs: a jobs table filled inside the
 * transactions that create the work (transactional outbox), worker threads
 * that claim jobs with a lease, retries with backoff, dead letters an admin
 * can list and re-drive, and a sweeper for expired uploads and purgeable
 * soft-deleted documents.
 *
 * The first block is what the rest of the service uses; the second is
 * shared only by the jobs files (jobs.c, workers.c, job_*.c,
 * deadletters.c). */
#ifndef KUMO_DOCUMENTS_JOBS_H
#define KUMO_DOCUMENTS_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "../documents.h"

/* ---- used by the rest of kumo-documents ---- */

/* Job kinds. */
#define DOCS_JOB_EXTRACT        "extract"
#define DOCS_JOB_PURGE_CONTENT  "purge_content"
#define DOCS_JOB_CLEANUP_UPLOAD "cleanup_upload"

/* Migration 2 "jobs": tables jobs, job_runs, dead_letters (several
 * statements separated by ';'). */
extern const char docs_jobs_migration_sql[];

/* Queues a job inside the caller's open transaction on `c` (so the job
 * exists exactly when the caller's change commits). `kind` is one of the
 * DOCS_JOB_* kinds; document_id may be NULL (""); payload_json NULL or a
 * JSON object text; run_at_us 0 = now (microseconds since the epoch).
 * Returns OK, INVALID_ARGUMENT (unknown kind, no tenant, no open
 * transaction), or the database's error. */
kumo_code docs_job_enqueue(struct kumo_db_conn *c, const char *tenant_id, const char *kind,
                           const char *document_id, int32_t version, const char *payload_json,
                           int64_t run_at_us);

/* Starts ctx->s.jobs_workers worker threads and one sweeper. Starts
 * nothing (and logs why) with 0 workers or without ctx->service_api_key /
 * ctx->exchange / ctx->storage. Returns 0, or -1 when threads could not be
 * started (nothing is left running then). `ctx` must outlive
 * docs_jobs_stop. Call once. */
int docs_jobs_start(struct docs_ctx *ctx);

/* Wakes every job thread, waits for the jobs being run to end (their
 * transfers are cancelled) and joins them. Safe when nothing was started,
 * and idempotent. */
void docs_jobs_stop(void);

/* RPC handlers (KUMO_RPC_BLOCKING, service data = struct docs_ctx *):
 * ListDeadLetters and RedriveDeadLetter, tenant admins only. */
kumo_code docs_list_dead_letters(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response);
kumo_code docs_redrive_dead_letter(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                                   ProtobufCMessage **response);

/* ---- shared by the jobs files only ---- */

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

/* What a running job may use: the context and its worker's own state. */
struct docs_job_env {
    struct docs_ctx *ctx;
    int index;                    /* worker thread index */
    const char *worker;           /* "<host>:<pid>:<index>" */
    void *magic;                  /* this thread's magic_t (not thread-safe) */
    const volatile int *stopping; /* set when the service is stopping */
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

/* Calls kumo-storage `method` ("DeleteObject") for the job's tenant with
 * the service principal's token (exchanged per call, cached). On failure
 * returns the code and appends a description to `err`. */
kumo_code docs__storage_call(struct docs_job_env *env, const struct docs_job *job,
                             const char *method, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                             struct kumo_buf *err);

/* The job bodies. Each returns OK when the job is done (including "nothing
 * left to do"), or an error code with a description appended to `err`. */
kumo_code docs__job_extract(struct docs_job_env *env, const struct docs_job *job,
                            struct kumo_buf *err);
kumo_code docs__job_purge_content(struct docs_job_env *env, const struct docs_job *job,
                                  struct kumo_buf *err);
kumo_code docs__job_cleanup_upload(struct docs_job_env *env, const struct docs_job *job,
                                   struct kumo_buf *err);

/* One sweep: queues cleanup_upload jobs for expired pending uploads and
 * purges soft-deleted documents past their purge time. */
void docs__jobs_sweep(struct docs_ctx *ctx, const volatile int *stopping);

/* Text helpers of extraction (job_extract.c). */
/* 1 if a MIME type (as libmagic names it) is text worth indexing. */
int docs__mime_is_text(const char *mime);
/* Appends to `out` the valid UTF-8 of in[0..len) without NULs and invalid
 * sequences, at most `max` bytes and never ending inside a character. */
void docs__utf8_clean(const char *in, size_t len, size_t max, struct kumo_buf *out);

#endif
