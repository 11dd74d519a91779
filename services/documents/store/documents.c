/* The document aggregate's SQL (documents, document_tags,
 * document_counters) and its row mapping: DOC_COLUMNS below is read back
 * by docs_doc_scan right under it, in the same order. The ListDocuments
 * query is at the end (its plans are described there). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/calendar.h"
#include "base/ids.h"
#include "db/row.h"
#include "columns.h"
#include "documents.h"
#include "search.h"

/* The columns of a documents row, in the order docs_doc_scan reads them:
 * the numbers and times first (one kumo_db_rows_scan), then the text and
 * bytes by position (18 on). */
#define DOC_COLUMNS                                                                                \
    "d.seq, d.size, d.status, d.current_version, d.pending_version, d.version, d.create_time,"     \
    " d.update_time, d.archive_time, d.delete_time, d.purge_time, d.restore_state,"                \
    " d.restore_tier, d.restore_days, d.restore_ready_time, d.restore_expire_time,"                \
    " d.extraction_state, d.status_before_delete, d.id, d.number, d.title, d.description,"         \
    " d.file_name, d.content_type, d.sha256, d.tags_text, d.metadata, d.owner_id,"                 \
    " d.detected_content_type, d.upload_error"
enum { DOC_COL_ID = 18 };

/* Reads the current row of a query selecting DOC_COLUMNS into
 * *(struct docs_doc_row *)out. */
static kumo_code docs_doc_scan(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct docs_doc_row *d = out;
    int sbd_null = 0;
    kumo_code rc = kumo_db_rows_scan(
        rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&d->seq), KUMO_DB_OUT_I64(&d->size),
                           KUMO_DB_OUT_I64(&d->status), KUMO_DB_OUT_I64(&d->current_version),
                           KUMO_DB_OUT_I64(&d->pending_version), KUMO_DB_OUT_I64(&d->version),
                           KUMO_DB_OUT_TIME(&d->create_us), KUMO_DB_OUT_TIME(&d->update_us),
                           KUMO_DB_OUT_TIME_N(&d->archive_us, &d->archive_null),
                           KUMO_DB_OUT_TIME_N(&d->delete_us, &d->delete_null),
                           KUMO_DB_OUT_TIME_N(&d->purge_us, &d->purge_null),
                           KUMO_DB_OUT_I64(&d->restore_state), KUMO_DB_OUT_I64(&d->restore_tier),
                           KUMO_DB_OUT_I64(&d->restore_days),
                           KUMO_DB_OUT_TIME_N(&d->restore_ready_us, &d->restore_ready_null),
                           KUMO_DB_OUT_TIME_N(&d->restore_expire_us, &d->restore_expire_null),
                           KUMO_DB_OUT_I64(&d->extraction_state),
                           KUMO_DB_OUT_I64_N(&d->status_before_delete, &sbd_null)));
    if (rc != KUMO_CODE_OK)
        return rc;
    unsigned i = DOC_COL_ID;
    d->id = docs_col_str(call, rows, i++);
    d->number = docs_col_str(call, rows, i++);
    d->title = docs_col_str(call, rows, i++);
    d->description = docs_col_str(call, rows, i++);
    d->file_name = docs_col_str(call, rows, i++);
    d->content_type = docs_col_str(call, rows, i++);
    docs_col_sha256(rows, i++, d->sha256, &d->sha256_len);
    d->tags_text = docs_col_str(call, rows, i++);
    d->metadata = docs_col_str(call, rows, i++);
    d->owner_id = docs_col_str(call, rows, i++);
    d->detected_content_type = docs_col_str(call, rows, i++);
    d->upload_error = docs_col_str(call, rows, i++);
    return KUMO_CODE_OK;
}

kumo_code docs_doc_load(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tenant_id,
                        const char *id, int lock, struct docs_doc_row *d)
{
    const char *sql = lock ? "SELECT " DOC_COLUMNS
                             " FROM documents d WHERE d.tenant_id = ? AND d.id = ? FOR UPDATE"
                           : "SELECT " DOC_COLUMNS
                             " FROM documents d WHERE d.tenant_id = ? AND d.id = ?";
    return kumo_db_row_query_one(c, sql, KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)),
                                 docs_doc_scan, call, d);
}

