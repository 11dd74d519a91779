/* `kumo-users bootstrap`: the first tenant, its admin, a demo tenant and the
 * service principals' API keys. Idempotent: what exists is left alone
 * (passwords are never reset), so it can run on every deploy (a Kubernetes
 * Job, `make run`).
 *
 * Service keys: for each service named in KUMO_BOOTSTRAP_SERVICES, the key
 * in KUMO_BOOTSTRAP_KEY_DIR/<service>.apikey is kept if it still works;
 * otherwise a new key (role service, system tenant, no expiry) is made and
 * written there (mode 0600, atomically), and live keys of that service
 * beyond the newest two are revoked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "base/secret.h"
#include "users.h"
#include "base/validate.h"

struct boot {
    struct users_ctx *ctx;
    struct kumo_db_conn *c;
    const struct kumo_config *cfg;
};

static int say(const char *what, const char *name)
{
    kumo_log(KUMO_LOG_INFO, NULL, what, "name", name, NULL);
    return 0;
}

static int fail(const char *what, const char *detail)
{
    kumo_log(KUMO_LOG_ERROR, NULL, what, "error", detail, NULL);
    return -1;
}

static int fail_db(const char *what)
{
    return fail(what, kumo_db_last_error()->message);
}

/* Finds or creates the tenant `slug`; its id goes to tid. */
static int ensure_tenant(struct boot *b, const char *slug, const char *name,
                         char tid[USERS_ID_MAX + 1])
{
    const char *why;
    if (kumo_slug_check(slug, strlen(slug), USERS_SLUG_MIN, USERS_SLUG_MAX, &why) != 0)
        return fail("bootstrap: bad tenant slug", why);
    if (kumo_text_check(name, strlen(name), USERS_NAME_MAX_CHARS, USERS_NAME_MAX_BYTES, 0, &why) !=
        0)
        return fail("bootstrap: bad tenant name", why);
    for (int attempt = 0; attempt < 2; attempt++) {
        kumo_code rc = users_store_tenant_id_by_slug(b->c, slug, tid, USERS_ID_MAX + 1);
        if (rc == KUMO_CODE_OK) {
            return attempt == 0 ? say("bootstrap: tenant exists", slug) : 0;
        }
        if (rc != KUMO_CODE_NOT_FOUND)
            return fail_db("bootstrap: cannot read tenants");
        char id[USERS_ID_MAX + 1];
        if (kumo_id_new("tn", id, USERS_ID_MAX + 1) != 0)
            return fail("bootstrap: no randomness", "");
        rc = users_store_tenant_insert(b->c, id, slug, name, kumo_now_us());
        if (rc == KUMO_CODE_OK) {
            memcpy(tid, id, sizeof id);
            return say("bootstrap: tenant created", slug);
        }
        if (rc != KUMO_CODE_ALREADY_EXISTS) /* else another bootstrap won: read it */
            return fail_db("bootstrap: cannot create a tenant");
    }
    return fail("bootstrap: tenant keeps vanishing", slug);
}

/* Creates an admin in `tid` unless a user with that e-mail exists. */
static int ensure_admin(struct boot *b, const char *tid, const char *email_var,
                        const char *password_var)
{
    const char *email = kumo_config_string(b->cfg, email_var);
    char norm[KUMO_EMAIL_MAX + 1];
    const char *why;
    if (email == NULL || kumo_email_check(email, strlen(email), norm, &why) != 0)
        return fail("bootstrap: bad admin e-mail", email_var);
    kumo_code rc = users_store_user_email_exists(b->c, tid, norm);
    if (rc == KUMO_CODE_OK)
        return say("bootstrap: admin exists", norm);
    if (rc != KUMO_CODE_NOT_FOUND)
        return fail_db("bootstrap: cannot read users");
    const char *pw = kumo_config_string(b->cfg, password_var);
    size_t n = pw ? strlen(pw) : 0;
    if (n < USERS_PASSWORD_MIN || n > KUMO_PASSWORD_MAX_LEN)
        return fail("bootstrap: an admin must be created but its password (12-1024 bytes) is "
                    "not configured",
                    password_var);
    char *phc = NULL;
    if (kumo_password_hash(b->ctx->hasher, pw, n, &phc) != 0)
        return fail("bootstrap: cannot hash a password", "argon2");
    char id[USERS_ID_MAX + 1];
    int64_t now = kumo_now_us();
    const struct users_user_row u = {.role = KUMO__USERS__V1__ROLE__ROLE_ADMIN,
                                     .create_us = now,
                                     .update_us = now,
                                     .id = id,
                                     .tenant_id = (char *)tid,
                                     .email = (char *)email,
                                     .display_name = "Administrator"};
    rc = kumo_id_new("us", id, USERS_ID_MAX + 1) != 0
             ? KUMO_CODE_INTERNAL
             : users_store_user_insert(b->c, &u, norm, phc);
    kumo_free(phc);
    if (rc == KUMO_CODE_ALREADY_EXISTS)
        return say("bootstrap: admin exists", norm);
    if (rc != KUMO_CODE_OK)
        return fail_db("bootstrap: cannot create an admin");
    return say("bootstrap: admin created", norm);
}

