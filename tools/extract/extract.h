/* kumo-extract: the sandboxed extractor kumo-documents runs for every
 * completed upload of a PDF, an Office (OOXML) file or an image (see
 * main.c for the command line and common/extract/frames.h for what it
 * writes). One process per file: whatever a hostile file does to the
 * parsers stays in this process, under the limits of sandbox.c. */
#ifndef KUMO_TOOLS_EXTRACT_H
#define KUMO_TOOLS_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* The bounds of one run (command-line options). */
struct kx_limits {
    int max_pages;      /* pages read (PDF text) */
    int ocr_pages;      /* pages OCRed (PDF without a text layer) */
    size_t text_max;    /* bytes of text kept */
    int64_t max_pixels; /* pixels of a decoded image or rendered page */
    int thumb_px;       /* longest thumbnail side; 0: no thumbnail */
    size_t zip_max;     /* uncompressed bytes read from an OOXML zip */
    const char *ocr;    /* tesseract languages ("eng+jpn"), NULL: no OCR */
};

/* The text collected so far, cut at text_max (at a UTF-8 boundary). */
struct kx_text {
    struct kumo_buf buf;
    size_t max;
    int full; /* text_max reached: stop reading */
};

/* Appends up to the limit; sets `full` once reached. */
void kx_text_add(struct kx_text *t, const char *s, size_t n);

/* What a run produced. `error` is a short reason (static or in `why`). */
struct kx_out {
    struct kx_text text;
    struct kumo_buf thumb; /* PNG */
    uint32_t pages;
    char why[256];
};

/* Each returns 0, or -1 with out->why set. `fd` is the input file. */
int kx_pdf(int fd, const struct kx_limits *l, struct kx_out *out);
int kx_image(const uint8_t *data, size_t len, const struct kx_limits *l, struct kx_out *out);
/* kind: "docx", "xlsx", "pptx" or "ooxml" (any of them, told by the parts). */
int kx_ooxml_fd(int fd, const char *kind, const struct kx_limits *l, struct kx_out *out);
int kx_ooxml_mem(const uint8_t *data, size_t len, const char *kind, const struct kx_limits *l,
                 struct kx_out *out);

/* The text walk of one XML part, from memory: part "document" (Word),
 * "shared" / "sheet" (Excel), "slide" (PowerPoint). For the fuzz target. */
int kx_ooxml_part(const uint8_t *xml, size_t len, const char *part, struct kx_out *out);

/* OCR of 8-bit gray or 32-bit pixels (ocr.c): appends the recognized text. */
int kx_ocr(const struct kx_limits *l, const uint8_t *pixels, int w, int h, int bytes_per_pixel,
           int stride, struct kx_out *out);
/* The same for a leptonica image. */
struct Pix;
int kx_ocr_pix(const struct kx_limits *l, struct Pix *pix, struct kx_out *out);
void kx_ocr_end(void);

/* The sandbox (sandbox.c): resource limits now; Landlock and the seccomp
 * filter once the input is open. Each returns 0 or -1 (message on stderr). */
int kx_sandbox_limits(int64_t cpu_s, int64_t memory_bytes);
int kx_sandbox_seccomp(void);
/* Landlock: files readable only under the libraries' data folders, none
 * writable. 0, 1 when the kernel has no Landlock, or -1. */
int kx_sandbox_landlock(void);

#endif
