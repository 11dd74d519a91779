/* GET /healthcheck (KumoCMS shape, from each dependency's
 * grpc.health.v1.Health/Check) and GET /openapi.json. */
#include <string.h>

#include "bff.h"
#include "grpc/health/v1/health.pb-c.h"
#include "rpc/rpc.h"

#define HEALTH_BUDGET_NS (2LL * 1000000000)

static int check(struct bff_ctx *c, struct kumo_rpc_client *client, json_t *checks,
                 const char *name)
{
    Grpc__Health__V1__HealthCheckRequest rq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    rq.service = "";
    Grpc__Health__V1__HealthCheckResponse *rs = NULL;
    struct kumo_rpc_status st = {0};
    int64_t saved = c->deadline;
    int64_t d = kumo_now_ns() + HEALTH_BUDGET_NS;
    if (d < c->deadline)
        c->deadline = d;
    kumo_code code = bff_call(c, client, "/grpc.health.v1.Health/Check", &rq.base,
                              &grpc__health__v1__health_check_response__descriptor, 0,
                              (ProtobufCMessage **)&rs, &st);
    c->deadline = saved;
    kumo_rpc_status_clear(&st);
    int ok = code == KUMO_CODE_OK &&
             rs->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    json_t *e = json_pack("{s:s}", "status", ok ? "healthy" : "unhealthy");
    if (!ok)
        json_object_set_new(
            e, "error", json_string(code == KUMO_CODE_OK ? "not serving" : kumo_code_name(code)));
    json_object_set_new(checks, name, e);
    return ok;
}

void bff_h_healthcheck(struct bff_ctx *c)
{
    json_t *checks = json_object();
    int ok = check(c, c->app->users, checks, "users");
    ok &= check(c, c->app->documents, checks, "documents");
    ok &= check(c, c->app->storage, checks, "storage");
    bff_json(c, ok ? 200 : 503,
             json_pack("{s:s,s:o}", "status", ok ? "healthy" : "unhealthy", "checks", checks));
}

void bff_h_openapi(struct bff_ctx *c)
{
    c->rs->status = 200;
    kumo_buf_reset(&c->rs->body);
    kumo_buf_append_str(&c->rs->body, bff_openapi_json);
    c->rs->content_type = "application/json";
}
