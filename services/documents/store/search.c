/* The n-gram columns, their re-indexing and the snippet windows (see
 * search.h). */
#include <jansson.h>
#include <string.h>

#include "base/alloc.h"
#include "columns.h"
#include "db/row.h"
#include "runtime/log.h"
#include "search.h"

static void tokens_of(const char *text, struct kumo_buf *out)
{
    if (text)
        kumo_text_ngrams(text, strlen(text), DOCS_SEARCH_FIELD_MAX, out);
}

/* Appends the string values of j (at any depth), a newline after each. */
static void json_strings(const json_t *j, struct kumo_buf *out)
{
    if (json_is_string(j)) {
        kumo_buf_append(out, json_string_value(j), json_string_length(j));
        kumo_buf_append_byte(out, '\n');
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) json_strings(v, out);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) json_strings(v, out);
    }
}

void docs_search_cols_fill(struct docs_search_cols *s, const char *title, const char *description,
                           const char *tags_text, const char *metadata)
{
    memset(s, 0, sizeof *s);
    tokens_of(title, &s->title);
    tokens_of(description, &s->description);
    tokens_of(tags_text, &s->tags);
    if (metadata && metadata[0]) {
        json_t *j = json_loads(metadata, JSON_DECODE_ANY, NULL);
        if (j) {
            struct kumo_buf values = KUMO_BUF_INIT;
            json_strings(j, &values);
            json_decref(j);
            if (values.len)
                kumo_text_ngrams((const char *)values.data, values.len, DOCS_SEARCH_FIELD_MAX,
                                 &s->metadata);
            kumo_buf_free(&values);
        } else {
            tokens_of(metadata, &s->metadata);
        }
    }
}

void docs_search_cols_free(struct docs_search_cols *s)
{
    kumo_buf_free(&s->title);
    kumo_buf_free(&s->description);
    kumo_buf_free(&s->tags);
    kumo_buf_free(&s->metadata);
}

struct kumo_db_param docs_search_param(const struct kumo_buf *tokens)
{
    return tokens->len ? KUMO_DB_STR((const char *)tokens->data, tokens->len) : KUMO_DB_NULL;
}

void docs_search_content(const char *text, size_t len, struct kumo_buf *out)
{
    kumo_text_ngrams(text, len, DOCS_SEARCH_FIELD_MAX, out);
}

/* ---- re-indexing ---- */

/* Rows read per batch, and the most text bytes a batch holds in memory
 * (a batch ends early past it). */
#define REINDEX_BATCH_BYTES (32u << 20)

struct reindex_row {
    int64_t seq;
    char *f[5]; /* title, description, tags_text, metadata, extracted_text (kumo_malloc) */
};

static char *dup_col(struct kumo_db_rows *rows, unsigned i, size_t *total)
{
    size_t n = 0;
    const char *p = kumo_db_rows_bytes(rows, i, &n);
    if (!p)
        return NULL;
    char *s = kumo_malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    *total += n;
    return s;
}

static kumo_code reindex_one(struct kumo_db_conn *c, const struct reindex_row *r)
{
    struct docs_search_cols s;
    docs_search_cols_fill(&s, r->f[0], r->f[1], r->f[2], r->f[3]);
    struct kumo_buf content = KUMO_BUF_INIT;
    if (r->f[4])
        docs_search_content(r->f[4], strlen(r->f[4]), &content);
    kumo_code rc = kumo_db_exec(
        c,
        "UPDATE documents SET search_title = ?, search_description = ?, search_tags = ?,"
        " search_metadata = ?, search_content = ?, search_version = 1"
        " WHERE seq = ? AND search_version = 0",
        KUMO_DB_PARAMS(docs_search_param(&s.title), docs_search_param(&s.description),
                       docs_search_param(&s.tags), docs_search_param(&s.metadata),
                       docs_search_param(&content), KUMO_DB_I64(r->seq)),
        NULL);
    kumo_buf_free(&content);
    docs_search_cols_free(&s);
    return rc;
}

kumo_code docs_search_reindex(struct kumo_db_conn *c, size_t batch, size_t *done)
{
    *done = 0;
    if (batch == 0)
        return KUMO_CODE_OK;
    struct reindex_row *rows = kumo_malloc(batch * sizeof *rows);
    size_t n = 0, bytes = 0;
    /* Locked until the batch commits: a writer of this binary waits and
     * then indexes its own change on top. */
    kumo_code rc = kumo_db_begin(c);
    struct kumo_db_rows *res = NULL;
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_query(c,
                           "SELECT seq, title, description, tags_text, metadata, extracted_text"
                           " FROM documents WHERE search_version = 0 ORDER BY search_version, seq"
                           " LIMIT ? FOR UPDATE",
                           KUMO_DB_PARAMS(KUMO_DB_I64(batch)), &res);
    while (rc == KUMO_CODE_OK && n < batch && bytes < REINDEX_BATCH_BYTES) {
        int has = 0;
        if ((rc = kumo_db_rows_next(res, &has)) != KUMO_CODE_OK || !has)
            break;
        struct reindex_row *r = &rows[n];
        memset(r, 0, sizeof *r);
        if ((rc = kumo_db_rows_scan(res, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&r->seq)))) != KUMO_CODE_OK)
            break;
        for (unsigned i = 0; i < 5; i++)
            r->f[i] = dup_col(res, i + 1, &bytes);
        n++;
    }
    kumo_db_rows_close(res);
    for (size_t i = 0; rc == KUMO_CODE_OK && i < n; i++)
        rc = reindex_one(c, &rows[i]);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    else if (kumo_db_in_transaction(c))
        kumo_db_rollback(c);
    for (size_t i = 0; i < n; i++)
        for (unsigned k = 0; k < 5; k++)
            kumo_free(rows[i].f[k]);
    kumo_free(rows);
    if (rc == KUMO_CODE_OK)
        *done = n;
    return rc;
}

