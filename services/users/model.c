/* Small pieces of the data model: roles, and turning rows into messages
 * (ids, times, etags and row helpers are common: ids.h, db_row.h). */
#include <string.h>

#include "users.h"

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

Kumo__Users__V1__User *users_user_message(struct kumo_rpc_call *call,
                                          const struct users_user_row *u)
{
    Kumo__Users__V1__User *m = kumo_rpc_call_new(call, &kumo__users__v1__user__descriptor);
    m->id = u->id;
    m->tenant_id = u->tenant_id;
    m->email = u->email;
    m->display_name = u->display_name;
    m->role = (Kumo__Users__V1__Role)u->role;
    m->disabled = u->disabled != 0;
    m->create_time = kumo_pb_timestamp(kumo_rpc_call_allocator(call), u->create_us);
    m->update_time = kumo_pb_timestamp(kumo_rpc_call_allocator(call), u->update_us);
    m->etag = kumo_pb_etag(kumo_rpc_call_allocator(call), u->version);
    return m;
}
