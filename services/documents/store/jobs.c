/* The jobs table: enqueue (inside the caller's transaction), claim with a
 * lease (FOR UPDATE SKIP LOCKED, so workers in any number of processes
 * never wait on each other), and finish conditional on the lease still
 * being ours, which is what makes each job succeed exactly once: a worker
 * whose lease expired and was taken over records 'lost' and changes
 * nothing. Failures are retried with exponential backoff and full jitter,
 * then moved to dead_letters. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/ids.h"
#include "base/validate.h"
#include "db/call.h"
#include "jobs.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "base/secret.h"

#define TX_RETRIES 3 /* deadlocks (ABORTED) are retried this many times */

static const char *const kinds[] = {DOCS_JOB_EXTRACT, DOCS_JOB_PURGE_CONTENT,
                                    DOCS_JOB_CLEANUP_UPLOAD};

static int kind_known(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kind && strcmp(kind, kinds[i]) == 0)
            return 1;
    return 0;
}

kumo_code docs__job_enqueue_id(struct kumo_db_conn *c, const char *tenant_id, const char *kind,
                               const char *document_id, int32_t version, const char *payload_json,
                               int64_t run_at_us, int64_t create_us, char *id_out)
{
    if (!c || !tenant_id || !tenant_id[0] || strlen(tenant_id) > DOCS_ID_MAX || !kind_known(kind) ||
        (document_id && strlen(document_id) > DOCS_ID_MAX) || !kumo_db_in_transaction(c))
        return KUMO_CODE_INVALID_ARGUMENT;
    char id[DOCS_ID_MAX + 1];
    if (kumo_id_new("job", id, sizeof id) != 0)
        return KUMO_CODE_INTERNAL;
    int64_t now = kumo_now_us();
    kumo_code rc = kumo_db_exec(
        c,
        "INSERT INTO jobs (id, tenant_id, kind, document_id, version, payload, attempts,"
        " run_at, create_time) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(id), KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(kind),
                       KUMO_DB_STRZ(document_id ? document_id : ""), KUMO_DB_I64(version),
                       KUMO_DB_STRZ(payload_json), KUMO_DB_TIME(run_at_us ? run_at_us : now),
                       KUMO_DB_TIME(create_us ? create_us : now)),
        NULL);
    if (rc == KUMO_CODE_OK && id_out)
        memcpy(id_out, id, sizeof id);
    return rc;
}

kumo_code docs_job_enqueue(struct kumo_db_conn *c, const char *tenant_id, const char *kind,
                           const char *document_id, int32_t version, const char *payload_json,
                           int64_t run_at_us)
{
    return docs__job_enqueue_id(c, tenant_id, kind, document_id, version, payload_json, run_at_us,
                                0, NULL);
}

void docs__job_clear(struct docs_job *job)
{
    kumo_free(job->payload);
    memset(job, 0, sizeof *job);
}

int64_t docs__job_backoff_ms(int64_t base_ms, int64_t max_ms, int64_t attempts)
{
    if (base_ms < 1)
        base_ms = 1;
    if (max_ms < base_ms)
        max_ms = base_ms;
    int64_t cap = base_ms;
    for (int64_t i = 1; i < attempts && cap < max_ms; i++)
        cap = cap > max_ms / 2 ? max_ms : cap * 2;
    if (cap > max_ms)
        cap = max_ms;
    uint64_t r = 0;
    if (kumo_secret_random_bytes(&r, sizeof r) != 0)
        return cap; /* no randomness: the full wait is still correct */
    return (int64_t)(r % (uint64_t)(cap + 1));
}

/* Error text as stored: valid UTF-8, short enough for VARCHAR(1024). */
static void error_text(const char *in, struct kumo_buf *out)
{
    if (!in || !in[0])
        in = "failed";
    kumo_utf8_clean(in, strlen(in), 1000, out);
    if (out->len == 0)
        kumo_buf_append_str(out, "failed");
}

