/* API keys: CreateApiKey, ListApiKeys, RevokeApiKey, ExchangeApiKey.
 *
 * A key is "kumo_<id>_<secret>" (secret.h); only HMAC(pepper, secret) is
 * stored, and the whole key is in the CreateApiKey response only. A key
 * acts in its tenant with its role, until it expires or is revoked. At most
 * two keys of one name are live at once: enough to roll a credential over
 * (create the new one, deploy it, revoke the old one), not enough to pile
 * up forgotten ones.
 *
 * Who may do what: admins manage every key of their tenant; other members
 * create keys with a role no higher than their own and see and revoke only
 * keys they made. A key made by a user acts at most with its maker's
 * current role and dies with the maker (deleted or disabled). Keys of role
 * "service" are service principals: only system administrators make them
 * (in the system tenant), their name is the service's name, and exchanging
 * one needs the tenant to act for named explicitly. API-key principals
 * cannot make keys (no chains of keys). */
#include <string.h>

#include "runtime/log.h"
#include "runtime/metrics.h"
#include "db/page_token.h"
#include "base/secret.h"
#include "db/page_rows.h"
#include "users.h"
#include "base/validate.h"

#define KEY_SUB_PREFIX USERS_KEY_SUB_PREFIX
#define INVALID_KEY    "invalid API key"
#define MAX_EXPIRE_S   253402300799LL /* 9999-12-31T23:59:59Z */

/* ---- CreateApiKey ---- */

static kumo_code check_key_role(struct users_ctx *ctx, struct kumo_rpc_call *call,
                                const struct kumo_principal *p,
                                const Kumo__Users__V1__CreateApiKeyRequest *req)
{
    const char *why;
    if (req->role == KUMO__USERS__V1__ROLE__ROLE_SERVICE) {
        if (!users_caller_is_system_admin(ctx, call, p))
            return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                       "only system administrators create service keys");
        if (kumo_slug_check(req->name, strlen(req->name), 1, KUMO_RPC_AUTH_SERVICE_MAX, &why) != 0)
            return kumo_rpc_invalid(call, "name", "of a service key must be the service's name");
        return KUMO_CODE_OK;
    }
    if (!users_role_valid_for_user(req->role))
        return kumo_rpc_invalid(call, "role", "must be viewer, editor, admin or service");
    if (users_role_rank(req->role) > users_caller_rank(p))
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "a key cannot have a role above your own");
    return KUMO_CODE_OK;
}

static kumo_code check_expiry(struct kumo_rpc_call *call, const Google__Protobuf__Timestamp *t,
                              int64_t now_us, int64_t *exp_us)
{
    *exp_us = 0;
    if (t == NULL)
        return KUMO_CODE_OK;
    if (t->nanos < 0 || t->nanos > 999999999 || t->seconds > MAX_EXPIRE_S)
        return kumo_rpc_invalid(call, "expire_time", "is not a valid time");
    int64_t us = t->seconds * 1000000 + t->nanos / 1000;
    if (t->seconds <= 0 || us <= now_us)
        return kumo_rpc_invalid(call, "expire_time", "must be in the future");
    *exp_us = us;
    return KUMO_CODE_OK;
}

/* Inside a transaction locking the tenant row, so two creations cannot both
 * see one live key. */
static kumo_code count_live(struct kumo_db_conn *c, const char *tid, const char *name, int64_t now,
                            int64_t *live)
{
    kumo_code rc = users_store_tenant_exists(c, tid, 1);
    if (rc != KUMO_CODE_OK)
        return rc == KUMO_CODE_NOT_FOUND ? KUMO_CODE_FAILED_PRECONDITION : rc;
    return users_store_keys_live(c, tid, name, now, live);
}

/* Stores the key. Answers the call itself on failure (the transaction is
 * rolled back); `c` stays the caller's to release. */
