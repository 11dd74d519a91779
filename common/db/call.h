/* The database inside an RPC handler: leasing a connection for the call
 * and turning a failure into the call's answer, as every service's
 * handlers do (they each had a copy). */
#ifndef KUMO_DB_CALL_H
#define KUMO_DB_CALL_H

#include "db/db.h"
#include "rpc/rpc.h"

/* Leases a connection of `db` within the call's deadline and tags it with
 * the call's request id (for the DB logs). Returns OK and sets *c, or
 * answers the call with the pool's (safe) message and returns the code. */
kumo_code kumo_db_call_acquire(struct kumo_db *db, struct kumo_rpc_call *call,
                               struct kumo_db_conn **c);

/* Answers the call with the last DB error of this thread (its message is
 * safe to send), rolling back an open transaction and releasing `c` (may
 * be NULL). rc OK (a failure the DB did not name) answers internal;
 * NOT_FOUND answers `not_found` when it is not NULL. Returns the code
 * answered. */
kumo_code kumo_db_call_fail(struct kumo_rpc_call *call, struct kumo_db_conn *c, kumo_code rc,
                            const char *not_found);

/* Ends a handler's transaction on `c`: commits when rc is OK; on success
 * releases `c` and returns OK; on any failure (rc, or the commit's) answers
 * the call as kumo_db_call_fail does (rolling back, releasing `c`) and
 * returns the code answered. */
kumo_code kumo_db_call_commit(struct kumo_rpc_call *call, struct kumo_db_conn *c, kumo_code rc,
                              const char *not_found);

/* A transaction body: runs on `c` inside the transaction; returns OK to
 * commit, anything else to roll back. */
typedef kumo_code (*kumo_db_tx_fn)(struct kumo_db_conn *c, void *arg);

/* Runs fn(c, arg) in a transaction on `c`: begin, fn, then commit, or
 * roll back when fn (or the begin) failed; the whole again while the
 * outcome is ABORTED (a deadlock or lock wait the server broke), at most
 * `tries` times. Returns the last outcome. */
kumo_code kumo_db_run_tx(struct kumo_db_conn *c, int tries, kumo_db_tx_fn fn, void *arg);

#endif
