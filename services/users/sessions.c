/* Sessions: Authenticate (password -> access JWT + refresh token),
 * RefreshToken (rotation with reuse detection), Logout.
 *
 * A login starts a refresh *family*. Each refresh token is 256 random bits,
 * stored only as HMAC(pepper, token) and usable once: RefreshToken marks it
 * used and issues the next one of the family. Presenting a used token again
 * means two parties hold the family (a stolen token), so the whole family
 * is revoked and both must sign in again.
 *
 * Unknown account and wrong password are indistinguishable: same error,
 * same argon2 work (a dummy verify for unknown accounts), same throttling.
 * Failures are counted per account (tenant + e-mail) and per client
 * address; past either limit Authenticate answers resource_exhausted before
 * any argon2 work. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "base/secret.h"
#include "users.h"
#include "base/validate.h"
#include "auth/client_addr.h"

#define REFRESH_BYTES   32
#define INVALID_LOGIN   "invalid credentials"
#define INVALID_REFRESH "invalid or expired refresh token"

kumo_code users_issue_access(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *sub,
                             const char *tid, unsigned roles, int64_t ttl_s, char **token,
                             int64_t *exp_s)
{
    int64_t now = kumo_now_us() / 1000000;
    struct kumo_jwt_claims cl = {sub, tid, roles, now, ttl_s};
    char *tok = NULL;
    int rc = kumo_jwt_sign(ctx->signer, &cl, &tok, NULL);
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, kumo_rpc_call_request_id(call), "cannot sign an access token",
                 "error", kumo_jwt_strerror(rc), NULL);
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "internal error");
    }
    size_t n = strlen(tok);
    *token = kumo_rpc_call_alloc(call, n + 1);
    memcpy(*token, tok, n + 1);
    kumo_secret_wipe(tok, n);
    kumo_free(tok);
    *exp_s = now + ttl_s;
    return KUMO_CODE_OK;
}

kumo_code users_revoke_families(struct kumo_db_conn *c, const char *tenant_id, const char *user_id,
                                const char *reason)
{
    return users_store_families_revoke_user(c, tenant_id, user_id, reason);
}

const char *users_client_address(struct users_ctx *ctx, struct kumo_rpc_call *call)
{
    const char *peer = kumo_rpc_call_peer(call);
    char *out = kumo_rpc_call_alloc(call, 64);
    kumo_client_addr(peer, kumo_rpc_call_header(call, "x-forwarded-for"), ctx->s.trusted_proxies,
                     out, 64);
    return out[0] ? out : "unknown";
}

kumo_code users_guard_admit(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *account,
                            const char *addr)
{
    int64_t wait_ms = 0;
    if (kumo_login_guard_admit(ctx->guard, account, addr, kumo_now_ns() / 1000000, &wait_ms))
        return KUMO_CODE_OK;
    char secs[24];
    snprintf(secs, sizeof secs, "%lld", (long long)((wait_ms + 999) / 1000));
    kumo_rpc_call_set_trailer(call, "retry-after", secs);
    kumo_metrics_counter_add("kumo_users_login_throttled_total",
                             "sign-ins and key exchanges refused by throttling", 1);
    kumo_log(KUMO_LOG_INFO, kumo_rpc_call_request_id(call), "credential check throttled", "client",
             addr, "retry_after_s", secs, NULL);
    return kumo_rpc_call_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                               "too many failed attempts; try again in %s s", secs);
}

/* ---- refresh families ---- */

/* Starts a family for a user and issues its first refresh token. Inside
 * the caller's transaction. */
static kumo_code start_family(struct users_ctx *ctx, struct kumo_db_conn *c, const char *tid,
                              const char *uid, const char *token, int64_t *exp_us)
{
    char fid[USERS_ID_MAX + 1], hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    if (kumo_id_new("rf", fid, USERS_ID_MAX + 1) != 0 ||
        kumo_secret_hash_hex(ctx->pepper, ctx->pepper_len, KUMO_SECRET_PURPOSE_REFRESH, token,
                             strlen(token), hash) != 0)
        return KUMO_CODE_INTERNAL;
    int64_t now = kumo_now_us();
    int64_t fam_exp = now + ctx->s.family_ttl_s * 1000000;
    *exp_us = now + ctx->s.refresh_ttl_s * 1000000;
    kumo_code rc = users_store_family_insert(c, fid, tid, uid, now, fam_exp);
    if (rc == KUMO_CODE_OK)
        rc = users_store_token_insert(c, hash, fid, now, *exp_us);
    return rc;
}

/* A fresh refresh token in the call's arena (*token), and a database
 * connection (*c) for the transaction that stores it. Returns OK or the
 * call's answer. */
