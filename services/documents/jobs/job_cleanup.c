/* Expired uploads and the sweeper.
 *
 * cleanup_upload (document_id, version): a version still PENDING_UPLOAD
 * after KUMO_UPLOAD_EXPIRY. In one transaction (lease checked, rows locked,
 * still pending): a document that never had a completed version is purged
 * whole (docs_purge_rows); otherwise the version row is deleted and the
 * document's pending_version reset. The object / multipart upload is then
 * removed by a purge_content job queued in that same transaction, so the
 * bytes go only once the rows are gone for sure (a CompleteUpload racing
 * with the cleanup either wins, leaving the version alone, or finds no
 * version).
 *
 * The sweeper, every KUMO_JOBS_SWEEP_INTERVAL: queues one cleanup_upload
 * per expired pending version (none while one is queued or dead-lettered
 * and not re-driven), and purges soft-deleted documents past purge_time
 * (one transaction per document, docs_purge_rows, actor "documents"). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/ids.h"
#include "jobs.h"
#include "../store/audit.h"
#include "../store/purge.h"
#include "runtime/log.h"

#define SWEEP_BATCH     100
#define VERSION_PENDING 1
#define DOC_DELETED     4
#define ACTOR           "documents"
#define ACTOR_ROLES     "service"

/* Runs fn(c, arg) in a transaction, retrying deadlocks. */
typedef kumo_code (*tx_fn)(struct kumo_db_conn *c, void *arg);

static kumo_code in_tx(struct kumo_db *db, const char *request_id, tx_fn fn, void *arg)
{
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(db, 0, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    kumo_db_conn_set_request_id(c, request_id);
    for (int tries = 0; tries < 3; tries++) {
        rc = kumo_db_begin(c);
        if (rc == KUMO_CODE_OK)
            rc = fn(c, arg);
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        else
            kumo_db_rollback(c);
        if (rc != KUMO_CODE_ABORTED)
            break;
    }
    kumo_db_release(c);
    return rc;
}

/* ---- the cleanup_upload job ---- */

struct cleanup {
    const struct docs_job *job;
    int lost;
};

static char *purge_payload(const char *key, const char *upload_id)
{
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(key));
    if (upload_id && upload_id[0])
        json_object_set_new(o, "upload_id", json_string(upload_id));
    json_t *arr = json_array();
    json_array_append_new(arr, o);
    json_t *root = json_object();
    json_object_set_new(root, "objects", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static kumo_code cleanup_tx(struct kumo_db_conn *c, void *arg)
{
    struct cleanup *cl = arg;
    const struct docs_job *job = cl->job;
    kumo_code rc = docs__job_lease_check(c, job);
    if (rc == KUMO_CODE_ABORTED)
        cl->lost = 1;
    if (rc != KUMO_CODE_OK)
        return rc;
    /* The document row first, then the version: the order the upload
     * handlers lock them in. */
    int64_t current = 0;
    int have_doc = 1;
    rc = kumo_db_query_row(
        c, "SELECT current_version FROM documents WHERE tenant_id = ? AND id = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(job->tenant_id), KUMO_DB_STRZ(job->document_id)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&current)));
    if (rc == KUMO_CODE_NOT_FOUND)
        have_doc = 0;
    else if (rc != KUMO_CODE_OK)
        return rc;
    char key[301] = {0}, upload[201] = {0};
    size_t key_len = 0, upload_len = 0;
    int upload_null = 0;
    int64_t status = 0;
    rc = kumo_db_query_row(
        c,
        "SELECT status, object_key, upload_id FROM document_versions"
        " WHERE tenant_id = ? AND document_id = ? AND version = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(job->tenant_id), KUMO_DB_STRZ(job->document_id),
                       KUMO_DB_I64(job->version)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&status), KUMO_DB_OUT_BUF(key, sizeof key - 1, &key_len),
                     (struct kumo_db_out){.type = KUMO_DB_T_BYTES,
                                          .buf = upload,
                                          .cap = sizeof upload - 1,
                                          .len = &upload_len,
                                          .is_null = &upload_null}));
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK; /* gone already */
    if (rc != KUMO_CODE_OK)
        return rc;
    if (status != VERSION_PENDING)
        return KUMO_CODE_OK; /* completed meanwhile: keep it */
    key[key_len] = '\0';
    upload[upload_len] = '\0';

    if (have_doc && current == 0) {
        /* Never had content: the whole document goes (its objects are
         * queued for purge_content by docs_purge_rows). */
        return docs_purge_rows(c, job->tenant_id, job->document_id, ACTOR, job->id);
    }
    rc = kumo_db_exec(c,
                      "DELETE FROM document_versions"
                      " WHERE tenant_id = ? AND document_id = ? AND version = ?",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(job->tenant_id), KUMO_DB_STRZ(job->document_id),
                                     KUMO_DB_I64(job->version)),
                      NULL);
    if (rc == KUMO_CODE_OK && have_doc)
        rc = kumo_db_exec(c,
                          "UPDATE documents SET pending_version = 0"
                          " WHERE tenant_id = ? AND id = ? AND pending_version = ?",
                          KUMO_DB_PARAMS(KUMO_DB_STRZ(job->tenant_id),
                                         KUMO_DB_STRZ(job->document_id), KUMO_DB_I64(job->version)),
                          NULL);
    if (rc == KUMO_CODE_OK) {
        char *payload = purge_payload(key, upload_null ? NULL : upload);
        rc = docs_job_enqueue(c, job->tenant_id, DOCS_JOB_PURGE_CONTENT, job->document_id,
                              job->version, payload, 0);
        free(payload); /* jansson's allocator */
    }
    if (rc == KUMO_CODE_OK && have_doc)
        rc = docs_audit(c, job->tenant_id, ACTOR, ACTOR_ROLES, "document.upload_expire",
                        job->document_id, job->version, job->id, NULL);
    return rc;
}

