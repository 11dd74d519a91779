/* The revocations SQL. */
#include "revocations.h"

#define ID_CAP 256 /* longer ids than the daemon keeps are skipped anyway */

kumo_code users_store_revocation_insert(struct kumo_db_conn *c, const char *tenant_id,
                                        const char *subject, const char *reason, int64_t now_s)
{
    return kumo_db_exec(c,
                        "INSERT INTO revocations (tenant_id, subject, not_before, created, reason)"
                        " VALUES (?, ?, ?, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(subject),
                                       KUMO_DB_I64(now_s), KUMO_DB_I64(now_s),
                                       KUMO_DB_STRZ(reason)),
                        NULL);
}

kumo_code users_store_revocation_insert_keys_of(struct kumo_db_conn *c, const char *tenant_id,
                                                const char *user_id, const char *key_prefix,
                                                const char *reason, int64_t now_s)
{
    return kumo_db_exec(c,
                        "INSERT INTO revocations (tenant_id, subject, not_before, created, reason)"
                        " SELECT tenant_id, CONCAT(?, id), ?, ?, ?"
                        " FROM api_keys WHERE tenant_id = ? AND created_by = ?",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(key_prefix), KUMO_DB_I64(now_s),
                                       KUMO_DB_I64(now_s), KUMO_DB_STRZ(reason),
                                       KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(user_id)),
                        NULL);
}

kumo_code users_store_revocations_read(struct kumo_db_conn *c, int64_t after, int64_t created_since,
                                       int64_t not_before_min, int64_t limit, size_t id_max,
                                       users_revocation_fn fn, void *ud, int *n)
{
    struct kumo_db_rows *rows = NULL;
    kumo_code rc =
        kumo_db_query(c,
                      "SELECT seq, tenant_id, subject, not_before, created FROM revocations"
                      " WHERE (seq > ? OR created >= ?) AND not_before >= ? ORDER BY seq LIMIT ?",
                      KUMO_DB_PARAMS(KUMO_DB_I64(after), KUMO_DB_I64(created_since),
                                     KUMO_DB_I64(not_before_min), KUMO_DB_I64(limit)),
                      &rows);
    int has = 0;
    *n = 0;
    if (id_max >= ID_CAP)
        id_max = ID_CAP - 1;
    while (rc == KUMO_CODE_OK && (rc = kumo_db_rows_next(rows, &has)) == KUMO_CODE_OK && has) {
        int64_t seq, nbf, created;
        char tid[ID_CAP], sub[ID_CAP];
        size_t tl, sl;
        rc = kumo_db_rows_scan(
            rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&seq), KUMO_DB_OUT_BUF(tid, id_max + 1, &tl),
                               KUMO_DB_OUT_BUF(sub, id_max + 1, &sl), KUMO_DB_OUT_I64(&nbf),
                               KUMO_DB_OUT_I64(&created)));
        if (rc == KUMO_CODE_OK && tl <= id_max && sl <= id_max) {
            tid[tl] = sub[sl] = '\0';
            fn(ud, seq, tid, sub, nbf, created);
            (*n)++;
        }
    }
    if (rows)
        kumo_db_rows_close(rows);
    return rc;
}

kumo_code users_store_revocations_purge(struct kumo_db_conn *c, int64_t before_s)
{
    return kumo_db_exec(c, "DELETE FROM revocations WHERE not_before < ? LIMIT 10000",
                        KUMO_DB_PARAMS(KUMO_DB_I64(before_s)), NULL);
}