static kumo_code run_record(struct kumo_db_conn *c, const struct docs_job *job, int64_t attempt,
                            const char *worker, const char *outcome, const char *error,
                            int64_t start_us)
{
    return kumo_db_exec(c,
                        "INSERT INTO job_runs (job_id, tenant_id, kind, document_id, version,"
                        " attempt, worker, outcome, error, start_time, end_time)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(job->id), KUMO_DB_STRZ(job->tenant_id),
                                       KUMO_DB_STRZ(job->kind), KUMO_DB_STRZ(job->document_id),
                                       KUMO_DB_I64(job->version), KUMO_DB_I64(attempt),
                                       KUMO_DB_STRZ(worker), KUMO_DB_STRZ(outcome),
                                       KUMO_DB_STRZ(error ? error : ""), KUMO_DB_TIME(start_us),
                                       KUMO_DB_TIME(kumo_now_us())),
                        NULL);
}

/* Moves the job `id` (locked by the caller) to dead_letters; for extract
 * jobs the document's extraction is marked FAILED. */
static kumo_code dead_letter(struct kumo_db_conn *c, const struct docs_job *job, const char *error)
{
    char dl[DOCS_ID_MAX + 1];
    if (kumo_id_new("dl", dl, sizeof dl) != 0)
        return KUMO_CODE_INTERNAL;
    kumo_code rc = kumo_db_exec(
        c,
        "INSERT INTO dead_letters (id, tenant_id, kind, document_id, version, payload, attempts,"
        " last_error, create_time, dead_time)"
        " SELECT ?, tenant_id, kind, document_id, version, payload, attempts, ?, create_time, ?"
        " FROM jobs WHERE id = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(dl), KUMO_DB_STRZ(error), KUMO_DB_TIME(kumo_now_us()),
                       KUMO_DB_STRZ(job->id)),
        NULL);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(c, "DELETE FROM jobs WHERE id = ?", KUMO_DB_PARAMS(KUMO_DB_STRZ(job->id)),
                          NULL);
    if (rc == KUMO_CODE_OK && strcmp(job->kind, DOCS_JOB_EXTRACT) == 0)
        rc = kumo_db_exec(c,
                          "UPDATE documents SET extraction_state = ?"
                          " WHERE tenant_id = ? AND id = ? AND current_version = ?",
                          KUMO_DB_PARAMS(KUMO_DB_I64(DOCS_EXTRACT_FAILED),
                                         KUMO_DB_STRZ(job->tenant_id),
                                         KUMO_DB_STRZ(job->document_id), KUMO_DB_I64(job->version)),
                          NULL);
    if (rc == KUMO_CODE_OK)
        kumo_metrics_counter_add("kumo_jobs_dead_letters_total", "jobs moved to dead letters", 1);
    return rc;
}

/* ---- claim ---- */

struct claim_row {
    char id[DOCS_ID_MAX + 1];
    size_t id_len;
    char tenant[DOCS_ID_MAX + 1];
    size_t tenant_len;
    char kind[DOCS_JOB_KIND_MAX + 1];
    size_t kind_len;
    char doc[DOCS_ID_MAX + 1];
    size_t doc_len;
    int64_t version, attempts;
};

/* One claim attempt inside a transaction. *found: 1 claimed, 0 none due,
 * 2 a job was dead-lettered instead (try again). */
