/* The database inside an RPC handler (db/call.h). */
#include "db/call.h"

#include <stdio.h>

kumo_code kumo_db_call_acquire(struct kumo_db *db, struct kumo_rpc_call *call,
                               struct kumo_db_conn **c)
{
    kumo_code rc = kumo_db_acquire(db, kumo_rpc_call_deadline(call), c);
    if (rc != KUMO_CODE_OK)
        return kumo_rpc_call_error(call, rc, "%s", kumo_db_last_error()->message);
    kumo_db_conn_set_request_id(*c, kumo_rpc_call_request_id(call));
    return KUMO_CODE_OK;
}

kumo_code kumo_db_call_fail(struct kumo_rpc_call *call, struct kumo_db_conn *c, kumo_code rc,
                            const char *not_found)
{
    /* Copied first: the rollback may overwrite the thread's last error. */
    char msg[sizeof kumo_db_last_error()->message];
    snprintf(msg, sizeof msg, "%s", kumo_db_last_error()->message);
    if (c) {
        if (kumo_db_in_transaction(c))
            kumo_db_rollback(c);
        kumo_db_release(c);
    }
    if (rc == KUMO_CODE_OK)
        rc = KUMO_CODE_INTERNAL;
    if (rc == KUMO_CODE_NOT_FOUND && not_found)
        return kumo_rpc_call_error(call, rc, "%s", not_found);
    return kumo_rpc_call_error(call, rc, "%s", msg[0] ? msg : "database error");
}

kumo_code kumo_db_call_commit(struct kumo_rpc_call *call, struct kumo_db_conn *c, kumo_code rc,
                              const char *not_found)
{
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_commit(c);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, not_found);
    kumo_db_release(c);
    return KUMO_CODE_OK;
}

kumo_code kumo_db_run_tx(struct kumo_db_conn *c, int tries, kumo_db_tx_fn fn, void *arg)
{
    kumo_code rc = KUMO_CODE_ABORTED;
    for (int i = 0; i < tries; i++) {
        rc = kumo_db_begin(c);
        if (rc == KUMO_CODE_OK)
            rc = fn(c, arg);
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        else
            kumo_db_rollback(c);
        if (rc != KUMO_CODE_ABORTED)
            break;
    }
    return rc;
}
