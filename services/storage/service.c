/* kumo.storage.v1.StorageService: who may act on which key, argument
 * checks, and the calls into the backend and the presigner.
 *
 * kumo-storage is internal: every RPC serves only the service principals
 * of KUMO_SERVICE_CALLERS (kumo-documents), never a user's token whatever
 * its role. kumo-documents decides who may touch a document's bytes and
 * audits it; a storage RPC open to users would be a way around both. The
 * service names the tenant it acts for in tenant_id, which must be the
 * tenant its token was issued for, and every key must lie under
 * "t/<that tenant>/". */
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "db/row.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"
#include "db/page_token.h"
#include "storage.h"
#include "base/validate.h"

/* Defines the handler `name` of the method Method. Its body sees the
 * request as `rq` (a Kumo__Storage__V1__<Method>Request), the service's
 * context as `ctx`, and `call` and `response` as every handler does. */
#define HANDLER(name, Method)                                                                      \
    static kumo_code name##_body(struct kumo_rpc_call *call, struct stg_ctx *ctx,                  \
                                 const Kumo__Storage__V1__##Method##Request *rq,                   \
                                 ProtobufCMessage **response);                                     \
    static kumo_code name(struct kumo_rpc_call *call, const ProtobufCMessage *request,             \
                          ProtobufCMessage **response)                                             \
    {                                                                                              \
        return name##_body(call, kumo_rpc_call_service_data(call), (const void *)request,          \
                           response);                                                              \
    }                                                                                              \
    static kumo_code name##_body(struct kumo_rpc_call *call, struct stg_ctx *ctx,                  \
                                 const Kumo__Storage__V1__##Method##Request *rq,                   \
                                 ProtobufCMessage **response)

#define DISPOSITION_MAX 1024

/* ---- small helpers ---- */

static char *call_strdup(struct kumo_rpc_call *call, const char *s)
{
    size_t n = strlen(s);
    char *d = kumo_rpc_call_alloc(call, n + 1);
    memcpy(d, s, n + 1);
    return d;
}

static kumo_code fail(struct kumo_rpc_call *call, enum stg_err e, const char *why)
{
    if (why)
        return kumo_rpc_call_error(call, stg_err_rpc_code(e), "%s", why);
    switch (e) {
    case STG_E_NO_SUCH_KEY:
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "no object at this key");
    case STG_E_NO_SUCH_UPLOAD:
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND,
                                   "no such multipart upload for this key");
    case STG_E_INVALID_OBJECT_STATE:
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "the object is archived and not restored, or not archived "
                                   "for a restore");
    default:
        return kumo_rpc_call_error(call, stg_err_rpc_code(e), "%s", stg_err_message(e));
    }
}

/* KUMO_CODE_OK for STG_OK, else the RPC error for e (fail). */
static kumo_code be_result(struct kumo_rpc_call *call, enum stg_err e)
{
    return e == STG_OK ? KUMO_CODE_OK : fail(call, e, NULL);
}

static int tenant_text_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > STG_TENANT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f || t[i] == '/')
            return 0;
    return 1;
}

kumo_code stg_acting_tenant(struct kumo_rpc_call *call, const char *requested, const char **tid)
{
    const struct kumo_principal *p = kumo_rpc_principal(call);
    if (p == NULL)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED,
                                   "missing or invalid access token");
    if (!p->service)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "kumo-storage serves only its service callers: go through "
                                   "kumo-documents");
    if (requested == NULL || *requested == '\0')
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "service principals must name the tenant in tenant_id");
    if (!tenant_text_ok(requested))
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "tenant_id is not a tenant id");
    /* kumo-users issues a service token for the tenant acted for: one
     * tenant's token never reaches another tenant's objects. */
    if (strcmp(requested, p->tid) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "tenant_id must be the tenant the service token was issued "
                                   "for");
    *tid = requested;
    return KUMO_CODE_OK;
}

