/* Search tokens for text without spaces between words (Japanese, Chinese,
 * Korean): kumo produces the n-grams itself, because MariaDB has no n-gram
 * full-text parser and the same SQL must run on MariaDB and Aurora MySQL.
 *
 * Every run of CJK characters (kana, hangul, ideographs; see
 * kumo_text_is_cjk) becomes its overlapping bigrams, each written as one
 * ASCII token "c" + 5 hex digits + 5 hex digits (11 characters: longer than
 * innodb_ft_min_token_size / ft_min_word_len, shorter than the maximums,
 * never a stopword), in text order, so that the substring "服務規律" is the
 * phrase of consecutive tokens (服務)(務規)(規律) in BOOLEAN MODE. Runs are
 * separated by KUMO_TEXT_BREAK so a phrase never spans two runs. Text is
 * folded first (kumo_text_fold: full-width ASCII to ASCII, half-width
 * katakana to full-width, with voiced marks composed), a cheap subset of
 * NFKC that covers what Japanese input methods produce.
 *
 * Written by hand: ICU's break iterators need dictionaries and a large
 * library for what is here a table lookup and a loop; no small library
 * produces MySQL-compatible n-gram tokens. */
#ifndef KUMO_TEXT_NGRAM_H
#define KUMO_TEXT_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Length of one bigram token. */
#define KUMO_TEXT_TOKEN_LEN 11
/* The token between two runs (never a bigram: "c" + 10 hex digits). */
#define KUMO_TEXT_BREAK "cbreakcjkrun"

/* Decodes one code point of s[0..len) (len > 0): returns the bytes used
 * (1..4) and sets *cp; a byte that does not start valid UTF-8 (overlong,
 * surrogate, truncated, above U+10FFFF) gives U+FFFD and 1. */
size_t kumo_text_decode(const char *s, size_t len, uint32_t *cp);

/* Appends cp (a Unicode scalar value) as UTF-8. */
void kumo_text_encode(uint32_t cp, struct kumo_buf *out);

/* 1 if cp is a CJK character that search cuts into bigrams: hiragana,
 * katakana (with the prolonged sound mark, not the middle dot), hangul
 * (syllables and jamo), bopomofo, CJK ideographs (unified, extensions,
 * compatibility) and the iteration marks 々〆〇. Punctuation (、。「」),
 * full-width ASCII and spaces are not. */
int kumo_text_is_cjk(uint32_t cp);

/* Folds the code point at s[0..len) (len > 0): full-width ASCII U+FF01..FF5E
 * to ASCII, the ideographic space to a space, half-width katakana to
 * full-width (a following half-width voiced or semi-voiced mark composed
 * into it, like NFKC). Case is kept. Returns the bytes used and sets
 * *cp. */
size_t kumo_text_fold_next(const char *s, size_t len, uint32_t *cp);

/* Appends to `out` the bigram tokens of s[0..len) (any bytes: invalid
 * UTF-8 separates runs), space-separated, stopping before `out` would
 * grow by more than max_bytes. Returns the number of bigrams written.
 * A run of one CJK character gives no token (searches need >= 2). */
size_t kumo_text_ngrams(const char *s, size_t len, size_t max_bytes, struct kumo_buf *out);

/* The most terms kumo_text_query_parse keeps for highlighting. */
#define KUMO_TEXT_TERMS_MAX 16

/* A search query split for the database and for highlighting. */
struct kumo_text_query {
    /* For MATCH (n-gram columns) AGAINST (... IN BOOLEAN MODE): one
     * required phrase per CJK segment of >= 2 characters, e.g.
     * +"c0898f05247" +"c05f9305fcd c05fcd054e1"; "" when none. */
    struct kumo_buf ngram;
    /* The same phrases without operators: each the space-separated
     * tokens, NUL-terminated one after the other in `phrases`. A phrase
     * occurs in a column of kumo_text_ngrams tokens exactly when it is a
     * substring of the column's text (all tokens have the same length and
     * the break token has letters no token has), so a row can also be
     * tested with LOCATE. */
    struct kumo_buf phrases;
    size_t n_phrases;
    /* For MATCH (text columns) AGAINST (... IN NATURAL LANGUAGE MODE):
     * the rest of the query (words, single CJK characters) with
     * full-width ASCII folded, otherwise as written; "" when none. */
    struct kumo_buf words;
    /* Folded terms (CJK segments and other words, NUL-separated in
     * `text`), in query order, for snippets. */
    struct kumo_buf text;
    size_t term_off[KUMO_TEXT_TERMS_MAX], term_len[KUMO_TEXT_TERMS_MAX];
    int term_cjk[KUMO_TEXT_TERMS_MAX];
    size_t n_terms;
};

/* Splits query q[0..len) (any bytes) into *out (which the caller frees
 * with kumo_text_query_free): white space and punctuation separate terms
 * (natural language mode ignores punctuation as well), and inside a
 * term each change between CJK and other characters starts a new one
 * ("PDF形式" is "PDF" and "形式"). `ngram` holds only tokens and quotes
 * the function writes, so no query text reaches BOOLEAN MODE's operators;
 * `words` goes to NATURAL LANGUAGE MODE, which has none. A query of
 * ASCII only gives the query's words in `words` (English search
 * unchanged). */
void kumo_text_query_parse(const char *q, size_t len, struct kumo_text_query *out);

void kumo_text_query_free(struct kumo_text_query *q);

#endif
