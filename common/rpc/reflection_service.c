/* The RPC face of the reflection index: ServerReflectionInfo handlers for v1
 * and v1alpha. Kept apart from reflection.c so that the core links without
 * the RPC server. */
#include "rpc/reflection.h"

static kumo_code info_v1(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response)
{
    Grpc__Reflection__V1__ServerReflectionResponse *out;
    if (kumo_reflection_answer(kumo_rpc_call_service_data(call),
                               (const Grpc__Reflection__V1__ServerReflectionRequest *)request,
                               kumo_rpc_call_allocator(call), &out) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "reflection failed");
    *response = &out->base;
    return KUMO_CODE_OK;
}

static kumo_code info_v1alpha(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response)
{
    Grpc__Reflection__V1alpha__ServerReflectionResponse *out;
    if (kumo_reflection_answer_v1alpha(
            kumo_rpc_call_service_data(call),
            (const Grpc__Reflection__V1alpha__ServerReflectionRequest *)request,
            kumo_rpc_call_allocator(call), &out) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "reflection failed");
    *response = &out->base;
    return KUMO_CODE_OK;
}

/* Each request message gets one response message: STREAM_EACH is exactly
 * the shape of ServerReflectionInfo. */
static const struct kumo_rpc_method methods_v1[] = {
    {"ServerReflectionInfo", info_v1, KUMO_RPC_STREAM_EACH | KUMO_RPC_PUBLIC},
};

static const struct kumo_rpc_method methods_v1alpha[] = {
    {"ServerReflectionInfo", info_v1alpha, KUMO_RPC_STREAM_EACH | KUMO_RPC_PUBLIC},
};

/* Fills the v1 (alpha 0) or v1alpha (alpha 1) service of `r`. */
static const struct kumo_rpc_service *service(struct kumo_reflection *r, int alpha,
                                              const ProtobufCServiceDescriptor *descriptor,
                                              const struct kumo_rpc_method *method)
{
    struct kumo_rpc_service *s = kumo__reflection_service_slot(r, alpha);
    s->descriptor = descriptor;
    s->methods = method;
    s->n_methods = 1;
    s->user_data = r;
    return s;
}

const struct kumo_rpc_service *kumo_reflection_service_v1(struct kumo_reflection *r)
{
    return service(r, 0, &grpc__reflection__v1__server_reflection__descriptor, methods_v1);
}

const struct kumo_rpc_service *kumo_reflection_service_v1alpha(struct kumo_reflection *r)
{
    return service(r, 1, &grpc__reflection__v1alpha__server_reflection__descriptor,
                   methods_v1alpha);
}
