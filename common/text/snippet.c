/* Snippets around query matches (see snippet.h). The text is decoded once
 * into folded code points with their byte offsets; terms are compared on
 * those, and the snippet is cut from the original bytes. */
#include <string.h>

#include "base/alloc.h"
#include "snippet.h"

struct decoded {
    uint32_t *cp; /* folded, ASCII lower-cased */
    size_t *off;  /* byte offset of each in the text; off[n] = len */
    size_t n;
};

static uint32_t lower(uint32_t c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static void decode(const char *s, size_t len, struct decoded *d)
{
    d->cp = kumo_malloc((len + 1) * sizeof *d->cp);
    d->off = kumo_malloc((len + 1) * sizeof *d->off);
    d->n = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t c;
        size_t k = kumo_text_fold_next(s + i, len - i, &c);
        d->cp[d->n] = lower(c);
        d->off[d->n++] = i;
        i += k;
    }
    d->off[d->n] = len;
}

static int word_char(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' ||
           (c >= 0x80 && !kumo_text_is_cjk(c) && c != 0xFFFD && !(c >= 0x2000 && c <= 0x206F) &&
            !(c >= 0x3000 && c <= 0x303F));
}

/* 1 if term t (folded, n_t code points) occurs at position i of d. */
static int match_at(const struct decoded *d, size_t i, const uint32_t *t, size_t n_t, int cjk)
{
    if (i + n_t > d->n || memcmp(d->cp + i, t, n_t * sizeof *t) != 0)
        return 0;
    if (cjk)
        return 1;
    return (i == 0 || !word_char(d->cp[i - 1])) && (i + n_t == d->n || !word_char(d->cp[i + n_t]));
}

int kumo_text_snippet(const char *text, size_t len, const struct kumo_text_query *q, size_t width,
                      struct kumo_buf *out, struct kumo_text_mark *marks, size_t max_marks,
                      size_t *n_marks)
{
    *n_marks = 0;
    if (len > KUMO_TEXT_SNIPPET_INPUT_MAX)
        len = KUMO_TEXT_SNIPPET_INPUT_MAX;
    if (q->n_terms == 0 || len == 0 || width == 0)
        return 0;
    struct decoded d;
    decode(text, len, &d);
    /* The terms, folded the same way. */
    uint32_t *terms[KUMO_TEXT_TERMS_MAX];
    size_t n_t[KUMO_TEXT_TERMS_MAX];
    for (size_t t = 0; t < q->n_terms; t++) {
        struct decoded td;
        decode((const char *)q->text.data + q->term_off[t], q->term_len[t], &td);
        terms[t] = td.cp;
        n_t[t] = td.n;
        kumo_free(td.off);
    }
    /* First match of any term. */
    size_t first = d.n;
    for (size_t i = 0; i < d.n && first == d.n; i++)
        for (size_t t = 0; t < q->n_terms; t++)
            if (n_t[t] && match_at(&d, i, terms[t], n_t[t], q->term_cjk[t])) {
                first = i;
                break;
            }
    int found = first < d.n;
    if (found) {
        size_t lead = width / 3;
        size_t from = first > lead ? first - lead : 0;
        size_t to = from + width < d.n ? from + width : d.n;
        if (to - from < width && from > 0) /* the end reached: use the room before */
            from = to > width ? to - width : 0;
        size_t base = 0; /* code points written before the window's first */
        if (from > 0) {
            kumo_buf_append_str(out, "\xE2\x80\xA6");
            base = 1;
        }
        /* The original characters of [from, to), controls as spaces,
         * invalid bytes dropped; pos[i - from]: the characters written
         * before folded position i. */
        size_t *pos = kumo_malloc((to - from + 1) * sizeof *pos);
        size_t written = base;
        for (size_t i = from; i < to; i++) {
            pos[i - from] = written;
            for (size_t b = d.off[i]; b < d.off[i + 1];) {
                uint32_t c;
                size_t k = kumo_text_decode(text + b, d.off[i + 1] - b, &c);
                b += k;
                if (c == 0xFFFD && k == 1)
                    continue;
                kumo_text_encode(c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) ? ' ' : c, out);
                written++;
            }
        }
        pos[to - from] = written;
        /* The matches inside, leftmost-longest, not overlapping. */
        for (size_t i = from; i < to && *n_marks < max_marks;) {
            size_t best = 0;
            for (size_t t = 0; t < q->n_terms; t++)
                if (n_t[t] > best && i + n_t[t] <= to &&
                    match_at(&d, i, terms[t], n_t[t], q->term_cjk[t]))
                    best = n_t[t];
            if (best == 0) {
                i++;
                continue;
            }
            marks[*n_marks].start = (uint32_t)pos[i - from];
            marks[*n_marks].end = (uint32_t)pos[i + best - from];
            (*n_marks)++;
            i += best;
        }
        kumo_free(pos);
        if (to < d.n)
            kumo_buf_append_str(out, "\xE2\x80\xA6");
    }
    for (size_t t = 0; t < q->n_terms; t++)
        kumo_free(terms[t]);
    kumo_free(d.cp);
    kumo_free(d.off);
    return found;
}
