/* documents validators: whatever docs_content_type_valid accepts is
 * printable ASCII of the shape type/subtype[;name=value...] within 255
 * bytes; whatever docs_file_name_valid accepts is UTF-8 without '/', '\\'
 * or control characters; an accepted tag has no blank; and the
 * Content-Disposition built for an accepted file name is printable ASCII
 * with no raw quote inside the quoted fallback; and docs_part_size covers
 * any size with at most 10000 parts of at least 5 MiB. The first input byte
 * picks the check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/content_disposition.h"
#include "documents.h"
#include "base/validate.h"

static void content_type(const char *s, size_t n)
{
    const char *why = NULL;
    if (docs_content_type_valid(s, n, &why) != 0) {
        if (why == NULL)
            abort();
        return;
    }
    if (n == 0 || n > DOCS_CONTENT_TYPE_MAX || memchr(s, '/', n) == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
            abort();
}

static void file_name(const char *s, size_t n)
{
    const char *why = NULL;
    if (docs_file_name_valid(s, n, &why) != 0) {
        if (why == NULL)
            abort();
        return;
    }
    if (!kumo_utf8_valid(s, n) || memchr(s, '/', n) || memchr(s, '\\', n) || n == 0)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            abort();
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_content_disposition_attachment(s, n, &b);
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] < 0x20 || b.data[i] > 0x7e)
            abort();
    /* The fallback ends at the first quote after `filename="`. */
    const char *q = strstr((const char *)b.data, "filename=\"") + 10;
    const char *end = strchr(q, '"');
    if (end == NULL || (end[1] != '\0' && strncmp(end + 1, "; filename*=UTF-8''", 19) != 0))
        abort();
    kumo_buf_free(&b);
}

static void tag(const char *s, size_t n)
{
    const char *why = NULL;
    if (docs_tag_valid(s, n, &why) != 0)
        return;
    if (n == 0 || memchr(s, ' ', n) || memchr(s, '\t', n) || !kumo_utf8_valid(s, n))
        abort();
}

static void part_size(const uint8_t *d, size_t n)
{
    uint64_t raw = 0, cfg = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        raw = raw << 8 | d[i];
    for (size_t i = 8; i < n && i < 12; i++)
        cfg = cfg << 8 | d[i];
    struct docs_settings s = {0};
    s.multipart_part_size = (int64_t)(cfg % (5ULL << 30));
    /* Sizes up to KUMO_MAX_DOCUMENT_SIZE's ceiling, 5 TiB. */
    int64_t size = (int64_t)(raw % ((5ULL << 40) + 1));
    int32_t count = 0;
    int64_t ps = docs_part_size(&s, size, &count);
    if (ps < DOCS_MIN_PART_SIZE || count < 1 || count > DOCS_PARTS_MAX)
        abort();
    if ((int64_t)count * ps < size || (size > 0 && (int64_t)(count - 1) * ps >= size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        content_type(s, n);
        break;
    case 1:
        file_name(s, n);
        break;
    case 2:
        tag(s, n);
        break;
    default:
        part_size(data + 1, n);
        break;
    }
    return 0;
}
