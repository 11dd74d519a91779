/* The route table: method, path pattern, flags (token required, sign-in
 * rate limit), and either a hand-written handler or a mapped RPC (op.h).
 * bff/openapi-check compares it with bff/openapi.yaml, so keep one route
 * per line starting {"METHOD", P "/path", ... */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "op.h"

#define P "/api/v1"

// clang-format off
const struct bff_route bff_routes[] = {
    {"POST", P "/auth", BFF_PUBLIC | BFF_LOGIN, bff_h_kumocms_auth, NULL},
    {"POST", P "/auth/login", BFF_PUBLIC | BFF_LOGIN, bff_h_login, NULL},
    {"POST", P "/auth/refresh", BFF_PUBLIC, bff_h_refresh, NULL},
    {"POST", P "/auth/logout", BFF_PUBLIC, bff_h_logout, NULL},
    {"POST", P "/auth/logout-everywhere", BFF_TOKEN, bff_h_logout_everywhere, NULL},
    {"POST", P "/auth/password", BFF_TOKEN, NULL, &bff_op_password},
    {"GET", P "/me", BFF_TOKEN, bff_h_me, NULL},
    {"GET", P "/users", BFF_TOKEN | BFF_ASYNC, NULL, &bff_op_users_list},
    {"POST", P "/users", BFF_TOKEN, NULL, &bff_op_users_create},
    {"GET", P "/users/{id}", BFF_TOKEN | BFF_ASYNC, NULL, &bff_op_users_get},
    {"PUT", P "/users/{id}", BFF_TOKEN, bff_h_users_put, NULL},
    {"PATCH", P "/users/{id}", BFF_TOKEN, NULL, &bff_op_users_update},
    {"DELETE", P "/users/{id}", BFF_TOKEN, NULL, &bff_op_users_delete},
    {"GET", P "/api-keys", BFF_TOKEN | BFF_ASYNC, NULL, &bff_op_keys_list},
    {"POST", P "/api-keys", BFF_TOKEN, NULL, &bff_op_keys_create},
    {"DELETE", P "/api-keys/{id}", BFF_TOKEN, NULL, &bff_op_keys_delete},
    {"GET", P "/documents", BFF_TOKEN | BFF_ASYNC, NULL, &bff_op_docs_list},
    {"POST", P "/documents", BFF_TOKEN, NULL, &bff_op_docs_create},
    {"GET", P "/documents/{id}", BFF_TOKEN | BFF_ASYNC, bff_h_docs_get, NULL},
    {"PUT", P "/documents/{id}", BFF_TOKEN, bff_h_docs_put, NULL},
    {"PATCH", P "/documents/{id}", BFF_TOKEN, NULL, &bff_op_docs_patch},
    {"DELETE", P "/documents/{id}", BFF_TOKEN, NULL, &bff_op_docs_delete},
    {"POST", P "/documents/{id}/upload-parts", BFF_TOKEN, NULL, &bff_op_docs_upload_parts},
    {"POST", P "/documents/{id}/complete", BFF_TOKEN, NULL, &bff_op_docs_complete},
    {"POST", P "/documents/{id}/archive", BFF_TOKEN, NULL, &bff_op_docs_archive},
    {"POST", P "/documents/{id}/restore", BFF_TOKEN, NULL, &bff_op_docs_restore},
    {"POST", P "/documents/{id}/undelete", BFF_TOKEN, NULL, &bff_op_docs_undelete},
    {"GET", P "/documents/{id}/versions", BFF_TOKEN | BFF_ASYNC, NULL, &bff_op_docs_versions},
    {"GET", P "/audit-events", BFF_TOKEN | BFF_ASYNC, NULL, &bff_op_audit},
    {"GET", P "/dead-letters", BFF_TOKEN | BFF_ASYNC, NULL, &bff_op_dead_letters},
    {"POST", P "/dead-letters/{id}/redrive", BFF_TOKEN, NULL, &bff_op_redrive},
    {"GET", P "/healthcheck", BFF_PUBLIC, bff_h_healthcheck, NULL},
    {"GET", P "/openapi.json", BFF_PUBLIC, bff_h_openapi, NULL},
};
// clang-format on

const size_t bff_n_routes = sizeof bff_routes / sizeof bff_routes[0];

/* The index, built once: the routes bucketed by their number of '/' and the
 * text of their first segment that not all routes share (key_seg: "users",
 * "documents", ... after "/api/v1"). A path matches a route only with as
 * many '/' and, where the route's key segment is literal, the same text
 * there (a parameter matches no '/'); so a request is matched against its
 * bucket's routes and those whose key segment is not literal, in table
 * order: the route the full scan would find first. */
#define N_ROUTES (sizeof bff_routes / sizeof bff_routes[0])

struct bucket {
    size_t nslash;
    const char *seg; /* into the pattern, seg_len bytes */
    size_t seg_len;
    size_t n;
    uint8_t route[N_ROUTES]; /* indexes into bff_routes, ascending */
};

