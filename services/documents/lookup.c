/* Loading what a request names and answering when it is not there. */
#include "documents.h"
#include "store/versions.h"

kumo_code docs_version_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                           const char *tenant_id, const char *doc_id, int64_t version,
                           struct docs_version_row *v)
{
    kumo_code rc = docs_version_load(c, call, tenant_id, doc_id, version, v);
    if (rc == KUMO_CODE_NOT_FOUND) {
        kumo_db_release(c);
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "version %lld not found",
                                   (long long)version);
    }
    if (rc != KUMO_CODE_OK)
        return docs_db_fail(call, c, rc);
    return KUMO_CODE_OK;
}
