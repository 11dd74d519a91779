/* Restore-completed events of the local backend's archive emulation: a
 * restore there is ready by the clock (restore_ready_ms), with nothing
 * happening at that moment, so this thread keeps the restores in progress
 * and, when one's time comes, checks the object is still restoring that
 * copy and journals RESTORE_COMPLETED (with the copy's expiry), as S3 sends
 * s3:ObjectRestore:Completed. Restores in progress are found again at
 * start-up by one pass over the store (the sweep reads every sidecar too);
 * one that completed while kumo-storage was down is journaled then (a
 * duplicate at worst, which kumo-documents handles as such). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "journal.h"
#include "runtime/log.h"
#include "runtime/worker.h"
#include "storage.h"

#define WATCH_MAX 100000 /* restores watched at once (more: found at the next start) */

struct watch {
    char *key;
    int64_t ready_ms;
};

struct stg_restore_watch {
    struct stg_ctx *ctx;
    struct kumo_worker *worker; /* set and read under mu */
    pthread_mutex_t mu;
    int scanned; /* the store's restores were added */
    struct watch *w;
    size_t n, cap;
};

static struct stg_restore_watch W = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Under W.mu. */
static void add_locked(const char *key, int64_t ready_ms)
{
    for (size_t i = 0; i < W.n; i++)
        if (strcmp(W.w[i].key, key) == 0) {
            W.w[i].ready_ms = ready_ms;
            return;
        }
    if (W.n >= WATCH_MAX)
        return;
    if (W.n == W.cap) {
        W.cap = W.cap ? 2 * W.cap : 64;
        W.w = kumo_realloc(W.w, W.cap * sizeof *W.w);
    }
    W.w[W.n].key = kumo_strdup(key);
    W.w[W.n].ready_ms = ready_ms;
    W.n++;
}

void stg_restore_watch_add(struct stg_ctx *ctx, const struct stg_meta *m)
{
    if (!ctx->dataport_events || m->restore_ready_ms <= 0 ||
        m->restore_ready_ms == STG_TIME_UNKNOWN)
        return;
    pthread_mutex_lock(&W.mu);
    add_locked(m->key, m->restore_ready_ms);
    kumo_worker_wake(W.worker);
    pthread_mutex_unlock(&W.mu);
}

/* Journals the completion of `key`'s restore due at ready_ms if the object
 * still has that restore, now ready. */
static void complete(struct stg_ctx *ctx, const char *key, int64_t ready_ms)
{
    struct stg_meta m;
    if (stg_object_stat(ctx->store, key, &m) != STG_OK)
        return;
    int64_t now = stg_now_ms();
    if (m.restore_ready_ms == ready_ms && stg_meta_restore_state(&m, now) == STG_RESTORE_RESTORED) {
        struct stg_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = STG_EV_RESTORE_COMPLETED;
        ev.size = m.size;
        ev.time_ms = m.restore_ready_ms;
        ev.expire_ms = m.restore_expire_ms;
        snprintf(ev.etag, sizeof ev.etag, "%s", m.etag);
        memcpy(ev.sha256, m.sha256, 32);
        ev.has_sha256 = 1;
        snprintf(ev.key, sizeof ev.key, "%s", key);
        if (stg_journal_append(ctx->journal, &ev) != 0) {
            stg_meta_clear(&m);
            pthread_mutex_lock(&W.mu);
            add_locked(key, ready_ms); /* try again */
            pthread_mutex_unlock(&W.mu);
            return;
        }
    }
    stg_meta_clear(&m);
}

/* The restores in progress (and those ready since the last run) in the
 * store. */
static void rescan(struct stg_ctx *ctx)
{
    struct stg_list_entry *e;
    size_t n;
    if (stg_object_list(ctx->store, "t/", &e, &n) != STG_OK)
        return;
    int64_t now = stg_now_ms();
    for (size_t i = 0; i < n; i++) {
        if (e[i].storage_class != STG_CLASS_GLACIER && e[i].storage_class != STG_CLASS_DEEP_ARCHIVE)
            continue;
        struct stg_meta m;
        if (stg_object_stat(ctx->store, e[i].key, &m) != STG_OK)
            continue;
        if (m.restore_ready_ms > 0 && m.restore_expire_ms > now)
            stg_restore_watch_add(ctx, &m);
        stg_meta_clear(&m);
    }
    stg_list_free(e, n);
}

/* One round: the first completes the restore due soonest if it is due;
 * asks to sleep until the next is due (a minute at most). */
static int64_t watcher(void *arg)
{
    struct stg_ctx *ctx = arg;
    if (!W.scanned) {
        rescan(ctx);
        W.scanned = 1;
    }
    pthread_mutex_lock(&W.mu);
    int64_t now = stg_now_ms(), next = INT64_MAX;
    size_t due = W.n;
    for (size_t i = 0; i < W.n; i++) {
        if (W.w[i].ready_ms <= now) {
            due = i;
            break;
        }
        if (W.w[i].ready_ms < next)
            next = W.w[i].ready_ms;
    }
    if (due < W.n) {
        struct watch w = W.w[due];
        W.w[due] = W.w[--W.n];
        pthread_mutex_unlock(&W.mu);
        complete(ctx, w.key, w.ready_ms);
        kumo_free(w.key);
        return 0;
    }
    pthread_mutex_unlock(&W.mu);
    int64_t wait_ms = next == INT64_MAX ? 60000 : next - now + 1;
    return wait_ms > 60000 ? 60000 : wait_ms;
}

int stg_restore_watch_start(struct stg_ctx *ctx)
{
    if (!ctx->dataport_events || ctx->store == NULL)
        return 0;
    W.ctx = ctx;
    W.scanned = 0;
    struct kumo_worker *w = kumo_worker_start(watcher, ctx);
    if (w == NULL) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the restore watcher", NULL);
        return -1;
    }
    pthread_mutex_lock(&W.mu);
    W.worker = w;
    pthread_mutex_unlock(&W.mu);
    return 0;
}

void stg_restore_watch_stop(void)
{
    pthread_mutex_lock(&W.mu);
    struct kumo_worker *w = W.worker;
    W.worker = NULL;
    pthread_mutex_unlock(&W.mu);
    if (w == NULL)
        return;
    kumo_worker_stop(w);
    for (size_t i = 0; i < W.n; i++)
        kumo_free(W.w[i].key);
    kumo_free(W.w);
    W.w = NULL;
    W.n = W.cap = 0;
}
