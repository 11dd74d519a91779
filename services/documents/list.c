/* ListDocuments: filters, full-text search and keyset pagination.
 *
 * Every order is a keyset on (sort column, seq): create_time, update_time
 * or title, with seq breaking ties in the same direction, so a page starts
 * exactly after the last row of the previous one however many rows are
 * inserted meanwhile (common/page_cursor carries the last row's values and
 * binds the token to the tenant, filters and order). Each order has an
 * index (tenant_id, column, seq); no COUNT(*), and the listed columns never
 * include extracted_text.
 *
 * With a tag and a create-time order, the walk starts from document_tags'
 * (tenant_id, tag, create_time, seq) index (migration 3 copies each
 * document's create_time and seq into its tag rows) and fetches each
 * document by primary key: a page reads about page/(share of the tagged
 * rows passing the other filters) rows. Other orders with a tag, and the
 * full-text plan below, walk the documents and probe the tag's primary key
 * for each row.
 *
 * With a query, MATCH ... AGAINST (natural language mode) over title,
 * description, tags and extracted text filters the rows, and they keep the
 * requested order (newest first by default), not relevance: relevance
 * scores move as other documents are written, which would break the
 * stability of the pages. Used as the access path, MATCH makes the server
 * fetch every matching row and sort them (a word in 20% of 100k documents:
 * 20k row reads for a page of 50), and InnoDB cannot hand the matches over
 * in another order. So a text query first walks the order's index,
 * testing each row with "MATCH ... > 0" (the "+ 0" keeps the optimizer
 * from turning it into a full-text access; the rows are exactly those
 * MATCH selects), bounded: a derived table takes the first walk rows
 * in order that pass the other filters (only their seq), and the outer
 * query tests those rows' text. This is portable SQL (MySQL 8 / Aurora
 * MySQL as well as MariaDB; MariaDB's LIMIT ROWS EXAMINED is not). A
 * frequent word fills the page within those rows, and a full page from
 * them is by construction the right page. If the page is not full (a rarer
 * word, or the end of the list), the full-text plan runs instead, whose
 * cost is proportional to the number of matches. Both return the same
 * rows in the same order. A query (with its filters and order) whose walk
 * came back short while the full-text plan filled the page is remembered
 * for a while (`sparse` below), so its next pages and repeats skip the
 * walk: a rare word then costs what it cost before the walk existed.
 *
 * The SQL text is assembled from fixed fragments according to which
 * filters are present (the server does not fold "(? = '' OR col = ?)"
 * away, which would cost the index); every value is bound. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "documents.h"
#include "base/ids.h"
#include "db/page_cursor.h"
#include "db/page_token.h"
#include "base/validate.h"

#define ST_DELETED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED

enum { ORD_CREATE_DESC, ORD_CREATE_ASC, ORD_UPDATE_DESC, ORD_TITLE_ASC, N_ORD };

/* The FROM ... WHERE of each access path (after the select list). */
#define FROM_DOCS " FROM documents d WHERE d.tenant_id = ?"
#define FROM_TAGGED                                                                                \
    " FROM documents d JOIN document_tags t"                                                       \
    " ON t.tenant_id = d.tenant_id AND t.tag = ? AND t.document_id = d.id WHERE d.tenant_id = ?"
/* Tag and create-time order: from the tag's rows in that order. */
#define FROM_TAG_CREATE                                                                            \
    " FROM document_tags t JOIN documents d"                                                       \
    " ON d.seq = t.seq WHERE t.tenant_id = ? AND t.tag = ? AND d.tenant_id = ?"
#define MATCH_EXPR                                                                                 \
    "MATCH (d.title, d.description, d.tags_text, d.extracted_text)"                                \
    " AGAINST (? IN NATURAL LANGUAGE MODE)"
#define MATCH_TEXT " AND " MATCH_EXPR
/* The same test as a row filter on the walked rows (not an access path):
 * see the top. */
#define WALK_OUTER ") w JOIN documents d ON d.seq = w.seq WHERE " MATCH_EXPR " + 0 > 0"

/* Rows in order a text query's walk tests before the full-text plan takes
 * over: WALK_FACTOR times the rows the page needs (at most WALK_ROWS_MAX),
 * so the page fills within them when at least 1 row in WALK_FACTOR
 * matches; each walked row costs a primary-key read and a MATCH test. */
#define WALK_FACTOR   8
#define WALK_ROWS_MAX 1000

