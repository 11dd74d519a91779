/* Connection admission of the RPC server (internal to rpc_*): the limits
 * on connections open on one port, in total and per client address. The
 * one place such decisions are made: idle-first eviction would go here too.
 * Not installed. */
#ifndef KUMO_RPC_ADMIT_H
#define KUMO_RPC_ADMIT_H

#include <pthread.h>
#include <stddef.h>

/* Longest peer address kept ("ffff:...": INET6_ADDRSTRLEN is 46). */
#define KUMO_RPC_ADMIT_PEER_MAX 64

enum kumo__rpc_admit_result {
    KUMO_ADMIT_OK = 0,
    KUMO_ADMIT_PORT_FULL,    /* max_total connections open */
    KUMO_ADMIT_ADDRESS_FULL, /* max_per_address open from this address */
};

struct kumo__rpc_admit_slot;

struct kumo__rpc_admit {
    pthread_mutex_t mu;
    int max_total, max_per_address;
    int open;
    struct kumo__rpc_admit_slot *slots; /* per-address counts; NULL when no per-address limit */
    size_t mask;
};

/* Prepares `a` for at most max_total connections (at least 1) and at most
 * max_per_address from one address (<= 0, or >= max_total: no per-address
 * limit, and no table). Allocates the table up front (it never grows). */
void kumo__rpc_admit_init(struct kumo__rpc_admit *a, int max_total, int max_per_address);

/* Frees what init allocated. */
void kumo__rpc_admit_free(struct kumo__rpc_admit *a);

/* Counts a new connection from `peer` (numeric address; "" = unknown, only
 * the total applies) and returns KUMO_ADMIT_OK, or refuses it (nothing
 * counted) with the limit it would pass. Thread-safe. */
enum kumo__rpc_admit_result kumo__rpc_admit_take(struct kumo__rpc_admit *a, const char *peer);

/* Forgets a connection admitted by kumo__rpc_admit_take with the same peer. */
void kumo__rpc_admit_release(struct kumo__rpc_admit *a, const char *peer);

/* Connections open: in total (peer NULL), or from `peer` (0 when no
 * per-address limit is kept). For tests and metrics. */
int kumo__rpc_admit_open(struct kumo__rpc_admit *a, const char *peer);

#endif
