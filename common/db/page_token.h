/* Cursor pagination (AIP-158 style page_size / page_token /
 * next_page_token) for keyset queries: a page token carries the sort key of
 * the last row returned, so the next page is "WHERE key > ? ORDER BY key
 * LIMIT n" and stays correct while rows are inserted or deleted (no
 * offsets: nothing is skipped or repeated).
 *
 * A token also binds the query it belongs to (tenant, filters: the `scope`
 * bytes) through a truncated SHA-256, so replaying it with other filters is
 * refused as invalid_argument instead of silently paging through another
 * result. Tokens are opaque base64url text; they are not secret and carry
 * no authority (every query is scoped by the caller's tenant anyway). */
#ifndef KUMO_PAGE_TOKEN_H
#define KUMO_PAGE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* Room for a token and its NUL. */
#define KUMO_PAGE_TOKEN_MAX 32

/* Writes the token for "continue after `last_key`" (>= 0) in `scope` to
 * out[KUMO_PAGE_TOKEN_MAX] (NUL-terminated). Returns 0, or KUMO_ERR_INVALID
 * for a negative key. */
int kumo_page_token_encode(int64_t last_key, const void *scope, size_t scope_len,
                           char out[KUMO_PAGE_TOKEN_MAX]);

/* Decodes token[0..len). An empty token means the first page: *last_key =
 * -1. Returns 0, or KUMO_ERR_INVALID (malformed, unknown version, or made
 * for another scope) leaving *last_key untouched. */
int kumo_page_token_decode(const char *token, size_t len, const void *scope, size_t scope_len,
                           int64_t *last_key);

/* Resolves a requested page size: 0 means `def`, above `max` is clamped to
 * `max`. Returns 0 and sets *out, or KUMO_ERR_INVALID for a negative size. */
int kumo_page_size(int32_t requested, int32_t def, int32_t max, int32_t *out);

#endif
