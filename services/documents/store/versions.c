/* The document_versions SQL and its row mappings: VERSION_COLUMNS below is
 * read back by scan_version right under it, in the same order (the rows
 * uploads and downloads work on); a listing reads Version messages by
 * field name (db/message_scan.h). */
#include <stdio.h>
#include <string.h>

#include "columns.h"
#include "db/message_scan.h"
#include "db/row.h"
#include "kumo/documents/v1/documents.pb-c.h"
#include "documents.h"
#include "versions.h"

/* The columns of a version row, in the order scan_version reads them: the
 * numbers and times first, then text and bytes by position (8 on). */
#define VERSION_COLUMNS                                                                            \
    "v.version, v.status, v.size, v.upload_method, v.part_size, v.part_count, v.create_time,"      \
    " v.complete_time, v.file_name, v.content_type, v.sha256, v.detected_content_type,"            \
    " v.creator_id, v.object_key, v.upload_id"
enum { VERSION_COL_FILE_NAME = 8 };

static kumo_code scan_version(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct docs_version_row *v = out;
    kumo_code rc = kumo_db_rows_scan(
        rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&v->version), KUMO_DB_OUT_I64(&v->status),
                           KUMO_DB_OUT_I64(&v->size), KUMO_DB_OUT_I64(&v->upload_method),
                           KUMO_DB_OUT_I64(&v->part_size), KUMO_DB_OUT_I64(&v->part_count),
                           KUMO_DB_OUT_TIME(&v->create_us),
                           KUMO_DB_OUT_TIME_N(&v->complete_us, &v->complete_null)));
    if (rc != KUMO_CODE_OK)
        return rc;
    unsigned i = VERSION_COL_FILE_NAME;
    v->file_name = docs_col_str(call, rows, i++);
    v->content_type = docs_col_str(call, rows, i++);
    docs_col_sha256(rows, i++, v->sha256, &v->sha256_len);
    v->detected_content_type = docs_col_str(call, rows, i++);
    v->creator_id = docs_col_str(call, rows, i++);
    v->object_key = docs_col_str(call, rows, i++);
    v->upload_id = docs_col_str(call, rows, i++);
    return KUMO_CODE_OK;
}

int docs_version_key(char *out, size_t cap, const char *tenant_id, const char *doc_id,
                     int64_t version)
{
    return snprintf(out, cap, "t/%s/d/%s/v%lld", tenant_id, doc_id, (long long)version);
}

char *docs_object_key(struct kumo_rpc_call *call, const char *tenant_id, const char *doc_id,
                      int64_t version)
{
    size_t n = strlen(tenant_id) + strlen(doc_id) + 32;
    char *k = kumo_rpc_call_alloc(call, n);
    docs_version_key(k, n, tenant_id, doc_id, version);
    return k;
}

kumo_code docs_version_load(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const char *tenant_id, const char *doc_id, int64_t version,
                            struct docs_version_row *v)
{
    return kumo_db_row_query_one(
        c,
        "SELECT " VERSION_COLUMNS " FROM document_versions v"
        " WHERE v.tenant_id = ? AND v.document_id = ? AND v.version = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
        scan_version, call, v);
}

kumo_code docs_version_insert(struct kumo_db_conn *c, const struct docs_version_new *n)
{
    char key[320];
    docs_version_key(key, sizeof key, n->tenant_id, n->doc_id, n->version);
    kumo_code rc = kumo_db_exec(
        c,
        "INSERT INTO document_versions (tenant_id, document_id, version, status, file_name,"
        " content_type, size, sha256, creator_id, object_key, upload_method, part_size,"
        " part_count, create_time) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        KUMO_DB_PARAMS(
            KUMO_DB_STRZ(n->tenant_id), KUMO_DB_STRZ(n->doc_id), KUMO_DB_I64(n->version),
            KUMO_DB_STRZ(n->file_name), KUMO_DB_STRZ(n->content_type), KUMO_DB_I64(n->size),
            n->sha256.len ? KUMO_DB_BYTES(n->sha256.data, 32) : KUMO_DB_NULL,
            KUMO_DB_STRZ(n->creator_id), KUMO_DB_STRZ(key),
            KUMO_DB_I64(n->multipart
                            ? KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART
                            : KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_SINGLE_PUT),
            KUMO_DB_I64(n->part_size), KUMO_DB_I64(n->part_count), KUMO_DB_TIME(n->now_us)),
        NULL);
    return rc;
}

