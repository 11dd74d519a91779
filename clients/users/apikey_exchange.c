/* API key -> access token exchange with a bounded cache (see
 * apikey_exchange.h). The cache maps SHA-256(key || 0x00 || tenant) to the
 * token: the key itself never stays in memory after the call, and a service
 * key used for several tenants gets one entry per tenant. Entries live in a
 * hash table (chained) and in a FIFO list for eviction of the oldest. */
#include "users/apikey_exchange.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "kumo/users/v1/users.pb-c.h"
#include "base/secret.h"

#define EXCHANGE_PATH    "/kumo.users.v1.UserService/ExchangeApiKey"
#define DEFAULT_MAX      1024
#define DEFAULT_MARGIN_S 60
#define TENANT_ID_MAX    128
#define DIGEST_LEN       32

struct entry {
    uint8_t digest[DIGEST_LEN];
    char key_id[KUMO_API_KEY_ID_LEN + 1]; /* the key's public id, to forget it by */
    char *token;
    int64_t exp;
    struct entry *chain;         /* next in the same bucket */
    struct entry *older, *newer; /* FIFO list, oldest at x->oldest */
};

struct kumo_apikey_exchange {
    struct kumo_rpc_client *users;
    size_t max_entries;
    int64_t margin_s;
    pthread_mutex_t mu;
    struct entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
    struct entry *oldest, *newest;
};

int kumo_apikey_exchange_new(struct kumo_apikey_exchange **out,
                             const struct kumo_apikey_exchange_config *cfg)
{
    if (!out || !cfg || !cfg->users || cfg->refresh_margin_s < 0)
        return KUMO_ERR_INVALID;
    struct kumo_apikey_exchange *x = kumo_calloc(1, sizeof *x);
    x->users = cfg->users;
    x->max_entries = cfg->max_entries ? cfg->max_entries : DEFAULT_MAX;
    x->margin_s = cfg->refresh_margin_s ? cfg->refresh_margin_s : DEFAULT_MARGIN_S;
    x->n_buckets = 16;
    while (x->n_buckets < x->max_entries * 2 && x->n_buckets < ((size_t)1 << 20))
        x->n_buckets <<= 1;
    x->buckets = kumo_calloc(x->n_buckets, sizeof *x->buckets);
    pthread_mutex_init(&x->mu, NULL);
    *out = x;
    return 0;
}

/* The cache key: the digest of the API key and the tenant, so neither the
 * key nor anything reversible is stored. */
static void cache_digest(const char *api_key, const char *tenant_id, uint8_t out[DIGEST_LEN])
{
    static const unsigned char sep = 0;
    unsigned int len = DIGEST_LEN;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, api_key, strlen(api_key)) != 1 || EVP_DigestUpdate(md, &sep, 1) != 1 ||
        EVP_DigestUpdate(md, tenant_id, strlen(tenant_id)) != 1 ||
        EVP_DigestFinal_ex(md, out, &len) != 1) {
        /* SHA-256 cannot fail short of memory exhaustion; keep going with a
         * digest nobody else can produce so the cache is simply missed. */
        kumo_secret_random_bytes(out, DIGEST_LEN);
    }
    EVP_MD_CTX_free(md);
}

static size_t bucket_of(const struct kumo_apikey_exchange *x, const uint8_t d[DIGEST_LEN])
{
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return (size_t)(h & (x->n_buckets - 1));
}

static struct entry *find(struct kumo_apikey_exchange *x, const uint8_t d[DIGEST_LEN])
{
    for (struct entry *e = x->buckets[bucket_of(x, d)]; e; e = e->chain)
        if (memcmp(e->digest, d, DIGEST_LEN) == 0)
            return e;
    return NULL;
}

static void entry_free(struct entry *e)
{
    if (e->token) {
        kumo_secret_wipe(e->token, strlen(e->token));
        kumo_free(e->token);
    }
    kumo_secret_wipe(e, sizeof *e);
    kumo_free(e);
}

