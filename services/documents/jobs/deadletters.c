/* ListDeadLetters and RedriveDeadLetter: a tenant admin's view of the
 * background jobs that failed for good, and the way to queue one again.
 * Tenant-scoped (another tenant's dead letter is not_found), newest first,
 * cursor-paginated by seq. A re-driven dead letter leaves the list (its job
 * is queued again; if that fails for good too, a new dead letter appears)
 * and cannot be re-driven twice. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "db/row.h"
#include "base/ids.h"
#include "jobs.h"
#include "../store/audit.h"
#include "db/page_token.h"
#include "auth/rpc_auth.h"

#define PAGE_DEFAULT 20
#define PAGE_MAX     100

/* The caller if it is a tenant admin (a user, not a service principal);
 * otherwise answers and returns NULL with the code in *rc. */
static const struct kumo_principal *admin_caller(struct kumo_rpc_call *call, kumo_code *rc)
{
    const struct kumo_principal *p = kumo_rpc_principal(call);
    if (p == NULL) {
        *rc =
            kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, "missing or invalid access token");
        return NULL;
    }
    if (p->service || !(p->roles & KUMO_ROLE_ADMIN)) {
        *rc = kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED, "this needs the admin role");
        return NULL;
    }
    return p;
}

static void scope_of(const char *tenant, char *out, size_t cap)
{
    snprintf(out, cap, "dead_letters\n%s", tenant);
}

static kumo_code scan_letter(struct kumo_rpc_call *call, struct kumo_db_rows *rows,
                             Kumo__Documents__V1__DeadLetter **out, int64_t *seq)
{
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    int64_t version = 0, attempts = 0, create_us = 0, dead_us = 0;
    kumo_code rc = kumo_db_rows_scan(
        rows,
        KUMO_DB_OUTS(KUMO_DB_OUT_I64(seq), KUMO_DB_OUT_SKIP, KUMO_DB_OUT_SKIP, KUMO_DB_OUT_SKIP,
                     KUMO_DB_OUT_I64(&version), KUMO_DB_OUT_I64(&attempts), KUMO_DB_OUT_SKIP,
                     KUMO_DB_OUT_TIME(&create_us), KUMO_DB_OUT_TIME(&dead_us)));
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Documents__V1__DeadLetter *d = kumo_rpc_call_alloc(call, sizeof *d);
    kumo__documents__v1__dead_letter__init(d);
    d->id = kumo_db_row_str(a, rows, 1);
    d->kind = kumo_db_row_str(a, rows, 2);
    d->document_id = kumo_db_row_str(a, rows, 3);
    d->version = (int32_t)version;
    d->attempts = (int32_t)attempts;
    d->last_error = kumo_db_row_str(a, rows, 6);
    d->create_time = kumo_pb_timestamp(a, create_us);
    d->dead_time = kumo_pb_timestamp(a, dead_us);
    *out = d;
    return KUMO_CODE_OK;
}

kumo_code docs_list_dead_letters(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response)
{
    const Kumo__Documents__V1__ListDeadLettersRequest *req =
        (const Kumo__Documents__V1__ListDeadLettersRequest *)request;
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    kumo_code rc;
    const struct kumo_principal *p = admin_caller(call, &rc);
    if (!p)
        return rc;
    int32_t size;
    if (kumo_page_size(req->page_size, PAGE_DEFAULT, PAGE_MAX, &size) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                   "page_size must not be negative");
    char scope[KUMO_JWT_ID_MAX + 32];
    scope_of(p->tid, scope, sizeof scope);
    int64_t last = -1;
    const char *tok = req->page_token ? req->page_token : "";
    if (kumo_page_token_decode(tok, strlen(tok), scope, strlen(scope), &last) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "page_token is invalid");
    if (last < 0)
        last = INT64_MAX;

    struct kumo_db_conn *c = NULL;
    rc = kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, NULL, rc, NULL);
    kumo_db_conn_set_request_id(c, kumo_rpc_call_request_id(call));
    struct kumo_db_rows *rows = NULL;
    rc = kumo_db_query(
        c,
        "SELECT seq, id, kind, document_id, version, attempts, last_error,"
        " create_time, dead_time FROM dead_letters"
        " WHERE tenant_id = ? AND seq < ? AND redrive_time IS NULL"
        " ORDER BY seq DESC LIMIT ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(p->tid), KUMO_DB_I64(last), KUMO_DB_I64(size + 1)), &rows);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, NULL);
    Kumo__Documents__V1__ListDeadLettersResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__list_dead_letters_response__init(resp);
    resp->dead_letters = kumo_rpc_call_alloc(call, sizeof *resp->dead_letters * (size_t)size);
    int has = 0, more = 0;
    int64_t seq = 0, last_seq = 0;
    while ((rc = kumo_db_rows_next(rows, &has)) == KUMO_CODE_OK && has) {
        if (resp->n_dead_letters == (size_t)size) {
            more = 1;
            break;
        }
        rc = scan_letter(call, rows, &resp->dead_letters[resp->n_dead_letters], &seq);
        if (rc != KUMO_CODE_OK)
            break;
        resp->n_dead_letters++;
        last_seq = seq;
    }
    kumo_db_rows_close(rows);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, NULL);
    kumo_db_release(c);
    resp->next_page_token = "";
    if (more) {
        char *t = kumo_rpc_call_alloc(call, KUMO_PAGE_TOKEN_MAX);
        if (kumo_page_token_encode(last_seq, scope, strlen(scope), t) == 0)
            resp->next_page_token = t;
    }
    *response = &resp->base;
    return KUMO_CODE_OK;
}

