/* kumo-users internals: the state shared by the handlers and the helpers
 * every file of the service uses. Nothing here is used outside
 * services/users. */
#ifndef KUMO_USERS_USERS_H
#define KUMO_USERS_USERS_H

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/config.h"
#include "db/call.h"
#include "db/db.h"
#include "db/row.h"
#include "base/ids.h"
#include "db/rds_auth.h"
#include "kumo/users/v1/users.pb-c.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "rpc/fields.h"
#include "rpc/rpc.h"
#include "auth/rpc_auth.h"
#include "rpc/server.h"
#include "auth/cidr.h"
#include "auth/login_guard.h"
#include "store/api_keys.h"
#include "store/revocations.h"
#include "store/sessions.h"
#include "store/tenants.h"
#include "store/users.h"

/* ---- limits of the data model ---- */

#define USERS_ID_MAX             32  /* "us_" + 20 base32 characters, with room */
#define USERS_NAME_MAX_CHARS     200 /* display names, tenant and key names */
#define USERS_NAME_MAX_BYTES     800
#define USERS_QUERY_MAX_CHARS    200
#define USERS_PASSWORD_MIN       12
#define USERS_SLUG_MIN           3
#define USERS_SLUG_MAX           63
#define USERS_PAGE_DEFAULT       20
#define USERS_PAGE_MAX           100
#define USERS_LIVE_KEYS_PER_NAME 2
#define USERS_SYSTEM_SLUG        "system"
#define USERS_KEY_SUB_PREFIX     "ak_" /* sub of a token exchanged for an API key */

/* Settings from the KUMO_* variables (config.c). */
struct users_settings {
    const char *issuer, *audience;
    const char *signing_key_files;
    int64_t leeway_s;
    int64_t access_ttl_s, api_ttl_s, refresh_ttl_s, family_ttl_s;
    /* A spent refresh token presented again within this many microseconds
     * of its first use rotates again (0: a reuse always revokes). */
    int64_t refresh_reuse_grace_us;
    struct kumo_password_params argon2;
    int64_t argon2_max_concurrent;
    int64_t login_window_ms;
    int64_t login_max_per_account, login_max_per_address;
    int64_t login_slowdown_after, login_slowdown_interval_ms;
    int64_t revocations_poll_ms;
    const char *key_grant_tenants; /* KUMO_API_KEYS_GRANT_TENANTS */
    const char *service_callers;
    struct kumo_cidr_list *trusted_proxies; /* owned (users_ctx_free) */
};

/* Everything the handlers share; built once at start-up (context.c),
 * immutable afterwards except where noted. */
struct users_ctx {
    struct users_settings s;
    struct kumo_db *db;
    struct kumo_db_rds_auth *db_rds; /* when KUMO_DB_AUTH=iam */
    struct kumo_jwt_signer *signer;
    struct kumo_jwt_verifier *verifier;
    struct kumo_rpc_jwt_auth *auth;
    struct kumo_password_hasher *hasher;
    sem_t argon2_slots; /* bounds concurrent argon2 runs (memory) */
    int argon2_inited;
    struct kumo_login_guard *guard;       /* sign-in and API key throttling */
    struct kumo_revocations *revocations; /* revocations.c */
    int64_t revocations_keep_s;
    uint8_t *pepper;
    size_t pepper_len;
    char *jwks; /* the JWKS document, served as is */
    size_t jwks_len;
    /* The system tenant's id, found on first need (bootstrap creates it). */
    pthread_mutex_t system_mu;
    char system_tid[USERS_ID_MAX + 1];
};

/* ---- config.c ---- */

/* The daemon's own variables (DB ones included), for the daemon spec. */
const struct kumo_config_var *users_config_vars(size_t *n);

/* Fills *s from a loaded configuration (strings borrowed from `c`).
 * Returns 0, or -1 after logging what is wrong. */
int users_settings_load(const struct kumo_config *c, struct users_settings *s);

/* ---- context.c ---- */

/* Builds the context for serving: DB pool, signer, verifier, hasher,
 * throttles, pepper. Returns 0, or -1 after logging why. */
