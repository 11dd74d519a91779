/* The users table: every statement on it is in store/users.c, next to the
 * column list its rows are read back with. Every query is scoped by tenant
 * (a user of another tenant is simply not found), except the sign-in
 * lookup, which names the tenant by its slug. */
#ifndef KUMO_USERS_STORE_USERS_H
#define KUMO_USERS_STORE_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/page_rows.h"
#include "kumo/users/v1/users.pb-c.h"
#include "rpc/rpc.h"

/* One users row (strings in the call's arena). */
struct users_user_row {
    int64_t seq, role, disabled, create_us, update_us, version;
    char *id, *tenant_id, *email, *display_name;
};

/* A user as sign-in reads it: the row and its password hash. */
struct users_login_row {
    struct users_user_row u;
    char *phc;
};

/* Inserts user u (id, tenant_id, email, display_name, role, create_us,
 * update_us; version 1, enabled) with its normalized e-mail and password
 * hash. OK, ALREADY_EXISTS (the e-mail is taken in the tenant),
 * FAILED_PRECONDITION (no such tenant) or the DB error. */
kumo_code users_store_user_insert(struct kumo_db_conn *c, const struct users_user_row *u,
                                  const char *email_norm, const char *phc);

/* Reads user `id` of tenant `tid` into *out, its User message (call
 * arena). OK, NOT_FOUND or the DB error. */
kumo_code users_store_user_get(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                               const char *id, Kumo__Users__V1__User **out);

/* A page `pg` (db/page_rows.h) of the users of `tid` in seq order: role 0
 * = any, else that role; a non-empty query matches inside the normalized
 * e-mail or the display name, case-insensitively. *out gets *n User
 * messages (call arena), *next the next page's token (left alone on the
 * last page). OK or the DB error. */
kumo_code users_store_user_page(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const struct kumo_db_page *pg, const char *tid, int64_t role,
                                const char *query, Kumo__Users__V1__User ***out, size_t *n,
                                char **next);

/* The fields an update sets: a set_* flag per column. */
struct users_user_change {
    int set_name, set_role, set_disabled, set_email;
    const char *display_name, *email, *email_norm;
    int64_t role;
    int disabled;
};

/* Applies `ch` to user `id` of `tid` if its version is still `version`,
 * bumping the version and update time to now_us. *matched = rows changed
 * (0: gone or changed meanwhile). OK, ALREADY_EXISTS (the new e-mail is
 * taken) or the DB error. */
kumo_code users_store_user_update(struct kumo_db_conn *c, const char *tid, const char *id,
                                  int64_t version, const struct users_user_change *ch,
                                  int64_t now_us, uint64_t *matched);

/* Deletes user `id` of `tid` (version 0: whatever its version). Refresh
 * families go with it (ON DELETE CASCADE). *matched = rows deleted. */
kumo_code users_store_user_delete(struct kumo_db_conn *c, const char *tid, const char *id,
                                  int64_t version, uint64_t *matched);

/* The version of user `id` of `tid`. OK, NOT_FOUND or the DB error. */
kumo_code users_store_user_version(struct kumo_db_conn *c, const char *tid, const char *id,
                                   int64_t *version);

/* Whether user `id` of `tid` exists: OK, NOT_FOUND or the DB error. */
kumo_code users_store_user_exists(struct kumo_db_conn *c, const char *tid, const char *id);

/* Whether a user of `tid` has the normalized e-mail: OK, NOT_FOUND or the
 * DB error. */
kumo_code users_store_user_email_exists(struct kumo_db_conn *c, const char *tid,
                                        const char *email_norm);

/* The role and disabled flag of user `id` of `tid`. OK, NOT_FOUND or the
 * DB error. */
kumo_code users_store_user_role(struct kumo_db_conn *c, const char *tid, const char *id,
                                int64_t *role, int64_t *disabled);

/* The sign-in lookup: the user with the normalized e-mail in the tenant
 * with that slug, and its password hash. OK, NOT_FOUND or the DB error. */
kumo_code users_store_login_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *slug, const char *email_norm,
                                struct users_login_row *l);

/* The password hash of user `id` of `tid` (call arena). OK, NOT_FOUND or
 * the DB error. */
kumo_code users_store_password_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                   const char *tid, const char *id, char **phc);

/* Replaces the password hash of user `id` of `tid` if it is still
 * old_phc. *matched = 0 when it changed meanwhile (matched may be NULL).
 * OK or the DB error. */
kumo_code users_store_password_set(struct kumo_db_conn *c, const char *tid, const char *id,
                                   const char *old_phc, const char *new_phc, uint64_t *matched);

#endif
