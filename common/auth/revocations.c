/* Token revocations; see revocations.h. The set is small (the revocations
 * of one token lifetime), read on every authenticated call and written a
 * few times a day: an array in sequence order (the feed) indexed by an
 * open-addressing table over (tid, sub), rebuilt whole when it grows or
 * entries expire. */
#include "auth/revocations.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "runtime/config.h"
#include "base/errors.h"
#include "http/http_get.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

struct ent {
    int64_t seq, not_before, created, expire;
    uint64_t hash;
    char tid[KUMO_REVOCATION_ID_MAX + 1];
    char sub[KUMO_REVOCATION_ID_MAX + 1];
};

struct kumo_revocations {
    pthread_rwlock_t lk;
    atomic_size_t live; /* entries held: 0 lets readers skip the lock */
    int64_t keep_s;
    int64_t cursor;
    struct ent *ents; /* ents[first..n) are live, in seq order */
    size_t first, n, cap;
    uint32_t *slots; /* index + 1 into ents, 0 = empty; a power of two */
    size_t n_slots;
};

static uint64_t hash_ids(const char *tid, const char *sub)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: the ids are not attacker-chosen */
    for (const char *p = tid; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = sub; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h;
}

int kumo_revocations_new(struct kumo_revocations **out, int64_t keep_s)
{
    if (!out || keep_s < 1)
        return KUMO_ERR_INVALID;
    struct kumo_revocations *r = kumo_calloc(1, sizeof *r);
    pthread_rwlock_init(&r->lk, NULL);
    atomic_init(&r->live, 0);
    r->keep_s = keep_s;
    *out = r;
    return 0;
}

void kumo_revocations_free(struct kumo_revocations *r)
{
    if (!r)
        return;
    pthread_rwlock_destroy(&r->lk);
    kumo_free(r->ents);
    kumo_free(r->slots);
    kumo_free(r);
}

/* Rebuilds the table over ents[first..n). Under the write lock. */
static void reindex(struct kumo_revocations *r)
{
    size_t live = r->n - r->first, want = 16;
    while (want < live * 2 + 16)
        want <<= 1;
    kumo_free(r->slots);
    r->slots = kumo_calloc(want, sizeof *r->slots);
    r->n_slots = want;
    for (size_t i = r->first; i < r->n; i++) {
        size_t s = (size_t)r->ents[i].hash & (want - 1);
        while (r->slots[s])
            s = (s + 1) & (want - 1);
        r->slots[s] = (uint32_t)(i + 1);
    }
}

/* Drops expired entries from the front; compacts. Returns 1 if any went. */
static int prune(struct kumo_revocations *r, int64_t now_s)
{
    size_t f = r->first;
    while (f < r->n && r->ents[f].expire < now_s)
        f++;
    if (f == r->first)
        return 0;
    memmove(r->ents, r->ents + f, (r->n - f) * sizeof *r->ents);
    r->n -= f;
    r->first = 0;
    return 1;
}

/* Printable ASCII without '"' and '\\' (the feed writes ids unescaped). */
static int id_chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
            return 0;
    return n > 0 && n <= KUMO_REVOCATION_ID_MAX;
}

