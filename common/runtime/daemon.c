/* kumo_daemon_main: the start-up and shutdown sequence shared by every
 * daemon. Signals only set a flag through libevent's self-pipe; shutdown
 * work happens on the main loop. */
#include "runtime/daemon.h"

#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/admin_http.h"
#include "base/alloc.h"
#include "rpc/health.h"
#include "rpc/rpc.h"
#include "runtime/log.h"

/* The version of every daemon: the VERSION file, given by the Makefile. */
#ifndef KUMO_VERSION
#error "KUMO_VERSION (the VERSION file) is set by the Makefile"
#endif

/* The admin port's default is the RPC port's + this (7101: 9101). */
#define ADMIN_PORT_OFFSET 2000

extern const struct kumo_blob kumo_builtin_descriptor_set_blob;

struct kumo_daemon {
    const struct kumo_daemon_spec *spec;
    struct kumo_config *config;
    struct kumo_rpc_server *server;
    struct kumo_admin *admin;
    struct kumo_health *health;
    struct kumo_reflection *reflection;
    struct event_base *base;
    struct event *sig_term, *sig_int, *poll_ev;
    int signals_seen;
    int64_t drain_deadline; /* kumo_now_ns; 0 until the first signal */
};

#define N_COMMON_VARS 16

static void common_vars(const struct kumo_daemon_spec *spec, struct kumo_config_var *v,
                        char *rpc_port, char *admin_port, size_t portlen)
{
    snprintf(rpc_port, portlen, "%d", spec->default_port);
    snprintf(admin_port, portlen, "%d", spec->default_port + ADMIN_PORT_OFFSET);
    struct kumo_config_var vars[N_COMMON_VARS] = {
        {"KUMO_RPC_ADDR", KUMO_CONFIG_STRING, "127.0.0.1", "address the RPC and admin ports bind"},
        {"KUMO_RPC_PORT", KUMO_CONFIG_INT, rpc_port, "RPC port (Connect, gRPC, gRPC-Web); 0 = any",
         0, 0, 65535},
        {"KUMO_ADMIN_PORT", KUMO_CONFIG_INT, admin_port,
         "admin HTTP/1.1 port (/healthz, /readyz, /metrics); 0 = any", 0, 0, 65535},
        {"KUMO_TLS_CERT_FILE", KUMO_CONFIG_STRING, NULL,
         "PEM certificate chain; with KUMO_TLS_KEY_FILE the RPC port also accepts TLS (ALPN h2)"},
        {"KUMO_TLS_KEY_FILE", KUMO_CONFIG_STRING, NULL, "PEM private key for KUMO_TLS_CERT_FILE"},
        {"KUMO_MAX_MESSAGE_SIZE", KUMO_CONFIG_SIZE, "4MiB",
         "largest request or response message, after decompression", 0, 1024, 1LL << 30},
        {"KUMO_IO_THREADS", KUMO_CONFIG_INT, "1", "event-loop threads", 0, 1, 64},
        {"KUMO_WORKER_THREADS", KUMO_CONFIG_INT, "4", "threads for blocking handlers", 0, 1, 256},
        {"KUMO_MAX_CONCURRENT_STREAMS", KUMO_CONFIG_INT, "100",
         "HTTP/2 concurrent streams per connection", 0, 1, 10000},
        {"KUMO_MAX_CONNECTIONS", KUMO_CONFIG_INT, "1024",
         "open connections on the RPC port; a new one past it closes the longest-idle one, or "
         "is closed at once when none is idle (lowered to fit RLIMIT_NOFILE)",
         0, 1, 1000000},
        {"KUMO_MAX_CONNECTIONS_PER_ADDRESS", KUMO_CONFIG_INT, "256",
         "open connections on the RPC port from one client address (at most "
         "KUMO_MAX_CONNECTIONS); a new one past it closes that address's longest-idle one, or is "
         "closed at once when none is idle",
         0, 1, 1000000},
        {"KUMO_MAX_CONNECTION_BUFFER", KUMO_CONFIG_SIZE, "16MiB",
         "request bytes held per RPC connection over all its streams (at least "
         "KUMO_MAX_MESSAGE_SIZE); a request past it gets resource_exhausted",
         0, 1024, 1LL << 32},
        {"KUMO_IDLE_TIMEOUT", KUMO_CONFIG_DURATION_MS, "120s", "close connections idle this long",
         0, 100, 86400000},
        {"KUMO_RECV_TIMEOUT", KUMO_CONFIG_DURATION_MS, "20s",
         "close connections silent this long while a request arrives", 0, 100, 3600000},
        {"KUMO_DRAIN_TIMEOUT", KUMO_CONFIG_DURATION_MS, "15s",
         "on SIGTERM, wait this long for in-flight calls", 0, 0, 3600000},
        {"KUMO_LOG_LEVEL", KUMO_CONFIG_STRING, "info", "debug, info, warn or error"},
    };
    memcpy(v, vars, sizeof(vars));
}

