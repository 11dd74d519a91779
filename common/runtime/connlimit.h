/* Connection limits for a listener that cannot be turned against other
 * clients: at most max_total connections open and at most max_per_address
 * from one client address; when a limit is reached, the connection idle
 * the longest (in total, or from that address) is closed to make room,
 * and only when none is idle is the new one refused. Shared by every
 * listener: the RPC ports (rpc/server.c), kumo-bff's HTTP port and the
 * storage data port.
 *
 * A listener admits each accepted connection with its socket, marks it
 * idle (waiting for a request) or busy (a request being read or served)
 * as it goes, and releases it when the connection is closed. Eviction
 * shuts the socket down (a dup of it, kept by the limit): the listener
 * sees the client leave and closes the connection the usual way. */
#ifndef KUMO_RUNTIME_CONNLIMIT_H
#define KUMO_RUNTIME_CONNLIMIT_H

#include <stdint.h>

struct kumo_connlimit;
struct kumo_connlimit_slot;

/* Makes a limit of max_total (>= 1) connections and max_per_address (<= 0
 * or >= max_total: no per-address limit). Returns 0 and sets *out, or -1. */
int kumo_connlimit_new(struct kumo_connlimit **out, int max_total, int max_per_address);

/* Frees `l` (NULL: no-op); every slot must have been released. */
void kumo_connlimit_free(struct kumo_connlimit *l);

/* Admits a connection from `peer` (numeric address; "" or NULL: only the
 * total applies) on socket `fd` (dup'ed; the caller keeps fd). It starts
 * idle. Returns its slot, or NULL when it must be refused (the caller
 * closes it); may evict (shut down) idle connections to make room.
 * Thread-safe, as are the functions below. */
struct kumo_connlimit_slot *kumo_connlimit_admit(struct kumo_connlimit *l, const char *peer,
                                                 int fd);

/* kumo_connlimit_admit with the peer's socket address (IPv4-mapped IPv6
 * counts as the IPv4 address; NULL or another family: no address). */
struct sockaddr;
struct kumo_connlimit_slot *kumo_connlimit_admit_addr(struct kumo_connlimit *l,
                                                      const struct sockaddr *sa, int fd);

/* Marks a connection busy (0) or idle (1): only idle ones are evicted,
 * the longest idle first. NULL slot: no-op. */
void kumo_connlimit_set_idle(struct kumo_connlimit *l, struct kumo_connlimit_slot *s, int idle);

/* Shuts down every connection idle for at least min_idle_ns (a drain
 * closes idle keep-alive connections this way; a short minimum spares one
 * whose client is sending its next request right now). Returns how many. */
int kumo_connlimit_close_idle(struct kumo_connlimit *l, int64_t min_idle_ns);

/* Forgets a connection that closed (NULL: no-op). */
void kumo_connlimit_release(struct kumo_connlimit *l, struct kumo_connlimit_slot *s);

/* Connections counted: in total (peer NULL) or from `peer`. */
int kumo_connlimit_count(struct kumo_connlimit *l, const char *peer);

/* Connections evicted to make room, and refused, since creation. */
long kumo_connlimit_evicted(struct kumo_connlimit *l);
long kumo_connlimit_refused(struct kumo_connlimit *l);

/* Times the free memory of the process's malloc arenas was given back to
 * the kernel (malloc_trim) because the connections alive fell to a quarter
 * of a high-water mark of 64 or more (a flood passed). */
long kumo_connlimit_trims(struct kumo_connlimit *l);

#endif
