/* Passing a call's context on to the next hop: the remaining deadline, the
 * request id and the caller's credentials (zero trust between services: a
 * service calling another forwards the caller's token). */
#ifndef KUMO_RPC_PROPAGATE_H
#define KUMO_RPC_PROPAGATE_H

#include "rpc/rpc.h"
#include "rpc_client/client.h"

/* Fills `out` for an outgoing call made while serving `call`: the same
 * absolute deadline (so the next hop gets what is left of the budget), the
 * same x-request-id, the call's span as the parent of the next hop's
 * (traceparent, tracestate), and the caller's authorization header when
 * `forward_auth` is nonzero. Metadata fields of `out` are left empty. The
 * strings point into `call` and are valid until it ends. */
void kumo_rpc_propagate(const struct kumo_rpc_call *call, int forward_auth,
                        struct kumo_rpc_call_options *out);

#endif
