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

/* Watch: what the stream last sent, and for which name. */
struct watch_state {
    const char *service; /* the request's, alive as long as the call */
    int sent;
};

/* The status Watch reports for a name: SERVICE_UNKNOWN for one never set
 * (the gRPC health protocol: Watch does not fail on unknown names, since
 * the service may be registered later). */
static int watch_status(struct kumo_health *h, const char *service)
{
    int status;
    if (kumo_health_check(h, service, &status) != KUMO_CODE_OK)
        status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    return status;
}

static ProtobufCMessage *status_message(struct kumo_rpc_call *call, int status)
{
    Grpc__Health__V1__HealthCheckResponse *resp = kumo_rpc_call_alloc(call, sizeof(*resp));
    grpc__health__v1__health_check_response__init(resp);
    resp->status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
    return &resp->base;
}

static kumo_code health_watch(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response)
{
    struct kumo_health *h = kumo_rpc_call_service_data(call);
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)request;
    struct watch_state *w = kumo_rpc_call_alloc(call, sizeof(*w));
    w->service = req->service;
    w->sent = watch_status(h, w->service);
    kumo_rpc_call_set_state(call, w);
    *response = status_message(call, w->sent);
    return KUMO_CODE_OK;
}

/* A held Watch stream: a message only when the status changed. */
static ProtobufCMessage *health_watch_tick(struct kumo_rpc_call *call)
{
    struct watch_state *w = kumo_rpc_call_state(call);
    int now = watch_status(kumo_rpc_call_service_data(call), w->service);
    if (now == w->sent)
        return NULL;
    w->sent = now;
    return status_message(call, now);
}

static const struct kumo_rpc_method health_methods[] = {
    {"Check", health_check, KUMO_RPC_PUBLIC | KUMO_RPC_NO_SIDE_EFFECTS, NULL},
    {"Watch", health_watch, KUMO_RPC_PUBLIC | KUMO_RPC_STREAM_EACH | KUMO_RPC_SERVER_STREAM,
     health_watch_tick},
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
