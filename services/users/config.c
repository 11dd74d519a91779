/* kumo-users' KUMO_* variables (listed by --help) and their loading. */
#include <string.h>

#include "runtime/config_fields.h"
#include "users.h"

/* Each variable fills the member TO names (runtime/config_fields.h). */
#define TO(m)    KUMO_CONFIG_TO(struct users_settings, m)
#define TO_S(m)  KUMO_CONFIG_TO_S(struct users_settings, m)
#define TO_US(m) KUMO_CONFIG_TO_US(struct users_settings, m)
static const struct kumo_config_var own_vars[] = {
    {"KUMO_JWT_ISSUER", KUMO_CONFIG_STRING, "kumo-users", "iss of the access tokens issued",
     TO(issuer)},
    {"KUMO_JWT_AUDIENCE", KUMO_CONFIG_STRING, "kumo", "aud of the access tokens issued",
     TO(audience)},
    {"KUMO_JWT_SIGNING_KEY_FILES", KUMO_CONFIG_STRING, NULL,
     "comma-separated P-256 private key PEM files (openssl genpkey -algorithm EC -pkeyopt "
     "ec_paramgen_curve:P-256); the first signs, the second stays published for rotation "
     "(required to serve)",
     TO(signing_key_files)},
    {"KUMO_JWT_LEEWAY", KUMO_CONFIG_DURATION_MS, "30s", "clock skew allowed verifying tokens", 0, 0,
     300000, TO_S(leeway_s)},
    {"KUMO_ACCESS_TOKEN_TTL", KUMO_CONFIG_DURATION_MS, "15m", "lifetime of access tokens", 0, 60000,
     24 * KUMO_HOUR_MS, TO_S(access_ttl_s)},
    {"KUMO_API_TOKEN_TTL", KUMO_CONFIG_DURATION_MS, "5m",
     "lifetime of access tokens exchanged for API keys", 0, 60000, KUMO_HOUR_MS, TO_S(api_ttl_s)},
    {"KUMO_REFRESH_TOKEN_TTL", KUMO_CONFIG_DURATION_MS, "168h",
     "lifetime of one refresh token (each use rotates it)", 0, 60000, 90 * KUMO_DAY_MS,
     TO_S(refresh_ttl_s)},
    {"KUMO_REFRESH_REUSE_GRACE", KUMO_CONFIG_DURATION_MS, "10s",
     "a spent refresh token presented again this soon after its rotation rotates again instead of "
     "revoking its login (a reload that lost the answer); 0: never",
     0, 0, 60000, TO_US(refresh_reuse_grace_us)},
    {"KUMO_REFRESH_FAMILY_TTL", KUMO_CONFIG_DURATION_MS, "720h",
     "longest a login lasts through refreshes, from Authenticate", 0, 60000, 365 * KUMO_DAY_MS,
     TO_S(family_ttl_s)},
    {"KUMO_SECRET_PEPPER", KUMO_CONFIG_STRING, NULL,
     "server secret (>= 32 bytes) keying the stored hashes of refresh tokens and API keys "
     "(required to serve and bootstrap)",
     KUMO_CONFIG_SECRET},
    {"KUMO_PASSWORD_ARGON2_M_KIB", KUMO_CONFIG_INT, "19456",
     "argon2id memory (KiB) for new password hashes; OWASP minimum 19456", 0, 19456, 1024 * 1024,
     TO(argon2.m_kib)},
    {"KUMO_PASSWORD_ARGON2_T", KUMO_CONFIG_INT, "2", "argon2id passes; minimum 2", 0, 2, 64,
     TO(argon2.t_cost)},
    {"KUMO_PASSWORD_ARGON2_P", KUMO_CONFIG_INT, "1", "argon2id lanes; minimum 1", 0, 1, 16,
     TO(argon2.parallelism)},
    {"KUMO_PASSWORD_MAX_CONCURRENT", KUMO_CONFIG_INT, "2",
     "argon2 runs at once (each takes M KiB); more wait up to 2 s, then resource_exhausted", 0, 1,
     64, TO(argon2_max_concurrent)},
    {"KUMO_LOGIN_WINDOW", KUMO_CONFIG_DURATION_MS, "15m",
     "sliding window of the login failure counters", 0, 1000, KUMO_DAY_MS, TO(login_window_ms)},
    {"KUMO_LOGIN_MAX_FAILURES_PER_ACCOUNT", KUMO_CONFIG_INT, "5",
     "failed logins of one account from one client address within the window before that "
     "address gets resource_exhausted for that account (other addresses are not affected)",
     0, 1, 100000, TO(login_max_per_account)},
    {"KUMO_LOGIN_MAX_FAILURES_PER_ADDRESS", KUMO_CONFIG_INT, "20",
     "failed logins and API key exchanges from one client address within the window before "
     "that address gets resource_exhausted for every credential",
     0, 1, 1000000, TO(login_max_per_address)},
    {"KUMO_LOGIN_SLOWDOWN_AFTER", KUMO_CONFIG_INT, "20",
     "failed logins of one account from all addresses within the window after which attempts "
     "on it are slowed down (never locked out)",
     0, 1, 1000000, TO(login_slowdown_after)},
    {"KUMO_LOGIN_SLOWDOWN_INTERVAL", KUMO_CONFIG_DURATION_MS, "2s",
     "a slowed-down account admits one attempt per this interval", 0, 100, 600000,
     TO(login_slowdown_interval_ms)},
    {"KUMO_REVOCATIONS_POLL", KUMO_CONFIG_DURATION_MS, "250ms",
     "how often the revocations table is read into memory (served at /revocations)", 0, 50, 10000,
     TO(revocations_poll_ms)},
    {"KUMO_API_KEYS_GRANT_TENANTS", KUMO_CONFIG_STRING, "",
     "comma-separated tenant ids whose admin API keys may create and promote users to admin "
     "(elsewhere an API key grants only roles below its own)",
     TO(key_grant_tenants)},
    {"KUMO_TRUSTED_PROXIES", KUMO_CONFIG_STRING, "",
     "comma-separated address ranges (CIDR, or single addresses) of callers (the BFF) whose "
     "x-forwarded-for names the client; anyone else's is ignored"},
    {"KUMO_SERVICE_CALLERS", KUMO_CONFIG_STRING, "documents,bff",
     "service principals (API keys of role service) allowed the read-only RPCs",
     TO(service_callers)},
    {"KUMO_MIGRATE_LOCK_TIMEOUT", KUMO_CONFIG_DURATION_MS, "60s",
     "migrate: longest wait for another migrator's lock", 0, 0, KUMO_HOUR_MS},
    {"KUMO_AWS_REGION", KUMO_CONFIG_STRING, NULL,
     "region of the RDS IAM token (KUMO_DB_AUTH=iam); default: AWS_REGION"},
    {"KUMO_BOOTSTRAP_ADMIN_EMAIL", KUMO_CONFIG_STRING, "admin@kumo.local",
     "bootstrap: e-mail of the system tenant's administrator"},
    {"KUMO_BOOTSTRAP_ADMIN_PASSWORD", KUMO_CONFIG_STRING, NULL,
     "bootstrap: password of the system administrator (needed when it is created)",
     KUMO_CONFIG_SECRET},
    {"KUMO_BOOTSTRAP_DEMO_TENANT", KUMO_CONFIG_STRING, "demo",
     "bootstrap: slug of a demo tenant to create (empty: none)"},
    {"KUMO_BOOTSTRAP_DEMO_TENANT_NAME", KUMO_CONFIG_STRING, "Demo",
     "bootstrap: display name of the demo tenant"},
    {"KUMO_BOOTSTRAP_DEMO_ADMIN_EMAIL", KUMO_CONFIG_STRING, "admin@demo.local",
     "bootstrap: e-mail of the demo tenant's administrator"},
    {"KUMO_BOOTSTRAP_DEMO_ADMIN_PASSWORD", KUMO_CONFIG_STRING, NULL,
     "bootstrap: password of the demo administrator (needed when it is created)",
     KUMO_CONFIG_SECRET},
    {"KUMO_BOOTSTRAP_SERVICES", KUMO_CONFIG_STRING, "documents,storage,bff",
     "bootstrap: service principals to give an API key (role service, system tenant)"},
    {"KUMO_BOOTSTRAP_KEY_DIR", KUMO_CONFIG_STRING, NULL,
     "bootstrap: directory receiving <service>.apikey (mode 0600) for each service principal"},
};

const struct kumo_config_var *users_config_vars(size_t *n)
{
    return kumo_db_daemon_vars(own_vars, sizeof own_vars / sizeof own_vars[0], "kumo_users", n);
}

int users_settings_load(const struct kumo_config *c, struct users_settings *s)
{
    KUMO_CONFIG_FILL(c, s, own_vars);
    if (!s->issuer || !*s->issuer || !s->audience || !*s->audience)
        return kumo_config_bad("KUMO_JWT_ISSUER and KUMO_JWT_AUDIENCE must not be empty");
    if (s->refresh_ttl_s > s->family_ttl_s)
        return kumo_config_bad("KUMO_REFRESH_TOKEN_TTL must not exceed KUMO_REFRESH_FAMILY_TTL");
    return kumo_cidr_list_from_config(c, "KUMO_TRUSTED_PROXIES", &s->trusted_proxies);
}