kumo_code docs_search_reindex_all(struct kumo_db *db, size_t *total)
{
    *total = 0;
    kumo_code rc = KUMO_CODE_OK;
    for (;;) {
        struct kumo_db_conn *c;
        if ((rc = kumo_db_acquire(db, 0, &c)) != KUMO_CODE_OK)
            break;
        size_t done = 0;
        rc = docs_search_reindex(c, 200, &done);
        kumo_db_release(c);
        if (rc != KUMO_CODE_OK || done == 0)
            break;
        *total += done;
    }
    if (*total)
        kumo_logf(KUMO_LOG_INFO, NULL, "search: re-indexed %zu documents", *total);
    return rc;
}

/* ---- snippet windows ---- */

/* Terms looked up in extracted text (each costs a scan of it per row). */
#define WINDOW_TERMS 4
/* Characters before the first match, and the window's length. */
#define WINDOW_LEAD  "80"
#define WINDOW_CHARS "300"

kumo_code docs_search_content_windows(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                      const char *tenant_id, const int64_t *seqs, size_t n,
                                      const struct kumo_text_query *q, char **windows)
{
    for (size_t i = 0; i < n; i++)
        windows[i] = NULL;
    size_t nt = q->n_terms < WINDOW_TERMS ? q->n_terms : WINDOW_TERMS;
    if (n == 0 || nt == 0 || n > 100)
        return KUMO_CODE_OK;
    /* p: where the first of the terms (in query order) that occurs starts,
     * compared without case (the column's collation is binary). */
    struct kumo_buf pos = KUMO_BUF_INIT, sql = KUMO_BUF_INIT;
    kumo_buf_append_str(&pos, "COALESCE(");
    for (size_t t = 0; t < nt; t++)
        kumo_buf_append_str(&pos,
                            "NULLIF(LOCATE(?, extracted_text COLLATE utf8mb4_general_ci), 0), ");
    kumo_buf_append_str(&pos, "0)");
    /* "…" where the window cuts the text. */
    kumo_buf_appendf(&sql,
                     "SELECT seq, CONCAT(IF(s > 1, '\xE2\x80\xA6', ''),"
                     " SUBSTRING(extracted_text, s, " WINDOW_CHARS "),"
                     " IF(CHAR_LENGTH(extracted_text) >= s + " WINDOW_CHARS ", '\xE2\x80\xA6', ''))"
                     " FROM (SELECT seq, extracted_text, %s AS p, GREATEST(1, %s - " WINDOW_LEAD
                     ") AS s FROM documents WHERE tenant_id = ? AND seq IN (",
                     (const char *)pos.data, (const char *)pos.data);
    for (size_t i = 0; i < n; i++)
        kumo_buf_append_str(&sql, i ? ", ?" : "?");
    kumo_buf_append_str(&sql, ")) x WHERE p > 0");
    struct kumo_db_param *p = kumo_malloc((2 * nt + 1 + n) * sizeof *p);
    size_t np = 0;
    for (int twice = 0; twice < 2; twice++) /* p, then s */
        for (size_t t = 0; t < nt; t++)
            p[np++] = KUMO_DB_STR((const char *)q->text.data + q->term_off[t], q->term_len[t]);
    p[np++] = KUMO_DB_STRZ(tenant_id);
    for (size_t i = 0; i < n; i++)
        p[np++] = KUMO_DB_I64(seqs[i]);
    struct kumo_db_rows *res = NULL;
    kumo_code rc = kumo_db_query(c, (const char *)sql.data, p, np, &res);
    while (rc == KUMO_CODE_OK) {
        int has = 0;
        if ((rc = kumo_db_rows_next(res, &has)) != KUMO_CODE_OK || !has)
            break;
        int64_t seq = 0;
        if ((rc = kumo_db_rows_scan(res, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&seq)))) != KUMO_CODE_OK)
            break;
        for (size_t i = 0; i < n; i++)
            if (seqs[i] == seq)
                windows[i] = docs_col_str(call, res, 1);
    }
    kumo_db_rows_close(res);
    kumo_free(p);
    kumo_buf_free(&pos);
    kumo_buf_free(&sql);
    return rc;
}