static kumo_code check_key(struct kumo_rpc_call *call, const char *field, const char *key,
                           const char *tid)
{
    const char *why = NULL;
    if (stg_key_check(key, strlen(key), &why) != STG_OK)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "%s %s", field, why);
    if (!stg_key_in_tenant(key, tid))
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "%s must lie under t/<tenant id>/ of the tenant acted for",
                                   field);
    return KUMO_CODE_OK;
}

static kumo_code upload_id_arg(struct kumo_rpc_call *call, const char *id)
{
    const struct stg_ctx *ctx = kumo_rpc_call_service_data(call);
    if (!ctx->be->upload_id_valid(id, strlen(id)))
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND,
                                   "no such multipart upload for this key");
    return KUMO_CODE_OK;
}

/* Caller, tenant and key in one step, as nearly every RPC starts. */
static kumo_code start(struct kumo_rpc_call *call, const char *tenant, const char *key)
{
    const char *tid;
    kumo_code rc = stg_acting_tenant(call, tenant, &tid);
    return rc != KUMO_CODE_OK ? rc : check_key(call, "key", key, tid);
}

/* A new response of type `desc`, in the call's arena, which is also
 * *response (ignored by the server if the handler then fails). */
static void *new_response(struct kumo_rpc_call *call, const ProtobufCMessageDescriptor *desc,
                          ProtobufCMessage **response)
{
    ProtobufCMessage *r = kumo_rpc_call_new(call, desc);
    *response = r;
    return r;
}

static kumo_code expiry(struct kumo_rpc_call *call, const struct stg_ctx *ctx,
                        const Google__Protobuf__Duration *d, long *out)
{
    if (d == NULL) {
        *out = (long)ctx->s.presign_ttl_s;
        return KUMO_CODE_OK;
    }
    if (d->seconds < 1 || d->seconds > KUMO_SIGV4_MAX_EXPIRES || d->nanos < 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "expires_in must be from 1 second to 7 days");
    *out = (long)d->seconds;
    return KUMO_CODE_OK;
}

/* A download URL's lifetime: at most KUMO_STORAGE_DOWNLOAD_TTL_MAX (the
 * default is capped to it too). */
static kumo_code download_expiry(struct kumo_rpc_call *call, const struct stg_ctx *ctx,
                                 const Google__Protobuf__Duration *d, long *out)
{
    long max = (long)ctx->s.download_ttl_max_s;
    if (d == NULL) {
        *out = ctx->s.presign_ttl_s < max ? (long)ctx->s.presign_ttl_s : max;
        return KUMO_CODE_OK;
    }
    if (d->seconds < 1 || d->seconds > max || d->nanos < 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "expires_in must be from 1 second to %ld seconds for a "
                                   "download",
                                   max);
    *out = (long)d->seconds;
    return KUMO_CODE_OK;
}

static kumo_code content_type_arg(struct kumo_rpc_call *call, const char *ct)
{
    if (*ct && !stg_content_type_valid(ct, strlen(ct)))
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "content_type must be 1..256 printable ASCII characters");
    return KUMO_CODE_OK;
}

static kumo_code class_arg(struct kumo_rpc_call *call, int v, int allow_unspecified,
                           enum stg_class *out)
{
    if ((v == STG_CLASS_UNSPECIFIED && !allow_unspecified) || v < 0 || v > STG_CLASS_DEEP_ARCHIVE)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "storage_class must be STANDARD, GLACIER or DEEP_ARCHIVE");
    *out = (enum stg_class)v;
    return KUMO_CODE_OK;
}

