/* The users SQL and its row mappings: USER_MESSAGE names the User
 * message's fields (db/message_scan.h) for what is answered as is;
 * USER_COLUMNS is read back by scan_user right under it, in the same
 * order, for sign-in, which works on the row. */
#include "users.h"

#include "db/message_scan.h"
#include "db/row.h"

/* A users row as its User message (the etag is the version as text). */
#define USER_MESSAGE                                                                               \
    "u.id, u.tenant_id, u.email, u.display_name, u.role, u.disabled, u.create_time,"               \
    " u.update_time, CAST(u.version AS CHAR) AS etag"

/* The columns of a user row, in the order scan_user reads them: numbers
 * and times first, then text by position (USER_COL_ID on). */
#define USER_COLUMNS                                                                               \
    "u.seq, u.role, u.disabled, u.create_time, u.update_time, u.version, u.id, u.tenant_id,"       \
    " u.email, u.display_name"
enum { USER_COL_ID = 6, USER_COL_COUNT = 10 };

static kumo_code scan_user(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct users_user_row *u = out;
    kumo_code rc = kumo_db_rows_scan(
        rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&u->seq), KUMO_DB_OUT_I64(&u->role),
                           KUMO_DB_OUT_I64(&u->disabled), KUMO_DB_OUT_TIME(&u->create_us),
                           KUMO_DB_OUT_TIME(&u->update_us), KUMO_DB_OUT_I64(&u->version)));
    if (rc != KUMO_CODE_OK)
        return rc;
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    unsigned i = USER_COL_ID;
    u->id = kumo_db_row_str(a, rows, i++);
    u->tenant_id = kumo_db_row_str(a, rows, i++);
    u->email = kumo_db_row_str(a, rows, i++);
    u->display_name = kumo_db_row_str(a, rows, i++);
    return KUMO_CODE_OK;
}

/* A user row followed by its password hash. */
static kumo_code scan_login(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct users_login_row *l = out;
    kumo_code rc = scan_user(call, rows, &l->u);
    if (rc == KUMO_CODE_OK)
        l->phc = kumo_db_row_str(kumo_rpc_call_allocator(call), rows, USER_COL_COUNT);
    return rc;
}

kumo_code users_store_user_insert(struct kumo_db_conn *c, const struct users_user_row *u,
                                  const char *email_norm, const char *phc)
{
    return kumo_db_exec(c,
                        "INSERT INTO users (id, tenant_id, email, email_norm, display_name, role,"
                        " disabled, password_hash, version, create_time, update_time)"
                        " VALUES (?, ?, ?, ?, ?, ?, 0, ?, 1, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(u->id), KUMO_DB_STRZ(u->tenant_id),
                                       KUMO_DB_STRZ(u->email), KUMO_DB_STRZ(email_norm),
                                       KUMO_DB_STRZ(u->display_name), KUMO_DB_I64(u->role),
                                       KUMO_DB_STRZ(phc), KUMO_DB_TIME(u->create_us),
                                       KUMO_DB_TIME(u->update_us)),
                        NULL);
}

kumo_code users_store_user_get(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                               const char *id, Kumo__Users__V1__User **out)
{
    return kumo_db_msg_query_one(
        c, "SELECT " USER_MESSAGE " FROM users u WHERE u.tenant_id = ? AND u.id = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id)), &kumo__users__v1__user__descriptor,
        kumo_rpc_call_allocator(call), (void **)out);
}

kumo_code users_store_user_page(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const struct kumo_db_page *pg, const char *tid, int64_t role,
                                const char *query, Kumo__Users__V1__User ***out, size_t *n,
                                char **next)
{
    return kumo_db_page_msgs(
        pg, call, c,
        "SELECT u.seq AS " KUMO_DB_MSG_KEY ", " USER_MESSAGE
        " FROM users u WHERE u.tenant_id = ? AND u.seq > ?"
        " AND (? = 0 OR u.role = ?)"
        " AND (? = '' OR INSTR(CONVERT(u.email_norm USING utf8mb4), LOWER(?)) > 0"
        "      OR INSTR(LOWER(u.display_name), LOWER(?)) > 0)"
        " ORDER BY u.seq LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_I64(pg->after), KUMO_DB_I64(role),
                       KUMO_DB_I64(role), KUMO_DB_STRZ(query), KUMO_DB_STRZ(query),
                       KUMO_DB_STRZ(query), KUMO_DB_I64((int64_t)pg->size + 1)),
        &kumo__users__v1__user__descriptor, (void ***)out, n, next);
}

