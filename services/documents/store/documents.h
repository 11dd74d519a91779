/* The document aggregate's rows: the documents table, with the tag rows
 * (document_tags) and per-tenant number counters (document_counters) that
 * live and change with it. Every statement on these tables is in
 * store/documents.c (the ListDocuments query included), next to the
 * column list its rows are read back with. Functions take an open
 * connection (and run inside the caller's transaction when it has one);
 * text columns are copied into the call's arena. Nothing here answers an
 * RPC: the handlers decide what a result means. */
#ifndef KUMO_DOCUMENTS_STORE_DOCUMENTS_H
#define KUMO_DOCUMENTS_STORE_DOCUMENTS_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "base/buf.h"
#include "db/db.h"
#include "db/page_cursor.h"
#include "rpc/rpc.h"

/* One documents row (DOC_COLUMNS in store/documents.c). Times in
 * microseconds since the epoch; *_null set when the column is NULL. */
struct docs_doc_row {
    int64_t seq, size, status, current_version, pending_version, version;
    int64_t create_us, update_us, archive_us, delete_us, purge_us;
    int archive_null, delete_null, purge_null;
    int64_t restore_state, restore_tier, restore_days, restore_ready_us, restore_expire_us;
    int restore_ready_null, restore_expire_null;
    int64_t extraction_state, status_before_delete;
    char *id, *number, *title, *description, *file_name, *content_type, *tags_text, *metadata,
        *owner_id, *detected_content_type;
    char *upload_error; /* "" when none (migration 5) */
    uint8_t sha256[32];
    size_t sha256_len;
};

/* Loads a document of the tenant (FOR UPDATE when `lock`). OK, NOT_FOUND
 * or the DB error. */
kumo_code docs_doc_load(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tenant_id,
                        const char *id, int lock, struct docs_doc_row *d);

/* The document an idempotency key of (tenant, owner) still names (its TTL
 * not over). OK, NOT_FOUND or the DB error. */
kumo_code docs_doc_find_by_key(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                               const char *tenant_id, const char *owner_id, const char *key,
                               struct docs_doc_row *d);

/* Frees an idempotency key past its TTL for reuse (a key past its TTL no
 * longer names its document). OK or the DB error. */
kumo_code docs_doc_release_key(struct kumo_db_conn *c, const char *tenant_id, const char *owner_id,
                               const char *key);

/* A new document (status PENDING_UPLOAD, pending version 1). */
struct docs_doc_new {
    const char *id, *tenant_id, *owner_id;
    const char *title, *description, *file_name, *content_type;
    int64_t size;
    ProtobufCBinaryData sha256; /* len 0 or 32 */
    const char *tags_text;      /* tags joined by ' ' */
    char **tags;
    size_t n_tags;
    const char *metadata;   /* JSON object text or NULL */
    const char *idem_key;   /* "" for none */
    int64_t idem_expire_us; /* with idem_key */
    int64_t now_us;
};

/* Inside the caller's transaction: takes the tenant's next number for the
 * UTC year of now_us (gap-free: the counter row stays locked until the
 * transaction ends, and a rollback gives the number back), inserts the
 * document and its tag rows, and writes the number ("DOC-2026-000123")
 * into number[24]. OK, ALREADY_EXISTS (a duplicate idempotency key:
 * kumo_db_last_error()->dup_key "documents_idem") or the DB error. */
kumo_code docs_doc_insert(struct kumo_db_conn *c, const struct docs_doc_new *n, char number[24]);

/* Formats a document number: "DOC-<year>-<n, 6 digits at least>". */
void docs_doc_number(int year, int64_t n, char out[24]);

/* The UTC calendar year of a time in microseconds since the epoch. */
int docs_utc_year(int64_t us);

/* Records `version` as the document's pending upload (CreateVersion): a
 * change, so the etag moves; a new upload also clears the reason the last
 * one was refused (upload_error). OK or the DB error. */
kumo_code docs_doc_set_pending(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t version, int64_t now_us);

/* UpdateDocument's fields: which ones change (DOCS_DOC_F_* bits) and their
 * new values. */
enum {
    DOCS_DOC_F_TITLE = 1,
    DOCS_DOC_F_DESCRIPTION = 2,
    DOCS_DOC_F_TAGS = 4,
    DOCS_DOC_F_METADATA = 8,
    DOCS_DOC_F_FILE_NAME = 16
};
struct docs_doc_edit {
    unsigned fields;
    const char *title, *description, *file_name, *tags_text, *metadata;
    char **tags;
    size_t n_tags;
};