static Kumo__Storage__V1__ObjectInfo *object_info(struct kumo_rpc_call *call,
                                                  const struct stg_meta *m)
{
    int64_t now = stg_now_ms();
    Kumo__Storage__V1__ObjectInfo *o =
        kumo_rpc_call_new(call, &kumo__storage__v1__object_info__descriptor);
    o->key = call_strdup(call, m->key);
    o->size = m->size;
    o->etag = call_strdup(call, m->etag);
    static const uint8_t unknown[32];
    if (memcmp(m->sha256, unknown, 32) != 0) { /* S3 may not know it */
        o->sha256.data = kumo_rpc_call_alloc(call, 32);
        memcpy(o->sha256.data, m->sha256, 32);
        o->sha256.len = 32;
    }
    o->content_type = call_strdup(call, m->content_type);
    o->storage_class = (Kumo__Storage__V1__StorageClass)m->storage_class;
    o->last_modified_time = kumo_pb_timestamp(kumo_rpc_call_allocator(call), 1000 * m->mtime_ms);
    o->parts_count = m->parts;
    enum stg_restore_state rs = stg_meta_restore_state(m, now);
    if (rs != STG_RESTORE_NONE) {
        Kumo__Storage__V1__Restore *r =
            kumo_rpc_call_new(call, &kumo__storage__v1__restore__descriptor);
        r->state = (Kumo__Storage__V1__RestoreState)rs;
        r->tier = (Kumo__Storage__V1__RestoreTier)m->restore_tier;
        if (m->restore_ready_ms && m->restore_ready_ms != STG_TIME_UNKNOWN)
            r->ready_time =
                kumo_pb_timestamp(kumo_rpc_call_allocator(call), 1000 * m->restore_ready_ms);
        if (m->restore_ready_ms && m->restore_expire_ms != STG_TIME_UNKNOWN)
            r->expire_time =
                kumo_pb_timestamp(kumo_rpc_call_allocator(call), 1000 * m->restore_expire_ms);
        o->restore = r;
    }
    return o;
}

/* ---- presigned uploads ---- */

struct upload_args {
    const char *key;
    const char *content_type; /* "" = not signed */
    const Google__Protobuf__Int64Value *size;
    ProtobufCBinaryData sha256;
    enum stg_class cls;
    long expires;
    const char *upload_id; /* NULL for a whole object */
    int part_number;
};

/* Fills the signed headers of a presigned PUT; strings live in the call. */
static size_t upload_headers(struct kumo_rpc_call *call, const struct upload_args *a,
                             struct kumo_sigv4_kv *h)
{
    size_t n = 0;
    if (a->size) {
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)a->size->value);
        h[n++] = kumo_sigv4_kv_str("content-length", call_strdup(call, num));
    }
    if (*a->content_type)
        h[n++] = kumo_sigv4_kv_str("content-type", a->content_type);
    if (a->sha256.len == 32) {
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_base64_encode(a->sha256.data, 32, 0, 1, &b);
        h[n++] = kumo_sigv4_kv_str("x-amz-checksum-sha256", call_strdup(call, (char *)b.data));
        kumo_buf_free(&b);
    }
    if (a->cls != STG_CLASS_UNSPECIFIED)
        h[n++] = kumo_sigv4_kv_str("x-amz-storage-class", stg_class_name(a->cls));
    return n;
}

/* Presigns `method` on `key` for `expires` seconds from now: sets *url and
 * *exp (in the call). */
static kumo_code presign_url(struct kumo_rpc_call *call, const struct stg_ctx *ctx,
                             const char *method, const char *key, const struct kumo_sigv4_kv *q,
                             size_t nq, const struct kumo_sigv4_kv *h, size_t nh, long expires,
                             char **url, Google__Protobuf__Timestamp **exp)
{
    time_t now = time(NULL);
    struct kumo_buf b = KUMO_BUF_INIT;
    int rc = stg_presign(ctx, method, key, q, nq, h, nh, expires, now, &b);
    if (rc == 0) {
        *url = call_strdup(call, (char *)b.data);
        *exp = kumo_pb_timestamp(kumo_rpc_call_allocator(call), ((int64_t)now + expires) * 1000000);
    }
    kumo_buf_free(&b);
    if (rc != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "cannot presign: %s",
                                   kumo_strerror(rc));
    return KUMO_CODE_OK;
}

/* PresignUploadResponse and PresignUploadPartResponse declare the same
 * fields (storage.proto), so protoc-c gives them one layout: presign_put
 * fills either through the first's type. */
#define SAME_PUT_FIELD(f)                                                                          \
    (offsetof(Kumo__Storage__V1__PresignUploadResponse, f) ==                                      \
     offsetof(Kumo__Storage__V1__PresignUploadPartResponse, f))
