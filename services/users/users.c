/* Users of the caller's tenant: CreateUser, GetUser, ListUsers,
 * UpdateUser, DeleteUser, ChangePassword.
 *
 * Every statement filters on tenant_id = the token's tid, so another
 * tenant's user is simply not found. Reads are open to every member of the
 * tenant and to allowed service principals; writes need an admin, except
 * that anyone may change their own display name and password. Nobody
 * changes their own role or disables or deletes themselves (which also
 * means nobody raises their own role). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "db/page_token.h"
#include "base/secret.h"
#include "db/page_rows.h"
#include "users.h"
#include "base/validate.h"

/* Create/Get/UpdateUserResponse are all { base; User *user }: one builder,
 * given the method's response descriptor. */
_Static_assert(sizeof(Kumo__Users__V1__CreateUserResponse) ==
                       sizeof(Kumo__Users__V1__GetUserResponse) &&
                   sizeof(Kumo__Users__V1__UpdateUserResponse) ==
                       sizeof(Kumo__Users__V1__GetUserResponse),
               "user responses share one layout");
static kumo_code respond_user(struct kumo_rpc_call *call, const ProtobufCMessageDescriptor *d,
                              Kumo__Users__V1__User *u, ProtobufCMessage **response)
{
    Kumo__Users__V1__GetUserResponse *resp = kumo_rpc_call_new(call, d);
    resp->user = u;
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* Fetches a user of the tenant; answers not_found itself. */
static kumo_code fetch_user(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                            const char *id, Kumo__Users__V1__User **u)
{
    kumo_code rc = users_store_user_get(c, call, tid, id, u);
    if (rc == KUMO_CODE_NOT_FOUND)
        return kumo_rpc_call_error(call, rc, "no such user");
    return rc;
}

static kumo_code check_email(struct kumo_rpc_call *call, const char *email, char *norm)
{
    const char *why;
    if (kumo_email_check(email, strlen(email), norm, &why) != 0)
        return kumo_rpc_invalid(call, "email", why);
    return KUMO_CODE_OK;
}

/* A role a caller of rank `rank` may give a user. */
static kumo_code check_user_role(struct kumo_rpc_call *call, Kumo__Users__V1__Role role, int rank)
{
    /* rank is users_grant_rank: an API key's is one below its role. */
    if (role == KUMO__USERS__V1__ROLE__ROLE_SERVICE)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "role service belongs to API keys, not users");
    if (!users_role_valid_for_user(role))
        return kumo_rpc_invalid(call, "role", "must be viewer, editor or admin");
    if (users_role_rank(role) > rank)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   rank == 2 ? "cannot grant a role above editor here (an API key "
                                               "grants only roles below its own)"
                                             : "cannot grant a role above your own");
    return KUMO_CODE_OK;
}

static kumo_code require_admin(struct kumo_rpc_call *call, const struct kumo_principal *p)
{
    kumo_code rc = users_deny_service(call, p);
    if (rc == KUMO_CODE_OK && !users_caller_is_admin(p))
        rc = kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED, "admin role required");
    return rc;
}

/* ---- CreateUser ---- */

USERS_HANDLER(create_user)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__CreateUserRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = require_admin(call, p);
    char norm[KUMO_EMAIL_MAX + 1];
    if (rc == KUMO_CODE_OK)
        rc = check_email(call, req->email, norm);
    if (rc == KUMO_CODE_OK)
        rc = users_check_name(call, "display_name", req->display_name, 1);
    if (rc == KUMO_CODE_OK)
        rc = check_user_role(call, req->role, users_grant_rank(ctx, p));
    if (rc != KUMO_CODE_OK)
        return rc;
    char *phc = NULL;
    if ((rc = users_hash_password(ctx, call, "password", req->password, &phc)) != KUMO_CODE_OK)
        return rc;
    struct users_user_row u = {.role = req->role, .version = 1};
    u.create_us = u.update_us = kumo_now_us();
    u.id = kumo_rpc_call_alloc(call, USERS_ID_MAX + 1);
    u.tenant_id = (char *)p->tid;
    u.email = req->email;
    u.display_name = req->display_name;
    struct kumo_db_conn *c = NULL;
    if (kumo_id_new("us", u.id, USERS_ID_MAX + 1) != 0)
        rc = kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "internal error");
    else
        rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc == KUMO_CODE_OK)
        rc = users_store_user_insert(c, &u, norm, phc);
    kumo_free(phc);
    if (c == NULL)
        return rc;
    if (rc == KUMO_CODE_ALREADY_EXISTS) {
        kumo_db_release(c);
        return kumo_rpc_call_error(call, rc, "a user with this email exists in the tenant");
    }
    if (rc == KUMO_CODE_FAILED_PRECONDITION) {
        kumo_db_release(c);
        return kumo_rpc_call_error(call, rc, "the tenant no longer exists");
    }
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    kumo_db_release(c);
    u.tenant_id = kumo_rpc_call_alloc(call, strlen(p->tid) + 1);
    memcpy(u.tenant_id, p->tid, strlen(p->tid) + 1);
    return respond_user(call, &kumo__users__v1__create_user_response__descriptor,
                        users_user_message(call, &u), response);
}

