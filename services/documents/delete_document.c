/* DeleteDocument: a soft delete keeps the row (status DELETED, purge_time
 * = now + KUMO_DELETE_RETENTION) for UndeleteDocument; purge=true removes
 * the rows at once and queues the removal of every version's content. */
#include "base/ids.h"
#include "documents.h"
#include "store/audit.h"
#include "store/documents.h"
#include "store/purge.h"

#define ST_DELETED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED

static kumo_code purge(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                       const struct kumo_principal *p, const char *id, int64_t version,
                       ProtobufCMessage **response)
{
    struct kumo_db_conn *c;
    struct docs_doc_row d;
    kumo_code rc = docs_lock_doc(ctx, call, p->tid, id, &c, &d);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (version && d.version != version)
        return docs_lost_race(call, c, p->tid, id);
    char roles[64];
    docs_roles_text(p->roles, roles);
    rc = docs_purge_rows_as(c, p->tid, id, p->sub, roles, kumo_rpc_call_request_id(call));
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    Kumo__Documents__V1__DeleteDocumentResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__delete_document_response__descriptor);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

DOCS_HANDLER(delete_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__DeleteDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller_id(call, DOCS_EDITOR, "id", req->id, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    int64_t version = 0;
    if (req->etag[0] && kumo_etag_parse(req->etag, &version) != 0)
        return kumo_rpc_invalid(call, "etag", "is not an etag of this service");
    if (req->purge)
        return purge(ctx, call, p, req->id, version, response);
    struct kumo_db_conn *c;
    struct docs_doc_row d;
    if ((rc = docs_lock_doc(ctx, call, p->tid, req->id, &c, &d)) != KUMO_CODE_OK)
        return rc;
    if (version && d.version != version)
        return docs_lost_race(call, c, p->tid, req->id);
    if (d.status == ST_DELETED) /* idempotent: already deleted */
        return docs_finish_change(call, c, p->tid, d.id,
                                  &kumo__documents__v1__delete_document_response__descriptor,
                                  response);
    int64_t now = kumo_now_us();
    rc = docs_doc_soft_delete(c, p->tid, d.id, now, now + ctx->s.retention_ms * 1000);
    return docs_finish_audited(call, c, p, rc, "document.delete", d.id, NULL,
                               &kumo__documents__v1__delete_document_response__descriptor,
                               response);
}
