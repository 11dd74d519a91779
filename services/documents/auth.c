/* Authentication of RPCs (kumo-users' access tokens, verified with its
 * JWKS through common/auth/jwt_setup), readiness (common/runtime/probes:
 * the database and kumo-storage's health service, pinged in the
 * background so /readyz answers at once), and who may call what
 * (docs_caller). */
#include <stdio.h>
#include <string.h>

#include "db/probe.h"
#include "documents.h"
#include "grpc/health/v1/health.pb-c.h"
#include "runtime/admin_http.h"

#define PROBE_INTERVAL_MS 2000

/* kumo-storage's grpc.health.v1 answers SERVING within 1.5 s. */
static int storage_probe(void *ud)
{
    struct docs_ctx *ctx = ud;
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    struct kumo_rpc_call_options o = {.deadline = kumo_now_ns() + 1500 * 1000000LL};
    ProtobufCMessage *resp = NULL;
    kumo_code rc = kumo_rpc_client_call(ctx->storage, "/grpc.health.v1.Health/Check", &req.base,
                                        &grpc__health__v1__health_check_response__descriptor, NULL,
                                        &o, &resp, NULL);
    int ok = 0;
    if (rc == KUMO_CODE_OK) {
        const Grpc__Health__V1__HealthCheckResponse *h = (const void *)resp;
        ok = h->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return ok;
}

int docs_auth_start(struct docs_ctx *ctx, struct kumo_rpc_server *srv, struct kumo_admin *admin)
{
    /* Checks are listed in the order added: db, storage, jwks. */
    if (kumo_probes_new(&ctx->probes, PROBE_INTERVAL_MS) != 0)
        return -1;
    kumo_probes_add(ctx->probes, admin, "db", kumo_db_probe, ctx->db, "database unreachable");
    kumo_probes_add(ctx->probes, admin, "storage", storage_probe, ctx,
                    "kumo-storage unreachable or not serving");
    if (kumo_jwt_setup_start(&ctx->jwt, &ctx->s.jwt, srv, admin) != 0)
        return -1;
    return kumo_probes_start(ctx->probes);
}

void docs_auth_stop(struct docs_ctx *ctx)
{
    kumo_probes_free(ctx->probes);
    ctx->probes = NULL;
    kumo_jwt_setup_stop(&ctx->jwt);
}

static int rank_of(unsigned roles)
{
    if (roles & KUMO_ROLE_ADMIN)
        return DOCS_ADMIN;
    if (roles & KUMO_ROLE_EDITOR)
        return DOCS_EDITOR;
    if (roles & KUMO_ROLE_VIEWER)
        return DOCS_VIEWER;
    return 0;
}

kumo_code docs_caller(struct kumo_rpc_call *call, enum docs_rank rank,
                      const struct kumo_principal **out)
{
    const struct kumo_principal *p = kumo_rpc_principal(call);
    if (p == NULL)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED,
                                   "missing or invalid access token");
    if (p->service)
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED,
                                   "service principals may not call this method");
    if (rank_of(p->roles) < (int)rank) {
        static const char *const need[] = {"", "viewer", "editor", "admin"};
        return kumo_rpc_call_error(call, KUMO_CODE_PERMISSION_DENIED, "this needs the %s role",
                                   need[rank]);
    }
    *out = p;
    return KUMO_CODE_OK;
}

kumo_code docs_caller_id(struct kumo_rpc_call *call, enum docs_rank rank, const char *field,
                         const char *id, const struct kumo_principal **p)
{
    kumo_code rc = docs_caller(call, rank, p);
    if (rc == KUMO_CODE_OK)
        rc = kumo_rpc_check_id(call, field, id);
    return rc;
}