/* ---- GetUser ---- */

USERS_HANDLER(get_user)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__GetUserRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = kumo_rpc_check_id(call, "user", req->id);
    struct kumo_db_conn *c;
    if (rc != KUMO_CODE_OK || (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__User *u = NULL;
    rc = fetch_user(call, c, p->tid, req->id, &u);
    kumo_db_release(c);
    if (rc == KUMO_CODE_NOT_FOUND)
        return rc;
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, NULL, rc);
    return respond_user(call, &kumo__users__v1__get_user_response__descriptor, u, response);
}

/* ---- ListUsers ---- */

/* The page token's scope: tenant, role filter and query. */
static void list_scope(struct kumo_buf *b, const char *tid, int role, const char *query)
{
    kumo_buf_appendf(b, "users|%s|%d|", tid, role);
    kumo_buf_append_str(b, query);
}

USERS_HANDLER(list_users)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__ListUsersRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    if (req->role != KUMO__USERS__V1__ROLE__ROLE_UNSPECIFIED &&
        !users_role_valid_for_user(req->role))
        return kumo_rpc_invalid(call, "role", "must be unset, viewer, editor or admin");
    const char *why;
    if (kumo_text_check(req->query, strlen(req->query), USERS_QUERY_MAX_CHARS, USERS_NAME_MAX_BYTES,
                        KUMO_TEXT_ALLOW_EMPTY, &why) != 0)
        return kumo_rpc_invalid(call, "query", why);
    struct kumo_buf scope = KUMO_BUF_INIT;
    list_scope(&scope, p->tid, req->role, req->query);
    struct kumo_db_page pg;
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_page_open(&pg, call, ctx->db, &scope, req->page_token, req->page_size,
                                     USERS_PAGE_DEFAULT, USERS_PAGE_MAX, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__ListUsersResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__list_users_response__descriptor);
    rc = users_store_user_page(c, call, &pg, p->tid, req->role, req->query, &resp->users,
                               &resp->n_users, &resp->next_page_token);
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    kumo_db_release(c);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- UpdateUser ---- */

enum { F_NAME = 1, F_ROLE = 2, F_DISABLED = 4, F_EMAIL = 8 };

static const struct kumo_rpc_mask_path mask_paths[] = {
    {"display_name", F_NAME}, {"role", F_ROLE}, {"disabled", F_DISABLED}, {"email", F_EMAIL}};

/* Fields the update does not apply must still be sane: the tenant and
 * etag inside `user` can only repeat what they are, and values outside the
 * mask stay within the sizes of the fields. */
static kumo_code check_unmasked(struct kumo_rpc_call *call, const struct kumo_principal *p,
                                const Kumo__Users__V1__UpdateUserRequest *req, unsigned fields)
{
    const Kumo__Users__V1__User *u = req->user;
    if (u->tenant_id[0] && strcmp(u->tenant_id, p->tid) != 0)
        return kumo_rpc_invalid(call, "user.tenant_id", "cannot be changed");
    if (u->etag[0] && req->etag[0] && strcmp(u->etag, req->etag) != 0)
        return kumo_rpc_invalid(call, "user.etag", "differs from etag");
    if (!(fields & F_EMAIL) && strlen(u->email) > KUMO_EMAIL_MAX)
        return kumo_rpc_invalid(call, "user.email", "is too long");
    if (!(fields & F_NAME) && strlen(u->display_name) > USERS_NAME_MAX_BYTES)
        return kumo_rpc_invalid(call, "user.display_name", "is too long");
    return KUMO_CODE_OK;
}

/* Who may change what (see the top of the file). */
static kumo_code authorize_update(struct kumo_rpc_call *call, const struct kumo_principal *p,
                                  const Kumo__Users__V1__User *u, unsigned fields)
{
    kumo_code rc = users_deny_service(call, p);
    if (rc != KUMO_CODE_OK)
        return rc;
    int self = strcmp(u->id, p->sub) == 0;
    if (!users_caller_is_admin(p)) {
        if (!self || fields != F_NAME)
            return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                       "only admins change users other than themselves or "
                                       "fields other than display_name");
        return KUMO_CODE_OK;
    }
    if (self && (fields & (F_ROLE | F_DISABLED)))
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "nobody changes their own role or disables themselves");
    if (fields & F_ROLE)
        return check_user_role(call, u->role,
                               users_grant_rank(kumo_rpc_call_service_data(call), p));
    return KUMO_CODE_OK;
}