/* Unlinks `e` from its bucket and the FIFO list, and frees it. */
static void remove_entry(struct kumo_apikey_exchange *x, struct entry *e)
{
    struct entry **pp = &x->buckets[bucket_of(x, e->digest)];
    while (*pp && *pp != e)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        x->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        x->newest = e->older;
    x->count--;
    entry_free(e);
}

/* Stores (or replaces) the token for digest `d`; evicts the oldest entries
 * beyond the bound. Takes a copy of `token`. */
static void store(struct kumo_apikey_exchange *x, const uint8_t d[DIGEST_LEN], const char *key_id,
                  const char *token, int64_t exp)
{
    struct entry *old = find(x, d);
    if (old)
        remove_entry(x, old);
    while (x->count >= x->max_entries && x->oldest)
        remove_entry(x, x->oldest);
    struct entry *e = kumo_calloc(1, sizeof *e);
    memcpy(e->digest, d, DIGEST_LEN);
    memcpy(e->key_id, key_id, sizeof e->key_id);
    e->token = kumo_strdup(token);
    e->exp = exp;
    size_t b = bucket_of(x, d);
    e->chain = x->buckets[b];
    x->buckets[b] = e;
    e->older = x->newest;
    if (x->newest)
        x->newest->newer = e;
    else
        x->oldest = e;
    x->newest = e;
    x->count++;
}

static int64_t wall_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static kumo_code fail(struct kumo_rpc_status *status, kumo_code code, const char *msg)
{
    if (status) {
        kumo_free(status->message);
        status->code = code;
        status->message = kumo_strdup(msg);
    }
    return code;
}

/* Looks the digest up; returns a copy of a token with more than the margin
 * left, or NULL. */
static char *cache_get(struct kumo_apikey_exchange *x, const uint8_t d[DIGEST_LEN], int64_t *exp)
{
    char *tok = NULL;
    pthread_mutex_lock(&x->mu);
    struct entry *e = find(x, d);
    if (e) {
        if (e->exp - wall_now_s() > x->margin_s) {
            tok = kumo_strdup(e->token);
            *exp = e->exp;
        } else {
            remove_entry(x, e);
        }
    }
    pthread_mutex_unlock(&x->mu);
    return tok;
}

/* Asks kumo-users. On success sets *token (malloc'd) and *exp. */
static kumo_code call_users(struct kumo_apikey_exchange *x, const char *api_key,
                            const char *tenant_id, const struct kumo_rpc_call_options *opts,
                            char **token, int64_t *exp, struct kumo_rpc_status *status)
{
    Kumo__Users__V1__ExchangeApiKeyRequest req = KUMO__USERS__V1__EXCHANGE_API_KEY_REQUEST__INIT;
    req.api_key = (char *)api_key;
    req.tenant_id = (char *)tenant_id;
    ProtobufCMessage *resp_msg = NULL;
    struct kumo_rpc_status st = {KUMO_CODE_OK, NULL};
    kumo_code rc = kumo_rpc_client_call(x->users, EXCHANGE_PATH, &req.base,
                                        &kumo__users__v1__exchange_api_key_response__descriptor,
                                        NULL, opts, &resp_msg, &st);
    if (rc != KUMO_CODE_OK) {
        if (status)
            *status = st;
        else
            kumo_rpc_status_clear(&st);
        return rc;
    }
    Kumo__Users__V1__ExchangeApiKeyResponse *resp =
        (Kumo__Users__V1__ExchangeApiKeyResponse *)resp_msg;
    if (!resp->access_token || !resp->access_token[0]) {
        protobuf_c_message_free_unpacked(resp_msg, NULL);
        return fail(status, KUMO_CODE_INTERNAL, "kumo-users returned no access token");
    }
    *token = kumo_strdup(resp->access_token);
    *exp = resp->access_token_expire_time ? resp->access_token_expire_time->seconds : 0;
    kumo_secret_wipe(resp->access_token, strlen(resp->access_token));
    protobuf_c_message_free_unpacked(resp_msg, NULL);
    return KUMO_CODE_OK;
}

