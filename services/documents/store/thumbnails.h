/* Thumbnails of versions (migration 7, table document_thumbnails): the
 * key of the small PNG the extract job stores beside a version's object
 * ("<object key>.thumb.png"). Rows go with the object: purge_content
 * deletes both (jobs/job_purge.c). Every query is scoped to a tenant. */
#ifndef KUMO_DOCUMENTS_STORE_THUMBNAILS_H
#define KUMO_DOCUMENTS_STORE_THUMBNAILS_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* Migration 7 "thumbnails". */
extern const char docs_thumbnails_migration_sql[];

/* The suffix of a thumbnail's key after its version's object key. */
#define DOCS_THUMB_SUFFIX  ".thumb.png"
#define DOCS_THUMB_KEY_MAX 320

/* Records (or replaces) the thumbnail of a version. OK or the DB error. */
kumo_code docs_thumb_set(struct kumo_db_conn *c, const char *tenant_id, const char *document_id,
                         int64_t version, const char *key);

/* For up to DOCS_THUMB_BATCH documents (ids[i], versions[i]): keys[i] is
 * set to the thumbnail key of that version, or "" when it has none.
 * OK or the DB error. */
#define DOCS_THUMB_BATCH 100
typedef char docs_thumb_key[DOCS_THUMB_KEY_MAX + 1];
kumo_code docs_thumb_keys(struct kumo_db_conn *c, const char *tenant_id, const char *const *ids,
                          const int64_t *versions, size_t n, docs_thumb_key *keys);

/* Forgets the thumbnail stored under `key` (purge). OK or the DB error. */
kumo_code docs_thumb_forget(struct kumo_db_conn *c, const char *tenant_id, const char *key);

#endif
