/* documents event keys: the key -> (tenant, document, version) parser must
 * take any bytes, and what it accepts must be exactly what
 * docs_version_key writes for those values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "store/versions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char tenant[DOCS_ID_MAX], doc[DOCS_ID_MAX];
    int64_t version;
    if (docs_event_key_parse((const char *)data, size, tenant, doc, &version) != 0)
        return 0;
    if (version < 1 || version > INT32_MAX)
        abort();
    char key[400];
    int n = docs_version_key(key, sizeof key, tenant, doc, version);
    if (n < 0 || (size_t)n != size || memcmp(key, data, size) != 0)
        abort();
    return 0;
}
