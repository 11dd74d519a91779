/* The job threads: KUMO_JOBS_WORKERS workers claiming and running jobs,
 * one sweeper queueing periodic work, and one heartbeat extending the
 * lease of every job running here every third of KUMO_JOBS_LEASE (so the
 * lease can be short: a job whose worker was killed runs again once its
 * lease runs out, while a long job keeps its lease however long it runs). Idle threads wait on a
 * condition variable (poll interval / sweep interval) so docs_jobs_stop
 * wakes them at once; a running job's transfer watches the same flag. */
#include <curl/curl.h>
#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/ids.h"
#include "base/trace.h"
#include "jobs.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "base/secret.h"

struct worker {
    pthread_t thread;
    int index;
    char name[DOCS_JOB_WORKER_MAX];
    const struct docs_job *running; /* J.mu: the job it runs, or NULL */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    volatile int stopping;
    int started;
    struct docs_ctx *ctx;
    struct worker *workers;
    size_t n_workers;
    pthread_t sweeper;
    int sweeper_started;
    pthread_t heartbeat;
    int heartbeat_started;
} J = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Waits up to `ms` or until stop. Returns 1 when stopping. */
static int wait_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&J.mu);
    while (!J.stopping) {
        if (pthread_cond_timedwait(&J.cond, &J.mu, &ts) != 0)
            break;
    }
    int s = J.stopping;
    pthread_mutex_unlock(&J.mu);
    return s;
}

static kumo_code run_body(struct docs_job_env *env, const struct docs_job *job,
                          struct kumo_buf *err)
{
    if (strcmp(job->kind, DOCS_JOB_EXTRACT) == 0)
        return docs__job_extract(env, job, err);
    if (strcmp(job->kind, DOCS_JOB_PURGE_CONTENT) == 0)
        return docs__job_purge_content(env, job, err);
    if (strcmp(job->kind, DOCS_JOB_CLEANUP_UPLOAD) == 0)
        return docs__job_cleanup_upload(env, job, err);
    kumo_buf_appendf(err, "unknown job kind");
    return KUMO_CODE_INTERNAL;
}

/* kind and outcome are the code's own constants (bounded label values). */
static void count(const char *kind, const char *outcome, double secs)
{
    const char *labels[] = {"kind", kind, "outcome", outcome, NULL};
    kumo_metrics_counter_addl("kumo_jobs_total", "Background job runs, by kind and outcome.",
                              labels, 1);
    const char *kind_only[] = {"kind", kind, NULL};
    kumo_metrics_observe("kumo_job_duration_seconds", "Background job run time, by kind.",
                         kind_only, secs);
}

/* Backlog gauges for the alerts (dead letters waiting): every replica
 * reports the whole table, so rules take max(), not sum(). */
static void sample_backlog(struct docs_ctx *ctx)
{
    struct kumo_db_conn *c;
    int64_t queued = 0, dead = 0;
    if (kumo_db_acquire(ctx->db, 0, &c) != KUMO_CODE_OK)
        return;
    kumo_code rc =
        kumo_db_query_row(c,
                          "SELECT (SELECT COUNT(*) FROM jobs),"
                          " (SELECT COUNT(*) FROM dead_letters WHERE redrive_time IS NULL)",
                          NULL, 0, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&queued), KUMO_DB_OUT_I64(&dead)));
    kumo_db_release(c);
    if (rc != KUMO_CODE_OK)
        return;
    kumo_metrics_gauge_set("kumo_jobs_queued", "Background jobs queued or running.", queued);
    kumo_metrics_gauge_set("kumo_jobs_dead_letters", "Dead letters waiting for a re-drive.", dead);
}

