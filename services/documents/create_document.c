/* CreateDocument: a new document (PENDING_UPLOAD) with its pending version
 * 1, tags and audit event in one transaction, then the upload target from
 * kumo-storage (never while holding row locks).
 *
 * An idempotency key (per creating principal, KUMO_IDEMPOTENCY_TTL) makes
 * a retry answer with the document the first request made, with a fresh
 * upload target while its first version is still pending. */
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "documents.h"
#include "store/audit.h"
#include "store/documents.h"
#include "store/jobs.h"
#include "store/versions.h"

#define V_PENDING KUMO__DOCUMENTS__V1__VERSION_STATUS__VERSION_STATUS_PENDING_UPLOAD

static kumo_code check_idempotency_key(struct kumo_rpc_call *call, const char *k)
{
    size_t n = strlen(k);
    if (n > DOCS_IDEMPOTENCY_KEY_MAX)
        return kumo_rpc_invalid(call, "idempotency_key", "is longer than 128 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
            return kumo_rpc_invalid(call, "idempotency_key", "must be printable ASCII");
    return KUMO_CODE_OK;
}

/* Answers with an existing document (idempotent retry or just created): a
 * fresh upload target while its first version is still pending. Releases
 * c. */
static kumo_code answer_document(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 struct kumo_db_conn *c, const char *tid, struct docs_doc_row *d,
                                 const struct docs_new_content *n, ProtobufCMessage **response)
{
    Kumo__Documents__V1__CreateDocumentResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__create_document_response__descriptor);
    struct docs_version_row v;
    int pending = 0;
    if (d->pending_version > 0) {
        kumo_code rc = docs_version_load(c, call, tid, d->id, d->pending_version, &v);
        if (rc != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc);
        pending = v.status == V_PENDING;
    }
    kumo_db_release(c);
    if (pending) {
        kumo_code rc = docs_upload_target(ctx, call, tid, d->id, &v, n->presign_parts,
                                          n->part_sha256, &resp->upload);
        if (rc != KUMO_CODE_OK)
            return rc;
    }
    resp->document = docs_doc_message(call, d);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

/* The request, checked, as the rows to insert (doc->id and times are set
 * when inserting). */
static kumo_code validate_create(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                 const Kumo__Documents__V1__CreateDocumentRequest *req,
                                 struct docs_doc_new *doc, struct docs_new_content *n,
                                 struct kumo_buf *tags, struct kumo_buf *meta)
{
    *n = DOCS_NEW_CONTENT_OF(req);
    kumo_code rc = docs_check_content(call, &ctx->s, n);
    if (rc != KUMO_CODE_OK)
        return rc;
    memset(doc, 0, sizeof *doc);
    doc->title = req->title[0] ? req->title : req->file_name;
    doc->description = req->description;
    doc->idem_key = req->idempotency_key;
    doc->tags = req->tags;
    doc->n_tags = req->n_tags;
    if ((rc = docs_check_title(call, "title", doc->title)) != KUMO_CODE_OK ||
        (rc = docs_check_description(call, "description", doc->description)) != KUMO_CODE_OK ||
        (rc = docs_check_tags(call, "tags", req->tags, req->n_tags, tags)) != KUMO_CODE_OK ||
        (rc = docs_check_metadata(call, "metadata", req->metadata, meta)) != KUMO_CODE_OK ||
        (rc = check_idempotency_key(call, doc->idem_key)) != KUMO_CODE_OK)
        return rc;
    doc->tags_text = tags->len ? (const char *)tags->data : "";
    doc->metadata = meta->len ? (const char *)meta->data : NULL;
    doc->file_name = n->file_name;
    doc->content_type = n->content_type;
    doc->size = n->size;
    doc->sha256 = n->sha256;
    return KUMO_CODE_OK;
}

/* Inside the transaction: the document, its version 1 (with the cleanup
 * job of its upload) and the audit event. */
static kumo_code insert_all(struct docs_ctx *ctx, struct kumo_db_conn *c,
                            struct kumo_rpc_call *call, const struct kumo_principal *p,
                            const struct docs_doc_new *doc, const struct docs_new_content *n)
{
    char number[24];
    kumo_code rc = docs_doc_insert(c, doc, number);
    if (rc == KUMO_CODE_OK) {
        struct docs_version_new v;
        docs_pending_version(&ctx->s, p->tid, doc->id, 1, n, p->sub, doc->now_us, &v);
        rc = docs_version_insert(c, &v);
        /* Its upload is cleaned up should it never complete. */
        if (rc == KUMO_CODE_OK)
            rc = docs_job_enqueue(c, p->tid, DOCS_JOB_CLEANUP_UPLOAD, doc->id, 1, NULL,
                                  doc->now_us + ctx->s.upload_expiry_ms * 1000);
    }
    if (rc == KUMO_CODE_OK) {
        char details[128];
        snprintf(details, sizeof details, "{\"number\":\"%s\",\"size\":%lld}", number,
                 (long long)n->size);
        rc = docs_audit_caller(c, call, p, "document.create", doc->id, 1, details);
    }
    return rc;
}

static kumo_code create_in_db(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                              const struct kumo_principal *p, struct docs_doc_new *doc,
                              const struct docs_new_content *n, ProtobufCMessage **response)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    if (doc->idem_key[0]) {
        rc = docs_doc_find_by_key(c, call, p->tid, p->sub, doc->idem_key, &d);
        if (rc == KUMO_CODE_OK)
            return answer_document(ctx, call, c, p->tid, &d, n, response);
        if (rc != KUMO_CODE_NOT_FOUND ||
            (rc = docs_doc_release_key(c, p->tid, p->sub, doc->idem_key)) != 0)
            return docs_db_fail(call, c, rc);
    }
    char doc_id[DOCS_ID_MAX + 1];
    if (kumo_id_new("doc", doc_id, sizeof doc_id) != 0)
        return docs_db_fail(call, c, KUMO_CODE_INTERNAL);
    doc->id = doc_id;
    doc->tenant_id = p->tid;
    doc->owner_id = p->sub;
    doc->now_us = kumo_now_us();
    doc->idem_expire_us = doc->now_us + ctx->s.idempotency_ttl_ms * 1000;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = insert_all(ctx, c, call, p, doc, n);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc == KUMO_CODE_ALREADY_EXISTS && doc->idem_key[0] &&
        strcmp(kumo_db_last_error()->dup_key, "documents_idem") == 0) {
        /* A concurrent create with the same key won: answer with its document. */
        kumo_db_rollback(c);
        rc = docs_doc_find_by_key(c, call, p->tid, p->sub, doc->idem_key, &d);
        if (rc != KUMO_CODE_OK)
            return docs_db_fail(call, c, rc == KUMO_CODE_NOT_FOUND ? KUMO_CODE_ABORTED : rc);
        return answer_document(ctx, call, c, p->tid, &d, n, response);
    }
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_load(c, call, p->tid, doc_id, 0, &d);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return answer_document(ctx, call, c, p->tid, &d, n, response);
}

DOCS_HANDLER(create_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__CreateDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct docs_doc_new doc;
    struct docs_new_content n;
    struct kumo_buf tags = KUMO_BUF_INIT, meta = KUMO_BUF_INIT;
    rc = validate_create(ctx, call, req, &doc, &n, &tags, &meta);
    if (rc == KUMO_CODE_OK)
        rc = create_in_db(ctx, call, p, &doc, &n, response);
    kumo_buf_free(&tags);
    kumo_buf_free(&meta);
    return rc;
}