/* Idempotency keys are the creating principal's: (tenant, owner, key). */
kumo_code docs_doc_find_by_key(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                               const char *tenant_id, const char *owner_id, const char *key,
                               struct docs_doc_row *d)
{
    return kumo_db_row_query_one(c,
                                 "SELECT " DOC_COLUMNS
                                 " FROM documents d WHERE d.tenant_id = ? AND d.owner_id = ?"
                                 " AND d.idempotency_key = ? AND d.idempotency_expire_time > ?",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(owner_id),
                                                KUMO_DB_STRZ(key), KUMO_DB_TIME(kumo_now_us())),
                                 docs_doc_scan, call, d);
}

kumo_code docs_doc_release_key(struct kumo_db_conn *c, const char *tenant_id, const char *owner_id,
                               const char *key)
{
    return kumo_db_exec(c,
                        "UPDATE documents SET idempotency_key = NULL, idempotency_expire_time ="
                        " NULL WHERE tenant_id = ? AND owner_id = ? AND idempotency_key = ?"
                        " AND idempotency_expire_time <= ?",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(owner_id),
                                       KUMO_DB_STRZ(key), KUMO_DB_TIME(kumo_now_us())),
                        NULL);
}

void docs_doc_number(int year, int64_t n, char out[24])
{
    snprintf(out, 24, "DOC-%04d-%06lld", year, (long long)n);
}

int docs_utc_year(int64_t us)
{
    return (int)kumo_utc_year_us(us);
}

static kumo_code next_number(struct kumo_db_conn *c, const char *tid, int year, char out[24])
{
    kumo_code rc =
        kumo_db_exec(c,
                     "INSERT INTO document_counters (tenant_id, year, last_number) VALUES (?, ?, 1)"
                     " ON DUPLICATE KEY UPDATE last_number = last_number + 1",
                     KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_I64(year)), NULL);
    int64_t n = 0;
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_query_row(
            c, "SELECT last_number FROM document_counters WHERE tenant_id = ? AND year = ?",
            KUMO_DB_PARAMS(KUMO_DB_STRZ(tid), KUMO_DB_I64(year)),
            KUMO_DB_OUTS(KUMO_DB_OUT_I64(&n)));
    if (rc == KUMO_CODE_OK)
        docs_doc_number(year, n, out);
    return rc;
}

/* Inserts one tag row of a document, copying the document's create_time
 * and seq (migration 3; store/document_list.c walks tags in that order).
 * The document must exist (in the transaction). */
static kumo_code insert_tags(struct kumo_db_conn *c, const char *tid, const char *id, char **tags,
                             size_t n)
{
    kumo_code rc = KUMO_CODE_OK;
    for (size_t i = 0; rc == KUMO_CODE_OK && i < n; i++)
        rc = kumo_db_exec(
            c,
            "INSERT INTO document_tags (tenant_id, document_id, tag, create_time, seq)"
            " SELECT tenant_id, id, ?, create_time, seq FROM documents"
            " WHERE tenant_id = ? AND id = ?",
            KUMO_DB_PARAMS(KUMO_DB_STRZ(tags[i]), KUMO_DB_STRZ(tid), KUMO_DB_STRZ(id)), NULL);
    return rc;
}

