/* storage serve policy: stg_inline_safe never reads past its input and
 * accepts only the documented families; stg_serve_disposition keeps header
 * values valid (no byte the input did not have), and for a type that is not
 * inline-safe always answers an attachment. Input: content type, NUL, the
 * disposition asked for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "storage.h"

static void check_safe_family(const char *ct)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "image/", 6) != 0 && strncasecmp(ct, "application/pdf", 15) != 0 &&
        strncasecmp(ct, "text/plain", 10) != 0)
        abort();
    if (strncasecmp(ct, "image/svg", 9) == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t ct_len = nul ? (size_t)(nul - data) : size;
    char *ct = kumo_malloc(ct_len + 1);
    memcpy(ct, data, ct_len);
    ct[ct_len] = '\0';
    size_t want_len = nul ? size - ct_len - 1 : 0;
    char *want = kumo_malloc(want_len + 1);
    if (want_len)
        memcpy(want, nul + 1, want_len);
    want[want_len] = '\0';
    want_len = strlen(want);

    int safe = stg_inline_safe(ct, ct_len);
    if (safe && strlen(ct) == ct_len)
        check_safe_family(ct);
    if (strlen(ct) == ct_len) {
        struct kumo_buf out = KUMO_BUF_INIT;
        stg_serve_disposition(ct, want, &out);
        for (size_t i = 0; i < out.len; i++)
            if ((out.data[i] == '\r' || out.data[i] == '\n' || out.data[i] == 0) &&
                memchr(want, out.data[i], want_len) == NULL)
                abort();
        if (!safe && (out.len < 10 || strncasecmp((const char *)out.data, "attachment", 10) != 0))
            abort();
        if (out.len > want_len + 10)
            abort();
        kumo_buf_free(&out);
    }
    kumo_free(ct);
    kumo_free(want);
    return 0;
}
