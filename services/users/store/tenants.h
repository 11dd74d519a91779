/* The tenants table: every statement on it is in store/tenants.c, next to
 * the Tenant message's fields its rows are read back into. */
#ifndef KUMO_USERS_STORE_TENANTS_H
#define KUMO_USERS_STORE_TENANTS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "kumo/users/v1/users.pb-c.h"
#include "rpc/rpc.h"

/* Inserts tenant `id` with its slug, name and creation time. OK,
 * ALREADY_EXISTS (the slug is taken) or the DB error. */
kumo_code users_store_tenant_insert(struct kumo_db_conn *c, const char *id, const char *slug,
                                    const char *name, int64_t create_us);

/* Reads tenant `id` into *out, its Tenant message (call arena). OK,
 * NOT_FOUND or the DB error. */
kumo_code users_store_tenant_get(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *id,
                                 Kumo__Users__V1__Tenant **out);

/* The id of the tenant with that slug into out[cap] (terminated). OK,
 * NOT_FOUND, or the DB error (INTERNAL when it does not fit). */
kumo_code users_store_tenant_id_by_slug(struct kumo_db_conn *c, const char *slug, char *out,
                                        size_t cap);

/* Whether tenant `id` exists: OK, NOT_FOUND or the DB error. for_update
 * locks its row to the end of the caller's transaction (serializing what
 * is counted per tenant). */
kumo_code users_store_tenant_exists(struct kumo_db_conn *c, const char *id, int for_update);

#endif
