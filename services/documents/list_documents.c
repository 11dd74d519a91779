/* ListDocuments: filters, full-text search and keyset pagination. The
 * query itself (access paths, the bounded walk for text queries, the
 * keyset conditions) is in store/documents.c; here: the request's
 * checks, the page token (db/page_cursor: the last row's sort values and
 * seq, bound to the tenant, filters and order) and the messages. */
#include <stdio.h>
#include <string.h>

#include "base/validate.h"
#include "db/page_cursor.h"
#include "db/page_token.h"
#include "documents.h"
#include "store/documents.h"

#define ST_DELETED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED

static kumo_code parse_request(struct kumo_rpc_call *call,
                               const Kumo__Documents__V1__ListDocumentsRequest *req,
                               struct docs_list_query *q)
{
    memset(q, 0, sizeof *q);
    switch (req->order_by) {
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_UNSPECIFIED:
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_CREATE_TIME_DESC:
        q->order = DOCS_ORD_CREATE_DESC;
        break;
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_CREATE_TIME_ASC:
        q->order = DOCS_ORD_CREATE_ASC;
        break;
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_UPDATE_TIME_DESC:
        q->order = DOCS_ORD_UPDATE_DESC;
        break;
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_TITLE_ASC:
        q->order = DOCS_ORD_TITLE_ASC;
        break;
    default:
        return kumo_rpc_invalid(call, "order_by", "is not a known order");
    }
    if (req->status < 0 || req->status > ST_DELETED)
        return kumo_rpc_invalid(call, "status", "is not a known status");
    q->status = req->status;
    const char *why;
    if (req->tag[0] && docs_tag_valid(req->tag, strlen(req->tag), &why) != 0)
        return kumo_rpc_invalid(call, "tag", why);
    if (req->content_type[0] &&
        docs_content_type_valid(req->content_type, strlen(req->content_type), &why) != 0)
        return kumo_rpc_invalid(call, "content_type", why);
    if (strlen(req->owner_id) > 64)
        return kumo_rpc_invalid(call, "owner_id", "is too long");
    if (kumo_text_check(req->query, strlen(req->query), DOCS_QUERY_MAX_CHARS,
                        DOCS_QUERY_MAX_CHARS * 4, KUMO_TEXT_ALLOW_EMPTY, &why) != 0)
        return kumo_rpc_invalid(call, "query", why);
    q->tag = req->tag;
    q->content_type = req->content_type;
    q->owner_id = req->owner_id;
    q->query = req->query;
    const Google__Protobuf__Timestamp *ts[4] = {req->create_time_after, req->create_time_before,
                                                req->update_time_after, req->update_time_before};
    static const char *const names[4] = {"create_time_after", "create_time_before",
                                         "update_time_after", "update_time_before"};
    for (int i = 0; i < 4; i++) {
        if (ts[i] == NULL)
            continue;
        if (ts[i]->nanos < 0 || ts[i]->nanos > 999999999 || ts[i]->seconds < 0 ||
            ts[i]->seconds > 253402300799LL)
            return kumo_rpc_invalid(call, names[i], "is out of range");
        q->t[i] = docs_ts_us(ts[i]);
        q->has_t[i] = 1;
    }
    return KUMO_CODE_OK;
}

/* The bytes a page token is bound to: length-prefixed fields, so no two
 * queries share a scope. */
static void list_scope(struct kumo_buf *b, const char *tid, const struct docs_list_query *q)
{
    const char *strs[] = {tid, q->tag, q->content_type, q->owner_id, q->query};
    kumo_buf_appendf(b, "docs|%d|%lld", q->order, (long long)q->status);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        kumo_buf_appendf(b, "|%zu:%s", strlen(strs[i]), strs[i]);
    for (int i = 0; i < 4; i++)
        kumo_buf_appendf(b, "|%d:%lld", q->has_t[i], (long long)q->t[i]);
}

DOCS_HANDLER(list_documents)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__ListDocumentsRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_VIEWER, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    int32_t size;
    if (kumo_page_size(req->page_size, DOCS_PAGE_DEFAULT, DOCS_PAGE_MAX, &size) != 0)
        return kumo_rpc_invalid(call, "page_size", "must not be negative");
    struct docs_list_query q;
    if ((rc = parse_request(call, req, &q)) != KUMO_CODE_OK)
        return rc;
    struct kumo_buf scope = KUMO_BUF_INIT, strbuf = KUMO_BUF_INIT;
    list_scope(&scope, p->tid, &q);
    struct kumo_page_cursor cur;
    if (kumo_page_cursor_decode(req->page_token, strlen(req->page_token), scope.data, scope.len,
                                &cur, &strbuf) != 0) {
        rc = kumo_rpc_invalid(call, "page_token", "is not a token of this query");
        goto out;
    }
    Kumo__Documents__V1__ListDocumentsResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__list_documents_response__init(resp);
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        goto out;
    struct docs_doc_row *rows;
    size_t n = 0;
    int more = 0;
    if ((rc = docs_doc_list(c, call, p->tid, &q, &scope, &cur, size, &rows, &n, &more)) !=
        KUMO_CODE_OK) {
        rc = docs_db_fail(call, c, rc);
        goto out;
    }
    kumo_db_release(c);
    resp->documents = kumo_rpc_call_alloc(call, (size_t)size * sizeof *resp->documents);
    for (size_t i = 0; i < n; i++)
        resp->documents[resp->n_documents++] = docs_doc_message(call, &rows[i]);
    docs_thumbnails_attach(ctx, call, p->tid, resp->documents, resp->n_documents);
    resp->count = (int32_t)resp->n_documents;
    if (more && n > 0) {
        const struct docs_doc_row *last = &rows[n - 1];
        struct kumo_page_cursor next = {last->seq, 0, "", 0};
        if (q.order == DOCS_ORD_TITLE_ASC) {
            next.str = last->title;
            next.str_len = strlen(last->title);
        } else {
            next.num = q.order == DOCS_ORD_UPDATE_DESC ? last->update_us : last->create_us;
        }
        struct kumo_buf tok = KUMO_BUF_INIT;
        kumo_page_cursor_encode(&next, scope.data, scope.len, &tok);
        resp->next_page_token = kumo_rpc_call_alloc(call, tok.len + 1);
        memcpy(resp->next_page_token, tok.data, tok.len + 1);
        kumo_buf_free(&tok);
    }
    *response = &resp->base;
out:
    kumo_buf_free(&scope);
    kumo_buf_free(&strbuf);
    return rc;
}
