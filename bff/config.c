/* kumo-bff configuration: the KUMO_* variables of the BFF (the daemon
 * framework adds KUMO_RPC_ADDR/PORT, KUMO_ADMIN_PORT, KUMO_LOG_LEVEL...). */
#include <string.h>

#include "auth/jwt_setup.h"
#include "bff.h"
#include "runtime/config_fields.h"
#include "runtime/log.h"
#include "auth/revocations.h"

/* Each variable fills the member TO names (runtime/config_fields.h). */
#define TO(m) KUMO_CONFIG_TO(struct bff_settings, m)
static const struct kumo_config_var vars[] = {
    {"KUMO_HTTP_ADDR", KUMO_CONFIG_STRING, NULL,
     "address the HTTP port binds (numeric); empty: KUMO_RPC_ADDR", TO(http_addr)},
    {"KUMO_HTTP_PORT", KUMO_CONFIG_INT, "8080",
     "JSON API port (HTTP/1.1, and h2c with prior knowledge); 0 = any", 0, 0, 65535, TO(http_port)},
    {"KUMO_USERS_TARGET", KUMO_CONFIG_STRING, "127.0.0.1:7101", "kumo-users RPC address",
     TO(users_target)},
    {"KUMO_DOCUMENTS_TARGET", KUMO_CONFIG_STRING, "127.0.0.1:7102", "kumo-documents RPC address",
     TO(documents_target)},
    {"KUMO_STORAGE_TARGET", KUMO_CONFIG_STRING, "127.0.0.1:7103",
     "kumo-storage RPC address (health checks only)", TO(storage_target)},
    KUMO_JWT_SETUP_CONFIG_VARS,
    KUMO_REVOCATIONS_CONFIG_VARS,
    {"KUMO_CORS_ORIGINS", KUMO_CONFIG_STRING, "",
     "comma-separated browser origins allowed (exact match; empty = no CORS; \"*\" is ignored)",
     TO(cors_origins)},
    {"KUMO_COOKIE_SECURE", KUMO_CONFIG_BOOL, "true",
     "session cookies are Secure and __Host- prefixed (false only for local http)",
     TO(cookie_secure)},
    {"KUMO_BODY_MAX", KUMO_CONFIG_SIZE, "1MiB", "largest request body (413 above)", 0, 1024,
     64 * KUMO_MIB, TO(body_max)},
    {"KUMO_JSON_MAX_DEPTH", KUMO_CONFIG_INT, "32", "deepest JSON nesting accepted (400 above)", 0,
     2, 1000, TO(json_max_depth)},
    {"KUMO_REQUEST_TIMEOUT", KUMO_CONFIG_DURATION_MS, "30s",
     "deadline budget of a request, passed to every RPC", 0, 100, KUMO_HOUR_MS,
     TO(request_timeout_ms)},
    {"KUMO_CLIENT_TIMEOUT", KUMO_CONFIG_DURATION_MS, "10s",
     "close HTTP connections silent this long, and answer 408 to a request not received whole "
     "(first byte to end of body) within it (slow clients)",
     0, KUMO_SEC_MS, KUMO_HOUR_MS, TO(client_timeout_ms)},
    {"KUMO_HTTP_HANDLERS", KUMO_CONFIG_INT, "64",
     "requests served at once on the HTTP port (each holds a thread while its RPCs run)", 0, 1,
     1024, TO(http_handlers)},
    {"KUMO_HTTP_MAX_CONNECTIONS", KUMO_CONFIG_INT, "1024",
     "open connections on the HTTP port; past it the one idle longest is closed, or the new one "
     "refused",
     0, 1, 100000, TO(http_max_connections)},
    {"KUMO_HTTP_MAX_CONNECTIONS_PER_ADDRESS", KUMO_CONFIG_INT, "64",
     "open connections on the HTTP port from one client address; past it that address's "
     "connection idle longest is closed, or the new one refused",
     0, 1, 100000, TO(http_max_per_address)},
    {"KUMO_HTTP_QUEUE", KUMO_CONFIG_INT, "256",
     "requests waiting for a handler; more are answered 503 with Retry-After (health, OpenAPI "
     "and console files have a lane of their own)",
     0, 0, 100000, TO(http_queue)},
    {"KUMO_RATE_LIMIT_PER_ADDRESS", KUMO_CONFIG_STRING, "50/s burst 100",
     "token bucket per client address (\"<n>/s|m|h [burst <b>]\", \"off\")"},
    {"KUMO_RATE_LIMIT_PER_PRINCIPAL", KUMO_CONFIG_STRING, "100/s burst 200",
     "token bucket per authenticated principal (tenant and subject)"},
    {"KUMO_LOGIN_RATE_LIMIT", KUMO_CONFIG_STRING, "10/m burst 10",
     "token bucket per client address on POST /api/v1/auth/login"},
    {"KUMO_TRUSTED_PROXIES", KUMO_CONFIG_STRING, "",
     "comma-separated proxy address ranges (CIDR: 10.0.0.0/8, fd00::/8, or single addresses) "
     "whose X-Forwarded-For is believed"},
    {"KUMO_PAGE_SIZE_MAX", KUMO_CONFIG_INT, "100", "largest page_size (larger ones are clamped)", 0,
     1, 1000, TO(page_size_max)},
    {"KUMO_WEB_ROOT", KUMO_CONFIG_STRING, "",
     "directory of the built web console served at / (empty: ../web next to the binary; off: "
     "none)",
     TO(web_root)},
    {"KUMO_WEB_CONNECT_SRC", KUMO_CONFIG_STRING, "",
     "space-separated origins the console may fetch from besides its own (the data port or "
     "bucket: uploads and previews), added to its CSP connect-src and img-src",
     TO(web_connect_src)},
    {"KUMO_KUMOCMS_TENANT", KUMO_CONFIG_STRING, "",
     "tenant slug that KumoCMS's POST /api/v1/auth {username, password} signs in to (empty: that "
     "route answers 404)",
     TO(kumocms_tenant)},
    {"KUMO_DIRECT_UPLOAD_CONNECT", KUMO_CONFIG_STRING, "",
     "host:port that PUT /documents/{id} with file_content connects to when it stores the bytes "
     "through the upload URL (its Host, and so its signature, kept): the data port's address "
     "inside the cluster when the URL names the public one; empty: the URL's host",
     TO(direct_upload_connect)},
};

