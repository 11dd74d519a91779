#include "runtime/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"

/* A secret file larger than this is surely the wrong file. */
#define MAX_SECRET_FILE 65536
/* How much of a bad (non-secret) value an error message quotes. */
#define QUOTE_MAX 64

struct entry {
    char *name;
    enum kumo_config_type type;
    unsigned flags;
    int has_value;
    char *text;  /* as set or defaulted; NULL if none */
    int64_t num; /* INT/DURATION/SIZE value, BOOL 0/1 */
};

struct kumo_config {
    struct entry *entries;
    size_t n;
};

/* ---- value parsers ---- */

int kumo_config_parse_int(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return KUMO_ERR_INVALID;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return KUMO_ERR_INVALID;
    *out = (int64_t)v;
    return 0;
}

int kumo_config_parse_bool(const char *s, int *out)
{
    static const char *const truthy[] = {"true", "1", "yes"};
    static const char *const falsy[] = {"false", "0", "no"};
    if (s == NULL)
        return KUMO_ERR_INVALID;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, truthy[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, falsy[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return KUMO_ERR_INVALID;
}

struct unit {
    const char *suffix;
    int64_t mult;
};

/* Parses digits followed by one of `units` (or nothing: multiplier 1). */
static int parse_with_unit(const char *s, const struct unit *units, size_t n_units, int64_t *out)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return KUMO_ERR_INVALID;
    int64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            return KUMO_ERR_INVALID;
        v = v * 10 + d;
    }
    int64_t mult = 0;
    if (*s == '\0')
        mult = 1;
    for (size_t i = 0; i < n_units && mult == 0; i++) {
        if (strcmp(s, units[i].suffix) == 0)
            mult = units[i].mult;
    }
    if (mult == 0 || v > INT64_MAX / mult)
        return KUMO_ERR_INVALID;
    *out = v * mult;
    return 0;
}

int kumo_config_parse_duration_ms(const char *s, int64_t *out)
{
    static const struct unit units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
    return parse_with_unit(s, units, sizeof units / sizeof units[0], out);
}

int kumo_config_parse_size(const char *s, int64_t *out)
{
    static const struct unit units[] = {
        {"B", 1}, {"KiB", 1LL << 10}, {"MiB", 1LL << 20}, {"GiB", 1LL << 30}, {"TiB", 1LL << 40}};
    return parse_with_unit(s, units, sizeof units / sizeof units[0], out);
}

/* ---- loading ---- */

static const char *type_name(enum kumo_config_type t)
{
    switch (t) {
    case KUMO_CONFIG_STRING:
        return "string";
    case KUMO_CONFIG_INT:
        return "int";
    case KUMO_CONFIG_BOOL:
        return "bool";
    case KUMO_CONFIG_DURATION_MS:
        return "duration";
    case KUMO_CONFIG_SIZE:
        return "size";
    }
    return "?";
}

static const char *type_expectation(enum kumo_config_type t)
{
    switch (t) {
    case KUMO_CONFIG_INT:
        return "an integer";
    case KUMO_CONFIG_BOOL:
        return "a boolean (true/false, 1/0, yes/no)";
    case KUMO_CONFIG_DURATION_MS:
        return "a duration (e.g. 250ms, 5s, 2m, 1h, or integer milliseconds)";
    case KUMO_CONFIG_SIZE:
        return "a size (e.g. 512KiB, 4MiB, 1GiB, or integer bytes)";
    default:
        return "a string";
    }
}

static void add_error(struct kumo_buf *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(struct kumo_buf *errs, const char *fmt, ...)
{
    if (errs->len)
        kumo_buf_append_str(errs, "; ");
    va_list ap;
    va_start(ap, fmt);
    kumo_buf_vappendf(errs, fmt, ap);
    va_end(ap);
}

/* Reads a secret file: 0 and a malloc'd *out (trailing CR/LF stripped), or
 * an -errno / KUMO_ERR_* with nothing allocated. */
static int read_secret_file(const char *path, char **out)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    /* One buffer, never reallocated: a realloc would leave copies of the
     * secret in freed memory. */
    kumo_buf_reserve(&b, MAX_SECRET_FILE + 1);
    int rc = kumo_buf_read_file(&b, path, MAX_SECRET_FILE);
    if (rc == 0 && b.len && memchr(b.data, '\0', b.len))
        rc = KUMO_ERR_INVALID;
    if (rc != 0) {
        if (b.data)
            explicit_bzero(b.data, b.cap);
        kumo_buf_free(&b);
        return rc;
    }
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.len--;
    if (b.len == 0) { /* an empty secret counts as unset, like an empty variable */
        kumo_buf_free(&b);
        *out = NULL;
        return 0;
    }
    b.data[b.len] = '\0';
    *out = kumo_buf_steal(&b, NULL);
    return 0;
}

