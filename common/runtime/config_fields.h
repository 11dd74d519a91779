/* A settings struct filled from a loaded configuration by the variable
 * table itself: each row names the member it fills, so a variable is
 * declared, documented and loaded in one place:
 *
 *   #define TO(m) KUMO_CONFIG_TO(struct my_settings, m)
 *   static const struct kumo_config_var vars[] = {
 *       {"KUMO_MY_PORT", KUMO_CONFIG_INT, "8080", "port", 0, 0, 65535, TO(port)},
 *       {"KUMO_MY_TTL", KUMO_CONFIG_DURATION_MS, "5m", "ttl", KUMO_CONFIG_TO_S(struct my_settings,
 * ttl_s)},
 *   };
 *   kumo_config_fill(c, &s, vars, sizeof vars / sizeof vars[0]);
 *
 * The value is stored by the variable's type: STRING as a const char *
 * owned by the config (NULL without a value), BOOL as an int (0 or 1),
 * INT, DURATION_MS (ms) and SIZE (bytes) as an int64_t, or in a 4-byte
 * member (int, unsigned, int32_t, uint32_t) when the declared range fits
 * one. */
#ifndef KUMO_CONFIG_FIELDS_H
#define KUMO_CONFIG_FIELDS_H

#include <stddef.h>
#include <string.h>

#include "runtime/config.h"

/* The designated `.to` of a table row: the member of `type` it fills. */
#define KUMO_CONFIG_TO_CONV(type, member, conv)                                                    \
    .to = {offsetof(type, member), sizeof(((type *)0)->member), (conv)}
#define KUMO_CONFIG_TO(type, member)     KUMO_CONFIG_TO_CONV(type, member, KUMO_CONFIG_AS_IS)
#define KUMO_CONFIG_TO_S(type, member)   KUMO_CONFIG_TO_CONV(type, member, KUMO_CONFIG_SECONDS)
#define KUMO_CONFIG_TO_US(type, member)  KUMO_CONFIG_TO_CONV(type, member, KUMO_CONFIG_MICROS)
#define KUMO_CONFIG_TO_OPT(type, member) KUMO_CONFIG_TO_CONV(type, member, KUMO_CONFIG_NONEMPTY)

/* Stores the value of every row of `vars` that names a member (rows
 * without .to are skipped) into the struct at `dst`: every such row must
 * name a member of dst's type. A row whose member cannot hold its
 * variable (a string into an int, a number into a 2-byte member, a value
 * beyond 32 bits into a 4-byte one, a conversion that does not fit the
 * type) or that `c` was not loaded with is a programming error: like the
 * kumo_config accessors, it prints the row and aborts, so the bug shows on
 * the first run. */
void kumo_config_fill(const struct kumo_config *c, void *dst, const struct kumo_config_var *vars,
                      size_t n);

/* A settings loader's start: zeroes the struct *dst, then kumo_config_fill
 * from the static table `vars`. */
#define KUMO_CONFIG_FILL(c, dst, vars)                                                             \
    (memset((dst), 0, sizeof *(dst)),                                                              \
     kumo_config_fill((c), (dst), (vars), sizeof(vars) / sizeof((vars)[0])))

/* For a loader's checks beyond what the table says (one value against
 * another, a syntax): logs "bad configuration" with `why` (it names the
 * variables) and returns -1. */
int kumo_config_bad(const char *why);

#endif