static void run_job(struct docs_job_env *env, struct docs_job *job)
{
    /* A job is a unit of work no request carries: its own trace, so its
     * log lines and storage calls can be followed like a request's. */
    struct kumo_trace span;
    kumo_trace_start(&span, NULL);
    const struct kumo_trace *prev = kumo_trace_set_current(&span);
    int64_t span_start = kumo_now_ns();
    int64_t start = kumo_now_us();
    struct kumo_buf err = KUMO_BUF_INIT;
    kumo_code rc = run_body(env, job, &err);
    if (rc != KUMO_CODE_OK && err.len == 0)
        kumo_buf_append_str(&err, kumo_code_name(rc));
    const char *outcome = "lost";
    const char *etext = rc == KUMO_CODE_OK ? "" : (const char *)err.data;
    /* A body that found its lease lost failed; finish sees the lease gone
     * too and records 'lost'. */
    kumo_code frc =
        docs__job_finish(env->ctx, job, env->worker, start, rc == KUMO_CODE_OK, etext, &outcome);
    char attempt[24];
    snprintf(attempt, sizeof attempt, "%lld", (long long)job->attempts);
    if (frc != KUMO_CODE_OK) {
        /* The lease will expire and another worker will take the job. */
        kumo_log(KUMO_LOG_WARN, job->id, "job outcome not recorded", "job_id", job->id, "kind",
                 job->kind, "attempt", attempt, "error", kumo_db_last_error()->message, NULL);
        outcome = "unrecorded";
    } else {
        kumo_log(rc == KUMO_CODE_OK ? KUMO_LOG_INFO : KUMO_LOG_WARN, job->id, "job", "job_id",
                 job->id, "kind", job->kind, "tenant_id", job->tenant_id, "document_id",
                 job->document_id, "attempt", attempt, "outcome", outcome, "worker", env->worker,
                 "error", rc == KUMO_CODE_OK ? NULL : etext, NULL);
    }
    count(job->kind, outcome, (double)(kumo_now_us() - start) / 1e6);
    char span_name[64];
    snprintf(span_name, sizeof span_name, "job %s", job->kind);
    struct kumo_span_end span_end = {&span,   "internal", span_name,
                                     outcome, span_start, kumo_now_ns()};
    kumo_trace_end(&span_end);
    kumo_buf_free(&err);
    kumo_trace_set_current(prev);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct docs_job_env env = {
        .ctx = J.ctx, .index = w->index, .worker = w->name, .stopping = &J.stopping};
    magic_t m = magic_open(MAGIC_MIME_TYPE);
    if (m && magic_load(m, NULL) != 0) {
        kumo_log(KUMO_LOG_WARN, NULL, "libmagic database not loaded", "error", magic_error(m),
                 NULL);
        magic_close(m);
        m = NULL;
    }
    env.magic = m;
    int backoff_ms = 0;
    while (!J.stopping) {
        struct docs_job job;
        int found = 0;
        memset(&job, 0, sizeof job);
        kumo_code rc = docs__job_claim(J.ctx, &job, &found);
        if (rc != KUMO_CODE_OK) {
            /* Database trouble: back off up to the poll interval. */
            kumo_log(KUMO_LOG_WARN, NULL, "job claim failed", "error",
                     kumo_db_last_error()->message, NULL);
            backoff_ms = backoff_ms ? backoff_ms * 2 : 100;
            if (backoff_ms > J.ctx->s.jobs_poll_ms)
                backoff_ms = (int)J.ctx->s.jobs_poll_ms;
            wait_ms(backoff_ms);
            continue;
        }
        backoff_ms = 0;
        if (!found) {
            wait_ms(J.ctx->s.jobs_poll_ms);
            continue;
        }
        pthread_mutex_lock(&J.mu);
        w->running = &job;
        pthread_mutex_unlock(&J.mu);
        run_job(&env, &job);
        pthread_mutex_lock(&J.mu);
        w->running = NULL;
        pthread_mutex_unlock(&J.mu);
        docs__job_clear(&job);
    }
    if (m)
        magic_close(m);
    return NULL;
}

static void *sweeper_main(void *arg)
{
    (void)arg;
    /* A first sweep soon after start, then every interval. */
    if (wait_ms(J.ctx->s.jobs_poll_ms))
        return NULL;
    do {
        docs__jobs_sweep(J.ctx, &J.stopping);
        sample_backlog(J.ctx);
    } while (!wait_ms(J.ctx->s.jobs_sweep_ms));
    return NULL;
}

/* Extends the lease of each job running on a worker, every third of the
 * lease. The extension is conditional on the lease token (store/jobs.c),
 * so one that races with the job's end changes nothing. */
