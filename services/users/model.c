/* Small pieces of the data model: ids, times, roles, etags, and turning
 * rows into messages. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "secret.h"
#include "users.h"

static const char base32[] = "abcdefghijklmnopqrstuvwxyz234567";

int users_new_id(const char *prefix, char out[USERS_ID_MAX + 1])
{
    uint8_t rnd[20];
    if (kumo_secret_random_bytes(rnd, sizeof rnd) != 0)
        return -1;
    size_t n = strlen(prefix);
    if (n + 1 + 20 > USERS_ID_MAX)
        return -1;
    memcpy(out, prefix, n);
    out[n++] = '_';
    /* 20 characters of 5 random bits each (100 bits). */
    for (size_t i = 0; i < 20; i++)
        out[n++] = base32[rnd[i] & 31];
    out[n] = '\0';
    return 0;
}

int64_t users_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

Google__Protobuf__Timestamp *users_ts(struct kumo_rpc_call *call, int64_t us)
{
    Google__Protobuf__Timestamp *t = kumo_rpc_call_alloc(call, sizeof *t);
    google__protobuf__timestamp__init(t);
    int64_t s = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        s--;
        rem += 1000000;
    }
    t->seconds = s;
    t->nanos = (int32_t)(rem * 1000);
    return t;
}

unsigned users_role_bit(Kumo__Users__V1__Role r)
{
    switch (r) {
    case KUMO__USERS__V1__ROLE__ROLE_VIEWER:
        return KUMO_ROLE_VIEWER;
    case KUMO__USERS__V1__ROLE__ROLE_EDITOR:
        return KUMO_ROLE_EDITOR;
    case KUMO__USERS__V1__ROLE__ROLE_ADMIN:
        return KUMO_ROLE_ADMIN;
    case KUMO__USERS__V1__ROLE__ROLE_SERVICE:
        return KUMO_ROLE_SERVICE;
    default:
        return 0;
    }
}

int users_role_valid_for_user(Kumo__Users__V1__Role r)
{
    return r == KUMO__USERS__V1__ROLE__ROLE_VIEWER || r == KUMO__USERS__V1__ROLE__ROLE_EDITOR ||
           r == KUMO__USERS__V1__ROLE__ROLE_ADMIN;
}

int users_role_rank(Kumo__Users__V1__Role r)
{
    return users_role_valid_for_user(r) ? (int)r : 0;
}

int users_etag_parse(const char *etag, int64_t *version)
{
    size_t n = etag ? strlen(etag) : 0;
    if (n == 0 || n > 18 || (etag[0] == '0' && n > 1))
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (etag[i] < '0' || etag[i] > '9')
            return -1;
        v = v * 10 + (etag[i] - '0');
    }
    if (v < 1)
        return -1;
    *version = v;
    return 0;
}

char *users_etag(struct kumo_rpc_call *call, int64_t version)
{
    char *s = kumo_rpc_call_alloc(call, 24);
    snprintf(s, 24, "%lld", (long long)version);
    return s;
}

char *users_col_str(struct kumo_rpc_call *call, struct kumo_db_rows *rows, unsigned i)
{
    size_t len = 0;
    const void *p = kumo_db_rows_bytes(rows, i, &len);
    char *s = kumo_rpc_call_alloc(call, len + 1);
    if (p && len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

kumo_code users_query_one(struct kumo_db_conn *c, const char *sql,
                          const struct kumo_db_param *params, size_t n,
                          kumo_code (*scan)(struct kumo_rpc_call *call, struct kumo_db_rows *rows,
                                            void *out),
                          struct kumo_rpc_call *call, void *out)
{
    struct kumo_db_rows *rows;
    kumo_code rc = kumo_db_query(c, sql, params, n, &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    int has = 0;
    rc = kumo_db_rows_next(rows, &has);
    if (rc == KUMO_CODE_OK)
        rc = has ? scan(call, rows, out) : KUMO_CODE_NOT_FOUND;
    kumo_db_rows_close(rows);
    return rc;
}

kumo_code users_scan_user(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct users_user_row *u = out;
    kumo_code rc = kumo_db_rows_scan(
        rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&u->seq), KUMO_DB_OUT_I64(&u->role),
                           KUMO_DB_OUT_I64(&u->disabled), KUMO_DB_OUT_TIME(&u->create_us),
                           KUMO_DB_OUT_TIME(&u->update_us), KUMO_DB_OUT_I64(&u->version)));
    if (rc != KUMO_CODE_OK)
        return rc;
    u->id = users_col_str(call, rows, 6);
    u->tenant_id = users_col_str(call, rows, 7);
    u->email = users_col_str(call, rows, 8);
    u->display_name = users_col_str(call, rows, 9);
    return KUMO_CODE_OK;
}

Kumo__Users__V1__User *users_user_message(struct kumo_rpc_call *call,
                                          const struct users_user_row *u)
{
    Kumo__Users__V1__User *m = kumo_rpc_call_alloc(call, sizeof *m);
    kumo__users__v1__user__init(m);
    m->id = u->id;
    m->tenant_id = u->tenant_id;
    m->email = u->email;
    m->display_name = u->display_name;
    m->role = (Kumo__Users__V1__Role)u->role;
    m->disabled = u->disabled != 0;
    m->create_time = users_ts(call, u->create_us);
    m->update_time = users_ts(call, u->update_us);
    m->etag = users_etag(call, u->version);
    return m;
}
