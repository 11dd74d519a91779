/* The tenants SQL; its rows are read back as Tenant messages by field
 * name (db/message_scan.h). */
#include "tenants.h"

#include "db/message_scan.h"
#include "db/row.h"

kumo_code users_store_tenant_insert(struct kumo_db_conn *c, const char *id, const char *slug,
                                    const char *name, int64_t create_us)
{
    return kumo_db_exec(c, "INSERT INTO tenants (id, slug, name, create_time) VALUES (?, ?, ?, ?)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(id), KUMO_DB_STRZ(slug), KUMO_DB_STRZ(name),
                                       KUMO_DB_TIME(create_us)),
                        NULL);
}

kumo_code users_store_tenant_get(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *id,
                                 Kumo__Users__V1__Tenant **out)
{
    return kumo_db_msg_query_one(c, "SELECT id, slug, name, create_time FROM tenants WHERE id = ?",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(id)),
                                 &kumo__users__v1__tenant__descriptor,
                                 kumo_rpc_call_allocator(call), (void **)out);
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
