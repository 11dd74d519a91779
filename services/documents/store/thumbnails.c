/* Thumbnails of versions (thumbnails.h). */
#include "thumbnails.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "db/row.h"

const char docs_thumbnails_migration_sql[] =
    "CREATE TABLE IF NOT EXISTS document_thumbnails ("
    " tenant_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " document_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " version INT NOT NULL,"
    " object_key VARCHAR(320) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " create_time DATETIME(6) NOT NULL,"
    " PRIMARY KEY (tenant_id, document_id, version),"
    " KEY document_thumbnails_key (tenant_id, object_key)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

kumo_code docs_thumb_set(struct kumo_db_conn *c, const char *tenant_id, const char *document_id,
                         int64_t version, const char *key)
{
    return kumo_db_exec(c,
                        "INSERT INTO document_thumbnails (tenant_id, document_id, version,"
                        " object_key, create_time) VALUES (?, ?, ?, ?, ?)"
                        " ON DUPLICATE KEY UPDATE object_key = VALUES(object_key),"
                        " create_time = VALUES(create_time)",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(document_id),
                                       KUMO_DB_I64(version), KUMO_DB_STRZ(key),
                                       KUMO_DB_TIME(kumo_now_us())),
                        NULL);
}

/* One statement for any page: DOCS_THUMB_BATCH id placeholders, the unused
 * ones bound to NULL (which matches nothing). */
static char batch_sql[128 + DOCS_THUMB_BATCH * 3];
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;

static void build_batch_sql(void)
{
    size_t off = (size_t)snprintf(batch_sql, sizeof batch_sql,
                                  "SELECT document_id, version, object_key FROM "
                                  "document_thumbnails WHERE tenant_id = ? AND document_id IN (");
    for (int i = 0; i < DOCS_THUMB_BATCH; i++)
        off += (size_t)snprintf(batch_sql + off, sizeof batch_sql - off, i ? ",?" : "?");
    snprintf(batch_sql + off, sizeof batch_sql - off, ")");
}

struct thumb_batch {
    const char *const *ids;
    const int64_t *versions;
    size_t n;
    docs_thumb_key *keys;
};

/* kumo_db_row_fn: a (document_id, version, object_key) row into the key
 * of the asked version it belongs to. */
static kumo_code thumb_row(void *ud, struct kumo_db_rows *rows, size_t row)
{
    struct thumb_batch *b = ud;
    char id[33], key[DOCS_THUMB_KEY_MAX + 1];
    size_t id_len = 0, key_len = 0;
    int64_t version = 0;
    (void)row;
    kumo_code rc = kumo_db_rows_scan(
        rows, KUMO_DB_OUTS(KUMO_DB_OUT_BUF(id, sizeof id, &id_len), KUMO_DB_OUT_I64(&version),
                           KUMO_DB_OUT_BUF(key, sizeof key, &key_len)));
    if (rc != KUMO_CODE_OK)
        return rc;
    id[id_len < sizeof id ? id_len : sizeof id - 1] = '\0';
    for (size_t i = 0; i < b->n; i++) {
        if (b->versions[i] == version && strcmp(b->ids[i], id) == 0 &&
            key_len <= DOCS_THUMB_KEY_MAX) {
            memcpy(b->keys[i], key, key_len);
            b->keys[i][key_len] = '\0';
        }
    }
    return KUMO_CODE_OK;
}

kumo_code docs_thumb_keys(struct kumo_db_conn *c, const char *tenant_id, const char *const *ids,
                          const int64_t *versions, size_t n, docs_thumb_key *keys)
{
    if (n > DOCS_THUMB_BATCH)
        n = DOCS_THUMB_BATCH;
    for (size_t i = 0; i < n; i++)
        keys[i][0] = '\0';
    if (n == 0)
        return KUMO_CODE_OK;
    pthread_once(&batch_once, build_batch_sql);
    struct kumo_db_param p[1 + DOCS_THUMB_BATCH];
    p[0] = KUMO_DB_STRZ(tenant_id);
    for (size_t i = 0; i < DOCS_THUMB_BATCH; i++)
        p[1 + i] = i < n ? KUMO_DB_STRZ(ids[i]) : KUMO_DB_NULL;
    struct thumb_batch b = {ids, versions, n, keys};
    return kumo_db_query_each(c, batch_sql, p, 1 + DOCS_THUMB_BATCH, 0, thumb_row, &b, NULL);
}

kumo_code docs_thumb_forget(struct kumo_db_conn *c, const char *tenant_id, const char *key)
{
    return kumo_db_exec(c, "DELETE FROM document_thumbnails WHERE tenant_id = ? AND object_key = ?",
                        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(key)), NULL);
}
