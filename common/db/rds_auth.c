#include "db/rds_auth.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "aws/rds_token.h"
#include "base/secret.h"

struct kumo_db_rds_auth {
    struct kumo_aws_provider *provider;
    char *region, *host, *user;
    int port;
    atomic_ulong tokens;
};

int kumo_db_rds_auth_new(struct kumo_db_rds_auth **out, const char *region, const char *host,
                         unsigned port, const char *user,
                         const struct kumo_aws_provider_config *pcfg)
{
    if (!region || !*region || !host || !*host || !user || !*user || port == 0 || port > 65535)
        return KUMO_ERR_INVALID;
    struct kumo_aws_provider *p;
    int rc = kumo_aws_provider_new(&p, pcfg);
    if (rc != 0)
        return rc;
    struct kumo_db_rds_auth *iam = kumo_calloc(1, sizeof *iam);
    iam->provider = p;
    iam->region = kumo_strdup(region);
    iam->host = kumo_strdup(host);
    iam->user = kumo_strdup(user);
    iam->port = (int)port;
    atomic_init(&iam->tokens, 0);
    *out = iam;
    return 0;
}

/* Every new connection needs a token: failures page
 * (KumoTokenMintingFailing) before the pool runs dry. */
static void count_token(const char *outcome)
{
    kumo_metrics_counter_addl("kumo_db_iam_tokens_total", "RDS IAM auth tokens minted, by outcome.",
                              (const char *[]){"outcome", outcome, NULL}, 1);
}

int kumo_db_rds_auth_password(void *ud, struct kumo_buf *out)
{
    struct kumo_db_rds_auth *iam = ud;
    struct kumo_aws_credentials creds = {0};
    int rc = kumo_aws_credentials_get(iam->provider, &creds);
    if (rc != 0) {
        struct kumo_buf why = KUMO_BUF_INIT;
        kumo_aws_provider_last_error(iam->provider, &why);
        kumo_log(KUMO_LOG_ERROR, NULL, "db iam: no AWS credentials", "error",
                 why.len ? (const char *)why.data : kumo_strerror(rc), NULL);
        count_token("no_credentials");
        kumo_buf_free(&why);
        return rc;
    }
    char *token = NULL;
    rc = kumo_rds_token_make(&creds, iam->region, iam->host, iam->port, iam->user, time(NULL),
                             &token);
    kumo_aws_credentials_clear(&creds);
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "db iam: cannot make an RDS token", "error",
                 kumo_strerror(rc), NULL);
        count_token("error");
        return rc;
    }
    size_t n = strlen(token);
    kumo_buf_append(out, token, n);
    kumo_secret_wipe(token, n);
    kumo_free(token);
    atomic_fetch_add(&iam->tokens, 1);
    count_token("ok");
    return 0;
}

unsigned long kumo_db_rds_auth_tokens(const struct kumo_db_rds_auth *iam)
{
    return atomic_load(&((struct kumo_db_rds_auth *)iam)->tokens);
}

void kumo_db_rds_auth_free(struct kumo_db_rds_auth *iam)
{
    if (iam == NULL)
        return;
    kumo_aws_provider_free(iam->provider);
    kumo_free(iam->region);
    kumo_free(iam->host);
    kumo_free(iam->user);
    kumo_free(iam);
}

static const char *pick_region(const char *region)
{
    if (region && *region)
        return region;
    const char *r = getenv("AWS_REGION");
    if (r && *r)
        return r;
    r = getenv("AWS_DEFAULT_REGION");
    return r && *r ? r : NULL;
}

int kumo_db_open_config(const struct kumo_config *c, const char *region, struct kumo_db **db_out,
                        struct kumo_db_rds_auth **iam_out)
{
    struct kumo_db_options o;
    int rc = kumo_db_options_from_config(c, &o);
    if (rc != 0)
        return rc;
    struct kumo_db_rds_auth *iam = NULL;
    if (o.auth == KUMO_DB_AUTH_IAM) {
        const char *r = pick_region(region);
        if (r == NULL) {
            kumo_log(KUMO_LOG_ERROR, NULL, "db iam: no region", "error",
                     "set AWS_REGION (or the daemon's region variable)", NULL);
            return KUMO_ERR_INVALID;
        }
        rc = kumo_db_rds_auth_new(&iam, r, o.host, o.port ? o.port : 3306, o.user, NULL);
        if (rc != 0) {
            kumo_log(KUMO_LOG_ERROR, NULL, "db iam: cannot set up AWS credentials", "error",
                     rc == KUMO_ERR_NOT_FOUND ? "no credentials source configured"
                                              : kumo_strerror(rc),
                     NULL);
            return rc;
        }
        o.password_fn = kumo_db_rds_auth_password;
        o.password_ud = iam;
    }
    struct kumo_db *db;
    rc = kumo_db_new(&db, &o);
    if (rc != 0) {
        kumo_db_rds_auth_free(iam);
        return rc;
    }
    *db_out = db;
    *iam_out = iam;
    return 0;
}
