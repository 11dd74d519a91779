/* Fuzz target: a server HTTP/2 session with kumo's real callbacks (routing,
 * protocol detection, decoding, handlers, responses), fed raw client bytes
 * after the connection preface. The EchoService is registered; blocking
 * handlers run inline once the connection is gone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "echo_service.h"
#include "rpc/internal.h"

static struct kumo_rpc_server *server;
static struct kumo__io_thread *io;

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct kumo_rpc_server_config cfg = {.max_message_size = 64 * 1024};
    if (kumo_rpc_server_new(&server, &cfg) != 0)
        abort();
    if (kumo_rpc_server_add_service(server, &kumo_test_echo_service) != 0)
        abort();
    io = kumo__rpc_server_prepare_offline(server);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    struct kumo__conn *conn = kumo__conn_new_memory(io, &out);
    if (conn == NULL)
        abort();
    int rc = kumo__conn_feed(conn, (const uint8_t *)preface, sizeof(preface) - 1);
    if (rc == 0) {
        /* Feed in two pieces to exercise partial frames. */
        size_t half = size / 2;
        rc = kumo__conn_feed(conn, data, half);
        if (rc == 0)
            kumo__conn_feed(conn, data + half, size - half);
    }
    kumo__conn_close(conn);
    kumo__rpc_server_run_pending(server);
    kumo_buf_free(&out);
    return 0;
}