struct redrive {
    const struct kumo_principal *p;
    const char *id;
    const char *request_id;
    char job_id[DOCS_ID_MAX + 1];
    kumo_code answer; /* not_found / failed_precondition decided in the tx */
};

static kumo_code redrive_tx(struct kumo_db_conn *c, struct kumo_rpc_call *call, struct redrive *r)
{
    struct kumo_db_rows *rows = NULL;
    kumo_code rc =
        kumo_db_query(c,
                      "SELECT kind, document_id, version, redrive_time IS NOT NULL,"
                      " payload FROM dead_letters"
                      " WHERE tenant_id = ? AND id = ? FOR UPDATE",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(r->p->tid), KUMO_DB_STRZ(r->id)), &rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    int has = 0;
    int64_t version = 0, redriven = 0;
    char *kind = NULL, *doc = NULL, *payload = NULL;
    ProtobufCAllocator *a = kumo_rpc_call_allocator(call);
    rc = kumo_db_rows_next(rows, &has);
    if (rc == KUMO_CODE_OK && has) {
        rc = kumo_db_rows_scan(rows,
                               KUMO_DB_OUTS(KUMO_DB_OUT_SKIP, KUMO_DB_OUT_SKIP,
                                            KUMO_DB_OUT_I64(&version), KUMO_DB_OUT_I64(&redriven)));
        kind = kumo_db_row_str(a, rows, 0);
        doc = kumo_db_row_str(a, rows, 1);
        size_t plen = 0;
        if (kumo_db_rows_bytes(rows, 4, &plen))
            payload = kumo_db_row_str(a, rows, 4);
    }
    kumo_db_rows_close(rows);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (!has) {
        r->answer = KUMO_CODE_NOT_FOUND;
        return KUMO_CODE_OK;
    }
    if (redriven) {
        r->answer = KUMO_CODE_FAILED_PRECONDITION;
        return KUMO_CODE_OK;
    }
    int64_t now = kumo_now_us();
    rc = docs__job_enqueue_id(c, r->p->tid, kind, doc, (int32_t)version, payload, 0, 0, r->job_id);
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_exec(c,
                          "UPDATE dead_letters SET redrive_time = ?, redrive_job_id = ?"
                          " WHERE tenant_id = ? AND id = ?",
                          KUMO_DB_PARAMS(KUMO_DB_TIME(now), KUMO_DB_STRZ(r->job_id),
                                         KUMO_DB_STRZ(r->p->tid), KUMO_DB_STRZ(r->id)),
                          NULL);
    if (rc == KUMO_CODE_OK && strcmp(kind, DOCS_JOB_EXTRACT) == 0)
        rc = kumo_db_exec(c,
                          "UPDATE documents SET extraction_state = ?"
                          " WHERE tenant_id = ? AND id = ? AND current_version = ?"
                          " AND extraction_state = ?",
                          KUMO_DB_PARAMS(KUMO_DB_I64(DOCS_EXTRACT_PENDING), KUMO_DB_STRZ(r->p->tid),
                                         KUMO_DB_STRZ(doc), KUMO_DB_I64(version),
                                         KUMO_DB_I64(DOCS_EXTRACT_FAILED)),
                          NULL);
    if (rc == KUMO_CODE_OK) {
        char details[160];
        snprintf(details, sizeof details, "{\"dead_letter_id\":\"%s\",\"job_id\":\"%s\"}", r->id,
                 r->job_id);
        rc = docs_audit(c, r->p->tid, r->p->sub, "admin", "job.redrive", doc, (int32_t)version,
                        r->request_id, details);
    }
    return rc;
}

kumo_code docs_redrive_dead_letter(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                                   ProtobufCMessage **response)
{
    const Kumo__Documents__V1__RedriveDeadLetterRequest *req =
        (const Kumo__Documents__V1__RedriveDeadLetterRequest *)request;
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    kumo_code rc;
    const struct kumo_principal *p = admin_caller(call, &rc);
    if (!p)
        return rc;
    if (!kumo_rpc_id_valid(req->id))
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "id is not a dead letter id");
    struct redrive r = {.p = p, .id = req->id, .request_id = kumo_rpc_call_request_id(call)};
    struct kumo_db_conn *c = NULL;
    rc = kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, NULL, rc, NULL);
    kumo_db_conn_set_request_id(c, r.request_id);
    for (int tries = 0; tries < 3; tries++) {
        r.answer = KUMO_CODE_OK;
        rc = kumo_db_begin(c);
        if (rc == KUMO_CODE_OK)
            rc = redrive_tx(c, call, &r);
        if (rc == KUMO_CODE_OK && r.answer != KUMO_CODE_OK) {
            kumo_db_rollback(c);
            break;
        }
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        else
            kumo_db_rollback(c);
        if (rc != KUMO_CODE_ABORTED)
            break;
    }
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, NULL);
    kumo_db_release(c);
    if (r.answer == KUMO_CODE_NOT_FOUND)
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "no such dead letter");
    if (r.answer == KUMO_CODE_FAILED_PRECONDITION)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "the dead letter was already re-driven");
    Kumo__Documents__V1__RedriveDeadLetterResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__documents__v1__redrive_dead_letter_response__init(resp);
    size_t n = strlen(r.job_id);
    resp->job_id = kumo_rpc_call_alloc(call, n + 1);
    memcpy(resp->job_id, r.job_id, n + 1);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
