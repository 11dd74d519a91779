/* The audit_events SQL; listed events are read back as AuditEvent
 * messages by field name (db/message_scan.h). */
#include <stdio.h>

#include "audit.h"
#include "auth/jwt.h"
#include "base/ids.h"
#include "db/message_scan.h"

#define ID_MAX 32

kumo_code docs_audit(struct kumo_db_conn *c, const char *tenant_id, const char *actor_id,
                     const char *actor_roles, const char *action, const char *document_id,
                     int32_t version, const char *request_id, const char *details_json)
{
    char id[ID_MAX + 1];
    if (kumo_id_new("ae", id, sizeof id) != 0)
        return KUMO_CODE_INTERNAL;
    return kumo_db_exec(
        c,
        "INSERT INTO audit_events (id, tenant_id, time, actor_id, actor_roles, action,"
        " document_id, version, request_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(id), KUMO_DB_STRZ(tenant_id), KUMO_DB_TIME(kumo_now_us()),
                       KUMO_DB_STRZ(actor_id), KUMO_DB_STRZ(actor_roles ? actor_roles : ""),
                       KUMO_DB_STRZ(action), KUMO_DB_STRZ(document_id ? document_id : ""),
                       KUMO_DB_I64(version), KUMO_DB_STRZ(request_id ? request_id : ""),
                       KUMO_DB_STRZ(details_json)),
        NULL);
}

kumo_code docs_audit_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                          const struct kumo_db_page *pg, const char *tenant_id,
                          const struct docs_audit_filter *f, Kumo__Documents__V1__AuditEvent ***out,
                          size_t *n, char **next)
{
    return kumo_db_page_msgs(
        pg, call, c,
        "SELECT seq AS " KUMO_DB_MSG_KEY ", id, time, actor_id, actor_roles, action, document_id,"
        " version, request_id, details FROM audit_events WHERE tenant_id = ? AND seq < ?"
        " AND (? = '' OR document_id = ?) AND (? = '' OR actor_id = ?) AND (? = '' OR action = ?)"
        " AND time >= ? AND time < ? ORDER BY seq DESC LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_I64(pg->after < 0 ? INT64_MAX : pg->after),
                       KUMO_DB_STRZ(f->document_id), KUMO_DB_STRZ(f->document_id),
                       KUMO_DB_STRZ(f->actor_id), KUMO_DB_STRZ(f->actor_id),
                       KUMO_DB_STRZ(f->action), KUMO_DB_STRZ(f->action), KUMO_DB_TIME(f->after_us),
                       KUMO_DB_TIME(f->before_us), KUMO_DB_I64((int64_t)pg->size + 1)),
        &kumo__documents__v1__audit_event__descriptor, (void ***)out, n, next);
}

void docs_roles_text(unsigned roles, char out[64])
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{KUMO_ROLE_ADMIN, "admin"},
                 {KUMO_ROLE_EDITOR, "editor"},
                 {KUMO_ROLE_VIEWER, "viewer"},
                 {KUMO_ROLE_SERVICE, "service"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(roles & names[i].bit))
            continue;
        int w = snprintf(out + n, 64 - n, "%s%s", n ? "," : "", names[i].name);
        if (w > 0 && (size_t)w < 64 - n)
            n += (size_t)w;
    }
}

kumo_code docs_audit_caller(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const struct kumo_principal *p, const char *action,
                            const char *document_id, int32_t version, const char *details_json)
{
    char roles[64];
    docs_roles_text(p->roles, roles);
    return docs_audit(c, p->tid, p->sub, roles, action, document_id, version,
                      kumo_rpc_call_request_id(call), details_json);
}