int users_ctx_init(struct users_ctx *ctx, const struct kumo_config *c);

/* Loads KUMO_SECRET_PEPPER into ctx. Returns 0, or -1 after logging. */
int users_load_pepper(struct users_ctx *ctx, const struct kumo_config *c);

/* Opens only the DB pool (for migrate and bootstrap). */
int users_ctx_open_db(struct users_ctx *ctx, const struct kumo_config *c);

/* Releases everything users_ctx_init / users_ctx_open_db made. */
void users_ctx_free(struct users_ctx *ctx);

/* ---- migrations.c ---- */

const struct kumo_db_migration *users_migrations(size_t *n);

/* The `migrate` subcommand. */
int users_cmd_migrate(const struct kumo_config *c, int argc, char **argv, void *ud);

/* ---- bootstrap.c ---- */

int users_cmd_bootstrap(const struct kumo_config *c, int argc, char **argv, void *ud);

/* ---- model.c: roles, rows (ids, times, etags: common ids.h, db_row.h) ---- */

/* Role enum -> kumo_role bit; whether a role can be a user's (viewer,
 * editor, admin); its rank (viewer 1 < editor 2 < admin 3; service and
 * unknown roles 0: outside the ladder). */
unsigned users_role_bit(Kumo__Users__V1__Role r);
int users_role_valid_for_user(Kumo__Users__V1__Role r);
int users_role_rank(Kumo__Users__V1__Role r);

/* A user row (store/users.h) as its message. */
Kumo__Users__V1__User *users_user_message(struct kumo_rpc_call *call,
                                          const struct users_user_row *u);

/* ---- auth.c: who may do what ---- */

/* Installs the JWT authenticator on the server. Returns 0 or -1. */
int users_auth_install(struct users_ctx *ctx, struct kumo_rpc_server *srv);

/* The caller; never NULL in a non-public handler. */
const struct kumo_principal *users_caller(struct kumo_rpc_call *call);

/* 1 if the caller is an admin of its tenant (not a service principal). */
int users_caller_is_admin(const struct kumo_principal *p);

/* 1 if the caller is an admin of the system tenant. May query the DB once
 * (to learn the system tenant's id). */
int users_caller_is_system_admin(struct users_ctx *ctx, struct kumo_rpc_call *call,
                                 const struct kumo_principal *p);

/* The caller's rank on the role ladder (admin 3, editor 2, viewer 1,
 * service 0). */
int users_caller_rank(const struct kumo_principal *p);

/* 1 if the caller is an API key (its token's subject is
 * USERS_KEY_SUB_PREFIX + key id), else 0. */
int users_key_principal(const struct kumo_principal *p);

/* The highest rank the caller may give a user: its own rank, but for an
 * API key one below it (an admin key creates editors and viewers, not
 * admins) unless its tenant is listed in KUMO_API_KEYS_GRANT_TENANTS. A
 * leaked automation key must not mint people with its own power. */
int users_grant_rank(const struct users_ctx *ctx, const struct kumo_principal *p);

/* Answers permission_denied for a service principal on an RPC not meant
 * for services; returns KUMO_CODE_OK for anyone else. */
kumo_code users_deny_service(struct kumo_rpc_call *call, const struct kumo_principal *p);

/* The system tenant's id into out; 0, or a kumo_code error (NOT_FOUND
 * before bootstrap). */
kumo_code users_system_tenant_id(struct users_ctx *ctx, struct kumo_rpc_call *call,
                                 char out[USERS_ID_MAX + 1]);

/* ---- checks.c (the DB in a handler: common/db/call.h; ids and
 * invalid_argument answers: common/rpc/fields.h) ---- */

/* Answers the call with the last DB error (safe message), releasing `c`
 * (may be NULL; rolls back an open transaction). Returns the code. */
static inline kumo_code users_db_fail(struct kumo_rpc_call *call, struct kumo_db_conn *c,
                                      kumo_code rc)
{
    return kumo_db_call_fail(call, c, rc, NULL);
}

/* Validates a single-line name field (display name, tenant name, key
 * name). Returns OK or answers invalid_argument. */
