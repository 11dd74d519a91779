/* The audit_events SQL and its row mapping (AUDIT_COLUMNS, read back by
 * scan_event right under it). */
#include <stdio.h>

#include "audit.h"
#include "auth/jwt.h"
#include "base/ids.h"
#include "columns.h"
#include "db/page_rows.h"

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

/* In the order scan_event reads them: numbers and times, then text by
 * position (3 on). */
#define AUDIT_COLUMNS                                                                              \
    "seq, time, version, id, actor_id, actor_roles, action, document_id, request_id, details"
enum { AUDIT_COL_ID = 3 };

static kumo_code scan_event(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct docs_audit_row *e = out;
    kumo_code rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&e->seq),
                                                        KUMO_DB_OUT_TIME(&e->time_us),
                                                        KUMO_DB_OUT_I64(&e->version)));
    if (rc != KUMO_CODE_OK)
        return rc;
    unsigned i = AUDIT_COL_ID;
    e->id = docs_col_str(call, rows, i++);
    e->actor_id = docs_col_str(call, rows, i++);
    e->actor_roles = docs_col_str(call, rows, i++);
    e->action = docs_col_str(call, rows, i++);
    e->document_id = docs_col_str(call, rows, i++);
    e->request_id = docs_col_str(call, rows, i++);
    e->details = docs_col_str(call, rows, i++);
    return KUMO_CODE_OK;
}

kumo_code docs_audit_list(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tenant_id,
                          const struct docs_audit_filter *f, int64_t before, int32_t limit,
                          struct docs_audit_row **rows, size_t *n)
{
    void *out;
    kumo_code rc = kumo_db_row_query_page(
        c,
        "SELECT " AUDIT_COLUMNS " FROM audit_events WHERE tenant_id = ? AND seq < ?"
        " AND (? = '' OR document_id = ?) AND (? = '' OR actor_id = ?) AND (? = '' OR action = ?)"
        " AND time >= ? AND time < ? ORDER BY seq DESC LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_I64(before < 0 ? INT64_MAX : before),
                       KUMO_DB_STRZ(f->document_id), KUMO_DB_STRZ(f->document_id),
                       KUMO_DB_STRZ(f->actor_id), KUMO_DB_STRZ(f->actor_id),
                       KUMO_DB_STRZ(f->action), KUMO_DB_STRZ(f->action), KUMO_DB_TIME(f->after_us),
                       KUMO_DB_TIME(f->before_us), KUMO_DB_I64(limit)),
        scan_event, call, sizeof **rows, (size_t)limit, &out, n);
    *rows = out;
    return rc;
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
