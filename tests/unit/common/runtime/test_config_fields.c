/* kumo_config_fill: the rows of a variable table fill the members they
 * name by each variable's type, with the ms -> s / us and "" -> NULL
 * conversions; rows naming no member are skipped; a row its member cannot
 * hold aborts. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/config_fields.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct settings {
    const char *name, *empty, *empty_null;
    int port, off;
    unsigned uport;
    int tls;
    int64_t ttl_ms, ttl_s, ttl_us;
    int64_t body;
    int32_t body32;
    short tiny;
};

#define TO(m) KUMO_CONFIG_TO(struct settings, m)
static const struct kumo_config_var vars[] = {
    {"KUMO_F_NAME", KUMO_CONFIG_STRING, "kumo", "a string", TO(name)},
    {"KUMO_F_EMPTY", KUMO_CONFIG_STRING, "", "an empty string", TO(empty)},
    {"KUMO_F_PORT", KUMO_CONFIG_INT, "7101", "an int", 0, -1, 65535, TO(port)},
    {"KUMO_F_OFF", KUMO_CONFIG_INT, "-1", "a negative int", 0, -1, 65535, TO(off)},
    {"KUMO_F_TLS", KUMO_CONFIG_BOOL, "true", "a bool", TO(tls)},
    {"KUMO_F_TTL", KUMO_CONFIG_DURATION_MS, "90500ms", "a duration", TO(ttl_ms)},
    {"KUMO_F_BODY", KUMO_CONFIG_SIZE, "5GiB", "a size", TO(body)},
    {"KUMO_F_UNBOUND", KUMO_CONFIG_STRING, "x", "read by name elsewhere"},
};

/* More members filled from the same variables (a second table over the
 * same loaded config): conversions and 4-byte members. */
static const struct kumo_config_var more[] = {
    {"KUMO_F_EMPTY", KUMO_CONFIG_STRING, "", "", KUMO_CONFIG_TO_OPT(struct settings, empty_null)},
    {"KUMO_F_PORT", KUMO_CONFIG_INT, "", "", TO(uport)},
    {"KUMO_F_TTL", KUMO_CONFIG_DURATION_MS, "", "", KUMO_CONFIG_TO_S(struct settings, ttl_s)},
    {"KUMO_F_TTL", KUMO_CONFIG_DURATION_MS, "", "", KUMO_CONFIG_TO_US(struct settings, ttl_us)},
};

static struct kumo_config *load(void)
{
    struct kumo_config *c = NULL;
    assert_int_equal(kumo_config_load(vars, N(vars), &c, NULL), 0);
    return c;
}

static void test_fill(void **state)
{
    (void)state;
    struct kumo_config *c = load();
    struct settings s = {0};
    kumo_config_fill(c, &s, vars, N(vars));
    kumo_config_fill(c, &s, more, N(more));
    assert_string_equal(s.name, "kumo");
    assert_string_equal(s.empty, "");
    assert_null(s.empty_null);
    assert_int_equal(s.port, 7101);
    assert_int_equal(s.off, -1);
    assert_int_equal(s.uport, 7101);
    assert_int_equal(s.tls, 1);
    assert_int_equal(s.ttl_ms, 90500);
    assert_int_equal(s.ttl_s, 90);
    assert_int_equal(s.ttl_us, 90500000);
    assert_int_equal(s.body, 5LL << 30);
    kumo_config_free(c);
}

/* Fills `row` in a child and checks it dies of SIGABRT. */
static void expect_abort(struct kumo_config *c, struct kumo_config_var row)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        struct settings s = {0};
        kumo_config_fill(c, &s, &row, 1);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

#define ROW(name, to) ((struct kumo_config_var){name, KUMO_CONFIG_STRING, NULL, "", to})

static void test_misfit_rows_abort(void **state)
{
    (void)state;
    struct kumo_config *c = load();
    expect_abort(c, ROW("KUMO_F_NAME", TO(port)));   /* string -> int */
    expect_abort(c, ROW("KUMO_F_TLS", TO(name)));    /* bool -> pointer */
    expect_abort(c, ROW("KUMO_F_PORT", TO(tiny)));   /* 2-byte member */
    expect_abort(c, ROW("KUMO_F_BODY", TO(body32))); /* 5 GiB in 32 bits */
    expect_abort(c, ROW("KUMO_F_BODY", KUMO_CONFIG_TO_S(struct settings, body))); /* no duration */
    expect_abort(c, ROW("KUMO_F_NOPE", TO(name)));                                /* undeclared */
    kumo_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_misfit_rows_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