kumo_code docs__job_cleanup_upload(struct docs_job_env *env, const struct docs_job *job,
                                   struct kumo_buf *err)
{
    struct cleanup cl = {job, 0};
    kumo_code rc = in_tx(env->ctx->db, job->id, cleanup_tx, &cl);
    if (cl.lost)
        kumo_buf_appendf(err, "lease lost");
    else if (rc != KUMO_CODE_OK)
        kumo_buf_appendf(err, "database: %s", kumo_db_last_error()->message);
    return rc;
}

/* ---- the sweeper ---- */

struct target {
    char tenant[DOCS_ID_MAX + 1];
    char doc[DOCS_ID_MAX + 1];
    int64_t version;
};

/* Reads up to SWEEP_BATCH (tenant, document, version) rows of `sql`
 * (one TIME parameter) into t[]. */
static kumo_code select_targets(struct kumo_db *db, const char *sql, int64_t before_us,
                                int with_version, struct target *t, size_t *n)
{
    *n = 0;
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(db, 0, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_db_rows *rows = NULL;
    rc = kumo_db_query(c, sql, KUMO_DB_PARAMS(KUMO_DB_TIME(before_us)), &rows);
    int has = 0;
    while (rc == KUMO_CODE_OK && *n < SWEEP_BATCH &&
           (rc = kumo_db_rows_next(rows, &has)) == KUMO_CODE_OK && has) {
        struct target *x = &t[*n];
        size_t tl = 0, dl = 0;
        memset(x, 0, sizeof *x);
        if (with_version)
            rc = kumo_db_rows_scan(
                rows, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(x->tenant, sizeof x->tenant - 1, &tl),
                                   KUMO_DB_OUT_BUF(x->doc, sizeof x->doc - 1, &dl),
                                   KUMO_DB_OUT_I64(&x->version)));
        else
            rc = kumo_db_rows_scan(
                rows, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(x->tenant, sizeof x->tenant - 1, &tl),
                                   KUMO_DB_OUT_BUF(x->doc, sizeof x->doc - 1, &dl)));
        if (rc == KUMO_CODE_OK)
            (*n)++;
    }
    kumo_db_rows_close(rows);
    kumo_db_release(c);
    return rc;
}

struct queue_arg {
    const struct target *t;
    int64_t before_us;
    int queued;
};

static kumo_code queue_cleanup_tx(struct kumo_db_conn *c, void *arg)
{
    struct queue_arg *q = arg;
    const struct target *t = q->t;
    int64_t status = 0, created = 0;
    /* Locking the version row serializes sweepers of every process. */
    kumo_code rc = kumo_db_query_row(
        c,
        "SELECT status, create_time FROM document_versions"
        " WHERE tenant_id = ? AND document_id = ? AND version = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(t->tenant), KUMO_DB_STRZ(t->doc), KUMO_DB_I64(t->version)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&status), KUMO_DB_OUT_TIME(&created)));
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK;
    if (rc != KUMO_CODE_OK || status != VERSION_PENDING || created >= q->before_us)
        return rc;
    int64_t dup = 0;
    rc = kumo_db_query_row(
        c,
        "SELECT (SELECT COUNT(*) FROM jobs WHERE document_id = ? AND version = ? AND kind = ?)"
        " + (SELECT COUNT(*) FROM dead_letters WHERE document_id = ? AND version = ?"
        " AND kind = ? AND redrive_time IS NULL)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(t->doc), KUMO_DB_I64(t->version),
                       KUMO_DB_STRZ(DOCS_JOB_CLEANUP_UPLOAD), KUMO_DB_STRZ(t->doc),
                       KUMO_DB_I64(t->version), KUMO_DB_STRZ(DOCS_JOB_CLEANUP_UPLOAD)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&dup)));
    if (rc != KUMO_CODE_OK || dup > 0)
        return rc;
    rc = docs_job_enqueue(c, t->tenant, DOCS_JOB_CLEANUP_UPLOAD, t->doc, (int32_t)t->version, NULL,
                          0);
    if (rc == KUMO_CODE_OK)
        q->queued = 1;
    return rc;
}