/* Index of the first live entry with seq >= `seq`. */
static size_t lower_bound(const struct kumo_revocations *r, int64_t seq)
{
    size_t lo = r->first, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->ents[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int kumo_revocations_add(struct kumo_revocations *r, int64_t seq, const char *tid, const char *sub,
                         int64_t not_before, int64_t created, int64_t now_s)
{
    size_t tl = tid ? strlen(tid) : 0, sl = sub ? strlen(sub) : 0;
    if (!r || seq <= 0 || !id_chars_ok(tid ? tid : "", tl) || !id_chars_ok(sub ? sub : "", sl))
        return KUMO_ERR_INVALID;
    pthread_rwlock_wrlock(&r->lk);
    int changed = prune(r, now_s), added = 0;
    size_t at = lower_bound(r, seq);
    if (not_before + r->keep_s >= now_s && (at == r->n || r->ents[at].seq != seq)) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 64;
            r->ents = kumo_realloc(r->ents, r->cap * sizeof *r->ents);
        }
        memmove(r->ents + at + 1, r->ents + at, (r->n - at) * sizeof *r->ents);
        r->n++;
        struct ent *e = &r->ents[at];
        e->seq = seq;
        e->not_before = not_before;
        e->created = created;
        e->expire = not_before + r->keep_s;
        memcpy(e->tid, tid, tl + 1);
        memcpy(e->sub, sub, sl + 1);
        e->hash = hash_ids(tid, sub);
        added = changed = 1;
    }
    if (seq > r->cursor)
        r->cursor = seq;
    if (changed) {
        reindex(r);
        atomic_store(&r->live, r->n - r->first);
    }
    pthread_rwlock_unlock(&r->lk);
    return added;
}

int kumo_revocations_revoked(struct kumo_revocations *r, const char *tid, const char *sub,
                             int64_t iat)
{
    if (!r || atomic_load_explicit(&r->live, memory_order_acquire) == 0)
        return 0;
    uint64_t h = hash_ids(tid, sub);
    int revoked = 0;
    pthread_rwlock_rdlock(&r->lk);
    for (size_t s = (size_t)h & (r->n_slots - 1); r->slots[s] && !revoked;
         s = (s + 1) & (r->n_slots - 1)) {
        const struct ent *e = &r->ents[r->slots[s] - 1];
        revoked = e->hash == h && iat <= e->not_before && strcmp(e->sub, sub) == 0 &&
                  strcmp(e->tid, tid) == 0;
    }
    pthread_rwlock_unlock(&r->lk);
    return revoked;
}

int64_t kumo_revocations_cursor(struct kumo_revocations *r)
{
    pthread_rwlock_rdlock(&r->lk);
    int64_t c = r->cursor;
    pthread_rwlock_unlock(&r->lk);
    return c;
}

size_t kumo_revocations_count(struct kumo_revocations *r)
{
    return r ? atomic_load(&r->live) : 0;
}

void kumo_revocations_feed_json(struct kumo_revocations *r, int64_t after, int64_t recent_s,
                                struct kumo_buf *out)
{
    pthread_rwlock_rdlock(&r->lk);
    struct kumo_buf items = KUMO_BUF_INIT;
    size_t count = 0;
    int more = 0;
    int64_t last = 0;
    for (size_t i = r->first; i < r->n; i++) {
        const struct ent *e = &r->ents[i];
        if (e->seq <= after && e->created < recent_s)
            continue;
        if (count == KUMO_REVOCATIONS_PAGE) {
            more = 1;
            break;
        }
        /* Ids were checked on the way in (id_chars_ok): no escaping needed. */
        kumo_buf_appendf(&items,
                         "%s{\"seq\":%lld,\"tenant_id\":\"%s\",\"subject\":\"%s\","
                         "\"not_before\":%lld,\"created\":%lld}",
                         count ? "," : "", (long long)e->seq, e->tid, e->sub,
                         (long long)e->not_before, (long long)e->created);
        last = e->seq;
        count++;
    }
    int64_t cursor = more ? last : (after > r->cursor ? after : r->cursor);
    kumo_buf_appendf(out, "{\"cursor\":%lld,\"more\":%s,\"revocations\":[", (long long)cursor,
                     more ? "true" : "false");
    if (items.len)
        kumo_buf_append(out, items.data, items.len);
    kumo_buf_append_str(out, "]}");
    kumo_buf_free(&items);
    pthread_rwlock_unlock(&r->lk);
}

/* An id as the feed may carry it: 1..KUMO_REVOCATION_ID_MAX printable
 * ASCII characters other than '"' and '\\'. */
