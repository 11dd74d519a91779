/* common/text: CJK bigram tokens (folding, runs, limits), query splitting
 * into BOOLEAN MODE phrases and natural-language words, and snippets with
 * their highlight ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text/ngram.h"
#include "text/snippet.h"

static char *ngrams(const char *s, size_t max, size_t *count)
{
    static struct kumo_buf b;
    kumo_buf_free(&b);
    *count = kumo_text_ngrams(s, strlen(s), max, &b);
    kumo_buf_append(&b, "", 0);
    return (char *)b.data;
}

static void test_ngram_bigrams_of_a_run_in_order(void **state)
{
    (void)state;
    size_t n;
    /* 規 U+898F, 則 U+5247, は U+306F */
    assert_string_equal(ngrams("規則は", 1000, &n), "c0898f05247 c052470306f");
    assert_int_equal(n, 2);
    assert_string_equal(ngrams("規", 1000, &n), ""); /* one character: no bigram */
    assert_int_equal(n, 0);
    assert_string_equal(ngrams("plain English only", 1000, &n), "");
    /* Hangul 한국어 U+D55C U+AD6D U+C5B4; katakana with ー. */
    assert_string_equal(ngrams("한국어", 1000, &n), "c0d55c0ad6d c0ad6d0c5b4");
    assert_string_equal(ngrams("データ", 1000, &n), "c030c7030fc c030fc030bf");
}

static void test_ngram_runs_are_separated_by_a_break(void **state)
{
    (void)state;
    size_t n;
    /* 東京。京都: the phrase 東京都 must not span the two runs. */
    assert_string_equal(ngrams("東京。京都", 1000, &n),
                        "c0677104eac " KUMO_TEXT_BREAK " c04eac090fd");
    assert_int_equal(n, 2);
    assert_string_equal(ngrams("東京 a 京都 b", 1000, &n),
                        "c0677104eac " KUMO_TEXT_BREAK " c04eac090fd");
    /* A one-character run between writes no break of its own. */
    assert_string_equal(ngrams("東京 x 都 y 京都", 1000, &n),
                        "c0677104eac " KUMO_TEXT_BREAK " c04eac090fd");
}

static void test_ngram_width_folding(void **state)
{
    (void)state;
    size_t n;
    /* Half-width ﾃﾞｰﾀ is full-width データ (voiced mark composed). */
    char *a = ngrams("ﾃﾞｰﾀ", 1000, &n);
    assert_string_equal(a, "c030c7030fc c030fc030bf");
    uint32_t c;
    assert_int_equal(kumo_text_fold_next("\xEF\xBC\xA1", 3, &c), 3); /* Ａ */
    assert_int_equal(c, 'A');
    assert_int_equal(kumo_text_fold_next("\xE3\x80\x80", 3, &c), 3); /* ideographic space */
    assert_int_equal(c, ' ');
    assert_int_equal(kumo_text_fold_next("\xEF\xBE\x8A\xEF\xBE\x9F", 6, &c), 6); /* ﾊﾟ */
    assert_int_equal(c, 0x30D1);                                                 /* パ */
}

static void test_ngram_invalid_utf8_and_limits(void **state)
{
    (void)state;
    size_t n;
    /* Invalid bytes split runs; truncated sequences never read past the end. */
    assert_string_equal(ngrams("東京\xff京都", 1000, &n),
                        "c0677104eac " KUMO_TEXT_BREAK " c04eac090fd");
    assert_string_equal(ngrams("東京\xe4", 1000, &n), "c0677104eac");
    uint32_t c;
    assert_int_equal(kumo_text_decode("\xed\xa0\x80", 3, &c), 1); /* a surrogate */
    assert_int_equal(c, 0xFFFD);
    assert_int_equal(kumo_text_decode("\xc0\xaf", 2, &c), 1); /* overlong */
    assert_int_equal(c, 0xFFFD);
    /* max_bytes: whole tokens only. */
    assert_string_equal(ngrams("規則は", 12, &n), "c0898f05247");
    assert_int_equal(n, 1);
    assert_string_equal(ngrams("規則は", 10, &n), "");
}

static void test_ngram_query_split(void **state)
{
    (void)state;
    struct kumo_text_query q;
    const char *s = "規則 working";
    kumo_text_query_parse(s, strlen(s), &q);
    assert_string_equal((char *)q.ngram.data, "+\"c0898f05247\"");
    assert_string_equal((char *)q.words.data, "working");
    assert_int_equal(q.n_terms, 2);
    assert_string_equal((char *)q.text.data + q.term_off[0], "規則");
    assert_true(q.term_cjk[0]);
    assert_string_equal((char *)q.text.data + q.term_off[1], "working");
    kumo_text_query_free(&q);

    /* Script changes split a term; operators never reach the boolean text. */
    s = "+PDF形式\"を -x*";
    kumo_text_query_parse(s, strlen(s), &q);
    assert_string_equal((char *)q.ngram.data, "+\"c05f6205f0f\"");
    assert_string_equal((char *)q.words.data, "PDF を x");
    assert_int_equal(q.n_phrases, 1);
    assert_string_equal((char *)q.phrases.data, "c05f6205f0f");
    kumo_text_query_free(&q);

    /* ASCII words pass as they are (English search unchanged). */
    s = "Zebra penguins";
    kumo_text_query_parse(s, strlen(s), &q);
    assert_string_equal((char *)q.ngram.data, "");
    assert_string_equal((char *)q.words.data, "Zebra penguins");
    kumo_text_query_free(&q);

    /* Full-width ASCII folds; an empty query gives empty strings. */
    s = "ｗｏｒｋｉｎｇ　服務規律を定める";
    kumo_text_query_parse(s, strlen(s), &q);
    assert_string_equal((char *)q.words.data, "working");
    assert_string_equal((char *)q.ngram.data,
                        "+\"c0670d052d9 c052d90898f c0898f05f8b c05f8b03092 c0309205b9a "
                        "c05b9a03081 c030810308b\"");
    assert_int_equal(q.n_phrases, 1);
    assert_string_equal((char *)q.phrases.data, "c0670d052d9 c052d90898f c0898f05f8b c05f8b03092 "
                                                "c0309205b9a c05b9a03081 c030810308b");
    kumo_text_query_free(&q);
    kumo_text_query_parse("", 0, &q);
    assert_string_equal((char *)q.ngram.data, "");
    assert_string_equal((char *)q.words.data, "");
    assert_int_equal(q.n_terms, 0);
    kumo_text_query_free(&q);
}