struct kumo_rpc_server *kumo_daemon_server(struct kumo_daemon *d)
{
    return d->server;
}

const struct kumo_config *kumo_daemon_config(const struct kumo_daemon *d)
{
    return d->config;
}

struct kumo_admin *kumo_daemon_admin(struct kumo_daemon *d)
{
    return d->admin;
}

/* The end of a drain left to the daemon's teardown (daemon.h). */
#define TEARDOWN_RESERVE_NS (300LL * 1000000)

int64_t kumo_daemon_drain_deadline(const struct kumo_daemon *d)
{
    return d->drain_deadline;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct kumo_daemon *d = arg;
    if (++d->signals_seen > 1) {
        kumo_log(KUMO_LOG_WARN, NULL, "second signal: exiting now", NULL);
        _exit(1);
    }
    kumo_logf(KUMO_LOG_INFO, NULL, "signal %d: draining", (int)sig);
    d->drain_deadline =
        kumo_now_ns() + kumo_config_int(d->config, "KUMO_DRAIN_TIMEOUT") * 1000000LL;
    kumo_admin_set_draining(d->admin);
    if (d->spec->drain)
        d->spec->drain(d, d->spec->ud);
    kumo_health_set(d->health, "", 0);
    kumo_rpc_server_shutdown(d->server);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct kumo_daemon *d = arg;
    if (!kumo_rpc_server_stopped(d->server))
        return;
    /* The daemon's own listeners drain on this loop too, so the admin port
     * answers /readyz 503 until the very end. */
    if (d->spec->drained && d->drain_deadline &&
        kumo_now_ns() < d->drain_deadline - TEARDOWN_RESERVE_NS &&
        !d->spec->drained(d, d->spec->ud))
        return;
    event_base_loopexit(d->base, NULL);
}

/* Health changes (readiness, drain) reach held Watch streams at once. */
static void health_changed(void *ud)
{
    kumo_rpc_server_tick(ud);
}

static int register_builtin(struct kumo_daemon *d)
{
    if (kumo_health_new(&d->health) != 0)
        return -1;
    kumo_health_set(d->health, "", 1);
    kumo_health_on_change(d->health, health_changed, d->server);
    int rc = kumo_rpc_server_add_service(d->server, kumo_health_service(d->health));
    /* Reflection lists every service: register it last, naming them all. */
    size_t n = kumo_rpc_server_service_count(d->server);
    const char **names = kumo_calloc(n + 2, sizeof(*names));
    for (size_t i = 0; i < n; i++) {
        names[i] = kumo_rpc_server_service_name(d->server, i);
        kumo_health_set(d->health, names[i], 1);
    }
    names[n] = "grpc.reflection.v1.ServerReflection";
    names[n + 1] = "grpc.reflection.v1alpha.ServerReflection";
    struct kumo_blob sets[2] = {kumo_builtin_descriptor_set_blob};
    if (d->spec->descriptor_set)
        sets[1] = *d->spec->descriptor_set;
    size_t n_sets = d->spec->descriptor_set ? 2 : 1;
    rc = rc ? rc : kumo_reflection_new(&d->reflection, sets, n_sets, names, n + 2);
    kumo_free(names);
    if (rc != 0)
        return rc;
    rc = kumo_rpc_server_add_service(d->server, kumo_reflection_service_v1(d->reflection));
    if (rc == 0)
        rc = kumo_rpc_server_add_service(d->server, kumo_reflection_service_v1alpha(d->reflection));
    return rc;
}

