/* The front-end independent core: every request goes through bff_handle,
 * which applies the protections (request id, security headers, CORS, body
 * limit, rate limits, authentication) in one place before the route
 * handler, then records metrics and the access log line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/trace.h"
#include "base/alloc.h"
#include "bff.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "rpc/rpc.h"
#include "base/secret.h"

#define CORS_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_HEADERS                                                                               \
    "Authorization, Content-Type, If-Match, Idempotency-Key, X-CSRF-Token, X-Request-Id, "         \
    "X-Kumo-Session"
#define CORS_EXPOSE "X-Request-Id, ETag, Retry-After, Location"

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

void bff_resp_header(struct bff_response *rs, const char *name, const char *value)
{
    if (rs->n_headers >= BFF_MAX_RESP_HEADERS)
        return;
    rs->header_names[rs->n_headers] = kumo_strdup(name);
    rs->header_values[rs->n_headers] = kumo_strdup(value);
    rs->n_headers++;
}

void bff_response_clear(struct bff_response *rs)
{
    for (size_t i = 0; i < rs->n_headers; i++) {
        kumo_free(rs->header_names[i]);
        kumo_free(rs->header_values[i]);
    }
    rs->n_headers = 0;
    kumo_buf_free(&rs->body);
}

void bff_json(struct bff_ctx *c, int status, json_t *obj)
{
    c->rs->status = status;
    kumo_buf_reset(&c->rs->body);
    if (obj) {
        char *s = json_dumps(obj, JSON_COMPACT);
        if (s) {
            kumo_buf_append_str(&c->rs->body, s);
            free(s);
        }
        json_decref(obj);
        c->rs->content_type = "application/json";
    } else {
        c->rs->content_type = NULL;
    }
}

void bff_error(struct bff_ctx *c, int status, const char *code, const char *message)
{
    bff_json(c, status,
             json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message ? message : ""));
}

void bff_rpc_error(struct bff_ctx *c, kumo_code code, const struct kumo_rpc_status *st)
{
    const char *msg = st && st->message ? st->message : "";
    int status = kumo_web_status_from_code(code);
    switch (code) {
    case KUMO_CODE_UNAVAILABLE:
    case KUMO_CODE_INTERNAL:
    case KUMO_CODE_UNKNOWN:
    case KUMO_CODE_DATA_LOSS:
    case KUMO_CODE_UNIMPLEMENTED:
        /* Details of internal failures (addresses, library messages) stay
         * in our log. */
        kumo_log(KUMO_LOG_WARN, c->request_id, "upstream error", "code", kumo_code_name(code),
                 "detail", msg, NULL);
        msg = code == KUMO_CODE_UNAVAILABLE ? "a service is unavailable, try again later"
                                            : "internal error";
        if (code == KUMO_CODE_UNIMPLEMENTED)
            msg = "not implemented";
        break;
    case KUMO_CODE_DEADLINE_EXCEEDED:
        msg = "the request took too long";
        break;
    case KUMO_CODE_UNAUTHENTICATED:
        msg = "missing or invalid credentials";
        bff_resp_header(c->rs, "WWW-Authenticate", "Bearer");
        break;
    default:
        break;
    }
    if (code == KUMO_CODE_RESOURCE_EXHAUSTED) {
        char ra[24];
        snprintf(ra, sizeof ra, "%lld",
                 (long long)(st && st->retry_after_s > 0 ? st->retry_after_s : 1));
        bff_resp_header(c->rs, "Retry-After", ra);
    }
    bff_error(c, status, kumo_code_name(code), msg);
}

