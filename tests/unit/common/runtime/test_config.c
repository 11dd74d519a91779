#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "runtime/config.h"
#include "base/errors.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct kumo_config_var vars[] = {
    {"KUMO_T_NAME", KUMO_CONFIG_STRING, "kumo", "service name", 0, 0, 0},
    {"KUMO_T_PORT", KUMO_CONFIG_INT, "7101", "RPC port", 0, 1, 65535},
    {"KUMO_T_TLS", KUMO_CONFIG_BOOL, "false", "serve TLS", 0, 0, 0},
    {"KUMO_T_TIMEOUT", KUMO_CONFIG_DURATION_MS, "5s", "request timeout", 0, 1, 3600000},
    {"KUMO_T_MAX_BODY", KUMO_CONFIG_SIZE, "4MiB", "largest body", 0, 0, 0},
    {"KUMO_T_OPTIONAL", KUMO_CONFIG_STRING, NULL, "optional thing", 0, 0, 0},
};

static const char *const all_names[] = {
    "KUMO_T_NAME",
    "KUMO_T_PORT",
    "KUMO_T_TLS",
    "KUMO_T_TIMEOUT",
    "KUMO_T_MAX_BODY",
    "KUMO_T_OPTIONAL",
    "KUMO_T_DB_PASSWORD",
    "KUMO_T_DB_PASSWORD_FILE",
    "KUMO_T_SECRET_NUM",
    "KUMO_T_REQUIRED",
    "KUMO_T_A",
    "KUMO_T_B",
    "KUMO_T_SECRET_NUM_FILE",
};

static int clean_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(all_names); i++)
        unsetenv(all_names[i]);
    return 0;
}

static struct kumo_config *load_ok(const struct kumo_config_var *v, size_t n)
{
    struct kumo_config *c = NULL;
    char *err = NULL;
    int rc = kumo_config_load(v, n, &c, &err);
    if (rc != 0)
        fail_msg("load failed: %s", err ? err : "(no message)");
    assert_null(err);
    assert_non_null(c);
    return c;
}

/* Loads expecting failure; returns the message (caller frees). */
static char *load_err(const struct kumo_config_var *v, size_t n)
{
    struct kumo_config *c = (struct kumo_config *)(uintptr_t)0x1;
    char *err = NULL;
    assert_int_equal(kumo_config_load(v, n, &c, &err), KUMO_ERR_INVALID);
    assert_ptr_equal(c, (struct kumo_config *)(uintptr_t)0x1); /* untouched */
    assert_non_null(err);
    return err;
}

static char *write_temp(const void *data, size_t len)
{
    char tmpl[] = "/tmp/kumo-config-test-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return kumo_strdup(tmpl);
}

/* ---- loading ---- */

static void test_config_defaults_apply_when_unset(void **state)
{
    (void)state;
    struct kumo_config *c = load_ok(vars, N(vars));
    assert_string_equal(kumo_config_string(c, "KUMO_T_NAME"), "kumo");
    assert_int_equal(kumo_config_int(c, "KUMO_T_PORT"), 7101);
    assert_int_equal(kumo_config_bool(c, "KUMO_T_TLS"), 0);
    assert_int_equal(kumo_config_int(c, "KUMO_T_TIMEOUT"), 5000);
    assert_string_equal(kumo_config_string(c, "KUMO_T_TIMEOUT"), "5s");
    assert_int_equal(kumo_config_int(c, "KUMO_T_MAX_BODY"), 4 * 1024 * 1024);
    assert_null(kumo_config_string(c, "KUMO_T_OPTIONAL"));
    assert_false(kumo_config_is_set(c, "KUMO_T_OPTIONAL"));
    assert_true(kumo_config_is_set(c, "KUMO_T_PORT"));
    kumo_config_free(c);
}

