/* storage xml: the CompleteMultipartUpload and RestoreObject bodies (client
 * input, parsed with libxml2). The first byte picks the document and the
 * part limit; the parsers must never crash or leak, and what they accept
 * must obey the S3 rules: 1..max parts, numbers 1..10000 strictly
 * ascending, ETags empty or 32 lowercase hex digits; Days 1..365 and a
 * known tier. Errors always come with a reason and no parts. */
#include <libxml/parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "storage.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    xmlInitParser();
    return 0;
}

static void check_etag(const char *e)
{
    size_t n = strlen(e);
    if (n != 0 && n != 32)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!((e[i] >= '0' && e[i] <= '9') || (e[i] >= 'a' && e[i] <= 'f')))
            abort();
}

static void check_complete(const char *body, size_t len, int max_parts)
{
    struct stg_part *parts = (struct stg_part *)1;
    size_t n = 12345;
    const char *why = NULL;
    enum stg_err e = stg_xml_parse_complete(body, len, max_parts, &parts, &n, &why);
    if (e != STG_OK) {
        if (why == NULL || parts != NULL || n != 0)
            abort();
        if (e != STG_E_MALFORMED_XML && e != STG_E_INVALID_PART_ORDER &&
            e != STG_E_INVALID_ARGUMENT)
            abort();
        return;
    }
    if (parts == NULL || n == 0 || n > (size_t)max_parts)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (parts[i].number < 1 || parts[i].number > STG_PARTS_MAX)
            abort();
        if (i > 0 && parts[i].number <= parts[i - 1].number)
            abort();
        check_etag(parts[i].etag);
    }
    /* The shared rule check agrees with the parser. */
    if (stg_parts_check(parts, n, max_parts, &why) != STG_OK)
        abort();
    kumo_free(parts);
}

static void check_restore(const char *body, size_t len)
{
    int days = -1;
    enum stg_tier tier = STG_TIER_UNSPECIFIED;
    const char *why = NULL;
    enum stg_err e = stg_xml_parse_restore(body, len, &days, &tier, &why);
    if (e != STG_OK) {
        if (why == NULL)
            abort();
        if (e != STG_E_MALFORMED_XML && e != STG_E_NOT_IMPLEMENTED)
            abort();
        return;
    }
    if (days < 1 || days > STG_RESTORE_DAYS_MAX)
        abort();
    if (tier != STG_TIER_EXPEDITED && tier != STG_TIER_STANDARD && tier != STG_TIER_BULK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256 * 1024)
        return 0;
    uint8_t sel = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (sel & 1) {
        check_restore(body, len);
    } else {
        /* Small limits exercise the "too many parts" path. */
        static const int limits[] = {1, 2, 3, 5, 16, 100, 1000, STG_PARTS_MAX};
        check_complete(body, len, limits[(sel >> 1) % (sizeof limits / sizeof limits[0])]);
    }
    return 0;
}
