/* The purge of a document's rows (store/purge.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "base/ids.h"
#include "jobs.h"
#include "purge.h"
#include "versions.h"

/* {"objects":[{"key":..,"upload_id":..}, ...]} of every version (locked
 * with the document row by the caller's transaction). */
static kumo_code purge_payload(struct kumo_db_conn *c, const char *tenant_id,
                               const char *document_id, char **out, int *n_versions)
{
    struct kumo_db_rows *rows;
    kumo_code rc =
        kumo_db_query(c,
                      "SELECT version, object_key, upload_id FROM document_versions"
                      " WHERE tenant_id = ? AND document_id = ? ORDER BY version FOR UPDATE",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(document_id)), &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    json_t *objects = json_array();
    *n_versions = 0;
    for (;;) {
        int has = 0;
        if ((rc = kumo_db_rows_next(rows, &has)) != KUMO_CODE_OK || !has)
            break;
        int64_t version = 0;
        if ((rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&version)))) != KUMO_CODE_OK)
            break;
        size_t klen = 0, ulen = 0;
        const char *k = kumo_db_rows_bytes(rows, 1, &klen);
        const char *u = kumo_db_rows_bytes(rows, 2, &ulen);
        json_t *o = json_object();
        json_object_set_new(o, "key", json_stringn(k ? k : "", klen));
        json_object_set_new(o, "upload_id", json_stringn(u ? u : "", ulen));
        json_array_append_new(objects, o);
        /* A completed single PUT is served from its own content key: its
         * upload key may still hold bytes (an upload URL outlives the
         * completion) and goes too. */
        char upload_key[320];
        docs_version_key(upload_key, sizeof upload_key, tenant_id, document_id, version);
        if (strlen(upload_key) != klen || memcmp(upload_key, k, klen) != 0) {
            json_t *u2 = json_object();
            json_object_set_new(u2, "key", json_string(upload_key));
            json_object_set_new(u2, "upload_id", json_string(""));
            json_array_append_new(objects, u2);
        }
        (*n_versions)++;
    }
    kumo_db_rows_close(rows);
    if (rc == KUMO_CODE_OK) {
        json_t *root = json_object();
        json_object_set_new(root, "objects", objects);
        *out = json_dumps(root, JSON_COMPACT);
        json_decref(root);
    } else {
        json_decref(objects);
    }
    return rc;
}

kumo_code docs_purge_rows_as(struct kumo_db_conn *c, const char *tenant_id, const char *document_id,
                             const char *actor_id, const char *actor_roles, const char *request_id)
{
    uint64_t n = 0;
    kumo_code rc =
        kumo_db_exec(c, "SELECT 1 FROM documents WHERE tenant_id = ? AND id = ? FOR UPDATE",
                     KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(document_id)), NULL);
    if (rc != KUMO_CODE_OK)
        return rc;
    char *payload = NULL;
    int n_versions = 0;
    if ((rc = purge_payload(c, tenant_id, document_id, &payload, &n_versions)) != KUMO_CODE_OK)
        return rc;
    rc = kumo_db_exec(c, "DELETE FROM documents WHERE tenant_id = ? AND id = ?",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(document_id)), &n);
    if (rc == KUMO_CODE_OK && n == 0)
        rc = KUMO_CODE_NOT_FOUND;
    if (rc == KUMO_CODE_OK)
        rc =
            kumo_db_exec(c, "DELETE FROM document_versions WHERE tenant_id = ? AND document_id = ?",
                         KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(document_id)), NULL);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(c, "DELETE FROM document_tags WHERE tenant_id = ? AND document_id = ?",
                          KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(document_id)), NULL);
    if (rc == KUMO_CODE_OK) {
        char details[64];
        snprintf(details, sizeof details, "{\"versions\":%d}", n_versions);
        rc = docs_audit(c, tenant_id, actor_id, actor_roles, "document.purge", document_id, 0,
                        request_id, details);
    }
    if (rc == KUMO_CODE_OK && n_versions > 0)
        rc = docs_job_enqueue(c, tenant_id, DOCS_JOB_PURGE_CONTENT, document_id, 0, payload,
                              kumo_now_us());
    free(payload);
    return rc;
}

kumo_code docs_purge_rows(struct kumo_db_conn *c, const char *tenant_id, const char *document_id,
                          const char *actor_id, const char *request_id)
{
    return docs_purge_rows_as(c, tenant_id, document_id, actor_id, "service", request_id);
}