static int id_ok(json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
           id_chars_ok(json_string_value(v), json_string_length(v));
}

static int entry_ok(json_t *e)
{
    return json_is_object(e) && json_object_size(e) == 5 &&
           json_is_integer(json_object_get(e, "created")) &&
           json_is_integer(json_object_get(e, "seq")) &&
           json_integer_value(json_object_get(e, "seq")) > 0 &&
           json_is_integer(json_object_get(e, "not_before")) &&
           id_ok(json_object_get(e, "tenant_id")) && id_ok(json_object_get(e, "subject"));
}

/* kumo_revocations_apply_json, calling fn (when not NULL) for each entry
 * the page added: the follower's notifications are exactly what changed. */
static int apply_page(struct kumo_revocations *r, const char *json, size_t len, int64_t now_s,
                      int *more, kumo_revocation_fn fn, void *ud)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *list = doc ? json_object_get(doc, "revocations") : NULL;
    json_t *m = doc ? json_object_get(doc, "more") : NULL;
    int ok = json_is_object(doc) && json_object_size(doc) == 3 &&
             json_is_integer(json_object_get(doc, "cursor")) && json_is_boolean(m) &&
             json_is_array(list) && json_array_size(list) <= KUMO_REVOCATIONS_PAGE;
    size_t i;
    json_t *e;
    int64_t prev = 0, cursor = 0;
    if (ok) {
        json_array_foreach(list, i, e)
        {
            /* In order, or the page is not a feed page. */
            if (!entry_ok(e) || json_integer_value(json_object_get(e, "seq")) <= prev) {
                ok = 0;
                break;
            }
            prev = json_integer_value(json_object_get(e, "seq"));
        }
    }
    if (ok) {
        cursor = json_integer_value(json_object_get(doc, "cursor"));
        ok = cursor >= prev; /* the page's cursor covers what it carries */
    }
    if (!ok) {
        json_decref(doc);
        return KUMO_ERR_INVALID;
    }
    int added = 0;
    json_array_foreach(list, i, e)
    {
        const char *tid = json_string_value(json_object_get(e, "tenant_id"));
        const char *sub = json_string_value(json_object_get(e, "subject"));
        if (kumo_revocations_add(r, json_integer_value(json_object_get(e, "seq")), tid, sub,
                                 json_integer_value(json_object_get(e, "not_before")),
                                 json_integer_value(json_object_get(e, "created")), now_s) != 1)
            continue;
        added++;
        if (fn)
            fn(ud, tid, sub);
    }
    pthread_rwlock_wrlock(&r->lk);
    if (cursor > r->cursor) /* nothing up to it is missing (or unexpired) */
        r->cursor = cursor;
    pthread_rwlock_unlock(&r->lk);
    if (more)
        *more = json_is_true(m);
    json_decref(doc);
    return added;
}

int kumo_revocations_apply_json(struct kumo_revocations *r, const char *json, size_t len,
                                int64_t now_s, int *more)
{
    return apply_page(r, json, len, now_s, more, NULL, NULL);
}

/* ---- follower ---- */

struct kumo_revocations_follower {
    struct kumo_revocations *r;
    char *url;
    int64_t interval_ms;
    kumo_revocation_fn fn;
    void *ud;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    atomic_ulong loads;
};