static kumo_code claim_once(struct docs_ctx *ctx, struct kumo_db_conn *c, struct docs_job *out,
                            int *found)
{
    int64_t now = kumo_now_us();
    struct kumo_db_rows *rows = NULL;
    struct claim_row r;
    memset(&r, 0, sizeof r);
    *found = 0;
    kumo_code rc = kumo_db_query(
        c,
        "SELECT id, tenant_id, kind, document_id, version, attempts, payload FROM jobs"
        " WHERE run_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
        " ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        KUMO_DB_PARAMS(KUMO_DB_TIME(now), KUMO_DB_TIME(now)), &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    int has = 0;
    char *payload = NULL;
    rc = kumo_db_rows_next(rows, &has);
    if (rc == KUMO_CODE_OK && has) {
        rc = kumo_db_rows_scan(
            rows, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(r.id, sizeof r.id - 1, &r.id_len),
                               KUMO_DB_OUT_BUF(r.tenant, sizeof r.tenant - 1, &r.tenant_len),
                               KUMO_DB_OUT_BUF(r.kind, sizeof r.kind - 1, &r.kind_len),
                               KUMO_DB_OUT_BUF(r.doc, sizeof r.doc - 1, &r.doc_len),
                               KUMO_DB_OUT_I64(&r.version), KUMO_DB_OUT_I64(&r.attempts)));
        size_t plen = 0;
        const void *p = kumo_db_rows_bytes(rows, 6, &plen);
        if (rc == KUMO_CODE_OK && p)
            payload = kumo_strndup(p, plen);
    }
    kumo_db_rows_close(rows);
    if (rc != KUMO_CODE_OK || !has) {
        kumo_free(payload);
        return rc;
    }
    memset(out, 0, sizeof *out);
    memcpy(out->id, r.id, r.id_len);
    memcpy(out->tenant_id, r.tenant, r.tenant_len);
    memcpy(out->kind, r.kind, r.kind_len);
    memcpy(out->document_id, r.doc, r.doc_len);
    out->version = (int32_t)r.version;
    out->attempts = r.attempts + 1;
    out->payload = payload;

    /* Attempts are counted at claim time, so a job whose workers keep dying
     * (or overrunning the lease) still ends in the dead letters. */
    if (r.attempts >= ctx->s.jobs_max_attempts) {
        rc = dead_letter(c, out, "lease expired on the last attempt");
        docs__job_clear(out);
        *found = rc == KUMO_CODE_OK ? 2 : 0;
        return rc;
    }
    uint8_t raw[DOCS_JOB_LEASE_LEN / 2];
    if (kumo_secret_random_bytes(raw, sizeof raw) != 0) {
        docs__job_clear(out);
        return KUMO_CODE_INTERNAL;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out->lease + 2 * i, 3, "%02x", raw[i]);
    rc = kumo_db_exec(c,
                      "UPDATE jobs SET lease_token = ?, lease_until = ?, attempts = attempts + 1"
                      " WHERE id = ?",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(out->lease),
                                     KUMO_DB_TIME(now + ctx->s.jobs_lease_ms * 1000),
                                     KUMO_DB_STRZ(out->id)),
                      NULL);
    if (rc != KUMO_CODE_OK) {
        docs__job_clear(out);
        return rc;
    }
    *found = 1;
    return KUMO_CODE_OK;
}

kumo_code docs__job_claim(struct docs_ctx *ctx, struct docs_job *out, int *found)
{
    *found = 0;
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(ctx->db, 0, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    for (int tries = 0; tries < TX_RETRIES + 4; tries++) {
        int f = 0;
        struct docs_job j;
        memset(&j, 0, sizeof j);
        rc = kumo_db_begin(c);
        if (rc == KUMO_CODE_OK)
            rc = claim_once(ctx, c, &j, &f);
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        else
            kumo_db_rollback(c);
        if (rc != KUMO_CODE_OK) {
            if (f == 1)
                docs__job_clear(&j);
            if (rc == KUMO_CODE_ABORTED)
                continue;
            break;
        }
        if (f == 2)
            continue; /* dead-lettered a stale job: look for another */
        if (f == 1) {
            *out = j;
            *found = 1;
        }
        break;
    }
    kumo_db_release(c);
    return rc;
}

/* ---- lease check and finish ---- */

kumo_code docs__job_lease_check(struct kumo_db_conn *c, const struct docs_job *job)
{
    char lease[DOCS_JOB_LEASE_LEN + 1] = {0};
    size_t len = 0;
    int is_null = 0;
    kumo_code rc =
        kumo_db_query_row(c, "SELECT lease_token FROM jobs WHERE id = ? FOR UPDATE",
                          KUMO_DB_PARAMS(KUMO_DB_STRZ(job->id)),
                          KUMO_DB_OUTS(KUMO_DB_OUT_BUF_N(lease, sizeof lease - 1, &len, &is_null)));
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_ABORTED;
    if (rc != KUMO_CODE_OK)
        return rc;
    if (is_null || len != DOCS_JOB_LEASE_LEN || memcmp(lease, job->lease, len) != 0)
        return KUMO_CODE_ABORTED;
    return KUMO_CODE_OK;
}

kumo_code docs__job_lease_extend(struct docs_ctx *ctx, const struct docs_job *job)
{
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(ctx->db, 0, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    kumo_db_conn_set_request_id(c, job->id);
    uint64_t n = 0;
    rc = kumo_db_exec(c, "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_token = ?",
                      KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us() + ctx->s.jobs_lease_ms * 1000),
                                     KUMO_DB_STRZ(job->id), KUMO_DB_STRZ(job->lease)),
                      &n);
    kumo_db_release(c);
    if (rc == KUMO_CODE_OK && n == 0)
        rc = KUMO_CODE_ABORTED;
    return rc;
}

