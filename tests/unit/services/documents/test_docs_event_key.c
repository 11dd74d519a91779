/* Tests of the object key -> version parser of kumo-documents' event
 * consumer (events/key.c): what docs_version_key writes parses back, and
 * every other key is refused (they are dropped and counted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "events/events.h"
#include "store/versions.h"

static int parse(const char *key, char *t, char *d, int64_t *v)
{
    return docs_event_key_parse(key, strlen(key), t, d, v);
}

static void test_round_trip(void **state)
{
    (void)state;
    char key[300], t[DOCS_ID_MAX], d[DOCS_ID_MAX];
    int64_t v;
    const int64_t versions[] = {1, 9, 10, 12345, 2147483647};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        docs_version_key(key, sizeof key, "ten_01ABC", "doc_abcdefghijklmnopqrst", versions[i]);
        assert_int_equal(parse(key, t, d, &v), 0);
        assert_string_equal(t, "ten_01ABC");
        assert_string_equal(d, "doc_abcdefghijklmnopqrst");
        assert_int_equal(v, versions[i]);
    }
}

static void test_refused(void **state)
{
    (void)state;
    char t[DOCS_ID_MAX], d[DOCS_ID_MAX];
    int64_t v;
    const char *bad[] = {
        "",
        "t/",
        "t/a/d/b/v",
        "t/a/d/b/v0",
        "t/a/d/b/v01",
        "t/a/d/b/v2147483648",
        "t/a/d/b/v12345678901",
        "t/a/d/b/v1-c_xyz", /* a sealed content copy */
        "t/a/d/b/v1/",
        "t//d/b/v1",
        "t/a/d//v1",
        "t/a/x/b/v1",
        "x/a/d/b/v1",
        "t/a b/d/c/v1",
        "t/a/d/b/w1",
        "t/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/d/b/v1", /* id too long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(parse(bad[i], t, d, &v), 0);
    /* Never reads past len. */
    assert_int_not_equal(docs_event_key_parse("t/a/d/b/v12", 9, t, d, &v), 0);
    assert_int_equal(docs_event_key_parse("t/a/d/b/v12", 10, t, d, &v), 0);
    assert_int_equal(v, 1);
}

static void test_doc_prefix(void **state)
{
    (void)state;
    char t[DOCS_ID_MAX], d[DOCS_ID_MAX];
    assert_int_equal(docs_event_key_doc("t/ten/d/doc_1/v3-c_abc", 22, t, d), 0);
    assert_string_equal(t, "ten");
    assert_string_equal(d, "doc_1");
    assert_int_equal(docs_event_key_doc("t/ten/d/doc_1/v3", 16, t, d), 0);
    assert_int_not_equal(docs_event_key_doc("t/ten/d/doc_1", 13, t, d), 0);
    assert_int_not_equal(docs_event_key_doc("t/ten/x/doc_1/v1", 16, t, d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_doc_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