static int64_t wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* Sleeps up to ms, or until stopped. Returns 1 if stopped. */
static int wait_or_stop(struct kumo_revocations_follower *f, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    while (!f->stop && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    int stopped = f->stop;
    pthread_mutex_unlock(&f->mu);
    return stopped;
}

/* Fetches pages until the feed has no more. Returns 0 or an error code. */
static int fetch_all(struct kumo_revocations_follower *f, struct kumo_buf *err)
{
    int more = 1, rc = 0;
    for (int pages = 0; more && pages < 64 && rc == 0; pages++) {
        int64_t from = kumo_revocations_cursor(f->r);
        struct kumo_buf url = KUMO_BUF_INIT, body = KUMO_BUF_INIT;
        kumo_buf_appendf(&url, "%s%safter=%lld&window=%d", f->url, strchr(f->url, '?') ? "&" : "?",
                         (long long)from, KUMO_REVOCATIONS_WINDOW_S);
        struct kumo_http_get_opts o = {NULL, 2000, 4 * 1024 * 1024};
        rc = kumo_http_get((const char *)url.data, &o, &body, "revocations", err);
        if (rc == 0) {
            int n = apply_page(f->r, body.data ? (const char *)body.data : "", body.len, wall_s(),
                               &more, f->fn, f->ud);
            if (n < 0) {
                kumo_buf_append_str(err, "revocations: malformed feed page");
                rc = n;
            }
        }
        kumo_buf_free(&url);
        kumo_buf_free(&body);
    }
    return rc;
}

static void *follow_loop(void *arg)
{
    struct kumo_revocations_follower *f = arg;
    int failing = 0;
    for (;;) {
        struct kumo_buf err = KUMO_BUF_INIT;
        if (fetch_all(f, &err) == 0) {
            atomic_fetch_add(&f->loads, 1);
            if (failing)
                kumo_log(KUMO_LOG_INFO, NULL, "revocations: feed reachable again", NULL);
            failing = 0;
        } else {
            kumo_metrics_counter_add("kumo_revocations_fetch_failures_total",
                                     "failed fetches of the revocation feed", 1);
            if (!failing)
                kumo_log(KUMO_LOG_WARN, NULL, "revocations: fetch failed; keeping what is known",
                         "error", err.data ? (const char *)err.data : "", NULL);
            failing = 1;
        }
        kumo_buf_free(&err);
        if (wait_or_stop(f, f->interval_ms))
            return NULL;
    }
}

int kumo_revocations_follow_start(struct kumo_revocations_follower **out,
                                  struct kumo_revocations *r, const char *url, int64_t interval_ms,
                                  kumo_revocation_fn fn, void *ud)
{
    if (!out || !r || !url || !*url || interval_ms < 50)
        return KUMO_ERR_INVALID;
    struct kumo_revocations_follower *f = kumo_calloc(1, sizeof *f);
    f->r = r;
    f->url = kumo_strdup(url);
    f->interval_ms = interval_ms;
    f->fn = fn;
    f->ud = ud;
    atomic_init(&f->loads, 0);
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&f->thread, NULL, follow_loop, f);
    if (rc != 0) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        kumo_free(f->url);
        kumo_free(f);
        return -rc;
    }
    *out = f;
    return 0;
}

unsigned long kumo_revocations_follower_loads(struct kumo_revocations_follower *f)
{
    return atomic_load(&f->loads);
}

void kumo_revocations_follow_stop(struct kumo_revocations_follower *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    kumo_free(f->url);
    kumo_free(f);
}

/* ---- in a daemon ---- */

int kumo_revocations_client_start(struct kumo_revocations_client *out, const struct kumo_config *c,
                                  int64_t keep_s, kumo_revocation_fn fn, void *ud)
{
    memset(out, 0, sizeof *out);
    const char *url = kumo_config_string(c, "KUMO_REVOCATIONS_URL");
    if (url == NULL || *url == '\0')
        return 0;
    if (kumo_revocations_new(&out->set, keep_s) != 0 ||
        kumo_revocations_follow_start(&out->follower, out->set, url,
                                      kumo_config_int(c, "KUMO_REVOCATIONS_POLL"), fn, ud) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start following the revocation feed", "url", url,
                 NULL);
        kumo_revocations_free(out->set);
        out->set = NULL;
        return -1;
    }
    return 0;
}

void kumo_revocations_client_stop(struct kumo_revocations_client *rc)
{
    kumo_revocations_follow_stop(rc->follower);
    kumo_revocations_free(rc->set);
    memset(rc, 0, sizeof *rc);
}