_Static_assert(sizeof(Kumo__Storage__V1__PresignUploadResponse) ==
                       sizeof(Kumo__Storage__V1__PresignUploadPartResponse) &&
                   SAME_PUT_FIELD(url) && SAME_PUT_FIELD(method) && SAME_PUT_FIELD(n_headers) &&
                   SAME_PUT_FIELD(headers) && SAME_PUT_FIELD(expire_time),
               "the presigned-PUT responses must share one layout");

/* Answers a presigned PUT (of a whole object, or of a part when
 * a->upload_id is set) with a response of type `desc`, one of the two
 * above. */
static kumo_code presign_put(struct kumo_rpc_call *call, struct stg_ctx *ctx,
                             const struct upload_args *a, const ProtobufCMessageDescriptor *desc,
                             ProtobufCMessage **response)
{
    struct kumo_sigv4_kv h[4];
    size_t nh = upload_headers(call, a, h);
    struct kumo_sigv4_kv q[2];
    size_t nq = 0;
    char num[16];
    if (a->upload_id) {
        snprintf(num, sizeof num, "%d", a->part_number);
        q[nq++] = kumo_sigv4_kv_str("partNumber", num);
        q[nq++] = kumo_sigv4_kv_str("uploadId", a->upload_id);
    }
    Kumo__Storage__V1__PresignUploadResponse *resp = new_response(call, desc, response);
    resp->method = "PUT";
    kumo_code rc = presign_url(call, ctx, "PUT", a->key, q, nq, h, nh, a->expires, &resp->url,
                               &resp->expire_time);
    if (rc != KUMO_CODE_OK)
        return rc;
    resp->headers = kumo_rpc_call_alloc(call, (nh ? nh : 1) * sizeof *resp->headers);
    for (size_t i = 0; i < nh; i++) {
        resp->headers[i] = kumo_rpc_call_alloc(call, sizeof **resp->headers);
        kumo__storage__v1__header__init(resp->headers[i]);
        resp->headers[i]->name = (char *)h[i].name;
        resp->headers[i]->value = (char *)h[i].value;
    }
    resp->n_headers = nh;
    return KUMO_CODE_OK;
}

static kumo_code upload_common(struct kumo_rpc_call *call, struct stg_ctx *ctx,
                               const struct upload_args *a, int64_t max_size)
{
    if (a->size && (a->size->value < 0 || a->size->value > max_size))
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "size must be from 0 to %lld bytes%s", (long long)max_size,
                                   a->upload_id ? "" : " (use a multipart upload beyond)");
    if (a->sha256.len != 0 && a->sha256.len != 32)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "sha256 must be 32 bytes (or empty)");
    (void)ctx;
    return content_type_arg(call, a->content_type);
}

HANDLER(presign_upload, PresignUpload)
{
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    struct upload_args a = {rq->key, rq->content_type, rq->size, rq->sha256};
    if (rc == KUMO_CODE_OK)
        rc = upload_common(call, ctx, &a, ctx->s.max_object_size);
    if (rc == KUMO_CODE_OK)
        rc = class_arg(call, rq->storage_class, 1, &a.cls);
    if (rc == KUMO_CODE_OK)
        rc = expiry(call, ctx, rq->expires_in, &a.expires);
    if (rc != KUMO_CODE_OK)
        return rc;
    return presign_put(call, ctx, &a, &kumo__storage__v1__presign_upload_response__descriptor,
                       response);
}

