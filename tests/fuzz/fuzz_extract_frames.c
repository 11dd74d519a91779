/* The extractor's output frames (common/extract/frames.h), as the extract
 * job reads a child's stdout: decoding never crashes, leaks or reads out
 * of bounds on any input, and what decodes re-encodes to frames that
 * decode to the same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract/frames.h"

#define TEXT_MAX  4096
#define THUMB_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kumo_xf_result r, again;
    memset(&r, 0, sizeof r);
    memset(&again, 0, sizeof again);
    const char *why = NULL;
    if (kumo_xf_decode(data, size, TEXT_MAX, THUMB_MAX, &r, &why) == 0) {
        if (r.text.len > TEXT_MAX || r.thumb.len > THUMB_MAX)
            abort();
        struct kumo_buf b = KUMO_BUF_INIT;
        if (r.text.len)
            kumo_xf_put(&b, KUMO_XF_TEXT, r.text.data, r.text.len);
        uint8_t p[4] = {(uint8_t)(r.pages >> 24), (uint8_t)(r.pages >> 16), (uint8_t)(r.pages >> 8),
                        (uint8_t)r.pages};
        kumo_xf_put(&b, KUMO_XF_PAGES, p, 4);
        if (r.thumb.len)
            kumo_xf_put(&b, KUMO_XF_THUMB, r.thumb.data, r.thumb.len);
        if (r.error[0])
            kumo_xf_put(&b, KUMO_XF_ERROR, r.error, strlen(r.error));
        if (r.ended)
            kumo_xf_put(&b, KUMO_XF_END, NULL, 0);
        if (kumo_xf_decode(b.data, b.len, TEXT_MAX, THUMB_MAX, &again, &why) != 0)
            abort();
        if (again.text.len != r.text.len || again.thumb.len != r.thumb.len ||
            again.pages != r.pages || again.ended != r.ended || strcmp(again.error, r.error) != 0 ||
            (r.text.len && memcmp(again.text.data, r.text.data, r.text.len) != 0) ||
            (r.thumb.len && memcmp(again.thumb.data, r.thumb.data, r.thumb.len) != 0))
            abort();
        kumo_buf_free(&b);
    } else if (!why || !why[0]) {
        abort();
    }
    kumo_xf_result_free(&r);
    kumo_xf_result_free(&again);
    return 0;
}