static kumo_code new_refresh_token(struct users_ctx *ctx, struct kumo_rpc_call *call, char **token,
                                   struct kumo_db_conn **c)
{
    char *t = NULL;
    if (kumo_secret_random(REFRESH_BYTES, &t) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "internal error");
    size_t n = strlen(t);
    *token = kumo_rpc_call_alloc(call, n + 1);
    memcpy(*token, t, n + 1);
    kumo_secret_wipe(t, n);
    kumo_free(t);
    return kumo_db_call_acquire(ctx->db, call, c);
}

/* The rest of a session's answer once its refresh token is stored: an
 * access token for the user with `role`, and both tokens' expiry times
 * (the refresh token's is rexp_us). */
static kumo_code session_tokens(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *uid,
                                const char *tid, int64_t role, int64_t rexp_us, char **access,
                                Google__Protobuf__Timestamp **access_exp,
                                Google__Protobuf__Timestamp **refresh_exp)
{
    int64_t aexp_s;
    kumo_code rc =
        users_issue_access(ctx, call, uid, tid, users_role_bit((Kumo__Users__V1__Role)role),
                           ctx->s.access_ttl_s, access, &aexp_s);
    if (rc != KUMO_CODE_OK)
        return rc;
    *access_exp = kumo_pb_timestamp(kumo_rpc_call_allocator(call), aexp_s * 1000000);
    *refresh_exp = kumo_pb_timestamp(kumo_rpc_call_allocator(call), rexp_us);
    return KUMO_CODE_OK;
}

/* ---- Authenticate ---- */

static kumo_code refuse_login(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *acct,
                              const char *addr, const char *why)
{
    kumo_login_guard_failed(ctx->guard, acct, addr, kumo_now_ns() / 1000000);
    kumo_metrics_counter_add("kumo_users_login_failures_total", "failed sign-ins", 1);
    kumo_log(KUMO_LOG_INFO, kumo_rpc_call_request_id(call), "sign-in refused", "reason", why,
             "client", addr, NULL);
    return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, INVALID_LOGIN);
}

/* Replaces a hash made with weaker parameters than today's (best effort:
 * the login succeeds either way). */
static void maybe_rehash(struct users_ctx *ctx, struct kumo_rpc_call *call, struct kumo_db_conn *c,
                         const struct users_login_row *l, const char *pw)
{
    if (kumo_password_needs_rehash(ctx->hasher, l->phc) != 1)
        return;
    char *phc = NULL;
    if (users_argon2_enter(ctx, call) != KUMO_CODE_OK)
        return;
    int err = kumo_password_hash(ctx->hasher, pw, strlen(pw), &phc);
    users_argon2_leave(ctx);
    if (err != 0)
        return;
    users_store_password_set(c, l->u.tenant_id, l->u.id, l->phc, phc, NULL);
    kumo_free(phc);
    kumo_log(KUMO_LOG_INFO, kumo_rpc_call_request_id(call), "password rehashed", "user", l->u.id,
             NULL);
}

/* Looks the account up, then verifies the password (dummy work when the
 * account does not exist). Returns OK with *found filled, or an answer. */
static kumo_code check_login(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *slug,
                             const char *norm, const char *pw, const char *acct, const char *addr,
                             struct users_login_row *l)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = users_store_login_get(c, call, slug, norm, l);
    kumo_db_release(c);
    if (rc != KUMO_CODE_OK && rc != KUMO_CODE_NOT_FOUND)
        return users_db_fail(call, NULL, rc);
    int found = rc == KUMO_CODE_OK;
    if ((rc = users_argon2_enter(ctx, call)) != KUMO_CODE_OK)
        return rc;
    int err = found ? kumo_password_verify(l->phc, pw, strlen(pw))
                    : kumo_password_verify_dummy(ctx->hasher, pw, strlen(pw));
    users_argon2_leave(ctx);
    if (!found)
        return refuse_login(ctx, call, acct, addr, "unknown account");
    if (err != 0)
        return refuse_login(ctx, call, acct, addr,
                            err == KUMO_PASSWORD_ERR_MISMATCH ? "wrong password"
                                                              : kumo_password_strerror(err));
    if (l->u.disabled)
        return refuse_login(ctx, call, acct, addr, "account disabled");
    return KUMO_CODE_OK;
}