static void test_config_reads_environment(void **state)
{
    (void)state;
    setenv("KUMO_T_NAME", "users", 1);
    setenv("KUMO_T_PORT", "8443", 1);
    setenv("KUMO_T_TLS", "YES", 1);
    setenv("KUMO_T_TIMEOUT", "250ms", 1);
    setenv("KUMO_T_MAX_BODY", "512KiB", 1);
    setenv("KUMO_T_OPTIONAL", "x y", 1);
    struct kumo_config *c = load_ok(vars, N(vars));
    assert_string_equal(kumo_config_string(c, "KUMO_T_NAME"), "users");
    assert_int_equal(kumo_config_int(c, "KUMO_T_PORT"), 8443);
    assert_int_equal(kumo_config_bool(c, "KUMO_T_TLS"), 1);
    assert_int_equal(kumo_config_int(c, "KUMO_T_TIMEOUT"), 250);
    assert_int_equal(kumo_config_int(c, "KUMO_T_MAX_BODY"), 512 * 1024);
    assert_string_equal(kumo_config_string(c, "KUMO_T_OPTIONAL"), "x y");
    kumo_config_free(c);
}

static void test_config_empty_value_counts_as_unset(void **state)
{
    (void)state;
    setenv("KUMO_T_PORT", "", 1);
    struct kumo_config *c = load_ok(vars, N(vars));
    assert_int_equal(kumo_config_int(c, "KUMO_T_PORT"), 7101);
    kumo_config_free(c);
}

static void test_config_invalid_value_is_error_not_default(void **state)
{
    (void)state;
    setenv("KUMO_T_PORT", "71o1", 1);
    char *err = load_err(vars, N(vars));
    assert_non_null(strstr(err, "KUMO_T_PORT"));
    assert_non_null(strstr(err, "\"71o1\""));
    assert_non_null(strstr(err, "integer"));
    kumo_free(err);
}

static void test_config_out_of_range_is_error(void **state)
{
    (void)state;
    setenv("KUMO_T_PORT", "70000", 1);
    char *err = load_err(vars, N(vars));
    assert_non_null(strstr(err, "KUMO_T_PORT"));
    assert_non_null(strstr(err, "out of range [1, 65535]"));
    kumo_free(err);
    setenv("KUMO_T_PORT", "0", 1);
    err = load_err(vars, N(vars));
    assert_non_null(strstr(err, "out of range"));
    kumo_free(err);
    /* Duration ranges are in milliseconds. */
    setenv("KUMO_T_PORT", "1", 1);
    setenv("KUMO_T_TIMEOUT", "2h", 1);
    err = load_err(vars, N(vars));
    assert_non_null(strstr(err, "KUMO_T_TIMEOUT"));
    assert_non_null(strstr(err, "7200000 ms"));
    kumo_free(err);
}

static void test_config_reports_every_bad_variable(void **state)
{
    (void)state;
    setenv("KUMO_T_PORT", "abc", 1);
    setenv("KUMO_T_TLS", "maybe", 1);
    setenv("KUMO_T_MAX_BODY", "4MB", 1);
    char *err = load_err(vars, N(vars));
    assert_non_null(strstr(err, "KUMO_T_PORT"));
    assert_non_null(strstr(err, "KUMO_T_TLS"));
    assert_non_null(strstr(err, "KUMO_T_MAX_BODY"));
    assert_non_null(strstr(err, "; "));
    assert_null(strstr(err, "KUMO_T_NAME"));
    kumo_free(err);
    /* err may be NULL: the caller just wants the status. */
    struct kumo_config *c = NULL;
    assert_int_equal(kumo_config_load(vars, N(vars), &c, NULL), KUMO_ERR_INVALID);
    assert_null(c);
}

static void test_config_required_variable_missing(void **state)
{
    (void)state;
    const struct kumo_config_var v[] = {
        {"KUMO_T_REQUIRED", KUMO_CONFIG_STRING, NULL, "must be set", KUMO_CONFIG_REQUIRED, 0, 0},
    };
    char *err = load_err(v, N(v));
    assert_non_null(strstr(err, "KUMO_T_REQUIRED is required"));
    kumo_free(err);
    setenv("KUMO_T_REQUIRED", "here", 1);
    struct kumo_config *c = load_ok(v, N(v));
    assert_string_equal(kumo_config_string(c, "KUMO_T_REQUIRED"), "here");
    kumo_config_free(c);
}

static void test_config_bad_default_is_error(void **state)
{
    (void)state;
    const struct kumo_config_var v[] = {
        {"KUMO_T_A", KUMO_CONFIG_DURATION_MS, "5 seconds", "", 0, 0, 0},
        {"KUMO_T_B", KUMO_CONFIG_INT, "10", "", 0, 1, 5},
    };
    char *err = load_err(v, N(v));
    assert_non_null(strstr(err, "KUMO_T_A: default \"5 seconds\" is not a duration"));
    assert_non_null(strstr(err, "KUMO_T_B: default 10 is out of range"));
    kumo_free(err);
}