HANDLER(presign_upload_part, PresignUploadPart)
{
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    struct upload_args a = {
        rq->key,        "", rq->size, rq->sha256, STG_CLASS_UNSPECIFIED, 0, rq->upload_id,
        rq->part_number};
    if (rc == KUMO_CODE_OK && (rq->part_number < 1 || rq->part_number > STG_PARTS_MAX))
        rc = kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                 "part_number must be from 1 to 10000");
    if (rc == KUMO_CODE_OK)
        rc = upload_common(call, ctx, &a, ctx->s.max_part_size);
    if (rc == KUMO_CODE_OK)
        rc = expiry(call, ctx, rq->expires_in, &a.expires);
    if (rc == KUMO_CODE_OK)
        rc = upload_id_arg(call, rq->upload_id);
    if (rc == KUMO_CODE_OK)
        rc = be_result(call, ctx->be->mpu_check(ctx, rq->upload_id, rq->key));
    if (rc != KUMO_CODE_OK)
        return rc;
    return presign_put(call, ctx, &a, &kumo__storage__v1__presign_upload_part_response__descriptor,
                       response);
}

/* ---- downloads and object calls ---- */

static kumo_code download_args(struct kumo_rpc_call *call,
                               const Kumo__Storage__V1__PresignDownloadRequest *rq)
{
    const char *d = rq->response_content_disposition, *why = NULL;
    if (*d && kumo_text_check(d, strlen(d), DISPOSITION_MAX, DISPOSITION_MAX, 0, &why) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "response_content_disposition %s", why);
    const char *ct = rq->response_content_type;
    if (*ct && !stg_content_type_valid(ct, strlen(ct)))
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "response_content_type must be 1..256 printable ASCII "
                                   "characters");
    return KUMO_CODE_OK;
}

static const char *stored_disposition(const struct stg_meta *m)
{
    for (size_t i = 0; i < m->n_hdrs; i++)
        if (strcmp(m->hdrs[i].name, "content-disposition") == 0)
            return m->hdrs[i].value;
    return NULL;
}

HANDLER(presign_download, PresignDownload)
{
    long expires = 0;
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK)
        rc = download_expiry(call, ctx, rq->expires_in, &expires);
    if (rc == KUMO_CODE_OK)
        rc = download_args(call, rq);
    struct stg_meta m;
    if (rc == KUMO_CODE_OK)
        rc = be_result(call, ctx->be->stat(ctx, rq->key, &m));
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Storage__V1__PresignDownloadResponse *resp =
        new_response(call, &kumo__storage__v1__presign_download_response__descriptor, response);
    resp->object = object_info(call, &m);
    int readable = stg_meta_readable(&m, stg_now_ms());
    /* The served disposition is decided here too, not only by the data
     * port: S3 serves what the URL's parameters say. */
    const char *ct = *rq->response_content_type ? rq->response_content_type : m.content_type;
    const char *want = *rq->response_content_disposition ? rq->response_content_disposition
                                                         : stored_disposition(&m);
    struct kumo_buf disp = KUMO_BUF_INIT;
    stg_serve_disposition(ct, want, &disp);
    /* A parameter only when it changes what the object would be served
     * with (its stored header, or none). */
    char *disposition = NULL;
    if (disp.len && (*rq->response_content_disposition || want == NULL ||
                     strcmp((const char *)disp.data, want) != 0))
        disposition = call_strdup(call, (const char *)disp.data);
    kumo_buf_free(&disp);
    stg_meta_clear(&m);
    if (!readable)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "the object is archived: restore it first");
    struct kumo_sigv4_kv q[2];
    size_t nq = 0;
    if (disposition)
        q[nq++] = kumo_sigv4_kv_str("response-content-disposition", disposition);
    if (*rq->response_content_type)
        q[nq++] = kumo_sigv4_kv_str("response-content-type", rq->response_content_type);
    resp->method = "GET";
    return presign_url(call, ctx, "GET", rq->key, q, nq, NULL, 0, expires, &resp->url,
                       &resp->expire_time);
}

/* Answers with a response whose only field is `ObjectInfo object = 1`
 * (StatObject, CopyObject, SetStorageClass, CompleteMultipartUpload), made
 * from *m, which is cleared. */
static kumo_code answer_object(struct kumo_rpc_call *call, const ProtobufCMessageDescriptor *desc,
                               struct stg_meta *m, ProtobufCMessage **response)
{
    char *r = new_response(call, desc, response);
    *(Kumo__Storage__V1__ObjectInfo **)(r + desc->fields[0].offset) = object_info(call, m);
    stg_meta_clear(m);
    return KUMO_CODE_OK;
}

