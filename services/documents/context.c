/* Start-up of the shared state: settings, DB pool, the kumo-storage and
 * kumo-users clients, and the service principal's API key with its token
 * exchange (every kumo-storage call, from handlers and background jobs,
 * is made as the service principal). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "documents.h"
#include "runtime/log.h"
#include "base/secret.h"

#define MAX_API_KEY_FILE 4096

static int fail(const char *msg, const char *detail)
{
    kumo_log(KUMO_LOG_ERROR, NULL, msg, "error", detail, NULL);
    return -1;
}

int docs_ctx_open_db(struct docs_ctx *ctx, const struct kumo_config *c)
{
    struct kumo_db_rds_auth *iam = NULL;
    if (kumo_db_open_config(c, kumo_config_string(c, "KUMO_AWS_REGION"), &ctx->db, &iam) != 0)
        return fail("cannot set up the database pool", kumo_db_last_error()->message);
    ctx->db_rds = iam;
    return 0;
}

/* The API key: the file's first line, surrounding blanks trimmed. */
static int load_api_key(struct docs_ctx *ctx)
{
    const char *path = ctx->s.service_api_key_file;
    if (path == NULL || *path == '\0')
        return fail("bad configuration",
                    "KUMO_SERVICE_API_KEY_FILE is required: kumo-documents calls kumo-storage as "
                    "its service principal");
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return fail("cannot read KUMO_SERVICE_API_KEY_FILE", path);
    char buf[MAX_API_KEY_FILE];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *start = buf;
    while (*start == ' ' || *start == '\t')
        start++;
    size_t len = strcspn(start, "\r\n \t");
    if (len == 0) {
        kumo_secret_wipe(buf, sizeof buf);
        return fail("bad configuration", "KUMO_SERVICE_API_KEY_FILE holds no API key");
    }
    ctx->service_api_key = kumo_strndup(start, len);
    kumo_secret_wipe(buf, sizeof buf);
    return 0;
}

static int make_clients(struct docs_ctx *ctx)
{
    struct kumo_rpc_client_config sc = {.target = ctx->s.storage_target};
    if (kumo_rpc_client_new(&ctx->storage, &sc) != 0)
        return fail("bad configuration", "KUMO_STORAGE_TARGET is not host:port");
    struct kumo_rpc_client_config uc = {.target = ctx->s.users_target};
    if (kumo_rpc_client_new(&ctx->users, &uc) != 0)
        return fail("bad configuration", "KUMO_USERS_TARGET is not host:port");
    struct kumo_apikey_exchange_config xc = {.users = ctx->users};
    if (kumo_apikey_exchange_new(&ctx->exchange, &xc) != 0)
        return fail("cannot create the API key exchange", "bad configuration");
    return 0;
}

int docs_ctx_init(struct docs_ctx *ctx, const struct kumo_config *c)
{
    if (docs_settings_load(c, &ctx->s) != 0 || load_api_key(ctx) != 0 || make_clients(ctx) != 0)
        return -1;
    return docs_ctx_open_db(ctx, c);
}

void docs_ctx_free(struct docs_ctx *ctx)
{
    docs_auth_stop(ctx);
    kumo_apikey_exchange_free(ctx->exchange);
    kumo_rpc_client_free(ctx->storage);
    kumo_rpc_client_free(ctx->users);
    kumo_db_free(ctx->db);
    kumo_db_rds_auth_free(ctx->db_rds);
    if (ctx->service_api_key) {
        kumo_secret_wipe(ctx->service_api_key, strlen(ctx->service_api_key));
        kumo_free(ctx->service_api_key);
    }
    memset(ctx, 0, sizeof *ctx);
}
