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
