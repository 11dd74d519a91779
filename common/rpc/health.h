/* grpc.health.v1.Health: the serving status of the whole server ("") and of
 * named services, as every kumo RPC port reports it.
 *
 * The core (kumo_health_new/set/check/free, health.c) does not depend on the
 * RPC server; the handler wrapper behind kumo_health_service lives in
 * health_service.c so that programs using only the core do not link the
 * server. */
#ifndef KUMO_HEALTH_H
#define KUMO_HEALTH_H

#include "base/errors.h"
#include "rpc/rpc.h"

struct kumo_health;

/* Creates a health registry that knows only the whole server (""), reported
 * SERVING (as grpc-go's health server starts). Returns 0 and sets *out (free
 * it with kumo_health_free), or -errno if the lock cannot be created (*out
 * untouched). */
int kumo_health_new(struct kumo_health **out);

/* Sets the status of `service` ("" or NULL = the whole server): SERVING when
 * `serving` is nonzero, else NOT_SERVING. An unknown name is added. The name
 * is copied. Thread-safe: may be called from any thread while RPCs are being
 * answered (readiness checks, shutdown). */
void kumo_health_set(struct kumo_health *h, const char *service, int serving);

/* Calls fn(ud) after every kumo_health_set that changed a status (outside
 * the registry's lock; from the thread that set it): the daemon wakes the
 * RPC server's held Watch streams with it (kumo_rpc_server_tick). */
void kumo_health_on_change(struct kumo_health *h, void (*fn)(void *ud), void *ud);

/* Looks up `service` ("" or NULL = the whole server). Returns KUMO_CODE_OK
 * and sets *status to a Grpc__Health__V1__HealthCheckResponse__ServingStatus
 * (SERVING or NOT_SERVING), or KUMO_CODE_NOT_FOUND (*status untouched) for a
 * name never set. Thread-safe. */
kumo_code kumo_health_check(struct kumo_health *h, const char *service, int *status);

/* Returns the service to register with the RPC server: grpc.health.v1.Health
 * with methods Check (public, side-effect free) and Watch (public, a server
 * stream: the current status at once, then every change, SERVICE_UNKNOWN
 * for a name never set; NOT_SERVING then `unavailable` when the server
 * drains). The struct is owned by `h` and valid until
 * kumo_health_free; `h` must outlive the server. (health_service.c) */
const struct kumo_rpc_service *kumo_health_service(struct kumo_health *h);

/* Frees `h` (NULL is ignored). No RPC may be using it any more. */
void kumo_health_free(struct kumo_health *h);

/* ---- internal, for health_service.c ---- */

/* The storage kumo_health_service fills and returns: one per registry, so
 * that each registered service carries its own user_data. */
struct kumo_rpc_service *kumo__health_service_slot(struct kumo_health *h);

#endif
