/* ListVersions: a document's versions, newest first, in keyset pages (the
 * token carries the last version listed, bound to tenant and document). */
#include <string.h>

#include "db/page_rows.h"
#include "documents.h"
#include "store/documents.h"
#include "store/versions.h"

DOCS_HANDLER(list_versions)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__ListVersionsRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller_id(call, DOCS_VIEWER, "document_id", req->document_id, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_buf scope = KUMO_BUF_INIT;
    kumo_buf_appendf(&scope, "versions|%s|%s", p->tid, req->document_id);
    struct kumo_db_page pg;
    struct kumo_db_conn *c;
    if ((rc = kumo_db_page_open(&pg, call, ctx->db, &scope, req->page_token, req->page_size,
                                DOCS_PAGE_DEFAULT, DOCS_PAGE_MAX, &c)) != KUMO_CODE_OK)
        return rc;
    Kumo__Documents__V1__ListVersionsResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__list_versions_response__descriptor);
    struct docs_doc_row d;
    rc = docs_doc_load(c, call, p->tid, req->document_id, 0, &d);
    if (rc == KUMO_CODE_OK)
        rc = docs_version_list(c, call, &pg, p->tid, req->document_id, &resp->versions,
                               &resp->n_versions, &resp->next_page_token);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
