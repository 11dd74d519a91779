/* The schema of kumo_users, as numbered migrations embedded in the binary,
 * and the `migrate` subcommand applying them (kumo_db_migrate: GET_LOCK,
 * schema_migrations, refuses a newer schema).
 *
 * Conventions: every table InnoDB, utf8mb4 with binary collation (exact
 * round trips; case-insensitive matching is done on normalized columns);
 * ids and hashes are ASCII; times are DATETIME(6) in UTC (the pool sets the
 * session time zone); `seq` is an AUTO_INCREMENT key used for stable
 * cursor pagination; every tenant-owned row carries tenant_id and every
 * query filters on it. Never edit an applied migration: add a new one. */
#include "runtime/log.h"
#include "users.h"

#define ASCII_ID   "VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin"
#define TABLE_OPTS " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

static const char m1_tenants_users[] =
    "CREATE TABLE tenants ("
    " seq BIGINT NOT NULL AUTO_INCREMENT,"
    " id " ASCII_ID " NOT NULL,"
    " slug VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " name VARCHAR(200) NOT NULL,"
    " create_time DATETIME(6) NOT NULL,"
    " PRIMARY KEY (seq),"
    " UNIQUE KEY tenants_id (id),"
    " UNIQUE KEY tenants_slug (slug)"
    ")" TABLE_OPTS ";"
    "CREATE TABLE users ("
    " seq BIGINT NOT NULL AUTO_INCREMENT,"
    " id " ASCII_ID " NOT NULL,"
    " tenant_id " ASCII_ID " NOT NULL,"
    " email VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " email_norm VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " display_name VARCHAR(200) NOT NULL,"
    " role TINYINT NOT NULL,"
    " disabled TINYINT NOT NULL DEFAULT 0,"
    " password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " version BIGINT NOT NULL DEFAULT 1,"
    " create_time DATETIME(6) NOT NULL,"
    " update_time DATETIME(6) NOT NULL,"
    " PRIMARY KEY (seq),"
    " UNIQUE KEY users_id (id),"
    " UNIQUE KEY users_tenant_email (tenant_id, email_norm),"
    " KEY users_tenant_seq (tenant_id, seq),"
    " CONSTRAINT users_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)"
    ")" TABLE_OPTS;

static const char m2_sessions[] =
    "CREATE TABLE refresh_families ("
    " id " ASCII_ID " NOT NULL,"
    " tenant_id " ASCII_ID " NOT NULL,"
    " user_id " ASCII_ID " NOT NULL,"
    " create_time DATETIME(6) NOT NULL,"
    " expire_time DATETIME(6) NOT NULL,"
    " revoke_time DATETIME(6) NULL,"
    " revoke_reason VARCHAR(32) CHARACTER SET ascii NULL,"
    " PRIMARY KEY (id),"
    " KEY refresh_families_user (tenant_id, user_id),"
    " KEY refresh_families_expire (expire_time),"
    " KEY refresh_families_revoke (revoke_time),"
    " CONSTRAINT refresh_families_user_fk FOREIGN KEY (user_id) REFERENCES users (id)"
    "  ON DELETE CASCADE"
    ")" TABLE_OPTS ";"
    "CREATE TABLE refresh_tokens ("
    " token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " family_id " ASCII_ID " NOT NULL,"
    " create_time DATETIME(6) NOT NULL,"
    " expire_time DATETIME(6) NOT NULL,"
    " used_time DATETIME(6) NULL,"
    " PRIMARY KEY (token_hash),"
    " KEY refresh_tokens_family (family_id),"
    " CONSTRAINT refresh_tokens_family_fk FOREIGN KEY (family_id)"
    "  REFERENCES refresh_families (id) ON DELETE CASCADE"
    ")" TABLE_OPTS;

static const char m3_api_keys[] =
    "CREATE TABLE api_keys ("
    " seq BIGINT NOT NULL AUTO_INCREMENT,"
    " id CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " tenant_id " ASCII_ID " NOT NULL,"
    " name VARCHAR(200) NOT NULL,"
    " role TINYINT NOT NULL,"
    " secret_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " created_by " ASCII_ID " NULL,"
    " create_time DATETIME(6) NOT NULL,"
    " expire_time DATETIME(6) NULL,"
    " revoke_time DATETIME(6) NULL,"
    " last_used_time DATETIME(6) NULL,"
    " PRIMARY KEY (seq),"
    " UNIQUE KEY api_keys_id (id),"
    " KEY api_keys_tenant_seq (tenant_id, seq),"
    " KEY api_keys_tenant_name (tenant_id, name(64)),"
    " CONSTRAINT api_keys_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)"
    ")" TABLE_OPTS;

/* Revocations of access tokens (common/auth/revocations.h): every other process
 * follows them through GET /revocations on the admin port. Times in epoch
 * seconds, as JWT iat. */
static const char m4_revocations[] =
    "CREATE TABLE revocations ("
    " seq BIGINT NOT NULL AUTO_INCREMENT,"
    " tenant_id " ASCII_ID " NOT NULL,"
    " subject VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " not_before BIGINT NOT NULL,"
    " created BIGINT NOT NULL,"
    " reason VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,"
    " PRIMARY KEY (seq),"
    " KEY revocations_created (created)"
    ")" TABLE_OPTS ";";

static const struct kumo_db_migration migrations[] = {
    {1, "create_tenants_users", m1_tenants_users, 0},
    {2, "create_refresh_tokens", m2_sessions, 0},
    {3, "create_api_keys", m3_api_keys, 0},
    {4, "create_revocations", m4_revocations, 0},
};

const struct kumo_db_migration *users_migrations(size_t *n)
{
    *n = sizeof migrations / sizeof migrations[0];
    return migrations;
}

int users_cmd_migrate(const struct kumo_config *c, int argc, char **argv, void *ud)
{
    (void)argc;
    (void)argv;
    (void)ud;
    struct users_ctx ctx = {0};
    if (users_ctx_open_db(&ctx, c) != 0)
        return 1;
    struct kumo_db_migrate_result res = {0};
    size_t n;
    const struct kumo_db_migration *m = users_migrations(&n);
    kumo_code rc =
        kumo_db_migrate(ctx.db, m, n, kumo_config_int(c, "KUMO_MIGRATE_LOCK_TIMEOUT"), &res);
    if (rc != KUMO_CODE_OK) {
        kumo_log(KUMO_LOG_ERROR, NULL, "migrate failed", "code", kumo_code_name(rc), "error",
                 kumo_db_last_error()->message, NULL);
        users_ctx_free(&ctx);
        return 1;
    }
    users_ctx_free(&ctx);
    kumo_logf(KUMO_LOG_INFO, NULL, "migrate: schema at version %lld (was %lld, applied %zu)",
              (long long)res.to_version, (long long)res.from_version, res.applied);
    return 0;
}
