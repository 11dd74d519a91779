/* A settings struct filled from a loaded configuration by a table of rows
 * (variable -> struct member) instead of one assignment per variable:
 *
 *   #define F(m, name) KUMO_CONFIG_FIELD(struct my_settings, m, name)
 *   static const struct kumo_config_field fields[] = {
 *       F(port, "KUMO_MY_PORT"), KUMO_CONFIG_FIELD_S(struct my_settings, ttl_s, "KUMO_MY_TTL"),
 *   };
 *   kumo_config_fill(c, &s, fields, sizeof fields / sizeof fields[0]);
 *
 * The value is stored by the variable's declared type: STRING as a
 * const char * owned by the config (NULL without a value), BOOL as an int
 * (0 or 1), INT, DURATION_MS (ms) and SIZE (bytes) as an int64_t, or in a
 * 4-byte member (int, unsigned, int32_t, uint32_t) when the variable's
 * declared range fits one. */
#ifndef KUMO_CONFIG_FIELDS_H
#define KUMO_CONFIG_FIELDS_H

#include <stddef.h>

#include "runtime/config.h"

/* How a row's value is converted before it is stored. */
enum kumo_config_conv {
    KUMO_CONFIG_AS_IS,
    KUMO_CONFIG_SECONDS,  /* a DURATION_MS in whole seconds (rounded down) */
    KUMO_CONFIG_MICROS,   /* a DURATION_MS in microseconds */
    KUMO_CONFIG_NONEMPTY, /* a STRING, NULL when it is "" */
};

struct kumo_config_field {
    const char *name; /* the variable */
    size_t offset;    /* of the member in the struct */
    size_t size;      /* of the member */
    enum kumo_config_conv conv;
};

#define KUMO_CONFIG_FIELD_CONV(type, member, name, conv)                                           \
    {                                                                                              \
        (name), offsetof(type, member), sizeof(((type *)0)->member), (conv)                        \
    }
#define KUMO_CONFIG_FIELD(type, member, name)                                                      \
    KUMO_CONFIG_FIELD_CONV(type, member, name, KUMO_CONFIG_AS_IS)
#define KUMO_CONFIG_FIELD_S(type, member, name)                                                    \
    KUMO_CONFIG_FIELD_CONV(type, member, name, KUMO_CONFIG_SECONDS)
#define KUMO_CONFIG_FIELD_US(type, member, name)                                                   \
    KUMO_CONFIG_FIELD_CONV(type, member, name, KUMO_CONFIG_MICROS)
#define KUMO_CONFIG_FIELD_OPT(type, member, name)                                                  \
    KUMO_CONFIG_FIELD_CONV(type, member, name, KUMO_CONFIG_NONEMPTY)

/* Stores each row's variable of `c` into the struct at `dst`. A row whose
 * member cannot hold its variable (a string into an int, a number into a
 * 2-byte member, a value beyond 32 bits into a 4-byte one, a conversion
 * that does not fit the type) or that names an undeclared variable is a
 * programming error: like the kumo_config accessors, it prints the row and
 * aborts, so the bug shows on the first run. */
void kumo_config_fill(const struct kumo_config *c, void *dst,
                      const struct kumo_config_field *fields, size_t n);

#endif
