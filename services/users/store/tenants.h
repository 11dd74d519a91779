/* The tenants table: every statement on it is in store/tenants.c, next to
 * the column list its rows are read back with. */
#ifndef KUMO_USERS_STORE_TENANTS_H
#define KUMO_USERS_STORE_TENANTS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "rpc/rpc.h"

/* One tenants row (strings in the call's arena when read). */
struct users_tenant_row {
    int64_t create_us;
    char *id, *slug, *name;
};

/* Inserts tenant t. OK, ALREADY_EXISTS (the slug is taken) or the DB
 * error. */
kumo_code users_store_tenant_insert(struct kumo_db_conn *c, const struct users_tenant_row *t);

/* Reads tenant `id`. OK, NOT_FOUND or the DB error. */
kumo_code users_store_tenant_get(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *id,
                                 struct users_tenant_row *t);

/* The id of the tenant with that slug into out[cap] (terminated). OK,
 * NOT_FOUND, or the DB error (INTERNAL when it does not fit). */
kumo_code users_store_tenant_id_by_slug(struct kumo_db_conn *c, const char *slug, char *out,
                                        size_t cap);

/* Whether tenant `id` exists: OK, NOT_FOUND or the DB error. for_update
 * locks its row to the end of the caller's transaction (serializing what
 * is counted per tenant). */
kumo_code users_store_tenant_exists(struct kumo_db_conn *c, const char *id, int for_update);

#endif
