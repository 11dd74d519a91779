/* The api_keys SQL and its row mappings: KEY_MESSAGE names the ApiKey
 * message's fields a listed key fills; EXCHANGE_COLUMNS is read back by
 * scan_exchange right under it, in the same order. */
#include "api_keys.h"

#include "base/ids.h"
#include "db/message_scan.h"
#include "db/row.h"

#define SERVICE_ROLE "4" /* kumo.users.v1.Role ROLE_SERVICE */

/* An api_keys row as its ApiKey message (db/message_scan.h). */
#define KEY_MESSAGE                                                                                \
    "k.id, k.name, k.role, k.create_time, k.expire_time, k.revoke_time, k.last_used_time"

#define EXCHANGE_COLUMNS                                                                           \
    "k.role, k.expire_time, k.revoke_time, u.role, u.disabled, k.tenant_id, k.name,"               \
    " k.secret_hash, k.created_by"
enum { EXCHANGE_COL_TENANT = 5 };

static kumo_code scan_exchange(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct users_key_exchange_row *x = out;
    kumo_code rc = kumo_db_rows_scan(
        rows,
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&x->role), KUMO_DB_OUT_TIME_N(&x->expire_us, &x->expire_null),
                     KUMO_DB_OUT_TIME_N(&x->revoke_us, &x->revoke_null),
                     KUMO_DB_OUT_I64_N(&x->maker_role, &x->maker_role_null),
                     KUMO_DB_OUT_I64_N(&x->maker_disabled, &x->maker_disabled_null)));
    if (rc != KUMO_CODE_OK)
        return rc;
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    unsigned i = EXCHANGE_COL_TENANT;
    x->tenant_id = kumo_db_row_str(a, rows, i++);
    x->name = kumo_db_row_str(a, rows, i++);
    x->secret_hash = kumo_db_row_str(a, rows, i++);
    size_t len = 0;
    x->created_by = kumo_db_rows_bytes(rows, i, &len) ? kumo_db_row_str(a, rows, i) : NULL;
    return KUMO_CODE_OK;
}

kumo_code users_store_keys_live(struct kumo_db_conn *c, const char *tid, const char *name,
                                int64_t now_us, int64_t *live)
{
    return kumo_db_query_row(
        c,
        "SELECT COUNT(*) FROM api_keys WHERE tenant_id = ? AND name = ?"
        " AND revoke_time IS NULL AND (expire_time IS NULL OR expire_time > ?)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(name), KUMO_DB_TIME(now_us)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(live)));
}

kumo_code users_store_key_insert(struct kumo_db_conn *c, const struct users_key_new *k)
{
    return kumo_db_exec(c,
                        "INSERT INTO api_keys (id, tenant_id, name, role, secret_hash, created_by,"
                        " create_time, expire_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(k->id), KUMO_DB_STRZ(k->tenant_id),
                                       KUMO_DB_STRZ(k->name), KUMO_DB_I64(k->role),
                                       KUMO_DB_STRZ(k->secret_hash),
                                       k->created_by ? KUMO_DB_STRZ(k->created_by) : KUMO_DB_NULL,
                                       KUMO_DB_TIME(k->create_us),
                                       k->expire_us ? KUMO_DB_TIME(k->expire_us) : KUMO_DB_NULL),
                        NULL);
}

kumo_code users_store_key_page(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                               const struct kumo_db_page *pg, const char *tid, int all_makers,
                               const char *maker, Kumo__Users__V1__ApiKey ***out, size_t *n,
                               char **next)
{
    return kumo_db_page_msgs(
        pg, call, c,
        "SELECT k.seq AS " KUMO_DB_MSG_KEY ", " KEY_MESSAGE " FROM api_keys k WHERE k.tenant_id = ?"
        " AND k.seq > ? AND (? OR k.created_by = ?) ORDER BY k.seq LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_I64(pg->after), KUMO_DB_I64(all_makers != 0),
                       KUMO_DB_STRZ(maker), KUMO_DB_I64((int64_t)pg->size + 1)),
        &kumo__users__v1__api_key__descriptor, (void ***)out, n, next);
}

