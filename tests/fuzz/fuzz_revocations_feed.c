/* libFuzzer target: the revocation feed page parser (common/auth/revocations.c),
 * which reads what another process's admin port answers. Whatever the
 * input, a page either applies whole or not at all, and a set it filled
 * serves a feed page that parses again. */
#include <stdint.h>
#include <stdlib.h>

#include "auth/revocations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kumo_revocations *r = NULL;
    if (kumo_revocations_new(&r, 86400) != 0)
        abort();
    int more = 0;
    int n = kumo_revocations_apply_json(r, (const char *)data, size, 1800000000, &more);
    if (n > 0) {
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_revocations_feed_json(r, 0, 0, &b);
        struct kumo_revocations *again = NULL;
        if (kumo_revocations_new(&again, 86400) != 0)
            abort();
        if (kumo_revocations_apply_json(again, (const char *)b.data, b.len, 1800000000, &more) < 0)
            abort();
        if (kumo_revocations_count(again) != kumo_revocations_count(r))
            abort();
        kumo_revocations_free(again);
        kumo_buf_free(&b);
    }
    kumo_revocations_free(r);
    return 0;
}
