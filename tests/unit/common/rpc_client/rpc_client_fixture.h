/* Fixture shared by test_rpc_client_calls.c and test_rpc_client_async.c:
 * peers nobody in kumo wrote (a grpcio server and a raw python3-h2 server,
 * grpc_peer.py in this folder) forked per test group, a throwaway CA and
 * server certificate, and small call helpers.
 * Static (inline) definitions: each binary includes it once, after cmocka.h. */
#ifndef KUMO_RPC_CLIENT_FIXTURE_H
#define KUMO_RPC_CLIENT_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kumo/test/v1/echo.pb-c.h"
#include "rpc/rpc.h"
#include "rpc_client/client.h"

#define ECHO_PATH  "/kumo.test.v1.EchoService/Echo"
#define FAIL_PATH  "/kumo.test.v1.EchoService/Fail"
#define SLEEP_PATH "/kumo.test.v1.EchoService/Sleep"
#define BYTES_PATH "/kumo.test.v1.EchoService/Bytes"
#define MS         1000000LL

/* ---- peers ---- */

struct peer {
    pid_t pid;
    int in_fd; /* the peer's stdin: closing it stops the peer */
    int port;
};

static char peer_script[4096];
static char cert_dir[64];
static struct peer grpc_peer; /* shared by most tests */
static char grpc_target[64];

static inline void find_peer_script(void)
{
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    int dir_len = slash ? (int)(slash - src) : 1;
    snprintf(peer_script, sizeof peer_script, "%.*s/grpc_peer.py", dir_len, slash ? src : ".");
}