USERS_HANDLER(authenticate)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__AuthenticateRequest *req = (const void *)request;
    const char *why;
    char norm[KUMO_EMAIL_MAX + 1];
    if (kumo_slug_check(req->tenant, strlen(req->tenant), 1, USERS_SLUG_MAX, &why) != 0)
        return kumo_rpc_invalid(call, "tenant", why);
    if (kumo_email_check(req->email, strlen(req->email), norm, &why) != 0)
        return kumo_rpc_invalid(call, "email", why);
    size_t pwlen = strlen(req->password);
    if (pwlen == 0 || pwlen > KUMO_PASSWORD_MAX_LEN)
        return kumo_rpc_invalid(call, "password", "must be 1 to 1024 bytes long");
    const char *addr = users_client_address(ctx, call);
    struct kumo_buf acct = KUMO_BUF_INIT;
    kumo_buf_appendf(&acct, "%s|%s", req->tenant, norm);
    kumo_code rc = users_guard_admit(ctx, call, (const char *)acct.data, addr);
    if (rc != KUMO_CODE_OK) {
        kumo_buf_free(&acct);
        return rc;
    }
    struct users_login_row l;
    rc =
        check_login(ctx, call, req->tenant, norm, req->password, (const char *)acct.data, addr, &l);
    if (rc == KUMO_CODE_OK)
        kumo_login_guard_succeeded(ctx->guard, (const char *)acct.data, addr);
    kumo_buf_free(&acct);
    if (rc != KUMO_CODE_OK)
        return rc;

    Kumo__Users__V1__AuthenticateResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__authenticate_response__descriptor);
    struct kumo_db_conn *c;
    if ((rc = new_refresh_token(ctx, call, &resp->refresh_token, &c)) != KUMO_CODE_OK)
        return rc;
    maybe_rehash(ctx, call, c, &l, req->password);
    int64_t rexp = 0;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = start_family(ctx, c, l.u.tenant_id, l.u.id, resp->refresh_token, &rexp);
    rc = kumo_db_call_commit(call, c, rc, NULL);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = session_tokens(ctx, call, l.u.id, l.u.tenant_id, l.u.role, rexp, &resp->access_token,
                        &resp->access_token_expire_time, &resp->refresh_token_expire_time);
    if (rc != KUMO_CODE_OK)
        return rc;
    resp->user = users_user_message(call, &l.u);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- RefreshToken ---- */

/* Ends the transaction with a refusal; `reason` (NULL: none) revokes the
 * family first and is committed, so the revocation sticks. */
static kumo_code refuse_refresh(struct kumo_rpc_call *call, struct kumo_db_conn *c,
                                const struct users_refresh_row *r, const char *reason)
{
    kumo_code rc = KUMO_CODE_OK;
    if (reason) {
        rc = users_store_family_revoke(c, r->family, reason);
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        kumo_log(KUMO_LOG_WARN, kumo_rpc_call_request_id(call), "refresh family revoked", "reason",
                 reason, "family", r->family, "user", r->user_id, NULL);
    }
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    if (kumo_db_in_transaction(c))
        kumo_db_rollback(c);
    kumo_db_release(c);
    return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, INVALID_REFRESH);
}

/* The rotation itself, inside a transaction holding the token row. On OK
 * *role is the user's current role and *rexp the new token's expiry. */
static kumo_code rotate(struct users_ctx *ctx, struct kumo_rpc_call *call, struct kumo_db_conn *c,
                        const char *hash, const char *next, struct users_refresh_row *r,
                        int64_t *role, int64_t *rexp)
{
    kumo_code rc = users_store_token_get(c, call, hash, 1, r);
    if (rc == KUMO_CODE_NOT_FOUND)
        return refuse_refresh(call, c, r, NULL);
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    int64_t now = kumo_now_us();
    if (!r->revoked_null)
        return refuse_refresh(call, c, r, NULL);
    /* A spent token again: theft (the family dies), unless it comes back
     * within the grace window of its first use, as a reload does whose
     * answer (the successor) was lost; then it rotates again. The window is
     * anchored at the first use (used_time is never moved). */
    if (!r->used_null &&
        !(ctx->s.refresh_reuse_grace_us > 0 && now - r->used <= ctx->s.refresh_reuse_grace_us))
        return refuse_refresh(call, c, r, "reuse");
    if (r->tok_exp <= now || r->fam_exp <= now)
        return refuse_refresh(call, c, r, NULL);
    int64_t ud[2];
    rc = users_store_user_role(c, r->tenant_id, r->user_id, &ud[0], &ud[1]);
    if (rc == KUMO_CODE_NOT_FOUND || (rc == KUMO_CODE_OK && ud[1]))
        return refuse_refresh(call, c, r, "user_gone");
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    char next_hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    kumo_secret_hash_hex(ctx->pepper, ctx->pepper_len, KUMO_SECRET_PURPOSE_REFRESH, next,
                         strlen(next), next_hash);
    *rexp = now + ctx->s.refresh_ttl_s * 1000000;
    if (*rexp > r->fam_exp)
        *rexp = r->fam_exp;
    rc = users_store_token_use(c, hash, now);
    if (rc == KUMO_CODE_OK)
        rc = users_store_token_insert(c, next_hash, r->family, now, *rexp);
    rc = kumo_db_call_commit(call, c, rc, NULL);
    if (rc != KUMO_CODE_OK)
        return rc;
    *role = ud[0];
    return KUMO_CODE_OK;
}