kumo_code docs_doc_insert(struct kumo_db_conn *c, const struct docs_doc_new *n, char number[24])
{
    kumo_code rc = next_number(c, n->tenant_id, docs_utc_year(n->now_us), number);
    if (rc != KUMO_CODE_OK)
        return rc;
    int idem = n->idem_key[0] != '\0';
    struct docs_search_cols sc;
    docs_search_cols_fill(&sc, n->title, n->description, n->tags_text, n->metadata);
    rc = kumo_db_exec(
        c,
        "INSERT INTO documents (id, tenant_id, number, title, description, file_name,"
        " content_type, size, sha256, tags_text, metadata, status, current_version,"
        " pending_version, owner_id, version, create_time, update_time, idempotency_key,"
        " idempotency_expire_time, search_title, search_description, search_tags,"
        " search_metadata, search_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, 1, ?,"
        " 1, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(n->id), KUMO_DB_STRZ(n->tenant_id), KUMO_DB_STRZ(number),
                       KUMO_DB_STRZ(n->title), KUMO_DB_STRZ(n->description),
                       KUMO_DB_STRZ(n->file_name), KUMO_DB_STRZ(n->content_type),
                       KUMO_DB_I64(n->size),
                       n->sha256.len ? KUMO_DB_BYTES(n->sha256.data, 32) : KUMO_DB_NULL,
                       KUMO_DB_STRZ(n->tags_text), KUMO_DB_STRZ(n->metadata),
                       KUMO_DB_STRZ(n->owner_id), KUMO_DB_TIME(n->now_us), KUMO_DB_TIME(n->now_us),
                       idem ? KUMO_DB_STRZ(n->idem_key) : KUMO_DB_NULL,
                       idem ? KUMO_DB_TIME(n->idem_expire_us) : KUMO_DB_NULL,
                       docs_search_param(&sc.title), docs_search_param(&sc.description),
                       docs_search_param(&sc.tags), docs_search_param(&sc.metadata)),
        NULL);
    docs_search_cols_free(&sc);
    if (rc == KUMO_CODE_OK)
        rc = insert_tags(c, n->tenant_id, n->id, n->tags, n->n_tags);
    return rc;
}

/* Every change of a documents row bumps its version (the etag clients send
 * back in If-Match) and its update time, and touches only the tenant's row
 * of that id: DOC_SET writes that part of the statement once, after the
 * change's own SET list. DOC_SET_AT also asks for the version the caller
 * read (one more parameter) and a status rule ("= 2", "<> 4"). */
#define DOC_SET(set)                                                                               \
    "UPDATE documents SET " set ", version = version + 1, update_time = ?"                         \
    " WHERE tenant_id = ? AND id = ?"
#define DOC_SET_AT(set, status_rule) DOC_SET(set) " AND version = ? AND status " status_rule

/* Most parameters of a change's own SET list. */
#define DOC_SET_MAX_PARAMS 24

/* Runs a DOC_SET or (version not NULL) DOC_SET_AT statement: the SET
 * list's parameters, then now_us, tenant_id, id and *version. *matched
 * (may be NULL) gets the rows changed. */
static kumo_code doc_exec(struct kumo_db_conn *c, const char *sql, const struct kumo_db_param *set,
                          size_t n_set, int64_t now_us, const char *tenant_id, const char *id,
                          const int64_t *version, uint64_t *matched)
{
    struct kumo_db_param p[DOC_SET_MAX_PARAMS + 4];
    if (n_set > DOC_SET_MAX_PARAMS)
        return KUMO_CODE_INTERNAL;
    if (n_set)
        memcpy(p, set, n_set * sizeof *set);
    size_t n = n_set;
    p[n++] = KUMO_DB_TIME(now_us);
    p[n++] = KUMO_DB_STRZ(tenant_id);
    p[n++] = KUMO_DB_STRZ(id);
    if (version)
        p[n++] = KUMO_DB_I64(*version);
    return kumo_db_exec(c, sql, p, n, matched);
}

/* A DOC_SET change. */
static kumo_code doc_set(struct kumo_db_conn *c, const char *sql, const struct kumo_db_param *set,
                         size_t n_set, int64_t now_us, const char *tenant_id, const char *id)
{
    return doc_exec(c, sql, set, n_set, now_us, tenant_id, id, NULL, NULL);
}

/* A DOC_SET_AT change, from `version`; *matched: 0 when the row moved on. */
static kumo_code doc_set_at(struct kumo_db_conn *c, const char *sql,
                            const struct kumo_db_param *set, size_t n_set, int64_t now_us,
                            const char *tenant_id, const char *id, int64_t version,
                            uint64_t *matched)
{
    return doc_exec(c, sql, set, n_set, now_us, tenant_id, id, &version, matched);
}

