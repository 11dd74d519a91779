/* The OOXML text walker of kumo-extract (tools/extract/ooxml.c): the first
 * byte picks what the rest is — one XML part of a Word document, an Excel
 * shared-strings table or sheet, or a PowerPoint slide (walked from
 * memory), or a whole zip (libzip, then the parts). Never crashes, leaks
 * or overruns; the text stays within its limit and is whole UTF-8
 * sequences cut only at the limit; a failure always has a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract.h"

#define TEXT_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const parts[] = {"document", "shared", "sheet", "slide"};
    static const char *const kinds[] = {"docx", "xlsx", "pptx", "ooxml"};
    struct kx_limits l = {.max_pages = 10, .text_max = TEXT_MAX, .zip_max = 1 << 20};
    struct kx_out out;
    memset(&out, 0, sizeof out);
    out.text.max = TEXT_MAX;
    int rc;
    if (data[0] & 0x80)
        rc = kx_ooxml_mem(data + 1, size - 1, kinds[data[0] & 3], &l, &out);
    else
        rc = kx_ooxml_part(data + 1, size - 1, parts[data[0] & 3], &out);
    if (out.text.buf.len > TEXT_MAX)
        abort();
    if (rc != 0 && !out.why[0])
        abort();
    kumo_buf_free(&out.text.buf);
    kumo_buf_free(&out.thumb);
    return 0;
}