kumo_code docs_version_set_upload_id(struct kumo_db_conn *c, const char *tenant_id,
                                     const char *doc_id, int64_t version, const char *upload_id,
                                     uint64_t *matched)
{
    return kumo_db_exec(c,
                        "UPDATE document_versions SET upload_id = ? WHERE tenant_id = ?"
                        " AND document_id = ? AND version = ? AND upload_id IS NULL",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(upload_id), KUMO_DB_STRZ(tenant_id),
                                       KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
                        matched);
}

kumo_code docs_version_forget_upload(struct kumo_db_conn *c, const char *tenant_id,
                                     const char *object_key)
{
    return kumo_db_exec(c,
                        "UPDATE document_versions SET upload_id = NULL WHERE tenant_id = ?"
                        " AND object_key = ? AND status = 1",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(object_key)), NULL);
}

kumo_code docs_version_complete(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                                int64_t version, const char *content_key, const uint8_t *sha,
                                int64_t now_us)
{
    return kumo_db_exec(c,
                        "UPDATE document_versions SET status = 2, complete_time = ?, sha256 = ?,"
                        " object_key = ? WHERE tenant_id = ? AND document_id = ? AND version = ?",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(now_us),
                                       sha ? KUMO_DB_BYTES(sha, 32) : KUMO_DB_NULL,
                                       KUMO_DB_STRZ(content_key), KUMO_DB_STRZ(tenant_id),
                                       KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
                        NULL);
}

struct key_list {
    struct kumo_rpc_call *call;
    char **keys;
    size_t cap;
};

/* kumo_db_row_fn: an object key appended to the list (usually a handful:
 * grown as needed rather than sized for the limit). */
static kumo_code key_row(void *ud, struct kumo_db_rows *rows, size_t i)
{
    struct key_list *l = ud;
    if (i == l->cap) {
        char **bigger = kumo_rpc_call_alloc(l->call, 2 * l->cap * sizeof *bigger);
        memcpy(bigger, l->keys, l->cap * sizeof *bigger);
        l->keys = bigger;
        l->cap *= 2;
    }
    l->keys[i] = docs_col_str(l->call, rows, 0);
    return KUMO_CODE_OK;
}

kumo_code docs_version_keys(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const char *tenant_id, const char *doc_id, char ***keys, size_t *n)
{
    struct key_list l = {call, kumo_rpc_call_alloc(call, 8 * sizeof(char *)), 8};
    kumo_code rc = kumo_db_query_each(c,
                                      "SELECT object_key FROM document_versions WHERE tenant_id = ?"
                                      " AND document_id = ? AND status = 2 ORDER BY version DESC"
                                      " LIMIT 10000",
                                      KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id)),
                                      0, key_row, &l, n);
    *keys = l.keys;
    return rc;
}

kumo_code docs_version_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const struct kumo_db_page *pg, const char *tenant_id,
                            const char *doc_id, Kumo__Documents__V1__Version ***out, size_t *n,
                            char **next)
{
    return kumo_db_page_msgs(
        pg, call, c,
        "SELECT v.version AS " KUMO_DB_MSG_KEY ", v.version, v.status, v.file_name,"
        " v.content_type, v.size, v.sha256, v.detected_content_type, v.creator_id,"
        " v.create_time, v.complete_time FROM document_versions v"
        " WHERE v.tenant_id = ? AND v.document_id = ? AND v.version < ?"
        " ORDER BY v.version DESC LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id),
                       KUMO_DB_I64(pg->after < 0 ? INT64_MAX : pg->after),
                       KUMO_DB_I64((int64_t)pg->size + 1)),
        &kumo__documents__v1__version__descriptor, (void ***)out, n, next);
}

kumo_code docs_version_lock(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                            int64_t version, int64_t *status, char *key, size_t key_cap,
                            char *upload, size_t upload_cap)
{
    size_t key_len = 0, upload_len = 0;
    int upload_null = 0;
    kumo_code rc = kumo_db_query_row(
        c,
        "SELECT status, object_key, upload_id FROM document_versions"
        " WHERE tenant_id = ? AND document_id = ? AND version = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(status), KUMO_DB_OUT_BUF(key, key_cap - 1, &key_len),
                     KUMO_DB_OUT_BUF_N(upload, upload_cap - 1, &upload_len, &upload_null)));
    key[rc == KUMO_CODE_OK ? key_len : 0] = '\0';
    upload[rc == KUMO_CODE_OK && !upload_null ? upload_len : 0] = '\0';
    return rc;
}

