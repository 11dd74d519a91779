/* RestoreDocument: asks kumo-storage to restore every available version
 * of an archived document for `days` (tier STANDARD by default) and
 * records the restore state the current version's object reports
 * (GetDocument refreshes it while it runs). */
#include <stdio.h>

#include "base/ids.h"
#include "documents.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "store/documents.h"

#define ST_ARCHIVED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED
#define RS_RUNNING  KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_IN_PROGRESS

static kumo_code restore_object(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                                const char *key, int32_t days, int32_t tier,
                                const Kumo__Storage__V1__ObjectInfo **obj)
{
    Kumo__Storage__V1__RestoreObjectRequest req = KUMO__STORAGE__V1__RESTORE_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    req.days = days;
    req.tier = (Kumo__Storage__V1__RestoreTier)tier;
    ProtobufCMessage *m;
    kumo_code rc = docs_storage_call(ctx, call, tid, "RestoreObject", &req.base,
                                     &kumo__storage__v1__restore_object_response__descriptor, &m);
    if (rc == KUMO_CODE_OK)
        *obj = ((Kumo__Storage__V1__RestoreObjectResponse *)m)->object;
    return rc;
}

DOCS_HANDLER(restore_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__RestoreDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    struct docs_doc_row d;
    char **keys;
    size_t n;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->days < 1 || req->days > 365)
        return kumo_rpc_invalid(call, "days", "must be 1..365");
    if (req->tier < 0 || req->tier > KUMO__DOCUMENTS__V1__RESTORE_TIER__RESTORE_TIER_BULK)
        return kumo_rpc_invalid(call, "tier", "is not a known tier");
    int32_t tier = req->tier ? req->tier : KUMO__DOCUMENTS__V1__RESTORE_TIER__RESTORE_TIER_STANDARD;
    if ((rc = docs_load_for_change(ctx, call, p, req->id, NULL, &d, &keys, &n)) != KUMO_CODE_OK)
        return rc;
    if (d.status != ST_ARCHIVED)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION, "document is not archived");
    if (d.restore_state == RS_RUNNING)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "a restore is already in progress");
    const Kumo__Storage__V1__ObjectInfo *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        const Kumo__Storage__V1__ObjectInfo *o = NULL;
        if ((rc = restore_object(ctx, call, p->tid, keys[i], req->days, tier, &o)) != KUMO_CODE_OK)
            return docs_storage_fail(call, rc, "cannot restore the content");
        if (i == 0)
            cur = o; /* keys are newest first: the current version's */
    }
    int64_t state = RS_RUNNING, ready = 0, expire = 0;
    if (cur && cur->restore && cur->restore->state) {
        state = cur->restore->state;
        ready = docs_ts_us(cur->restore->ready_time);
        expire = docs_ts_us(cur->restore->expire_time);
    }
    struct kumo_db_conn *c;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    uint64_t matched = 0;
    struct docs_doc_restore r = {state, tier, req->days, ready, expire};
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_set_restore(c, p->tid, d.id, d.version, &r, kumo_now_us(), &matched);
    if (rc == KUMO_CODE_OK && matched == 0)
        return docs_lost_race(call, c, p->tid, d.id);
    char details[64];
    snprintf(details, sizeof details, "{\"days\":%d,\"tier\":%d}", req->days, tier);
    return docs_finish_audited(call, c, p, rc, "document.restore", d.id, details,
                               &kumo__documents__v1__restore_document_response__descriptor,
                               response);
}
