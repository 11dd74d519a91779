#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/content_disposition.h"

static char *cd(const char *name)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_content_disposition_attachment(name, strlen(name), &b);
    return kumo_buf_steal(&b, NULL);
}

static void expect(const char *name, const char *want)
{
    char *got = cd(name);
    assert_string_equal(got, want);
    free(got);
}

static void test_content_disposition_ascii(void **state)
{
    (void)state;
    expect("report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
    expect("a b.txt", "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt");
}

static void test_content_disposition_quotes_and_backslash(void **state)
{
    (void)state;
    expect("x\"y\\z;.txt",
           "attachment; filename=\"x_y_z;.txt\"; filename*=UTF-8''x%22y%5Cz%3B.txt");
}

static void test_content_disposition_utf8(void **state)
{
    (void)state;
    /* "été.txt", and a 4-byte emoji counted as one character. */
    expect("\xc3\xa9t\xc3\xa9.txt",
           "attachment; filename=\"_t_.txt\"; filename*=UTF-8''%C3%A9t%C3%A9.txt");
    expect("\xf0\x9f\x98\x80", "attachment; filename=\"_\"; filename*=UTF-8''%F0%9F%98%80");
}

static void test_content_disposition_control_and_empty(void **state)
{
    (void)state;
    expect("a\tb", "attachment; filename=\"a_b\"; filename*=UTF-8''a%09b");
    expect("", "attachment; filename=\"download\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_disposition_ascii),
        cmocka_unit_test(test_content_disposition_quotes_and_backslash),
        cmocka_unit_test(test_content_disposition_utf8),
        cmocka_unit_test(test_content_disposition_control_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
