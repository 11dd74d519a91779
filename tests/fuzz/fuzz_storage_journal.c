/* storage journal: the event line parser must take any bytes (a torn or
 * corrupted journal) without crashing, and whatever it accepts must format
 * back to exactly the same line and parse again to the same event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stg_event ev, again;
    if (stg_event_parse((const char *)data, size, &ev) != 0)
        return 0;
    if (ev.seq <= 0 || ev.size < 0 || strlen(ev.key) == 0 || strlen(ev.key) > STG_KEY_MAX ||
        ev.type < STG_EV_CREATED_PUT || ev.type > STG_EV_RESTORE_COMPLETED)
        abort();
    struct kumo_buf b = KUMO_BUF_INIT;
    stg_event_format(&ev, &b);
    if (b.len != size + 1 || memcmp(b.data, data, size) != 0)
        abort();
    if (stg_event_parse((const char *)b.data, b.len - 1, &again) != 0 ||
        memcmp(&ev, &again, sizeof ev) != 0)
        abort();
    kumo_buf_free(&b);
    return 0;
}