/* A phrase occurs in a document's tokens exactly when its text is a
 * substring of one run of the document (the LOCATE test of the walk). */
static int phrase_in(const char *doc, const char *query)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_text_ngrams(doc, strlen(doc), 100000, &b);
    kumo_buf_append(&b, "", 0);
    struct kumo_text_query q;
    kumo_text_query_parse(query, strlen(query), &q);
    assert_int_equal(q.n_phrases, 1);
    int in = strstr((char *)b.data, (char *)q.phrases.data) != NULL;
    kumo_text_query_free(&q);
    kumo_buf_free(&b);
    return in;
}

static void test_ngram_phrase_is_a_substring_of_the_tokens(void **state)
{
    (void)state;
    const char *doc = "本規則は従業員の労働条件および服務規律を定める。東京。京都の支店";
    assert_true(phrase_in(doc, "規則"));
    assert_true(phrase_in(doc, "規則は従業員"));
    assert_true(phrase_in(doc, "服務規律を定める"));
    assert_true(phrase_in(doc, "京都の支店"));
    assert_false(phrase_in(doc, "東京都"));             /* across the 。 */
    assert_false(phrase_in(doc, "規律を定める従業員")); /* not in a row */
    assert_false(phrase_in(doc, "則本"));
    assert_true(phrase_in("ﾃﾞｰﾀ", "データ"));
}

static void test_snippet_marks_matches(void **state)
{
    (void)state;
    struct kumo_text_query q;
    const char *s = "規則 working";
    kumo_text_query_parse(s, strlen(s), &q);
    const char *text = "本規則は従業員の労働条件を定める。\nThe rules define Working conditions.";
    struct kumo_buf out = KUMO_BUF_INIT;
    struct kumo_text_mark m[8];
    size_t n;
    assert_int_equal(kumo_text_snippet(text, strlen(text), &q, 100, &out, m, 8, &n), 1);
    assert_string_equal((char *)out.data,
                        "本規則は従業員の労働条件を定める。 The rules define Working conditions.");
    assert_int_equal(n, 2);
    assert_int_equal(m[0].start, 1);
    assert_int_equal(m[0].end, 3);
    assert_int_equal(m[1].start, 35); /* "Working", case-insensitive */
    assert_int_equal(m[1].end, 42);
    kumo_buf_free(&out);

    /* Words only at word boundaries; no term: 0, nothing written. */
    const char *t2 = "reworking is not it";
    assert_int_equal(kumo_text_snippet(t2, strlen(t2), &q, 100, &out, m, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(out.len, 0);
    kumo_text_query_free(&q);

    /* A long text: a window with "…" on both sides, marks shifted by it. */
    s = "needle";
    kumo_text_query_parse(s, strlen(s), &q);
    char big[600];
    memset(big, 'a', sizeof big);
    for (size_t i = 0; i < sizeof big; i += 10)
        big[i] = ' ';
    big[303] = ' ';
    memcpy(big + 304, "needle", 6); /* a word: spaces at 303 and 310 */
    assert_int_equal(kumo_text_snippet(big, sizeof big, &q, 30, &out, m, 8, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].start, 11); /* "…" + 10 before the match */
    assert_int_equal(m[0].end, 17);
    assert_memory_equal(out.data, "\xE2\x80\xA6", 3);
    assert_memory_equal(out.data + out.len - 3, "\xE2\x80\xA6", 3);
    kumo_buf_free(&out);
    kumo_text_query_free(&q);
}

static void test_snippet_half_width_text_and_invalid_bytes(void **state)
{
    (void)state;
    struct kumo_text_query q;
    kumo_text_query_parse("データ", strlen("データ"), &q);
    const char *text = "x\xff ﾃﾞｰﾀ";
    struct kumo_buf out = KUMO_BUF_INIT;
    struct kumo_text_mark m[4];
    size_t n;
    assert_int_equal(kumo_text_snippet(text, strlen(text), &q, 50, &out, m, 4, &n), 1);
    assert_string_equal((char *)out.data, "x ﾃﾞｰﾀ"); /* the invalid byte dropped */
    assert_int_equal(n, 1);
    assert_int_equal(m[0].start, 2);
    assert_int_equal(m[0].end, 6); /* four written characters: ﾃ ﾞ ｰ ﾀ */
    kumo_buf_free(&out);
    kumo_text_query_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ngram_bigrams_of_a_run_in_order),
        cmocka_unit_test(test_ngram_runs_are_separated_by_a_break),
        cmocka_unit_test(test_ngram_width_folding),
        cmocka_unit_test(test_ngram_invalid_utf8_and_limits),
        cmocka_unit_test(test_ngram_query_split),
        cmocka_unit_test(test_ngram_phrase_is_a_substring_of_the_tokens),
        cmocka_unit_test(test_snippet_marks_matches),
        cmocka_unit_test(test_snippet_half_width_text_and_invalid_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
