/* What the conditional changes (UpdateDocument, ArchiveDocument,
 * RestoreDocument, DeleteDocument, UndeleteDocument) share: loading the
 * document to change (checking an etag), answering a change that lost a
 * race, and committing and answering with the changed document.
 *
 * Each change is a conditional UPDATE on the row version (the etag) inside
 * a transaction with its audit event; storage changes (archive, restore)
 * are made first, with the service principal's token, and the row
 * follows. */
#include "base/ids.h"
#include "documents.h"
#include "store/audit.h"
#include "store/documents.h"
#include "store/versions.h"

/* Answers for a conditional change that matched no row: the document is
 * gone (not_found) or the etag was stale (aborted). Releases c. */
kumo_code docs_lost_race(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                         const char *id)
{
    struct docs_doc_row d;
    kumo_code rc = docs_doc_load(c, call, tid, id, 0, &d);
    kumo_db_rollback(c);
    kumo_db_release(c);
    if (rc == KUMO_CODE_NOT_FOUND)
        return kumo_rpc_call_error(call, rc, "document not found");
    return kumo_rpc_call_error(call, KUMO_CODE_ABORTED,
                               "etag does not match: the document changed, read it again");
}

/* Commits, reads the document back and answers with it (the response
 * types all hold one `document` as their first field). Releases c. */
kumo_code docs_finish_change(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                             const char *id, const ProtobufCMessageDescriptor *desc,
                             ProtobufCMessage **response)
{
    kumo_code rc = kumo_db_commit(c);
    struct docs_doc_row d;
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_load(c, call, tid, id, 0, &d);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    ProtobufCMessage *m = kumo_rpc_call_new(call, desc);
    /* Every one of these responses is { Document document = 1; }. */
    Kumo__Documents__V1__Document **slot =
        (Kumo__Documents__V1__Document **)((char *)m + desc->fields[0].offset);
    *slot = docs_doc_message(call, &d);
    *response = m;
    return KUMO_CODE_OK;
}

kumo_code docs_finish_audited(struct kumo_rpc_call *call, struct kumo_db_conn *c,
                              const struct kumo_principal *p, kumo_code rc, const char *action,
                              const char *id, const char *details,
                              const ProtobufCMessageDescriptor *desc, ProtobufCMessage **response)
{
    if (rc == KUMO_CODE_OK)
        rc = docs_audit_caller(c, call, p, action, id, 0, details);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return docs_finish_change(call, c, p->tid, id, desc, response);
}

/* Loads the document (checking the optional etag) and its content keys. */
kumo_code docs_load_for_change(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                               const struct kumo_principal *p, const char *id, const char *etag,
                               struct docs_doc_row *d, char ***keys, size_t *n)
{
    kumo_code rc = kumo_rpc_check_id(call, "id", id);
    if (rc != KUMO_CODE_OK)
        return rc;
    int64_t want = 0;
    if (etag && etag[0] && kumo_etag_parse(etag, &want) != 0)
        return kumo_rpc_invalid(call, "etag", "is not an etag of this service");
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    rc = docs_doc_load(c, call, p->tid, id, 0, d);
    if (rc == KUMO_CODE_OK && keys)
        rc = docs_version_keys(c, call, p->tid, id, keys, n);
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    kumo_db_release(c);
    if (want && want != d->version)
        return kumo_rpc_call_error(call, KUMO_CODE_ABORTED,
                                   "etag does not match: the document changed, read it again");
    return KUMO_CODE_OK;
}

kumo_code docs_lock_doc(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant_id,
                        const char *id, struct kumo_db_conn **c, struct docs_doc_row *d)
{
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, c);
    if (rc != KUMO_CODE_OK)
        return rc;
    if ((rc = kumo_db_begin(*c)) != KUMO_CODE_OK ||
        (rc = docs_doc_load(*c, call, tenant_id, id, 1, d)) != KUMO_CODE_OK)
        return docs_db_fail(call, *c, rc);
    return KUMO_CODE_OK;
}