kumo_code users_check_name(struct kumo_rpc_call *call, const char *field, const char *s,
                           int allow_empty);

/* Bounds concurrent argon2 work; returns OK or answers resource_exhausted. */
kumo_code users_argon2_enter(struct users_ctx *ctx, struct kumo_rpc_call *call);
void users_argon2_leave(struct users_ctx *ctx);

/* Hashes a new password (12..1024 bytes), answering invalid_argument for a
 * bad one. *phc is the caller's to kumo_free. */
kumo_code users_hash_password(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *field,
                              const char *pw, char **phc);

/* ---- sessions.c ---- */

/* Issues an access token; fills *token (call arena) and *exp_s. */
kumo_code users_issue_access(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *sub,
                             const char *tid, unsigned roles, int64_t ttl_s, char **token,
                             int64_t *exp_s);

/* Revokes every refresh family of a user (inside the caller's
 * transaction). */
kumo_code users_revoke_families(struct kumo_db_conn *c, const char *tenant_id, const char *user_id,
                                const char *reason);

/* The client's address for throttling: the peer, or, when the peer is
 * inside KUMO_TRUSTED_PROXIES, the right-most x-forwarded-for entry that is
 * not itself a trusted proxy (bff/web.h). */
const char *users_client_address(struct users_ctx *ctx, struct kumo_rpc_call *call);

/* Admits a credential check for `account` (NULL for API keys) from the
 * call's client address (login_guard.h). Returns KUMO_CODE_OK, or answers
 * resource_exhausted with a `retry-after` trailer (seconds) and returns
 * it. */
kumo_code users_guard_admit(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *account,
                            const char *addr);

/* ---- the handlers ---- */

#define USERS_HANDLER(name)                                                                        \
    kumo_code users_##name(struct kumo_rpc_call *call, const ProtobufCMessage *request,            \
                           ProtobufCMessage **response)

USERS_HANDLER(create_tenant);
USERS_HANDLER(get_tenant);
USERS_HANDLER(create_user);
USERS_HANDLER(get_user);
USERS_HANDLER(list_users);
USERS_HANDLER(update_user);
USERS_HANDLER(delete_user);
USERS_HANDLER(change_password);
USERS_HANDLER(authenticate);
USERS_HANDLER(refresh_token);
USERS_HANDLER(logout);
USERS_HANDLER(sign_out_everywhere);
USERS_HANDLER(get_jwks);
USERS_HANDLER(create_api_key);
USERS_HANDLER(list_api_keys);
USERS_HANDLER(revoke_api_key);
USERS_HANDLER(exchange_api_key);

/* service.c: the service to register (user_data = ctx). */
void users_service_init(struct kumo_rpc_service *svc, struct users_ctx *ctx);

/* jwks.c: GET /.well-known/jwks.json on the admin port. */
struct kumo_admin;
int users_jwks_route_install(struct users_ctx *ctx, struct kumo_admin *admin);

/* readiness.c: the "db" readiness check, fed by a background pinger
 * (common/runtime/probes). Returns 0 or -1; stop is idempotent. */
int users_readiness_start(struct users_ctx *ctx, struct kumo_admin *admin);
void users_readiness_stop(void);

/* revocations.c: token revocations (common/auth/revocations.h). The writers
 * run inside the caller's transaction: a revocation of every token of
 * `subject` (a user id, or USERS_KEY_SUB_PREFIX + an API key id) issued up
 * to now, and of the tokens of every API key `user_id` made. */
kumo_code users_revoke_tokens(struct kumo_db_conn *c, const char *tenant_id, const char *subject,
                              const char *reason);
kumo_code users_revoke_keys_of(struct kumo_db_conn *c, const char *tenant_id, const char *user_id,
                               const char *reason);
/* Starts the poller copying the table into ctx->revocations, installs the
 * set in the authenticator and serves GET /revocations on the admin port. */
int users_revocations_start(struct users_ctx *ctx, struct kumo_admin *admin);
void users_revocations_stop(struct users_ctx *ctx);

/* janitor.c: purges dead refresh families in the background. */
int users_janitor_start(struct users_ctx *ctx);
void users_janitor_stop(void);

#endif
