/* Purging a document: the one change that spans the whole aggregate
 * (documents, document_versions, document_tags) plus its audit event and
 * the job that removes the content. Used by DeleteDocument (purge=true)
 * and by the sweeper for soft-deleted documents past their purge time. */
#ifndef KUMO_DOCUMENTS_STORE_PURGE_H
#define KUMO_DOCUMENTS_STORE_PURGE_H

#include "db/db.h"

/* Inside the caller's open transaction: deletes the document, its versions
 * and tags, writes a "document.purge" audit event (actor roles "service")
 * and enqueues one "purge_content" job whose payload lists every version's
 * object key and upload id. NOT_FOUND if the tenant has no such document;
 * otherwise OK or the DB error. */
kumo_code docs_purge_rows(struct kumo_db_conn *c, const char *tenant_id, const char *document_id,
                          const char *actor_id, const char *request_id);

/* As docs_purge_rows with the actor's roles (DeleteDocument purge=true
 * passes the user's). */
kumo_code docs_purge_rows_as(struct kumo_db_conn *c, const char *tenant_id, const char *document_id,
                             const char *actor_id, const char *actor_roles, const char *request_id);

#endif
