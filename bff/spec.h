/* The request side of bff/openapi.yaml as data: for every operation, the
 * members its JSON body may have and the query parameters it takes, with
 * their types, enums and bounds. bff/openapi-check --write generates the
 * table (bff/openapi_spec.c) from the YAML; spec_check.c enforces it, so a
 * request the document refuses is refused (400 naming the field) before
 * any RPC is built. */
#ifndef KUMO_BFF_SPEC_H
#define KUMO_BFF_SPEC_H

#include <stddef.h>

#include "bff.h"

enum bff_spec_in { BFF_SPEC_BODY, BFF_SPEC_QUERY };

enum bff_spec_type {
    BFF_T_ANY,
    BFF_T_STRING,
    BFF_T_INTEGER,
    BFF_T_NUMBER,
    BFF_T_BOOLEAN,
    BFF_T_OBJECT,
    BFF_T_ARRAY,
};

/* Field flags. */
#define BFF_SPEC_REQUIRED 1u  /* `required` (a body member) or required: true (a parameter) */
#define BFF_SPEC_MIN      2u  /* `minimum` is min */
#define BFF_SPEC_MAX      4u  /* `maximum` is max */
#define BFF_SPEC_ICASE    8u  /* the enum ignores case (x-kumo-ignore-case) */
#define BFF_SPEC_ITEM_MIN 16u /* array items have `minimum` item_min */

struct bff_spec_field {
    enum bff_spec_in in;
    const char *name;
    enum bff_spec_type type, item_type; /* item_type: arrays' `items` */
    unsigned flags;
    const char *const *enums; /* NULL-terminated; NULL: any value */
    long long min, max, item_min;
    long long min_len, max_len, max_items; /* -1: no bound (lengths in code points) */
    long long item_max_len;                /* string items' maxLength; -1: none */
};

/* Operation flags. */
#define BFF_SPEC_BODY_REQUIRED 1u /* requestBody.required */
#define BFF_SPEC_CLOSED        2u /* additionalProperties: false */

struct bff_spec_op {
    const char *method; /* "POST" */
    const char *path;   /* the template, "/api/v1/documents/{id}" */
    unsigned flags;
    size_t first, n; /* its rows of bff_spec_fields */
};

extern const struct bff_spec_op bff_spec_ops[];
extern const size_t bff_spec_n_ops;
extern const struct bff_spec_field *const bff_spec_fields;

/* The operation of `method` and path template `pattern`, or NULL. */
const struct bff_spec_op *bff_spec_find(const char *method, const char *pattern);

/* Checks parsed JSON object `body` against op's members (required present,
 * types, enums, bounds, no other member when closed). Returns 0, or writes
 * a message naming the field to msg[0..cap) and returns -1. Pure. */
int bff_spec_body_errors(const struct bff_spec_op *op, json_t *body, char *msg, size_t cap);

/* Checks query parameter `value` (text) of op; unknown names pass (the
 * query is open). Returns 0, or writes a message and returns -1. Pure. */
int bff_spec_query_error(const struct bff_spec_op *op, const char *name, const char *value,
                         char *msg, size_t cap);

/* The operation of route `r` (a row of bff_routes: found once per row;
 * any other route is looked up), or NULL (also for r NULL). */
const struct bff_spec_op *bff_spec_of_route(const struct bff_route *r);

/* The request's operation (by its route: the one the core found for it,
 * else found from its method and path), or NULL. */
const struct bff_spec_op *bff_spec_of(struct bff_ctx *c);
/* Checks c->body (parsed) against the request's operation; answers 400
 * and returns -1 on a mismatch, else 0. */
int bff_spec_check_body(struct bff_ctx *c);
/* Checks the request's query parameters; answers 400 and returns -1 on a
 * mismatch, else 0. */
int bff_spec_check_query(struct bff_ctx *c);

#endif
