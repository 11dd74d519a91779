/* Images (PNG, JPEG, TIFF, GIF, WebP, BMP: what leptonica reads): the
 * header is read first and an image of more than max_pixels pixels is
 * refused before anything is decoded (decompression bombs); then OCR of
 * the text in it and a thumbnail. */
#include <allheaders.h>
#include <stdio.h>

#include "extract.h"

/* Leptonica reports through stderr by default: keep it quiet. */
static void quiet(const char *msg)
{
    (void)msg;
}

int kx_image(const uint8_t *data, size_t len, const struct kx_limits *l, struct kx_out *out)
{
    leptSetStderrHandler(quiet);
    l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
    if (pixReadHeaderMem(data, len, &format, &w, &h, &bps, &spp, &cmap) != 0 || w <= 0 || h <= 0) {
        snprintf(out->why, sizeof out->why, "not a readable image");
        return -1;
    }
    if ((int64_t)w * h > l->max_pixels) {
        snprintf(out->why, sizeof out->why,
                 "image too large: %dx%d pixels (limit %lld, KUMO_EXTRACT_MAX_PIXELS)", (int)w,
                 (int)h, (long long)l->max_pixels);
        return -1;
    }
    PIX *pix = pixReadMem(data, len);
    if (!pix) {
        snprintf(out->why, sizeof out->why, "cannot decode the image");
        return -1;
    }
    /* The decoded size must be the one announced. */
    if ((int64_t)pixGetWidth(pix) * pixGetHeight(pix) > l->max_pixels) {
        pixDestroy(&pix);
        snprintf(out->why, sizeof out->why, "image too large");
        return -1;
    }
    out->pages = 1;
    int rc = 0;
    if (l->thumb_px > 0) {
        int side = w > h ? w : h;
        float f = side > l->thumb_px ? (float)l->thumb_px / (float)side : 1.0f;
        PIX *p32 = pixConvertTo32(pix);
        PIX *t = p32 ? pixScale(p32, f, f) : NULL;
        l_uint8 *png = NULL;
        size_t n = 0;
        if (t && pixWriteMem(&png, &n, t, IFF_PNG) == 0 && png)
            kumo_buf_append(&out->thumb, png, n);
        if (png)
            lept_free(png);
        pixDestroy(&t);
        pixDestroy(&p32);
    }
    if (l->ocr) {
        rc = kx_ocr_pix(l, pix, out);
    }
    pixDestroy(&pix);
    return rc;
}