/* An UPDATE that matched nothing: gone, or changed since the etag. */
static kumo_code update_missed(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                               const char *id)
{
    int64_t version;
    kumo_code rc = users_store_user_version(c, tid, id, &version);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, "no such user");
    kumo_db_rollback(c);
    kumo_db_release(c);
    return kumo_rpc_call_error(call, KUMO_CODE_ABORTED,
                               "the user changed since this etag: read it again");
}

static kumo_code apply_update(struct kumo_rpc_call *call, struct kumo_db_conn *c,
                              const struct kumo_principal *p, const Kumo__Users__V1__User *u,
                              unsigned fields, const char *norm, int64_t version,
                              Kumo__Users__V1__User **out)
{
    uint64_t n = 0;
    const struct users_user_change ch = {.set_name = (fields & F_NAME) != 0,
                                         .set_role = (fields & F_ROLE) != 0,
                                         .set_disabled = (fields & F_DISABLED) != 0,
                                         .set_email = (fields & F_EMAIL) != 0,
                                         .display_name = u->display_name,
                                         .email = (fields & F_EMAIL) ? u->email : "",
                                         .email_norm = norm,
                                         .role = u->role,
                                         .disabled = u->disabled};
    kumo_code rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = users_store_user_update(c, p->tid, u->id, version, &ch, kumo_now_us(), &n);
    if (rc == KUMO_CODE_ALREADY_EXISTS) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return kumo_rpc_call_error(call, rc, "a user with this email exists in the tenant");
    }
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    if (n == 0)
        return update_missed(call, c, p->tid, u->id);
    if ((fields & F_DISABLED) && u->disabled)
        rc = users_revoke_families(c, p->tid, u->id, "disabled");
    /* A disabled user's tokens, and a changed role's old tokens (they name
     * the old role), and those of the keys the user made (their role is
     * capped by the maker's), stop working everywhere within a second. */
    if (rc == KUMO_CODE_OK && (((fields & F_DISABLED) && u->disabled) || (fields & F_ROLE))) {
        const char *why = (fields & F_DISABLED) && u->disabled ? "disabled" : "role_changed";
        rc = users_revoke_tokens(c, p->tid, u->id, why);
        if (rc == KUMO_CODE_OK)
            rc = users_revoke_keys_of(c, p->tid, u->id, why);
    }
    if (rc == KUMO_CODE_OK)
        rc = fetch_user(call, c, p->tid, u->id, out);
    return kumo_db_call_commit(call, c, rc, NULL);
}

