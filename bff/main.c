/* kumo-bff: the browser's JSON API (/api/v1, HTTP/1.1 and h2c on
 * KUMO_HTTP_PORT),
 * turning REST calls into RPCs to kumo-users and kumo-documents. Its RPC
 * port (the daemon framework's) serves only health and reflection.
 *   kumo-bff [serve]   the daemon (HTTP 8080, RPC 7100, admin 9100) */
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "runtime/admin_http.h"
#include "base/alloc.h"
#include "bff.h"
#include "runtime/daemon.h"
#include "runtime/log.h"

static struct bff app;

static int new_client(const char *target, struct kumo_rpc_client **out, const char *name)
{
    /* The services sit next to the BFF (same host or cluster): gzip on
     * their answers (a page of 50 documents is ~40 kB) cost kumo-documents
     * two thirds of its CPU for ListDocuments and the BFF a decompression,
     * to save bytes on a network that is not the bottleneck. */
    struct kumo_rpc_client_config cc = {.target = target, .no_compression = 1};
    if (kumo_rpc_client_new(out, &cc) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error", "invalid target", "service",
                 name, "target", target, NULL);
        return -1;
    }
    return 0;
}

static int new_limit(double rate, double burst, struct kumo_ratelimit **out)
{
    if (rate <= 0) /* "off" */
        return 0;
    struct kumo_ratelimit_config rc = {rate, burst, 0};
    return kumo_ratelimit_new(out, &rc);
}

/* A revoked API key's exchanged tokens leave the cache at once (its token
 * subject is "ak_<key id>"). */
static void on_revocation(void *ud, const char *tid, const char *sub)
{
    struct bff *a = ud;
    (void)tid;
    if (strncmp(sub, "ak_", 3) == 0)
        kumo_apikey_exchange_forget(a->apikeys, sub + 3);
}

static int setup_auth(struct bff *a, struct kumo_admin *admin, const struct kumo_config *c)
{
    const struct bff_settings *s = &a->s;
    /* kumo-users' tokens: verifier, JWKS refresher and its "jwks" check
     * (no RPC authenticator: the BFF's RPC port serves health only). */
    if (kumo_jwt_setup_start(&a->jwt, &s->jwt, NULL, admin) != 0 ||
        kumo_verify_cache_new(&a->verified, 0) != 0)
        return -1;
    struct kumo_throttle_config sc = {1, BFF_SUSPECT_WINDOW_MS, 0};
    if (kumo_throttle_new(&a->suspects, &sc) != 0)
        return -1;
    struct kumo_apikey_exchange_config xc = {.users = a->users};
    if (kumo_apikey_exchange_new(&a->apikeys, &xc) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot create the API key exchange", NULL);
        return -1;
    }
    return kumo_revocations_client_start(&a->revocations, c, s->jwt.max_ttl_s + s->jwt.leeway_s,
                                         on_revocation, a);
}

static int setup(struct kumo_daemon *d, void *ud)
{
    struct bff *a = ud;
    if (bff_settings_load(kumo_daemon_config(d), &a->s) != 0)
        return -1;
    const struct bff_settings *s = &a->s;
    if (new_client(s->users_target, &a->users, "users") != 0 ||
        new_client(s->documents_target, &a->documents, "documents") != 0 ||
        new_client(s->storage_target, &a->storage, "storage") != 0)
        return -1;
    if (setup_auth(a, kumo_daemon_admin(d), kumo_daemon_config(d)) != 0)
        return -1;
    if (new_limit(s->rl_addr_rate, s->rl_addr_burst, &a->rl_addr) != 0 ||
        new_limit(s->rl_principal_rate, s->rl_principal_burst, &a->rl_principal) != 0 ||
        new_limit(s->rl_login_rate, s->rl_login_burst, &a->rl_login) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error", "invalid rate limit", NULL);
        return -1;
    }
    if (bff_static_init(s) != 0)
        return -1;
    if (bff_http_start(a, &a->http) != 0)
        return -1;
    return 0;
}

static int http_port(struct kumo_daemon *d, void *ud)
{
    (void)d;
    struct bff *a = ud;
    return bff_http_port(a->http);
}

static void drain(struct kumo_daemon *d, void *ud)
{
    (void)d;
    struct bff *a = ud;
    bff_http_quiesce(a->http);
}

static int drained(struct kumo_daemon *d, void *ud)
{
    (void)d;
    struct bff *a = ud;
    return bff_http_drained(a->http);
}

static void teardown(struct kumo_daemon *d, void *ud)
{
    struct bff *a = ud;
    int64_t deadline = kumo_daemon_drain_deadline(d);
    if (bff_http_stop(a->http, deadline ? deadline : kumo_now_ns()) != 0) {
        /* KUMO_DRAIN_TIMEOUT is the bound: requests still in an RPC are
         * abandoned, and nothing they use may be freed under them. */
        kumo_log(KUMO_LOG_WARN, NULL, "drain timeout: requests still running abandoned", NULL);
        _exit(1);
    }
    a->http = NULL;
    bff_static_free();
    kumo_jwt_setup_stop(&a->jwt);
    kumo_revocations_client_stop(&a->revocations);
    kumo_apikey_exchange_free(a->apikeys);
    a->apikeys = NULL;
    kumo_rpc_client_free(a->users);
    kumo_rpc_client_free(a->documents);
    kumo_rpc_client_free(a->storage);
    a->users = a->documents = a->storage = NULL;
    kumo_verify_cache_free(a->verified);
    a->verified = NULL;
    kumo_ratelimit_free(a->rl_addr);
    kumo_ratelimit_free(a->rl_principal);
    kumo_ratelimit_free(a->rl_login);
    a->rl_addr = a->rl_principal = a->rl_login = NULL;
    kumo_throttle_free(a->suspects);
    a->suspects = NULL;
    kumo_cidr_list_free(a->s.trusted_proxies);
    a->s.trusted_proxies = NULL;
}

int main(int argc, char **argv)
{
    /* Requests run on many short-lived users of malloc (libmicrohttpd's
     * pool, h2c connection and handler threads): glibc would give each an
     * arena of its own (up to 8 per core), each keeping what it freed. Two
     * arenas keep the RSS near the live data at no measurable cost here. */
    mallopt(M_ARENA_MAX, 2);
    static const struct kumo_daemon_spec spec = {
        .svc = "bff",
        .summary = "kumo BFF: the browser's JSON API (/api/v1 over HTTP/1.1 and h2c) in front of "
                   "kumo-users and kumo-documents",
        .default_port = 7100,
        .config_vars = bff_config_vars,
        .setup = setup,
        .teardown = teardown,
        .ud = &app,
        .extra_port_name = "http_port",
        .extra_port = http_port,
        .drain = drain,
        .drained = drained,
    };
    return kumo_daemon_main(argc, argv, &spec);
}
