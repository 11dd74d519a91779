#include "auth/verify_cache.h"

#include <pthread.h>
#include <string.h>

#include "auth/verify_cache_internal.h"
#include "base/alloc.h"
#include "base/errors.h"
#include "base/secret.h"
#include "base/siphash.h"

#define STRIPES 16

struct entry {
    uint64_t hash;
    int64_t until;
    char *token; /* the verified token's bytes, owned; NULL while empty */
    size_t token_len;
    size_t token_cap;
    struct kumo_principal principal;
};

struct kumo_verify_cache {
    size_t n;
    uint8_t key[KUMO_SIPHASH_KEY_LEN]; /* random, this cache's only */
    int collide_all;                   /* test hook: every hash is 0 */
    pthread_mutex_t stripes[STRIPES];
    struct entry *slots;
};

int kumo_verify_cache_new(struct kumo_verify_cache **out, size_t slots)
{
    if (slots == 0)
        slots = 1024;
    if (slots > (1u << 24))
        return KUMO_ERR_INVALID;
    uint8_t key[KUMO_SIPHASH_KEY_LEN];
    if (kumo_secret_random_bytes(key, sizeof key) != 0)
        return KUMO_SECRET_ERR_RANDOM;
    struct kumo_verify_cache *c = kumo_calloc(1, sizeof *c);
    c->n = slots;
    memcpy(c->key, key, sizeof key);
    c->slots = kumo_calloc(slots, sizeof *c->slots);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->stripes[i], NULL);
    *out = c;
    return 0;
}

void kumo__verify_cache_collide_all(struct kumo_verify_cache *c)
{
    c->collide_all = 1;
}

/* Whether e holds exactly token[0..len) (hash first: a cheap filter that
 * tells nothing of the bytes; then every byte, in constant time). */
static int entry_holds(const struct entry *e, uint64_t hash, const char *token, size_t len)
{
    return e->token != NULL && e->hash == hash && e->token_len == len &&
           kumo_secret_equal(e->token, token, len);
}

static void entry_store(struct entry *e, uint64_t hash, const char *token, size_t len)
{
    if (e->token == NULL || e->token_cap < len) {
        e->token = kumo_realloc(e->token, len ? len : 1);
        e->token_cap = len ? len : 1;
    }
    memcpy(e->token, token, len);
    e->token_len = len;
    e->hash = hash;
}

int kumo_verify_cache_verify(struct kumo_verify_cache *c, struct kumo_jwt_verifier *v,
                             const char *token, size_t len, int64_t now, struct kumo_principal *p,
                             int *hit)
{
    uint64_t hash = c->collide_all ? 0 : kumo_siphash24(c->key, token, len);
    size_t slot = (size_t)(hash % c->n);
    pthread_mutex_t *mu = &c->stripes[slot % STRIPES];
    struct entry *e = &c->slots[slot];
    int found = 0;
    pthread_mutex_lock(mu);
    if (e->until > now && entry_holds(e, hash, token, len)) {
        *p = e->principal;
        found = 1;
    }
    pthread_mutex_unlock(mu);
    if (hit)
        *hit = found;
    if (found)
        return 0;
    int rc = kumo_jwt_verify(v, token, len, now, p);
    if (rc != 0)
        return rc;
    int64_t until = now + KUMO_VERIFY_CACHE_TTL_S < p->exp ? now + KUMO_VERIFY_CACHE_TTL_S : p->exp;
    pthread_mutex_lock(mu);
    entry_store(e, hash, token, len);
    e->until = until;
    e->principal = *p;
    pthread_mutex_unlock(mu);
    return 0;
}

void kumo_verify_cache_free(struct kumo_verify_cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->stripes[i]);
    for (size_t i = 0; i < c->n; i++)
        kumo_free(c->slots[i].token);
    kumo_free(c->slots);
    kumo_free(c);
}
