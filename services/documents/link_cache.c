#include "link_cache.h"

#include <string.h>
#include <time.h>

#include "base/alloc.h"

int64_t docs_link_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct docs_link_slot *slot_of(struct docs_link_cache *lc, const void *key, size_t key_len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < key_len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return &lc->slots[h % lc->n_slots];
}

int docs_link_cache_get(struct docs_link_cache *lc, struct kumo_rpc_call *call, const void *key,
                        size_t key_len, char **url, Google__Protobuf__Timestamp **expire)
{
    int64_t now = docs_link_now_ms();
    int hit = 0;
    pthread_mutex_lock(&lc->mu);
    struct docs_link_slot *s = slot_of(lc, key, key_len);
    if (s->key && s->key_len == key_len && memcmp(s->key, key, key_len) == 0 &&
        now <= s->reuse_until_ms) {
        size_t n = strlen(s->url) + 1;
        *url = kumo_rpc_call_alloc(call, n);
        memcpy(*url, s->url, n);
        Google__Protobuf__Timestamp *t =
            kumo_rpc_call_new(call, &google__protobuf__timestamp__descriptor);
        t->seconds = s->expire_s;
        t->nanos = s->expire_ns;
        *expire = t;
        hit = 1;
    }
    pthread_mutex_unlock(&lc->mu);
    return hit;
}

void docs_link_cache_put(struct docs_link_cache *lc, const void *key, size_t key_len,
                         const char *url, const Google__Protobuf__Timestamp *expire,
                         int64_t reuse_until_ms)
{
    if (!url || !*url || !expire || strlen(url) >= DOCS_LINK_URL_MAX)
        return;
    char *k = kumo_malloc(key_len ? key_len : 1);
    memcpy(k, key, key_len);
    char *u = kumo_strdup(url);
    pthread_mutex_lock(&lc->mu);
    struct docs_link_slot *s = slot_of(lc, key, key_len);
    char *old_k = s->key, *old_u = s->url;
    s->key = k;
    s->key_len = key_len;
    s->url = u;
    s->expire_s = expire->seconds;
    s->expire_ns = expire->nanos;
    s->reuse_until_ms = reuse_until_ms;
    pthread_mutex_unlock(&lc->mu);
    kumo_free(old_k);
    kumo_free(old_u);
}