/* Per order: the keyset condition after the cursor, and the ORDER BY. */
static const struct {
    const char *after, *order_by;
} orders[N_ORD] = {
    {" AND d.create_time <= ? AND (d.create_time < ? OR d.seq < ?)",
     " ORDER BY d.create_time DESC, d.seq DESC LIMIT ?"},
    {" AND d.create_time >= ? AND (d.create_time > ? OR d.seq > ?)",
     " ORDER BY d.create_time, d.seq LIMIT ?"},
    {" AND d.update_time <= ? AND (d.update_time < ? OR d.seq < ?)",
     " ORDER BY d.update_time DESC, d.seq DESC LIMIT ?"},
    {" AND d.title >= ? AND (d.title > ? OR d.seq > ?)", " ORDER BY d.title, d.seq LIMIT ?"},
};

/* The create-time orders on the tag rows' copy of (create_time, seq). */
static const struct {
    const char *after, *order_by;
} tag_orders[2] = {
    {" AND t.create_time <= ? AND (t.create_time < ? OR t.seq < ?)",
     " ORDER BY t.create_time DESC, t.seq DESC LIMIT ?"},
    {" AND t.create_time >= ? AND (t.create_time > ? OR t.seq > ?)",
     " ORDER BY t.create_time, t.seq LIMIT ?"},
};

/* Time filters: create after/before, update after/before. */
static const char *const time_sql[4] = {" AND d.create_time >= ?", " AND d.create_time < ?",
                                        " AND d.update_time >= ?", " AND d.update_time < ?"};

/* Text queries (hash of the page token's scope: tenant, filters, query,
 * order) whose bounded walk recently fell short of a page that the
 * full-text plan then filled. Only a plan hint: a stale or colliding entry
 * costs time, never changes a result. */
#define SPARSE_SLOTS  256
#define SPARSE_TTL_US (30LL * 1000000)
static struct {
    uint64_t key;
    int64_t until_us;
} sparse[SPARSE_SLOTS];
static pthread_mutex_t sparse_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t scope_hash(const struct kumo_buf *scope)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < scope->len; i++)
        h = (h ^ scope->data[i]) * 1099511628211ULL;
    return h;
}

static int sparse_known(uint64_t key)
{
    pthread_mutex_lock(&sparse_mu);
    size_t i = key % SPARSE_SLOTS;
    int known = sparse[i].key == key && sparse[i].until_us > kumo_now_us();
    pthread_mutex_unlock(&sparse_mu);
    return known;
}

static void sparse_note(uint64_t key)
{
    pthread_mutex_lock(&sparse_mu);
    size_t i = key % SPARSE_SLOTS;
    sparse[i].key = key;
    sparse[i].until_us = kumo_now_us() + SPARSE_TTL_US;
    pthread_mutex_unlock(&sparse_mu);
}

struct list_query {
    int order;
    int64_t status;
    const char *tag, *content_type, *owner_id, *query;
    int64_t t[4]; /* create after, create before, update after, update before (us) */
    int has_t[4];
};

static int64_t ts_us(const Google__Protobuf__Timestamp *t)
{
    return t->seconds * 1000000 + t->nanos / 1000;
}

static kumo_code parse_request(struct kumo_rpc_call *call,
                               const Kumo__Documents__V1__ListDocumentsRequest *req,
                               struct list_query *q)
{
    memset(q, 0, sizeof *q);
    switch (req->order_by) {
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_UNSPECIFIED:
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_CREATE_TIME_DESC:
        q->order = ORD_CREATE_DESC;
        break;
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_CREATE_TIME_ASC:
        q->order = ORD_CREATE_ASC;
        break;
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_UPDATE_TIME_DESC:
        q->order = ORD_UPDATE_DESC;
        break;
    case KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_TITLE_ASC:
        q->order = ORD_TITLE_ASC;
        break;
    default:
        return docs_invalid(call, "order_by", "is not a known order");
    }
    if (req->status < 0 || req->status > ST_DELETED)
        return docs_invalid(call, "status", "is not a known status");
    q->status = req->status;
    const char *why;
    if (req->tag[0] && docs_tag_valid(req->tag, strlen(req->tag), &why) != 0)
        return docs_invalid(call, "tag", why);
    if (req->content_type[0] &&
        docs_content_type_valid(req->content_type, strlen(req->content_type), &why) != 0)
        return docs_invalid(call, "content_type", why);
    if (strlen(req->owner_id) > 64)
        return docs_invalid(call, "owner_id", "is too long");
    if (kumo_text_check(req->query, strlen(req->query), DOCS_QUERY_MAX_CHARS,
                        DOCS_QUERY_MAX_CHARS * 4, KUMO_TEXT_ALLOW_EMPTY, &why) != 0)
        return docs_invalid(call, "query", why);
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
            return docs_invalid(call, names[i], "is out of range");
        q->t[i] = ts_us(ts[i]);
        q->has_t[i] = 1;
    }
    return KUMO_CODE_OK;
}

