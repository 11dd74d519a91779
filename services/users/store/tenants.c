/* The tenants SQL and its row mapping: TENANT_COLUMNS below is read back by
 * scan_tenant right under it, in the same order. */
#include "tenants.h"

#include "db/row.h"

#define TENANT_COLUMNS "create_time, id, slug, name"
enum { TENANT_COL_ID = 1 };

static kumo_code scan_tenant(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct users_tenant_row *t = out;
    kumo_code rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_TIME(&t->create_us)));
    if (rc != KUMO_CODE_OK)
        return rc;
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    unsigned i = TENANT_COL_ID;
    t->id = kumo_db_row_str(a, rows, i++);
    t->slug = kumo_db_row_str(a, rows, i++);
    t->name = kumo_db_row_str(a, rows, i++);
    return KUMO_CODE_OK;
}

kumo_code users_store_tenant_insert(struct kumo_db_conn *c, const struct users_tenant_row *t)
{
    return kumo_db_exec(c, "INSERT INTO tenants (id, slug, name, create_time) VALUES (?, ?, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(t->id), KUMO_DB_STRZ(t->slug),
                                       KUMO_DB_STRZ(t->name), KUMO_DB_TIME(t->create_us)),
                        NULL);
}

kumo_code users_store_tenant_get(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *id,
                                 struct users_tenant_row *t)
{
    return kumo_db_row_query_one(c, "SELECT " TENANT_COLUMNS " FROM tenants WHERE id = ?",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(id)), scan_tenant, call, t);
}

kumo_code users_store_tenant_id_by_slug(struct kumo_db_conn *c, const char *slug, char *out,
                                        size_t cap)
{
    return kumo_db_query_text(c, "SELECT id FROM tenants WHERE slug = ?",
                              KUMO_DB_PARAMS(KUMO_DB_STRZ(slug)), out, cap);
}

kumo_code users_store_tenant_exists(struct kumo_db_conn *c, const char *id, int for_update)
{
    int64_t seq;
    return kumo_db_query_row(c,
                             for_update ? "SELECT seq FROM tenants WHERE id = ? FOR UPDATE"
                                        : "SELECT seq FROM tenants WHERE id = ?",
                             KUMO_DB_PARAMS(KUMO_DB_STRZ(id)), KUMO_DB_OUTS(KUMO_DB_OUT_I64(&seq)));
}