HANDLER(stat_object, StatObject)
{
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    struct stg_meta m;
    if (rc == KUMO_CODE_OK)
        rc = be_result(call, ctx->be->stat(ctx, rq->key, &m));
    if (rc != KUMO_CODE_OK)
        return rc;
    return answer_object(call, &kumo__storage__v1__stat_object_response__descriptor, &m, response);
}

HANDLER(delete_object, DeleteObject)
{
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK)
        rc = be_result(call, ctx->be->remove(ctx, rq->key));
    if (rc != KUMO_CODE_OK)
        return rc;
    new_response(call, &kumo__storage__v1__delete_object_response__descriptor, response);
    return KUMO_CODE_OK;
}

HANDLER(copy_object, CopyObject)
{
    const char *tid;
    enum stg_class cls = STG_CLASS_UNSPECIFIED;
    kumo_code rc = stg_acting_tenant(call, rq->tenant_id, &tid);
    if (rc == KUMO_CODE_OK)
        rc = check_key(call, "source_key", rq->source_key, tid);
    if (rc == KUMO_CODE_OK)
        rc = check_key(call, "destination_key", rq->destination_key, tid);
    if (rc == KUMO_CODE_OK)
        rc = class_arg(call, rq->storage_class, 1, &cls);
    struct stg_meta m;
    if (rc == KUMO_CODE_OK)
        rc = be_result(call, ctx->be->copy(ctx, rq->source_key, rq->destination_key, cls, &m));
    if (rc != KUMO_CODE_OK)
        return rc;
    return answer_object(call, &kumo__storage__v1__copy_object_response__descriptor, &m, response);
}

HANDLER(set_storage_class, SetStorageClass)
{
    enum stg_class cls = STG_CLASS_UNSPECIFIED;
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK)
        rc = class_arg(call, rq->storage_class, 0, &cls);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct stg_meta m;
    enum stg_err e = ctx->be->set_class(ctx, rq->key, cls, &m);
    if (e == STG_E_INVALID_OBJECT_STATE)
        return fail(call, e, "an archived object must be restored before it leaves its class");
    if (e != STG_OK)
        return fail(call, e, NULL);
    return answer_object(call, &kumo__storage__v1__set_storage_class_response__descriptor, &m,
                         response);
}

HANDLER(restore_object, RestoreObject)
{
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK && (rq->days < 1 || rq->days > STG_RESTORE_DAYS_MAX))
        rc = kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "days must be from 1 to 365");
    if (rc == KUMO_CODE_OK && ((int)rq->tier < 0 || (int)rq->tier > (int)STG_TIER_BULK))
        rc = kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                 "tier must be EXPEDITED, STANDARD or BULK");
    if (rc != KUMO_CODE_OK)
        return rc;
    enum stg_tier tier = (enum stg_tier)rq->tier;
    struct stg_meta m;
    enum stg_restore_state before = STG_RESTORE_NONE;
    enum stg_err e = ctx->be->restore(ctx, rq->key, rq->days, tier, &m, &before);
    if (e == STG_E_INVALID_OBJECT_STATE)
        return fail(call, e, "only archived objects (GLACIER, DEEP_ARCHIVE) can be restored");
    if (e != STG_OK)
        return fail(call, e, NULL);
    if (ctx->be == &stg_backend_local && before != STG_RESTORE_RESTORED)
        stg_restore_watch_add(ctx, &m); /* S3 sends its own ObjectRestore:Completed */
    Kumo__Storage__V1__RestoreObjectResponse *resp =
        new_response(call, &kumo__storage__v1__restore_object_response__descriptor, response);
    resp->object = object_info(call, &m);
    resp->already_restored = before == STG_RESTORE_RESTORED;
    stg_meta_clear(&m);
    return KUMO_CODE_OK;
}

/* ---- multipart ---- */

