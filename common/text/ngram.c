/* CJK bigram tokens and query splitting (see ngram.h). */
#include <string.h>

#include "ngram.h"

size_t kumo_text_decode(const char *str, size_t len, uint32_t *cp)
{
    const uint8_t *s = (const uint8_t *)str;
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2, v = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3, v = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4, v = b & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len < n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return n;
}

void kumo_text_encode(uint32_t cp, struct kumo_buf *out)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | (cp >> 6)), b[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | (cp >> 12)), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | (cp >> 18)), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (uint8_t)(0x80 | (cp & 0x3F)), n = 4;
    }
    kumo_buf_append(out, b, n);
}

int kumo_text_is_cjk(uint32_t c)
{
    if (c < 0x1100)
        return 0;
    return (c >= 0x1100 && c <= 0x11FF) ||                /* hangul jamo */
           (c >= 0x3005 && c <= 0x3007) ||                /* 々 〆 〇 */
           (c >= 0x3041 && c <= 0x3096) ||                /* hiragana */
           (c >= 0x309B && c <= 0x309F) ||                /* ゛゜ゝゞゟ (not combining) */
           (c >= 0x30A0 && c <= 0x30FF && c != 0x30FB) || /* katakana, not ・ */
           (c >= 0x3100 && c <= 0x318F) ||                /* bopomofo, hangul compatibility jamo */
           (c >= 0x31A0 && c <= 0x31BF) ||                /* bopomofo extended */
           (c >= 0x31F0 && c <= 0x31FF) ||                /* katakana phonetic extensions */
           (c >= 0x3400 && c <= 0x4DBF) ||                /* ideographs extension A */
           (c >= 0x4E00 && c <= 0x9FFF) ||                /* unified ideographs */
           (c >= 0xA960 && c <= 0xA97F) ||                /* hangul jamo extended A */
           (c >= 0xAC00 && c <= 0xD7FF) ||                /* hangul syllables, jamo extended B */
           (c >= 0xF900 && c <= 0xFAFF) ||                /* compatibility ideographs */
           (c >= 0x20000 && c <= 0x3134F); /* extensions B..G, compatibility supplement */
}

/* Half-width katakana U+FF61..FF9F -> NFKC (U+3099/309A: the combining
 * voiced marks, composed by kumo_text_fold_next when possible). */
static const uint16_t halfwidth[63] = {
    0x3002, 0x300C, 0x300D, 0x3001, 0x30FB, 0x30F2, 0x30A1, 0x30A3, 0x30A5, 0x30A7, 0x30A9,
    0x30E3, 0x30E5, 0x30E7, 0x30C3, 0x30FC, 0x30A2, 0x30A4, 0x30A6, 0x30A8, 0x30AA, 0x30AB,
    0x30AD, 0x30AF, 0x30B1, 0x30B3, 0x30B5, 0x30B7, 0x30B9, 0x30BB, 0x30BD, 0x30BF, 0x30C1,
    0x30C4, 0x30C6, 0x30C8, 0x30CA, 0x30CB, 0x30CC, 0x30CD, 0x30CE, 0x30CF, 0x30D2, 0x30D5,
    0x30D8, 0x30DB, 0x30DE, 0x30DF, 0x30E0, 0x30E1, 0x30E2, 0x30E4, 0x30E6, 0x30E8, 0x30E9,
    0x30EA, 0x30EB, 0x30EC, 0x30ED, 0x30EF, 0x30F3, 0x3099, 0x309A};

/* The composition of katakana k with the voiced (mark 0x3099) or
 * semi-voiced (0x309A) mark, or 0 when there is none. */
static uint32_t compose(uint32_t k, uint32_t mark)
{
    int ha = k == 0x30CF || k == 0x30D2 || k == 0x30D5 || k == 0x30D8 || k == 0x30DB;
    if (mark == 0x309A)
        return ha ? k + 2 : 0;
    if (k == 0x30A6)
        return 0x30F4; /* ヴ */
    if (ha || (k >= 0x30AB && k <= 0x30C1 && (k & 1)) || (k >= 0x30C4 && k <= 0x30C8 && !(k & 1)))
        return k + 1;
    return 0;
}

size_t kumo_text_fold_next(const char *s, size_t len, uint32_t *cp)
{
    size_t n = kumo_text_decode(s, len, cp);
    uint32_t c = *cp;
    if (c >= 0xFF01 && c <= 0xFF5E) {
        *cp = c - 0xFEE0;
    } else if (c == 0x3000) {
        *cp = ' ';
    } else if (c >= 0xFF61 && c <= 0xFF9F) {
        *cp = halfwidth[c - 0xFF61];
        if (n < len) {
            uint32_t m;
            size_t k = kumo_text_decode(s + n, len - n, &m);
            if (m == 0xFF9E || m == 0xFF9F) {
                uint32_t v = compose(*cp, m == 0xFF9E ? 0x3099 : 0x309A);
                if (v) {
                    *cp = v;
                    n += k;
                }
            }
        }
    }
    return n;
}

