/* Keyset cursors for lists ordered by more than one column (a time or a
 * title, then seq as the tie-break): page_token.h carries one integer; a
 * cursor carries the row's seq, an integer sort value and a string sort
 * value, so the next page is "WHERE (sort, seq) beyond the cursor" and
 * stays stable while rows are inserted. Like a page token it is bound to its
 * query (`scope`: tenant, filters, order) through a truncated SHA-256 of the
 * scope, and refused with any other scope. Opaque base64url text, not
 * secret, carrying no authority. */
#ifndef KUMO_PAGE_CURSOR_H
#define KUMO_PAGE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Longest string sort value a cursor carries (bytes). */
#define KUMO_PAGE_CURSOR_STR_MAX 1024

/* Longest token text accepted by decode. */
#define KUMO_PAGE_CURSOR_TOKEN_MAX 1500

struct kumo_page_cursor {
    int64_t seq;     /* last row's seq (>= 0); -1 after decoding "" */
    int64_t num;     /* integer sort value (e.g. microseconds) */
    const char *str; /* string sort value (NUL-terminated), may be "" */
    size_t str_len;
};

/* Appends the token for `cur` in `scope` to `out` (NUL-terminated, the NUL
 * not counted in out->len). Returns 0, or KUMO_ERR_INVALID (negative seq,
 * string longer than KUMO_PAGE_CURSOR_STR_MAX) leaving `out` as it was. */
int kumo_page_cursor_encode(const struct kumo_page_cursor *cur, const void *scope, size_t scope_len,
                            struct kumo_buf *out);

/* Decodes token[0..len). "" is the first page: cur->seq = -1, num 0,
 * str "". Otherwise sets *cur, its string pointing into `strbuf` (reset
 * first; the caller frees it). Returns 0, or KUMO_ERR_INVALID (malformed,
 * too long, unknown version, another scope) leaving *cur untouched. */
int kumo_page_cursor_decode(const char *token, size_t len, const void *scope, size_t scope_len,
                            struct kumo_page_cursor *cur, struct kumo_buf *strbuf);

#endif
