/* The route table: method, path pattern, flags (token required, sign-in
 * rate limit), and either a hand-written handler or a mapped RPC (op.h).
 * bff/openapi-check compares it with bff/openapi.yaml, so keep one route
 * per line starting {"METHOD", P "/path", ... */
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

const struct bff_route *bff_route_find(const char *method, const char *path,
                                       struct kumo_web_params *params, int *path_known,
                                       struct kumo_buf *allow)
{
    *path_known = 0;
    for (size_t i = 0; i < bff_n_routes; i++) {
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