kumo_code users_store_user_update(struct kumo_db_conn *c, const char *tid, const char *id,
                                  int64_t version, const struct users_user_change *ch,
                                  int64_t now_us, uint64_t *matched)
{
    return kumo_db_exec(
        c,
        "UPDATE users SET display_name = IF(?, ?, display_name), role = IF(?, ?, role),"
        " disabled = IF(?, ?, disabled), email = IF(?, ?, email),"
        " email_norm = IF(?, ?, email_norm), version = version + 1, update_time = ?"
        " WHERE tenant_id = ? AND id = ? AND version = ?",
        KUMO_DB_PARAMS(KUMO_DB_I64(ch->set_name != 0), KUMO_DB_STRZ(ch->display_name),
                       KUMO_DB_I64(ch->set_role != 0), KUMO_DB_I64(ch->role),
                       KUMO_DB_I64(ch->set_disabled != 0), KUMO_DB_I64(ch->disabled != 0),
                       KUMO_DB_I64(ch->set_email != 0), KUMO_DB_STRZ(ch->email),
                       KUMO_DB_I64(ch->set_email != 0), KUMO_DB_STRZ(ch->email_norm),
                       KUMO_DB_TIME(now_us), KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id),
                       KUMO_DB_I64(version)),
        matched);
}

kumo_code users_store_user_delete(struct kumo_db_conn *c, const char *tid, const char *id,
                                  int64_t version, uint64_t *matched)
{
    return kumo_db_exec(
        c, "DELETE FROM users WHERE tenant_id = ? AND id = ? AND (? = 0 OR version = ?)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id), KUMO_DB_I64(version),
                       KUMO_DB_I64(version)),
        matched);
}

kumo_code users_store_user_version(struct kumo_db_conn *c, const char *tid, const char *id,
                                   int64_t *version)
{
    return kumo_db_query_row(c, "SELECT version FROM users WHERE tenant_id = ? AND id = ?",
                             KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id)),
                             KUMO_DB_OUTS(KUMO_DB_OUT_I64(version)));
}

kumo_code users_store_user_exists(struct kumo_db_conn *c, const char *tid, const char *id)
{
    int64_t seq;
    return kumo_db_query_row(c, "SELECT seq FROM users WHERE tenant_id = ? AND id = ?",
                             KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id)),
                             KUMO_DB_OUTS(KUMO_DB_OUT_I64(&seq)));
}

kumo_code users_store_user_email_exists(struct kumo_db_conn *c, const char *tid,
                                        const char *email_norm)
{
    int64_t seq;
    return kumo_db_query_row(c, "SELECT seq FROM users WHERE tenant_id = ? AND email_norm = ?",
                             KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(email_norm)),
                             KUMO_DB_OUTS(KUMO_DB_OUT_I64(&seq)));
}

kumo_code users_store_user_role(struct kumo_db_conn *c, const char *tid, const char *id,
                                int64_t *role, int64_t *disabled)
{
    return kumo_db_query_row(c, "SELECT role, disabled FROM users WHERE tenant_id = ? AND id = ?",
                             KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id)),
                             KUMO_DB_OUTS(KUMO_DB_OUT_I64(role), KUMO_DB_OUT_I64(disabled)));
}

kumo_code users_store_login_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *slug, const char *email_norm, struct users_login_row *l)
{
    return kumo_db_row_query_one(c,
                                 "SELECT " USER_COLUMNS ", u.password_hash FROM users u"
                                 " JOIN tenants t ON t.id = u.tenant_id"
                                 " WHERE t.slug = ? AND u.email_norm = ?",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(slug), KUMO_DB_STRZ(email_norm)),
                                 scan_login, call, l);
}

static kumo_code scan_hash(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    *(char **)out = kumo_db_row_str(kumo_rpc_call_allocator(call), rows, 0);
    return KUMO_CODE_OK;
}

kumo_code users_store_password_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                   const char *tid, const char *id, char **phc)
{
    return kumo_db_row_query_one(
        c, "SELECT password_hash FROM users WHERE tenant_id = ? AND id = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id)), scan_hash, call, phc);
}

kumo_code users_store_password_set(struct kumo_db_conn *c, const char *tid, const char *id,
                                   const char *old_phc, const char *new_phc, uint64_t *matched)
{
    return kumo_db_exec(c,
                        "UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ?"
                        " AND password_hash = ?",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(new_phc), KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id),
                                       KUMO_DB_STRZ(old_phc)),
                        matched);
}
