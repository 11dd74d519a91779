/* The extractor output protocol (frames.h). */
#include "extract/frames.h"

#include <string.h>

void kumo_xf_put(struct kumo_buf *out, int type, const void *data, size_t len)
{
    uint8_t h[KUMO_XF_HEADER] = {(uint8_t)type, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                                 (uint8_t)(len >> 8), (uint8_t)len};
    kumo_buf_append(out, h, sizeof h);
    if (len)
        kumo_buf_append(out, data, len);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int kumo_xf_decode(const uint8_t *data, size_t len, size_t text_max, size_t thumb_max,
                   struct kumo_xf_result *r, const char **why)
{
    size_t off = 0;
    int have_thumb = 0;
    while (off < len) {
        if (r->ended) {
            *why = "data after the end frame";
            return -1;
        }
        if (len - off < KUMO_XF_HEADER) {
            *why = "truncated frame header";
            return -1;
        }
        int type = data[off];
        size_t n = be32(data + off + 1);
        off += KUMO_XF_HEADER;
        if (n > len - off) {
            *why = "truncated frame";
            return -1;
        }
        const uint8_t *p = data + off;
        off += n;
        switch (type) {
        case KUMO_XF_TEXT:
            if (n > text_max - r->text.len) {
                *why = "text over its limit";
                return -1;
            }
            kumo_buf_append(&r->text, p, n);
            break;
        case KUMO_XF_PAGES:
            if (n != 4) {
                *why = "bad pages frame";
                return -1;
            }
            r->pages = be32(p);
            break;
        case KUMO_XF_THUMB:
            if (have_thumb || n == 0) {
                *why = "bad thumbnail frame";
                return -1;
            }
            if (n > thumb_max) {
                *why = "thumbnail over its limit";
                return -1;
            }
            have_thumb = 1;
            kumo_buf_append(&r->thumb, p, n);
            break;
        case KUMO_XF_ERROR:
            if (r->error[0] || n == 0 || n > KUMO_XF_ERROR_MAX) {
                *why = "bad error frame";
                return -1;
            }
            for (size_t i = 0; i < n; i++)
                r->error[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
            r->error[n] = '\0';
            break;
        case KUMO_XF_END:
            if (n != 0) {
                *why = "bad end frame";
                return -1;
            }
            r->ended = 1;
            break;
        default:
            *why = "unknown frame type";
            return -1;
        }
    }
    return 0;
}

void kumo_xf_result_free(struct kumo_xf_result *r)
{
    kumo_buf_free(&r->text);
    kumo_buf_free(&r->thumb);
    memset(r, 0, sizeof *r);
}