/* ---- service keys ---- */

/* Reads DIR/<name>.apikey; 1 if it holds a key that still works. */
static int key_file_works(struct boot *b, const char *tid, const char *name, const char *path)
{
    char text[KUMO_API_KEY_LEN + 2];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text);
    close(fd);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    struct kumo_api_key key;
    int ok = n == KUMO_API_KEY_LEN && kumo_api_key_parse(text, (size_t)n, &key) == 0;
    kumo_secret_wipe(text, sizeof text);
    if (!ok)
        return 0;
    char stored[KUMO_SECRET_HASH_HEX_LEN + 1], hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    kumo_code rc = users_store_service_key_hash(b->c, tid, key.id, name, stored, sizeof stored);
    kumo_secret_hash_hex(b->ctx->pepper, b->ctx->pepper_len, KUMO_SECRET_PURPOSE_API_KEY,
                         key.secret, strlen(key.secret), hash);
    kumo_secret_wipe(&key, sizeof key);
    return rc == KUMO_CODE_OK && strlen(stored) == KUMO_SECRET_HASH_HEX_LEN &&
           kumo_secret_equal(stored, hash, KUMO_SECRET_HASH_HEX_LEN);
}

/* Writes `text` to path atomically with mode 0600. Returns 0 or -errno. */
static int write_secret_file(const char *path, const char *text)
{
    struct kumo_buf tmp = KUMO_BUF_INIT;
    kumo_buf_appendf(&tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open((const char *)tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0) {
        size_t n = strlen(text);
        if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
            rc = errno ? -errno : KUMO_ERR_IO;
        close(fd);
    }
    if (rc == 0 && rename((const char *)tmp.data, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink((const char *)tmp.data);
    kumo_buf_free(&tmp);
    return rc;
}

static int new_service_key(struct boot *b, const char *tid, const char *name, const char *path)
{
    struct kumo_api_key key;
    char text[KUMO_API_KEY_LEN + 1], hash[KUMO_SECRET_HASH_HEX_LEN + 1];
    if (kumo_api_key_generate(&key, text) != 0)
        return fail("bootstrap: no randomness", "");
    kumo_secret_hash_hex(b->ctx->pepper, b->ctx->pepper_len, KUMO_SECRET_PURPOSE_API_KEY,
                         key.secret, strlen(key.secret), hash);
    int64_t now = kumo_now_us();
    kumo_code rc = users_store_key_insert(b->c, &(struct users_key_new){
                                                    .id = key.id,
                                                    .tenant_id = tid,
                                                    .name = name,
                                                    .secret_hash = hash,
                                                    .role = KUMO__USERS__V1__ROLE__ROLE_SERVICE,
                                                    .create_us = now,
                                                });
    int err = rc == KUMO_CODE_OK ? write_secret_file(path, text) : 0;
    kumo_secret_wipe(&key, sizeof key);
    kumo_secret_wipe(text, sizeof text);
    if (rc != KUMO_CODE_OK)
        return fail_db("bootstrap: cannot create a service key");
    if (err != 0) {
        /* A key nobody holds must not stay live. */
        users_store_key_revoke_id(b->c, key.id, now);
        return fail("bootstrap: cannot write a service key file", kumo_strerror(err));
    }
    /* Rotation: keep the two newest live keys of the service. */
    rc = users_store_service_keys_retire(b->c, tid, name, now);
    if (rc != KUMO_CODE_OK)
        return fail_db("bootstrap: cannot retire old service keys");
    return say("bootstrap: service key created", name);
}

static int ensure_service_keys(struct boot *b, const char *tid)
{
    const char *list = kumo_config_string(b->cfg, "KUMO_BOOTSTRAP_SERVICES");
    const char *dir = kumo_config_string(b->cfg, "KUMO_BOOTSTRAP_KEY_DIR");
    if (list == NULL || *list == '\0')
        return 0;
    if (dir == NULL || *dir == '\0') {
        kumo_log(KUMO_LOG_WARN, NULL, "bootstrap: KUMO_BOOTSTRAP_KEY_DIR unset: no service keys",
                 NULL);
        return 0;
    }
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char name[KUMO_RPC_AUTH_SERVICE_MAX + 1];
        const char *why;
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (n == 0 || n > KUMO_RPC_AUTH_SERVICE_MAX || kumo_slug_check(p, n, 1, n, &why) != 0)
            return fail("bootstrap: bad service name in KUMO_BOOTSTRAP_SERVICES", "");
        memcpy(name, p, n);
        name[n] = '\0';
        struct kumo_buf path = KUMO_BUF_INIT;
        kumo_buf_appendf(&path, "%s/%s.apikey", dir, name);
        int rc = key_file_works(b, tid, name, (const char *)path.data)
                     ? say("bootstrap: service key kept", name)
                     : new_service_key(b, tid, name, (const char *)path.data);
        kumo_buf_free(&path);
        if (rc != 0)
            return rc;
        p = end ? end + 1 : p + strlen(p);
    }
    return 0;
}

static int run(struct boot *b)
{
    char sys[USERS_ID_MAX + 1], demo[USERS_ID_MAX + 1];
    if (ensure_tenant(b, USERS_SYSTEM_SLUG, "System", sys) != 0 ||
        ensure_admin(b, sys, "KUMO_BOOTSTRAP_ADMIN_EMAIL", "KUMO_BOOTSTRAP_ADMIN_PASSWORD") != 0)
        return -1;
    const char *slug = kumo_config_string(b->cfg, "KUMO_BOOTSTRAP_DEMO_TENANT");
    if (slug && *slug) {
        const char *name = kumo_config_string(b->cfg, "KUMO_BOOTSTRAP_DEMO_TENANT_NAME");
        if (ensure_tenant(b, slug, name ? name : slug, demo) != 0 ||
            ensure_admin(b, demo, "KUMO_BOOTSTRAP_DEMO_ADMIN_EMAIL",
                         "KUMO_BOOTSTRAP_DEMO_ADMIN_PASSWORD") != 0)
            return -1;
    }
    return ensure_service_keys(b, sys);
}

int users_cmd_bootstrap(const struct kumo_config *c, int argc, char **argv, void *ud)
{
    (void)argc;
    (void)argv;
    (void)ud;
    struct users_ctx ctx = {0};
    struct boot b = {.ctx = &ctx, .cfg = c};
    int status = 1;
    if (users_settings_load(c, &ctx.s) != 0 || users_load_pepper(&ctx, c) != 0 ||
        kumo_password_hasher_new(&ctx.hasher, &ctx.s.argon2) != 0 ||
        users_ctx_open_db(&ctx, c) != 0)
        goto out;
    if (kumo_db_acquire(ctx.db, 0, &b.c) != KUMO_CODE_OK) {
        fail_db("bootstrap: cannot connect to the database");
        goto out;
    }
    status = run(&b) == 0 ? 0 : 1;
    kumo_db_release(b.c);
out:
    users_ctx_free(&ctx);
    if (status == 0)
        kumo_log(KUMO_LOG_INFO, NULL, "bootstrap: done", NULL);
    return status;
}
