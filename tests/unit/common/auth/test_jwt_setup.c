/* auth/jwt_setup.c: the KUMO_JWT_* settings every token-verifying daemon
 * lists, their loading and its refusals, and a set-up that starts and
 * stops cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/jwt_setup.h"
#include "base/alloc.h"

static const struct kumo_config_var vars[] = {
    KUMO_JWT_SETUP_CONFIG_VARS,
    KUMO_JWT_SETUP_CALLERS_VAR("documents", "service principals allowed to call"),
};

static const char *const names[] = {
    "KUMO_JWT_ISSUER",    "KUMO_JWT_AUDIENCE", "KUMO_JWT_LEEWAY",       "KUMO_JWT_MAX_TTL",
    "KUMO_JWT_JWKS_FILE", "KUMO_JWT_JWKS_URL", "KUMO_JWT_JWKS_REFRESH", "KUMO_SERVICE_CALLERS"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

static struct kumo_config *load(void)
{
    struct kumo_config *c = NULL;
    char *err = NULL;
    int rc = kumo_config_load(vars, sizeof vars / sizeof vars[0], &c, &err);
    if (rc != 0)
        fprintf(stderr, "config: %s\n", err ? err : "?");
    kumo_free(err);
    return rc == 0 ? c : NULL;
}

static void test_jwt_setup_table_lists_the_eight_settings(void **state)
{
    (void)state;
    assert_int_equal(sizeof vars / sizeof vars[0], 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(vars[i].name, names[i]);
}

static void test_jwt_setup_defaults(void **state)
{
    (void)state;
    clear_env();
    struct kumo_config *c = load();
    assert_non_null(c);
    struct kumo_jwt_settings s;
    assert_int_equal(kumo_jwt_settings_load(c, &s), 0);
    assert_string_equal(s.issuer, "kumo-users");
    assert_string_equal(s.audience, "kumo");
    assert_int_equal(s.leeway_s, 30);
    assert_int_equal(s.max_ttl_s, 24 * 3600);
    assert_null(s.jwks_file);
    assert_string_equal(s.jwks_url, "http://127.0.0.1:9101/.well-known/jwks.json");
    assert_int_equal(s.jwks_refresh_ms, 300000);
    assert_string_equal(s.service_callers, "documents");
    kumo_config_free(c);
}

/* Loads with the default of variable `name` removed (an empty value in
 * the environment counts as unset, so only a table can leave it empty). */
static struct kumo_config *load_without_default(const char *name)
{
    struct kumo_config_var v[sizeof vars / sizeof vars[0]];
    memcpy(v, vars, sizeof vars);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strcmp(v[i].name, name) == 0)
            v[i].default_value = NULL;
    struct kumo_config *c = NULL;
    assert_int_equal(kumo_config_load(v, sizeof v / sizeof v[0], &c, NULL), 0);
    return c;
}

static void test_jwt_setup_refuses_what_cannot_verify(void **state)
{
    (void)state;
    clear_env();
    struct kumo_jwt_settings s;
    struct kumo_config *c = load_without_default("KUMO_JWT_ISSUER");
    assert_int_equal(kumo_jwt_settings_load(c, &s), -1);
    kumo_config_free(c);
    c = load_without_default("KUMO_JWT_JWKS_URL"); /* no JWKS file nor URL */
    assert_int_equal(kumo_jwt_settings_load(c, &s), -1);
    kumo_config_free(c);
    setenv("KUMO_JWT_LEEWAY", "10m", 1); /* above the table's 300 s */
    assert_null(load());
    clear_env();
}

static void test_jwt_setup_starts_and_stops(void **state)
{
    (void)state;
    char path[] = "/tmp/kumo-jwks-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"keys\":[]}", 11), 11);
    close(fd);
    clear_env();
    setenv("KUMO_JWT_JWKS_FILE", path, 1);
    struct kumo_config *c = load();
    assert_non_null(c);
    struct kumo_jwt_settings s;
    assert_int_equal(kumo_jwt_settings_load(c, &s), 0);
    struct kumo_jwt_setup js = KUMO_JWT_SETUP_INIT;
    assert_int_equal(kumo_jwt_setup_start(&js, &s, NULL, NULL), 0);
    assert_non_null(js.verifier);
    assert_non_null(js.auth);
    assert_non_null(js.jwks);
    kumo_jwt_setup_stop(&js);
    assert_null(js.verifier);
    kumo_jwt_setup_stop(&js); /* idempotent */
    /* A bad allowlist is refused, and what was made is still freed. */
    s.service_callers = "Not A Service!";
    assert_int_equal(kumo_jwt_setup_start(&js, &s, NULL, NULL), -1);
    kumo_jwt_setup_stop(&js);
    kumo_config_free(c);
    unlink(path);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_setup_table_lists_the_eight_settings),
        cmocka_unit_test(test_jwt_setup_defaults),
        cmocka_unit_test(test_jwt_setup_refuses_what_cannot_verify),
        cmocka_unit_test(test_jwt_setup_starts_and_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
