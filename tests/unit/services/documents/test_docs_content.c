/* content.c (kumo-documents): the pending version new content becomes,
 * multipart above the threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "documents.h"
#include "store/versions.h"

#define MIB (1024LL * 1024)

static void test_docs_content_pending_version(void **state)
{
    (void)state;
    struct docs_settings s;
    memset(&s, 0, sizeof s);
    s.multipart_threshold = 100 * MIB;
    s.multipart_part_size = 16 * MIB;
    struct docs_new_content n = {"a.bin", "application/octet-stream", 100 * MIB, {0, NULL}};
    struct docs_version_new v;
    docs_pending_version(&s, "tn_1", "doc_1", 2, &n, "us_1", 42, &v);
    assert_false(v.multipart); /* at the threshold: one PUT */
    assert_int_equal(v.part_count, 0);
    assert_int_equal(v.version, 2);
    assert_string_equal(v.creator_id, "us_1");
    assert_int_equal(v.now_us, 42);
    n.size = 100 * MIB + 1;
    docs_pending_version(&s, "tn_1", "doc_1", 2, &n, "us_1", 42, &v);
    assert_true(v.multipart);
    assert_int_equal(v.part_size, 16 * MIB);
    assert_int_equal(v.part_count, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_content_pending_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
