/* What a browser may render inline from kumo's storage, and the
 * Content-Disposition a download is served with.
 *
 * Objects hold what users uploaded, under whatever type they declared: an
 * HTML or SVG file rendered inline on the data port's origin (or S3's) runs
 * its scripts there. Only types a browser shows without running anything
 * may be inline: raster images, PDF, and plain text with a declared charset
 * (without one, old browsers sniff). Everything else is an attachment,
 * whatever disposition the request or the object asked for. */
#include <string.h>
#include <strings.h>

#include "http/token.h"
#include "storage.h"

static size_t skip_ows(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static int name_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(s, want, n) == 0;
}

static const char *const inline_images[] = {
    "png", "apng", "jpeg", "gif", "webp", "avif", "bmp", "x-icon", "vnd.microsoft.icon",
};

static int image_ok(const char *sub, size_t n)
{
    for (size_t i = 0; i < sizeof inline_images / sizeof inline_images[0]; i++)
        if (name_is(sub, n, inline_images[i]))
            return 1;
    return 0;
}

int stg_inline_safe(const char *ct, size_t len)
{
    size_t i = skip_ows(ct, len, 0);
    size_t tn = kumo_http_token_len(ct + i, len - i);
    const char *type = ct + i;
    i += tn;
    if (tn == 0 || i >= len || ct[i] != '/')
        return 0;
    i++;
    const char *sub = ct + i;
    size_t sn = kumo_http_token_len(sub, len - i);
    i += sn;
    if (sn == 0)
        return 0;
    int charset = 0;
    for (;;) {
        i = skip_ows(ct, len, i);
        if (i == len)
            break;
        if (ct[i] != ';')
            return 0;
        i = skip_ows(ct, len, i + 1);
        size_t pn = kumo_http_token_len(ct + i, len - i);
        if (pn == 0 || i + pn >= len || ct[i + pn] != '=')
            return 0;
        if (name_is(ct + i, pn, "charset"))
            charset = 1;
        i += pn + 1;
        size_t vn = kumo_http_token_len(ct + i, len - i);
        if (vn == 0)
            vn = kumo_http_quoted_len(ct + i, len - i, 1);
        if (vn == 0)
            return 0;
        i += vn;
    }
    if (name_is(type, tn, "image"))
        return image_ok(sub, sn);
    if (name_is(type, tn, "application"))
        return name_is(sub, sn, "pdf");
    if (name_is(type, tn, "text"))
        return name_is(sub, sn, "plain") && charset;
    return 0;
}

void stg_serve_disposition(const char *ct, const char *want, struct kumo_buf *out)
{
    size_t wlen = want ? strlen(want) : 0;
    size_t i = skip_ows(want ? want : "", wlen, 0);
    if (i == wlen) { /* none asked for */
        if (!stg_inline_safe(ct, strlen(ct)))
            kumo_buf_append_str(out, "attachment");
        return;
    }
    size_t tn = kumo_http_token_len(want + i, wlen - i);
    if (name_is(want + i, tn, "attachment") || stg_inline_safe(ct, strlen(ct))) {
        kumo_buf_append(out, want + i, wlen - i);
        return;
    }
    /* "inline; filename=..." (or anything else) of an unsafe type: the
     * same parameters, as an attachment. */
    kumo_buf_append_str(out, "attachment");
    size_t rest = i + tn;
    rest = skip_ows(want, wlen, rest);
    if (rest < wlen && want[rest] == ';')
        kumo_buf_append(out, want + rest, wlen - rest);
}
