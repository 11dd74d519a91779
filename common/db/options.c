/* KUMO_DB_* variables -> struct kumo_db_options. */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "runtime/config_fields.h"
#include "db/internal.h"

/* Each variable fills the member TO names (runtime/config_fields.h). */
#define TO(m)     KUMO_CONFIG_TO(struct kumo_db_options, m)
#define TO_S(m)   KUMO_CONFIG_TO_S(struct kumo_db_options, m)
#define TO_OPT(m) KUMO_CONFIG_TO_OPT(struct kumo_db_options, m)
static const struct kumo_config_var db_vars[KUMO_DB_N_CONFIG_VARS] = {
    {"KUMO_DB_HOST", KUMO_CONFIG_STRING, "127.0.0.1", "MySQL host (TCP)", TO_OPT(host)},
    {"KUMO_DB_PORT", KUMO_CONFIG_INT, "3306", "MySQL port", 0, 1, 65535, TO(port)},
    {"KUMO_DB_SOCKET", KUMO_CONFIG_STRING, NULL,
     "MySQL unix socket instead of TCP (password auth only)", TO_OPT(unix_socket)},
    {"KUMO_DB_USER", KUMO_CONFIG_STRING, "kumo", "MySQL user", TO_OPT(user)},
    {"KUMO_DB_NAME", KUMO_CONFIG_STRING, NULL, "MySQL database (schema)", TO_OPT(database)},
    {"KUMO_DB_AUTH", KUMO_CONFIG_STRING, "password",
     "password, or iam (an RDS IAM token per connection, over verified TLS)"},
    {"KUMO_DB_PASSWORD", KUMO_CONFIG_STRING, NULL, "MySQL password (password auth)",
     KUMO_CONFIG_SECRET, TO_OPT(password)},
    {"KUMO_DB_TLS_CA_FILE", KUMO_CONFIG_STRING, NULL,
     "CA bundle verifying the MySQL server (required for iam; set it to require TLS)",
     TO_OPT(tls_ca_file)},
    {"KUMO_DB_POOL_SIZE", KUMO_CONFIG_INT, "8", "most MySQL connections", 0, 1, 1000,
     TO(max_conns)},
    {"KUMO_DB_ACQUIRE_TIMEOUT", KUMO_CONFIG_DURATION_MS, "2s",
     "longest wait for a free MySQL connection", 0, 1, 600000, TO(acquire_timeout_ms)},
    {"KUMO_DB_CONNECT_TIMEOUT", KUMO_CONFIG_DURATION_MS, "5s", "MySQL connect timeout", 0, 1,
     600000, TO(connect_timeout_ms)},
    {"KUMO_DB_IO_TIMEOUT", KUMO_CONFIG_DURATION_MS, "30s",
     "MySQL read/write timeout (give migrate a longer one)", 0, 1, 86400000, TO(io_timeout_ms)},
    {"KUMO_DB_MAX_LIFETIME", KUMO_CONFIG_DURATION_MS, "10m",
     "close MySQL connections older than this", 0, 1000, 86400000, TO(max_lifetime_ms)},
    {"KUMO_DB_LOCK_WAIT_TIMEOUT", KUMO_CONFIG_DURATION_MS, "10s",
     "innodb_lock_wait_timeout (whole seconds)", 0, 1000, 3600000, TO_S(lock_wait_timeout_s)},
};

size_t kumo_db_config_vars(struct kumo_config_var *out, size_t cap, const char *default_database)
{
    if (cap < KUMO_DB_N_CONFIG_VARS)
        return 0;
    memcpy(out, db_vars, sizeof db_vars);
    for (size_t i = 0; i < KUMO_DB_N_CONFIG_VARS; i++)
        if (strcmp(out[i].name, "KUMO_DB_NAME") == 0)
            out[i].default_value = default_database;
    return KUMO_DB_N_CONFIG_VARS;
}

const struct kumo_config_var *kumo_db_daemon_vars(const struct kumo_config_var *own, size_t n_own,
                                                  const char *default_database, size_t *n)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        const struct kumo_config_var *own;
        struct kumo_config_var *all;
    } tables[4];
    struct kumo_config_var *all = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < 4 && all == NULL; i++) {
        if (tables[i].own == NULL) {
            tables[i].own = own;
            tables[i].all = kumo_malloc((n_own + KUMO_DB_N_CONFIG_VARS) * sizeof *all);
            memcpy(tables[i].all, own, n_own * sizeof *own);
            kumo_db_config_vars(tables[i].all + n_own, KUMO_DB_N_CONFIG_VARS, default_database);
        }
        if (tables[i].own == own)
            all = tables[i].all;
    }
    pthread_mutex_unlock(&mu);
    *n = n_own + KUMO_DB_N_CONFIG_VARS;
    return all;
}

int kumo_db_options_from_config(const struct kumo_config *c, struct kumo_db_options *o)
{
    const char *auth = kumo_config_string(c, "KUMO_DB_AUTH");

    KUMO_CONFIG_FILL(c, o, db_vars);
    if (auth && strcasecmp(auth, "iam") == 0) {
        o->auth = KUMO_DB_AUTH_IAM;
    } else if (!auth || strcasecmp(auth, "password") == 0) {
        o->auth = KUMO_DB_AUTH_PASSWORD;
    } else {
        kumo__db_error(NULL, KUMO_CODE_INVALID_ARGUMENT, "invalid database options",
                       "KUMO_DB_AUTH must be password or iam");
        return KUMO_ERR_INVALID;
    }
    return 0;
}