static struct {
    size_t key_seg;
    size_t n_buckets;
    struct bucket buckets[N_ROUTES];
    size_t n_other;
    uint8_t other[N_ROUTES]; /* key segment absent or not all literal */
} idx;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

/* The number of '/' in s; *seg and *len get the text after its k-th '/' up
 * to the next one or the end (*seg NULL when s has fewer than k). */
static size_t key_of(const char *s, size_t k, const char **seg, size_t *len)
{
    size_t nslash = 0;
    *seg = NULL;
    *len = 0;
    for (; *s; s++) {
        if (*s != '/')
            continue;
        if (++nslash == k) {
            *seg = s + 1;
            *len = strcspn(s + 1, "/");
        }
    }
    return nslash;
}

static void idx_build(void)
{
    /* key_seg: the first segment (1 = after the first '/') where two
     * routes differ or one has a parameter or none. */
    size_t k = 1;
    for (;; k++) {
        const char *seg0, *seg;
        size_t len0, len;
        key_of(bff_routes[0].pattern, k, &seg0, &len0);
        int shared = seg0 != NULL && memchr(seg0, '{', len0) == NULL;
        for (size_t i = 1; shared && i < N_ROUTES; i++) {
            key_of(bff_routes[i].pattern, k, &seg, &len);
            shared = seg != NULL && len == len0 && memcmp(seg, seg0, len) == 0;
        }
        if (!shared)
            break;
    }
    idx.key_seg = k;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const char *seg;
        size_t len, nslash = key_of(bff_routes[i].pattern, k, &seg, &len);
        if (seg == NULL || memchr(seg, '{', len) != NULL) {
            idx.other[idx.n_other++] = (uint8_t)i;
            continue;
        }
        struct bucket *b = idx.buckets;
        while (b < idx.buckets + idx.n_buckets &&
               !(b->nslash == nslash && b->seg_len == len && memcmp(b->seg, seg, len) == 0))
            b++;
        if (b == idx.buckets + idx.n_buckets) {
            idx.n_buckets++;
            b->nslash = nslash;
            b->seg = seg;
            b->seg_len = len;
        }
        b->route[b->n++] = (uint8_t)i;
    }
}

static const struct bucket *bucket_of(const char *path)
{
    const char *seg;
    size_t len, nslash = key_of(path, idx.key_seg, &seg, &len);
    if (seg == NULL)
        return NULL;
    for (size_t i = 0; i < idx.n_buckets; i++) {
        const struct bucket *b = &idx.buckets[i];
        if (b->nslash == nslash && b->seg_len == len && memcmp(b->seg, seg, len) == 0)
            return b;
    }
    return NULL;
}

const struct bff_route *bff_route_find(const char *method, const char *path,
                                       struct kumo_web_params *params, int *path_known,
                                       struct kumo_buf *allow)
{
    _Static_assert(N_ROUTES <= 255, "route indexes are uint8_t");
    pthread_once(&idx_once, idx_build);
    *path_known = 0;
    params->n = 0;
    const struct bucket *b = bucket_of(path);
    size_t nb = b ? b->n : 0, bi = 0, oi = 0;
    /* The bucket's and the other routes, merged in table order. */
    while (bi < nb || oi < idx.n_other) {
        size_t i;
        if (oi == idx.n_other || (bi < nb && b->route[bi] < idx.other[oi]))
            i = b->route[bi++];
        else
            i = idx.other[oi++];
        const struct bff_route *r = &bff_routes[i];
        if (!kumo_web_route_match(r->pattern, path, params))
            continue;
        if (strcmp(r->method, method) == 0)
            return r;
        if (allow)
            kumo_buf_appendf(allow, "%s%s", *path_known ? ", " : "", r->method);
        *path_known = 1;
    }
    return NULL;
}

size_t bff_route_index(const struct bff_route *r)
{
    uintptr_t at = (uintptr_t)r, first = (uintptr_t)bff_routes;
    if (r == NULL || at < first || at >= (uintptr_t)(bff_routes + N_ROUTES))
        return N_ROUTES;
    return (at - first) / sizeof *bff_routes;
}

int64_t bff_body_limit(const struct bff *app, const char *method, const char *path, int authorized)
{
    if (!authorized || !method || !path || strcmp(method, "PUT") != 0 ||
        app->s.body_max >= BFF_DIRECT_BODY_MAX)
        return app->s.body_max;
    char p[256];
    size_t n = strcspn(path, "?");
    if (n >= sizeof p)
        return app->s.body_max;
    memcpy(p, path, n);
    p[n] = '\0';
    struct kumo_web_params params;
    return kumo_web_route_match(P "/documents/{id}", p, &params) ? BFF_DIRECT_BODY_MAX
                                                                 : app->s.body_max;
}
