/* store/documents.c: the ListDocuments statement is assembled from
 * fixed fragments by which filters are present, every value bound, and
 * each order walks its keyset (sort column, seq) after the cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/documents.h"

static const struct kumo_page_cursor FIRST = {-1, 0, "", 0};

static const char *sql_of(const struct docs_list_query *q, const struct kumo_page_cursor *cur,
                          int walk, struct kumo_buf *sql, size_t *n,
                          struct kumo_db_param p[DOCS_LIST_PARAMS_MAX])
{
    *n = docs_list_sql("t1", q, cur, 21, walk, sql, p);
    assert_true(*n <= DOCS_LIST_PARAMS_MAX);
    kumo_buf_append(sql, "", 1); /* NUL: the text as a C string */
    return (const char *)sql->data;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static struct docs_list_query query(void)
{
    struct docs_list_query q;
    memset(&q, 0, sizeof q);
    q.order = DOCS_ORD_CREATE_DESC;
    q.tag = q.content_type = q.owner_id = q.query = "";
    return q;
}

static void test_docs_list_sql_first_page_binds_every_placeholder(void **state)
{
    (void)state;
    struct docs_list_query q = query();
    struct kumo_buf sql = KUMO_BUF_INIT;
    struct kumo_db_param p[DOCS_LIST_PARAMS_MAX];
    size_t n;
    const char *s = sql_of(&q, &FIRST, 0, &sql, &n, p);
    assert_non_null(strstr(s, "FROM documents d WHERE d.tenant_id = ?"));
    assert_non_null(strstr(s, " AND d.status <> 4")); /* deleted ones are not listed */
    assert_non_null(strstr(s, "ORDER BY d.create_time DESC, d.seq DESC LIMIT ?"));
    assert_null(strstr(s, "d.create_time <= ?")); /* no cursor condition on page 1 */
    assert_null(strstr(s, "extracted_text,"));    /* never listed */
    assert_int_equal(count(s, "?"), n);
    assert_int_equal(n, 2); /* tenant, limit */
    kumo_buf_free(&sql);
}

static void test_docs_list_sql_filters_add_fragments_not_or_clauses(void **state)
{
    (void)state;
    struct docs_list_query q = query();
    q.status = 2;
    q.content_type = "text/plain";
    q.owner_id = "us_1";
    q.has_t[0] = q.has_t[3] = 1;
    q.t[0] = 1;
    q.t[3] = 2;
    struct kumo_buf sql = KUMO_BUF_INIT;
    struct kumo_db_param p[DOCS_LIST_PARAMS_MAX];
    size_t n;
    const char *s = sql_of(&q, &FIRST, 0, &sql, &n, p);
    assert_non_null(strstr(s, " AND d.status = ?"));
    assert_non_null(strstr(s, " AND d.content_type = ?"));
    assert_non_null(strstr(s, " AND d.owner_id = ?"));
    assert_non_null(strstr(s, " AND d.create_time >= ?"));
    assert_non_null(strstr(s, " AND d.update_time < ?"));
    assert_null(strstr(s, "= '' OR")); /* the server would not fold those away */
    assert_int_equal(count(s, "?"), n);
    kumo_buf_free(&sql);
}

