/* Who the caller is and what it may do. Authentication is common/rpc_auth
 * (Bearer JWT -> principal); this file holds kumo-users' authorization
 * rules:
 *   - the tenant is the token's tid, nothing else;
 *   - roles rank viewer < editor < admin; service principals stand outside
 *     the ladder and may only use the read-only RPCs (GetTenant, GetUser,
 *     ListUsers) of the tenant their token names;
 *   - system administrators are the admins of the tenant whose slug is
 *     "system" (made by bootstrap): they alone create tenants and read any
 *     tenant. */
#include <string.h>

#include "users.h"

int users_auth_install(struct users_ctx *ctx, struct kumo_rpc_server *srv)
{
    kumo_rpc_server_set_auth(srv, kumo_rpc_jwt_auth_fn, ctx->auth);
    return 0;
}

const struct kumo_principal *users_caller(struct kumo_rpc_call *call)
{
    return kumo_rpc_principal(call);
}

int users_caller_is_admin(const struct kumo_principal *p)
{
    return p && !p->service && (p->roles & KUMO_ROLE_ADMIN);
}

int users_caller_rank(const struct kumo_principal *p)
{
    if (p == NULL || p->service)
        return 0;
    if (p->roles & KUMO_ROLE_ADMIN)
        return 3;
    if (p->roles & KUMO_ROLE_EDITOR)
        return 2;
    if (p->roles & KUMO_ROLE_VIEWER)
        return 1;
    return 0;
}

int users_key_principal(const struct kumo_principal *p)
{
    return p && strncmp(p->sub, USERS_KEY_SUB_PREFIX, strlen(USERS_KEY_SUB_PREFIX)) == 0;
}

/* Is `tid` in the comma-separated KUMO_API_KEYS_GRANT_TENANTS? */
static int tenant_lets_keys_grant(const struct users_ctx *ctx, const char *tid)
{
    const char *p = ctx->s.key_grant_tenants ? ctx->s.key_grant_tenants : "";
    size_t n = strlen(tid);
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        if ((size_t)(p - start) == n && n > 0 && memcmp(start, tid, n) == 0)
            return 1;
    }
    return 0;
}

int users_grant_rank(const struct users_ctx *ctx, const struct kumo_principal *p)
{
    int rank = users_caller_rank(p);
    if (users_key_principal(p) && !tenant_lets_keys_grant(ctx, p->tid))
        rank--; /* a key grants only below its own role */
    return rank;
}

kumo_code users_deny_service(struct kumo_rpc_call *call, const struct kumo_principal *p)
{
    if (p && p->service)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "service principals may not call this method");
    return KUMO_CODE_OK;
}

kumo_code users_system_tenant_id(struct users_ctx *ctx, struct kumo_rpc_call *call,
                                 char out[USERS_ID_MAX + 1])
{
    pthread_mutex_lock(&ctx->system_mu);
    int known = ctx->system_tid[0] != '\0';
    if (known)
        memcpy(out, ctx->system_tid, sizeof ctx->system_tid);
    pthread_mutex_unlock(&ctx->system_mu);
    if (known)
        return KUMO_CODE_OK;
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    char id[USERS_ID_MAX + 1];
    rc = users_store_tenant_id_by_slug(c, USERS_SYSTEM_SLUG, id, sizeof id);
    kumo_db_release(c);
    if (rc != KUMO_CODE_OK)
        return rc;
    /* The system tenant is never renamed or deleted: cache it for good. */
    pthread_mutex_lock(&ctx->system_mu);
    memcpy(ctx->system_tid, id, sizeof id);
    pthread_mutex_unlock(&ctx->system_mu);
    memcpy(out, id, sizeof id);
    return KUMO_CODE_OK;
}

int users_caller_is_system_admin(struct users_ctx *ctx, struct kumo_rpc_call *call,
                                 const struct kumo_principal *p)
{
    if (!users_caller_is_admin(p))
        return 0;
    char sys[USERS_ID_MAX + 1];
    if (users_system_tenant_id(ctx, call, sys) != KUMO_CODE_OK)
        return 0;
    return strcmp(sys, p->tid) == 0;
}
