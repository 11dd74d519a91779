/* The common main() of every kumo daemon: configuration from KUMO_*
 * variables (--help, --version), the RPC server with health and reflection,
 * the admin port, signals and graceful shutdown. A daemon supplies its
 * variables, descriptor set and a setup function registering its services. */
#ifndef KUMO_DAEMON_H
#define KUMO_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/config.h"
#include "rpc/reflection.h"
#include "rpc/server.h"

struct kumo_daemon;

/* A subcommand besides "serve" (e.g. "migrate", "bootstrap"): runs with the
 * loaded configuration instead of serving, and its return value is the
 * process exit status. argv[0] is the subcommand's name. */
struct kumo_daemon_command {
    const char *name;
    const char *help; /* one line for --help */
    int (*run)(const struct kumo_config *config, int argc, char **argv, void *ud);
};

/* What a daemon says about itself: only what is particular to it. The rest
 * is the same for every daemon: the program is named kumo-<svc>, --version
 * prints the build's version (the VERSION file), the admin port's default
 * is the RPC port's + 2000, and health and reflection are served beside the
 * daemon's services. A spec holds only constants, so it can be static. */
struct kumo_daemon_spec {
    const char *svc;     /* "users": the program is kumo-users; the "svc" of every log line */
    const char *summary; /* one line for --help */
    int default_port;    /* KUMO_RPC_PORT's default; KUMO_ADMIN_PORT's is this + 2000 */
    /* Optional: the daemon's own variables (listed after the common ones). */
    const struct kumo_config_var *(*config_vars)(size_t *n);
    /* Optional: the descriptor set of the services it serves, for
     * reflection (the build embeds proto/kumo/<svc>/v1 as
     * kumo_<svc>_descriptor_set_blob). */
    const struct kumo_blob *descriptor_set;
    /* Registers services with kumo_daemon_server(d). Returns 0, or nonzero
     * to abort start-up (after logging why). */
    int (*setup)(struct kumo_daemon *d, void *ud);
    /* Subcommands besides "serve": KUMO_DAEMON_COMMANDS(array). */
    const struct kumo_daemon_command *commands;
    size_t n_commands;
    /* Optional: runs after the server stopped, before exit. */
    void (*teardown)(struct kumo_daemon *d, void *ud);
    void *ud;
    /* Optional: a listener the daemon runs itself (the BFF's HTTP port).
     * After setup, the "serving" log line gets the field `extra_port_name`
     * (e.g. "http_port") with the value extra_port returns, so scripts find
     * an ephemeral port the same way as rpc_port and admin_port. */
    const char *extra_port_name;
    int (*extra_port)(struct kumo_daemon *d, void *ud);
    /* Optional: runs on the main loop at the first SIGTERM/SIGINT, before
     * the RPC server drains, so the daemon stops accepting on its own
     * listeners too. */
    void (*drain)(struct kumo_daemon *d, void *ud);
    /* Optional: 1 when the daemon's own listeners have nothing left to
     * answer (polled on the main loop during the drain). The process stops
     * once the RPC server has stopped and this returns 1, or 300 ms before
     * the drain deadline (KUMO_DRAIN_TIMEOUT after the signal), leaving
     * teardown that long to close what is left; until then the admin port
     * keeps answering (/readyz 503). */
    int (*drained)(struct kumo_daemon *d, void *ud);
};

/* Sets .commands and .n_commands of a spec to a static array of commands. */
#define KUMO_DAEMON_COMMANDS(array)                                                                \
    .commands = (array), .n_commands = sizeof(array) / sizeof((array)[0])

/* Runs the daemon: parses argv (--help, --version, "serve" or one of the
 * spec's subcommands),
 * loads config, starts everything, serves until SIGTERM/SIGINT (a second
 * one exits at once). Returns the process exit status. */
int kumo_daemon_main(int argc, char **argv, const struct kumo_daemon_spec *spec);

/* The RPC server, to register services on (during setup). */
struct kumo_rpc_server *kumo_daemon_server(struct kumo_daemon *d);

/* The loaded configuration (common and daemon variables). */
const struct kumo_config *kumo_daemon_config(const struct kumo_daemon *d);

/* The admin port, to add readiness checks (during setup). */
struct kumo_admin *kumo_daemon_admin(struct kumo_daemon *d);

/* When the drain must end (kumo_now_ns clock): KUMO_DRAIN_TIMEOUT after
 * the first SIGTERM/SIGINT; 0 before it. Teardown bounds its own waits by
 * it, so the process exits within the drain timeout. Main loop only. */
int64_t kumo_daemon_drain_deadline(const struct kumo_daemon *d);

#endif
