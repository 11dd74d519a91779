#include "rpc/propagate.h"

#include <string.h>

void kumo_rpc_propagate(const struct kumo_rpc_call *call, int forward_auth,
                        struct kumo_rpc_call_options *out)
{
    memset(out, 0, sizeof(*out));
    out->deadline = kumo_rpc_call_deadline(call);
    out->request_id = kumo_rpc_call_request_id(call);
    out->trace = kumo_rpc_call_trace(call);
    if (forward_auth)
        out->authorization = kumo_rpc_call_header(call, "authorization");
}
