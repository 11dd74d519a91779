/* ListAuditEvents: the tenant's audit trail, newest first, filtered by
 * document, actor, action and time, in keyset pages on the event sequence.
 * Tenant admins only. */
#include <string.h>

#include "db/page_rows.h"
#include "documents.h"
#include "store/audit.h"

static kumo_code check_filter(struct kumo_rpc_call *call, const char *field, const char *s)
{
    size_t n = strlen(s);
    if (n > 128)
        return kumo_rpc_invalid(call, field, "is too long");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return kumo_rpc_invalid(call, field, "must be printable ASCII without spaces");
    return KUMO_CODE_OK;
}

DOCS_HANDLER(list_audit_events)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__ListAuditEventsRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_ADMIN, &p);
    if (rc == KUMO_CODE_OK && (rc = check_filter(call, "document_id", req->document_id)) == 0 &&
        (rc = check_filter(call, "actor_id", req->actor_id)) == 0)
        rc = check_filter(call, "action", req->action);
    if (rc != KUMO_CODE_OK)
        return rc;
    /* Time bounds: 1970 .. 9999-12-31 when absent. */
    int64_t bound[2] = {0, 253402300799LL * 1000000};
    const Google__Protobuf__Timestamp *ts[2] = {req->time_after, req->time_before};
    static const char *const names[2] = {"time_after", "time_before"};
    for (int i = 0; i < 2; i++) {
        if (ts[i] == NULL)
            continue;
        if (ts[i]->nanos < 0 || ts[i]->nanos > 999999999 || ts[i]->seconds < 0 ||
            ts[i]->seconds > 253402300799LL)
            return kumo_rpc_invalid(call, names[i], "is out of range");
        bound[i] = docs_ts_us(ts[i]);
    }
    struct kumo_buf scope = KUMO_BUF_INIT;
    kumo_buf_appendf(&scope, "audit|%s|%s|%s|%s|%lld|%lld", p->tid, req->document_id, req->actor_id,
                     req->action, (long long)bound[0], (long long)bound[1]);
    struct kumo_db_page pg;
    struct kumo_db_conn *c;
    if ((rc = kumo_db_page_open(&pg, call, ctx->db, &scope, req->page_token, req->page_size,
                                DOCS_PAGE_DEFAULT, DOCS_PAGE_MAX, &c)) != KUMO_CODE_OK)
        return rc;
    struct docs_audit_filter f = {req->document_id, req->actor_id, req->action, bound[0], bound[1]};
    Kumo__Documents__V1__ListAuditEventsResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__list_audit_events_response__descriptor);
    if ((rc = docs_audit_list(c, call, &pg, p->tid, &f, &resp->events, &resp->n_events,
                              &resp->next_page_token)) != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
