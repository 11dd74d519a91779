/* gzip: decompressing arbitrary bytes under a limit never overruns the
 * limit nor crashes, and compress then decompress is the identity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/compress.h"
#include "base/errors.h"

#define LIMIT (256 * 1024)

static void check_decompress(const uint8_t *data, size_t size)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append(&out, "pre", 3);
    int rc = kumo_gzip_decompress(data, size, LIMIT, &out);
    if (rc != 0 && rc != KUMO_ERR_TOO_LARGE && rc != KUMO_ERR_INVALID)
        abort();
    if (memcmp(out.data, "pre", 3) != 0 || out.data[out.len] != '\0')
        abort();
    if (rc != 0 && out.len != 3)
        abort();
    /* Memory stays near the limit whatever the input. */
    if (out.cap > LIMIT + 3 + 2)
        abort();
    if (rc == 0) {
        size_t n = out.len - 3;
        if (n > LIMIT)
            abort();
        /* The same input under a limit one short must be refused. */
        if (n > 0) {
            struct kumo_buf again = KUMO_BUF_INIT;
            if (kumo_gzip_decompress(data, size, n - 1, &again) != KUMO_ERR_TOO_LARGE)
                abort();
            kumo_buf_free(&again);
        }
    }
    kumo_buf_free(&out);
}

static void check_round_trip(const uint8_t *data, size_t size)
{
    struct kumo_buf gz = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    if (kumo_gzip_compress(data, size, &gz) != 0)
        abort();
    if (kumo_gzip_decompress(gz.data, gz.len, size, &out) != 0)
        abort();
    if (out.len != size || (size && memcmp(out.data, data, size) != 0))
        abort();
    if (size > 0) {
        kumo_buf_reset(&out);
        if (kumo_gzip_decompress(gz.data, gz.len, size - 1, &out) != KUMO_ERR_TOO_LARGE)
            abort();
    }
    /* Any proper prefix is truncated data. */
    kumo_buf_reset(&out);
    if (kumo_gzip_decompress(gz.data, gz.len - 1 - size % (gz.len - 1), size, &out) !=
        KUMO_ERR_INVALID)
        abort();
    kumo_buf_free(&gz);
    kumo_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decompress(data, size);
    check_round_trip(data, size);
    return 0;
}
