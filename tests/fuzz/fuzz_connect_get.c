/* Connect GET query parsing on arbitrary query strings, plus round trips of
 * its building blocks (URL and grpc-message percent-encoding, base64). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "wire/connect_get.h"
#include "base/errors.h"
#include "base/pctenc.h"

static void check_parse(const char *q, size_t len)
{
    struct kumo_connect_get g;
    const char *why = NULL;
    int rc = kumo_connect_get_parse(q, len, &g, &why);
    if (rc < 0 || rc > 16 || why == NULL)
        abort();
    if (rc == 0) {
        if (strcmp(g.encoding, "proto") != 0 && strcmp(g.encoding, "json") != 0)
            abort();
        if (memchr(g.compression, '\0', sizeof g.compression) == NULL)
            abort();
        /* Decoding only shrinks. */
        if (g.message.data == NULL || g.message.len > len)
            abort();
    } else {
        if (rc != 3 && rc != 12) /* invalid_argument, unimplemented */
            abort();
        if (why[0] == '\0' || g.message.data != NULL)
            abort();
    }
    kumo_connect_get_free(&g);
}

static void check_codecs(const uint8_t *data, size_t size)
{
    struct kumo_buf a = KUMO_BUF_INIT, b = KUMO_BUF_INIT;
    for (int mode = 0; mode < 4; mode++) {
        kumo_buf_reset(&a);
        kumo_buf_reset(&b);
        kumo_base64_encode(data, size, mode & 1, mode & 2, &a);
        if (kumo_base64_decode((char *)a.data, a.len, &b) != 0 || b.len != size ||
            (size && memcmp(b.data, data, size) != 0))
            abort();
    }
    kumo_buf_reset(&b);
    if (kumo_base64_decode((const char *)data, size, &b) == 0 && b.len > size)
        abort();

    kumo_buf_reset(&a);
    kumo_buf_reset(&b);
    kumo_pct_encode((const char *)data, size, &a);
    kumo_pct_decode((char *)a.data, a.len, &b);
    if (b.len != size || (size && memcmp(b.data, data, size) != 0))
        abort();
    kumo_buf_reset(&b);
    kumo_pct_decode((const char *)data, size, &b);
    if (b.len > size)
        abort();
    kumo_buf_reset(&b);
    int rc = kumo_url_query_decode((const char *)data, size, &b);
    if ((rc != 0 && rc != KUMO_ERR_INVALID) || (rc != 0 && b.len != 0) || b.len > size)
        abort();
    kumo_buf_free(&a);
    kumo_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse((const char *)data, size);
    check_codecs(data, size);
    return 0;
}
