/* The bounded text buffer of an extraction. */
#include <string.h>

#include "extract.h"

void kx_text_add(struct kx_text *t, const char *s, size_t n)
{
    if (t->full || n == 0)
        return;
    size_t room = t->max > t->buf.len ? t->max - t->buf.len : 0;
    if (n > room) {
        n = room;
        /* Never cut inside a UTF-8 sequence. */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        t->full = 1;
    }
    kumo_buf_append(&t->buf, s, n);
}
