/* The monotonic clock (base/clock.h). */
#include "base/clock.h"

#include <time.h>

int64_t kumo_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void kumo_format_ms(char *out, size_t outlen, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    uint64_t us = ((uint64_t)ns + 500) / 1000;
    char digits[24];
    size_t n = 0;
    uint64_t whole = us / 1000;
    do {
        digits[n++] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    size_t o = 0;
    while (n && o + 1 < outlen)
        out[o++] = digits[--n];
    unsigned frac = (unsigned)(us % 1000);
    char tail[4] = {'.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                    (char)('0' + frac % 10)};
    for (size_t i = 0; i < 4 && o + 1 < outlen; i++)
        out[o++] = tail[i];
    out[o] = '\0';
}
