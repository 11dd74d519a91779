/* validate.c: the pure checks of request fields (content types, file
 * names, tags) that the handlers and the fuzzer share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "documents.h"

static int ct(const char *s)
{
    const char *why = NULL;
    int rc = docs_content_type_valid(s, strlen(s), &why);
    assert_non_null(why);
    return rc;
}

static void test_docs_validate_content_types(void **state)
{
    (void)state;
    assert_int_equal(ct("text/plain"), 0);
    assert_int_equal(ct("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                     0);
    assert_int_equal(ct("text/plain; charset=utf-8"), 0);
    assert_int_equal(ct("text/plain;charset=\"utf-8\""), 0);
    assert_int_equal(ct(""), -1);
    assert_int_equal(ct("text"), -1);
    assert_int_equal(ct("text/"), -1);
    assert_int_equal(ct("/plain"), -1);
    assert_int_equal(ct("text/plain\r\nX-Injected: 1"), -1);
    assert_int_equal(ct("text/pl ain"), -1);
    char longer[300];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    longer[10] = '/';
    const char *why;
    assert_int_equal(docs_content_type_valid(longer, strlen(longer), &why), -1);
    assert_string_equal(why, "is longer than 255 characters");
}

static int fname(const char *s, size_t n, const char **why)
{
    return docs_file_name_valid(s, n, why);
}

static void test_docs_validate_file_names(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(fname("report.pdf", 10, &why), 0);
    assert_int_equal(fname("Übersicht 2026.xlsx", strlen("Übersicht 2026.xlsx"), &why), 0);
    assert_int_equal(fname("a/b", 3, &why), -1);
    assert_string_equal(why, "must not contain '/' or '\\'");
    assert_int_equal(fname("a\\b", 3, &why), -1);
    assert_int_equal(fname(".", 1, &why), -1);
    assert_int_equal(fname("..", 2, &why), -1);
    assert_int_equal(fname("...", 3, &why), 0);
    assert_int_equal(fname("", 0, &why), -1);
    assert_int_equal(fname("a\0b", 3, &why), -1);
    assert_int_equal(fname("\xff", 1, &why), -1); /* not UTF-8 */
}

static void test_docs_validate_tags(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(docs_tag_valid("finance", 7, &why), 0);
    assert_int_equal(docs_tag_valid("q3-2026", 7, &why), 0);
    assert_int_equal(docs_tag_valid("two words", 9, &why), -1);
    assert_string_equal(why, "must not contain blanks");
    assert_int_equal(docs_tag_valid("tab\there", 8, &why), -1);
    assert_int_equal(docs_tag_valid("", 0, &why), -1);
    char longer[66];
    memset(longer, 't', 65);
    longer[65] = '\0';
    assert_int_equal(docs_tag_valid(longer, 65, &why), -1);
    assert_int_equal(docs_tag_valid(longer, 64, &why), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_validate_content_types),
        cmocka_unit_test(test_docs_validate_file_names),
        cmocka_unit_test(test_docs_validate_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
