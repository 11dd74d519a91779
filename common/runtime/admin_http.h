/* The admin port every daemon serves (HTTP/1.1, libevent's evhttp), for
 * kubelet probes and Prometheus:
 *   GET /healthz  200 {"status":"ok"}                       (liveness)
 *   GET /readyz   200 {"status":"ok","checks":{"db":{"ok":true}}}, or 503
 *                 {"status":"unavailable","checks":{"db":{"ok":false,
 *                 "error":"..."}}} if a check fails, or 503
 *                 {"status":"draining"} once draining    (readiness)
 *   GET /metrics  kumo_metrics_render(), text/plain; version=0.0.4; first the
 *                 readiness checks run and are recorded as the gauges
 *                 kumo_readiness_check{check} and kumo_ready (1 ok, 0 not),
 *                 which the not-ready and MySQL alerts read
 *   GET <path>    routes a daemon adds (kumo_admin_add_route)
 * HEAD works wherever GET does (headers and Content-Length of the GET, no
 * body); any other standard method on those paths is 405 with "Allow: GET,
 * HEAD"; any other path is 404. The query string is ignored. evhttp itself
 * answers 400 to malformed requests and to headers over the limit, 413 to a
 * body over the limit, and 501 to method tokens it does not know ("BREW").
 * Limits: request headers 8 KiB, body 1 KiB, 10 s read/write/idle timeout.
 *
 * Everything runs on the caller's event loop thread. */
#ifndef KUMO_ADMIN_HTTP_H
#define KUMO_ADMIN_HTTP_H

#include <stddef.h>

#include "base/buf.h"

struct event_base;

/* A readiness check. Runs on the admin loop thread for every /readyz, so it
 * must answer at once: report state that other threads keep up to date (the
 * last DB ping's outcome, say), never do blocking I/O. Returns 0 if ready;
 * otherwise fills `err` (`errlen` bytes, NUL-terminated; no secrets, it is
 * served to anyone reaching the port) and returns nonzero. */
typedef int (*kumo_admin_check_fn)(void *ud, char *err, size_t errlen);

struct kumo_admin;

/* Listens on bind_addr:port and serves on `base`, which the caller runs.
 * bind_addr must be a numeric IPv4 or IPv6 address ("0.0.0.0", "::",
 * "127.0.0.1") or "localhost" (= 127.0.0.1); NULL = "0.0.0.0". No DNS
 * lookup: a name could block startup and resolve to several addresses. Port 0 picks an
 * ephemeral port (see kumo_admin_port). Returns 0 and sets *out, or a
 * negative error leaving *out untouched: KUMO_ERR_INVALID (NULL base, port
 * outside 0..65535, non-numeric address) or -errno of the bind/listen
 * (-EADDRINUSE...), which is also logged. */
int kumo_admin_new(struct kumo_admin **out, struct event_base *base, const char *bind_addr,
                   int port);

/* Returns the bound TCP port. */
int kumo_admin_port(const struct kumo_admin *a);

/* Adds a readiness check reported under `name` (copied; keep it a short
 * identifier). `ud` is passed to `fn` and stays the caller's. Call on the
 * loop thread or before the loop runs. */
void kumo_admin_add_check(struct kumo_admin *a, const char *name, kumo_admin_check_fn fn, void *ud);

/* Serves an extra GET/HEAD path (e.g. "/.well-known/jwks.json") whose
 * answer a daemon supplies. Runs on the admin loop thread for every request,
 * so like a check it must answer at once from state it already holds. It
 * appends the body to `body`, may set *content_type (a static string;
 * "application/json" if left alone) and returns the HTTP status (200; any
 * value outside 200..599 becomes 500). */
typedef int (*kumo_admin_route_fn)(void *ud, struct kumo_buf *body, const char **content_type);

/* Adds the route for the exact path `path` (copied; must start with '/'
 * and not be one of the built-in paths). Other methods on it get 405 like
 * the built-in paths. `ud` stays the caller's. Call on the loop thread or
 * before the loop runs. Returns 0, or KUMO_ERR_INVALID for a bad or
 * duplicate path. */
int kumo_admin_add_route(struct kumo_admin *a, const char *path, kumo_admin_route_fn fn, void *ud);

/* As kumo_admin_route_fn, also given the request's raw query string (after
 * '?', still percent-encoded; "" when absent). */
typedef int (*kumo_admin_query_route_fn)(void *ud, const char *query, struct kumo_buf *body,
                                         const char **content_type);

/* As kumo_admin_add_route, for a handler that reads the query string. */
int kumo_admin_add_query_route(struct kumo_admin *a, const char *path, kumo_admin_query_route_fn fn,
                               void *ud);

/* Marks the process as draining: /readyz answers 503 {"status":"draining"}
 * from then on, so load balancers stop sending traffic while in-flight work
 * finishes. Safe from any thread (not from a signal handler: set a flag
 * there and call this from the loop). Cannot be undone. */
void kumo_admin_set_draining(struct kumo_admin *a);

/* Stops listening, closes admin connections and frees `a`. Call on the loop
 * thread, outside the admin's own callbacks. NULL is ignored. */
void kumo_admin_free(struct kumo_admin *a);

#endif