static kumo_code finish_tx(struct docs_ctx *ctx, struct kumo_db_conn *c, const struct docs_job *job,
                           const char *worker, int64_t start_us, int ok, const char *error,
                           const char **outcome)
{
    kumo_code rc = docs__job_lease_check(c, job);
    if (rc == KUMO_CODE_ABORTED) {
        *outcome = "lost";
        return run_record(c, job, job->attempts, worker, "lost", ok ? "lease lost" : error,
                          start_us);
    }
    if (rc != KUMO_CODE_OK)
        return rc;
    if (ok) {
        *outcome = "ok";
        rc = kumo_db_exec(c, "DELETE FROM jobs WHERE id = ?", KUMO_DB_PARAMS(KUMO_DB_STRZ(job->id)),
                          NULL);
        if (rc == KUMO_CODE_OK)
            rc = run_record(c, job, job->attempts, worker, "ok", "", start_us);
        return rc;
    }
    rc = run_record(c, job, job->attempts, worker, "error", error, start_us);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (job->attempts >= ctx->s.jobs_max_attempts) {
        *outcome = "dead";
        return dead_letter(c, job, error);
    }
    *outcome = "error";
    int64_t wait_ms = docs__job_backoff_ms(ctx->s.jobs_backoff_base_ms, ctx->s.jobs_backoff_max_ms,
                                           job->attempts);
    return kumo_db_exec(c,
                        "UPDATE jobs SET run_at = ?, lease_token = NULL, lease_until = NULL,"
                        " last_error = ? WHERE id = ?",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us() + wait_ms * 1000),
                                       KUMO_DB_STRZ(error), KUMO_DB_STRZ(job->id)),
                        NULL);
}

struct finish {
    struct docs_ctx *ctx;
    const struct docs_job *job;
    const char *worker, *error;
    int64_t start_us;
    int ok;
    const char **outcome;
};

static kumo_code finish_body(struct kumo_db_conn *c, void *arg)
{
    struct finish *f = arg;
    return finish_tx(f->ctx, c, f->job, f->worker, f->start_us, f->ok, f->error, f->outcome);
}

kumo_code docs__job_finish(struct docs_ctx *ctx, const struct docs_job *job, const char *worker,
                           int64_t start_us, int ok, const char *error, const char **outcome)
{
    struct kumo_buf err = KUMO_BUF_INIT;
    error_text(ok ? "" : error, &err);
    *outcome = "lost";
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(ctx->db, 0, &c);
    if (rc != KUMO_CODE_OK) {
        kumo_buf_free(&err);
        return rc;
    }
    kumo_db_conn_set_request_id(c, job->id);
    struct finish f = {ctx, job, worker, (const char *)err.data, start_us, ok, outcome};
    rc = kumo_db_run_tx(c, TX_RETRIES, finish_body, &f);
    kumo_db_release(c);
    kumo_buf_free(&err);
    return rc;
}

kumo_code docs_job_cleanup_queued(struct kumo_db_conn *c, const char *document_id, int64_t version,
                                  int *queued)
{
    int64_t dup = 0;
    kumo_code rc = kumo_db_query_row(
        c,
        "SELECT (SELECT COUNT(*) FROM jobs WHERE document_id = ? AND version = ? AND kind = ?)"
        " + (SELECT COUNT(*) FROM dead_letters WHERE document_id = ? AND version = ?"
        " AND kind = ? AND redrive_time IS NULL)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(document_id), KUMO_DB_I64(version),
                       KUMO_DB_STRZ(DOCS_JOB_CLEANUP_UPLOAD), KUMO_DB_STRZ(document_id),
                       KUMO_DB_I64(version), KUMO_DB_STRZ(DOCS_JOB_CLEANUP_UPLOAD)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&dup)));
    *queued = dup > 0;
    return rc;
}
