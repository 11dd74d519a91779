#include "auth/rpc_auth.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "auth/verify_cache.h"
#include "base/errors.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* Verified tokens are remembered for a short while (auth/verify_cache.h:
 * an ES256 verification costs ~75 us, a hash ~1 us, and a client sends the
 * same token with every call until it expires). */
#define CACHE_SLOTS 256

struct kumo_rpc_jwt_auth {
    struct kumo_jwt_verifier *verifier;
    size_t n_services;
    char services[KUMO_RPC_AUTH_MAX_SERVICES][KUMO_RPC_AUTH_SERVICE_MAX + 1];
    struct kumo_verify_cache *cache;
    atomic_ulong hits;
    struct kumo_revocations *revocations; /* borrowed, or NULL */
};

unsigned long kumo_rpc_jwt_auth_cache_hits(const struct kumo_rpc_jwt_auth *auth)
{
    return atomic_load(&((struct kumo_rpc_jwt_auth *)auth)->hits);
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Parses "a, b,c" into a->services. Returns 0 or KUMO_ERR_INVALID. */
static int parse_services(struct kumo_rpc_jwt_auth *a, const char *list)
{
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ' ')
            p++;
        const char *start = p;
        while (name_char(*p))
            p++;
        size_t n = (size_t)(p - start);
        while (*p == ' ')
            p++;
        if (*p != ',' && *p != '\0')
            return KUMO_ERR_INVALID;
        if (n == 0 && *p == ',')
            return KUMO_ERR_INVALID;
        if (n > 0) {
            if (n > KUMO_RPC_AUTH_SERVICE_MAX || a->n_services == KUMO_RPC_AUTH_MAX_SERVICES)
                return KUMO_ERR_INVALID;
            memcpy(a->services[a->n_services], start, n);
            a->services[a->n_services][n] = '\0';
            a->n_services++;
        }
        if (*p == ',')
            p++;
    }
    return 0;
}

int kumo_rpc_jwt_auth_new(struct kumo_rpc_jwt_auth **out, struct kumo_jwt_verifier *verifier,
                          const char *allowed_services)
{
    if (verifier == NULL)
        return KUMO_ERR_INVALID;
    struct kumo_rpc_jwt_auth *a = kumo_calloc(1, sizeof *a);
    a->verifier = verifier;
    if (parse_services(a, allowed_services) != 0 ||
        kumo_verify_cache_new(&a->cache, CACHE_SLOTS) != 0) {
        kumo_free(a);
        return KUMO_ERR_INVALID;
    }
    *out = a;
    return 0;
}

int kumo_rpc_jwt_auth_service_allowed(const struct kumo_rpc_jwt_auth *auth, const char *name)
{
    for (size_t i = 0; i < auth->n_services; i++)
        if (strcmp(auth->services[i], name) == 0)
            return 1;
    return 0;
}

static kumo_code refuse(struct kumo_rpc_call *call, const char *why)
{
    kumo_metrics_counter_add("kumo_auth_failures_total",
                             "RPCs refused because of a missing or invalid access token", 1);
    kumo_log(KUMO_LOG_INFO, kumo_rpc_call_request_id(call), "unauthenticated call", "method",
             kumo_rpc_call_path(call), "reason", why, NULL);
    return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, "missing or invalid access token");
}

kumo_code kumo_rpc_jwt_auth_fn(void *ud, struct kumo_rpc_call *call, const char *authorization,
                               void **principal)
{
    struct kumo_rpc_jwt_auth *a = ud;
    if (authorization == NULL)
        return refuse(call, "no authorization header");
    const char *tok;
    size_t tok_len;
    if (kumo_jwt_bearer(authorization, strlen(authorization), &tok, &tok_len) != 0)
        return refuse(call, "authorization is not a bearer token");
    struct kumo_principal *p = kumo_rpc_call_alloc(call, sizeof *p);
    int64_t now = (int64_t)time(NULL);
    int hit = 0;
    int rc = kumo_verify_cache_verify(a->cache, a->verifier, tok, tok_len, now, p, &hit);
    if (rc != 0)
        return refuse(call, kumo_jwt_strerror(rc));
    if (hit)
        atomic_fetch_add_explicit(&a->hits, 1, memory_order_relaxed);
    if (p->service && !kumo_rpc_jwt_auth_service_allowed(a, p->sub))
        return refuse(call, "service principal not allowed here");
    /* After the cache too: a revocation must beat a cached verification. */
    if (kumo_revocations_revoked(a->revocations, p->tid, p->sub, p->iat))
        return refuse(call, "token revoked");
    *principal = p;
    return KUMO_CODE_OK;
}

const struct kumo_principal *kumo_rpc_principal(const struct kumo_rpc_call *call)
{
    return kumo_rpc_call_principal(call);
}

void kumo_rpc_jwt_auth_set_revocations(struct kumo_rpc_jwt_auth *auth, struct kumo_revocations *r)
{
    auth->revocations = r;
}

void kumo_rpc_jwt_auth_free(struct kumo_rpc_jwt_auth *auth)
{
    if (auth == NULL)
        return;
    kumo_verify_cache_free(auth->cache);
    kumo_free(auth);
}
