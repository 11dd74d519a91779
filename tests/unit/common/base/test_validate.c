#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "base/buf.h"
#include "base/validate.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_validate_utf8_accepts_well_formed(void **state)
{
    (void)state;
    assert_true(kumo_utf8_valid(S("")));
    assert_true(kumo_utf8_valid(S("plain ascii")));
    assert_true(kumo_utf8_valid(S("caf\xc3\xa9")));              /* U+00E9 */
    assert_true(kumo_utf8_valid(S("\xe4\xb8\x96\xe7\x95\x8c"))); /* U+4E16 U+754C */
    assert_true(kumo_utf8_valid(S("\xf0\x9f\x98\x80")));         /* U+1F600 */
    assert_true(kumo_utf8_valid(S("\xed\x9f\xbf")));             /* U+D7FF */
    assert_true(kumo_utf8_valid(S("\xee\x80\x80")));             /* U+E000 */
    assert_true(kumo_utf8_valid(S("\xf4\x8f\xbf\xbf")));         /* U+10FFFF */
    assert_true(kumo_utf8_valid(S("a\0b")));                     /* NUL is UTF-8 */
}

static void test_validate_utf8_rejects_what_mariadb_lets_through(void **state)
{
    (void)state;
    assert_false(kumo_utf8_valid(S("\x80")));             /* lone continuation */
    assert_false(kumo_utf8_valid(S("\xc0\xaf")));         /* overlong '/' */
    assert_false(kumo_utf8_valid(S("\xc1\xbf")));         /* overlong */
    assert_false(kumo_utf8_valid(S("\xe0\x80\xaf")));     /* overlong 3-byte */
    assert_false(kumo_utf8_valid(S("\xf0\x80\x80\xaf"))); /* overlong 4-byte */
    assert_false(kumo_utf8_valid(S("\xed\xa0\x80")));     /* surrogate U+D800 */
    assert_false(kumo_utf8_valid(S("\xed\xbf\xbf")));     /* surrogate U+DFFF */
    assert_false(kumo_utf8_valid(S("\xf4\x90\x80\x80"))); /* U+110000 */
    assert_false(kumo_utf8_valid(S("\xf5\x80\x80\x80")));
    assert_false(kumo_utf8_valid(S("\xff")));
    assert_false(kumo_utf8_valid(S("\xe2\x82")));       /* truncated */
    assert_false(kumo_utf8_valid(S("ok\xf0\x9f\x98"))); /* truncated at the end */
    assert_false(kumo_utf8_valid(S("\xc3\x28")));       /* bad continuation */
}

static void test_validate_utf8_count(void **state)
{
    (void)state;
    assert_int_equal(kumo_utf8_count(S("")), 0);
    assert_int_equal(kumo_utf8_count(S("abc")), 3);
    assert_int_equal(kumo_utf8_count(S("caf\xc3\xa9 \xf0\x9f\x98\x80")), 6);
}