int bff_parse_body(struct bff_ctx *c)
{
    const struct bff_request *rq = c->rq;
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

/* ---- shared request/response helpers ---- */

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

void bff_page_out(struct bff_ctx *c, const char *key, ProtobufCMessage *rs)
{
    json_t *j = bff_proto_to_json(rs);
    json_t *out = json_object();
    json_t *items = json_object_get(j, key);
    json_object_set_new(out, key, items ? json_incref(items) : json_array());
    json_t *next = json_object_get(j, "next_page_token");
    json_object_set_new(out, "next_page_token", next ? json_incref(next) : json_string(""));
    json_decref(j);
    bff_json(c, 200, out);
}

void bff_etag_header(struct bff_ctx *c, const char *etag)
{
    if (!etag || !*etag)
        return;
    char q[80];
    snprintf(q, sizeof q, "\"%s\"", etag);
    bff_resp_header(c->rs, "ETag", q);
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

/* ---- RPC ---------------------------------------------------------------- */

int bff_client_suspect(struct bff_ctx *c)
{
    return kumo_throttle_blocked(c->app->suspects, c->client, strlen(c->client),
                                 kumo_now_ns() / 1000000);
}

void bff_note_credential_outcome(struct bff_ctx *c, kumo_code code)
{
    if (code == KUMO_CODE_UNAUTHENTICATED || code == KUMO_CODE_RESOURCE_EXHAUSTED)
        kumo_throttle_hit(c->app->suspects, c->client, strlen(c->client), kumo_now_ns() / 1000000);
}

kumo_code bff_call(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                   int with_auth, ProtobufCMessage **resp, struct kumo_rpc_status *st)
{
    /* kumo-users throttles sign-ins and key exchanges per client address:
     * it must see the client's, not ours (it believes it from us only when
     * our address is in its KUMO_TRUSTED_PROXIES). */
    struct kumo_rpc_metadata xff = {"x-forwarded-for", c->client};
    struct kumo_rpc_call_options o = {
        .deadline = c->deadline,
        .request_id = c->request_id,
        .authorization = with_auth ? c->authorization : NULL,
        .metadata = client == c->app->users ? &xff : NULL,
        .n_metadata = client == c->app->users,
    };
    kumo_code code = kumo_rpc_client_call(client, path, req, resp_desc,
                                          kumo_arena_allocator(c->arena), &o, resp, st);
    if (client == c->app->users)
        bff_note_credential_outcome(c, code);
    return code;
}

int bff_call_or_error(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                      ProtobufCMessage **resp)
{
    struct kumo_rpc_status st = {0};
    kumo_code code = bff_call(c, client, path, req, resp_desc, 1, resp, &st);
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, &st);
        kumo_rpc_status_clear(&st);
        return -1;
    }
    return 0;
}

/* ---- protections -------------------------------------------------------- */

static void new_request_id(struct bff_ctx *c)
{
    const char *in = bff_header(c->rq, "X-Request-Id");
    if (in && kumo_web_request_id_ok(in)) {
        snprintf(c->request_id, sizeof c->request_id, "%s", in);
        return;
    }
    unsigned char r[16];
    if (kumo_secret_random_bytes(r, sizeof r) != 0)
        memset(r, 0, sizeof r);
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(c->request_id + 2 * i, 3, "%02x", r[i]);
}

