/* The ListDocuments query: filters, full-text search and keyset
 * pagination over the documents table (the plans are described at the top
 * of store/document_list.c). */
#ifndef KUMO_DOCUMENTS_STORE_DOCUMENT_LIST_H
#define KUMO_DOCUMENTS_STORE_DOCUMENT_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "db/db.h"
#include "db/page_cursor.h"
#include "documents.h"
#include "rpc/rpc.h"

/* The orders: each a keyset on (sort column, seq). */
enum {
    DOCS_ORD_CREATE_DESC,
    DOCS_ORD_CREATE_ASC,
    DOCS_ORD_UPDATE_DESC,
    DOCS_ORD_TITLE_ASC,
    DOCS_ORD_N
};

/* A checked ListDocuments request. Strings "" when absent; status 0 = any
 * but DELETED. */
struct docs_list_query {
    int order; /* DOCS_ORD_* */
    int64_t status;
    const char *tag, *content_type, *owner_id, *query;
    int64_t t[4]; /* create after, create before, update after, update before (us) */
    int has_t[4];
};

/* The most parameters docs_list_sql binds. */
#define DOCS_LIST_PARAMS_MAX 24

/* Appends to `sql` the statement for `q` after cursor `cur` (cur->seq < 0:
 * the first page), asking for `limit` rows, assembled from fixed fragments
 * by which filters are present (values are always bound), and fills
 * p[0..n) with its parameters; returns n. `walk` picks the bounded index
 * walk of a text query. Pure: no database. */
size_t docs_list_sql(const char *tenant_id, const struct docs_list_query *q,
                     const struct kumo_page_cursor *cur, int32_t limit, int walk,
                     struct kumo_buf *sql, struct kumo_db_param *p);

/* Reads one page of `size` documents after `cur`: rows[0..*n) in the
 * call's arena, *more when a row beyond the page exists. `scope` (what
 * the page token is bound to) names the query for the plan hint of text
 * queries. OK or the DB error. */
kumo_code docs_doc_list(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tenant_id,
                        const struct docs_list_query *q, const struct kumo_buf *scope,
                        const struct kumo_page_cursor *cur, int32_t size,
                        struct docs_doc_row **rows, size_t *n, int *more);

#endif