static kumo_code insert_key(struct users_ctx *ctx, struct kumo_rpc_call *call,
                            struct kumo_db_conn *c, const struct kumo_principal *p,
                            const struct kumo_api_key *key, struct users_key_new *k)
{
    char hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    if (kumo_secret_hash_hex(ctx->pepper, ctx->pepper_len, KUMO_SECRET_PURPOSE_API_KEY, key->secret,
                             strlen(key->secret), hash) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "internal error");
    int64_t live = 0;
    kumo_code rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = count_live(c, p->tid, k->name, k->create_us, &live);
    if (rc == KUMO_CODE_OK && live >= USERS_LIVE_KEYS_PER_NAME)
        rc = kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                 "two keys of this name are live: revoke one first");
    else if (rc == KUMO_CODE_FAILED_PRECONDITION)
        rc = kumo_rpc_call_error(call, rc, "the tenant no longer exists");
    else if (rc == KUMO_CODE_OK) {
        k->id = key->id;
        k->tenant_id = p->tid;
        k->secret_hash = hash;
        k->created_by = p->sub;
        rc = users_store_key_insert(c, k);
    }
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc == KUMO_CODE_OK)
        return rc;
    if (rc != KUMO_CODE_FAILED_PRECONDITION)
        rc = users_db_fail(call, NULL, rc); /* reads the DB error before the rollback */
    if (kumo_db_in_transaction(c))
        kumo_db_rollback(c);
    return rc;
}

USERS_HANDLER(create_api_key)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__CreateApiKeyRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = users_deny_service(call, p);
    if (rc == KUMO_CODE_OK && users_key_principal(p))
        rc = kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                 "API keys cannot create API keys");
    if (rc == KUMO_CODE_OK)
        rc = users_check_name(call, "name", req->name, 0);
    if (rc == KUMO_CODE_OK)
        rc = check_key_role(ctx, call, p, req);
    struct users_key_new k = {.role = req->role, .create_us = kumo_now_us(), .name = req->name};
    if (rc == KUMO_CODE_OK)
        rc = check_expiry(call, req->expire_time, k.create_us, &k.expire_us);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_api_key key;
    char *text = kumo_rpc_call_alloc(call, KUMO_API_KEY_LEN + 1);
    if (kumo_api_key_generate(&key, text) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "internal error");
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    rc = insert_key(ctx, call, c, p, &key, &k);
    kumo_secret_wipe(&key.secret, sizeof key.secret);
    kumo_db_release(c);
    if (rc != KUMO_CODE_OK)
        return rc;
    /* The new key as it was stored (never used nor revoked yet). */
    Kumo__Users__V1__ApiKey *m = kumo_rpc_call_new(call, &kumo__users__v1__api_key__descriptor);
    m->id = kumo_rpc_call_alloc(call, KUMO_API_KEY_ID_LEN + 1);
    memcpy(m->id, key.id, KUMO_API_KEY_ID_LEN + 1);
    m->name = req->name;
    m->role = req->role;
    m->create_time = kumo_pb_timestamp(kumo_rpc_call_allocator(call), k.create_us);
    if (k.expire_us)
        m->expire_time = kumo_pb_timestamp(kumo_rpc_call_allocator(call), k.expire_us);
    Kumo__Users__V1__CreateApiKeyResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__create_api_key_response__descriptor);
    resp->api_key = m;
    resp->secret = text;
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- ListApiKeys ---- */

USERS_HANDLER(list_api_keys)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__ListApiKeysRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = users_deny_service(call, p);
    if (rc != KUMO_CODE_OK)
        return rc;
    int admin = users_caller_is_admin(p);
    struct kumo_buf scope = KUMO_BUF_INIT;
    kumo_buf_appendf(&scope, "keys|%s|%s", p->tid, admin ? "" : p->sub);
    struct kumo_db_page pg;
    struct kumo_db_conn *c;
    if ((rc = kumo_db_page_open(&pg, call, ctx->db, &scope, req->page_token, req->page_size,
                                USERS_PAGE_DEFAULT, USERS_PAGE_MAX, &c)) != KUMO_CODE_OK)
        return rc;
    Kumo__Users__V1__ListApiKeysResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__list_api_keys_response__descriptor);
    rc = users_store_key_page(c, call, &pg, p->tid, admin, p->sub, &resp->api_keys,
                              &resp->n_api_keys, &resp->next_page_token);
    if (rc != KUMO_CODE_OK)
        return users_db_fail(call, c, rc);
    kumo_db_release(c);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- RevokeApiKey ---- */