/* Applies an edit if the row is still at `version` and not deleted
 * (replacing the tag rows when tags change). *matched = 0 when no row
 * matched (gone, deleted or stale etag). OK or the DB error. */
kumo_code docs_doc_update(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                          int64_t version, const struct docs_doc_edit *e, uint64_t *matched);

/* ACTIVE -> ARCHIVED if still at `version`, restore state reset to
 * ARCHIVED. *matched = 0 when no row matched. OK or the DB error. */
kumo_code docs_doc_archive(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                           int64_t version, int64_t now_us, uint64_t *matched);

/* The restore state of an archived document. ready_us/expire_us 0 =
 * NULL. */
struct docs_doc_restore {
    int64_t state, tier, days, ready_us, expire_us;
};

/* Records a requested restore (an edit: the etag moves) if the archived row
 * is still at `version`. *matched = 0 when no row matched. */
kumo_code docs_doc_set_restore(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t version, const struct docs_doc_restore *r, int64_t now_us,
                               uint64_t *matched);

/* Brings the stored restore state up to date with storage's (not an edit:
 * the etag stays) if the row is still at `version`. */
kumo_code docs_doc_refresh_restore(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                   int64_t version, int64_t state, int64_t ready_us,
                                   int64_t expire_us);

/* Soft delete: status DELETED (the previous status kept for undelete),
 * purgeable from purge_us. OK or the DB error. */
kumo_code docs_doc_soft_delete(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t now_us, int64_t purge_us);

/* Undoes a soft delete (status back to what it was). */
kumo_code docs_doc_undelete(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                            int64_t now_us);

/* Makes `version` (just completed, `size` bytes, sha NULL or 32 bytes) the
 * current content: status ACTIVE, extraction pending again. */
kumo_code docs_doc_set_current(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                               int64_t version, const char *file_name, const char *content_type,
                               int64_t size, const uint8_t *sha, int64_t now_us);

/* A failed extraction of the document's current version `version` is
 * pending again (its job was re-driven). OK or the DB error. */
kumo_code docs_doc_extraction_retry(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                    int64_t version);

/* A document named by a background job or sweep. */
struct docs_doc_ref {
    char tenant_id[33], id[33];
    int64_t version; /* a version of it, where the listing names one */
};

/* Inside the caller's transaction: locks the document row and reads its
 * current version. OK, NOT_FOUND or the DB error. */
kumo_code docs_doc_lock_current(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                int64_t *current);

/* Inside the caller's transaction: locks the document row and reads its
 * status and purge time (*purge_null when none). OK, NOT_FOUND or the DB
 * error. */
kumo_code docs_doc_lock_purge(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                              int64_t *status, int64_t *purge_us, int *purge_null);

/* Forgets pending version `version` (its upload expired). */
kumo_code docs_doc_clear_pending(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                 int64_t version);

/* Records what extraction found for the current content: the detected
 * MIME type, the SHA-256 of the bytes and the text (NULL: none). */
kumo_code docs_doc_set_extracted(struct kumo_db_conn *c, const char *tenant_id, const char *id,
                                 const char *mime, const uint8_t sha[32], const char *text,
                                 size_t text_len);

/* Up to `max` soft-deleted documents whose purge time is before now_us,
 * oldest first, into refs[0..*n). OK or the DB error. */
kumo_code docs_doc_list_purgeable(struct kumo_db_conn *c, int64_t now_us, struct docs_doc_ref *refs,
                                  size_t max, size_t *n);

/* ---- ListDocuments ---- */

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
    /* The query split by kumo_text_query_parse (store/search.h): `words`
     * for the natural-language MATCH (NULL: the query as it is), `ngram`
     * the CJK phrases for the n-gram MATCH (NULL or "": none). */
    const char *words, *ngram;
    /* The same phrases as bare token strings, NUL-separated (n_phrases
     * of them), for the walk's row test. */
    const char *phrases;
    size_t n_phrases;
    int64_t t[4]; /* create after, create before, update after, update before (us) */
    int has_t[4];
};

/* The most parameters docs_list_sql binds. */
#define DOCS_LIST_PARAMS_MAX 40

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
