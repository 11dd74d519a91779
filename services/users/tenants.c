/* CreateTenant (system administrators) and GetTenant. */
#include <string.h>

#include "base/alloc.h"

#include "users.h"
#include "base/validate.h"

static kumo_code check_create(struct users_ctx *ctx, struct kumo_rpc_call *call,
                              const struct kumo_principal *p,
                              const Kumo__Users__V1__CreateTenantRequest *req, char *norm)
{
    kumo_code rc = users_deny_service(call, p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (!users_caller_is_system_admin(ctx, call, p))
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "only system administrators create tenants");
    const char *why;
    if (kumo_slug_check(req->slug, strlen(req->slug), USERS_SLUG_MIN, USERS_SLUG_MAX, &why) != 0)
        return kumo_rpc_invalid(call, "slug", why);
    if ((rc = users_check_name(call, "name", req->name, 0)) != KUMO_CODE_OK)
        return rc;
    if (kumo_email_check(req->admin_email, strlen(req->admin_email), norm, &why) != 0)
        return kumo_rpc_invalid(call, "admin_email", why);
    return users_check_name(call, "admin_display_name", req->admin_display_name, 1);
}

/* The tenant and its first admin, in one transaction. */
static kumo_code insert_tenant(struct kumo_db_conn *c, const Kumo__Users__V1__Tenant *t,
                               const struct users_user_row *u, const char *norm, const char *phc)
{
    kumo_code rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = users_store_tenant_insert(c, t->id, t->slug, t->name, u->create_us);
    if (rc == KUMO_CODE_OK)
        rc = users_store_user_insert(c, u, norm, phc);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    return rc;
}

USERS_HANDLER(create_tenant)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__CreateTenantRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    char norm[KUMO_EMAIL_MAX + 1];
    kumo_code rc = check_create(ctx, call, p, req, norm);
    char *phc = NULL;
    if (rc != KUMO_CODE_OK || (rc = users_hash_password(ctx, call, "admin_password",
                                                        req->admin_password, &phc)) != KUMO_CODE_OK)
        return rc;
    struct users_user_row u = {.role = KUMO__USERS__V1__ROLE__ROLE_ADMIN,
                               .version = 1,
                               .email = req->admin_email,
                               .display_name = req->admin_display_name};
    u.create_us = u.update_us = kumo_now_us();
    /* The answer's Tenant is the row to insert. */
    Kumo__Users__V1__Tenant *t = kumo_rpc_call_new(call, &kumo__users__v1__tenant__descriptor);
    t->slug = req->slug;
    t->name = req->name;
    t->create_time = kumo_pb_timestamp(kumo_rpc_call_allocator(call), u.create_us);
    t->id = u.tenant_id = kumo_rpc_call_alloc(call, USERS_ID_MAX + 1);
    u.id = kumo_rpc_call_alloc(call, USERS_ID_MAX + 1);
    struct kumo_db_conn *c = NULL;
    if (kumo_id_new("tn", t->id, USERS_ID_MAX + 1) != 0 ||
        kumo_id_new("us", u.id, USERS_ID_MAX + 1) != 0)
        rc = kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "internal error");
    else if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) == KUMO_CODE_OK)
        rc = insert_tenant(c, t, &u, norm, phc);
    kumo_free(phc);
    if (c == NULL)
        return rc;
    if (rc == KUMO_CODE_ALREADY_EXISTS) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return kumo_rpc_call_error(call, rc, "a tenant with this slug exists");
    }
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    kumo_db_release(c);
    Kumo__Users__V1__CreateTenantResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__create_tenant_response__descriptor);
    resp->tenant = t;
    resp->admin = users_user_message(call, &u);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

USERS_HANDLER(get_tenant)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__GetTenantRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    const char *want = req->tenant_id[0] ? req->tenant_id : p->tid;
    /* Another tenant exists, as far as anyone but a system admin can tell,
     * only if it is theirs. */
    if (strcmp(want, p->tid) != 0) {
        kumo_code rc = kumo_rpc_check_id(call, "tenant", want);
        if (rc != KUMO_CODE_OK)
            return rc;
        if (!users_caller_is_system_admin(ctx, call, p))
            return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "no such tenant");
    }
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__GetTenantResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__get_tenant_response__descriptor);
    rc = users_store_tenant_get(c, call, want, &resp->tenant);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, "no such tenant");
    kumo_db_release(c);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
