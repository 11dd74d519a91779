/* Enforces the request side of bff/openapi.yaml (spec.h): the generated
 * table of each operation's body members and query parameters. Written
 * here rather than with a JSON Schema library because the table is flat
 * (members and parameters with a type, an enum and bounds) and the answer
 * must be the BFF's error shape naming the field, which none gives. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/validate.h"
#include "spec.h"

const struct bff_spec_op *bff_spec_find(const char *method, const char *pattern)
{
    for (size_t i = 0; i < bff_spec_n_ops; i++)
        if (strcmp(bff_spec_ops[i].method, method) == 0 &&
            strcmp(bff_spec_ops[i].path, pattern) == 0)
            return &bff_spec_ops[i];
    return NULL;
}

static const struct bff_spec_field *field(const struct bff_spec_op *op, enum bff_spec_in in,
                                          const char *name)
{
    for (size_t i = 0; i < op->n; i++) {
        const struct bff_spec_field *f = &bff_spec_fields[op->first + i];
        if (f->in == in && strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

static const char *type_name(enum bff_spec_type t)
{
    switch (t) {
    case BFF_T_STRING:
        return "a string";
    case BFF_T_INTEGER:
        return "an integer";
    case BFF_T_NUMBER:
        return "a number";
    case BFF_T_BOOLEAN:
        return "a boolean";
    case BFF_T_OBJECT:
        return "an object";
    case BFF_T_ARRAY:
        return "an array";
    case BFF_T_ANY:
        break;
    }
    return "a value";
}

static int type_ok(enum bff_spec_type t, json_t *v)
{
    switch (t) {
    case BFF_T_STRING:
        return json_is_string(v);
    case BFF_T_INTEGER:
        return json_is_integer(v);
    case BFF_T_NUMBER:
        return json_is_number(v);
    case BFF_T_BOOLEAN:
        return json_is_boolean(v);
    case BFF_T_OBJECT:
        return json_is_object(v);
    case BFF_T_ARRAY:
        return json_is_array(v);
    case BFF_T_ANY:
        break;
    }
    return 1;
}

static int fail(char *msg, size_t cap, const char *fmt, const char *name, const char *detail)
{
    snprintf(msg, cap, fmt, name, detail);
    return -1;
}

/* The enum of f as "a, b or c" into out. */
static void enum_list(const struct bff_spec_field *f, char *out, size_t cap)
{
    size_t n = 0, len = 0;
    while (f->enums[n])
        n++;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s",
                         i == 0       ? ""
                         : i + 1 == n ? " or "
                                      : ", ",
                         f->enums[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* Checks string `s` (len bytes) against f's enum and lengths. */
static int string_ok(const struct bff_spec_field *f, const char *s, size_t len, char *msg,
                     size_t cap)
{
    if (f->enums) {
        int ok = 0;
        for (const char *const *e = f->enums; *e && !ok; e++)
            ok = (f->flags & BFF_SPEC_ICASE) ? strcasecmp(*e, s) == 0 : strcmp(*e, s) == 0;
        if (!ok) {
            char list[256];
            enum_list(f, list, sizeof list);
            return fail(msg, cap, "%s must be %s", f->name, list);
        }
    }
    if (f->min_len >= 0 || f->max_len >= 0) {
        long long n = (long long)kumo_utf8_count(s, len);
        char d[32];
        if (f->min_len >= 0 && n < f->min_len) {
            snprintf(d, sizeof d, "%lld", f->min_len);
            return fail(msg, cap, "%s must have at least %s characters", f->name, d);
        }
        if (f->max_len >= 0 && n > f->max_len) {
            snprintf(d, sizeof d, "%lld", f->max_len);
            return fail(msg, cap, "%s must have at most %s characters", f->name, d);
        }
    }
    return 0;
}

static int integer_ok(const struct bff_spec_field *f, long long v, char *msg, size_t cap)
{
    char d[32];
    if ((f->flags & BFF_SPEC_MIN) && v < f->min) {
        snprintf(d, sizeof d, "%lld", f->min);
        return fail(msg, cap, "%s must be at least %s", f->name, d);
    }
    if ((f->flags & BFF_SPEC_MAX) && v > f->max) {
        snprintf(d, sizeof d, "%lld", f->max);
        return fail(msg, cap, "%s must be at most %s", f->name, d);
    }
    return 0;
}

static int array_ok(const struct bff_spec_field *f, json_t *a, char *msg, size_t cap)
{
    char d[32];
    if (f->max_items >= 0 && (long long)json_array_size(a) > f->max_items) {
        snprintf(d, sizeof d, "%lld", f->max_items);
        return fail(msg, cap, "%s must have at most %s items", f->name, d);
    }
    size_t i;
    json_t *it;
    json_array_foreach(a, i, it)
    {
        if (!type_ok(f->item_type, it))
            return fail(msg, cap, "%s: every item must be %s", f->name, type_name(f->item_type));
        if ((f->flags & BFF_SPEC_ITEM_MIN) && json_is_integer(it) &&
            json_integer_value(it) < f->item_min) {
            snprintf(d, sizeof d, "%lld", f->item_min);
            return fail(msg, cap, "%s: every item must be at least %s", f->name, d);
        }
        if (f->item_max_len >= 0 && json_is_string(it) &&
            (long long)kumo_utf8_count(json_string_value(it), json_string_length(it)) >
                f->item_max_len) {
            snprintf(d, sizeof d, "%lld", f->item_max_len);
            return fail(msg, cap, "%s: every item must have at most %s characters", f->name, d);
        }
    }
    return 0;
}

int bff_spec_body_errors(const struct bff_spec_op *op, json_t *body, char *msg, size_t cap)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        const struct bff_spec_field *f = field(op, BFF_SPEC_BODY, key);
        if (!f) {
            if (!(op->flags & BFF_SPEC_CLOSED))
                continue;
            char name[65];
            snprintf(name, sizeof name, "%.64s", key);
            return fail(msg, cap, "field not accepted here: %s%s", name, "");
        }
        if (!type_ok(f->type, v))
            return fail(msg, cap, "%s must be %s", f->name, type_name(f->type));
        if (json_is_string(v) &&
            string_ok(f, json_string_value(v), json_string_length(v), msg, cap) != 0)
            return -1;
        if (json_is_integer(v) && integer_ok(f, json_integer_value(v), msg, cap) != 0)
            return -1;
        if (json_is_array(v) && array_ok(f, v, msg, cap) != 0)
            return -1;
    }
    for (size_t i = 0; i < op->n; i++) {
        const struct bff_spec_field *f = &bff_spec_fields[op->first + i];
        if (f->in == BFF_SPEC_BODY && (f->flags & BFF_SPEC_REQUIRED) &&
            !json_object_get(body, f->name))
            return fail(msg, cap, "%s is required%s", f->name, "");
    }
    return 0;
}

