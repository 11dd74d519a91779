/* kumo-documents background jobs: worker threads that claim jobs from the
 * jobs table (store/jobs.h: the transactional outbox, leases, retries with
 * backoff, dead letters) and run their bodies, the dead-letter RPCs, and a
 * sweeper for expired uploads and purgeable soft-deleted documents.
 *
 * The first block is what the rest of the service uses; the second is
 * shared only by the files of jobs/ (workers.c, job_*.c, deadletters.c). */
#ifndef KUMO_DOCUMENTS_JOBS_H
#define KUMO_DOCUMENTS_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "../documents.h"
#include "../store/jobs.h"

/* ---- used by the rest of kumo-documents ---- */

/* Migration 2 "jobs": tables jobs, job_runs, dead_letters (several
 * statements separated by ';'). */
extern const char docs_jobs_migration_sql[];

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

/* ---- shared by the jobs files only ---- */

/* What a running job may use: the context and its worker's own state. */
struct docs_job_env {
    struct docs_ctx *ctx;
    int index;                    /* worker thread index */
    const char *worker;           /* "<host>:<pid>:<index>" */
    void *magic;                  /* this thread's magic_t (not thread-safe) */
    const volatile int *stopping; /* set when the service is stopping */
};

/* The job bodies. Each returns OK when the job is done (including "nothing
 * left to do"), or an error code with a description appended to `err`. */
kumo_code docs__job_extract(struct docs_job_env *env, const struct docs_job *job,
                            struct kumo_buf *err);
kumo_code docs__job_purge_content(struct docs_job_env *env, const struct docs_job *job,
                                  struct kumo_buf *err);
kumo_code docs__job_cleanup_upload(struct docs_job_env *env, const struct docs_job *job,
                                   struct kumo_buf *err);

/* Stores `len` bytes of PNG under `key` (the tenant's) through a presigned
 * PUT (thumbnail_put.c). OK or the code with a description in `err`. */
kumo_code docs__thumbnail_put(struct docs_job_env *env, const struct docs_job *job, const char *key,
                              const uint8_t *data, size_t len, struct kumo_buf *err);

/* One sweep: queues cleanup_upload jobs for expired pending uploads and
 * purges soft-deleted documents past their purge time. */
void docs__jobs_sweep(struct docs_ctx *ctx, const volatile int *stopping);

/* Text helpers of extraction (job_extract.c). */
/* 1 if a MIME type (as libmagic names it) is text worth indexing. */
int docs__mime_is_text(const char *mime);

#endif
