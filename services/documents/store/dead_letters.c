/* The dead_letters SQL and its row mapping (store/dead_letters.h). */
#include "dead_letters.h"

#include "columns.h"
#include "db/page_rows.h"
#include "db/row.h"

/* In the order scan_letter reads them: seq, then id, kind and document id
 * by position, the numbers, last_error by position, the times. */
#define LETTER_COLUMNS                                                                             \
    "seq, id, kind, document_id, version, attempts, last_error, create_time, dead_time"

static kumo_code scan_letter(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct docs_dead_letter_row *d = out;
    kumo_code rc = kumo_db_rows_scan(
        rows,
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(&d->seq), KUMO_DB_OUT_SKIP, KUMO_DB_OUT_SKIP, KUMO_DB_OUT_SKIP,
                     KUMO_DB_OUT_I64(&d->version), KUMO_DB_OUT_I64(&d->attempts), KUMO_DB_OUT_SKIP,
                     KUMO_DB_OUT_TIME(&d->create_us), KUMO_DB_OUT_TIME(&d->dead_us)));
    if (rc != KUMO_CODE_OK)
        return rc;
    d->id = docs_col_str(call, rows, 1);
    d->kind = docs_col_str(call, rows, 2);
    d->document_id = docs_col_str(call, rows, 3);
    d->last_error = docs_col_str(call, rows, 6);
    return KUMO_CODE_OK;
}

kumo_code docs_dead_letter_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *tenant_id, int64_t before, int32_t limit,
                                struct docs_dead_letter_row **rows, size_t *n)
{
    void *out;
    kumo_code rc = kumo_db_row_query_page(
        c,
        "SELECT " LETTER_COLUMNS " FROM dead_letters"
        " WHERE tenant_id = ? AND seq < ? AND redrive_time IS NULL ORDER BY seq DESC LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_I64(before < 0 ? INT64_MAX : before),
                       KUMO_DB_I64(limit)),
        scan_letter, call, sizeof **rows, (size_t)limit, &out, n);
    *rows = out;
    return rc;
}

kumo_code docs_dead_letter_lock(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                                const char *tenant_id, const char *id,
                                struct docs_dead_letter_job *j, int *found)
{
    struct kumo_db_rows *rows = NULL;
    kumo_code rc = kumo_db_query(c,
                                 "SELECT kind, document_id, version, redrive_time IS NOT NULL,"
                                 " payload FROM dead_letters"
                                 " WHERE tenant_id = ? AND id = ? FOR UPDATE",
                                 KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)), &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    int64_t redriven = 0;
    *found = 0;
    j->payload = NULL;
    rc = kumo_db_rows_next(rows, found);
    if (rc == KUMO_CODE_OK && *found) {
        rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_SKIP, KUMO_DB_OUT_SKIP,
                                                  KUMO_DB_OUT_I64(&j->version),
                                                  KUMO_DB_OUT_I64(&redriven)));
        j->kind = docs_col_str(call, rows, 0);
        j->document_id = docs_col_str(call, rows, 1);
        size_t plen = 0;
        if (kumo_db_rows_bytes(rows, 4, &plen))
            j->payload = docs_col_str(call, rows, 4);
        j->redriven = redriven != 0;
    }
    kumo_db_rows_close(rows);
    return rc;
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
