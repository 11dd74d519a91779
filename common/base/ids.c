/* Ids, etags and the wall clock (see ids.h). */
#include "base/ids.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/errors.h"
#include "base/secret.h"

static const char base32[] = "abcdefghijklmnopqrstuvwxyz234567";

int kumo_id_new(const char *prefix, char *out, size_t cap)
{
    size_t n = strlen(prefix);
    if (n + 1 + KUMO_ID_RANDOM_CHARS + 1 > cap)
        return KUMO_ERR_INVALID;
    uint8_t rnd[KUMO_ID_RANDOM_CHARS];
    if (kumo_secret_random_bytes(rnd, sizeof rnd) != 0)
        return KUMO_ERR_IO;
    memcpy(out, prefix, n);
    out[n++] = '_';
    /* 32 divides 256: taking 5 bits of each byte keeps the characters
     * uniform. */
    for (size_t i = 0; i < KUMO_ID_RANDOM_CHARS; i++)
        out[n++] = base32[rnd[i] & 31];
    out[n] = '\0';
    return 0;
}

int64_t kumo_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int kumo_etag_parse(const char *etag, int64_t *version)
{
    size_t n = etag ? strlen(etag) : 0;
    /* 18 digits always fit in int64_t: no overflow check needed. */
    if (n == 0 || n > 18 || (etag[0] == '0' && n > 1))
        return KUMO_ERR_INVALID;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (etag[i] < '0' || etag[i] > '9')
            return KUMO_ERR_INVALID;
        v = v * 10 + (etag[i] - '0');
    }
    if (v < 1)
        return KUMO_ERR_INVALID;
    *version = v;
    return 0;
}

void kumo_etag_format(int64_t version, char out[KUMO_ETAG_MAX])
{
    snprintf(out, KUMO_ETAG_MAX, "%lld", (long long)version);
}
