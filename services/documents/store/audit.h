/* The audit_events table: one event per mutation (who, when, what, request
 * id), written in the mutation's own transaction, and read back by
 * ListAuditEvents. All its SQL is in store/audit.c. */
#ifndef KUMO_DOCUMENTS_STORE_AUDIT_H
#define KUMO_DOCUMENTS_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
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

/* One audit_events row (text in the call's arena). */
struct docs_audit_row {
    int64_t seq, time_us, version;
    char *id, *actor_id, *actor_roles, *action, *document_id, *request_id, *details;
};

/* Which events to list: "" matches any. */
struct docs_audit_filter {
    const char *document_id, *actor_id, *action;
    int64_t after_us, before_us; /* time >= after_us and < before_us (unix µs) */
};

/* Up to `limit` events of the tenant matching `f` with seq below `before`
 * (all when before < 0), newest first: rows[0..*n) in the call's arena. OK
 * or the DB error. */
kumo_code docs_audit_list(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tenant_id,
                          const struct docs_audit_filter *f, int64_t before, int32_t limit,
                          struct docs_audit_row **rows, size_t *n);

#endif
