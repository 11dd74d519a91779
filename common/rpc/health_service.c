/* The RPC face of the health registry: the Check handler and its service
 * table. Kept apart from health.c so that the core links without the RPC
 * server. */
#include "grpc/health/v1/health.pb-c.h"
#include "rpc/health.h"

static kumo_code health_check(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response)
{
    struct kumo_health *h = kumo_rpc_call_service_data(call);
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)request;
    int status;
    /* grpc-go answers an unknown name with NOT_FOUND "unknown service";
     * clients such as grpc_health_probe rely on the code. */
    if (kumo_health_check(h, req->service, &status) != KUMO_CODE_OK)
        return kumo_rpc_call_error(call, KUMO_CODE_NOT_FOUND, "unknown service");
    Grpc__Health__V1__HealthCheckResponse *resp = kumo_rpc_call_alloc(call, sizeof(*resp));
    grpc__health__v1__health_check_response__init(resp);
    resp->status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
    *response = &resp->base;
    return KUMO_CODE_OK;
}

static const struct kumo_rpc_method health_methods[] = {
    {"Check", health_check, KUMO_RPC_PUBLIC | KUMO_RPC_NO_SIDE_EFFECTS},
};

const struct kumo_rpc_service *kumo_health_service(struct kumo_health *h)
{
    struct kumo_rpc_service *s = kumo__health_service_slot(h);
    s->descriptor = &grpc__health__v1__health__descriptor;
    s->methods = health_methods;
    s->n_methods = sizeof(health_methods) / sizeof(health_methods[0]);
    s->user_data = h;
    return s;
}
