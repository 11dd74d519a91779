/* Readiness: the "db" check, fed by common/runtime/probes (a background
 * thread pings the database every few seconds: /readyz answers at once). */
#include "db/probe.h"
#include "runtime/probes.h"
#include "users.h"

#define PROBE_INTERVAL_MS 2000

static struct kumo_probes *probes;

int users_readiness_start(struct users_ctx *ctx, struct kumo_admin *admin)
{
    if (kumo_probes_new(&probes, PROBE_INTERVAL_MS) != 0)
        return -1;
    kumo_probes_add(probes, admin, "db", kumo_db_probe, ctx->db, "database unreachable");
    return kumo_probes_start(probes);
}

void users_readiness_stop(void)
{
    kumo_probes_free(probes);
    probes = NULL;
}