static int serve(struct kumo_daemon *d)
{
    const struct kumo_config *c = d->config;
    struct kumo_rpc_server_config sc = {
        .bind_addr = kumo_config_string(c, "KUMO_RPC_ADDR"),
        .port = (int)kumo_config_int(c, "KUMO_RPC_PORT"),
        .io_threads = (int)kumo_config_int(c, "KUMO_IO_THREADS"),
        .worker_threads = (int)kumo_config_int(c, "KUMO_WORKER_THREADS"),
        .max_message_size = (size_t)kumo_config_int(c, "KUMO_MAX_MESSAGE_SIZE"),
        .max_concurrent_streams = (uint32_t)kumo_config_int(c, "KUMO_MAX_CONCURRENT_STREAMS"),
        .max_connections = (int)kumo_config_int(c, "KUMO_MAX_CONNECTIONS"),
        .max_connections_per_address = (int)kumo_config_int(c, "KUMO_MAX_CONNECTIONS_PER_ADDRESS"),
        .max_connection_buffer = (size_t)kumo_config_int(c, "KUMO_MAX_CONNECTION_BUFFER"),
        .idle_timeout_ms = (int)kumo_config_int(c, "KUMO_IDLE_TIMEOUT"),
        .recv_timeout_ms = (int)kumo_config_int(c, "KUMO_RECV_TIMEOUT"),
        .drain_timeout_ms = (int)kumo_config_int(c, "KUMO_DRAIN_TIMEOUT"),
        .tls_cert_file = kumo_config_string(c, "KUMO_TLS_CERT_FILE"),
        .tls_key_file = kumo_config_string(c, "KUMO_TLS_KEY_FILE"),
    };
    if (kumo_rpc_server_new(&d->server, &sc) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot create the RPC server", NULL);
        return 1;
    }
    d->base = event_base_new();
    int rc = kumo_admin_new(&d->admin, d->base, sc.bind_addr,
                            (int)kumo_config_int(c, "KUMO_ADMIN_PORT"));
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot bind the admin port", "error", kumo_strerror(rc),
                 NULL);
        return 1;
    }
    if (d->spec->setup && d->spec->setup(d, d->spec->ud) != 0)
        return 1;
    if (register_builtin(d) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot register health and reflection", NULL);
        return 1;
    }
    rc = kumo_rpc_server_start(d->server);
    if (rc != 0) {
        char port[16];
        snprintf(port, sizeof(port), "%d", sc.port);
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the RPC server", "port", port, "error",
                 kumo_strerror(rc), NULL);
        return 1;
    }
    d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
    d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
    evsignal_add(d->sig_term, NULL);
    evsignal_add(d->sig_int, NULL);
    d->poll_ev = event_new(d->base, -1, EV_PERSIST, on_poll, d);
    struct timeval tv = {0, 20000};
    event_add(d->poll_ev, &tv);
    signal(SIGPIPE, SIG_IGN);

    char rpc_port[16], admin_port[16], extra_port[16];
    snprintf(rpc_port, sizeof(rpc_port), "%d", kumo_rpc_server_port(d->server));
    snprintf(admin_port, sizeof(admin_port), "%d", kumo_admin_port(d->admin));
    const char *tls = sc.tls_cert_file && sc.tls_key_file ? "on" : "off";
    if (d->spec->extra_port && d->spec->extra_port_name) {
        snprintf(extra_port, sizeof(extra_port), "%d", d->spec->extra_port(d, d->spec->ud));
        kumo_log(KUMO_LOG_INFO, NULL, "serving", "rpc_port", rpc_port, "admin_port", admin_port,
                 d->spec->extra_port_name, extra_port, "tls", tls, NULL);
    } else {
        kumo_log(KUMO_LOG_INFO, NULL, "serving", "rpc_port", rpc_port, "admin_port", admin_port,
                 "tls", tls, NULL);
    }
    event_base_dispatch(d->base);
    kumo_rpc_server_wait(d->server);
    kumo_log(KUMO_LOG_INFO, NULL, "stopped", NULL);
    return 0;
}