struct purge_arg {
    const struct target *t;
    int64_t now_us;
    int purged;
};

static kumo_code purge_doc_tx(struct kumo_db_conn *c, void *arg)
{
    struct purge_arg *p = arg;
    int64_t status = 0, purge_us = 0;
    int purge_null = 0;
    kumo_code rc = kumo_db_query_row(
        c, "SELECT status, purge_time FROM documents WHERE tenant_id = ? AND id = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(p->t->tenant), KUMO_DB_STRZ(p->t->doc)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&status), (struct kumo_db_out){.type = KUMO_DB_T_TIME,
                                                                    .i64 = &purge_us,
                                                                    .is_null = &purge_null}));
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK;
    /* Re-checked under the lock: an Undelete may have won the race. */
    if (rc != KUMO_CODE_OK || status != DOC_DELETED || purge_null || purge_us >= p->now_us)
        return rc;
    rc = docs_purge_rows(c, p->t->tenant, p->t->doc, ACTOR, "");
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK;
    if (rc == KUMO_CODE_OK)
        p->purged = 1;
    return rc;
}

static void sweep_uploads(struct docs_ctx *ctx, const volatile int *stopping, struct target *t)
{
    int64_t before = kumo_now_us() - ctx->s.upload_expiry_ms * 1000;
    size_t n = 0;
    kumo_code rc = select_targets(ctx->db,
                                  "SELECT tenant_id, document_id, version FROM document_versions"
                                  " WHERE status = 1 AND create_time < ?"
                                  " ORDER BY create_time LIMIT 100",
                                  before, 1, t, &n);
    if (rc != KUMO_CODE_OK) {
        kumo_log(KUMO_LOG_WARN, NULL, "sweep: listing expired uploads failed", "error",
                 kumo_db_last_error()->message, NULL);
        return;
    }
    for (size_t i = 0; i < n && !*stopping; i++) {
        struct queue_arg q = {&t[i], before, 0};
        rc = in_tx(ctx->db, NULL, queue_cleanup_tx, &q);
        if (rc != KUMO_CODE_OK)
            kumo_log(KUMO_LOG_WARN, NULL, "sweep: queueing an upload cleanup failed", "document_id",
                     t[i].doc, "error", kumo_db_last_error()->message, NULL);
    }
}

static void sweep_deleted(struct docs_ctx *ctx, const volatile int *stopping, struct target *t)
{
    int64_t now = kumo_now_us();
    size_t n = 0;
    kumo_code rc = select_targets(ctx->db,
                                  "SELECT tenant_id, id FROM documents"
                                  " WHERE status = 4 AND purge_time < ?"
                                  " ORDER BY purge_time LIMIT 100",
                                  now, 0, t, &n);
    if (rc != KUMO_CODE_OK) {
        kumo_log(KUMO_LOG_WARN, NULL, "sweep: listing purgeable documents failed", "error",
                 kumo_db_last_error()->message, NULL);
        return;
    }
    for (size_t i = 0; i < n && !*stopping; i++) {
        struct purge_arg p = {&t[i], now, 0};
        rc = in_tx(ctx->db, NULL, purge_doc_tx, &p);
        if (rc != KUMO_CODE_OK)
            kumo_log(KUMO_LOG_WARN, NULL, "sweep: purge failed", "tenant_id", t[i].tenant,
                     "document_id", t[i].doc, "error", kumo_db_last_error()->message, NULL);
        else if (p.purged)
            kumo_log(KUMO_LOG_INFO, NULL, "document purged", "tenant_id", t[i].tenant,
                     "document_id", t[i].doc, NULL);
    }
}

void docs__jobs_sweep(struct docs_ctx *ctx, const volatile int *stopping)
{
    struct target *t = kumo_calloc(SWEEP_BATCH, sizeof *t);
    sweep_uploads(ctx, stopping, t);
    if (!*stopping)
        sweep_deleted(ctx, stopping, t);
    kumo_free(t);
}
