/* UndeleteDocument: a soft-deleted document gets back the status it had,
 * unless its retention period is over (the purge is then under way). */
#include "base/ids.h"
#include "documents.h"
#include "store/documents.h"

#define ST_DELETED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED

DOCS_HANDLER(undelete_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__UndeleteDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller_id(call, DOCS_EDITOR, "id", req->id, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_db_conn *c;
    struct docs_doc_row d;
    if ((rc = docs_lock_doc(ctx, call, p->tid, req->id, &c, &d)) != KUMO_CODE_OK)
        return rc;
    const char *why = NULL;
    if (d.status != ST_DELETED)
        why = "document is not deleted";
    else if (!d.purge_null && d.purge_us <= kumo_now_us())
        why = "the retention period is over: the document is being purged";
    if (why) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "%s", why);
    }
    rc = docs_doc_undelete(c, p->tid, d.id, kumo_now_us());
    return docs_finish_audited(call, c, p, rc, "document.undelete", d.id, NULL,
                               &kumo__documents__v1__undelete_document_response__descriptor,
                               response);
}