kumo_code users_store_key_revoke(struct kumo_db_conn *c, const char *tid, const char *id,
                                 int all_makers, const char *maker, uint64_t *matched)
{
    return kumo_db_exec(c,
                        "UPDATE api_keys SET revoke_time = ? WHERE tenant_id = ? AND id = ?"
                        " AND (? OR created_by = ?) AND revoke_time IS NULL",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(tid),
                                       KUMO_DB_STRZ(id), KUMO_DB_I64(all_makers != 0),
                                       KUMO_DB_STRZ(maker)),
                        matched);
}

kumo_code users_store_key_exists(struct kumo_db_conn *c, const char *tid, const char *id,
                                 int all_makers, const char *maker)
{
    int64_t seq;
    return kumo_db_query_row(c,
                             "SELECT seq FROM api_keys WHERE tenant_id = ? AND id = ?"
                             " AND (? OR created_by = ?)",
                             KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id),
                                            KUMO_DB_I64(all_makers != 0), KUMO_DB_STRZ(maker)),
                             KUMO_DB_OUTS(KUMO_DB_OUT_I64(&seq)));
}

kumo_code users_store_keys_revoke_maker(struct kumo_db_conn *c, const char *tid, const char *maker)
{
    return kumo_db_exec(
        c,
        "UPDATE api_keys SET revoke_time = ? WHERE tenant_id = ? AND created_by = ?"
        " AND revoke_time IS NULL",
        KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(tid), KUMO_DB_STRZ(maker)), NULL);
}

kumo_code users_store_key_exchange_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                       const char *id, struct users_key_exchange_row *x)
{
    return kumo_db_row_query_one(c,
                                 "SELECT " EXCHANGE_COLUMNS " FROM api_keys k"
                                 " LEFT JOIN users u ON u.id = k.created_by"
                                 " AND u.tenant_id = k.tenant_id WHERE k.id = ?",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(id)), scan_exchange, call, x);
}

kumo_code users_store_key_touch(struct kumo_db_conn *c, const char *id)
{
    return kumo_db_exec(c, "UPDATE api_keys SET last_used_time = ? WHERE id = ?",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(id)), NULL);
}

kumo_code users_store_service_key_hash(struct kumo_db_conn *c, const char *tid, const char *id,
                                       const char *name, char *out, size_t cap)
{
    return kumo_db_query_text(
        c,
        "SELECT secret_hash FROM api_keys WHERE id = ? AND tenant_id = ? AND name = ?"
        " AND role = " SERVICE_ROLE " AND revoke_time IS NULL AND expire_time IS NULL",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(id), KUMO_DB_STRZ(tid), KUMO_DB_STRZ(name)), out, cap);
}

kumo_code users_store_key_revoke_id(struct kumo_db_conn *c, const char *id, int64_t now_us)
{
    return kumo_db_exec(c, "UPDATE api_keys SET revoke_time = ? WHERE id = ?",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(now_us), KUMO_DB_STRZ(id)), NULL);
}

kumo_code users_store_service_keys_retire(struct kumo_db_conn *c, const char *tid, const char *name,
                                          int64_t now_us)
{
    return kumo_db_exec(
        c,
        "UPDATE api_keys SET revoke_time = ? WHERE tenant_id = ? AND name = ?"
        " AND role = " SERVICE_ROLE " AND revoke_time IS NULL AND seq NOT IN (SELECT seq FROM"
        " (SELECT seq FROM api_keys WHERE tenant_id = ? AND name = ? AND role = " SERVICE_ROLE
        " AND revoke_time IS NULL ORDER BY seq DESC LIMIT 2) newest)",
        KUMO_DB_PARAMS(KUMO_DB_TIME(now_us), KUMO_DB_STRZ(tid), KUMO_DB_STRZ(name),
                       KUMO_DB_STRZ(tid), KUMO_DB_STRZ(name)),
        NULL);
}
