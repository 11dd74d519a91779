/* Calling kumo-storage as the service principal for a tenant: for an RPC
 * (the caller's tenant, the call's deadline and request id) and for a
 * background job; and answering its failures. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "documents.h"
#include "runtime/log.h"
#include "rpc/propagate.h"
#include "base/secret.h"

#define JOB_STORAGE_TIMEOUT_NS (30LL * 1000 * 1000 * 1000)

/* Sets the request's tenant_id (every kumo.storage.v1 request has one). */
static int set_tenant(ProtobufCMessage *req, const char *tenant_id)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(req->descriptor, "tenant_id");
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return -1;
    *(const char **)((char *)req + f->offset) = tenant_id;
    return 0;
}

/* The call itself, as the service principal of `tenant_id`: exchanges (or
 * reuses) the service token, sets o->authorization for the call only, and
 * calls. *token_failed tells a failed exchange from a failed call; *st
 * holds the failure's message (clear it). */
static kumo_code call_as_service(struct docs_ctx *ctx, struct kumo_rpc_client *client,
                                 const char *tenant_id, const char *method,
                                 const ProtobufCMessage *req,
                                 const ProtobufCMessageDescriptor *resp_desc, ProtobufCAllocator *a,
                                 struct kumo_rpc_call_options *o, ProtobufCMessage **resp,
                                 struct kumo_rpc_status *st, int *token_failed)
{
    char *token = NULL;
    *token_failed = 1;
    kumo_code rc = ctx->service_api_key
                       ? kumo_apikey_exchange_token(ctx->exchange, ctx->service_api_key, tenant_id,
                                                    o, &token, NULL, st)
                       : KUMO_CODE_UNAVAILABLE;
    if (rc != KUMO_CODE_OK)
        return rc;
    *token_failed = 0;
    struct kumo_buf auth = KUMO_BUF_INIT;
    kumo_buf_appendf(&auth, "Bearer %s", token);
    o->authorization = (const char *)auth.data;
    char path[128];
    snprintf(path, sizeof path, "/kumo.storage.v1.StorageService/%s", method);
    rc = kumo_rpc_client_call(client, path, req, resp_desc, a, o, resp, st);
    o->authorization = NULL;
    kumo_secret_wipe(auth.data, auth.len);
    kumo_buf_free(&auth);
    kumo_secret_wipe(token, strlen(token));
    kumo_free(token);
    return rc;
}

kumo_code docs_storage_call(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant_id,
                            const char *method, ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
    const char *rid = kumo_rpc_call_request_id(call);
    if (set_tenant(req, tenant_id) != 0) {
        kumo_log(KUMO_LOG_ERROR, rid, "storage request without tenant_id", "method", method, NULL);
        return KUMO_CODE_INTERNAL;
    }
    struct kumo_rpc_call_options o;
    kumo_rpc_propagate(call, 0, &o);
    struct kumo_rpc_status st = {0};
    int token_failed;
    kumo_code rc = call_as_service(ctx, ctx->storage, tenant_id, method, req, resp_desc,
                                   kumo_rpc_call_allocator(call), &o, resp, &st, &token_failed);
    if (rc != KUMO_CODE_OK && token_failed) {
        kumo_log(KUMO_LOG_WARN, rid, "no service token for kumo-storage", "method", method, "code",
                 kumo_code_name(rc), "error", st.message ? st.message : "no service API key", NULL);
        kumo_rpc_status_clear(&st);
        /* Not the caller's fault whatever kumo-users said. */
        return KUMO_CODE_UNAVAILABLE;
    }
    if (rc != KUMO_CODE_OK)
        kumo_log(KUMO_LOG_WARN, rid, "storage call failed", "method", method, "code",
                 kumo_code_name(rc), "error", st.message ? st.message : "", NULL);
    kumo_rpc_status_clear(&st);
    return rc;
}

kumo_code docs_job_storage_call(struct docs_ctx *ctx, const char *job_id, const char *tenant_id,
                                const char *method, const ProtobufCMessage *req,
                                const ProtobufCMessageDescriptor *resp_desc,
                                ProtobufCMessage **resp, struct kumo_buf *err)
{
    return docs_job_storage_call_via(ctx, ctx->storage, job_id, tenant_id, method, req, resp_desc,
                                     resp, err);
}

kumo_code docs_job_storage_call_via(struct docs_ctx *ctx, struct kumo_rpc_client *client,
                                    const char *job_id, const char *tenant_id, const char *method,
                                    const ProtobufCMessage *req,
                                    const ProtobufCMessageDescriptor *resp_desc,
                                    ProtobufCMessage **resp, struct kumo_buf *err)
{
    struct kumo_rpc_call_options o = {.deadline = kumo_now_ns() + JOB_STORAGE_TIMEOUT_NS,
                                      .request_id = job_id};
    struct kumo_rpc_status st = {KUMO_CODE_OK, NULL};
    int token_failed;
    kumo_code rc = call_as_service(ctx, client, tenant_id, method, req, resp_desc, NULL, &o, resp,
                                   &st, &token_failed);
    if (rc != KUMO_CODE_OK && token_failed)
        kumo_buf_appendf(err, "service token: %s: %s", kumo_code_name(rc),
                         st.message ? st.message : "");
    else if (rc != KUMO_CODE_OK)
        kumo_buf_appendf(err, "storage %s: %s: %s", method, kumo_code_name(rc),
                         st.message ? st.message : "");
    kumo_rpc_status_clear(&st);
    return rc;
}

kumo_code docs_storage_fail(struct kumo_rpc_call *call, kumo_code rc, const char *what)
{
    switch (rc) {
    case KUMO_CODE_NOT_FOUND:
    case KUMO_CODE_FAILED_PRECONDITION:
    case KUMO_CODE_INVALID_ARGUMENT:
    case KUMO_CODE_PERMISSION_DENIED:
    case KUMO_CODE_RESOURCE_EXHAUSTED:
    case KUMO_CODE_DEADLINE_EXCEEDED:
        return kumo_rpc_call_error(call, rc, "%s", what);
    default:
        return kumo_rpc_call_error(call, KUMO_CODE_UNAVAILABLE, "storage unavailable: %s", what);
    }
}