kumo_code docs_doc_set_pending(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t version, int64_t now_us)
{
    return doc_set(c, DOC_SET("pending_version = ?, upload_error = NULL, upload_error_time = NULL"),
                   KUMO_DB_PARAMS(KUMO_DB_I64(version)), now_us, tenant_id, id);
}

kumo_code docs_doc_update(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                          int64_t version, const struct docs_doc_edit *e, uint64_t *matched)
{
    unsigned f = e->fields;
    struct docs_search_cols sc;
    docs_search_cols_fill(&sc, (f & DOCS_DOC_F_TITLE) ? e->title : NULL,
                          (f & DOCS_DOC_F_DESCRIPTION) ? e->description : NULL,
                          (f & DOCS_DOC_F_TAGS) ? e->tags_text : NULL,
                          (f & DOCS_DOC_F_METADATA) ? e->metadata : NULL);
    kumo_code rc = doc_set_at(
        c,
        DOC_SET_AT(
            "title = IF(?, ?, title), description = IF(?, ?, description),"
            " file_name = IF(?, ?, file_name), tags_text = IF(?, ?, tags_text),"
            " metadata = IF(?, ?, metadata), search_title = IF(?, ?, search_title),"
            " search_description = IF(?, ?, search_description),"
            " search_tags = IF(?, ?, search_tags), search_metadata = IF(?, ?, search_metadata)",
            "<> 4"),
        KUMO_DB_PARAMS(KUMO_DB_I64((f & DOCS_DOC_F_TITLE) != 0), KUMO_DB_STRZ(e->title),
                       KUMO_DB_I64((f & DOCS_DOC_F_DESCRIPTION) != 0), KUMO_DB_STRZ(e->description),
                       KUMO_DB_I64((f & DOCS_DOC_F_FILE_NAME) != 0), KUMO_DB_STRZ(e->file_name),
                       KUMO_DB_I64((f & DOCS_DOC_F_TAGS) != 0), KUMO_DB_STRZ(e->tags_text),
                       KUMO_DB_I64((f & DOCS_DOC_F_METADATA) != 0), KUMO_DB_STRZ(e->metadata),
                       KUMO_DB_I64((f & DOCS_DOC_F_TITLE) != 0), docs_search_param(&sc.title),
                       KUMO_DB_I64((f & DOCS_DOC_F_DESCRIPTION) != 0),
                       docs_search_param(&sc.description), KUMO_DB_I64((f & DOCS_DOC_F_TAGS) != 0),
                       docs_search_param(&sc.tags), KUMO_DB_I64((f & DOCS_DOC_F_METADATA) != 0),
                       docs_search_param(&sc.metadata)),
        kumo_now_us(), tenant_id, id, version, matched);
    docs_search_cols_free(&sc);
    if (rc != KUMO_CODE_OK || *matched == 0 || !(f & DOCS_DOC_F_TAGS))
        return rc;
    rc = kumo_db_exec(c, "DELETE FROM document_tags WHERE tenant_id = ? AND document_id = ?",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)), NULL);
    if (rc == KUMO_CODE_OK)
        rc = insert_tags(c, tenant_id, id, e->tags, e->n_tags);
    return rc;
}

kumo_code docs_doc_archive(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                           int64_t version, int64_t now_us, uint64_t *matched)
{
    return doc_set_at(c,
                      DOC_SET_AT("status = 3, archive_time = ?, restore_state = 1,"
                                 " restore_tier = 0, restore_days = 0, restore_ready_time = NULL,"
                                 " restore_expire_time = NULL",
                                 "= 2"),
                      KUMO_DB_PARAMS(KUMO_DB_TIME(now_us)), now_us, tenant_id, id, version,
                      matched);
}

