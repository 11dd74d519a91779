/* The purge_content job: deletes the objects (and aborts the multipart
 * uploads) of purged document versions. Payload:
 * {"objects":[{"key":"t/...","upload_id":"..."}]}. Idempotent: a missing
 * object or upload counts as done. */
#include <jansson.h>
#include <string.h>

#include "jobs.h"
#include "kumo/storage/v1/storage.pb-c.h"

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
    Kumo__Storage__V1__DeleteObjectRequest d = KUMO__STORAGE__V1__DELETE_OBJECT_REQUEST__INIT;
    d.tenant_id = (char *)job->tenant_id;
    d.key = (char *)key;
    rc = docs_job_storage_call(env->ctx, job->id, job->tenant_id, "DeleteObject", &d.base,
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
