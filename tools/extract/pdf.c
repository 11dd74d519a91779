/* PDF: the text layer of up to max_pages pages (poppler), OCR of the
 * first ocr_pages pages rendered at 200 dpi when there is no text layer
 * (a scan), and a thumbnail of the first page (cairo). Every rendering is
 * bounded by max_pixels. */
#include <cairo.h>
#include <math.h>
#include <poppler.h>
#include <stdio.h>
#include <string.h>

#include "extract.h"

#define OCR_DPI    200.0
#define MAX_POINTS 14400.0 /* PDF's largest page side (200 in) */

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len)
{
    kumo_buf_append(closure, data, len);
    return CAIRO_STATUS_SUCCESS;
}

/* Renders `page` at `scale` on white; NULL with out->why on failure. */
static cairo_surface_t *render(PopplerPage *page, double scale, const struct kx_limits *l,
                               struct kx_out *out)
{
    double w = 0, h = 0;
    poppler_page_get_size(page, &w, &h);
    if (!(w > 0 && h > 0 && w <= MAX_POINTS && h <= MAX_POINTS)) {
        snprintf(out->why, sizeof out->why, "PDF page size out of range");
        return NULL;
    }
    double pw = ceil(w * scale), ph = ceil(h * scale);
    if (pw * ph > (double)l->max_pixels) {
        scale *= sqrt((double)l->max_pixels / (pw * ph));
        pw = floor(w * scale);
        ph = floor(h * scale);
    }
    if (pw < 1)
        pw = 1;
    if (ph < 1)
        ph = 1;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)pw, (int)ph);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        snprintf(out->why, sizeof out->why, "cannot allocate a %dx%d page image", (int)pw, (int)ph);
        return NULL;
    }
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, scale, scale);
    poppler_page_render(page, cr);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    return s;
}

static void thumbnail(PopplerPage *page, const struct kx_limits *l, struct kx_out *out)
{
    double w = 0, h = 0;
    poppler_page_get_size(page, &w, &h);
    if (!(w > 0 && h > 0))
        return;
    double scale = (double)l->thumb_px / (w > h ? w : h);
    char keep[sizeof out->why];
    memcpy(keep, out->why, sizeof keep);
    cairo_surface_t *s = render(page, scale, l, out);
    memcpy(out->why, keep, sizeof keep); /* no thumbnail is not a failure */
    if (!s)
        return;
    if (cairo_surface_write_to_png_stream(s, png_write, &out->thumb) != CAIRO_STATUS_SUCCESS)
        kumo_buf_reset(&out->thumb);
    cairo_surface_destroy(s);
}

static int only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t' && s[i] != '\f')
            return 0;
    return 1;
}

int kx_pdf(int fd, const struct kx_limits *l, struct kx_out *out)
{
    GError *err = NULL;
    PopplerDocument *doc = poppler_document_new_from_fd(fd, NULL, &err);
    if (!doc) {
        snprintf(out->why, sizeof out->why, "not a readable PDF: %s",
                 err && err->message ? err->message : "unknown error");
        if (err)
            g_error_free(err);
        return -1;
    }
    int n = poppler_document_get_n_pages(doc);
    if (n <= 0) {
        snprintf(out->why, sizeof out->why, "PDF has no readable pages");
        g_object_unref(doc);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && i < l->max_pages && !out->text.full; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        if (!page)
            continue;
        if (i == 0 && l->thumb_px > 0)
            thumbnail(page, l, out);
        char *t = poppler_page_get_text(page);
        if (t) {
            kx_text_add(&out->text, t, strlen(t));
            kx_text_add(&out->text, "\n", 1);
            g_free(t);
        }
        out->pages++;
        g_object_unref(page);
    }
    if (out->pages == 0) {
        snprintf(out->why, sizeof out->why, "PDF has no readable pages (broken page tree?)");
        g_object_unref(doc);
        return -1;
    }
    /* No text layer: a scan. OCR the first pages. */
    if (l->ocr && only_space((const char *)out->text.buf.data, out->text.buf.len)) {
        kumo_buf_reset(&out->text.buf);
        out->text.full = 0;
        for (int i = 0; rc == 0 && i < n && i < l->ocr_pages && !out->text.full; i++) {
            PopplerPage *page = poppler_document_get_page(doc, i);
            if (!page)
                continue;
            cairo_surface_t *s = render(page, OCR_DPI / 72.0, l, out);
            if (!s) {
                rc = -1;
            } else {
                rc = kx_ocr(l, cairo_image_surface_get_data(s), cairo_image_surface_get_width(s),
                            cairo_image_surface_get_height(s), 4, cairo_image_surface_get_stride(s),
                            out);
                cairo_surface_destroy(s);
            }
            g_object_unref(page);
        }
    }
    g_object_unref(doc);
    return rc;
}
