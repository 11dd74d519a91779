/* ListVersions: a document's versions, newest first, in keyset pages (the
 * token carries the last version listed, bound to tenant and document). */
#include <string.h>

#include "db/page_rows.h"
#include "db/page_token.h"
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
    int32_t size;
    if (kumo_page_size(req->page_size, DOCS_PAGE_DEFAULT, DOCS_PAGE_MAX, &size) != 0)
        return kumo_rpc_invalid(call, "page_size", "must not be negative");
    struct kumo_buf scope = KUMO_BUF_INIT;
    kumo_buf_appendf(&scope, "versions|%s|%s", p->tid, req->document_id);
    int64_t after;
    if ((rc = kumo_db_page_token_read(call, req->page_token, &scope, &after)) != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return rc;
    }
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return rc;
    }
    struct docs_doc_row d;
    struct docs_version_row *rows = NULL;
    size_t n = 0;
    rc = docs_doc_load(c, call, p->tid, req->document_id, 0, &d);
    if (rc == KUMO_CODE_OK)
        rc = docs_version_list(c, call, p->tid, req->document_id, after, size + 1, &rows, &n);
    if (rc != KUMO_CODE_OK) {
        kumo_buf_free(&scope);
        return docs_db_fail(call, c, rc);
    }
    kumo_db_release(c);
    Kumo__Documents__V1__ListVersionsResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__list_versions_response__init(resp);
    resp->versions = kumo_rpc_call_alloc(call, (size_t)size * sizeof *resp->versions);
    for (size_t i = 0; i < n && i < (size_t)size; i++)
        resp->versions[resp->n_versions++] = docs_version_message(call, &rows[i]);
    if (n > (size_t)size)
        resp->next_page_token = kumo_db_page_token_write(call, rows[size - 1].version, &scope);
    kumo_buf_free(&scope);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
