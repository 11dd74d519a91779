/* The dead_letters SQL; listed rows are read back as DeadLetter messages
 * by field name (db/message_scan.h). */
#include "dead_letters.h"

#include "columns.h"
#include "db/message_scan.h"
#include "db/row.h"

kumo_code docs_dead_letter_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const struct kumo_db_page *pg, const char *tenant_id,
                                Kumo__Documents__V1__DeadLetter ***out, size_t *n, char **next)
{
    return kumo_db_page_msgs(
        pg, call, c,
        "SELECT seq AS " KUMO_DB_MSG_KEY ", id, kind, document_id, version, attempts, last_error,"
        " create_time, dead_time FROM dead_letters"
        " WHERE tenant_id = ? AND seq < ? AND redrive_time IS NULL ORDER BY seq DESC LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_I64(pg->after < 0 ? INT64_MAX : pg->after),
                       KUMO_DB_I64((int64_t)pg->size + 1)),
        &kumo__documents__v1__dead_letter__descriptor, (void ***)out, n, next);
}

/* Reads a (kind, document_id, version, re-driven, payload) row into
 * *(struct docs_dead_letter_job *)out. */
static kumo_code scan_job(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct docs_dead_letter_job *j = out;
    int64_t redriven = 0;
    size_t plen = 0;
    kumo_code rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_SKIP, KUMO_DB_OUT_SKIP,
                                                        KUMO_DB_OUT_I64(&j->version),
                                                        KUMO_DB_OUT_I64(&redriven)));
    j->kind = docs_col_str(call, rows, 0);
    j->document_id = docs_col_str(call, rows, 1);
    j->payload = kumo_db_rows_bytes(rows, 4, &plen) ? docs_col_str(call, rows, 4) : NULL;
    j->redriven = redriven != 0;
    return rc;
}

kumo_code docs_dead_letter_lock(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *tenant_id, const char *id,
                                struct docs_dead_letter_job *j, int *found)
{
    j->payload = NULL;
    kumo_code rc = kumo_db_row_query_one(c,
                                         "SELECT kind, document_id, version,"
                                         " redrive_time IS NOT NULL, payload FROM dead_letters"
                                         " WHERE tenant_id = ? AND id = ? FOR UPDATE",
                                         KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)),
                                         scan_job, call, j);
    *found = rc == KUMO_CODE_OK;
    return rc == KUMO_CODE_NOT_FOUND ? KUMO_CODE_OK : rc;
}

kumo_code docs_dead_letter_mark_redriven(struct kumo_db_conn *c, const char *tenant_id,
                                         const char *id, const char *job_id, int64_t now_us)
{
    return kumo_db_exec(c,
                        "UPDATE dead_letters SET redrive_time = ?, redrive_job_id = ?"
                        " WHERE tenant_id = ? AND id = ?",
                        KUMO_DB_PARAMS(KUMO_DB_TIME(now_us), KUMO_DB_STRZ(job_id),
                                       KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)),
                        NULL);
}
