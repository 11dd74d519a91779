/* Readiness probes run in the background: /readyz must answer at once
 * (runtime/admin_http.h), so one thread runs each daemon's dependency
 * probes (a database ping, a peer's health service) every interval and the
 * admin checks report their last outcomes. Every daemon with dependencies
 * had its own copy of this thread. */
#ifndef KUMO_RUNTIME_PROBES_H
#define KUMO_RUNTIME_PROBES_H

#include <stdint.h>

#include "runtime/admin_http.h"

/* A probe: may block (bounded by its own deadline); returns 1 when the
 * dependency is healthy, else 0. Runs on the probes' thread only. */
typedef int (*kumo_probe_fn)(void *ud);

struct kumo_probes;

/* Makes an empty, stopped set of probes run every interval_ms. Returns 0
 * and sets *out (free with kumo_probes_free), or -1 leaving it untouched. */
int kumo_probes_new(struct kumo_probes **out, int64_t interval_ms);

/* Adds probe `fn` (`ud` stays the caller's and must outlive the set) and
 * its readiness check `name` on `admin` (NULL: none), failing with
 * `failure` (a static string served to anyone reaching the admin port: no
 * secrets) until the probe last succeeded. At most 8 probes; before
 * kumo_probes_start only. Returns 0 or -1 when full or started. */
int kumo_probes_add(struct kumo_probes *p, struct kumo_admin *admin, const char *name,
                    kumo_probe_fn fn, void *ud, const char *failure);

/* The last outcome of the i-th probe added: 1 healthy, 0 unhealthy or not
 * run yet (or no such probe). Any thread. */
int kumo_probes_last(struct kumo_probes *p, int i);

/* Starts the thread, which runs every probe at once and then every
 * interval. Returns 0 or -1 (no thread then). */
int kumo_probes_start(struct kumo_probes *p);

/* Stops and joins the thread (waking it from its wait; a probe running is
 * finished first) and frees the set. NULL is a no-op. The admin checks must
 * no longer be served (stop the admin port first). */
void kumo_probes_free(struct kumo_probes *p);

#endif
