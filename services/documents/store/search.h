/* Search over documents in every language: the n-gram columns
 * (migration 6: search_title, search_description, search_tags,
 * search_metadata, search_content, one FULLTEXT index over the five) that
 * hold the CJK bigram tokens of common/text/ngram.h, written by the
 * store's writes of those fields (store/documents.c), re-indexed for rows
 * written before them (search_version 0) by docs_search_reindex; the
 * text predicates of ListDocuments; and the windows of extracted text
 * that snippets are cut from.
 *
 * A query's CJK segments of 2+ characters match the n-gram index in
 * BOOLEAN MODE, each as a required phrase of consecutive bigrams (an exact
 * substring match within a run of CJK text); its other words keep the
 * natural-language MATCH over title, description, tags and extracted text
 * that English search always used. A query with both needs both. */
#ifndef KUMO_DOCUMENTS_STORE_SEARCH_H
#define KUMO_DOCUMENTS_STORE_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "db/db.h"
#include "rpc/rpc.h"
#include "text/ngram.h"

/* The most bytes of tokens one field's n-gram column holds (2 MiB: about
 * 175k CJK characters; text beyond is found by its first part only). */
#define DOCS_SEARCH_FIELD_MAX (2u << 20)

/* The n-gram column values of a document's fields. */
struct docs_search_cols {
    struct kumo_buf title, description, tags, metadata;
};

/* Fills *s (zeroed first) with the tokens of each non-NULL field;
 * `metadata` is the stored JSON object text (its string values, at any
 * depth, are indexed; keys are not; text that is not JSON is indexed
 * whole). Free with docs_search_cols_free. */
void docs_search_cols_fill(struct docs_search_cols *s, const char *title, const char *description,
                           const char *tags_text, const char *metadata);
void docs_search_cols_free(struct docs_search_cols *s);

/* A parameter binding a column's tokens: NULL when there are none. */
struct kumo_db_param docs_search_param(const struct kumo_buf *tokens);

/* The tokens of extracted text text[0..len) into `out`. */
void docs_search_content(const char *text, size_t len, struct kumo_buf *out);

/* The SQL test of each kind of query part (one bound parameter each). */
#define DOCS_SEARCH_WORDS_EXPR                                                                     \
    "MATCH (d.title, d.description, d.tags_text, d.extracted_text)"                                \
    " AGAINST (? IN NATURAL LANGUAGE MODE)"
#define DOCS_SEARCH_NGRAM_EXPR                                                                     \
    "MATCH (d.search_title, d.search_description, d.search_tags, d.search_metadata,"               \
    " d.search_content) AGAINST (? IN BOOLEAN MODE)"

/* Re-indexes up to `batch` documents (of any tenant) not indexed since
 * migration 6 (search_version 0), oldest first, each in its own statement
 * (a row changed meanwhile by this binary is left as its writer indexed
 * it). *done = the rows re-indexed. OK or the DB error. */
kumo_code docs_search_reindex(struct kumo_db_conn *c, size_t batch, size_t *done);

/* Re-indexes every document still at search_version 0, in batches, on
 * connections of `db`; logs the count. OK or the DB error. */
kumo_code docs_search_reindex_all(struct kumo_db *db, size_t *total);

/* For snippets: for each of the tenant's documents seqs[0..n) (n <= 100)
 * whose extracted text contains one of the query's first terms (compared
 * without case), a window of the text around the first such term (about
 * 300 characters) into windows[i] (the call's arena; NULL when none).
 * OK or the DB error. */
kumo_code docs_search_content_windows(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                      const char *tenant_id, const int64_t *seqs, size_t n,
                                      const struct kumo_text_query *q, char **windows);

#endif
