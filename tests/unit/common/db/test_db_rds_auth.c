/* The IAM glue: tokens minted by the password callback verify as RDS
 * tokens for the configured host, port and user; kumo_db_open_config wires
 * the callback only in IAM mode and refuses a half-configured IAM setup.
 * (The pool's IAM handshake itself, TLS and the cleartext plugin are
 * covered by test_db_iam.c against a real MariaDB.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/config.h"
#include "db/rds_auth.h"
#include "base/errors.h"
#include "runtime/log.h"
#include "aws/rds_token.h"

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define HOST   "mydb.cluster-abc.us-east-1.rds.amazonaws.com"

static struct kumo_aws_credentials creds = {AKID, SECRET, NULL, 0};

static const struct kumo_aws_credentials *lookup(void *ctx, const char *id)
{
    (void)ctx;
    return strcmp(id, AKID) == 0 ? &creds : NULL;
}

static void clear_aws_env(void)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_ROLE_ARN",
                          "AWS_WEB_IDENTITY_TOKEN_FILE",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_REGION",
                          "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void test_db_rds_auth_mints_verifiable_tokens(void **state)
{
    (void)state;
    clear_aws_env();
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    struct kumo_db_rds_auth *a = NULL;
    assert_int_equal(kumo_db_rds_auth_new(&a, "us-east-1", HOST, 3306, "jane_doe", NULL), 0);
    struct kumo_buf tok = KUMO_BUF_INIT;
    assert_int_equal(kumo_db_rds_auth_password(a, &tok), 0);
    assert_int_equal(kumo_db_rds_auth_tokens(a), 1);
    const char *prefix = HOST ":3306/?Action=connect&DBUser=jane_doe&";
    assert_true(strncmp((char *)tok.data, prefix, strlen(prefix)) == 0);
    struct kumo_rds_token_check chk = {"us-east-1", HOST ":3306", "jane_doe", lookup, NULL};
    struct kumo_sigv4_verify_result res = {0};
    assert_int_equal(kumo_rds_token_verify(&chk, (char *)tok.data, tok.len, time(NULL), &res), 0);
    kumo_sigv4_verify_result_free(&res);
    /* The same token is refused for another user or port. */
    struct kumo_rds_token_check other = {"us-east-1", HOST ":3307", "jane_doe", lookup, NULL};
    assert_int_not_equal(kumo_rds_token_verify(&other, (char *)tok.data, tok.len, time(NULL), &res),
                         0);
    kumo_sigv4_verify_result_free(&res);
    kumo_buf_free(&tok);
    kumo_db_rds_auth_free(a);
    clear_aws_env();
}

static void test_db_rds_auth_new_needs_credentials_and_arguments(void **state)
{
    (void)state;
    clear_aws_env();
    struct kumo_db_rds_auth *a = (struct kumo_db_rds_auth *)&a;
    assert_int_equal(kumo_db_rds_auth_new(&a, "us-east-1", HOST, 3306, "u", NULL),
                     KUMO_ERR_NOT_FOUND);
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    assert_int_equal(kumo_db_rds_auth_new(&a, "", HOST, 3306, "u", NULL), KUMO_ERR_INVALID);
    assert_int_equal(kumo_db_rds_auth_new(&a, "us-east-1", HOST, 0, "u", NULL), KUMO_ERR_INVALID);
    assert_int_equal(kumo_db_rds_auth_new(&a, "us-east-1", HOST, 3306, NULL, NULL),
                     KUMO_ERR_INVALID);
    assert_ptr_equal(a, (struct kumo_db_rds_auth *)&a);
    kumo_db_rds_auth_free(NULL);
    clear_aws_env();
}

/* Loads the KUMO_DB_* variables from the environment. */
static struct kumo_config *db_config(void)
{
    struct kumo_config_var vars[KUMO_DB_N_CONFIG_VARS];
    assert_int_equal(kumo_db_config_vars(vars, KUMO_DB_N_CONFIG_VARS, "kumo_test"),
                     KUMO_DB_N_CONFIG_VARS);
    struct kumo_config *c = NULL;
    char *err = NULL;
    assert_int_equal(kumo_config_load(vars, KUMO_DB_N_CONFIG_VARS, &c, &err), 0);
    return c;
}

static void test_db_rds_auth_open_config(void **state)
{
    (void)state;
    char ca[] = "/tmp/kumo-rds-ca-XXXXXX";
    int fd = mkstemp(ca);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not checked until connect\n", 26), 26);
    close(fd);
    clear_aws_env();
    setenv("KUMO_DB_HOST", HOST, 1);
    setenv("KUMO_DB_USER", "jane_doe", 1);
    setenv("KUMO_DB_PASSWORD", "pw", 1);
    unsetenv("KUMO_DB_AUTH");
    unsetenv("KUMO_DB_TLS_CA_FILE");
    struct kumo_config *c = db_config();
    struct kumo_db *db = NULL;
    struct kumo_db_rds_auth *iam = (struct kumo_db_rds_auth *)&db;
    assert_int_equal(kumo_db_open_config(c, NULL, &db, &iam), 0);
    assert_non_null(db);
    assert_null(iam); /* password mode: no minter */
    kumo_db_free(db);
    kumo_config_free(c);

    setenv("KUMO_DB_AUTH", "iam", 1);
    setenv("KUMO_DB_TLS_CA_FILE", ca, 1);
    unsetenv("KUMO_DB_PASSWORD");
    c = db_config();
    db = NULL;
    /* No credentials source, then no region: refused, outputs untouched. */
    setenv("AWS_REGION", "us-east-1", 1);
    assert_int_equal(kumo_db_open_config(c, NULL, &db, &iam), KUMO_ERR_NOT_FOUND);
    unsetenv("AWS_REGION");
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    assert_int_equal(kumo_db_open_config(c, NULL, &db, &iam), KUMO_ERR_INVALID);
    assert_null(db);
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    assert_int_equal(kumo_db_open_config(c, NULL, &db, &iam), 0);
    assert_non_null(iam);
    struct kumo_buf tok = KUMO_BUF_INIT;
    assert_int_equal(kumo_db_rds_auth_password(iam, &tok), 0);
    assert_non_null(strstr((char *)tok.data, "%2Feu-west-1%2Frds-db%2F"));
    kumo_buf_free(&tok);
    kumo_db_free(db);
    kumo_db_rds_auth_free(iam);
    /* An explicit region wins over the environment. */
    assert_int_equal(kumo_db_open_config(c, "ap-south-1", &db, &iam), 0);
    assert_int_equal(kumo_db_rds_auth_password(iam, &tok), 0);
    assert_non_null(strstr((char *)tok.data, "%2Fap-south-1%2F"));
    kumo_buf_free(&tok);
    kumo_db_free(db);
    kumo_db_rds_auth_free(iam);
    kumo_config_free(c);
    clear_aws_env();
    unlink(ca);
}

int main(void)
{
    kumo_log_init("test", KUMO_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_rds_auth_mints_verifiable_tokens),
        cmocka_unit_test(test_db_rds_auth_new_needs_credentials_and_arguments),
        cmocka_unit_test(test_db_rds_auth_open_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