static const char *file_error_text(int rc)
{
    if (rc == KUMO_ERR_TOO_LARGE)
        return "file is larger than 64 KiB";
    if (rc == KUMO_ERR_INVALID)
        return "file contains a NUL byte";
    return strerror(-rc);
}

/* Finds the raw value of a variable: 0 and *raw (malloc'd, or NULL if
 * unset/empty), or -1 after recording an error. */
static int fetch_raw(const struct kumo_config_var *v, char **raw, struct kumo_buf *errs)
{
    const char *env = getenv(v->name);
    *raw = NULL;
    if (v->flags & KUMO_CONFIG_SECRET) {
        struct kumo_buf fname = KUMO_BUF_INIT;
        kumo_buf_appendf(&fname, "%s_FILE", v->name);
        const char *path = getenv((const char *)fname.data);
        int bad = 0;
        if (path && *path && env && *env) {
            add_error(errs, "%s and %s are both set: set only one", v->name, fname.data);
            bad = 1;
        } else if (path && *path) {
            int rc = read_secret_file(path, raw);
            if (rc != 0) {
                add_error(errs, "%s: cannot read %s: %s", fname.data, path, file_error_text(rc));
                bad = 1;
            }
        }
        kumo_buf_free(&fname);
        if (bad)
            return -1;
        if (*raw)
            return 0;
    }
    if (env && *env)
        *raw = kumo_strdup(env);
    return 0;
}

static int in_range(const struct kumo_config_var *v, int64_t x)
{
    if (v->min == 0 && v->max == 0)
        return 1;
    return x >= v->min && x <= v->max;
}

/* Parses `text` into e->num per the variable's type; records an error (with
 * `origin` saying whose value it was) and returns -1 on failure. */
static int parse_value(const struct kumo_config_var *v, const char *text, const char *origin,
                       struct entry *e, struct kumo_buf *errs)
{
    int secret = (v->flags & KUMO_CONFIG_SECRET) != 0;
    int64_t num = 0;
    int rc = 0;
    int b = 0;
    switch (v->type) {
    case KUMO_CONFIG_STRING:
        return 0;
    case KUMO_CONFIG_INT:
        rc = kumo_config_parse_int(text, &num);
        break;
    case KUMO_CONFIG_BOOL:
        rc = kumo_config_parse_bool(text, &b);
        num = b;
        break;
    case KUMO_CONFIG_DURATION_MS:
        rc = kumo_config_parse_duration_ms(text, &num);
        break;
    case KUMO_CONFIG_SIZE:
        rc = kumo_config_parse_size(text, &num);
        break;
    default:
        add_error(errs, "%s: unknown type %d", v->name, (int)v->type);
        return -1;
    }
    if (rc != 0) {
        if (secret)
            add_error(errs, "%s: %s is not %s", v->name, origin, type_expectation(v->type));
        else
            add_error(errs, "%s: %s \"%.*s\" is not %s", v->name, origin, QUOTE_MAX, text,
                      type_expectation(v->type));
        return -1;
    }
    if (v->type != KUMO_CONFIG_BOOL && !in_range(v, num)) {
        const char *unit = v->type == KUMO_CONFIG_DURATION_MS ? " ms"
                           : v->type == KUMO_CONFIG_SIZE      ? " bytes"
                                                              : "";
        add_error(errs, "%s: %s %lld%s is out of range [%lld, %lld]", v->name, origin,
                  (long long)num, unit, (long long)v->min, (long long)v->max);
        return -1;
    }
    e->num = num;
    return 0;
}

static int load_one(const struct kumo_config_var *v, struct entry *e, struct kumo_buf *errs)
{
    e->name = kumo_strdup(v->name);
    e->type = v->type;
    e->flags = v->flags;
    char *raw;
    if (fetch_raw(v, &raw, errs) != 0)
        return -1;
    const char *origin = "value";
    if (raw == NULL && v->default_value) {
        raw = kumo_strdup(v->default_value);
        origin = "default";
    }
    if (raw == NULL) {
        if (v->flags & KUMO_CONFIG_REQUIRED) {
            add_error(errs, "%s is required but not set", v->name);
            return -1;
        }
        return 0;
    }
    e->text = raw;
    if (parse_value(v, raw, origin, e, errs) != 0)
        return -1;
    e->has_value = 1;
    return 0;
}

/* Catches mistakes in the table itself. */
static int check_table(const struct kumo_config_var *vars, size_t n, struct kumo_buf *errs)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (vars[i].name == NULL || vars[i].name[0] == '\0') {
            add_error(errs, "config table entry %zu has no name", i);
            bad = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (vars[j].name && strcmp(vars[i].name, vars[j].name) == 0) {
                add_error(errs, "%s is declared twice", vars[i].name);
                bad = 1;
            }
        }
    }
    return bad ? -1 : 0;
}