static void token(uint32_t a, uint32_t b, struct kumo_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    char t[KUMO_TEXT_TOKEN_LEN];
    t[0] = 'c';
    for (int i = 0; i < 5; i++) {
        t[1 + i] = hex[(a >> (4 * (4 - i))) & 0xF];
        t[6 + i] = hex[(b >> (4 * (4 - i))) & 0xF];
    }
    kumo_buf_append(out, t, sizeof t);
}

size_t kumo_text_ngrams(const char *s, size_t len, size_t max_bytes, struct kumo_buf *out)
{
    size_t start = out->len, count = 0, i = 0;
    uint32_t prev = 0; /* the previous CJK character of the run, 0 outside one */
    int emitted = 0;   /* a token was written (a break goes before the next run's) */
    int run_tokens = 0;
    while (i < len) {
        uint32_t c;
        i += kumo_text_fold_next(s + i, len - i, &c);
        if (!kumo_text_is_cjk(c)) {
            if (c == 0x3099 || c == 0x309A)
                continue; /* a lone combining voiced mark: ignored */
            prev = 0;
            if (run_tokens)
                emitted = 1;
            run_tokens = 0;
            continue;
        }
        if (prev) {
            size_t need = KUMO_TEXT_TOKEN_LEN + 1 + (emitted ? sizeof KUMO_TEXT_BREAK : 0);
            if (out->len - start + need > max_bytes)
                break;
            if (out->len > start)
                kumo_buf_append_byte(out, ' ');
            if (emitted) {
                kumo_buf_append_str(out, KUMO_TEXT_BREAK " ");
                emitted = 0;
            }
            token(prev, c, out);
            count++;
            run_tokens = 1;
        }
        prev = c;
    }
    return count;
}

/* ---- queries ---- */

/* 1 if c separates query terms: white space, ASCII punctuation but '_'
 * and '\'' (word characters of the full-text parsers), general and CJK
 * punctuation, U+FFFD. */
static int separator(uint32_t c)
{
    if (c < 0x80)
        return c <= ' ' || (c < 0x7F && !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') &&
                            !(c >= 'A' && c <= 'Z') && c != '_' && c != '\'');
    return (c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F && !kumo_text_is_cjk(c)) ||
           c == 0x30FB || c == 0xFFFD || (c >= 0xFF00 && c <= 0xFF65);
}

static void add_term(struct kumo_text_query *q, const struct kumo_buf *seg, int cjk)
{
    if (seg->len == 0 || q->n_terms == KUMO_TEXT_TERMS_MAX)
        return;
    q->term_off[q->n_terms] = q->text.len;
    q->term_len[q->n_terms] = seg->len;
    q->term_cjk[q->n_terms] = cjk;
    q->n_terms++;
    kumo_buf_append(&q->text, seg->data, seg->len);
    kumo_buf_append_byte(&q->text, 0);
}

/* Ends the current segment (its characters folded in `seg`, n_chars of
 * them, `cjk` its kind). */
static void flush(struct kumo_text_query *q, struct kumo_buf *seg, size_t n_chars, int cjk)
{
    if (seg->len == 0)
        return;
    if (cjk && n_chars >= 2) {
        if (q->ngram.len)
            kumo_buf_append_byte(&q->ngram, ' ');
        kumo_buf_append_str(&q->ngram, "+\"");
        size_t from = q->ngram.len;
        kumo_text_ngrams((const char *)seg->data, seg->len, (size_t)-1, &q->ngram);
        kumo_buf_append(&q->phrases, q->ngram.data + from, q->ngram.len - from);
        kumo_buf_append_byte(&q->phrases, 0);
        q->n_phrases++;
        kumo_buf_append_byte(&q->ngram, '"');
    } else {
        if (q->words.len)
            kumo_buf_append_byte(&q->words, ' ');
        kumo_buf_append(&q->words, seg->data, seg->len);
    }
    add_term(q, seg, cjk);
    kumo_buf_reset(seg);
}

void kumo_text_query_parse(const char *s, size_t len, struct kumo_text_query *q)
{
    memset(q, 0, sizeof *q);
    struct kumo_buf seg = KUMO_BUF_INIT;
    size_t n_chars = 0, i = 0;
    int cjk = 0;
    while (i < len) {
        uint32_t c;
        i += kumo_text_fold_next(s + i, len - i, &c);
        if (c == 0x3099 || c == 0x309A)
            continue;
        int space = separator(c);
        int k = kumo_text_is_cjk(c);
        if (space || (seg.len && k != cjk)) {
            flush(q, &seg, n_chars, cjk);
            n_chars = 0;
        }
        if (space)
            continue;
        cjk = k;
        kumo_text_encode(c, &seg);
        n_chars++;
    }
    flush(q, &seg, n_chars, cjk);
    kumo_buf_free(&seg);
    /* Never NULL: "" when empty. */
    kumo_buf_append(&q->ngram, "", 0);
    kumo_buf_append(&q->words, "", 0);
    kumo_buf_append(&q->text, "", 0);
    kumo_buf_append(&q->phrases, "", 0);
}

void kumo_text_query_free(struct kumo_text_query *q)
{
    kumo_buf_free(&q->ngram);
    kumo_buf_free(&q->words);
    kumo_buf_free(&q->text);
    kumo_buf_free(&q->phrases);
}