USERS_HANDLER(revoke_api_key)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__RevokeApiKeyRequest *req = (const void *)request;
    const struct kumo_principal *p = users_caller(call);
    kumo_code rc = users_deny_service(call, p);
    if (rc == KUMO_CODE_OK)
        rc = kumo_rpc_check_id(call, "api key", req->id);
    struct kumo_db_conn *c;
    if (rc != KUMO_CODE_OK || (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    int admin = users_caller_is_admin(p);
    uint64_t n = 0;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = users_store_key_revoke(c, p->tid, req->id, admin, p->sub, &n);
    if (rc == KUMO_CODE_OK && n > 0) {
        /* Tokens already exchanged for it die everywhere within a second. */
        char subject[sizeof KEY_SUB_PREFIX + USERS_ID_MAX];
        snprintf(subject, sizeof subject, "%s%s", KEY_SUB_PREFIX, req->id);
        rc = users_revoke_tokens(c, p->tid, subject, "key_revoked");
    }
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc == KUMO_CODE_OK && n == 0) {
        /* Already revoked (fine: revoking is idempotent) or not visible. */
        rc = users_store_key_exists(c, p->tid, req->id, admin, p->sub);
    }
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, "no such api key");
    kumo_db_release(c);
    Kumo__Users__V1__RevokeApiKeyResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__revoke_api_key_response__descriptor);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* ---- ExchangeApiKey ---- */

static kumo_code refuse_key(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *addr,
                            const char *why)
{
    kumo_login_guard_failed(ctx->guard, NULL, addr, kumo_now_ns() / 1000000);
    kumo_metrics_counter_add("kumo_users_api_key_failures_total", "refused API key exchanges", 1);
    kumo_log(KUMO_LOG_INFO, kumo_rpc_call_request_id(call), "api key refused", "reason", why,
             "client", addr, NULL);
    return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, INVALID_KEY);
}

/* Why a found key does not work, or NULL if it does. */
static const char *key_problem(struct users_ctx *ctx, const struct kumo_api_key *key,
                               const struct users_key_exchange_row *x)
{
    char hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    kumo_secret_hash_hex(ctx->pepper, ctx->pepper_len, KUMO_SECRET_PURPOSE_API_KEY, key->secret,
                         strlen(key->secret), hash);
    int same = strlen(x->secret_hash) == KUMO_SECRET_HASH_HEX_LEN &&
               kumo_secret_equal(hash, x->secret_hash, KUMO_SECRET_HASH_HEX_LEN);
    kumo_secret_wipe(hash, sizeof hash);
    if (!same)
        return "wrong secret";
    if (!x->revoke_null)
        return "revoked";
    if (!x->expire_null && x->expire_us <= kumo_now_us())
        return "expired";
    if (x->created_by && (x->maker_role_null || x->maker_disabled))
        return "its maker is gone or disabled";
    return NULL;
}

/* A working key used for another tenant than its own (service keys name
 * theirs): refused before anything is recorded. */
static int wrong_tenant(const struct users_key_exchange_row *x, const char *tenant_id)
{
    return x->role != KUMO__USERS__V1__ROLE__ROLE_SERVICE && tenant_id[0] &&
           strcmp(tenant_id, x->tenant_id) != 0;
}

/* Finds and checks the key, recording its use. OK with *x filled, or an
 * answer. */
