/* config.c (kumo-documents): settings from the KUMO_* variables and the
 * part size of multipart uploads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "documents.h"

#define MIB (1024LL * 1024)

static void test_docs_config_defaults_load(void **state)
{
    (void)state;
    size_t n;
    const struct kumo_config_var *vars = docs_config_vars(&n);
    struct kumo_config *c = NULL;
    char *err = NULL;
    assert_int_equal(kumo_config_load(vars, n, &c, &err), 0);
    struct docs_settings s;
    assert_int_equal(docs_settings_load(c, &s), 0);
    assert_string_equal(s.jwt.issuer, "kumo-users");
    assert_string_equal(s.jwt.service_callers, "");
    assert_int_equal(s.jwt.leeway_s, 30);
    assert_int_equal(s.multipart_threshold, 100 * MIB);
    assert_int_equal(s.multipart_part_size, 64 * MIB);
    assert_int_equal(s.jobs_workers, 2);
    kumo_config_free(c);
    setenv("KUMO_JOBS_BACKOFF_BASE", "10m", 1); /* above the 5m maximum */
    assert_int_equal(kumo_config_load(vars, n, &c, &err), 0);
    assert_int_equal(docs_settings_load(c, &s), -1);
    kumo_config_free(c);
    unsetenv("KUMO_JOBS_BACKOFF_BASE");
    kumo_free(err);
}

static void test_docs_config_part_size(void **state)
{
    (void)state;
    struct docs_settings s;
    memset(&s, 0, sizeof s);
    s.multipart_part_size = 16 * MIB;
    int32_t count;
    assert_int_equal(docs_part_size(&s, 100 * MIB, &count), 16 * MIB);
    assert_int_equal(count, 7);
    assert_int_equal(docs_part_size(&s, 0, &count), 16 * MIB);
    assert_int_equal(count, 1);
    /* 5 TiB in at most 10000 parts: grown to whole MiB. */
    int64_t size = 5LL * 1024 * 1024 * MIB;
    int64_t ps = docs_part_size(&s, size, &count);
    assert_true(count <= DOCS_PARTS_MAX);
    assert_int_equal(ps % MIB, 0);
    assert_true((int64_t)count * ps >= size);
    s.multipart_part_size = 1; /* never below S3's 5 MiB */
    assert_int_equal(docs_part_size(&s, 100 * MIB, &count), DOCS_MIN_PART_SIZE);
    /* The default 64 MiB: 1 GiB in 16 parts; a file under 6 parts of it
     * gets 6 smaller ones (whole MiB), never below 5 MiB. */
    s.multipart_part_size = 64 * MIB;
    assert_int_equal(docs_part_size(&s, 1024 * MIB, &count), 64 * MIB);
    assert_int_equal(count, 16);
    assert_int_equal(docs_part_size(&s, 384 * MIB, &count), 64 * MIB);
    assert_int_equal(count, 6);
    assert_int_equal(docs_part_size(&s, 100 * MIB, &count), 17 * MIB);
    assert_int_equal(count, 6);
    assert_int_equal(docs_part_size(&s, 200 * MIB + 1, &count), 34 * MIB);
    assert_int_equal(count, 6);
    assert_int_equal(docs_part_size(&s, 7 * MIB, &count), DOCS_MIN_PART_SIZE);
    assert_int_equal(count, 2);
    assert_int_equal(docs_part_size(&s, 0, &count), 64 * MIB);
    assert_int_equal(count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_config_defaults_load),
        cmocka_unit_test(test_docs_config_part_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