static void test_config_malformed_table_is_error(void **state)
{
    (void)state;
    const struct kumo_config_var dup[] = {
        {"KUMO_T_A", KUMO_CONFIG_STRING, NULL, "", 0, 0, 0},
        {"KUMO_T_A", KUMO_CONFIG_INT, NULL, "", 0, 0, 0},
    };
    char *err = load_err(dup, N(dup));
    assert_non_null(strstr(err, "KUMO_T_A is declared twice"));
    kumo_free(err);
    const struct kumo_config_var noname[] = {
        {NULL, KUMO_CONFIG_STRING, NULL, "", 0, 0, 0},
    };
    err = load_err(noname, N(noname));
    assert_non_null(strstr(err, "no name"));
    kumo_free(err);
    const struct kumo_config_var badtype[] = {
        {"KUMO_T_A", (enum kumo_config_type)99, "1", "", 0, 0, 0},
    };
    err = load_err(badtype, N(badtype));
    assert_non_null(strstr(err, "unknown type"));
    kumo_free(err);
}

static void test_config_empty_table_loads(void **state)
{
    (void)state;
    struct kumo_config *c = load_ok(NULL, 0);
    kumo_config_free(c);
    kumo_config_free(NULL);
}

/* ---- secrets ---- */

static const struct kumo_config_var secret_vars[] = {
    {"KUMO_T_DB_PASSWORD", KUMO_CONFIG_STRING, NULL, "database password",
     KUMO_CONFIG_SECRET | KUMO_CONFIG_REQUIRED, 0, 0},
};

static void test_config_secret_from_env(void **state)
{
    (void)state;
    setenv("KUMO_T_DB_PASSWORD", "hunter2", 1);
    struct kumo_config *c = load_ok(secret_vars, N(secret_vars));
    assert_string_equal(kumo_config_string(c, "KUMO_T_DB_PASSWORD"), "hunter2");
    kumo_config_free(c);
}

static void test_config_secret_from_file_strips_newline(void **state)
{
    (void)state;
    const char *contents[] = {"s3cret\n", "s3cret\r\n", "s3cret", "s3cret\n\n"};
    for (size_t i = 0; i < N(contents); i++) {
        char *path = write_temp(contents[i], strlen(contents[i]));
        setenv("KUMO_T_DB_PASSWORD_FILE", path, 1);
        struct kumo_config *c = load_ok(secret_vars, N(secret_vars));
        assert_string_equal(kumo_config_string(c, "KUMO_T_DB_PASSWORD"), "s3cret");
        kumo_config_free(c);
        unlink(path);
        kumo_free(path);
    }
}

static void test_config_secret_env_and_file_both_set(void **state)
{
    (void)state;
    char *path = write_temp("a\n", 2);
    setenv("KUMO_T_DB_PASSWORD", "b", 1);
    setenv("KUMO_T_DB_PASSWORD_FILE", path, 1);
    char *err = load_err(secret_vars, N(secret_vars));
    assert_non_null(strstr(err, "KUMO_T_DB_PASSWORD and KUMO_T_DB_PASSWORD_FILE"));
    kumo_free(err);
    unlink(path);
    kumo_free(path);
}

static void test_config_secret_file_problems(void **state)
{
    (void)state;
    setenv("KUMO_T_DB_PASSWORD_FILE", "/nonexistent/kumo/secret", 1);
    char *err = load_err(secret_vars, N(secret_vars));
    assert_non_null(strstr(err, "KUMO_T_DB_PASSWORD_FILE"));
    assert_non_null(strstr(err, "/nonexistent/kumo/secret"));
    assert_non_null(strstr(err, "No such file"));
    kumo_free(err);

    char *path = write_temp("ab\0cd", 5);
    setenv("KUMO_T_DB_PASSWORD_FILE", path, 1);
    err = load_err(secret_vars, N(secret_vars));
    assert_non_null(strstr(err, "NUL"));
    kumo_free(err);
    unlink(path);
    kumo_free(path);

    size_t big = 70000;
    char *data = kumo_malloc(big);
    memset(data, 'x', big);
    path = write_temp(data, big);
    kumo_free(data);
    setenv("KUMO_T_DB_PASSWORD_FILE", path, 1);
    err = load_err(secret_vars, N(secret_vars));
    assert_non_null(strstr(err, "larger"));
    kumo_free(err);
    unlink(path);
    kumo_free(path);

    /* An empty file is like an empty variable: unset, so "required" fails. */
    path = write_temp("\n", 1);
    setenv("KUMO_T_DB_PASSWORD_FILE", path, 1);
    err = load_err(secret_vars, N(secret_vars));
    assert_non_null(strstr(err, "required"));
    kumo_free(err);
    unlink(path);
    kumo_free(path);
}