static void free_entries(struct entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (entries[i].text && (entries[i].flags & KUMO_CONFIG_SECRET))
            explicit_bzero(entries[i].text, strlen(entries[i].text));
        kumo_free(entries[i].text);
        kumo_free(entries[i].name);
    }
    kumo_free(entries);
}

int kumo_config_load(const struct kumo_config_var *vars, size_t n, struct kumo_config **out,
                     char **err)
{
    struct kumo_buf errs = KUMO_BUF_INIT;
    struct entry *entries = kumo_calloc(n ? n : 1, sizeof *entries);
    int table_bad = check_table(vars, n, &errs) != 0;
    int bad = table_bad;
    /* Keep going after a bad variable so that one run reports them all. */
    for (size_t i = 0; i < n && !table_bad; i++)
        bad |= load_one(&vars[i], &entries[i], &errs) != 0;
    if (bad) {
        free_entries(entries, n);
        if (err)
            *err = kumo_buf_steal(&errs, NULL);
        kumo_buf_free(&errs);
        return KUMO_ERR_INVALID;
    }
    kumo_buf_free(&errs);
    struct kumo_config *c = kumo_malloc(sizeof *c);
    c->entries = entries;
    c->n = n;
    *out = c;
    return 0;
}

/* ---- accessors ---- */

static const struct entry *find(const struct kumo_config *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->entries[i].name, name) == 0)
            return &c->entries[i];
    }
    fprintf(stderr, "kumo_config: %s is not a declared variable\n", name);
    abort();
}

int kumo_config_declared(const struct kumo_config *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].name, name) == 0)
            return 1;
    return 0;
}

enum kumo_config_type kumo_config_type_of(const struct kumo_config *c, const char *name)
{
    return find(c, name)->type;
}

const char *kumo_config_string(const struct kumo_config *c, const char *name)
{
    const struct entry *e = find(c, name);
    return e->has_value ? e->text : NULL;
}

int64_t kumo_config_int(const struct kumo_config *c, const char *name)
{
    const struct entry *e = find(c, name);
    if (e->type != KUMO_CONFIG_INT && e->type != KUMO_CONFIG_DURATION_MS &&
        e->type != KUMO_CONFIG_SIZE) {
        fprintf(stderr, "kumo_config: %s is a %s, not a number\n", name, type_name(e->type));
        abort();
    }
    return e->has_value ? e->num : 0;
}

int kumo_config_bool(const struct kumo_config *c, const char *name)
{
    const struct entry *e = find(c, name);
    if (e->type != KUMO_CONFIG_BOOL) {
        fprintf(stderr, "kumo_config: %s is a %s, not a bool\n", name, type_name(e->type));
        abort();
    }
    return e->has_value ? (int)e->num : 0;
}

int kumo_config_is_set(const struct kumo_config *c, const char *name)
{
    return find(c, name)->has_value;
}

void kumo_config_free(struct kumo_config *c)
{
    if (c == NULL)
        return;
    free_entries(c->entries, c->n);
    kumo_free(c);
}

/* ---- help ---- */

static void print_range(FILE *f, const struct kumo_config_var *v)
{
    if (v->type == KUMO_CONFIG_STRING || v->type == KUMO_CONFIG_BOOL ||
        (v->min == 0 && v->max == 0))
        return;
    const char *unit = v->type == KUMO_CONFIG_DURATION_MS ? "ms"
                       : v->type == KUMO_CONFIG_SIZE      ? " bytes"
                                                          : "";
    fprintf(f, ", range %lld..%lld%s", (long long)v->min, (long long)v->max, unit);
}

void kumo_config_print_help(FILE *f, const char *prog, const char *summary,
                            const struct kumo_config_var *vars, size_t n)
{
    (void)prog; /* the usage line is the daemon's (runtime/daemon.c) */
    if (summary && *summary)
        fprintf(f, "\n%s\n", summary);
    fprintf(f, "\nConfiguration (environment variables):\n");
    for (size_t i = 0; i < n; i++) {
        const struct kumo_config_var *v = &vars[i];
        if (v->name == NULL)
            continue;
        int secret = (v->flags & KUMO_CONFIG_SECRET) != 0;
        fprintf(f, "  %s  (%s", v->name, type_name(v->type));
        if (secret)
            fprintf(f, ", secret");
        if (v->flags & KUMO_CONFIG_REQUIRED)
            fprintf(f, ", required");
        if (v->default_value)
            fprintf(f, ", default %s", secret ? "[hidden]" : v->default_value);
        print_range(f, v);
        fprintf(f, ")\n");
        if (v->help && *v->help)
            fprintf(f, "      %s\n", v->help);
        if (secret)
            fprintf(f, "      Or set %s_FILE to the path of a file holding the value.\n", v->name);
    }
}
