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
#include "../store/documents.h"
#include "../store/versions.h"
#include "db/call.h"
#include "../store/audit.h"
#include "../store/purge.h"
#include "runtime/log.h"

#define SWEEP_BATCH     100
#define VERSION_PENDING 1
#define DOC_DELETED     4
#define ACTOR           "documents"
#define ACTOR_ROLES     "service"

/* Runs fn(c, arg) in a transaction on a connection of its own, retrying
 * deadlocks. */
static kumo_code in_tx(struct kumo_db *db, const char *request_id, kumo_db_tx_fn fn, void *arg)
{
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(db, 0, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    kumo_db_conn_set_request_id(c, request_id);
    rc = kumo_db_run_tx(c, 3, fn, arg);
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
    rc = docs_doc_lock_current(c, job->tenant_id, job->document_id, &current);
    if (rc == KUMO_CODE_NOT_FOUND)
        have_doc = 0;
    else if (rc != KUMO_CODE_OK)
        return rc;
    char key[301], upload[201];
    int64_t status = 0;
    rc = docs_version_lock(c, job->tenant_id, job->document_id, job->version, &status, key,
                           sizeof key, upload, sizeof upload);
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK; /* gone already */
    if (rc != KUMO_CODE_OK)
        return rc;
    if (status != VERSION_PENDING)
        return KUMO_CODE_OK; /* completed meanwhile: keep it */

    if (have_doc && current == 0) {
        /* Never had content: the whole document goes (its objects are
         * queued for purge_content by docs_purge_rows). */
        return docs_purge_rows(c, job->tenant_id, job->document_id, ACTOR, job->id);
    }
    rc = docs_version_delete(c, job->tenant_id, job->document_id, job->version);
    if (rc == KUMO_CODE_OK && have_doc)
        rc = docs_doc_clear_pending(c, job->tenant_id, job->document_id, job->version);
    if (rc == KUMO_CODE_OK) {
        char *payload = purge_payload(key, upload);
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

struct queue_arg {
    const struct docs_doc_ref *t;
    int64_t before_us;
    int queued;
};

static kumo_code queue_cleanup_tx(struct kumo_db_conn *c, void *arg)
{
    struct queue_arg *q = arg;
    const struct docs_doc_ref *t = q->t;
    int64_t status = 0, created = 0;
    /* Locking the version row serializes sweepers of every process. */
    kumo_code rc = docs_version_lock_created(c, t->tenant_id, t->id, t->version, &status, &created);
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK;
    if (rc != KUMO_CODE_OK || status != VERSION_PENDING || created >= q->before_us)
        return rc;
    int dup = 0;
    rc = docs_job_cleanup_queued(c, t->id, t->version, &dup);
    if (rc != KUMO_CODE_OK || dup)
        return rc;
    rc = docs_job_enqueue(c, t->tenant_id, DOCS_JOB_CLEANUP_UPLOAD, t->id, (int32_t)t->version,
                          NULL, 0);
    if (rc == KUMO_CODE_OK)
        q->queued = 1;
    return rc;
}

struct purge_arg {
    const struct docs_doc_ref *t;
    int64_t now_us;
    int purged;
};

static kumo_code purge_doc_tx(struct kumo_db_conn *c, void *arg)
{
    struct purge_arg *p = arg;
    int64_t status = 0, purge_us = 0;
    int purge_null = 0;
    kumo_code rc =
        docs_doc_lock_purge(c, p->t->tenant_id, p->t->id, &status, &purge_us, &purge_null);
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK;
    /* Re-checked under the lock: an Undelete may have won the race. */
    if (rc != KUMO_CODE_OK || status != DOC_DELETED || purge_null || purge_us >= p->now_us)
        return rc;
    rc = docs_purge_rows(c, p->t->tenant_id, p->t->id, ACTOR, "");
    if (rc == KUMO_CODE_NOT_FOUND)
        return KUMO_CODE_OK;
    if (rc == KUMO_CODE_OK)
        p->purged = 1;
    return rc;
}

/* Lists up to SWEEP_BATCH documents to sweep with `list` on a connection
 * of its own. */
typedef kumo_code (*list_fn)(struct kumo_db_conn *c, int64_t time_us, struct docs_doc_ref *refs,
                             size_t max, size_t *n);

static kumo_code list_refs(struct kumo_db *db, list_fn list, int64_t time_us,
                           struct docs_doc_ref *t, size_t *n)
{
    *n = 0;
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(db, 0, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = list(c, time_us, t, SWEEP_BATCH, n);
    kumo_db_release(c);
    return rc;
}

static void sweep_uploads(struct docs_ctx *ctx, const volatile int *stopping,
                          struct docs_doc_ref *t)
{
    int64_t before = kumo_now_us() - ctx->s.upload_expiry_ms * 1000;
    size_t n = 0;
    kumo_code rc = list_refs(ctx->db, docs_version_list_expired, before, t, &n);
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
                     t[i].id, "error", kumo_db_last_error()->message, NULL);
    }
}

static void sweep_deleted(struct docs_ctx *ctx, const volatile int *stopping,
                          struct docs_doc_ref *t)
{
    int64_t now = kumo_now_us();
    size_t n = 0;
    kumo_code rc = list_refs(ctx->db, docs_doc_list_purgeable, now, t, &n);
    if (rc != KUMO_CODE_OK) {
        kumo_log(KUMO_LOG_WARN, NULL, "sweep: listing purgeable documents failed", "error",
                 kumo_db_last_error()->message, NULL);
        return;
    }
    for (size_t i = 0; i < n && !*stopping; i++) {
        struct purge_arg p = {&t[i], now, 0};
        rc = in_tx(ctx->db, NULL, purge_doc_tx, &p);
        if (rc != KUMO_CODE_OK)
            kumo_log(KUMO_LOG_WARN, NULL, "sweep: purge failed", "tenant_id", t[i].tenant_id,
                     "document_id", t[i].id, "error", kumo_db_last_error()->message, NULL);
        else if (p.purged)
            kumo_log(KUMO_LOG_INFO, NULL, "document purged", "tenant_id", t[i].tenant_id,
                     "document_id", t[i].id, NULL);
    }
}

void docs__jobs_sweep(struct docs_ctx *ctx, const volatile int *stopping)
{
    struct docs_doc_ref *t = kumo_calloc(SWEEP_BATCH, sizeof *t);
    sweep_uploads(ctx, stopping, t);
    if (!*stopping)
        sweep_deleted(ctx, stopping, t);
    kumo_free(t);
}