static void test_validate_text_check(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(kumo_text_check(S("Robert'); DROP TABLE x;--"), 200, 800, 0, &why), 0);
    assert_int_equal(kumo_text_check(S(""), 10, 10, 0, &why), KUMO_ERR_INVALID);
    assert_string_equal(why, "must not be empty");
    assert_int_equal(kumo_text_check(S(""), 10, 10, KUMO_TEXT_ALLOW_EMPTY, &why), 0);
    assert_int_equal(kumo_text_check(S("a\0b"), 10, 10, 0, &why), KUMO_ERR_INVALID);
    assert_string_equal(why, "contains a NUL byte");
    assert_int_equal(kumo_text_check(S("a\xed\xa0\x80"), 10, 10, 0, &why), KUMO_ERR_INVALID);
    assert_string_equal(why, "is not valid UTF-8");
    assert_int_equal(kumo_text_check(S("a\nb"), 10, 10, 0, &why), KUMO_ERR_INVALID);
    assert_string_equal(why, "contains a control character");
    assert_int_equal(kumo_text_check(S("a\nb\tc\r"), 10, 10, KUMO_TEXT_MULTILINE, &why), 0);
    assert_int_equal(kumo_text_check(S("a\x7f"), 10, 10, KUMO_TEXT_MULTILINE, &why),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_text_check(S("a\xc2\x85"), 10, 10, 0, &why), KUMO_ERR_INVALID); /* NEL */
    assert_int_equal(kumo_text_check(S("a\xc2\xa0"), 10, 10, 0, &why), 0);                /* NBSP */
    /* Limits count code points and bytes separately. */
    assert_int_equal(kumo_text_check(S("\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), 2, 8, 0, &why), 0);
    assert_int_equal(kumo_text_check(S("\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), 1, 8, 0, &why),
                     KUMO_ERR_INVALID);
    assert_string_equal(why, "is too long");
    assert_int_equal(kumo_text_check(S("\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), 2, 7, 0, &why),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_text_check(NULL, 0, 1, 1, KUMO_TEXT_ALLOW_EMPTY, NULL), 0);
    assert_int_equal(kumo_text_check(NULL, 3, 1, 1, 0, NULL), KUMO_ERR_INVALID);
}

static void test_validate_email_accepts_and_normalizes(void **state)
{
    (void)state;
    char norm[KUMO_EMAIL_MAX + 1];
    const char *why = NULL;
    assert_int_equal(kumo_email_check(S("Alice@Acme.Example"), norm, &why), 0);
    assert_string_equal(norm, "alice@acme.example");
    assert_int_equal(kumo_email_check(S("o'brien+tag@mail.example.co"), norm, &why), 0);
    assert_string_equal(norm, "o'brien+tag@mail.example.co");
    assert_int_equal(kumo_email_check(S("a.b.c@xn--bcher-kva.example"), norm, &why), 0);
    assert_int_equal(kumo_email_check(S("x@a-b.c1"), NULL, &why), 0);
}

static void test_validate_email_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "plain",
                         "@example.com",
                         "a@",
                         "a@@b.com",
                         "a@b@c.com",
                         ".a@b.com",
                         "a.@b.com",
                         "a..b@c.com",
                         "a b@c.com",
                         "\"quoted\"@c.com",
                         "a@localhost",
                         "a@-b.com",
                         "a@b-.com",
                         "a@b..com",
                         "a@b.123",
                         "a@b_c.com",
                         "caf\xc3\xa9@b.com",
                         "a@b.com\n",
                         "a\0b@c.com"};
    char norm[KUMO_EMAIL_MAX + 1];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        size_t n = strlen(bad[i]);
        if (i == sizeof bad / sizeof bad[0] - 1)
            n = 9; /* with the NUL inside */
        assert_int_equal(kumo_email_check(bad[i], n, norm, &why), KUMO_ERR_INVALID);
        assert_non_null(why);
    }
    char longlocal[80];
    memset(longlocal, 'a', 65);
    memcpy(longlocal + 65, "@b.com", 7);
    assert_int_equal(kumo_email_check(longlocal, strlen(longlocal), norm, NULL), KUMO_ERR_INVALID);
    char huge[300];
    memset(huge, 'a', sizeof huge);
    memcpy(huge, "a@", 2);
    memcpy(huge + sizeof huge - 4, ".com", 4);
    assert_int_equal(kumo_email_check(huge, sizeof huge, norm, NULL), KUMO_ERR_INVALID);
}

static void test_validate_slug(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(kumo_slug_check(S("acme"), 3, 63, &why), 0);
    assert_int_equal(kumo_slug_check(S("a-1-b"), 3, 63, &why), 0);
    assert_int_equal(kumo_slug_check(S("ab"), 3, 63, &why), KUMO_ERR_INVALID);
    assert_int_equal(kumo_slug_check(S("Acme"), 3, 63, &why), KUMO_ERR_INVALID);
    assert_int_equal(kumo_slug_check(S("-acme"), 3, 63, &why), KUMO_ERR_INVALID);
    assert_string_equal(why, "must start and end with a letter or digit");
    assert_int_equal(kumo_slug_check(S("acme-"), 3, 63, &why), KUMO_ERR_INVALID);
    assert_int_equal(kumo_slug_check(S("ac me"), 3, 63, &why), KUMO_ERR_INVALID);
    assert_int_equal(kumo_slug_check(S("a'; --"), 3, 63, &why), KUMO_ERR_INVALID);
    assert_int_equal(kumo_slug_check(NULL, 0, 0, 63, &why), KUMO_ERR_INVALID);
}

/* What extraction and error texts go through before they are stored: the
 * valid UTF-8, no NULs, bounded without splitting a character. */
static void test_validate_utf8_clean(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_utf8_clean(S("caf\xc3\xa9\0 ok\xff\xc0\xaf!"), 100, &out);
    assert_int_equal(out.len, 9);
    assert_memory_equal(out.data, "caf\xc3\xa9 ok!", 9);
    kumo_buf_free(&out);
    out = (struct kumo_buf)KUMO_BUF_INIT;
    kumo_utf8_clean(S("ab\xc3\xa9"), 3, &out); /* the 2-byte character would not fit */
    assert_int_equal(out.len, 2);
    kumo_buf_free(&out);
    out = (struct kumo_buf)KUMO_BUF_INIT;
    kumo_utf8_clean(S("\xed\xa0\x80x"), 10, &out); /* an encoded surrogate goes */
    assert_int_equal(out.len, 1);
    kumo_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_utf8_accepts_well_formed),
        cmocka_unit_test(test_validate_utf8_rejects_what_mariadb_lets_through),
        cmocka_unit_test(test_validate_utf8_count),
        cmocka_unit_test(test_validate_text_check),
        cmocka_unit_test(test_validate_email_accepts_and_normalizes),
        cmocka_unit_test(test_validate_email_rejects),
        cmocka_unit_test(test_validate_slug),
        cmocka_unit_test(test_validate_utf8_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
