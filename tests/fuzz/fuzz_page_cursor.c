/* page cursors: decoding never crashes or leaks on any input, a decoded
 * cursor re-encodes to a token that decodes to the same values in the same
 * scope, and never decodes in another scope. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/page_cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char scope[] = "docs|t1|0";
    struct kumo_buf sb = KUMO_BUF_INIT, tok = KUMO_BUF_INIT, sb2 = KUMO_BUF_INIT;
    struct kumo_page_cursor c, d;
    if (kumo_page_cursor_decode((const char *)data, size, scope, strlen(scope), &c, &sb) == 0 &&
        c.seq >= 0) {
        if (kumo_page_cursor_encode(&c, scope, strlen(scope), &tok) != 0)
            abort();
        if (kumo_page_cursor_decode((const char *)tok.data, tok.len, scope, strlen(scope), &d,
                                    &sb2) != 0)
            abort();
        if (d.seq != c.seq || d.num != c.num || d.str_len != c.str_len ||
            memcmp(d.str, c.str, c.str_len) != 0)
            abort();
        if (kumo_page_cursor_decode((const char *)tok.data, tok.len, "other", 5, &d, &sb2) == 0)
            abort();
    }
    kumo_buf_free(&sb);
    kumo_buf_free(&sb2);
    kumo_buf_free(&tok);
    return 0;
}