static void test_config_secret_value_never_in_error(void **state)
{
    (void)state;
    const struct kumo_config_var v[] = {
        {"KUMO_T_SECRET_NUM", KUMO_CONFIG_INT, NULL, "", KUMO_CONFIG_SECRET, 0, 0},
    };
    setenv("KUMO_T_SECRET_NUM", "hunter2", 1);
    char *err = load_err(v, N(v));
    assert_non_null(strstr(err, "KUMO_T_SECRET_NUM"));
    assert_null(strstr(err, "hunter2"));
    kumo_free(err);
    char *path = write_temp("hunter3\n", 8);
    unsetenv("KUMO_T_SECRET_NUM");
    setenv("KUMO_T_SECRET_NUM_FILE", path, 1);
    err = load_err(v, N(v));
    assert_null(strstr(err, "hunter3"));
    kumo_free(err);
    unlink(path);
    kumo_free(path);
}

/* ---- parsers ---- */

static void test_config_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {{"0", 0},       {"250", 250},
                {"250ms", 250}, {"5s", 5000},
                {"2m", 120000}, {"1h", 3600000},
                {"007s", 7000}, {"2562047788015h", 2562047788015LL * 3600000}};
    for (size_t i = 0; i < N(good); i++) {
        int64_t v = -1;
        assert_int_equal(kumo_config_parse_duration_ms(good[i].s, &v), 0);
        assert_int_equal(v, good[i].ms);
    }
    const char *bad[] = {"",
                         "-1s",
                         "+1s",
                         "5 s",
                         "5S",
                         "1.5s",
                         "s",
                         "5sec",
                         "5d",
                         " 5s",
                         "5s ",
                         "ms",
                         "5mss",
                         "9223372036854775808",
                         "2562047788016h"};
    for (size_t i = 0; i < N(bad); i++) {
        int64_t v = -1;
        if (kumo_config_parse_duration_ms(bad[i], &v) != KUMO_ERR_INVALID)
            fail_msg("accepted duration \"%s\"", bad[i]);
        assert_int_equal(v, -1);
    }
    int64_t v = -1;
    assert_int_equal(kumo_config_parse_duration_ms(NULL, &v), KUMO_ERR_INVALID);
}

static void test_config_parse_size(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t bytes;
    } good[] = {{"0", 0},          {"1024", 1024},      {"10B", 10},        {"512KiB", 512 * 1024},
                {"4MiB", 4 << 20}, {"1GiB", 1LL << 30}, {"2TiB", 2LL << 40}};
    for (size_t i = 0; i < N(good); i++) {
        int64_t v = -1;
        assert_int_equal(kumo_config_parse_size(good[i].s, &v), 0);
        assert_int_equal(v, good[i].bytes);
    }
    const char *bad[] = {"", "4MB", "4M", "4 MiB", "-1", "4mib", "MiB", "1.5GiB", "9999999TiB"};
    for (size_t i = 0; i < N(bad); i++) {
        int64_t v = -1;
        if (kumo_config_parse_size(bad[i], &v) != KUMO_ERR_INVALID)
            fail_msg("accepted size \"%s\"", bad[i]);
        assert_int_equal(v, -1);
    }
}

