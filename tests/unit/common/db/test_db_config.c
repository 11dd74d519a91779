/* Tests of common/db/options.c: KUMO_DB_* variables -> kumo_db_options. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "runtime/config.h"
#include "db/db.h"
#include "runtime/log.h"

static const char *const names[] = {
    "KUMO_DB_HOST",
    "KUMO_DB_PORT",
    "KUMO_DB_SOCKET",
    "KUMO_DB_USER",
    "KUMO_DB_NAME",
    "KUMO_DB_AUTH",
    "KUMO_DB_PASSWORD",
    "KUMO_DB_TLS_CA_FILE",
    "KUMO_DB_POOL_SIZE",
    "KUMO_DB_ACQUIRE_TIMEOUT",
    "KUMO_DB_CONNECT_TIMEOUT",
    "KUMO_DB_IO_TIMEOUT",
    "KUMO_DB_MAX_LIFETIME",
    "KUMO_DB_LOCK_WAIT_TIMEOUT",
};

static void clear_env(void)
{
    char file_var[64];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        unsetenv(names[i]);
        snprintf(file_var, sizeof file_var, "%s_FILE", names[i]);
        unsetenv(file_var);
    }
}

static struct kumo_config *load(void)
{
    struct kumo_config_var vars[KUMO_DB_N_CONFIG_VARS];
    struct kumo_config *c = NULL;
    char *err = NULL;
    assert_int_equal(kumo_db_config_vars(vars, KUMO_DB_N_CONFIG_VARS, "kumo_users"),
                     KUMO_DB_N_CONFIG_VARS);
    if (kumo_config_load(vars, KUMO_DB_N_CONFIG_VARS, &c, &err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        kumo_free(err);
        return NULL;
    }
    return c;
}

static void test_db_config_vars_table(void **state)
{
    struct kumo_config_var vars[KUMO_DB_N_CONFIG_VARS];
    (void)state;
    assert_int_equal(kumo_db_config_vars(vars, KUMO_DB_N_CONFIG_VARS - 1, "x"), 0);
    assert_int_equal(kumo_db_config_vars(vars, KUMO_DB_N_CONFIG_VARS, "kumo_docs"),
                     KUMO_DB_N_CONFIG_VARS);
    for (size_t i = 0; i < KUMO_DB_N_CONFIG_VARS; i++) {
        assert_non_null(vars[i].name);
        assert_string_equal(vars[i].name, names[i]);
        assert_non_null(vars[i].help);
    }
    assert_string_equal(vars[4].default_value, "kumo_docs");
    assert_true(vars[6].flags & KUMO_CONFIG_SECRET); /* the password */
}

static void test_db_config_defaults(void **state)
{
    struct kumo_config *c;
    struct kumo_db_options o;
    (void)state;
    clear_env();
    c = load();
    assert_non_null(c);
    assert_int_equal(kumo_db_options_from_config(c, &o), 0);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 3306);
    assert_null(o.unix_socket);
    assert_string_equal(o.user, "kumo");
    assert_string_equal(o.database, "kumo_users");
    assert_int_equal(o.auth, KUMO_DB_AUTH_PASSWORD);
    assert_null(o.password);
    assert_null(o.tls_ca_file);
    assert_int_equal(o.max_conns, 8);
    assert_int_equal(o.acquire_timeout_ms, 2000);
    assert_int_equal(o.connect_timeout_ms, 5000);
    assert_int_equal(o.io_timeout_ms, 30000);
    assert_int_equal(o.max_lifetime_ms, 600000);
    assert_int_equal(o.lock_wait_timeout_s, 10);
    kumo_config_free(c);
}

static void test_db_config_iam_and_password_file(void **state)
{
    char path[] = "/tmp/kumo-db-pw-XXXXXX";
    int fd = mkstemp(path);
    struct kumo_config *c;
    struct kumo_db_options o;
    struct kumo_db *db;
    (void)state;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-file\n", 10), 10);
    close(fd);
    clear_env();
    setenv("KUMO_DB_HOST", "mydb.cluster-abc.us-east-1.rds.amazonaws.com", 1);
    setenv("KUMO_DB_AUTH", "IAM", 1);
    setenv("KUMO_DB_PASSWORD_FILE", path, 1);
    setenv("KUMO_DB_TLS_CA_FILE", path, 1); /* any readable file */
    setenv("KUMO_DB_POOL_SIZE", "3", 1);
    setenv("KUMO_DB_MAX_LIFETIME", "14m", 1);
    c = load();
    assert_non_null(c);
    assert_int_equal(kumo_db_options_from_config(c, &o), 0);
    assert_int_equal(o.auth, KUMO_DB_AUTH_IAM);
    assert_string_equal(o.password, "from-file");
    assert_int_equal(o.max_conns, 3);
    assert_int_equal(o.max_lifetime_ms, 14 * 60000);
    /* IAM still needs the token function from the daemon. */
    assert_int_equal(kumo_db_new(&db, &o), KUMO_ERR_INVALID);
    kumo_config_free(c);

    setenv("KUMO_DB_AUTH", "kerberos", 1);
    c = load();
    assert_non_null(c);
    assert_int_equal(kumo_db_options_from_config(c, &o), KUMO_ERR_INVALID);
    kumo_config_free(c);
    clear_env();
    unlink(path);
}

static void test_db_daemon_vars_join_once(void **state)
{
    (void)state;
    static const struct kumo_config_var own[] = {
        {"KUMO_TEST_A", KUMO_CONFIG_STRING, "a", "first"},
        {"KUMO_TEST_B", KUMO_CONFIG_INT, "1", "second", 0, 0, 9},
    };
    size_t n = 0;
    const struct kumo_config_var *v = kumo_db_daemon_vars(own, 2, "kumo_test", &n);
    assert_non_null(v);
    assert_int_equal(n, 2 + KUMO_DB_N_CONFIG_VARS);
    assert_string_equal(v[0].name, "KUMO_TEST_A");
    assert_string_equal(v[1].name, "KUMO_TEST_B");
    int named = 0;
    for (size_t i = 2; i < n; i++)
        if (strcmp(v[i].name, "KUMO_DB_NAME") == 0) {
            assert_string_equal(v[i].default_value, "kumo_test");
            named = 1;
        }
    assert_true(named);
    size_t n2 = 0;
    assert_ptr_equal(kumo_db_daemon_vars(own, 2, "kumo_test", &n2), v); /* built once */
    assert_int_equal(n2, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_config_vars_table),
        cmocka_unit_test(test_db_daemon_vars_join_once),
        cmocka_unit_test(test_db_config_defaults),
        cmocka_unit_test(test_db_config_iam_and_password_file),
    };
    kumo_log_init("test_db_config", KUMO_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