kumo_code docs_doc_set_restore(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t version, const struct docs_doc_restore *r, int64_t now_us,
                               uint64_t *matched)
{
    return doc_set_at(c,
                      DOC_SET_AT("restore_state = ?, restore_tier = ?, restore_days = ?,"
                                 " restore_ready_time = ?, restore_expire_time = ?",
                                 "= 3"),
                      KUMO_DB_PARAMS(KUMO_DB_I64(r->state), KUMO_DB_I64(r->tier),
                                     KUMO_DB_I64(r->days),
                                     r->ready_us ? KUMO_DB_TIME(r->ready_us) : KUMO_DB_NULL,
                                     r->expire_us ? KUMO_DB_TIME(r->expire_us) : KUMO_DB_NULL),
                      now_us, tenant_id, id, version, matched);
}

kumo_code docs_doc_refresh_restore(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                   int64_t version, int64_t state, int64_t ready_us,
                                   int64_t expire_us)
{
    return kumo_db_exec(
        c,
        "UPDATE documents SET restore_state = ?, restore_ready_time = ?,"
        " restore_expire_time = ? WHERE tenant_id = ? AND id = ? AND version = ?",
        KUMO_DB_PARAMS(KUMO_DB_I64(state), ready_us ? KUMO_DB_TIME(ready_us) : KUMO_DB_NULL,
                       expire_us ? KUMO_DB_TIME(expire_us) : KUMO_DB_NULL, KUMO_DB_STRZ(tenant_id),
                       KUMO_DB_STRZ(id), KUMO_DB_I64(version)),
        NULL);
}

kumo_code docs_doc_soft_delete(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t now_us, int64_t purge_us)
{
    return doc_set(
        c, DOC_SET("status_before_delete = status, status = 4, delete_time = ?, purge_time = ?"),
        KUMO_DB_PARAMS(KUMO_DB_TIME(now_us), KUMO_DB_TIME(purge_us)), now_us, tenant_id, id);
}

kumo_code docs_doc_undelete(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                            int64_t now_us)
{
    return doc_set(
        c,
        DOC_SET("status = COALESCE(status_before_delete, 2), status_before_delete = NULL,"
                " delete_time = NULL, purge_time = NULL"),
        NULL, 0, now_us, tenant_id, id);
}

kumo_code docs_doc_set_current(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t version, const char *file_name, const char *content_type,
                               int64_t size, const uint8_t *sha, int64_t now_us)
{
    return doc_set(c,
                   DOC_SET("status = 2, current_version = ?, pending_version ="
                           " IF(pending_version = ?, 0, pending_version), file_name = ?,"
                           " content_type = ?, size = ?, sha256 = ?,"
                           " detected_content_type = '', extraction_state = 1,"
                           " extracted_text = NULL, search_content = NULL,"
                           " upload_error = NULL, upload_error_time = NULL"),
                   KUMO_DB_PARAMS(KUMO_DB_I64(version), KUMO_DB_I64(version),
                                  KUMO_DB_STRZ(file_name), KUMO_DB_STRZ(content_type),
                                  KUMO_DB_I64(size), sha ? KUMO_DB_BYTES(sha, 32) : KUMO_DB_NULL),
                   now_us, tenant_id, id);
}

kumo_code docs_doc_extraction_retry(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                    int64_t version)
{
    /* 1 = PENDING, 3 = FAILED (ExtractionState). */
    return kumo_db_exec(
        c,
        "UPDATE documents SET extraction_state = 1"
        " WHERE tenant_id = ? AND id = ? AND current_version = ?"
        " AND extraction_state = 3",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id), KUMO_DB_I64(version)), NULL);
}

