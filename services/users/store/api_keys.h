/* The api_keys table: every statement on it is in store/api_keys.c, next
 * to the columns its rows are read back with. A key's secret is
 * stored as its keyed hash only. */
#ifndef KUMO_USERS_STORE_API_KEYS_H
#define KUMO_USERS_STORE_API_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/page_rows.h"
#include "kumo/users/v1/users.pb-c.h"
#include "rpc/rpc.h"

/* A key as an exchange reads it, with its maker's role and state (NULL
 * when the maker is gone or the key is a service key). */
struct users_key_exchange_row {
    int64_t role, expire_us, revoke_us, maker_role, maker_disabled;
    int expire_null, revoke_null, maker_role_null, maker_disabled_null;
    char *tenant_id, *name, *secret_hash, *created_by; /* created_by NULL: none */
};

/* A new key. */
struct users_key_new {
    const char *id, *tenant_id, *name, *secret_hash, *created_by; /* created_by NULL: none */
    int64_t role, create_us, expire_us;                           /* expire_us 0: never */
};

/* The keys named `name` in `tid` neither revoked nor expired at now_us.
 * OK or the DB error. */
kumo_code users_store_keys_live(struct kumo_db_conn *c, const char *tid, const char *name,
                                int64_t now_us, int64_t *live);

/* Inserts key k. OK or the DB error. */
kumo_code users_store_key_insert(struct kumo_db_conn *c, const struct users_key_new *k);

/* A page `pg` (db/page_rows.h) of the keys of `tid` in seq order; only
 * those made by `maker` unless all_makers. *out gets *n ApiKey messages
 * (call arena), *next the next page's token (left alone on the last
 * page). OK or the DB error. */
kumo_code users_store_key_page(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                               const struct kumo_db_page *pg, const char *tid, int all_makers,
                               const char *maker, Kumo__Users__V1__ApiKey ***out, size_t *n,
                               char **next);

/* Revokes key `id` of `tid` unless revoked already (and, unless
 * all_makers, only if `maker` made it). *matched = rows revoked. */
kumo_code users_store_key_revoke(struct kumo_db_conn *c, const char *tid, const char *id,
                                 int all_makers, const char *maker, uint64_t *matched);

/* Whether key `id` of `tid` exists (made by `maker` unless all_makers):
 * OK, NOT_FOUND or the DB error. */
kumo_code users_store_key_exists(struct kumo_db_conn *c, const char *tid, const char *id,
                                 int all_makers, const char *maker);

/* Revokes every live key user `maker` of `tid` made. */
kumo_code users_store_keys_revoke_maker(struct kumo_db_conn *c, const char *tid, const char *maker);

/* Reads key `id` for an exchange. OK, NOT_FOUND or the DB error. */
kumo_code users_store_key_exchange_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                       const char *id, struct users_key_exchange_row *x);

/* Records that key `id` was used now. */
kumo_code users_store_key_touch(struct kumo_db_conn *c, const char *id);

/* The secret hash of live, never-expiring service key `id` named `name`
 * in `tid` into out[cap] (terminated). OK, NOT_FOUND or the DB error. */
kumo_code users_store_service_key_hash(struct kumo_db_conn *c, const char *tid, const char *id,
                                       const char *name, char *out, size_t cap);

/* Revokes key `id` at now_us whoever made it (bootstrap: a key nobody
 * holds). */
kumo_code users_store_key_revoke_id(struct kumo_db_conn *c, const char *id, int64_t now_us);

/* Revokes, at now_us, the live service keys named `name` in `tid` but the
 * two newest (rotation). */
kumo_code users_store_service_keys_retire(struct kumo_db_conn *c, const char *tid, const char *name,
                                          int64_t now_us);

#endif
