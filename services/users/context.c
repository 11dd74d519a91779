/* Start-up of the shared state: DB pool, signing keys, verifier, password
 * hasher, throttles, pepper. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "db/rds_auth.h"
#include "runtime/log.h"
#include "base/secret.h"
#include "users.h"

#define MAX_KEY_FILE (64 * 1024)

static int fail(const char *msg, const char *detail)
{
    kumo_log(KUMO_LOG_ERROR, NULL, msg, "error", detail, NULL);
    return -1;
}

int users_ctx_open_db(struct users_ctx *ctx, const struct kumo_config *c)
{
    struct kumo_db_rds_auth *iam = NULL;
    if (kumo_db_open_config(c, kumo_config_string(c, "KUMO_AWS_REGION"), &ctx->db, &iam) != 0)
        return fail("cannot set up the database pool", kumo_db_last_error()->message);
    ctx->db_rds = iam;
    return 0;
}

/* Reads a whole (small) file into `out`. Returns 0 or -errno. */
static int read_file(const char *path, struct kumo_buf *out)
{
    kumo_buf_reserve(out, MAX_KEY_FILE + 1); /* read in place: no copies of the key */
    return kumo_buf_read_file(out, path, MAX_KEY_FILE);
}

/* Adds one PEM key file to the signer, its kid being the key's RFC 7638
 * thumbprint (stable across restarts and replicas). */
static int add_key_file(struct kumo_jwt_signer *signer, const char *path)
{
    struct kumo_buf pem = KUMO_BUF_INIT;
    int rc = read_file(path, &pem);
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot read a signing key file", "path", path, "error",
                 kumo_strerror(rc), NULL);
        kumo_buf_free(&pem);
        return -1;
    }
    char kid[44];
    rc = kumo_jwt_key_thumbprint((const char *)pem.data, pem.len, kid);
    if (rc == 0)
        rc = kumo_jwt_signer_add_key(signer, kid, (const char *)pem.data, pem.len);
    kumo_secret_wipe(pem.data, pem.len);
    kumo_buf_free(&pem);
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "unusable signing key", "path", path, "error",
                 kumo_jwt_strerror(rc), NULL);
        return -1;
    }
    return 0;
}

static int load_signer(struct users_ctx *ctx)
{
    const char *files = ctx->s.signing_key_files;
    if (files == NULL || *files == '\0')
        return fail("bad configuration", "KUMO_JWT_SIGNING_KEY_FILES is required to serve");
    if (kumo_jwt_signer_new(&ctx->signer, ctx->s.issuer, ctx->s.audience) != 0)
        return fail("bad configuration", "invalid JWT issuer or audience");
    const char *p = files;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            char *path = kumo_strndup(p, n);
            int rc = add_key_file(ctx->signer, path);
            kumo_free(path);
            if (rc != 0)
                return -1;
        }
        p = end ? end + 1 : p + strlen(p);
    }
    if (kumo_jwt_signer_active_kid(ctx->signer) == NULL)
        return fail("bad configuration", "KUMO_JWT_SIGNING_KEY_FILES names no key");
    struct kumo_buf jwks = KUMO_BUF_INIT;
    kumo_jwt_signer_jwks(ctx->signer, &jwks);
    ctx->jwks = kumo_buf_steal(&jwks, &ctx->jwks_len);
    return 0;
}

static int make_verifier(struct users_ctx *ctx)
{
    struct kumo_jwt_keyset *ks;
    if (kumo_jwt_signer_keyset(ctx->signer, &ks) != 0)
        return fail("cannot build the verification keyset", "no keys");
    int64_t max_ttl =
        ctx->s.access_ttl_s > ctx->s.api_ttl_s ? ctx->s.access_ttl_s : ctx->s.api_ttl_s;
    struct kumo_jwt_verify_opts o = {ctx->s.issuer, ctx->s.audience, ctx->s.leeway_s, max_ttl};
    if (kumo_jwt_verifier_new(&ctx->verifier, &o, ks) != 0)
        return fail("cannot build the token verifier", "bad options");
    if (kumo_rpc_jwt_auth_new(&ctx->auth, ctx->verifier, ctx->s.service_callers) != 0)
        return fail("bad configuration", "KUMO_SERVICE_CALLERS must list service names");
    return 0;
}

int users_load_pepper(struct users_ctx *ctx, const struct kumo_config *c)
{
    const char *pepper = kumo_config_string(c, "KUMO_SECRET_PEPPER");
    if (pepper == NULL || strlen(pepper) < KUMO_SECRET_PEPPER_MIN)
        return fail("bad configuration",
                    "KUMO_SECRET_PEPPER (or KUMO_SECRET_PEPPER_FILE) must hold at least 32 bytes");
    ctx->pepper_len = strlen(pepper);
    ctx->pepper = kumo_malloc(ctx->pepper_len);
    memcpy(ctx->pepper, pepper, ctx->pepper_len);
    return 0;
}

static int make_throttles(struct users_ctx *ctx)
{
    const struct users_settings *s = &ctx->s;
    struct kumo_login_guard_config g = {
        .per_address = (uint32_t)s->login_max_per_address,
        .per_account_address = (uint32_t)s->login_max_per_account,
        .per_account = (uint32_t)s->login_slowdown_after,
        .window_ms = s->login_window_ms,
        .account_rate = 1000.0 / (double)s->login_slowdown_interval_ms,
    };
    if (kumo_login_guard_new(&ctx->guard, &g) != 0)
        return fail("cannot create the login throttles", "bad limits");
    return 0;
}

int users_ctx_init(struct users_ctx *ctx, const struct kumo_config *c)
{
    pthread_mutex_init(&ctx->system_mu, NULL);
    if (users_settings_load(c, &ctx->s) != 0 || users_load_pepper(ctx, c) != 0 ||
        load_signer(ctx) != 0 || make_verifier(ctx) != 0 || make_throttles(ctx) != 0)
        return -1;
    if (kumo_password_hasher_new(&ctx->hasher, &ctx->s.argon2) != 0)
        return fail("bad configuration", "argon2 parameters rejected");
    sem_init(&ctx->argon2_slots, 0, (unsigned)ctx->s.argon2_max_concurrent);
    ctx->argon2_inited = 1;
    return users_ctx_open_db(ctx, c);
}

void users_ctx_free(struct users_ctx *ctx)
{
    kumo_db_free(ctx->db);
    kumo_db_rds_auth_free(ctx->db_rds);
    kumo_rpc_jwt_auth_free(ctx->auth);
    kumo_jwt_verifier_free(ctx->verifier);
    kumo_jwt_signer_free(ctx->signer);
    kumo_password_hasher_free(ctx->hasher);
    kumo_login_guard_free(ctx->guard);
    ctx->guard = NULL;
    kumo_cidr_list_free(ctx->s.trusted_proxies);
    ctx->s.trusted_proxies = NULL;
    if (ctx->argon2_inited)
        sem_destroy(&ctx->argon2_slots);
    if (ctx->pepper) {
        kumo_secret_wipe(ctx->pepper, ctx->pepper_len);
        kumo_free(ctx->pepper);
    }
    kumo_free(ctx->jwks);
    memset(ctx, 0, sizeof *ctx);
}
