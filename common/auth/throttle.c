#include "auth/throttle.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "slots_internal.h"

#define PROBE         8
#define DEFAULT_SLOTS 16384u
#define MAX_SLOTS     (1u << 24)

struct slot {
    uint64_t fp;    /* key fingerprint; 0 = empty */
    int64_t window; /* index of the current fixed window */
    int64_t last_ms;
    uint32_t cur, prev;
};

struct kumo_throttle {
    pthread_mutex_t mu;
    uint32_t limit;
    int64_t window_ms;
    struct kumo__slots table; /* of struct slot */
};

int kumo_throttle_new(struct kumo_throttle **out, const struct kumo_throttle_config *cfg)
{
    if (cfg == NULL || cfg->limit == 0 || cfg->window_ms <= 0)
        return KUMO_ERR_INVALID;
    struct kumo_throttle *t = kumo_calloc(1, sizeof *t);
    if (kumo__slots_init(&t->table, cfg->capacity, DEFAULT_SLOTS, PROBE, MAX_SLOTS,
                         sizeof(struct slot)) != 0) {
        kumo_free(t);
        return KUMO_ERR_INVALID;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->limit = cfg->limit;
    t->window_ms = cfg->window_ms;
    *out = t;
    return 0;
}

void kumo_throttle_free(struct kumo_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    kumo__slots_free(&t->table);
    kumo_free(t);
}

/* Keyed so that clients cannot pick keys that collide in the table. */
static uint64_t fingerprint(const struct kumo_throttle *t, const void *key, size_t len)
{
    uint8_t h[8];
    kumo__slots_hash(&t->table, key, len, h, sizeof h);
    uint64_t fp;
    memcpy(&fp, h, sizeof fp);
    return fp | 1; /* never 0, the empty marker */
}

/* Finds the slot of `fp`; with `create`, claims an empty or the stalest slot
 * of the probe run. NULL if absent and not creating. */
static struct slot *find(struct kumo_throttle *t, uint64_t fp, int create)
{
    struct slot *victim = NULL;
    for (uint32_t i = 0; i < PROBE; i++) {
        struct slot *s = (struct slot *)t->table.slots + ((uint32_t)(fp + i) & t->table.mask);
        if (s->fp == fp)
            return s;
        if (!create)
            continue;
        if (s->fp == 0) {
            if (victim == NULL || victim->fp != 0)
                victim = s;
        } else if (victim == NULL || (victim->fp != 0 && s->last_ms < victim->last_ms)) {
            victim = s;
        }
    }
    if (victim)
        *victim = (struct slot){.fp = fp};
    return victim;
}

/* Moves the slot's buckets forward to the window of `now_ms`. */
static void roll(const struct kumo_throttle *t, struct slot *s, int64_t now_ms)
{
    int64_t w = now_ms / t->window_ms;
    if (w == s->window)
        return;
    s->prev = w == s->window + 1 ? s->cur : 0;
    s->cur = 0;
    s->window = w;
}

static double weighted(const struct kumo_throttle *t, const struct slot *s, int64_t now_ms)
{
    double into = (double)(now_ms - s->window * t->window_ms) / (double)t->window_ms;
    if (into < 0)
        into = 0;
    return (double)s->prev * (1.0 - into) + (double)s->cur;
}

/* Locks t and returns the slot of `key` rolled to now_ms: NULL when it has
 * none, unless `create` (then a new or reused slot). The caller unlocks
 * t->mu. */
static struct slot *lock_slot(struct kumo_throttle *t, const void *key, size_t len, int64_t now_ms,
                              int create)
{
    uint64_t fp = fingerprint(t, key, len);
    pthread_mutex_lock(&t->mu);
    struct slot *s = find(t, fp, create);
    if (s)
        roll(t, s, now_ms);
    return s;
}

double kumo_throttle_count(struct kumo_throttle *t, const void *key, size_t len, int64_t now_ms)
{
    struct slot *s = lock_slot(t, key, len, now_ms, 0);
    double c = s ? weighted(t, s, now_ms) : 0;
    pthread_mutex_unlock(&t->mu);
    return c;
}

int kumo_throttle_blocked(struct kumo_throttle *t, const void *key, size_t len, int64_t now_ms)
{
    return kumo_throttle_count(t, key, len, now_ms) >= (double)t->limit;
}

/* How long until the weighted count of `s` drops below the limit with no
 * further hits (0 if it already is). */
static int64_t wait_ms(const struct kumo_throttle *t, const struct slot *s, int64_t now_ms)
{
    double limit = (double)t->limit, W = (double)t->window_ms;
    if (weighted(t, s, now_ms) < limit)
        return 0;
    double into = (double)(now_ms - s->window * t->window_ms);
    double wait;
    if ((double)s->cur >= limit) /* next window: cur becomes prev and fades */
        wait = (W - into) + W * (1.0 - limit / (double)s->cur);
    else /* this window: prev fades until prev*(1-x/W) + cur < limit */
        wait = W * (1.0 - (limit - (double)s->cur) / (double)s->prev) - into;
    return wait < 0 ? 1 : (int64_t)wait + 1;
}

int64_t kumo_throttle_retry_after_ms(struct kumo_throttle *t, const void *key, size_t len,
                                     int64_t now_ms)
{
    struct slot *s = lock_slot(t, key, len, now_ms, 0);
    int64_t ms = s ? wait_ms(t, s, now_ms) : 0;
    pthread_mutex_unlock(&t->mu);
    return ms;
}

void kumo_throttle_hit(struct kumo_throttle *t, const void *key, size_t len, int64_t now_ms)
{
    struct slot *s = lock_slot(t, key, len, now_ms, 1);
    if (s->cur < UINT32_MAX)
        s->cur++;
    s->last_ms = now_ms;
    pthread_mutex_unlock(&t->mu);
}

void kumo_throttle_reset(struct kumo_throttle *t, const void *key, size_t len)
{
    uint64_t fp = fingerprint(t, key, len);
    pthread_mutex_lock(&t->mu);
    struct slot *s = find(t, fp, 0);
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&t->mu);
}