static void test_docs_list_sql_cursor_continues_each_keyset(void **state)
{
    (void)state;
    static const struct {
        int order;
        const char *after;
    } cases[] = {
        {DOCS_ORD_CREATE_DESC, "d.create_time <= ? AND (d.create_time < ? OR d.seq < ?)"},
        {DOCS_ORD_CREATE_ASC, "d.create_time >= ? AND (d.create_time > ? OR d.seq > ?)"},
        {DOCS_ORD_UPDATE_DESC, "d.update_time <= ? AND (d.update_time < ? OR d.seq < ?)"},
        {DOCS_ORD_TITLE_ASC, "d.title >= ? AND (d.title > ? OR d.seq > ?)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct docs_list_query q = query();
        q.order = cases[i].order;
        struct kumo_page_cursor cur = {7, 123, "b", 1};
        struct kumo_buf sql = KUMO_BUF_INIT;
        struct kumo_db_param p[DOCS_LIST_PARAMS_MAX];
        size_t n;
        const char *s = sql_of(&q, &cur, 0, &sql, &n, p);
        assert_non_null(strstr(s, cases[i].after));
        assert_int_equal(count(s, "?"), n);
        /* The seq of the cursor is bound right before the limit. */
        assert_int_equal(p[n - 2].i64, 7);
        assert_int_equal(p[n - 1].i64, 21);
        kumo_buf_free(&sql);
    }
}

static void test_docs_list_sql_tag_with_create_order_walks_the_tag_rows(void **state)
{
    (void)state;
    struct docs_list_query q = query();
    q.tag = "finance";
    struct kumo_buf sql = KUMO_BUF_INIT;
    struct kumo_db_param p[DOCS_LIST_PARAMS_MAX];
    size_t n;
    const char *s = sql_of(&q, &FIRST, 0, &sql, &n, p);
    assert_non_null(strstr(s, "FROM document_tags t JOIN documents d"));
    assert_non_null(strstr(s, "ORDER BY t.create_time DESC, t.seq DESC"));
    kumo_buf_free(&sql);
    sql = (struct kumo_buf)KUMO_BUF_INIT;
    q.order = DOCS_ORD_TITLE_ASC; /* other orders probe the tag per row */
    s = sql_of(&q, &FIRST, 0, &sql, &n, p);
    assert_non_null(strstr(s, "FROM documents d JOIN document_tags t"));
    assert_int_equal(count(s, "?"), n);
    kumo_buf_free(&sql);
}

static void test_docs_list_sql_text_query_plans(void **state)
{
    (void)state;
    struct docs_list_query q = query();
    q.query = "invoice";
    struct kumo_buf sql = KUMO_BUF_INIT;
    struct kumo_db_param p[DOCS_LIST_PARAMS_MAX];
    size_t n;
    /* The full-text plan: MATCH as the filter, in the requested order. */
    const char *s = sql_of(&q, &FIRST, 0, &sql, &n, p);
    assert_non_null(
        strstr(s, " AND MATCH (d.title, d.description, d.tags_text, d.extracted_text)"));
    assert_int_equal(count(s, "?"), n);
    kumo_buf_free(&sql);
    /* The bounded walk: seq of the first rows in order, then their text. */
    sql = (struct kumo_buf)KUMO_BUF_INIT;
    s = sql_of(&q, &FIRST, 1, &sql, &n, p);
    assert_true(strncmp(s, "SELECT STRAIGHT_JOIN d.seq,", 27) == 0);
    assert_non_null(strstr(s, "SELECT d.seq FROM documents d"));
    assert_non_null(
        strstr(s, ") w JOIN documents d ON d.seq = w.seq WHERE d.tenant_id = ? AND MATCH"));
    assert_non_null(strstr(s, " + 0 > 0"));
    assert_null(strstr(s, "BOOLEAN MODE")); /* no CJK: the n-gram index is not asked */
    assert_int_equal(count(s, "?"), n);
    assert_int_equal(p[n - 1].i64, 21);      /* the page */
    assert_int_equal(p[n - 4].i64, 21 * 20); /* the walk's rows */
    kumo_buf_free(&sql);
}

/* A query split by kumo_text_query_parse: its words keep the
 * natural-language MATCH, its CJK phrases test the n-gram index, both
 * required, in both plans; a CJK-only query has no natural-language test. */
static void test_docs_list_sql_cjk_query_tests_the_ngram_index(void **state)
{
    (void)state;
    struct docs_list_query q = query();
    q.query = "規則 working";
    q.words = "working";
    q.ngram = "+\"c0898f05247\"";
    struct kumo_buf sql = KUMO_BUF_INIT;
    struct kumo_db_param p[DOCS_LIST_PARAMS_MAX];
    size_t n;
    for (int walk = 0; walk <= 1; walk++) {
        sql = (struct kumo_buf)KUMO_BUF_INIT;
        const char *s = sql_of(&q, &FIRST, walk, &sql, &n, p);
        assert_int_equal(count(s, "IN NATURAL LANGUAGE MODE"), 1);
        assert_int_equal(count(s, "d.search_content) AGAINST (? IN BOOLEAN MODE)"), 1);
        assert_int_equal(count(s, "?"), n);
        int words = 0, ngram = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i].type == KUMO_DB_T_STR && strcmp(p[i].p, "working") == 0)
                words++;
            if (p[i].type == KUMO_DB_T_STR && strcmp(p[i].p, q.ngram) == 0)
                ngram++;
        }
        assert_int_equal(words, 1);
        assert_int_equal(ngram, 1);
        kumo_buf_free(&sql);
    }
    /* With the bare phrases, the walk tests them as substrings of each
     * token column (5 parameters each); the full-text plan keeps MATCH. */
    q.phrases = "c0898f05247\0c0898f05248";
    q.n_phrases = 2;
    sql = (struct kumo_buf)KUMO_BUF_INIT;
    const char *s = sql_of(&q, &FIRST, 1, &sql, &n, p);
    assert_null(strstr(s, "BOOLEAN MODE"));
    assert_int_equal(count(s, "LOCATE(?, d.search_content)"), 2);
    assert_int_equal(count(s, "?"), n);
    int located = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i].type == KUMO_DB_T_STR && strcmp(p[i].p, "c0898f05248") == 0)
            located++;
    assert_int_equal(located, 5);
    kumo_buf_free(&sql);
    sql = (struct kumo_buf)KUMO_BUF_INIT;
    s = sql_of(&q, &FIRST, 0, &sql, &n, p);
    assert_int_equal(count(s, "BOOLEAN MODE"), 1);
    assert_null(strstr(s, "LOCATE"));
    kumo_buf_free(&sql);
    q.phrases = NULL;
    q.n_phrases = 0;

    q.words = "";
    sql = (struct kumo_buf)KUMO_BUF_INIT;
    s = sql_of(&q, &FIRST, 1, &sql, &n, p);
    assert_null(strstr(s, "NATURAL LANGUAGE"));
    assert_int_equal(count(s, "BOOLEAN MODE) + 0 > 0"), 1);
    kumo_buf_free(&sql);
    /* Nothing left of the query to test (only punctuation): the query as
     * it is, never no test at all. */
    q.query = "!!";
    q.ngram = "";
    sql = (struct kumo_buf)KUMO_BUF_INIT;
    s = sql_of(&q, &FIRST, 0, &sql, &n, p);
    assert_int_equal(count(s, "NATURAL LANGUAGE MODE"), 1);
    kumo_buf_free(&sql);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_list_sql_first_page_binds_every_placeholder),
        cmocka_unit_test(test_docs_list_sql_filters_add_fragments_not_or_clauses),
        cmocka_unit_test(test_docs_list_sql_cursor_continues_each_keyset),
        cmocka_unit_test(test_docs_list_sql_tag_with_create_order_walks_the_tag_rows),
        cmocka_unit_test(test_docs_list_sql_text_query_plans),
        cmocka_unit_test(test_docs_list_sql_cjk_query_tests_the_ngram_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