int bff_spec_query_error(const struct bff_spec_op *op, const char *name, const char *value,
                         char *msg, size_t cap)
{
    const struct bff_spec_field *f = field(op, BFF_SPEC_QUERY, name);
    if (!f)
        return 0;
    switch (f->type) {
    case BFF_T_INTEGER: {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (!*value || *end || errno == ERANGE)
            return fail(msg, cap, "%s must be %s", f->name, type_name(f->type));
        return integer_ok(f, n, msg, cap);
    }
    case BFF_T_BOOLEAN:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
            return fail(msg, cap, "%s must be %s", f->name, "true or false");
        return 0;
    case BFF_T_STRING:
        return string_ok(f, value, strlen(value), msg, cap);
    default:
        return 0;
    }
}

/* The operation of each row of bff_routes, found once. */
static const struct bff_spec_op **op_of_route;
static pthread_once_t op_of_route_once = PTHREAD_ONCE_INIT;

static void op_of_route_build(void)
{
    op_of_route = kumo_calloc(bff_n_routes ? bff_n_routes : 1, sizeof *op_of_route);
    for (size_t i = 0; i < bff_n_routes; i++)
        op_of_route[i] = bff_spec_find(bff_routes[i].method, bff_routes[i].pattern);
}

const struct bff_spec_op *bff_spec_of_route(const struct bff_route *r)
{
    if (r == NULL)
        return NULL;
    uintptr_t at = (uintptr_t)r, first = (uintptr_t)bff_routes;
    if (at < first || at >= (uintptr_t)(bff_routes + bff_n_routes))
        return bff_spec_find(r->method, r->pattern); /* not a row of the table */
    pthread_once(&op_of_route_once, op_of_route_build);
    return op_of_route[(at - first) / sizeof *bff_routes];
}

const struct bff_spec_op *bff_spec_of(struct bff_ctx *c)
{
    /* The core found the request's route before its handler ran. */
    const struct bff_route *r = c->async ? c->async->route : NULL;
    if (r == NULL) {
        struct kumo_web_params params;
        int known = 0;
        r = bff_route_find(c->rq->method, c->rq->path, &params, &known, NULL);
    }
    return bff_spec_of_route(r);
}

int bff_spec_check_body(struct bff_ctx *c)
{
    const struct bff_spec_op *op = bff_spec_of(c);
    char msg[320];
    if (!op || !c->body || bff_spec_body_errors(op, c->body, msg, sizeof msg) == 0)
        return 0;
    bff_error(c, 400, "invalid_argument", msg);
    return -1;
}

int bff_spec_check_query(struct bff_ctx *c)
{
    const struct bff_spec_op *op = bff_spec_of(c);
    char msg[320];
    for (size_t i = 0; op && i < c->rq->n_query; i++)
        if (bff_spec_query_error(op, c->rq->query[i].name, c->rq->query[i].value, msg,
                                 sizeof msg) != 0) {
            bff_error(c, 400, "invalid_argument", msg);
            return -1;
        }
    return 0;
}
