/* kumo-echo: a daemon serving only the test EchoService (plus health and
 * reflection), for interop tests, abuse tests and benchmarks. */
#include "runtime/daemon.h"
#include "echo_service.h"

extern const struct kumo_blob kumo_test_descriptor_set_blob;

static int setup(struct kumo_daemon *d, void *ud)
{
    (void)ud;
    return kumo_rpc_server_add_service(kumo_daemon_server(d), &kumo_test_echo_service);
}

static const struct kumo_daemon_spec spec = {
    .svc = "echo",
    .summary = "test EchoService daemon (not shipped)",
    .default_port = 7199,
    .descriptor_set = &kumo_test_descriptor_set_blob,
    .setup = setup,
};

int main(int argc, char **argv)
{
    return kumo_daemon_main(argc, argv, &spec);
}