static void cleanup(struct kumo_daemon *d)
{
    if (d->spec->teardown)
        d->spec->teardown(d, d->spec->ud);
    if (d->sig_term)
        event_free(d->sig_term);
    if (d->sig_int)
        event_free(d->sig_int);
    if (d->poll_ev)
        event_free(d->poll_ev);
    kumo_admin_free(d->admin);
    kumo_rpc_server_free(d->server);
    if (d->health)
        kumo_health_free(d->health);
    if (d->reflection)
        kumo_reflection_free(d->reflection);
    if (d->base)
        event_base_free(d->base);
    kumo_config_free(d->config);
}

/* The command line, the same for every daemon: one usage line listing the
 * subcommands, then what each does. */
static void print_usage(FILE *f, const char *program, const struct kumo_daemon_spec *spec)
{
    fprintf(f, "Usage: %s [serve", program);
    for (size_t i = 0; i < spec->n_commands; i++)
        fprintf(f, "|%s", spec->commands[i].name);
    fprintf(f, "|help|version]\n\nCommands:\n  %-10s run the daemon (the default)\n", "serve");
    for (size_t i = 0; i < spec->n_commands; i++)
        fprintf(f, "  %-10s %s\n", spec->commands[i].name, spec->commands[i].help);
    fprintf(f, "  %-10s print this help and exit (also -h, --help)\n", "help");
    fprintf(f, "  %-10s print the version and exit (also -V, --version)\n", "version");
}

int kumo_daemon_main(int argc, char **argv, const struct kumo_daemon_spec *spec)
{
    size_t n_own = 0;
    const struct kumo_config_var *own = spec->config_vars ? spec->config_vars(&n_own) : NULL;
    size_t n = N_COMMON_VARS + n_own;
    struct kumo_config_var *vars = kumo_calloc(n, sizeof(*vars));
    char rpc_port[16], admin_port[16];
    common_vars(spec, vars, rpc_port, admin_port, sizeof(rpc_port));
    if (n_own)
        memcpy(vars + N_COMMON_VARS, own, n_own * sizeof(*vars));
    char program[64];
    snprintf(program, sizeof program, "kumo-%s", spec->svc);

    const char *cmd = argc > 1 ? argv[1] : "serve";
    const struct kumo_daemon_command *command = NULL;
    for (size_t i = 0; i < spec->n_commands; i++)
        if (strcmp(cmd, spec->commands[i].name) == 0)
            command = &spec->commands[i];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout, program, spec);
        kumo_config_print_help(stdout, program, spec->summary, vars, n);
        kumo_free(vars);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("%s %s\n", program, KUMO_VERSION);
        kumo_free(vars);
        return 0;
    }
    if (strcmp(cmd, "serve") != 0 && command == NULL) {
        fprintf(stderr, "%s: unknown command \"%s\"\n", program, cmd);
        print_usage(stderr, program, spec);
        kumo_free(vars);
        return 2;
    }
    kumo_log_init(spec->svc, KUMO_LOG_INFO);
    /* A fixed threshold keeps big buffers (messages up to the size limit)
     * in their own mappings, returned to the system when freed; glibc's
     * adaptive threshold would otherwise keep them in the heap for good. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    struct kumo_daemon d = {.spec = spec};
    char *err = NULL;
    if (kumo_config_load(vars, n, &d.config, &err) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error", err ? err : "", NULL);
        kumo_free(err);
        kumo_free(vars);
        return 2;
    }
    kumo_free(vars);
    enum kumo_log_level lvl;
    if (kumo_log_level_parse(kumo_config_string(d.config, "KUMO_LOG_LEVEL"), &lvl) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error",
                 "KUMO_LOG_LEVEL must be debug, info, warn or error", NULL);
        kumo_config_free(d.config);
        return 2;
    }
    kumo_log_init(spec->svc, lvl);
    if (command) {
        int rc = command->run(d.config, argc - 1, argv + 1, spec->ud);
        kumo_config_free(d.config);
        return rc;
    }
    int status = serve(&d);
    cleanup(&d);
    return status;
}