static void base_headers(struct bff_ctx *c, int *origin_ok)
{
    struct bff_response *rs = c->rs;
    bff_resp_header(rs, "X-Request-Id", c->request_id);
    bff_resp_header(rs, "X-Content-Type-Options", "nosniff");
    bff_resp_header(rs, "Cache-Control", "no-store");
    bff_resp_header(rs, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    bff_resp_header(rs, "Referrer-Policy", "no-referrer");
    bff_resp_header(rs, "X-Frame-Options", "DENY");
    bff_resp_header(rs, "Vary", "Origin");
    const char *origin = bff_header(c->rq, "Origin");
    *origin_ok = origin && kumo_web_origin_allowed(c->app->s.cors_origins, origin);
    if (*origin_ok) {
        bff_resp_header(rs, "Access-Control-Allow-Origin", origin);
        bff_resp_header(rs, "Access-Control-Allow-Credentials", "true");
        bff_resp_header(rs, "Access-Control-Expose-Headers", CORS_EXPOSE);
    }
}

static void preflight(struct bff_ctx *c, int origin_ok)
{
    if (!origin_ok) {
        bff_error(c, 403, "permission_denied", "origin not allowed");
        return;
    }
    bff_resp_header(c->rs, "Access-Control-Allow-Methods", CORS_METHODS);
    bff_resp_header(c->rs, "Access-Control-Allow-Headers", CORS_HEADERS);
    bff_resp_header(c->rs, "Access-Control-Max-Age", "600");
    bff_json(c, 204, NULL);
}

static int64_t now_ms(void)
{
    return kumo_now_ns() / 1000000;
}

static int rate_limited(struct bff_ctx *c, struct kumo_ratelimit *rl, const char *key,
                        const char *what)
{
    if (!rl)
        return 0;
    int64_t retry_ms = 0;
    if (kumo_ratelimit_take(rl, key, strlen(key), now_ms(), &retry_ms))
        return 0;
    char ra[24];
    snprintf(ra, sizeof ra, "%lld", (long long)((retry_ms + 999) / 1000));
    bff_resp_header(c->rs, "Retry-After", ra);
    kumo_metrics_counter_add("kumo_bff_rate_limited_total", "Requests refused with 429", 1);
    kumo_log(KUMO_LOG_INFO, c->request_id, "rate limited", "limit", what, "client", c->client,
             NULL);
    bff_error(c, 429, "resource_exhausted", "too many requests, slow down");
    return 1;
}

/* Verifies the bearer credentials (an access JWT, or an API key exchanged
 * for one) and fills c->principal and c->authorization. Returns 0 or
 * answers and returns -1. */
static int authenticate(struct bff_ctx *c)
{
    const char *h = bff_header(c->rq, "Authorization");
    const char *tok;
    size_t len;
    if (!h || kumo_jwt_bearer(h, strlen(h), &tok, &len) != 0) {
        bff_resp_header(c->rs, "WWW-Authenticate", "Bearer");
        bff_error(c, 401, "unauthenticated", "missing or invalid credentials");
        return -1;
    }
    char *jwt = NULL;
    struct kumo_api_key key;
    if (len == KUMO_API_KEY_LEN && kumo_api_key_parse(tok, len, &key) == 0) {
        kumo_secret_wipe(&key, sizeof key);
        char *api_key = kumo_strndup(tok, len);
        struct kumo_rpc_metadata xff = {"x-forwarded-for", c->client};
        struct kumo_rpc_call_options o = {.deadline = c->deadline,
                                          .request_id = c->request_id,
                                          .metadata = &xff,
                                          .n_metadata = 1};
        struct kumo_rpc_status st = {0};
        /* An address with recent credential failures is not served from
         * the cache: kumo-users, which counts them, decides (429). */
        kumo_code code =
            bff_client_suspect(c)
                ? kumo_apikey_exchange_token_fresh(c->app->apikeys, api_key, NULL, &o, &jwt, NULL,
                                                   &st)
                : kumo_apikey_exchange_token(c->app->apikeys, api_key, NULL, &o, &jwt, NULL, &st);
        kumo_secret_wipe(api_key, len);
        kumo_free(api_key);
        bff_note_credential_outcome(c, code);
        if (code != KUMO_CODE_OK) {
            bff_rpc_error(c,
                          code == KUMO_CODE_UNAVAILABLE || code == KUMO_CODE_DEADLINE_EXCEEDED ||
                                  code == KUMO_CODE_RESOURCE_EXHAUSTED
                              ? code
                              : KUMO_CODE_UNAUTHENTICATED,
                          &st);
            kumo_rpc_status_clear(&st);
            return -1;
        }
        tok = jwt;
        len = strlen(jwt);
    }
    int rc = kumo_jwt_verify(c->app->verifier, tok, len, (int64_t)time(NULL), &c->principal);
    const char *why = rc != 0 ? kumo_jwt_strerror(rc) : NULL;
    if (rc == 0 && kumo_revocations_revoked(c->app->revocations.set, c->principal.tid,
                                            c->principal.sub, c->principal.iat)) {
        rc = -1;
        why = "token revoked";
    }
    if (rc != 0) {
        kumo_log(KUMO_LOG_INFO, c->request_id, "authentication failed", "reason", why, NULL);
        kumo_metrics_counter_add("kumo_bff_auth_failures_total", "Requests refused with 401", 1);
        if (jwt) {
            kumo_secret_wipe(jwt, strlen(jwt));
            kumo_free(jwt);
        }
        bff_resp_header(c->rs, "WWW-Authenticate", "Bearer");
        bff_error(c, 401, "unauthenticated", "missing or invalid credentials");
        return -1;
    }
    struct kumo_buf a = KUMO_BUF_INIT;
    kumo_buf_append_str(&a, "Bearer ");
    kumo_buf_append(&a, tok, len);
    c->authorization = kumo_buf_steal(&a, NULL);
    if (jwt) {
        kumo_secret_wipe(jwt, strlen(jwt));
        kumo_free(jwt);
    }
    c->authenticated = 1;
    return 0;
}

/* Finds the route; answers 404/405 itself when there is none. */
static const struct bff_route *find_route(struct bff_ctx *c)
{
    int path_known = 0;
    struct kumo_buf allow = KUMO_BUF_INIT;
    for (size_t i = 0; i < bff_n_routes; i++) {
        const struct bff_route *r = &bff_routes[i];
        if (!kumo_web_route_match(r->pattern, c->rq->path, &c->params))
            continue;
        if (strcmp(r->method, c->rq->method) == 0) {
            kumo_buf_free(&allow);
            return r;
        }
        kumo_buf_appendf(&allow, "%s%s", path_known ? ", " : "", r->method);
        path_known = 1;
    }
    if (path_known) {
        bff_resp_header(c->rs, "Allow", (const char *)allow.data);
        bff_error(c, 405, "unimplemented", "method not allowed on this path");
    } else {
        bff_error(c, 404, "not_found", "no such route");
    }
    kumo_buf_free(&allow);
    return NULL;
}

static void record(struct bff_ctx *c, const struct bff_route *route, int64_t t0)
{
    double secs = (double)(kumo_now_ns() - t0) / 1e9;
    int st = c->rs->status;
    char label[160];
    /* Unmatched requests share one series: clients choose methods and
     * paths, and must not grow the metrics. */
    if (route)
        snprintf(label, sizeof label, "%s %s", route->method, route->pattern);
    else
        snprintf(label, sizeof label, "unmatched");
    kumo_code code = st < 400                 ? KUMO_CODE_OK
                     : st == 401              ? KUMO_CODE_UNAUTHENTICATED
                     : st == 403              ? KUMO_CODE_PERMISSION_DENIED
                     : st == 404              ? KUMO_CODE_NOT_FOUND
                     : st == 409 || st == 412 ? KUMO_CODE_ABORTED
                     : st == 429 || st == 413 ? KUMO_CODE_RESOURCE_EXHAUSTED
                     : st < 500               ? KUMO_CODE_INVALID_ARGUMENT
                     : st == 503              ? KUMO_CODE_UNAVAILABLE
                     : st == 504              ? KUMO_CODE_DEADLINE_EXCEEDED
                                              : KUMO_CODE_INTERNAL;
    kumo_metrics_rpc_finished(label, code, secs);
    /* Route template and status class: bounded labels (never the path). */
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    int cls = st / 100 - 1;
    const char *klass = cls >= 0 && cls < 5 ? classes[cls] : "5xx";
    const char *rlabels[] = {"route",
                             route ? route->pattern : "unmatched",
                             "method",
                             route ? route->method : "other",
                             "status_class",
                             klass,
                             NULL};
    kumo_metrics_counter_addl("kumo_bff_requests_total",
                              "BFF HTTP requests, by route template, method and status class.",
                              rlabels, 1);
    rlabels[4] = NULL;
    kumo_metrics_observe("kumo_bff_request_duration_seconds",
                         "BFF HTTP request duration, by route template and method.", rlabels, secs);
    struct kumo_span_end span_end = {kumo_trace_current(), "server", label, klass, t0,
                                     kumo_now_ns()};
    kumo_trace_end(&span_end);
    char status[8], ms[32];
    snprintf(status, sizeof status, "%d", st);
    snprintf(ms, sizeof ms, "%.3f", secs * 1000.0);
    kumo_log(st >= 500 ? KUMO_LOG_WARN : KUMO_LOG_INFO, c->request_id, "request", "method",
             c->rq->method, "path", c->rq->path, "route", route ? route->pattern : "", "status",
             status, "ms", ms, "client", c->client, "tenant_id",
             c->authenticated ? c->principal.tid : "", "sub",
             c->authenticated ? c->principal.sub : "", NULL);
}

/* 1 if the Origin header names this very server (scheme://Host): the web
 * console served at / calling /api/v1. A browser sets Origin itself, so a
 * cross-site page cannot forge it to match our Host. */
static int same_origin(const struct bff_request *rq)
{
    const char *origin = bff_header(rq, "Origin");
    const char *host = bff_header(rq, "Host");
    if (!origin || !host || !*host)
        return 0;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return rest && strcasecmp(rest, host) == 0;
}

void bff_handle(struct bff *app, const struct bff_request *rq, struct bff_response *rs)
{
    /* Same-origin requests (the console) are treated like requests without
     * an Origin: no CORS headers, and the cookie endpoints' Origin check
     * (which knows only the KUMO_CORS_ORIGINS list) does not refuse them. */
    struct bff_request same;
    if (same_origin(rq)) {
        same = *rq;
        same.n_headers = 0;
        for (size_t i = 0; i < rq->n_headers; i++)
            if (strcasecmp(rq->headers[i].name, "Origin") != 0)
                same.headers[same.n_headers++] = rq->headers[i];
        rq = &same;
    }
    /* The web console's files (static.c): everything outside /api/. */
    if (bff_static_serve(rq, rs))
        return;
    int64_t t0 = kumo_now_ns();
    struct bff_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    struct bff_ctx *c = &ctx;
    c->app = app;
    c->rq = rq;
    c->rs = rs;
    c->arena = kumo_arena_new();
    c->deadline = t0 + app->s.request_timeout_ms * 1000000;
    new_request_id(c);
    /* The request's span (base/trace.h): the child of the client's
     * traceparent or a new trace; current on this thread, so every log line
     * and every RPC made for this request carries it. */
    struct kumo_trace span;
    kumo_trace_start_from_headers(&span, bff_header(rq, "traceparent"),
                                  bff_header(rq, "tracestate"));
    const struct kumo_trace *prev_span = kumo_trace_set_current(&span);
    kumo_client_addr(rq->peer, bff_header(rq, "X-Forwarded-For"), app->s.trusted_proxies, c->client,
                     sizeof c->client);
    int origin_ok = 0;
    base_headers(c, &origin_ok);
    const struct bff_route *route = NULL;
    kumo_metrics_rpc_started();

    if (strcmp(rq->method, "OPTIONS") == 0) {
        preflight(c, origin_ok);
    } else if (rq->body_too_large) {
        bff_error(c, 413, "resource_exhausted", "request body too large");
    } else if (rq->too_many_headers) {
        /* Refused rather than cut: a dropped header could change what the
         * request means. */
        bff_error(c, 431, "resource_exhausted", "too many request headers");
    } else if (rq->too_many_query) {
        bff_error(c, 400, "invalid_argument", "too many query parameters");
    } else if (!rate_limited(c, app->rl_addr, c->client, "address") &&
               (route = find_route(c)) != NULL) {
        int ok = 1;
        if (route->fn == bff_h_login)
            ok = !rate_limited(c, app->rl_login, c->client, "login");
        if (ok && route->auth == BFF_TOKEN) {
            ok = authenticate(c) == 0;
            if (ok) {
                struct kumo_buf key = KUMO_BUF_INIT;
                kumo_buf_appendf(&key, "%s/%s", c->principal.tid, c->principal.sub);
                ok = !rate_limited(c, app->rl_principal, (const char *)key.data, "principal");
                kumo_buf_free(&key);
            }
        }
        if (ok)
            route->fn(c);
    }
    if (rs->status == 0)
        bff_error(c, 500, "internal", "internal error");
    record(c, route, t0);
    json_decref(c->body);
    if (c->authorization) {
        kumo_secret_wipe(c->authorization, strlen(c->authorization));
        kumo_free(c->authorization);
    }
    kumo_arena_free(c->arena);
    kumo_trace_set_current(prev_span);
}
