/* store/search.c: the n-gram column values of a document's fields (the
 * string values of the metadata JSON at any depth, never its keys; text
 * that is not JSON whole; nothing for ASCII) and their binding (NULL when
 * a field has no tokens). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/search.h"

static int has(const struct kumo_buf *b, const char *tok)
{
    return b->len && strstr((const char *)b->data, tok) != NULL;
}

/* 人事 U+4EBA U+4E8B, 部署 U+90E8 U+7F72, 契約 U+5951 U+7D04. */
#define T_JINJI   "c04eba04e8b"
#define T_BUSHO   "c090e807f72"
#define T_KEIYAKU "c0595107d04"

static void test_docs_search_metadata_values_not_keys(void **state)
{
    (void)state;
    struct docs_search_cols s;
    docs_search_cols_fill(&s, "Budget", NULL, "legal",
                          "{\"部署\":\"人事\",\"x\":[1,{\"y\":\"契約\"}]}");
    assert_int_equal(s.title.len, 0); /* ASCII: no tokens */
    assert_int_equal(s.description.len, 0);
    assert_int_equal(s.tags.len, 0);
    assert_true(has(&s.metadata, T_JINJI));
    assert_true(has(&s.metadata, T_KEIYAKU)); /* nested in an array and an object */
    assert_false(has(&s.metadata, T_BUSHO));  /* a key */
    assert_int_equal(docs_search_param(&s.title).type, KUMO_DB_T_NULL);
    assert_int_equal(docs_search_param(&s.metadata).type, KUMO_DB_T_STR);
    docs_search_cols_free(&s);

    /* Text that is not JSON is indexed whole; every field on its own. */
    docs_search_cols_fill(&s, "人事", "契約", "部署 legal", "部署 not json");
    assert_true(has(&s.title, T_JINJI));
    assert_true(has(&s.description, T_KEIYAKU));
    assert_true(has(&s.tags, T_BUSHO));
    assert_true(has(&s.metadata, T_BUSHO));
    assert_false(has(&s.title, T_KEIYAKU));
    docs_search_cols_free(&s);
}

static void test_docs_search_content_is_bounded(void **state)
{
    (void)state;
    /* 1 MiB of CJK text: the tokens stop at DOCS_SEARCH_FIELD_MAX. */
    size_t n = 1u << 20;
    char *text = malloc(n);
    assert_non_null(text);
    for (size_t i = 0; i + 6 <= n; i += 6)
        memcpy(text + i, i % 12 ? "人事" : "契約", 6);
    struct kumo_buf out = KUMO_BUF_INIT;
    docs_search_content(text, n - n % 6, &out);
    assert_true(out.len > DOCS_SEARCH_FIELD_MAX - 64);
    assert_true(out.len <= DOCS_SEARCH_FIELD_MAX);
    kumo_buf_free(&out);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_search_metadata_values_not_keys),
        cmocka_unit_test(test_docs_search_content_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
