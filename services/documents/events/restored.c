/* Restore-completed events (kumo-storage's archive emulation, or S3's
 * s3:ObjectRestore:Completed through SQS): the archived document whose
 * current content the restored object is gets restore state RESTORED, with
 * the copy's ready and expiry times, without any client polling (GetDocument
 * also refreshes it from storage; both write the same state). Not an edit:
 * the etag stays, as GetDocument's refresh. Idempotent: a repeated event
 * writes the same values. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../store/documents.h"
#include "../store/versions.h"
#include "db/call.h"
#include "events.h"
#include "runtime/log.h"

#define DOC_ARCHIVED 3
#define RS_RESTORED  3

static int64_t ts_us(const Google__Protobuf__Timestamp *t)
{
    return t ? t->seconds * 1000000 + t->nanos / 1000 : 0;
}

/* OK with *outcome, or a transient error. */
static kumo_code apply(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant,
                       const char *doc, const Kumo__Storage__V1__ObjectEvent *ev,
                       const char **outcome)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_call_acquire(ctx->db, call, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct docs_doc_row d;
    struct docs_version_row v;
    rc = docs_doc_load(c, call, tenant, doc, 0, &d);
    if (rc == KUMO_CODE_OK && d.status == DOC_ARCHIVED && d.current_version > 0)
        rc = docs_version_load(c, call, tenant, doc, d.current_version, &v);
    if (rc == KUMO_CODE_NOT_FOUND || (rc == KUMO_CODE_OK && d.status != DOC_ARCHIVED) ||
        (rc == KUMO_CODE_OK && (d.current_version == 0 || strcmp(v.object_key, ev->key) != 0))) {
        kumo_db_release(c);
        *outcome = "unknown"; /* not (any more) the archived content of a document */
        return KUMO_CODE_OK;
    }
    if (rc != KUMO_CODE_OK) {
        kumo_db_release(c);
        return rc;
    }
    int64_t ready = ts_us(ev->event_time), expire = ts_us(ev->restore_expire_time);
    if (d.restore_state == RS_RESTORED && d.restore_expire_us == expire) {
        kumo_db_release(c);
        *outcome = "duplicate";
        return KUMO_CODE_OK;
    }
    rc = docs_doc_refresh_restore(c, tenant, doc, d.version, RS_RESTORED, ready, expire);
    kumo_db_release(c);
    *outcome = "restored";
    return rc;
}

int docs__events_restored(struct docs_ctx *ctx, const Kumo__Storage__V1__ObjectEvent *ev,
                          const char **outcome)
{
    char tenant[DOCS_ID_MAX], doc[DOCS_ID_MAX];
    if (docs_event_key_doc(ev->key, strlen(ev->key), tenant, doc) != 0) {
        *outcome = "unknown";
        return 0;
    }
    char rid[48];
    snprintf(rid, sizeof rid, "event-%" PRId64, ev->seq);
    struct kumo_rpc_call *call =
        kumo_rpc_call_background(rid, kumo_now_ns() + 30LL * 1000000000, NULL);
    kumo_code rc = apply(ctx, call, tenant, doc, ev, outcome);
    kumo_rpc_call_background_free(call);
    if (rc != KUMO_CODE_OK) {
        kumo_log(KUMO_LOG_WARN, rid, "restore event not handled yet", "key", ev->key, "code",
                 kumo_code_name(rc), NULL);
        return -1;
    }
    if (strcmp(*outcome, "restored") == 0)
        kumo_log(KUMO_LOG_INFO, rid, "restore completed", "document_id", doc, NULL);
    return 0;
}
