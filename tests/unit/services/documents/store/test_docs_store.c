/* The store/ files' pure parts: document numbers and their calendar year,
 * and the object key naming of versions (store/documents.c,
 * store/versions.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/documents.h"
#include "store/versions.h"

static void test_docs_store_numbers(void **state)
{
    (void)state;
    char out[24];
    docs_doc_number(2026, 123, out);
    assert_string_equal(out, "DOC-2026-000123");
    docs_doc_number(2026, 1234567, out); /* a seventh digit when needed */
    assert_string_equal(out, "DOC-2026-1234567");
    docs_doc_number(999, 1, out);
    assert_string_equal(out, "DOC-0999-000001");
}

static void test_docs_store_utc_year(void **state)
{
    (void)state;
    assert_int_equal(docs_utc_year(0), 1970);
    /* 2025-12-31T23:59:59Z and a second later (UTC, whatever TZ says). */
    setenv("TZ", "Pacific/Kiritimati", 1);
    assert_int_equal(docs_utc_year(1767225599LL * 1000000), 2025);
    assert_int_equal(docs_utc_year(1767225600LL * 1000000), 2026);
    unsetenv("TZ");
}

static void test_docs_store_version_keys(void **state)
{
    (void)state;
    char key[64];
    assert_int_equal(docs_version_key(key, sizeof key, "tn_1", "doc_2", 3), 17);
    assert_string_equal(key, "t/tn_1/d/doc_2/v3");
    /* Truncated to fit, terminated, the full length reported. */
    char small[8];
    assert_int_equal(docs_version_key(small, sizeof small, "tn_1", "doc_2", 12), 18);
    assert_string_equal(small, "t/tn_1/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_store_numbers),
        cmocka_unit_test(test_docs_store_utc_year),
        cmocka_unit_test(test_docs_store_version_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
