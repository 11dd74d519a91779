/* kumo's RPC server: one port serving Connect unary, gRPC and gRPC-Web over
 * HTTP/2, cleartext (prior knowledge) and TLS (ALPN h2) on the same port.
 *
 * Threads: `io_threads` event loops (libevent), each with its own
 * SO_REUSEPORT listener and its own connections, so a connection never
 * changes thread; and `worker_threads` that run KUMO_RPC_BLOCKING handlers.
 * Handlers without that flag run on the I/O thread of their connection. */
#ifndef KUMO_RPC_SERVER_H
#define KUMO_RPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"

struct kumo_rpc_server_config {
    const char *bind_addr;   /* "127.0.0.1", "0.0.0.0", "::" */
    int port;                /* 0 = ephemeral (see kumo_rpc_server_port) */
    int io_threads;          /* 0 = 1 */
    int worker_threads;      /* 0 = 4 */
    size_t max_message_size; /* after decompression; 0 = 4 MiB */
    /* HTTP/2 hardening; 0 = the default in brackets. */
    uint32_t max_concurrent_streams; /* [100] per connection */
    uint32_t max_header_list_size;   /* [16 KiB] decoded header bytes per request */
    int idle_timeout_ms;             /* [120000] connection without streams */
    int recv_timeout_ms;             /* [20000] silence while a request is arriving */
    int handshake_timeout_ms;        /* [10000] TLS handshake + HTTP/2 preface */
    int drain_timeout_ms;            /* [15000] graceful shutdown bound */
    /* Resource bounds a client cannot grow past; 0 = the default. */
    int max_connections;             /* [1024] open connections on the port (all I/O threads);
                                        more are closed at once. Lowered to fit RLIMIT_NOFILE. */
    int max_connections_per_address; /* [256] of them from one client address
                                        (at most max_connections) */
    size_t max_connection_buffer;    /* [16 MiB] request body bytes held per connection
                                        over all its streams; a stream that would pass it
                                        is answered resource_exhausted. At least
                                        max_message_size plus an envelope. */
    /* TLS: when both are set the port also accepts TLS (first byte 0x16). */
    const char *tls_cert_file;
    const char *tls_key_file;
};

struct kumo_rpc_server;

/* Creates a server with `cfg` (copied). Nothing is bound yet. Returns 0 and
 * sets *out, or a negative error (bad TLS files: KUMO_ERR_INVALID). */
int kumo_rpc_server_new(struct kumo_rpc_server **out, const struct kumo_rpc_server_config *cfg);

/* Registers a service (before start). Returns 0, or KUMO_ERR_INVALID when a
 * table entry names no method of the descriptor or the service is already
 * registered. */
int kumo_rpc_server_add_service(struct kumo_rpc_server *srv, const struct kumo_rpc_service *svc);

/* Installs the authenticator run for every non-public method (before
 * start), from the request headers alone, on the I/O thread, before any of
 * the body is read or decoded: a refused call is answered unauthenticated
 * whatever its body, the rest of its body is dropped unbuffered, and its
 * stream is reset if the client keeps sending. Without one, every call
 * reaches its handler unauthenticated. */
void kumo_rpc_server_set_auth(struct kumo_rpc_server *srv, kumo_rpc_auth_fn fn, void *ud);

/* Number of registered services and the full name of the i-th, for
 * reflection's list_services. */
size_t kumo_rpc_server_service_count(const struct kumo_rpc_server *srv);
const char *kumo_rpc_server_service_name(const struct kumo_rpc_server *srv, size_t i);

/* Binds the listeners and starts the I/O and worker threads. Returns 0 or
 * -errno (e.g. -EADDRINUSE). */
int kumo_rpc_server_start(struct kumo_rpc_server *srv);

/* The bound port (after start). */
int kumo_rpc_server_port(const struct kumo_rpc_server *srv);

/* Begins a graceful shutdown: stop accepting, send GOAWAY, let in-flight
 * calls finish within the drain timeout, then close everything. Returns at
 * once; safe from any thread (not from a signal handler). Calling it again
 * cuts the drain short. */
void kumo_rpc_server_shutdown(struct kumo_rpc_server *srv);

/* Wakes every I/O thread to run the tick of each held server stream
 * (KUMO_RPC_SERVER_STREAM), e.g. after a health status changed. Thread-safe
 * (any thread, not a signal handler); cheap when nothing is held. */
void kumo_rpc_server_tick(struct kumo_rpc_server *srv);

/* Blocks until the server has stopped after a shutdown; joins its threads. */
void kumo_rpc_server_wait(struct kumo_rpc_server *srv);

/* Nonzero once every I/O thread has stopped (after a shutdown). */
int kumo_rpc_server_stopped(const struct kumo_rpc_server *srv);

/* Frees a stopped (or never started) server. NULL is ignored. */
void kumo_rpc_server_free(struct kumo_rpc_server *srv);

#endif
