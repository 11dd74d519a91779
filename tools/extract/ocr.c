/* OCR with tesseract (its C API), languages from --ocr ("eng+jpn"),
 * started once per process on first use. */
#include <stdio.h>
#include <string.h>
#include <allheaders.h>
#include <tesseract/capi.h>

#include "extract.h"

static TessBaseAPI *api;

static int start(const struct kx_limits *l, struct kx_out *out)
{
    if (!api) {
        api = TessBaseAPICreate();
        if (!api || TessBaseAPIInit3(api, NULL, l->ocr) != 0) {
            snprintf(out->why, sizeof out->why, "OCR: cannot load the languages %s", l->ocr);
            return -1;
        }
        TessBaseAPISetPageSegMode(api, PSM_AUTO);
    }
    return 0;
}

static int recognize(struct kx_out *out)
{
    TessBaseAPISetSourceResolution(api, 200);
    char *t = TessBaseAPIGetUTF8Text(api);
    if (!t) {
        snprintf(out->why, sizeof out->why, "OCR failed");
        return -1;
    }
    kx_text_add(&out->text, t, strlen(t));
    TessDeleteText(t);
    TessBaseAPIClear(api);
    return 0;
}

int kx_ocr(const struct kx_limits *l, const uint8_t *pixels, int w, int h, int bytes_per_pixel,
           int stride, struct kx_out *out)
{
    if (start(l, out) != 0)
        return -1;
    TessBaseAPISetImage(api, pixels, w, h, bytes_per_pixel, stride);
    return recognize(out);
}

int kx_ocr_pix(const struct kx_limits *l, struct Pix *pix, struct kx_out *out)
{
    if (start(l, out) != 0)
        return -1;
    TessBaseAPISetImage2(api, pix);
    return recognize(out);
}

void kx_ocr_end(void)
{
    if (api) {
        TessBaseAPIEnd(api);
        TessBaseAPIDelete(api);
        api = NULL;
    }
}