/* The bytes a page token is bound to: length-prefixed fields, so no two
 * queries share a scope. */
static void list_scope(struct kumo_buf *b, const char *tid, const struct list_query *q)
{
    const char *strs[] = {tid, q->tag, q->content_type, q->owner_id, q->query};
    kumo_buf_appendf(b, "docs|%d|%lld", q->order, (long long)q->status);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        kumo_buf_appendf(b, "|%zu:%s", strlen(strs[i]), strs[i]);
    for (int i = 0; i < 4; i++)
        kumo_buf_appendf(b, "|%d:%lld", q->has_t[i], (long long)q->t[i]);
}

/* The statement for `q`, assembled from the fixed fragments above (only
 * which filters are present shapes it: values are always bound), and its
 * parameters. `walk` picks the bounded index walk for a text query (see
 * the top). Few shapes occur in practice, so the per-connection statement
 * cache keeps them prepared. */
static size_t build_query(const char *tid, const struct list_query *q,
                          const struct kumo_page_cursor *cur, int32_t limit, int walk,
                          struct kumo_buf *sql, struct kumo_db_param *p)
{
    size_t n = 0;
    /* Not with the full-text plan: with the tag rows first, the server
     * would run a full-text access per tag row. */
    int by_tag = q->tag[0] && (q->order == ORD_CREATE_DESC || q->order == ORD_CREATE_ASC) &&
                 (walk || !q->query[0]);
    /* The walk: the inner query lists only seq, the outer one the columns. */
    if (walk)
        kumo_buf_append_str(sql, "SELECT STRAIGHT_JOIN " DOCS_DOC_COLUMNS " FROM (");
    kumo_buf_append_str(sql, q->tag[0] ? "SELECT STRAIGHT_JOIN " : "SELECT ");
    kumo_buf_append_str(sql, walk ? "d.seq" : DOCS_DOC_COLUMNS);
    if (by_tag) {
        kumo_buf_append_str(sql, FROM_TAG_CREATE);
        p[n++] = KUMO_DB_STRZ(tid);
        p[n++] = KUMO_DB_STRZ(q->tag);
    } else if (q->tag[0]) {
        /* Walk the order's index and probe the tag's primary key for each
         * row: the first page of a common tag stops after a few rows (the
         * optimizer would rather read every tagged row and sort them). A
         * rare tag costs a longer walk. */
        kumo_buf_append_str(sql, FROM_TAGGED);
        p[n++] = KUMO_DB_STRZ(q->tag);
    } else {
        kumo_buf_append_str(sql, FROM_DOCS);
    }
    p[n++] = KUMO_DB_STRZ(tid);
    if (q->status) {
        kumo_buf_append_str(sql, " AND d.status = ?");
        p[n++] = KUMO_DB_I64(q->status);
    } else {
        kumo_buf_append_str(sql, " AND d.status <> 4");
    }
    if (q->content_type[0]) {
        kumo_buf_append_str(sql, " AND d.content_type = ?");
        p[n++] = KUMO_DB_STRZ(q->content_type);
    }
    if (q->owner_id[0]) {
        kumo_buf_append_str(sql, " AND d.owner_id = ?");
        p[n++] = KUMO_DB_STRZ(q->owner_id);
    }
    for (int i = 0; i < 4; i++) {
        if (q->has_t[i]) {
            kumo_buf_append_str(sql, time_sql[i]);
            p[n++] = KUMO_DB_TIME(q->t[i]);
        }
    }
    if (q->query[0] && !walk) {
        kumo_buf_append_str(sql, MATCH_TEXT);
        p[n++] = KUMO_DB_STRZ(q->query);
    }
    const char *after = by_tag ? tag_orders[q->order].after : orders[q->order].after;
    const char *order_by = by_tag ? tag_orders[q->order].order_by : orders[q->order].order_by;
    if (cur->seq >= 0) {
        kumo_buf_append_str(sql, after);
        if (q->order == ORD_TITLE_ASC) {
            p[n++] = KUMO_DB_STR(cur->str, cur->str_len);
            p[n++] = KUMO_DB_STR(cur->str, cur->str_len);
        } else {
            p[n++] = KUMO_DB_TIME(cur->num);
            p[n++] = KUMO_DB_TIME(cur->num);
        }
        p[n++] = KUMO_DB_I64(cur->seq);
    }
    kumo_buf_append_str(sql, order_by);
    int64_t walk_rows = (int64_t)limit * WALK_FACTOR;
    if (walk_rows > WALK_ROWS_MAX)
        walk_rows = WALK_ROWS_MAX;
    p[n++] = KUMO_DB_I64(walk ? walk_rows : limit);
    if (walk) {
        /* The walked rows' text, in the order's terms on d (the tag rows
         * carry the same create_time and seq). */
        kumo_buf_append_str(sql, WALK_OUTER);
        p[n++] = KUMO_DB_STRZ(q->query);
        kumo_buf_append_str(sql, orders[q->order].order_by);
        p[n++] = KUMO_DB_I64(limit);
    }
    return n;
}

