/* CreateVersion: a new pending version N+1 of an active document (a newer
 * pending version supersedes an older one, whose upload the cleanup job
 * removes once it expires), its audit event, then its upload target. */
#include <stdio.h>

#include "base/ids.h"
#include "documents.h"
#include "store/audit.h"
#include "store/documents.h"
#include "store/jobs.h"
#include "store/versions.h"

#define ST_ACTIVE KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ACTIVE

DOCS_HANDLER(create_version)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__CreateVersionRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller_id(call, DOCS_EDITOR, "document_id", req->document_id, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_db_conn *c;
    struct docs_doc_row d;
    if ((rc = docs_lock_doc(ctx, call, p->tid, req->document_id, &c, &d)) != KUMO_CODE_OK)
        return rc;
    if (d.status != ST_ACTIVE) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "document is not active: new versions need an active document");
    }
    struct docs_new_content n = DOCS_NEW_CONTENT_OF(req);
    if (req->file_name[0] == '\0')
        n.file_name = d.file_name;
    if ((rc = docs_check_content(call, &ctx->s, &n)) != KUMO_CODE_OK) {
        kumo_db_rollback(c);
        kumo_db_release(c);
        return rc;
    }
    /* A newer pending version supersedes an older one, which the cleanup
     * job removes once its upload expires. */
    int64_t version =
        (d.pending_version > d.current_version ? d.pending_version : d.current_version) + 1;
    int64_t now = kumo_now_us();
    struct docs_version_new nv;
    docs_pending_version(&ctx->s, p->tid, d.id, version, &n, p->sub, now, &nv);
    rc = docs_version_insert(c, &nv);
    /* Its upload is cleaned up should it never complete. */
    if (rc == KUMO_CODE_OK)
        rc = docs_job_enqueue(c, p->tid, DOCS_JOB_CLEANUP_UPLOAD, d.id, (int32_t)version, NULL,
                              now + ctx->s.upload_expiry_ms * 1000);
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_set_pending(c, p->tid, d.id, version, now);
    if (rc == KUMO_CODE_OK) {
        char details[64];
        snprintf(details, sizeof details, "{\"size\":%lld}", (long long)n.size);
        rc = docs_audit_caller(c, call, p, "document.create_version", d.id, (int32_t)version,
                               details);
    }
    struct docs_version_row v;
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_load(c, call, p->tid, d.id, 0, &d);
    if (rc == KUMO_CODE_OK)
        rc = docs_version_load(c, call, p->tid, d.id, version, &v);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    Kumo__Documents__V1__CreateVersionResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__create_version_response__descriptor);
    rc = docs_upload_target(ctx, call, p->tid, d.id, &v, req->presign_parts, req->part_sha256,
                            &resp->upload);
    if (rc != KUMO_CODE_OK)
        return rc;
    resp->document = docs_doc_message(call, &d);
    resp->version = docs_version_message(call, &v);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
