/* kumo_config_fill: settings structs from a table of rows; see
 * config_fields.h. */
#include "runtime/config_fields.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

static void bad_row(const struct kumo_config_var *f, const char *why)
{
    fprintf(stderr, "kumo_config_fill: %s: %s\n", f->name, why);
    abort();
}

static void store_number(const struct kumo_config_var *f, char *p, int64_t x)
{
    if (f->to.size == sizeof(int64_t)) {
        memcpy(p, &x, sizeof x);
    } else if (f->to.size == sizeof(uint32_t)) {
        if (x < INT32_MIN || x > (int64_t)UINT32_MAX)
            bad_row(f, "value does not fit a 4-byte member");
        uint32_t u = (uint32_t)x; /* two's complement: an int member reads back x */
        memcpy(p, &u, sizeof u);
    } else {
        bad_row(f, "a number goes into a 4- or 8-byte member");
    }
}

void kumo_config_fill(const struct kumo_config *c, void *dst, const struct kumo_config_var *vars,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct kumo_config_var *f = &vars[i];
        if (f->to.size == 0)
            continue;
        char *p = (char *)dst + f->to.offset;
        enum kumo_config_conv conv = f->to.conv;
        enum kumo_config_type t = kumo_config_type_of(c, f->name);
        if (t == KUMO_CONFIG_STRING) {
            const char *s = kumo_config_string(c, f->name);
            if (f->to.size != sizeof s ||
                (conv != KUMO_CONFIG_AS_IS && conv != KUMO_CONFIG_NONEMPTY))
                bad_row(f, "a string goes into a const char * member, as is or NONEMPTY");
            if (conv == KUMO_CONFIG_NONEMPTY && s && *s == '\0')
                s = NULL;
            memcpy(p, &s, sizeof s);
        } else if (t == KUMO_CONFIG_BOOL) {
            int b = kumo_config_bool(c, f->name);
            if (f->to.size != sizeof b || conv != KUMO_CONFIG_AS_IS)
                bad_row(f, "a bool goes into an int member, as is");
            memcpy(p, &b, sizeof b);
        } else {
            int64_t x = kumo_config_int(c, f->name);
            if (conv == KUMO_CONFIG_NONEMPTY ||
                (conv != KUMO_CONFIG_AS_IS && t != KUMO_CONFIG_DURATION_MS))
                bad_row(f, "SECONDS and MICROS convert durations only");
            if (conv == KUMO_CONFIG_SECONDS)
                x /= 1000;
            else if (conv == KUMO_CONFIG_MICROS)
                x *= 1000;
            store_number(f, p, x);
        }
    }
}

int kumo_config_bad(const char *why)
{
    kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error", why, NULL);
    return -1;
}
