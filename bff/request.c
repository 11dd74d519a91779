/* Reading a request: headers, query and path parameters, If-Match, the
 * page size, the JSON body (depth-checked, only the members a route
 * accepts), the caller's role, and proto3 JSON request messages. Each
 * check that fails answers the request itself (400, 403, 415). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "bff.h"
#include "codec/json_codec.h"
#include "spec.h"

const char *bff_header(const struct bff_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_headers; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value;
    return NULL;
}

const char *bff_query(const struct bff_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_query; i++)
        if (strcmp(rq->query[i].name, name) == 0)
            return rq->query[i].value;
    return NULL;
}

const char *bff_param(struct bff_ctx *c, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < c->params.n; i++)
        if (c->params.p[i].name_len == n && memcmp(c->params.p[i].name, name, n) == 0)
            return kumo_arena_strndup(c->arena, c->params.p[i].val, c->params.p[i].len);
    return "";
}

int bff_parse_body_only(struct bff_ctx *c)
{
    const struct bff_request *rq = c->rq;
    if (c->body)
        return 0; /* parsed already (a handler that hands over to bff_run) */
    if (rq->body_len == 0) {
        c->body = json_object();
        return 0;
    }
    const char *ct = bff_header(rq, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        bff_error(c, 415, "invalid_argument", "the body must be application/json");
        return -1;
    }
    int depth = kumo_web_json_depth(rq->body, rq->body_len, c->app->s.json_max_depth);
    if (depth > c->app->s.json_max_depth) {
        bff_error(c, 400, "invalid_argument", "JSON nested too deeply");
        return -1;
    }
    json_error_t err;
    json_t *v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        bff_error(c, 400, "invalid_argument", "the body must be a JSON object");
        return -1;
    }
    c->body = v;
    return 0;
}

int bff_parse_body(struct bff_ctx *c)
{
    if (c->body)
        return 0; /* parsed (and checked) already */
    /* Then what bff/openapi.yaml says of the body (required members, types,
     * enums, bounds, no other member), before any handler reads it. */
    return bff_parse_body_only(c) == 0 ? bff_spec_check_body(c) : -1;
}

int bff_only_fields(struct bff_ctx *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        (void)val;
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                ok = 1;
        if (!ok) {
            struct kumo_buf m = KUMO_BUF_INIT;
            kumo_buf_append_str(&m, "field not accepted here: ");
            kumo_buf_append(&m, key, strnlen(key, 64));
            bff_error(c, 400, "invalid_argument", (const char *)m.data);
            kumo_buf_free(&m);
            return -1;
        }
    }
    return 0;
}

int bff_require_role(struct bff_ctx *c, unsigned roles)
{
    if (c->principal.roles & roles)
        return 0;
    bff_error(c, 403, "permission_denied", "your role does not allow this");
    return -1;
}

/* page_size from the query, clamped to 1..KUMO_PAGE_SIZE_MAX (0 = the
 * service's default). Returns -1 and answers 400 for garbage. */
int bff_page_size(struct bff_ctx *c, int *out)
{
    const char *v = bff_query(c->rq, "page_size");
    *out = 0;
    if (!v || !*v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || end == v || n < 0) {
        bff_error(c, 400, "invalid_argument", "page_size must be a positive integer");
        return -1;
    }
    if (n > c->app->s.page_size_max)
        n = c->app->s.page_size_max;
    *out = (int)n;
    return 0;
}

/* The etag of If-Match without quotes or W/, in the arena; NULL if absent. */
const char *bff_if_match(struct bff_ctx *c)
{
    const char *v = bff_header(c->rq, "If-Match");
    if (!v || !*v)
        return NULL;
    if (strncmp(v, "W/", 2) == 0)
        v += 2;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        return kumo_arena_strndup(c->arena, v + 1, n - 2);
    return kumo_arena_strdup(c->arena, v);
}

ProtobufCMessage *bff_proto_from_json(struct bff_ctx *c, const ProtobufCMessageDescriptor *desc,
                                      json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s) {
        bff_error(c, 400, "invalid_argument", "invalid request");
        return NULL;
    }
    ProtobufCMessage *m = NULL;
    char *err = NULL;
    int rc = kumo_json_decode(desc, s, strlen(s), kumo_arena_allocator(c->arena), &m, &err);
    free(s);
    if (rc != 0) {
        bff_error(c, 400, "invalid_argument", err ? err : "invalid request");
        kumo_free(err);
        return NULL;
    }
    return m;
}
