/* The purge_content job: deletes the objects (and aborts the multipart
 * uploads) of purged document versions, and each version's thumbnail
 * ("<key>.thumb.png" and its document_thumbnails row). Payload:
 * {"objects":[{"key":"t/...","upload_id":"..."}]}. Idempotent: a missing
 * object or upload counts as done. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "jobs.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "../store/thumbnails.h"

static kumo_code delete_object(struct docs_job_env *env, const struct docs_job *job,
                               const char *key, struct kumo_buf *err)
{
    ProtobufCMessage *resp = NULL;
    Kumo__Storage__V1__DeleteObjectRequest d = KUMO__STORAGE__V1__DELETE_OBJECT_REQUEST__INIT;
    d.tenant_id = (char *)job->tenant_id;
    d.key = (char *)key;
    kumo_code rc =
        docs_job_storage_call(env->ctx, job->id, job->tenant_id, "DeleteObject", &d.base,
                              &kumo__storage__v1__delete_object_response__descriptor, &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rc == KUMO_CODE_NOT_FOUND) {
        err->len = 0;
        if (err->data)
            err->data[0] = '\0';
        rc = KUMO_CODE_OK;
    }
    return rc;
}

/* The version's thumbnail: the object, then its row. */
static kumo_code purge_thumbnail(struct docs_job_env *env, const struct docs_job *job,
                                 const char *key, struct kumo_buf *err)
{
    char tkey[DOCS_THUMB_KEY_MAX + 1];
    if (strlen(key) + strlen(DOCS_THUMB_SUFFIX) > DOCS_THUMB_KEY_MAX)
        return KUMO_CODE_OK; /* no thumbnail is ever stored for such a key */
    snprintf(tkey, sizeof tkey, "%s%s", key, DOCS_THUMB_SUFFIX);
    kumo_code rc = delete_object(env, job, tkey, err);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_db_conn *c = NULL;
    rc = kumo_db_acquire(env->ctx->db, 0, &c);
    if (rc == KUMO_CODE_OK) {
        kumo_db_conn_set_request_id(c, job->id);
        rc = docs_thumb_forget(c, job->tenant_id, tkey);
        kumo_db_release(c);
    }
    if (rc != KUMO_CODE_OK)
        kumo_buf_appendf(err, "database: %s", kumo_db_last_error()->message);
    return rc;
}

static kumo_code purge_one(struct docs_job_env *env, const struct docs_job *job, const char *key,
                           const char *upload_id, struct kumo_buf *err)
{
    ProtobufCMessage *resp = NULL;
    kumo_code rc;
    if (upload_id && upload_id[0]) {
        Kumo__Storage__V1__AbortMultipartUploadRequest a =
            KUMO__STORAGE__V1__ABORT_MULTIPART_UPLOAD_REQUEST__INIT;
        a.tenant_id = (char *)job->tenant_id;
        a.key = (char *)key;
        a.upload_id = (char *)upload_id;
        rc = docs_job_storage_call(
            env->ctx, job->id, job->tenant_id, "AbortMultipartUpload", &a.base,
            &kumo__storage__v1__abort_multipart_upload_response__descriptor, &resp, err);
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        resp = NULL;
        if (rc == KUMO_CODE_NOT_FOUND) {
            err->len = 0; /* gone already: fine */
            if (err->data)
                err->data[0] = '\0';
        } else if (rc != KUMO_CODE_OK) {
            return rc;
        }
    }
    rc = delete_object(env, job, key, err);
    if (rc == KUMO_CODE_OK)
        rc = purge_thumbnail(env, job, key, err);
    return rc;
}

kumo_code docs__job_purge_content(struct docs_job_env *env, const struct docs_job *job,
                                  struct kumo_buf *err)
{
    if (!job->payload || !job->payload[0])
        return KUMO_CODE_OK; /* nothing listed */
    json_error_t jerr;
    json_t *root = json_loads(job->payload, 0, &jerr);
    json_t *objects = root ? json_object_get(root, "objects") : NULL;
    if (!objects || !json_is_array(objects)) {
        json_decref(root);
        kumo_buf_appendf(err, "malformed purge_content payload");
        return KUMO_CODE_INVALID_ARGUMENT;
    }
    kumo_code rc = KUMO_CODE_OK;
    size_t i;
    json_t *o;
    json_array_foreach(objects, i, o)
    {
        if (*env->stopping) {
            kumo_buf_appendf(err, "stopping");
            rc = KUMO_CODE_UNAVAILABLE;
            break;
        }
        const char *key = json_string_value(json_object_get(o, "key"));
        const char *upload_id = json_string_value(json_object_get(o, "upload_id"));
        if (!key || !key[0])
            continue;
        rc = purge_one(env, job, key, upload_id, err);
        if (rc != KUMO_CODE_OK)
            break;
    }
    json_decref(root);
    return rc;
}
