/* The revocations table (common/auth/revocations.h: what it is for):
 * every statement on it is in store/revocations.c. Times are Unix seconds. */
#ifndef KUMO_USERS_STORE_REVOCATIONS_H
#define KUMO_USERS_STORE_REVOCATIONS_H

#include <stdint.h>

#include "db/db.h"

/* Revokes the tokens of `subject` in `tenant_id` issued up to now_s. */
kumo_code users_store_revocation_insert(struct kumo_db_conn *c, const char *tenant_id,
                                        const char *subject, const char *reason, int64_t now_s);

/* Revokes, up to now_s, the tokens of every API key user `user_id` of
 * `tenant_id` made (their subjects are key_prefix + key id). */
kumo_code users_store_revocation_insert_keys_of(struct kumo_db_conn *c, const char *tenant_id,
                                                const char *user_id, const char *key_prefix,
                                                const char *reason, int64_t now_s);

/* One revocation row, as users_store_revocations_read hands it over. */
typedef void (*users_revocation_fn)(void *ud, int64_t seq, const char *tenant_id,
                                    const char *subject, int64_t not_before, int64_t created);

/* Calls fn for up to `limit` rows in seq order with seq > after or created
 * >= created_since, and not_before >= not_before_min (ids longer than
 * id_max are skipped). *n = rows handed over. OK or the DB error. */
kumo_code users_store_revocations_read(struct kumo_db_conn *c, int64_t after, int64_t created_since,
                                       int64_t not_before_min, int64_t limit, size_t id_max,
                                       users_revocation_fn fn, void *ud, int *n);

/* Deletes up to 10000 rows with not_before < before_s. */
kumo_code users_store_revocations_purge(struct kumo_db_conn *c, int64_t before_s);

#endif