static int tenant_ok(const char *t)
{
    size_t n = strlen(t);
    if (n > TENANT_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= 0x20 || t[i] >= 0x7f)
            return 0;
    return 1;
}

static kumo_code exchange(struct kumo_apikey_exchange *x, const char *api_key,
                          const char *tenant_id, const struct kumo_rpc_call_options *opts,
                          int use_cache, char **token, int64_t *exp, struct kumo_rpc_status *status)
{
    if (status) { /* as kumo_rpc_client_call: *status is output only */
        status->code = KUMO_CODE_OK;
        status->message = NULL;
        status->retry_after_s = 0;
    }
    if (!x || !token)
        return fail(status, KUMO_CODE_INVALID_ARGUMENT, "missing argument");
    if (!tenant_id)
        tenant_id = "";
    struct kumo_api_key parsed;
    if (!api_key || kumo_api_key_parse(api_key, strlen(api_key), &parsed) != 0)
        return fail(status, KUMO_CODE_UNAUTHENTICATED, "malformed API key");
    char key_id[KUMO_API_KEY_ID_LEN + 1];
    memcpy(key_id, parsed.id, sizeof key_id);
    kumo_secret_wipe(&parsed, sizeof parsed);
    if (!tenant_ok(tenant_id))
        return fail(status, KUMO_CODE_INVALID_ARGUMENT, "malformed tenant id");

    uint8_t d[DIGEST_LEN];
    cache_digest(api_key, tenant_id, d);
    int64_t e = 0;
    char *tok = use_cache ? cache_get(x, d, &e) : NULL;
    if (!tok) {
        kumo_code rc = call_users(x, api_key, tenant_id, opts, &tok, &e, status);
        if (rc != KUMO_CODE_OK)
            return rc;
        /* A token that would be stale at once is still returned (it is
         * valid now) but not cached. */
        if (e - wall_now_s() > x->margin_s) {
            pthread_mutex_lock(&x->mu);
            store(x, d, key_id, tok, e);
            pthread_mutex_unlock(&x->mu);
        }
    }
    *token = tok;
    if (exp)
        *exp = e;
    return KUMO_CODE_OK;
}

kumo_code kumo_apikey_exchange_token(struct kumo_apikey_exchange *x, const char *api_key,
                                     const char *tenant_id,
                                     const struct kumo_rpc_call_options *opts, char **token,
                                     int64_t *exp, struct kumo_rpc_status *status)
{
    return exchange(x, api_key, tenant_id, opts, 1, token, exp, status);
}

kumo_code kumo_apikey_exchange_token_fresh(struct kumo_apikey_exchange *x, const char *api_key,
                                           const char *tenant_id,
                                           const struct kumo_rpc_call_options *opts, char **token,
                                           int64_t *exp, struct kumo_rpc_status *status)
{
    return exchange(x, api_key, tenant_id, opts, 0, token, exp, status);
}

int kumo_apikey_exchange_forget(struct kumo_apikey_exchange *x, const char *key_id)
{
    int n = 0;
    if (!x || !key_id)
        return 0;
    pthread_mutex_lock(&x->mu);
    for (struct entry *e = x->oldest, *next; e; e = next) {
        next = e->newer;
        if (strcmp(e->key_id, key_id) == 0) {
            remove_entry(x, e);
            n++;
        }
    }
    pthread_mutex_unlock(&x->mu);
    return n;
}

void kumo_apikey_exchange_flush(struct kumo_apikey_exchange *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    while (x->oldest)
        remove_entry(x, x->oldest);
    pthread_mutex_unlock(&x->mu);
}

void kumo_apikey_exchange_free(struct kumo_apikey_exchange *x)
{
    if (!x)
        return;
    kumo_apikey_exchange_flush(x);
    pthread_mutex_destroy(&x->mu);
    kumo_free(x->buckets);
    kumo_free(x);
}