static kumo_code check_key(struct users_ctx *ctx, struct kumo_rpc_call *call,
                           const struct kumo_api_key *key, const char *addr, const char *tenant_id,
                           struct users_key_exchange_row *x)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = users_store_key_exchange_get(c, call, key->id, x);
    const char *why = rc == KUMO_CODE_OK ? key_problem(ctx, key, x) : NULL;
    int foreign = rc == KUMO_CODE_OK && why == NULL && wrong_tenant(x, tenant_id);
    if (rc == KUMO_CODE_OK && why == NULL && !foreign)
        rc = users_store_key_touch(c, key->id);
    if (rc != KUMO_CODE_OK && rc != KUMO_CODE_NOT_FOUND)
        return users_db_fail(call, c, rc);
    kumo_db_release(c);
    if (rc == KUMO_CODE_NOT_FOUND)
        return refuse_key(ctx, call, addr, "unknown key id");
    if (why)
        return refuse_key(ctx, call, addr, why);
    if (foreign)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "an API key acts only in its own tenant");
    return KUMO_CODE_OK;
}

static kumo_code service_tenant(struct users_ctx *ctx, struct kumo_rpc_call *call,
                                const char *tenant_id)
{
    if (tenant_id[0] == '\0')
        return kumo_rpc_invalid(call, "tenant_id", "is required for a service key");
    kumo_code rc = kumo_rpc_check_id(call, "tenant", tenant_id);
    struct kumo_db_conn *c;
    if (rc != KUMO_CODE_OK || (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    rc = users_store_tenant_exists(c, tenant_id, 0);
    kumo_db_release(c);
    if (rc == KUMO_CODE_NOT_FOUND)
        return kumo_rpc_call_error(call, rc, "no such tenant");
    return rc == KUMO_CODE_OK ? rc : users_db_fail(call, NULL, rc);
}

USERS_HANDLER(exchange_api_key)
{
    struct users_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Users__V1__ExchangeApiKeyRequest *req = (const void *)request;
    const char *addr = users_client_address(ctx, call);
    kumo_code rc = users_guard_admit(ctx, call, NULL, addr);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_api_key key;
    if (kumo_api_key_parse(req->api_key, strlen(req->api_key), &key) != 0)
        return refuse_key(ctx, call, addr, "malformed key");
    struct users_key_exchange_row x = {0};
    rc = check_key(ctx, call, &key, addr, req->tenant_id, &x);
    kumo_secret_wipe(&key, sizeof key);
    if (rc != KUMO_CODE_OK)
        return rc;
    const char *sub, *tid;
    unsigned roles;
    if (x.role == KUMO__USERS__V1__ROLE__ROLE_SERVICE) {
        if ((rc = service_tenant(ctx, call, req->tenant_id)) != KUMO_CODE_OK)
            return rc;
        sub = x.name;
        tid = req->tenant_id;
        roles = KUMO_ROLE_SERVICE;
    } else {
        int64_t role = x.role;
        if (x.created_by && x.maker_role < role)
            role = x.maker_role;
        char *s = kumo_rpc_call_alloc(call, sizeof KEY_SUB_PREFIX + KUMO_API_KEY_ID_LEN);
        memcpy(s, KEY_SUB_PREFIX, strlen(KEY_SUB_PREFIX));
        memcpy(s + strlen(KEY_SUB_PREFIX), req->api_key + KUMO_API_KEY_PREFIX_LEN,
               KUMO_API_KEY_ID_LEN);
        s[strlen(KEY_SUB_PREFIX) + KUMO_API_KEY_ID_LEN] = '\0';
        sub = s;
        tid = x.tenant_id;
        roles = users_role_bit((Kumo__Users__V1__Role)role);
    }
    Kumo__Users__V1__ExchangeApiKeyResponse *resp =
        kumo_rpc_call_new(call, &kumo__users__v1__exchange_api_key_response__descriptor);
    int64_t exp;
    rc =
        users_issue_access(ctx, call, sub, tid, roles, ctx->s.api_ttl_s, &resp->access_token, &exp);
    if (rc != KUMO_CODE_OK)
        return rc;
    resp->access_token_expire_time =
        kumo_pb_timestamp(kumo_rpc_call_allocator(call), exp * 1000000);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
