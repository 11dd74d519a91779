/* Search snippets: a short piece of a text around the first match of a
 * query's terms, with every match inside it given as a range, so a client
 * highlights them without the server writing markup (the text stays plain
 * text: nothing in it is ever interpreted). */
#ifndef KUMO_TEXT_SNIPPET_H
#define KUMO_TEXT_SNIPPET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "ngram.h"

/* A matched range of a snippet: code point offsets [start, end). */
struct kumo_text_mark {
    uint32_t start, end;
};

/* The longest text kumo_text_snippet looks at (bytes); longer text is cut. */
#define KUMO_TEXT_SNIPPET_INPUT_MAX (64 * 1024)

/* Finds the first occurrence in text[0..len) (any bytes: invalid UTF-8 is
 * skipped) of any term of `q` (compared folded as kumo_text_fold_next
 * does, ASCII letters without case; a non-CJK term only at word
 * boundaries), and writes to `out` the text around it: at most `width`
 * code points, starting up to width/3 before the match, "…" where the text
 * was cut, control characters as spaces. Every match inside is listed in
 * marks[0..*n_marks) (at most max_marks, in order, not overlapping),
 * offsets in code points of `out`. Returns 1 with the snippet, or 0 (out
 * untouched, *n_marks = 0) when no term occurs. */
int kumo_text_snippet(const char *text, size_t len, const struct kumo_text_query *q, size_t width,
                      struct kumo_buf *out, struct kumo_text_mark *marks, size_t max_marks,
                      size_t *n_marks);

#endif
