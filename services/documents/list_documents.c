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
#include "store/search.h"
#include "text/snippet.h"

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

/* Characters of a snippet, and the most highlights in one. */
#define SNIPPET_CHARS 160
#define SNIPPET_MARKS 16

/* A snippet of `field` from text[0..len) when a term of tq occurs in it,
 * else NULL. */
static Kumo__Documents__V1__SearchSnippet *snippet(struct kumo_rpc_call *call, const char *field,
                                                   const char *text, size_t len,
                                                   const struct kumo_text_query *tq)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    struct kumo_text_mark marks[SNIPPET_MARKS];
    size_t nm = 0;
    if (!text || !kumo_text_snippet(text, len, tq, SNIPPET_CHARS, &out, marks, SNIPPET_MARKS, &nm))
        return NULL;
    Kumo__Documents__V1__SearchSnippet *sn =
        kumo_rpc_call_new(call, &kumo__documents__v1__search_snippet__descriptor);
    sn->field = (char *)field;
    sn->text = kumo_rpc_call_alloc(call, out.len + 1);
    memcpy(sn->text, out.data, out.len + 1);
    kumo_buf_free(&out);
    sn->highlights = kumo_rpc_call_alloc(call, nm * sizeof *sn->highlights + 1);
    for (size_t i = 0; i < nm; i++) {
        Kumo__Documents__V1__TextRange *r =
            kumo_rpc_call_new(call, &kumo__documents__v1__text_range__descriptor);
        r->start = (int32_t)marks[i].start;
        r->end = (int32_t)marks[i].end;
        sn->highlights[sn->n_highlights++] = r;
    }
    return sn;
}

/* Adds to each listed document the snippets of its title, description and
 * extracted text (read around the match: store/search.c) where a term of
 * the query occurs, and the terms to the response. OK or the DB error. */
static kumo_code add_snippets(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                              const struct kumo_text_query *tq, const struct docs_doc_row *rows,
                              size_t n, Kumo__Documents__V1__ListDocumentsResponse *resp)
{
    resp->search_terms = kumo_rpc_call_alloc(call, tq->n_terms * sizeof(char *) + 1);
    for (size_t t = 0; t < tq->n_terms; t++) {
        char *term = kumo_rpc_call_alloc(call, tq->term_len[t] + 1);
        memcpy(term, tq->text.data + tq->term_off[t], tq->term_len[t] + 1);
        resp->search_terms[resp->n_search_terms++] = term;
    }
    if (n == 0 || tq->n_terms == 0)
        return KUMO_CODE_OK;
    int64_t *seqs = kumo_rpc_call_alloc(call, n * sizeof *seqs);
    char **windows = kumo_rpc_call_alloc(call, n * sizeof *windows);
    for (size_t i = 0; i < n; i++)
        seqs[i] = rows[i].seq;
    kumo_code rc = docs_search_content_windows(c, call, tid, seqs, n, tq, windows);
    if (rc != KUMO_CODE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        Kumo__Documents__V1__Document *d = resp->documents[i];
        Kumo__Documents__V1__SearchSnippet *sn[3] = {
            snippet(call, "title", rows[i].title, strlen(rows[i].title), tq),
            snippet(call, "description", rows[i].description, strlen(rows[i].description), tq),
            snippet(call, "content", windows[i], windows[i] ? strlen(windows[i]) : 0, tq)};
        d->snippets = kumo_rpc_call_alloc(call, sizeof sn);
        for (size_t k = 0; k < 3; k++)
            if (sn[k])
                d->snippets[d->n_snippets++] = sn[k];
    }
    return KUMO_CODE_OK;
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
    /* The query for the two indexes (store/search.h) and the snippets. */
    struct kumo_text_query tq;
    kumo_text_query_parse(q.query, strlen(q.query), &tq);
    q.words = (const char *)tq.words.data;
    q.ngram = (const char *)tq.ngram.data;
    q.phrases = (const char *)tq.phrases.data;
    q.n_phrases = tq.n_phrases;
    struct kumo_buf scope = KUMO_BUF_INIT, strbuf = KUMO_BUF_INIT;
    list_scope(&scope, p->tid, &q);
    struct kumo_page_cursor cur;
    if (kumo_page_cursor_decode(req->page_token, strlen(req->page_token), scope.data, scope.len,
                                &cur, &strbuf) != 0) {
        rc = kumo_rpc_invalid(call, "page_token", "is not a token of this query");
        goto out;
    }
    Kumo__Documents__V1__ListDocumentsResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__list_documents_response__descriptor);
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
    resp->documents = kumo_rpc_call_alloc(call, (size_t)size * sizeof *resp->documents);
    for (size_t i = 0; i < n; i++)
        resp->documents[resp->n_documents++] = docs_doc_message(call, &rows[i]);
    if (q.query[0] && (rc = add_snippets(call, c, p->tid, &tq, rows, n, resp)) != KUMO_CODE_OK) {
        rc = docs_db_fail(call, c, rc);
        goto out;
    }
    kumo_db_release(c);
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
    kumo_text_query_free(&tq);
    kumo_buf_free(&scope);
    kumo_buf_free(&strbuf);
    return rc;
}
