/* ArchiveDocument: every available version's content moves to the cold
 * storage class (GLACIER) at kumo-storage, then the row becomes ARCHIVED,
 * conditional on the etag. Archiving an archived document is
 * failed_precondition ("already archived"). */
#include "base/ids.h"
#include "documents.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "store/documents.h"

#define ST_ACTIVE   KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ACTIVE
#define ST_ARCHIVED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED

static kumo_code set_class(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                           const char *key, Kumo__Storage__V1__StorageClass cls)
{
    Kumo__Storage__V1__SetStorageClassRequest req =
        KUMO__STORAGE__V1__SET_STORAGE_CLASS_REQUEST__INIT;
    req.key = (char *)key;
    req.storage_class = cls;
    ProtobufCMessage *m;
    return docs_storage_call(ctx, call, tid, "SetStorageClass", &req.base,
                             &kumo__storage__v1__set_storage_class_response__descriptor, &m);
}

DOCS_HANDLER(archive_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__ArchiveDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    struct docs_doc_row d;
    char **keys;
    size_t n;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc == KUMO_CODE_OK)
        rc = docs_load_for_change(ctx, call, p, req->id, req->etag, &d, &keys, &n);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (d.status == ST_ARCHIVED)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "already archived");
    if (d.status != ST_ACTIVE)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "only active documents can be archived");
    for (size_t i = 0; i < n; i++) {
        rc = set_class(ctx, call, p->tid, keys[i],
                       KUMO__STORAGE__V1__STORAGE_CLASS__STORAGE_CLASS_GLACIER);
        if (rc != KUMO_CODE_OK)
            return docs_storage_fail(call, rc, "cannot archive the content");
    }
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    int64_t now = kumo_now_us();
    uint64_t matched = 0;
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_archive(c, p->tid, d.id, d.version, now, &matched);
    if (rc == KUMO_CODE_OK && matched == 0)
        return docs_lost_race(call, c, p->tid, d.id);
    return docs_finish_audited(
        call, c, p, rc, "document.archive", d.id, "{\"storage_class\":\"GLACIER\"}",
        &kumo__documents__v1__archive_document_response__descriptor, response);
}
