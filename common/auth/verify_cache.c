#include "auth/verify_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errors.h"

#define STRIPES 16

struct entry {
    uint8_t hash[SHA256_DIGEST_LENGTH];
    int64_t until;
    struct kumo_principal principal;
};

struct kumo_verify_cache {
    size_t n;
    pthread_mutex_t stripes[STRIPES];
    struct entry *slots;
};

int kumo_verify_cache_new(struct kumo_verify_cache **out, size_t slots)
{
    if (slots == 0)
        slots = 1024;
    if (slots > (1u << 24))
        return KUMO_ERR_INVALID;
    struct kumo_verify_cache *c = kumo_calloc(1, sizeof *c);
    c->n = slots;
    c->slots = kumo_calloc(slots, sizeof *c->slots);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->stripes[i], NULL);
    *out = c;
    return 0;
}

/* SHA-256 fetched once: SHA256() looks the algorithm up again (a fetch
 * under OpenSSL's locks) on every call, i.e. on every request. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void token_hash(const char *token, size_t len, uint8_t hash[SHA256_DIGEST_LENGTH])
{
    pthread_once(&sha256_once, sha256_fetch);
    if (!sha256_md || !EVP_Digest(token, len, hash, NULL, sha256_md, NULL))
        SHA256((const unsigned char *)token, len, hash);
}

static size_t slot_of(const struct kumo_verify_cache *c, const uint8_t *hash)
{
    uint64_t h;
    memcpy(&h, hash, sizeof h);
    return (size_t)(h % c->n);
}

int kumo_verify_cache_verify(struct kumo_verify_cache *c, struct kumo_jwt_verifier *v,
                             const char *token, size_t len, int64_t now, struct kumo_principal *p,
                             int *hit)
{
    uint8_t hash[SHA256_DIGEST_LENGTH];
    token_hash(token, len, hash);
    size_t slot = slot_of(c, hash);
    pthread_mutex_t *mu = &c->stripes[slot % STRIPES];
    struct entry *e = &c->slots[slot];
    int found = 0;
    pthread_mutex_lock(mu);
    if (e->until > now && CRYPTO_memcmp(e->hash, hash, sizeof hash) == 0) {
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
    memcpy(e->hash, hash, sizeof hash);
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
    kumo_free(c->slots);
    kumo_free(c);
}
