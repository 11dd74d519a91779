/* The database as a readiness probe (runtime/probes.h). */
#ifndef KUMO_DB_PROBE_H
#define KUMO_DB_PROBE_H

/* A kumo_probe_fn for `db` (a struct kumo_db *): 1 if a ping answers
 * within 1.5 s, else 0. */
int kumo_db_probe(void *db);

#endif