/* Starts grpc_peer.py with `args` (NULL-terminated) and reads its port. */
static inline int peer_start(struct peer *p, int port, const char *const *args)
{
    int in[2], out[2];
    char port_arg[16];
    const char *argv[16] = {"/usr/bin/python3", peer_script, "--port", port_arg};
    int n = 4;

    snprintf(port_arg, sizeof port_arg, "%d", port);
    for (; args && *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    p->pid = fork();
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in_fd = in[1];

    char line[32] = {0};
    size_t len = 0;
    struct pollfd pfd = {out[0], POLLIN, 0};
    while (len < sizeof line - 1 && memchr(line, '\n', len) == NULL) {
        if (poll(&pfd, 1, 20000) <= 0)
            break;
        ssize_t r = read(out[0], line + len, sizeof line - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(out[0]);
    p->port = (int)strtol(line, NULL, 10);
    return p->port > 0 ? 0 : -1;
}

static inline void peer_stop(struct peer *p)
{
    if (p->pid <= 0)
        return;
    close(p->in_fd);
    for (int i = 0; i < 500; i++) {
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

static inline void peer_kill(struct peer *p)
{
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    close(p->in_fd);
    p->pid = 0;
}

static inline int run(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof full, "cd %s && %s >/dev/null 2>&1", cert_dir, cmd);
    return system(full);
}

/* A throwaway CA, a server certificate for 127.0.0.1 / localhost signed by
 * it, and an unrelated CA. */
static inline int make_certs(void)
{
    static const char *const cmds[] = {
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=kumo-test-ca",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout other.key -out other.pem -days 2 -subj /CN=kumo-other-ca",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout server.key -out server.csr -subj /CN=kumo-test-server",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile ext.cnf",
    };
    char ext[128];
    snprintf(ext, sizeof ext, "%s/ext.cnf", cert_dir);
    FILE *f = fopen(ext, "w");
    if (f == NULL)
        return -1;
    fputs("subjectAltName=IP:127.0.0.1,DNS:localhost\n", f);
    fclose(f);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (run(cmds[i]) != 0)
            return -1;
    return 0;
}

static inline int group_setup(void **state)
{
    (void)state;
    find_peer_script();
    snprintf(cert_dir, sizeof cert_dir, "/tmp/kumo-rpc-client-XXXXXX");
    if (mkdtemp(cert_dir) == NULL || make_certs() != 0)
        return -1;
    if (peer_start(&grpc_peer, 0, NULL) != 0)
        return -1;
    snprintf(grpc_target, sizeof grpc_target, "127.0.0.1:%d", grpc_peer.port);
    return 0;
}

static inline int group_teardown(void **state)
{
    (void)state;
    peer_stop(&grpc_peer);
    run("rm -f ca.key ca.pem ca.srl other.key other.pem server.key server.csr server.pem "
        "ext.cnf");
    rmdir(cert_dir);
    return 0;
}

/* ---- helpers ---- */

static inline struct kumo_rpc_client *client_for(const char *target, size_t max)
{
    struct kumo_rpc_client_config cfg = {.target = target, .max_message_size = max};
    struct kumo_rpc_client *c = NULL;
    assert_int_equal(kumo_rpc_client_new(&c, &cfg), 0);
    return c;
}

static inline struct kumo_rpc_client *client_raw(const struct peer *p)
{
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", p->port);
    return client_for(target, 0);
}

static inline kumo_code echo(struct kumo_rpc_client *c, const char *path, const char *text,
                             const uint8_t *payload, size_t payload_len,
                             const struct kumo_rpc_call_options *o,
                             Kumo__Test__V1__EchoResponse **resp, struct kumo_rpc_status *st)
{
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    req.message = (char *)text;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = payload_len;
    return kumo_rpc_client_call(c, path, &req.base, &kumo__test__v1__echo_response__descriptor,
                                NULL, o, (ProtobufCMessage **)resp, st);
}

/* Calls `path` with an empty EchoRequest and returns the code only. */
static inline kumo_code code_of(struct kumo_rpc_client *c, const char *path,
                                const struct kumo_rpc_call_options *o, struct kumo_rpc_status *st)
{
    Kumo__Test__V1__EchoResponse *resp = NULL;
    kumo_code code = echo(c, path, "", NULL, 0, o, &resp, st);
    if (resp)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    return code;
}

static inline const char *header_of(const Kumo__Test__V1__EchoResponse *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i]->key, name) == 0)
            return r->headers[i]->value;
    return NULL;
}

static inline kumo_code fetch_bytes(struct kumo_rpc_client *c, int64_t size,
                                    const struct kumo_rpc_call_options *o,
                                    Kumo__Test__V1__BytesResponse **out, struct kumo_rpc_status *st)
{
    Kumo__Test__V1__BytesRequest req = KUMO__TEST__V1__BYTES_REQUEST__INIT;
    req.size = size;
    return kumo_rpc_client_call(c, BYTES_PATH, &req.base,
                                &kumo__test__v1__bytes_response__descriptor, NULL, o,
                                (ProtobufCMessage **)out, st);
}

static inline void assert_pattern(const ProtobufCBinaryData *d, size_t len)
{
    assert_int_equal(d->len, len);
    for (size_t i = 0; i < len; i++)
        if (d->data[i] != (uint8_t)('a' + i % 26))
            fail_msg("byte %zu differs", i);
}

/* Asserts a code, showing the status message when it differs. */
static inline void expect_code(kumo_code got, kumo_code want, struct kumo_rpc_status *st)
{
    if (got != want)
        fail_msg("got code %d (%s), want %d", got, st->message ? st->message : "-", want);
    kumo_rpc_status_clear(st);
}

/* A port nothing listens on. */
static inline int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* The raw peer's counters, from its Stats method. */
static inline long raw_stat(struct kumo_rpc_client *c, const char *name)
{
    Kumo__Test__V1__EchoResponse *r = NULL;
    struct kumo_rpc_status st;
    assert_int_equal(echo(c, "/raw.Svc/Stats", "", NULL, 0, NULL, &r, &st), KUMO_CODE_OK);
    const char *at = strstr(r->message, name);
    assert_non_null(at);
    long v = strtol(at + strlen(name) + 1, NULL, 10);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return v;
}

#endif