static void test_config_parse_int_and_bool(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(kumo_config_parse_int("-42", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(kumo_config_parse_int("+7", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(kumo_config_parse_int("9223372036854775807", &v), 0);
    assert_int_equal(v, INT64_MAX);
    const char *bad_int[] = {"", " 1", "1 ", "0x10", "1e3", "9223372036854775808", "-", "abc"};
    for (size_t i = 0; i < N(bad_int); i++) {
        v = 5;
        if (kumo_config_parse_int(bad_int[i], &v) != KUMO_ERR_INVALID)
            fail_msg("accepted int \"%s\"", bad_int[i]);
        assert_int_equal(v, 5);
    }
    const char *yes[] = {"true", "TRUE", "1", "yes", "Yes"};
    const char *no[] = {"false", "False", "0", "no", "NO"};
    for (size_t i = 0; i < N(yes); i++) {
        int b = 0;
        assert_int_equal(kumo_config_parse_bool(yes[i], &b), 0);
        assert_int_equal(b, 1);
        assert_int_equal(kumo_config_parse_bool(no[i], &b), 0);
        assert_int_equal(b, 0);
    }
    const char *bad_bool[] = {"", "on", "2", "t", "truee", "yes "};
    for (size_t i = 0; i < N(bad_bool); i++) {
        int b = 7;
        assert_int_equal(kumo_config_parse_bool(bad_bool[i], &b), KUMO_ERR_INVALID);
        assert_int_equal(b, 7);
    }
    int b = 7;
    assert_int_equal(kumo_config_parse_bool(NULL, &b), KUMO_ERR_INVALID);
    assert_int_equal(kumo_config_parse_int(NULL, &v), KUMO_ERR_INVALID);
}

/* ---- help and misuse ---- */

static void test_config_print_help_lists_everything(void **state)
{
    (void)state;
    const struct kumo_config_var v[] = {
        {"KUMO_T_PORT", KUMO_CONFIG_INT, "7101", "RPC port", 0, 1, 65535},
        {"KUMO_T_DB_PASSWORD", KUMO_CONFIG_STRING, "defaultpw", "database password",
         KUMO_CONFIG_SECRET, 0, 0},
        {"KUMO_T_REQUIRED", KUMO_CONFIG_DURATION_MS, NULL, "a timeout", KUMO_CONFIG_REQUIRED, 0, 0},
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    kumo_config_print_help(f, "kumo-users", "The users service.", v, N(v));
    fclose(f);
    assert_null(strstr(text, "Usage:")); /* printed once, by the daemon */
    assert_non_null(strstr(text, "The users service."));
    assert_non_null(strstr(text, "KUMO_T_PORT  (int, default 7101, range 1..65535)"));
    assert_non_null(strstr(text, "RPC port"));
    assert_non_null(strstr(text, "KUMO_T_DB_PASSWORD  (string, secret"));
    assert_non_null(strstr(text, "KUMO_T_DB_PASSWORD_FILE"));
    assert_null(strstr(text, "defaultpw"));
    assert_non_null(strstr(text, "KUMO_T_REQUIRED  (duration, required)"));
    free(text); /* open_memstream's buffer comes from libc malloc */
}

/* Runs `fn` in a child and checks it dies of SIGABRT. */
static void expect_abort(void (*fn)(struct kumo_config *), struct kumo_config *c)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        fn(c);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void ask_unknown(struct kumo_config *c)
{
    kumo_config_string(c, "KUMO_T_NOPE");
}

static void ask_int_of_string(struct kumo_config *c)
{
    kumo_config_int(c, "KUMO_T_NAME");
}

static void ask_bool_of_int(struct kumo_config *c)
{
    kumo_config_bool(c, "KUMO_T_PORT");
}

static void test_config_misuse_aborts(void **state)
{
    (void)state;
    struct kumo_config *c = load_ok(vars, N(vars));
    expect_abort(ask_unknown, c);
    expect_abort(ask_int_of_string, c);
    expect_abort(ask_bool_of_int, c);
    kumo_config_free(c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, clean_env, clean_env)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_defaults_apply_when_unset),
        T(test_config_reads_environment),
        T(test_config_empty_value_counts_as_unset),
        T(test_config_invalid_value_is_error_not_default),
        T(test_config_out_of_range_is_error),
        T(test_config_reports_every_bad_variable),
        T(test_config_required_variable_missing),
        T(test_config_bad_default_is_error),
        T(test_config_malformed_table_is_error),
        T(test_config_empty_table_loads),
        T(test_config_secret_from_env),
        T(test_config_secret_from_file_strips_newline),
        T(test_config_secret_env_and_file_both_set),
        T(test_config_secret_file_problems),
        T(test_config_secret_value_never_in_error),
        T(test_config_parse_duration),
        T(test_config_parse_size),
        T(test_config_parse_int_and_bool),
        T(test_config_print_help_lists_everything),
        T(test_config_misuse_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
