/* The refresh_families and refresh_tokens tables (a sign-in's family and
 * the single-use tokens it rotates through): every statement on them is in
 * store/sessions.c, next to the column list its rows are read back with.
 * Tokens are stored as their keyed hash only. */
#ifndef KUMO_USERS_STORE_SESSIONS_H
#define KUMO_USERS_STORE_SESSIONS_H

#include <stdint.h>

#include "db/db.h"
#include "rpc/rpc.h"

/* A refresh token with its family (strings in the call's arena). */
struct users_refresh_row {
    int64_t tok_exp, used, fam_exp, revoked;
    int used_null, revoked_null;
    char *family, *tenant_id, *user_id;
};

/* Inserts family `fid` of user `uid` in `tid`, living until fam_exp_us.
 * OK or the DB error. */
kumo_code users_store_family_insert(struct kumo_db_conn *c, const char *fid, const char *tid,
                                    const char *uid, int64_t now_us, int64_t fam_exp_us);

/* Inserts a refresh token (by its hash) of family `fid`, valid until
 * exp_us. OK or the DB error. */
kumo_code users_store_token_insert(struct kumo_db_conn *c, const char *hash, const char *fid,
                                   int64_t now_us, int64_t exp_us);

/* Reads the token with that hash and its family; for_update locks the
 * token row to the end of the transaction. OK, NOT_FOUND or the DB error. */
kumo_code users_store_token_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *hash, int for_update, struct users_refresh_row *r);

/* Marks the token used at now_us unless it was used before (the first use
 * is kept). OK or the DB error. */
kumo_code users_store_token_use(struct kumo_db_conn *c, const char *hash, int64_t now_us);

/* Revokes family `fid` (now, with `reason`) unless it is revoked already.
 * OK or the DB error. */
kumo_code users_store_family_revoke(struct kumo_db_conn *c, const char *fid, const char *reason);

/* Revokes every live family of user `uid` in `tid`. OK or the DB error. */
kumo_code users_store_families_revoke_user(struct kumo_db_conn *c, const char *tid, const char *uid,
                                           const char *reason);

/* Deletes up to `limit` families expired by now_us or revoked before
 * revoked_before_us (their tokens go with them: ON DELETE CASCADE).
 * *deleted = rows deleted. OK or the DB error. */
kumo_code users_store_families_purge(struct kumo_db_conn *c, int64_t now_us,
                                     int64_t revoked_before_us, int64_t limit, uint64_t *deleted);

#endif
