/* Content-Disposition for downloads (see content_disposition.h). */
#include "http/content_disposition.h"

#include <stdint.h>
#include <string.h>

/* RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" /
 * "." / "^" / "_" / "`" / "|" / "~". */
static int attr_char(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

static void fallback(const char *name, size_t len, struct kumo_buf *out)
{
    size_t start = out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x80) {
            /* One '_' per code point: continuation bytes add nothing. */
            if ((c & 0xC0) != 0x80)
                kumo_buf_append_byte(out, '_');
        } else if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
            kumo_buf_append_byte(out, '_');
        } else {
            kumo_buf_append_byte(out, c);
        }
    }
    if (out->len == start)
        kumo_buf_append_str(out, "download");
}

void kumo_content_disposition_attachment(const char *name, size_t len, struct kumo_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    kumo_buf_append_str(out, "attachment; filename=\"");
    fallback(name, len, out);
    kumo_buf_append_byte(out, '"');
    if (len == 0)
        return;
    kumo_buf_append_str(out, "; filename*=UTF-8''");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (attr_char(c)) {
            kumo_buf_append_byte(out, c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            kumo_buf_append(out, e, 3);
        }
    }
}
