/* 12-factor configuration: every setting is a KUMO_* environment variable,
 * declared in a table (name, type, default, help, flags, range) so that
 * loading, validation and --help come from one place.
 *
 * Value syntax:
 *   STRING       any text
 *   INT          decimal integer, optional sign ("7101", "-1")
 *   BOOL         true/false, 1/0, yes/no (any case)
 *   DURATION_MS  integer with unit ms, s, m or h ("250ms", "5s", "2m", "1h");
 *                a plain integer is milliseconds; never negative
 *   SIZE         integer with unit B, KiB, MiB, GiB or TiB ("512KiB", "4MiB");
 *                a plain integer is bytes; never negative
 * An empty variable counts as unset (as when a manifest sets VAR=""), so its
 * default applies. A set value that does not parse, or is out of range, is an
 * error: it never falls back to the default silently. */
#ifndef KUMO_CONFIG_H
#define KUMO_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum kumo_config_type {
    KUMO_CONFIG_STRING,
    KUMO_CONFIG_INT,
    KUMO_CONFIG_BOOL,
    KUMO_CONFIG_DURATION_MS,
    KUMO_CONFIG_SIZE,
};

enum kumo_config_flags {
    /* The value may instead come from the file named by NAME_FILE (its
     * contents, trailing CR/LF stripped), and is never printed: not in
     * errors, not in --help. Setting both NAME and NAME_FILE is an error. */
    KUMO_CONFIG_SECRET = 1u << 0,
    /* Loading fails if the variable has neither a value nor a default. */
    KUMO_CONFIG_REQUIRED = 1u << 1,
};

/* Units for the ranges of variable tables: milliseconds and bytes. */
#define KUMO_SEC_MS  1000LL
#define KUMO_MIN_MS  (60 * KUMO_SEC_MS)
#define KUMO_HOUR_MS (60 * KUMO_MIN_MS)
#define KUMO_DAY_MS  (24 * KUMO_HOUR_MS)
#define KUMO_MIB     (1024LL * 1024)
#define KUMO_GIB     (1024 * KUMO_MIB)
#define KUMO_TIB     (1024 * KUMO_GIB)

/* How a bound value is converted before it is stored (config_fields.h). */
enum kumo_config_conv {
    KUMO_CONFIG_AS_IS,
    KUMO_CONFIG_SECONDS,  /* a DURATION_MS in whole seconds (rounded down) */
    KUMO_CONFIG_MICROS,   /* a DURATION_MS in microseconds */
    KUMO_CONFIG_NONEMPTY, /* a STRING, NULL when it is "" */
};

/* The member of a settings struct a variable fills (kumo_config_fill in
 * config_fields.h); all zero: none. */
struct kumo_config_to {
    size_t offset, size;
    enum kumo_config_conv conv;
};

/* One declared variable. The strings must outlive the kumo_config loaded
 * from the table (string literals in practice). */
struct kumo_config_var {
    const char *name; /* "KUMO_RPC_PORT" */
    enum kumo_config_type type;
    const char *default_value; /* same syntax as the variable; NULL = none */
    const char *help;          /* one line for --help */
    unsigned flags;            /* enum kumo_config_flags */
    int64_t min, max;          /* inclusive range for INT (value), DURATION_MS
                                * (ms) and SIZE (bytes); ignored if both 0 */
    struct kumo_config_to to;  /* optional: KUMO_CONFIG_TO (config_fields.h) */
};

struct kumo_config; /* the loaded values; opaque */

/* Reads each of the `n` variables from the environment (or NAME_FILE for
 * secrets), parses and range-checks it, and applies defaults. Returns 0 and
 * sets *out (free with kumo_config_free); or KUMO_ERR_INVALID, leaving *out
 * untouched and setting *err to a malloc'd message (free with kumo_free)
 * naming every variable in error and its problem, "; "-separated. Secret
 * values never appear in the message. A malformed table (NULL or duplicate
 * name, invalid default) is also reported this way. `err` may be NULL. */
int kumo_config_load(const struct kumo_config_var *vars, size_t n, struct kumo_config **out,
                     char **err);

/* Whether `name` is one of the variables `c` was loaded with (the getters
 * below abort on an undeclared name: this lets shared set-up code read a
 * setting only some daemons have). */
int kumo_config_declared(const struct kumo_config *c, const char *name);

/* The declared type of `name`. */
enum kumo_config_type kumo_config_type_of(const struct kumo_config *c, const char *name);

/* Returns the text of `name` as set or defaulted (for every type: "5s" for
 * a duration), or NULL if it has neither. The string is owned by `c`. */
const char *kumo_config_string(const struct kumo_config *c, const char *name);

/* Returns the value of an INT (the integer), DURATION_MS (milliseconds) or
 * SIZE (bytes) variable; 0 if unset. */
int64_t kumo_config_int(const struct kumo_config *c, const char *name);

/* Returns 1 or 0 for a BOOL variable; 0 if unset. */
int kumo_config_bool(const struct kumo_config *c, const char *name);

/* Returns 1 if `name` has a value (set or defaulted), else 0. */
int kumo_config_is_set(const struct kumo_config *c, const char *name);

/* Frees `c` and its strings (a secret's copy is wiped first). NULL is
 * ignored. */
void kumo_config_free(struct kumo_config *c);

/* Asking for a name that is not in the table, or kumo_config_int/bool on a
 * variable of another type, is a programming error: the accessors print it
 * and abort, so the bug shows on the first run instead of as a zero. */

/* Prints the configuration part of --help to `f`: the one-line summary, then each
 * variable with its type, default (secrets: never shown), range, whether it
 * is required, its help, and for secrets the NAME_FILE alternative. */
void kumo_config_print_help(FILE *f, const char *prog, const char *summary,
                            const struct kumo_config_var *vars, size_t n);

/* Parsers used by kumo_config_load, for other code that reads the same
 * syntax (e.g. flags). Each returns 0 and sets *out, or KUMO_ERR_INVALID
 * (garbage, empty, trailing characters, overflow), leaving *out untouched. */
int kumo_config_parse_int(const char *s, int64_t *out);
int kumo_config_parse_bool(const char *s, int *out);
int kumo_config_parse_duration_ms(const char *s, int64_t *out);
int kumo_config_parse_size(const char *s, int64_t *out);

#endif
