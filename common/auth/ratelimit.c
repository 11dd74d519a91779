/* Token buckets in a bounded table keyed by HMAC-SHA256 of the key. */
#include "auth/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "slots_internal.h"

#define ID_BYTES 16
#define PROBES   8

struct slot {
    uint8_t id[ID_BYTES];
    int used;
    double tokens;
    int64_t last_ms; /* last refill */
};

struct kumo_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    struct kumo__slots table; /* of struct slot */
};

int kumo_ratelimit_new(struct kumo_ratelimit **out, const struct kumo_ratelimit_config *cfg)
{
    if (!out || !cfg || !(cfg->rate > 0) || !(cfg->burst >= 1))
        return KUMO_ERR_INVALID;
    struct kumo_ratelimit *r = kumo_calloc(1, sizeof *r);
    if (kumo__slots_init(&r->table, cfg->capacity, 16384, 1, 1u << 24, sizeof(struct slot)) != 0) {
        kumo_free(r);
        return KUMO_ERR_INVALID;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->rate = cfg->rate;
    r->burst = cfg->burst;
    *out = r;
    return 0;
}

void kumo_ratelimit_free(struct kumo_ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    kumo__slots_free(&r->table);
    kumo_free(r);
}

/* The key's slot, or the least recently used one of its probe run (reset
 * to a full bucket). Called under the mutex. */
static struct slot *find(struct kumo_ratelimit *r, const uint8_t id[ID_BYTES], int64_t now_ms)
{
    uint32_t h;
    memcpy(&h, id, sizeof h);
    struct slot *victim = NULL;
    for (uint32_t i = 0; i < PROBES; i++) {
        struct slot *s = (struct slot *)r->table.slots + ((h + i) & r->table.mask);
        if (s->used && memcmp(s->id, id, ID_BYTES) == 0)
            return s;
        if (!s->used) {
            if (!victim || victim->used)
                victim = s;
        } else if (!victim || (victim->used && s->last_ms < victim->last_ms)) {
            victim = s;
        }
    }
    memcpy(victim->id, id, ID_BYTES);
    victim->used = 1;
    victim->tokens = r->burst;
    victim->last_ms = now_ms;
    return victim;
}

int kumo_ratelimit_take(struct kumo_ratelimit *r, const void *key, size_t len, int64_t now_ms,
                        int64_t *retry_after_ms)
{
    uint8_t id[ID_BYTES];
    kumo__slots_hash(&r->table, key, len, id, ID_BYTES);
    pthread_mutex_lock(&r->mu);
    struct slot *s = find(r, id, now_ms);
    if (now_ms > s->last_ms) {
        s->tokens += (double)(now_ms - s->last_ms) * r->rate / 1000.0;
        if (s->tokens > r->burst)
            s->tokens = r->burst;
        s->last_ms = now_ms;
    }
    int ok = s->tokens >= 1.0;
    if (ok)
        s->tokens -= 1.0;
    else if (retry_after_ms) {
        double wait = (1.0 - s->tokens) * 1000.0 / r->rate;
        int64_t w = (int64_t)wait + 1;
        *retry_after_ms = w < 1 ? 1 : w;
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static int parse_number(const char **p, double *out)
{
    char *end;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return KUMO_ERR_INVALID;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0) || v > 1e9)
        return KUMO_ERR_INVALID;
    *out = v;
    *p = end;
    return 0;
}

int kumo_ratelimit_parse(const char *s, double *rate, double *burst)
{
    if (!s || !rate || !burst)
        return KUMO_ERR_INVALID;
    if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
        *rate = 0;
        *burst = 0;
        return 0;
    }
    const char *p = s;
    double n, b = 0;
    if (parse_number(&p, &n) != 0 || n <= 0 || *p++ != '/')
        return KUMO_ERR_INVALID;
    double per;
    switch (*p++) {
    case 's':
        per = 1;
        break;
    case 'm':
        per = 60;
        break;
    case 'h':
        per = 3600;
        break;
    default:
        return KUMO_ERR_INVALID;
    }
    if (*p == ' ') {
        while (*p == ' ')
            p++;
        if (strncmp(p, "burst", 5) != 0)
            return KUMO_ERR_INVALID;
        p += 5;
        if (*p != ' ')
            return KUMO_ERR_INVALID;
        while (*p == ' ')
            p++;
        if (parse_number(&p, &b) != 0 || b < 1)
            return KUMO_ERR_INVALID;
    }
    if (*p != '\0')
        return KUMO_ERR_INVALID;
    *rate = n / per;
    *burst = b > 0 ? b : (n < 1 ? 1 : n);
    return 0;
}
