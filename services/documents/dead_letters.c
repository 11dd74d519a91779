/* ListDeadLetters and RedriveDeadLetter: a tenant admin's view of the
 * background jobs that failed for good, and the way to queue one again.
 * Tenant-scoped (another tenant's dead letter is not_found), newest first,
 * cursor-paginated by seq. A re-driven dead letter leaves the list (its job
 * is queued again; if that fails for good too, a new dead letter appears)
 * and cannot be re-driven twice. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth/rpc_auth.h"
#include "base/ids.h"
#include "db/page_token.h"
#include "documents.h"
#include "store/audit.h"
#include "store/dead_letters.h"
#include "store/documents.h"
#include "store/jobs.h"

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

    struct kumo_db_conn *c = NULL;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    Kumo__Documents__V1__ListDeadLettersResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__list_dead_letters_response__descriptor);
    const struct kumo_db_page pg = {scope, strlen(scope), last, (size_t)size};
    if ((rc = docs_dead_letter_list(c, call, &pg, p->tid, &resp->dead_letters,
                                    &resp->n_dead_letters, &resp->next_page_token)) != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, NULL);
    kumo_db_release(c);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

struct redrive {
    struct kumo_rpc_call *call;
    const struct kumo_principal *p;
    const char *id;
    const char *request_id;
    char job_id[DOCS_ID_MAX + 1];
    kumo_code answer; /* not_found / failed_precondition decided in the tx */
};

static kumo_code redrive_tx(struct kumo_db_conn *c, struct kumo_rpc_call *call, struct redrive *r)
{
    struct docs_dead_letter_job j;
    int found = 0;
    kumo_code rc = docs_dead_letter_lock(c, call, r->p->tid, r->id, &j, &found);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (!found) {
        r->answer = KUMO_CODE_NOT_FOUND;
        return KUMO_CODE_OK;
    }
    if (j.redriven) {
        r->answer = KUMO_CODE_FAILED_PRECONDITION;
        return KUMO_CODE_OK;
    }
    rc = docs__job_enqueue_id(c, r->p->tid, j.kind, j.document_id, (int32_t)j.version, j.payload, 0,
                              0, r->job_id);
    if (rc == KUMO_CODE_OK)
        rc = docs_dead_letter_mark_redriven(c, r->p->tid, r->id, r->job_id, kumo_now_us());
    if (rc == KUMO_CODE_OK && strcmp(j.kind, DOCS_JOB_EXTRACT) == 0)
        rc = docs_doc_extraction_retry(c, r->p->tid, j.document_id, j.version);
    if (rc == KUMO_CODE_OK) {
        char details[160];
        snprintf(details, sizeof details, "{\"dead_letter_id\":\"%s\",\"job_id\":\"%s\"}", r->id,
                 r->job_id);
        rc = docs_audit(c, r->p->tid, r->p->sub, "admin", "job.redrive", j.document_id,
                        (int32_t)j.version, r->request_id, details);
    }
    return rc;
}

static kumo_code redrive_body(struct kumo_db_conn *c, void *arg)
{
    struct redrive *r = arg;
    r->answer = KUMO_CODE_OK;
    return redrive_tx(c, r->call, r);
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
    struct redrive r = {
        .call = call, .p = p, .id = req->id, .request_id = kumo_rpc_call_request_id(call)};
    struct kumo_db_conn *c = NULL;
    if ((rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        return rc;
    /* An answer decided in the transaction (no such letter, re-driven
     * already) commits nothing: it wrote nothing. */
    rc = kumo_db_run_tx(c, 3, redrive_body, &r);
    if (rc != KUMO_CODE_OK)
        return kumo_db_call_fail(call, c, rc, NULL);
    kumo_db_release(c);
    if (r.answer == KUMO_CODE_NOT_FOUND)
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "no such dead letter");
    if (r.answer == KUMO_CODE_FAILED_PRECONDITION)
        return kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                   "the dead letter was already re-driven");
    Kumo__Documents__V1__RedriveDeadLetterResponse *resp =
        kumo_rpc_call_new(call, &kumo__documents__v1__redrive_dead_letter_response__descriptor);
    size_t n = strlen(r.job_id);
    resp->job_id = kumo_rpc_call_alloc(call, n + 1);
    memcpy(resp->job_id, r.job_id, n + 1);
    *response = &resp->base;
    return KUMO_CODE_OK;
}
