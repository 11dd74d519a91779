/* Calling the services for a request: its deadline, request id, the
 * caller's token and (to kumo-users) the client's address; and the record
 * of client addresses whose credentials kumo-users refused. */
#include <string.h>

#include "bff.h"
#include "rpc/rpc.h"

int bff_client_suspect(struct bff_ctx *c)
{
    return kumo_throttle_blocked(c->app->suspects, c->client, strlen(c->client),
                                 kumo_now_ns() / 1000000);
}

void bff_note_credential_outcome(struct bff_ctx *c, kumo_code code)
{
    if (code == KUMO_CODE_UNAUTHENTICATED || code == KUMO_CODE_RESOURCE_EXHAUSTED)
        kumo_throttle_hit(c->app->suspects, c->client, strlen(c->client), kumo_now_ns() / 1000000);
}

kumo_code bff_call(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                   int with_auth, ProtobufCMessage **resp, struct kumo_rpc_status *st)
{
    /* kumo-users throttles sign-ins and key exchanges per client address:
     * it must see the client's, not ours (it believes it from us only when
     * our address is in its KUMO_TRUSTED_PROXIES). */
    struct kumo_rpc_metadata xff = {"x-forwarded-for", c->client};
    struct kumo_rpc_call_options o = {
        .deadline = c->deadline,
        .request_id = c->request_id,
        .authorization = with_auth ? c->authorization : NULL,
        .metadata = client == c->app->users ? &xff : NULL,
        .n_metadata = client == c->app->users,
    };
    kumo_code code = kumo_rpc_client_call(client, path, req, resp_desc,
                                          kumo_arena_allocator(c->arena), &o, resp, st);
    if (client == c->app->users)
        bff_note_credential_outcome(c, code);
    return code;
}

int bff_call_or_error(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                      ProtobufCMessage **resp)
{
    struct kumo_rpc_status st = {0};
    kumo_code code = bff_call(c, client, path, req, resp_desc, 1, resp, &st);
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, &st);
        kumo_rpc_status_clear(&st);
        return -1;
    }
    return 0;
}

/* The RPC of an asynchronous request is answered (on the client's I/O
 * thread): keep the outcome and hand the request back to its front-end. */
static void rpc_done(void *arg, kumo_code code, ProtobufCMessage *resp, struct kumo_rpc_status *st)
{
    struct bff_async *a = arg;
    a->code = code;
    a->resp = resp;
    a->st = *st;
    a->resume(a->resume_arg);
}

void bff_call_then(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                   bff_cont_fn cont, void *state)
{
    struct bff_async *a = c->async;
    struct kumo_rpc_status st = {0};
    ProtobufCMessage *resp = NULL;
    kumo_code code;
    if (a && a->resume) {
        struct kumo_rpc_metadata xff = {"x-forwarded-for", c->client};
        struct kumo_rpc_call_options o = {
            .deadline = c->deadline,
            .request_id = c->request_id,
            .authorization = c->authorization,
            .metadata = client == c->app->users ? &xff : NULL,
            .n_metadata = client == c->app->users,
        };
        a->cont = cont;
        a->state = state;
        a->client = client;
        a->pending = 1; /* before the call: its answer may come at once */
        code = kumo_rpc_client_call_async(client, path, req, resp_desc,
                                          kumo_arena_allocator(c->arena), &o, rpc_done, a, &st);
        if (code == KUMO_CODE_OK)
            return; /* bff__async_continue goes on */
        a->pending = 0;
        if (client == c->app->users)
            bff_note_credential_outcome(c, code);
    } else {
        code = bff_call(c, client, path, req, resp_desc, 1, &resp, &st);
    }
    cont(c, state, code, resp, &st);
    kumo_rpc_status_clear(&st);
}

void bff__async_continue(struct bff_async *a)
{
    /* Taken out first: the continuation may start the next RPC, whose
     * outcome lands in *a. */
    struct kumo_rpc_status st = a->st;
    kumo_code code = a->code;
    ProtobufCMessage *resp = a->resp;
    a->st = (struct kumo_rpc_status){0};
    a->resp = NULL;
    a->pending = 0;
    if (a->client == a->ctx.app->users)
        bff_note_credential_outcome(&a->ctx, code);
    a->cont(&a->ctx, a->state, code, resp, &st);
    kumo_rpc_status_clear(&st);
}