HANDLER(create_multipart_upload, CreateMultipartUpload)
{
    enum stg_class cls = STG_CLASS_UNSPECIFIED;
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK)
        rc = content_type_arg(call, rq->content_type);
    if (rc == KUMO_CODE_OK)
        rc = class_arg(call, rq->storage_class, 1, &cls);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct stg_meta m;
    stg_meta_init(&m);
    memcpy(m.key, rq->key, strlen(rq->key) + 1);
    const char *ct = *rq->content_type ? rq->content_type : "application/octet-stream";
    memcpy(m.content_type, ct, strlen(ct) + 1);
    m.storage_class = cls == STG_CLASS_UNSPECIFIED ? STG_CLASS_STANDARD : cls;
    if (rq->part_sha256) { /* S3's ChecksumAlgorithm SHA256, ChecksumType COMPOSITE */
        m.ck_alg = STG_CK_SHA256;
        m.ck_type = STG_CK_COMPOSITE;
    }
    char id[STG_UPLOAD_ID_MAX + 1];
    enum stg_err e = ctx->be->mpu_create(ctx, &m, id);
    stg_meta_clear(&m);
    if (e != STG_OK)
        return fail(call, e, NULL);
    Kumo__Storage__V1__CreateMultipartUploadResponse *resp = new_response(
        call, &kumo__storage__v1__create_multipart_upload_response__descriptor, response);
    resp->upload_id = call_strdup(call, id);
    return KUMO_CODE_OK;
}

static kumo_code completed_parts(struct kumo_rpc_call *call, struct stg_ctx *ctx,
                                 const Kumo__Storage__V1__CompleteMultipartUploadRequest *rq,
                                 struct stg_part **out)
{
    if (rq->n_parts == 0 || rq->n_parts > (size_t)ctx->s.max_parts)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "parts must list 1 to %d parts", ctx->s.max_parts);
    struct stg_part *parts = kumo_rpc_call_alloc(call, rq->n_parts * sizeof *parts);
    for (size_t i = 0; i < rq->n_parts; i++) {
        memset(&parts[i], 0, sizeof parts[i]);
        parts[i].number = rq->parts[i]->part_number;
        if (stg_etag_parse(rq->parts[i]->etag, parts[i].etag) != 0)
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                       "parts[%zu].etag must be 32 hex digits", i);
        const ProtobufCBinaryData *sha = &rq->parts[i]->sha256;
        if (sha->len != 0 && sha->len != 32)
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                       "parts[%zu].sha256 must be 32 bytes", i);
        if ((sha->len == 32) != (rq->parts[0]->sha256.len == 32))
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                       "parts: declare the sha256 of every part or of none");
        if (sha->len == 32) {
            stg_ck_b64(sha->data, 32, parts[i].ck);
            parts[i].ck_alg = STG_CK_SHA256;
        }
    }
    const char *why = NULL;
    enum stg_err e = stg_parts_check(parts, rq->n_parts, ctx->s.max_parts, &why);
    if (e != STG_OK)
        return fail(call, e, why);
    *out = parts;
    return KUMO_CODE_OK;
}

HANDLER(complete_multipart_upload, CompleteMultipartUpload)
{
    struct stg_part *parts = NULL;
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK)
        rc = upload_id_arg(call, rq->upload_id);
    if (rc == KUMO_CODE_OK)
        rc = completed_parts(call, ctx, rq, &parts);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct stg_meta m;
    const char *why = NULL;
    enum stg_err e =
        ctx->be->mpu_complete(ctx, rq->upload_id, rq->key, parts, rq->n_parts, &m, &why);
    if (e == STG_OK && ctx->be == &stg_backend_local && stg_event_created(ctx, 2, &m) != 0) {
        stg_meta_clear(&m); /* S3 records its own: S3 Event Notifications */
        return fail(call, STG_E_INTERNAL, NULL);
    }
    if (e == STG_E_INVALID_PART &&
        (why == stg_why_part_checksum || why == stg_why_part_no_checksum))
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "%s", why);
    if (e != STG_OK)
        return fail(call, e, why);
    return answer_object(call, &kumo__storage__v1__complete_multipart_upload_response__descriptor,
                         &m, response);
}