/* Runs one statement of the list, filling resp->documents (room for
 * `size`) and *last; *more when a row beyond `size` came back. OK or the
 * DB error (the connection stays leased either way). */
static kumo_code fetch_page(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                            const struct list_query *q, const struct kumo_page_cursor *cur,
                            int32_t size, int walk,
                            Kumo__Documents__V1__ListDocumentsResponse *resp,
                            struct docs_doc_row *last, int *more)
{
    struct kumo_db_param params[24];
    struct kumo_buf sql = KUMO_BUF_INIT;
    size_t n = build_query(tid, q, cur, size + 1, walk, &sql, params);
    struct kumo_db_rows *rows;
    kumo_code rc = kumo_db_query(c, (const char *)sql.data, params, n, &rows);
    kumo_buf_free(&sql);
    if (rc != KUMO_CODE_OK)
        return rc;
    resp->n_documents = 0;
    *more = 0;
    for (;;) {
        int has = 0;
        if ((rc = kumo_db_rows_next(rows, &has)) != KUMO_CODE_OK || !has)
            break;
        if (resp->n_documents == (size_t)size) {
            *more = 1;
            break;
        }
        if ((rc = docs_scan_doc(call, rows, last)) != KUMO_CODE_OK)
            break;
        resp->documents[resp->n_documents++] = docs_doc_message(call, last);
    }
    kumo_db_rows_close(rows);
    return rc;
}

static kumo_code run_list(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                          const struct list_query *q, const struct kumo_buf *scope,
                          const struct kumo_page_cursor *cur, int32_t size,
                          Kumo__Documents__V1__ListDocumentsResponse *resp,
                          struct docs_doc_row *last, int *more)
{
    struct kumo_db_conn *c;
    kumo_code rc = docs_db_acquire(ctx, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    resp->documents = kumo_rpc_call_alloc(call, (size_t)size * sizeof *resp->documents);
    uint64_t key = q->query[0] ? scope_hash(scope) : 0;
    int walk = q->query[0] && !sparse_known(key);
    rc = fetch_page(c, call, tid, q, cur, size, walk, resp, last, more);
    /* A walk that did not fill the page may have hit its row bound (or
     * the end of the list): the full-text plan decides. If that fills the
     * page, the walk was too short for this query: remember it. */
    if (rc == KUMO_CODE_OK && walk && !*more) {
        rc = fetch_page(c, call, tid, q, cur, size, 0, resp, last, more);
        if (rc == KUMO_CODE_OK && *more)
            sparse_note(key);
    }
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
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
        return docs_invalid(call, "page_size", "must not be negative");
    struct list_query q;
    if ((rc = parse_request(call, req, &q)) != KUMO_CODE_OK)
        return rc;
    struct kumo_buf scope = KUMO_BUF_INIT, strbuf = KUMO_BUF_INIT;
    list_scope(&scope, p->tid, &q);
    struct kumo_page_cursor cur;
    if (kumo_page_cursor_decode(req->page_token, strlen(req->page_token), scope.data, scope.len,
                                &cur, &strbuf) != 0) {
        rc = docs_invalid(call, "page_token", "is not a token of this query");
        goto out;
    }
    Kumo__Documents__V1__ListDocumentsResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__list_documents_response__init(resp);
    struct docs_doc_row last;
    int more = 0;
    if ((rc = run_list(ctx, call, p->tid, &q, &scope, &cur, size, resp, &last, &more)) !=
        KUMO_CODE_OK)
        goto out;
    if (more) {
        struct kumo_page_cursor next = {last.seq, 0, "", 0};
        if (q.order == ORD_TITLE_ASC) {
            next.str = last.title;
            next.str_len = strlen(last.title);
        } else {
            next.num = q.order == ORD_UPDATE_DESC ? last.update_us : last.create_us;
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