kumo_code docs_version_lock_created(struct kumo_db_conn *c, const char *tenant_id,
                                    const char *doc_id, int64_t version, int64_t *status,
                                    int64_t *create_us)
{
    return kumo_db_query_row(
        c,
        "SELECT status, create_time FROM document_versions"
        " WHERE tenant_id = ? AND document_id = ? AND version = ? FOR UPDATE",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(status), KUMO_DB_OUT_TIME(create_us)));
}

kumo_code docs_version_delete(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                              int64_t version)
{
    return kumo_db_exec(
        c,
        "DELETE FROM document_versions"
        " WHERE tenant_id = ? AND document_id = ? AND version = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)), NULL);
}

kumo_code docs_version_set_detected(struct kumo_db_conn *c, const char *tenant_id,
                                    const char *doc_id, int64_t version, const char *mime,
                                    const uint8_t sha[32], uint64_t *matched)
{
    /* Matched rows (CLIENT_FOUND_ROWS), changed or not: 0 only when the
     * version declares a different SHA-256. */
    kumo_code rc = kumo_db_exec(c,
                                "UPDATE document_versions SET detected_content_type = ?, sha256 = ?"
                                " WHERE tenant_id = ? AND document_id = ? AND version = ?"
                                " AND (sha256 IS NULL OR sha256 = ?)",
                                KUMO_DB_PARAMS(KUMO_DB_STRZ(mime), KUMO_DB_BYTES(sha, 32),
                                               KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id),
                                               KUMO_DB_I64(version), KUMO_DB_BYTES(sha, 32)),
                                matched);
    return rc;
}

kumo_code docs_version_source(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                              int64_t version, struct docs_version_source *v)
{
    kumo_code rc = kumo_db_query_row(
        c,
        "SELECT v.object_key, v.sha256, v.size, d.current_version, d.status"
        " FROM document_versions v"
        " JOIN documents d ON d.id = v.document_id AND d.tenant_id = v.tenant_id"
        " WHERE v.tenant_id = ? AND v.document_id = ? AND v.version = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
        KUMO_DB_OUTS(KUMO_DB_OUT_BUF(v->key, sizeof v->key - 1, &v->key_len),
                     KUMO_DB_OUT_BUF_N(v->sha, sizeof v->sha, &v->sha_len, &v->sha_null),
                     KUMO_DB_OUT_I64(&v->size), KUMO_DB_OUT_I64(&v->current),
                     KUMO_DB_OUT_I64(&v->status)));
    v->key[v->key_len] = '\0';
    return rc;
}

kumo_code docs_version_list_expired(struct kumo_db_conn *c, int64_t before_us,
                                    struct docs_doc_ref *refs, size_t max, size_t *n)
{
    return docs_col_refs(c,
                         "SELECT tenant_id, document_id, version FROM document_versions"
                         " WHERE status = 1 AND create_time < ? ORDER BY create_time LIMIT 100",
                         before_us, 1, refs, max, n);
}

kumo_code docs_version_fail_upload(struct kumo_db_conn *c, const char *tenant_id,
                                   const char *doc_id, int64_t version, const char *reason,
                                   int64_t now_us)
{
    return kumo_db_exec(c,
                        "UPDATE documents SET upload_error = ?, upload_error_time = ?"
                        " WHERE tenant_id = ? AND id = ? AND pending_version = ?",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(reason), KUMO_DB_TIME(now_us),
                                       KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id),
                                       KUMO_DB_I64(version)),
                        NULL);
}

kumo_code docs_version_declare_sha(struct kumo_db_conn *c, const char *tenant_id,
                                   const char *doc_id, int64_t version, const uint8_t sha[32],
                                   uint64_t *changed)
{
    return kumo_db_exec(c,
                        "UPDATE document_versions SET sha256 = ?"
                        " WHERE tenant_id = ? AND document_id = ? AND version = ?"
                        " AND sha256 IS NULL",
                        KUMO_DB_PARAMS(KUMO_DB_BYTES(sha, 32), KUMO_DB_STRZ(tenant_id),
                                       KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
                        changed);
}
