/* kumo-echo: a daemon serving only the test EchoService (plus health and
 * reflection), for interop tests, abuse tests and benchmarks. */
#include "runtime/daemon.h"
#include "echo_service.h"

extern const unsigned char kumo_test_descriptor_set[];
extern const size_t kumo_test_descriptor_set_size;

static int setup(struct kumo_daemon *d, void *ud)
{
    (void)ud;
    return kumo_rpc_server_add_service(kumo_daemon_server(d), &kumo_test_echo_service);
}

int main(int argc, char **argv)
{
    struct kumo_blob sets[] = {{kumo_test_descriptor_set, kumo_test_descriptor_set_size}};
    struct kumo_daemon_spec spec = {
        .program = "kumo-echo",
        .svc = "echo",
        .summary = "test EchoService daemon (not shipped)",
        .version = "0.1.0",
        .default_rpc_port = 7199,
        .default_admin_port = 9199,
        .descriptor_sets = sets,
        .n_descriptor_sets = 1,
        .setup = setup,
    };
    return kumo_daemon_main(argc, argv, &spec);
}
