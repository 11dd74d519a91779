/* The route table: method, path pattern, whether a token is required, and
 * the handler. bff/openapi-check compares it with bff/openapi.yaml, so keep
 * one route per line in this exact shape. */
#include "bff.h"

#define P "/api/v1"

const struct bff_route bff_routes[] = {
    {"POST", P "/auth/login", BFF_PUBLIC, bff_h_login},
    {"POST", P "/auth/refresh", BFF_PUBLIC, bff_h_refresh},
    {"POST", P "/auth/logout", BFF_PUBLIC, bff_h_logout},
    {"POST", P "/auth/logout-everywhere", BFF_TOKEN, bff_h_logout_everywhere},
    {"GET", P "/me", BFF_TOKEN, bff_h_me},
    {"GET", P "/users", BFF_TOKEN, bff_h_users_list},
    {"POST", P "/users", BFF_TOKEN, bff_h_users_create},
    {"GET", P "/users/{id}", BFF_TOKEN, bff_h_users_get},
    {"PATCH", P "/users/{id}", BFF_TOKEN, bff_h_users_update},
    {"DELETE", P "/users/{id}", BFF_TOKEN, bff_h_users_delete},
    {"GET", P "/api-keys", BFF_TOKEN, bff_h_keys_list},
    {"POST", P "/api-keys", BFF_TOKEN, bff_h_keys_create},
    {"DELETE", P "/api-keys/{id}", BFF_TOKEN, bff_h_keys_delete},
    {"GET", P "/documents", BFF_TOKEN, bff_h_docs_list},
    {"POST", P "/documents", BFF_TOKEN, bff_h_docs_create},
    {"GET", P "/documents/{id}", BFF_TOKEN, bff_h_docs_get},
    {"PUT", P "/documents/{id}", BFF_TOKEN, bff_h_docs_put},
    {"PATCH", P "/documents/{id}", BFF_TOKEN, bff_h_docs_patch},
    {"DELETE", P "/documents/{id}", BFF_TOKEN, bff_h_docs_delete},
    {"POST", P "/documents/{id}/upload-parts", BFF_TOKEN, bff_h_docs_upload_parts},
    {"POST", P "/documents/{id}/complete", BFF_TOKEN, bff_h_docs_complete},
    {"POST", P "/documents/{id}/archive", BFF_TOKEN, bff_h_docs_archive},
    {"POST", P "/documents/{id}/restore", BFF_TOKEN, bff_h_docs_restore},
    {"POST", P "/documents/{id}/undelete", BFF_TOKEN, bff_h_docs_undelete},
    {"GET", P "/documents/{id}/versions", BFF_TOKEN, bff_h_docs_versions},
    {"GET", P "/audit-events", BFF_TOKEN, bff_h_audit},
    {"GET", P "/dead-letters", BFF_TOKEN, bff_h_dead_letters},
    {"POST", P "/dead-letters/{id}/redrive", BFF_TOKEN, bff_h_redrive},
    {"GET", P "/healthcheck", BFF_PUBLIC, bff_h_healthcheck},
    {"GET", P "/openapi.json", BFF_PUBLIC, bff_h_openapi},
};

const size_t bff_n_routes = sizeof bff_routes / sizeof bff_routes[0];
