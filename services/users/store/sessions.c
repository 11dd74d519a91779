/* The refresh_families / refresh_tokens SQL and its row mapping:
 * REFRESH_COLUMNS below is read back by scan_refresh right under it, in the
 * same order. */
#include "sessions.h"

#include "base/ids.h"
#include "db/row.h"

#define REFRESH_COLUMNS                                                                            \
    "t.expire_time, t.used_time, f.expire_time, f.revoke_time, f.id, f.tenant_id, f.user_id"
enum { REFRESH_COL_FAMILY = 4 };

static kumo_code scan_refresh(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct users_refresh_row *r = out;
    kumo_code rc =
        kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_TIME(&r->tok_exp),
                                             KUMO_DB_OUT_TIME_N(&r->used, &r->used_null),
                                             KUMO_DB_OUT_TIME(&r->fam_exp),
                                             KUMO_DB_OUT_TIME_N(&r->revoked, &r->revoked_null)));
    if (rc != KUMO_CODE_OK)
        return rc;
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    unsigned i = REFRESH_COL_FAMILY;
    r->family = kumo_db_row_str(a, rows, i++);
    r->tenant_id = kumo_db_row_str(a, rows, i++);
    r->user_id = kumo_db_row_str(a, rows, i++);
    return KUMO_CODE_OK;
}

kumo_code users_store_family_insert(struct kumo_db_conn *c, const char *fid, const char *tid,
                                    const char *uid, int64_t now_us, int64_t fam_exp_us)
{
    return kumo_db_exec(c,
                        "INSERT INTO refresh_families (id, tenant_id, user_id, create_time,"
                        " expire_time) VALUES (?, ?, ?, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(fid), KUMO_DB_STRZ(tid), KUMO_DB_STRZ(uid),
                                       KUMO_DB_TIME(now_us), KUMO_DB_TIME(fam_exp_us)),
                        NULL);
}

kumo_code users_store_token_insert(struct kumo_db_conn *c, const char *hash, const char *fid,
                                   int64_t now_us, int64_t exp_us)
{
    return kumo_db_exec(c,
                        "INSERT INTO refresh_tokens (token_hash, family_id, create_time,"
                        " expire_time) VALUES (?, ?, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(hash), KUMO_DB_STRZ(fid), KUMO_DB_TIME(now_us),
                                       KUMO_DB_TIME(exp_us)),
                        NULL);
}

kumo_code users_store_token_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *hash, int for_update, struct users_refresh_row *r)
{
#define SELECT_REFRESH                                                                             \
    "SELECT " REFRESH_COLUMNS " FROM refresh_tokens t JOIN refresh_families f"                     \
    " ON f.id = t.family_id WHERE t.token_hash = ?"
    return kumo_db_row_query_one(c, for_update ? SELECT_REFRESH " FOR UPDATE" : SELECT_REFRESH,
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(hash)), scan_refresh, call, r);
#undef SELECT_REFRESH
}

kumo_code users_store_token_use(struct kumo_db_conn *c, const char *hash, int64_t now_us)
{
    return kumo_db_exec(c,
                        "UPDATE refresh_tokens SET used_time = COALESCE(used_time, ?)"
                        " WHERE token_hash = ?",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(now_us), KUMO_DB_STRZ(hash)), NULL);
}

kumo_code users_store_family_revoke(struct kumo_db_conn *c, const char *fid, const char *reason)
{
    return kumo_db_exec(
        c,
        "UPDATE refresh_families SET revoke_time = ?, revoke_reason = ?"
        " WHERE id = ? AND revoke_time IS NULL",
        KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(reason), KUMO_DB_STRZ(fid)), NULL);
}

kumo_code users_store_families_revoke_user(struct kumo_db_conn *c, const char *tid, const char *uid,
                                           const char *reason)
{
    return kumo_db_exec(c,
                        "UPDATE refresh_families SET revoke_time = ?, revoke_reason = ?"
                        " WHERE tenant_id = ? AND user_id = ? AND revoke_time IS NULL",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(reason),
                                       KUMO_DB_STRZ(tid), KUMO_DB_STRZ(uid)),
                        NULL);
}

kumo_code users_store_families_purge(struct kumo_db_conn *c, int64_t now_us,
                                     int64_t revoked_before_us, int64_t limit, uint64_t *deleted)
{
    return kumo_db_exec(
        c,
        "DELETE FROM refresh_families WHERE expire_time < ?"
        " OR revoke_time < ? LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_TIME(now_us), KUMO_DB_TIME(revoked_before_us), KUMO_DB_I64(limit)),
        deleted);
}
