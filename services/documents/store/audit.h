/* The audit_events table: one event per mutation (who, when, what, request
 * id), written in the mutation's own transaction, and read back by
 * ListAuditEvents. All its SQL is in store/audit.c. */
#ifndef KUMO_DOCUMENTS_STORE_AUDIT_H
#define KUMO_DOCUMENTS_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/page_rows.h"
#include "kumo/documents/v1/documents.pb-c.h"
#include "rpc/rpc.h"

/* Writes one audit event inside the caller's open transaction. actor_id,
 * actor_roles, action required; document_id/request_id may be NULL or "";
 * details_json a JSON object text or NULL. Returns OK or the DB error. */
kumo_code docs_audit(struct kumo_db_conn *c, const char *tenant_id, const char *actor_id,
                     const char *actor_roles, const char *action, const char *document_id,
                     int32_t version, const char *request_id, const char *details_json);

/* The actor_roles text of `roles` (kumo_principal.roles): "admin",
 * "editor,viewer", ... into out[64]. */
void docs_roles_text(unsigned roles, char out[64]);

/* Writes the audit event of a change the caller `p` made (their roles, the
 * call's request id) inside the open transaction on `c`. OK or the DB
 * error. */
struct kumo_principal;
kumo_code docs_audit_caller(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const struct kumo_principal *p, const char *action,
                            const char *document_id, int32_t version, const char *details_json);

/* Which events to list: "" matches any. */
struct docs_audit_filter {
    const char *document_id, *actor_id, *action;
    int64_t after_us, before_us; /* time >= after_us and < before_us (unix µs) */
};

/* A page `pg` (db/page_rows.h; keyed by seq, pg->after < 0: the first)
 * of the tenant's events matching `f`, newest first: *out gets *n
 * AuditEvent messages (call arena; details parsed from their JSON), *next
 * the next page's token (left alone on the last page). OK or the DB
 * error. */
kumo_code docs_audit_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                          const struct kumo_db_page *pg, const char *tenant_id,
                          const struct docs_audit_filter *f, Kumo__Documents__V1__AuditEvent ***out,
                          size_t *n, char **next);

#endif