/* Hashes a presented refresh token into out, refusing a malformed one
 * before any lookup (answers unauthenticated, as for an unknown one). */
static kumo_code presented_hash(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *tok,
                                char out[KUMO_SECRET_HASH_HEX_LEN + 1])
{
    size_t n = strlen(tok);
    if (kumo_secret_token_check(tok, n, REFRESH_BYTES) != 0 ||
        kumo_secret_hash_hex(ctx->pepper, ctx->pepper_len, KUMO_SECRET_PURPOSE_REFRESH, tok, n,
                             out) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, INVALID_REFRESH);
    return KUMO_CODE_OK;
}

USERS_HANDLER(refresh_token)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__RefreshTokenRequest *req = (const void *)request;
    char hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    kumo_code rc = presented_hash(ctx, call, req->refresh_token, hash);
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__RefreshTokenResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__refresh_token_response__descriptor);
    struct kumo_db_conn *c;
    if ((rc = new_refresh_token(ctx, call, &resp->refresh_token, &c)) != KUMO_CODE_OK)
        return rc;
    struct users_refresh_row r = {0};
    int64_t role = 0, rexp = 0;
    rc = kumo_db_begin(c);
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    rc = rotate(ctx, call, c, hash, resp->refresh_token, &r, &role, &rexp);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = session_tokens(ctx, call, r.user_id, r.tenant_id, role, rexp, &resp->access_token,
                        &resp->access_token_expire_time, &resp->refresh_token_expire_time);
    if (rc != KUMO_CODE_OK)
        return rc;
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- Logout ---- */

/* Logout is KUMO_RPC_PUBLIC: the refresh token itself is the proof of
 * possession (whoever holds it could as well spend it with RefreshToken, or
 * revoke its family by replaying it), and a browser or the BFF ending a
 * session may no longer hold a live access token. So it uses no principal:
 * it revokes exactly the family the presented token belongs to, and nothing
 * else.
 *
 * A known token, in any state (live, spent, expired, already revoked),
 * answers OK: revoking is idempotent, so a repeated logout succeeds. A
 * malformed or unknown token answers unauthenticated with the same text as
 * RefreshToken, so a guess learns nothing it could not learn there. */
static kumo_code logout_family(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *hash)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct users_refresh_row r = {0};
    rc = users_store_token_get(c, call, hash, 0, &r);
    if (rc == KUMO_CODE_NOT_FOUND) {
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, INVALID_REFRESH);
    }
    if (rc == KUMO_CODE_OK && r.revoked_null)
        rc = users_store_family_revoke(c, r.family, "logout");
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    kumo_db_release(c);
    return KUMO_CODE_OK;
}

USERS_HANDLER(logout)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__LogoutRequest *req = (const void *)request;
    char hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    kumo_code rc = presented_hash(ctx, call, req->refresh_token, hash);
    if (rc == KUMO_CODE_OK)
        rc = logout_family(ctx, call, hash);
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__LogoutResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__logout_response__descriptor);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- SignOutEverywhere ---- */

USERS_HANDLER(sign_out_everywhere)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__SignOutEverywhereRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = users_deny_service(call, p);
    if (rc == KUMO_CODE_OK && users_key_principal(p))
        rc = kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                 "an API key has no sessions; revoke the key instead");
    const char *uid = req->user_id[0] ? req->user_id : p->sub;
    if (rc == KUMO_CODE_OK && strcmp(uid, p->sub) != 0) {
        if (!users_caller_is_admin(p))
            rc = kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                     "only admins sign other users out");
        else
            rc = kumo_rpc_check_id(call, "user", uid);
    }
    struct kumo_db_conn *c;
    if (rc != KUMO_CODE_OK || (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    rc = users_store_user_exists(c, p->tid, uid);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = users_revoke_families(c, p->tid, uid, "signed_out_everywhere");
    if (rc == KUMO_CODE_OK)
        rc = users_revoke_tokens(c, p->tid, uid, "signed_out_everywhere");
    rc = kumo_db_call_commit(call, c, rc, "no such user");
    if (rc != KUMO_CODE_OK)
        return rc;
    kumo_log(KUMO_LOG_INFO, kumo_rpc_call_request_id(call), "signed out everywhere", "user", uid,
             "by", p->sub, NULL);
    Kumo__Users__V1__SignOutEverywhereResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__sign_out_everywhere_response__descriptor);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