kumo_code docs_doc_lock_current(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                int64_t *current)
{
    return kumo_db_query_row(
        c, "SELECT current_version FROM documents WHERE tenant_id = ? AND id = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(current)));
}

kumo_code docs_doc_lock_purge(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                              int64_t *status, int64_t *purge_us, int *purge_null)
{
    return kumo_db_query_row(
        c, "SELECT status, purge_time FROM documents WHERE tenant_id = ? AND id = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(status), KUMO_DB_OUT_TIME_N(purge_us, purge_null)));
}

kumo_code docs_doc_clear_pending(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                 int64_t version)
{
    return kumo_db_exec(
        c,
        "UPDATE documents SET pending_version = 0"
        " WHERE tenant_id = ? AND id = ? AND pending_version = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id), KUMO_DB_I64(version)), NULL);
}

kumo_code docs_doc_set_extracted(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                 const char *mime, const uint8_t sha[32], const char *text,
                                 size_t text_len)
{
    /* 2 = DONE (ExtractionState). The n-gram tokens of the text go with it
     * (store/search.h), whatever extractor produced it. */
    struct kumo_buf tokens = KUMO_BUF_INIT;
    if (text)
        docs_search_content(text, text_len, &tokens);
    kumo_code rc = kumo_db_exec(c,
                                "UPDATE documents SET detected_content_type = ?, sha256 = ?,"
                                " extracted_text = ?, search_content = ?, extraction_state = 2"
                                " WHERE tenant_id = ? AND id = ?",
                                KUMO_DB_PARAMS(KUMO_DB_STRZ(mime), KUMO_DB_BYTES(sha, 32),
                                               text ? KUMO_DB_STR(text, text_len) : KUMO_DB_NULL,
                                               docs_search_param(&tokens), KUMO_DB_STRZ(tenant_id),
                                               KUMO_DB_STRZ(id)),
                                NULL);
    kumo_buf_free(&tokens);
    return rc;
}

kumo_code docs_doc_list_purgeable(struct kumo_db_conn *c, int64_t now_us, struct docs_doc_ref *refs,
                                  size_t max, size_t *n)
{
    return docs_col_refs(c,
                         "SELECT tenant_id, id FROM documents WHERE status = 4 AND purge_time < ?"
                         " ORDER BY purge_time LIMIT 100",
                         now_us, 0, refs, max, n);
}

/* ---- ListDocuments ----
 *
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
 * description, tags and extracted text filters the rows for its words, and
 * MATCH ... AGAINST (boolean mode: a required phrase of bigram tokens per
 * CJK part) over the n-gram columns for its Japanese, Chinese or Korean
 * parts (store/search.h); the walk below tests those phrases with LOCATE on
 * the token columns instead, which selects the same rows (common/text/
 * ngram.h) without evaluating the full-text query. The rows keep the
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

/* The FROM ... WHERE of each access path (after the select list). */
#define FROM_DOCS " FROM documents d WHERE d.tenant_id = ?"
#define FROM_TAGGED                                                                                \
    " FROM documents d JOIN document_tags t"                                                       \
    " ON t.tenant_id = d.tenant_id AND t.tag = ? AND t.document_id = d.id WHERE d.tenant_id = ?"
/* Tag and create-time order: from the tag's rows in that order. */
#define FROM_TAG_CREATE                                                                            \
    " FROM document_tags t JOIN documents d"                                                       \
    " ON d.seq = t.seq WHERE t.tenant_id = ? AND t.tag = ? AND d.tenant_id = ?"
/* The text tests (store/search.h): words in natural language mode over
 * the text columns, CJK phrases in boolean mode over the n-gram columns. */
#define MATCH_WORDS " AND " DOCS_SEARCH_WORDS_EXPR
#define MATCH_NGRAM " AND " DOCS_SEARCH_NGRAM_EXPR
/* The same tests as row filters on the walked rows (not an access path):
 * see the top. */
#define WALK_OUTER      ") w JOIN documents d ON d.seq = w.seq WHERE d.tenant_id = ?"
#define WALK_WORDS_TEST " AND " DOCS_SEARCH_WORDS_EXPR " + 0 > 0"
#define WALK_NGRAM_TEST " AND " DOCS_SEARCH_NGRAM_EXPR " + 0 > 0"
#define WALK_PHRASE_TEST                                                                           \
    " AND (LOCATE(?, d.search_title) OR LOCATE(?, d.search_description)"                           \
    " OR LOCATE(?, d.search_tags) OR LOCATE(?, d.search_metadata)"                                 \
    " OR LOCATE(?, d.search_content))"
/* The most phrases the walk tests with LOCATE (5 parameters each); more
 * use the MATCH test. */
#define WALK_PHRASES_MAX 3

/* Rows in order a text query's walk tests before the full-text plan takes
 * over: WALK_FACTOR times the rows the page needs (at most WALK_ROWS_MAX),
 * so the page fills within them when at least 1 row in WALK_FACTOR
 * matches; each walked row costs a primary-key read and a MATCH test. */
#define WALK_FACTOR   20
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
        kumo_buf_append_str(sql, DOC_COLUMNS);
        kumo_buf_append_str(sql, " FROM (");
    }
    kumo_buf_append_str(sql, q->tag[0] ? "SELECT STRAIGHT_JOIN " : "SELECT ");
    kumo_buf_append_str(sql, walk ? "d.seq" : DOC_COLUMNS);
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
    const char *words = q->words ? q->words : q->query;
    const char *ngram = q->ngram ? q->ngram : "";
    if (!words[0] && !ngram[0])
        words = q->query; /* never a text query without a text test */
    if (q->query[0] && !walk) {
        if (words[0]) {
            kumo_buf_append_str(sql, MATCH_WORDS);
            p[n++] = KUMO_DB_STRZ(words);
        }
        if (ngram[0]) {
            kumo_buf_append_str(sql, MATCH_NGRAM);
            p[n++] = KUMO_DB_STRZ(ngram);
        }
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
        p[n++] = KUMO_DB_STRZ(tid);
        if (words[0]) {
            kumo_buf_append_str(sql, WALK_WORDS_TEST);
            p[n++] = KUMO_DB_STRZ(words);
        }
        if (ngram[0] && q->phrases && q->n_phrases >= 1 && q->n_phrases <= WALK_PHRASES_MAX) {
            /* Each phrase as a substring of a token column: the same rows
             * as the boolean MATCH (common/text/ngram.h), without
             * evaluating the full-text query over every document that
             * holds its bigrams (what MATCH costs even as a row test). */
            const char *ph = q->phrases;
            for (size_t i = 0; i < q->n_phrases; i++, ph += strlen(ph) + 1) {
                kumo_buf_append_str(sql, WALK_PHRASE_TEST);
                for (int k = 0; k < 5; k++)
                    p[n++] = KUMO_DB_STRZ(ph);
            }
        } else if (ngram[0]) {
            kumo_buf_append_str(sql, WALK_NGRAM_TEST);
            p[n++] = KUMO_DB_STRZ(ngram);
        }
        kumo_buf_append_str(sql, orders[q->order].order_by);
        p[n++] = KUMO_DB_I64(limit);
    }
    return n;
}

/* Runs one statement of the list, filling rows[0..*n) (room for
 * `size` + 1); *more when a row beyond `size` came back (it is not part of
 * the page). OK or the DB error. */
static kumo_code fetch_page(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                            const struct docs_list_query *q, const struct kumo_page_cursor *cur,
                            int32_t size, int walk, struct docs_doc_row *rows, size_t *n, int *more)
{
    struct kumo_db_param params[DOCS_LIST_PARAMS_MAX];
    struct kumo_buf sql = KUMO_BUF_INIT;
    size_t np = docs_list_sql(tid, q, cur, size + 1, walk, &sql, params);
    kumo_code rc = kumo_db_row_query_rows(c, (const char *)sql.data, params, np, docs_doc_scan,
                                          call, rows, sizeof *rows, (size_t)size + 1, n);
    kumo_buf_free(&sql);
    *more = *n > (size_t)size;
    if (*more)
        *n = (size_t)size;
    return rc;
}

kumo_code docs_doc_list(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tid,
                        const struct docs_list_query *q, const struct kumo_buf *scope,
                        const struct kumo_page_cursor *cur, int32_t size,
                        struct docs_doc_row **rows, size_t *n, int *more)
{
    *rows = kumo_rpc_call_alloc(call, ((size_t)size + 1) * sizeof **rows);
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