static void *heartbeat_main(void *arg)
{
    (void)arg;
    int64_t every = J.ctx->s.jobs_lease_ms / 3;
    while (!wait_ms(every > 0 ? every : 1)) {
        for (size_t i = 0; i < J.n_workers; i++) {
            struct docs_job j;
            int have = 0;
            pthread_mutex_lock(&J.mu);
            if (J.workers[i].running) {
                memset(&j, 0, sizeof j);
                memcpy(j.id, J.workers[i].running->id, sizeof j.id);
                memcpy(j.lease, J.workers[i].running->lease, sizeof j.lease);
                have = 1;
            }
            pthread_mutex_unlock(&J.mu);
            if (have && docs__job_lease_extend(J.ctx, &j) == KUMO_CODE_ABORTED)
                kumo_log(KUMO_LOG_WARN, j.id, "job lease lost while running", "job_id", j.id, NULL);
        }
    }
    return NULL;
}

static void join_all(void)
{
    for (size_t i = 0; i < J.n_workers; i++)
        pthread_join(J.workers[i].thread, NULL);
    if (J.sweeper_started)
        pthread_join(J.sweeper, NULL);
    if (J.heartbeat_started)
        pthread_join(J.heartbeat, NULL);
    J.heartbeat_started = 0;
    kumo_free(J.workers);
    J.workers = NULL;
    J.n_workers = 0;
    J.sweeper_started = 0;
}

/* Every kind x outcome series exists from the start at zero: a counter
 * born at 1 shows no increase, and the failing-jobs alert would miss the
 * first failures after a restart. */
static void init_series(void)
{
    static const char *const kinds[] = {DOCS_JOB_EXTRACT, DOCS_JOB_PURGE_CONTENT,
                                        DOCS_JOB_CLEANUP_UPLOAD};
    static const char *const outcomes[] = {"ok", "error", "dead", "lost", "unrecorded"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t o = 0; o < sizeof outcomes / sizeof outcomes[0]; o++)
            kumo_metrics_counter_addl(
                "kumo_jobs_total", "Background job runs, by kind and outcome.",
                (const char *[]){"kind", kinds[k], "outcome", outcomes[o], NULL}, 0);
    kumo_metrics_counter_add("kumo_jobs_dead_letters_total", "jobs moved to dead letters", 0);
}

int docs_jobs_start(struct docs_ctx *ctx)
{
    if (J.started)
        return 0;
    init_series();
    if (ctx->s.jobs_workers <= 0) {
        kumo_log(KUMO_LOG_INFO, NULL, "background jobs not run here", "reason",
                 "KUMO_JOBS_WORKERS is 0", NULL);
        return 0;
    }
    if (!ctx->service_api_key || !ctx->service_api_key[0] || !ctx->exchange || !ctx->storage) {
        kumo_log(KUMO_LOG_WARN, NULL, "background jobs not run here", "reason",
                 "no service API key (KUMO_SERVICE_API_KEY_FILE)", NULL);
        return 0;
    }
    /* Before any thread exists: curl_global_init is not thread-safe
     * everywhere. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&J.cond, &ca);
    pthread_condattr_destroy(&ca);
    J.ctx = ctx;
    J.stopping = 0;
    J.started = 1;
    char host[64] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    J.workers = kumo_calloc((size_t)ctx->s.jobs_workers, sizeof *J.workers);
    for (int64_t i = 0; i < ctx->s.jobs_workers; i++) {
        struct worker *w = &J.workers[i];
        w->index = (int)i;
        snprintf(w->name, sizeof w->name, "%s:%ld:%d", host, (long)getpid(), (int)i);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            kumo_log(KUMO_LOG_ERROR, NULL, "cannot start job worker thread", NULL);
            docs_jobs_stop();
            return -1;
        }
        J.n_workers++;
    }
    if (pthread_create(&J.sweeper, NULL, sweeper_main, NULL) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start job sweeper thread", NULL);
        docs_jobs_stop();
        return -1;
    }
    J.sweeper_started = 1;
    if (pthread_create(&J.heartbeat, NULL, heartbeat_main, NULL) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start job heartbeat thread", NULL);
        docs_jobs_stop();
        return -1;
    }
    J.heartbeat_started = 1;
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)ctx->s.jobs_workers);
    kumo_log(KUMO_LOG_INFO, NULL, "background jobs started", "workers", n, NULL);
    return 0;
}

void docs_jobs_stop(void)
{
    if (!J.started)
        return;
    pthread_mutex_lock(&J.mu);
    J.stopping = 1;
    pthread_cond_broadcast(&J.cond);
    pthread_mutex_unlock(&J.mu);
    join_all();
    pthread_cond_destroy(&J.cond);
    J.started = 0;
}
