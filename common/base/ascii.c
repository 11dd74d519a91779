#include "base/ascii.h"

#include <stdint.h>
#include <string.h>

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero if some byte of w is below 0x20 or at least 0x7F. Each term is
 * exact as a whole: a borrow reaches a byte only from a lower byte that
 * itself matched. */
static uint64_t word_not_printable(uint64_t w)
{
    uint64_t below_space = (w - ONES * 0x20) & ~w & HIGHS;
    uint64_t del = w ^ (ONES * 0x7F);
    del = (del - ONES) & ~del & HIGHS;
    return below_space | del | (w & HIGHS);
}

static int byte_printable(unsigned char c)
{
    return c >= 0x20 && c < 0x7F;
}

int kumo_ascii_printable(const char *s, size_t len)
{
    size_t i = 0;
    uint64_t bad = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        bad |= word_not_printable(w);
    }
    if (bad)
        return 0;
    for (; i < len; i++)
        if (!byte_printable((unsigned char)s[i]))
            return 0;
    return 1;
}
