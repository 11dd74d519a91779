/* The ListDocuments query (store/document_list.h).
 * Every order is a keyset on (sort column, seq): create_time, update_time
 * or title, with seq breaking ties in the same direction, so a page starts
 * exactly after the last row of the previous one however many rows are
 * inserted meanwhile (db/page_cursor carries the last row's values and
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

#include "base/ids.h"
#include "document_list.h"
#include "documents.h"

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
} orders[DOCS_ORD_N] = {
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

size_t docs_list_sql(const char *tid, const struct docs_list_query *q,
                     const struct kumo_page_cursor *cur, int32_t limit, int walk,
                     struct kumo_buf *sql, struct kumo_db_param *p)
{
    size_t n = 0;
    /* Not with the full-text plan: with the tag rows first, the server
     * would run a full-text access per tag row. */
    int by_tag = q->tag[0] &&
                 (q->order == DOCS_ORD_CREATE_DESC || q->order == DOCS_ORD_CREATE_ASC) &&
                 (walk || !q->query[0]);
    /* The walk: the inner query lists only seq, the outer one the columns. */
    if (walk) {
        kumo_buf_append_str(sql, "SELECT STRAIGHT_JOIN ");
        kumo_buf_append_str(sql, docs_doc_columns);
        kumo_buf_append_str(sql, " FROM (");
    }
    kumo_buf_append_str(sql, q->tag[0] ? "SELECT STRAIGHT_JOIN " : "SELECT ");
    kumo_buf_append_str(sql, walk ? "d.seq" : docs_doc_columns);
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
        if (q->order == DOCS_ORD_TITLE_ASC) {
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

/* Runs one statement of the list, filling rows[0..*n) (room for `size`);
 * *more when a row beyond `size` came back. OK or the DB error. */
static kumo_code fetch_page(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                            const struct docs_list_query *q, const struct kumo_page_cursor *cur,
                            int32_t size, int walk, struct docs_doc_row *rows, size_t *n, int *more)
{
    struct kumo_db_param params[24];
    struct kumo_buf sql = KUMO_BUF_INIT;
    size_t np = docs_list_sql(tid, q, cur, size + 1, walk, &sql, params);
    struct kumo_db_rows *res;
    kumo_code rc = kumo_db_query(c, (const char *)sql.data, params, np, &res);
    kumo_buf_free(&sql);
    if (rc != KUMO_CODE_OK)
        return rc;
    *n = 0;
    *more = 0;
    for (;;) {
        int has = 0;
        if ((rc = kumo_db_rows_next(res, &has)) != KUMO_CODE_OK || !has)
            break;
        if (*n == (size_t)size) {
            *more = 1;
            break;
        }
        if ((rc = docs_doc_scan(call, res, &rows[*n])) != KUMO_CODE_OK)
            break;
        (*n)++;
    }
    kumo_db_rows_close(res);
    return rc;
}

kumo_code docs_doc_list(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                        const struct docs_list_query *q, const struct kumo_buf *scope,
                        const struct kumo_page_cursor *cur, int32_t size,
                        struct docs_doc_row **rows, size_t *n, int *more)
{
    *rows = kumo_rpc_call_alloc(call, (size_t)size * sizeof **rows);
    uint64_t key = q->query[0] ? scope_hash(scope) : 0;
    int walk = q->query[0] && !sparse_known(key);
    kumo_code rc = fetch_page(c, call, tid, q, cur, size, walk, *rows, n, more);
    /* A walk that did not fill the page may have hit its row bound (or
     * the end of the list): the full-text plan decides. If that fills the
     * page, the walk was too short for this query: remember it. */
    if (rc == KUMO_CODE_OK && walk && !*more) {
        rc = fetch_page(c, call, tid, q, cur, size, 0, *rows, n, more);
        if (rc == KUMO_CODE_OK && *more)
            sparse_note(key);
    }
    return rc;
}