const struct kumo_config_var *bff_config_vars(size_t *n)
{
    *n = sizeof vars / sizeof vars[0];
    return vars;
}

static int limit(const struct kumo_config *c, const char *name, double *rate, double *burst)
{
    if (kumo_ratelimit_parse(kumo_config_string(c, name), rate, burst) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "variable", name, "error",
                 "expected \"<n>/s|m|h [burst <b>]\" or \"off\"", NULL);
        return -1;
    }
    return 0;
}

int bff_settings_load(const struct kumo_config *c, struct bff_settings *s)
{
    KUMO_CONFIG_FILL(c, s, vars);
    if (s->http_addr == NULL || *s->http_addr == '\0')
        s->http_addr = kumo_config_string(c, "KUMO_RPC_ADDR");
    if (s->http_addr == NULL || *s->http_addr == '\0')
        s->http_addr = "0.0.0.0";
    if (kumo_cidr_list_from_config(c, "KUMO_TRUSTED_PROXIES", &s->trusted_proxies) != 0)
        return -1;
    if (s->kumocms_tenant == NULL)
        s->kumocms_tenant = "";
    if (s->direct_upload_connect == NULL)
        s->direct_upload_connect = "";
    const char *colon = strrchr(s->direct_upload_connect, ':');
    if (*s->direct_upload_connect &&
        (!colon || colon == s->direct_upload_connect || colon[1] == '\0' ||
         strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
         strlen(s->direct_upload_connect) > 255 || strpbrk(s->direct_upload_connect, " /@?#")))
        return kumo_config_bad("KUMO_DIRECT_UPLOAD_CONNECT must be host:port");
    if (limit(c, "KUMO_RATE_LIMIT_PER_ADDRESS", &s->rl_addr_rate, &s->rl_addr_burst) != 0 ||
        limit(c, "KUMO_RATE_LIMIT_PER_PRINCIPAL", &s->rl_principal_rate, &s->rl_principal_burst) !=
            0 ||
        limit(c, "KUMO_LOGIN_RATE_LIMIT", &s->rl_login_rate, &s->rl_login_burst) != 0)
        return -1;
    if (kumo_jwt_settings_load(c, &s->jwt) != 0)
        return -1;
    return 0;
}