HANDLER(abort_multipart_upload, AbortMultipartUpload)
{
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK)
        rc = upload_id_arg(call, rq->upload_id);
    if (rc == KUMO_CODE_OK)
        rc = be_result(call, ctx->be->mpu_abort(ctx, rq->upload_id, rq->key));
    if (rc != KUMO_CODE_OK)
        return rc;
    new_response(call, &kumo__storage__v1__abort_multipart_upload_response__descriptor, response);
    return KUMO_CODE_OK;
}

static Kumo__Storage__V1__Part *part_msg(struct kumo_rpc_call *call, const struct stg_part *p)
{
    Kumo__Storage__V1__Part *m = kumo_rpc_call_new(call, &kumo__storage__v1__part__descriptor);
    m->part_number = p->number;
    m->etag = call_strdup(call, p->etag);
    m->size = p->size;
    m->last_modified_time = kumo_pb_timestamp(kumo_rpc_call_allocator(call), 1000 * p->mtime_ms);
    return m;
}

HANDLER(list_parts, ListParts)
{
    int32_t size = 0;
    int64_t after = -1;
    kumo_code rc = start(call, rq->tenant_id, rq->key);
    if (rc == KUMO_CODE_OK)
        rc = upload_id_arg(call, rq->upload_id);
    if (rc == KUMO_CODE_OK &&
        kumo_page_size(rq->page_size, STG_PAGE_DEFAULT, STG_PAGE_DEFAULT, &size) != 0)
        rc = kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "page_size is negative");
    if (rc == KUMO_CODE_OK &&
        kumo_page_token_decode(rq->page_token, strlen(rq->page_token), rq->upload_id,
                               strlen(rq->upload_id), &after) != 0)
        rc = kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "invalid page_token");
    if (rc != KUMO_CODE_OK)
        return rc;
    struct stg_part *parts;
    size_t n;
    int truncated;
    enum stg_err e = ctx->be->mpu_list(ctx, rq->upload_id, rq->key, after < 0 ? 0 : (int)after,
                                       size, &parts, &n, &truncated);
    if (e != STG_OK)
        return fail(call, e, NULL);
    Kumo__Storage__V1__ListPartsResponse *resp =
        new_response(call, &kumo__storage__v1__list_parts_response__descriptor, response);
    resp->parts = kumo_rpc_call_alloc(call, (n ? n : 1) * sizeof *resp->parts);
    for (size_t i = 0; i < n; i++)
        resp->parts[i] = part_msg(call, &parts[i]);
    resp->n_parts = n;
    if (truncated && n > 0) {
        char tok[KUMO_PAGE_TOKEN_MAX];
        kumo_page_token_encode(parts[n - 1].number, rq->upload_id, strlen(rq->upload_id), tok);
        resp->next_page_token = call_strdup(call, tok);
    }
    kumo_free(parts);
    return KUMO_CODE_OK;
}

#define B  KUMO_RPC_BLOCKING
#define NS KUMO_RPC_NO_SIDE_EFFECTS

static const struct kumo_rpc_method methods[] = {
    {"PresignUpload", presign_upload, 0},
    {"PresignDownload", presign_download, B},
    {"StatObject", stat_object, B | NS},
    {"DeleteObject", delete_object, B},
    {"CopyObject", copy_object, B},
    {"SetStorageClass", set_storage_class, B},
    {"RestoreObject", restore_object, B},
    {"CreateMultipartUpload", create_multipart_upload, B},
    {"PresignUploadPart", presign_upload_part, B},
    {"CompleteMultipartUpload", complete_multipart_upload, B},
    {"AbortMultipartUpload", abort_multipart_upload, B},
    {"ListParts", list_parts, B | NS},
    {"ListObjectEvents", stg_list_object_events, B | NS},
};

void stg_service_init(struct kumo_rpc_service *svc, struct stg_ctx *ctx)
{
    *svc = KUMO_RPC_SERVICE(&kumo__storage__v1__storage_service__descriptor, methods, ctx);
}