USERS_HANDLER(update_user)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__UpdateUserRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    const Kumo__Users__V1__User *u = req->user;
    if (u == NULL)
        return kumo_rpc_invalid(call, "user", "is required");
    unsigned fields;
    int64_t version;
    char norm[KUMO_EMAIL_MAX + 1] = "";
    kumo_code rc = kumo_rpc_check_id(call, "user", u->id);
    if (rc == KUMO_CODE_OK)
        rc = kumo_rpc_update_mask(call, req->update_mask, mask_paths,
                                  sizeof mask_paths / sizeof mask_paths[0], &fields);
    if (rc == KUMO_CODE_OK)
        rc = check_unmasked(call, p, req, fields);
    const char *etag = req->etag[0] ? req->etag : u->etag;
    if (rc == KUMO_CODE_OK && kumo_etag_parse(etag, &version) != 0)
        rc =
            kumo_rpc_invalid(call, "etag", "is required and must be an etag this service returned");
    if (rc == KUMO_CODE_OK && (fields & F_NAME))
        rc = users_check_name(call, "user.display_name", u->display_name, 1);
    if (rc == KUMO_CODE_OK && (fields & F_EMAIL))
        rc = check_email(call, u->email, norm);
    if (rc == KUMO_CODE_OK)
        rc = authorize_update(call, p, u, fields);
    struct kumo_db_conn *c;
    if (rc != KUMO_CODE_OK || (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__User *out = NULL;
    rc = apply_update(call, c, p, u, fields, norm, version, &out);
    if (rc != KUMO_CODE_OK)
        return rc;
    return respond_user(call, &kumo__users__v1__update_user_response__descriptor, out, response);
}

/* ---- DeleteUser ---- */

USERS_HANDLER(delete_user)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__DeleteUserRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = require_admin(call, p);
    int64_t version = 0;
    if (rc == KUMO_CODE_OK)
        rc = kumo_rpc_check_id(call, "user", req->id);
    if (rc == KUMO_CODE_OK && req->etag[0] && kumo_etag_parse(req->etag, &version) != 0)
        rc = kumo_rpc_invalid(call, "etag", "must be an etag this service returned");
    if (rc == KUMO_CODE_OK && strcmp(req->id, p->sub) == 0)
        rc = kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED, "nobody deletes themselves");
    struct kumo_db_conn *c;
    if (rc != KUMO_CODE_OK || (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    uint64_t n = 0;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = users_store_user_delete(c, p->tid, req->id, version, &n);
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    if (n == 0)
        return update_missed(call, c, p->tid, req->id);
    /* Refresh families go with the row (ON DELETE CASCADE); keys the user
     * made stop working too. */
    rc = users_store_keys_revoke_maker(c, p->tid, req->id);
    if (rc == KUMO_CODE_OK)
        rc = users_revoke_tokens(c, p->tid, req->id, "deleted");
    if (rc == KUMO_CODE_OK)
        rc = users_revoke_keys_of(c, p->tid, req->id, "deleted");
    rc = kumo_db_call_commit(call, c, rc, NULL);
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__DeleteUserResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__delete_user_response__descriptor);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- ChangePassword ---- */

/* Checks the caller's current password (throttled like a login). */
static kumo_code verify_current(struct users_ctx *ctx, struct kumo_rpc_call *call,
                                const struct kumo_principal *p, const char *phc, const char *pw)
{
    /* The account key is the user id here (sign-ins key by tenant|email):
     * a stolen session guessing its own password is throttled separately. */
    const char *addr = users_client_address(ctx, call);
    kumo_code rc = users_guard_admit(ctx, call, p->sub, addr);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = users_argon2_enter(ctx, call);
    if (rc != KUMO_CODE_OK)
        return rc;
    int err = kumo_password_verify(phc, pw, strlen(pw));
    users_argon2_leave(ctx);
    if (err == 0)
        return KUMO_CODE_OK;
    kumo_login_guard_failed(ctx->guard, p->sub, addr, kumo_now_ns() / 1000000);
    return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                               "current_password is not the current password");
}

static kumo_code store_password(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                                const char *id, const char *old_phc, const char *new_phc)
{
    uint64_t n = 0;
    kumo_code rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = users_store_password_set(c, tid, id, old_phc, new_phc, &n);
    if (rc == KUMO_CODE_OK && n == 0) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_ABORTED,
                                   "the password changed meanwhile: try again");
    }
    /* Every session of the user ends: whoever knew the old password must
     * not keep a refresh token. */
    if (rc == KUMO_CODE_OK)
        rc = users_revoke_families(c, tid, id, "password_changed");
    return kumo_db_call_commit(call, c, rc, NULL);
}

USERS_HANDLER(change_password)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__ChangePasswordRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = users_deny_service(call, p);
    const char *target = req->user_id[0] ? req->user_id : p->sub;
    int self = strcmp(target, p->sub) == 0;
    if (rc == KUMO_CODE_OK)
        rc = kumo_rpc_check_id(call, "user", target);
    if (rc == KUMO_CODE_OK && !self && !users_caller_is_admin(p))
        rc = kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                 "only admins change other users' passwords");
    if (rc == KUMO_CODE_OK && strlen(req->current_password) > KUMO_PASSWORD_MAX_LEN)
        rc = kumo_rpc_invalid(call, "current_password", "is too long");
    if (rc == KUMO_CODE_OK && self && req->current_password[0] == '\0')
        rc = kumo_rpc_invalid(call, "current_password", "is required for your own password");
    struct kumo_db_conn *c;
    if (rc != KUMO_CODE_OK || (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    char *old_phc = NULL;
    rc = users_store_password_get(c, call, p->tid, target, &old_phc);
    /* Not holding a connection through argon2. */
    kumo_db_release(c);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, NULL, rc, "no such user");
    if (self && (rc = verify_current(ctx, call, p, old_phc, req->current_password)) != KUMO_CODE_OK)
        return rc;
    char *phc = NULL;
    if ((rc = users_hash_password(ctx, call, "new_password", req->new_password, &phc)) !=
        KUMO_CODE_OK)
        return rc;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) == KUMO_CODE_OK)
        rc = store_password(call, c, p->tid, target, old_phc, phc);
    kumo_secret_wipe(phc, strlen(phc));
    kumo_free(phc);
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__ChangePasswordResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__change_password_response__descriptor);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
