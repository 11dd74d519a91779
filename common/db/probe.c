/* The database's readiness probe (db/probe.h). */
#include "db/probe.h"

#include "rpc/rpc.h"
#include "db/db.h"

#define PROBE_TIMEOUT_NS (1500 * 1000000LL)

int kumo_db_probe(void *db)
{
    return kumo_db_ping(db, kumo_now_ns() + PROBE_TIMEOUT_NS) == KUMO_CODE_OK;
}
