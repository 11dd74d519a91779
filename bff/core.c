/* The front-end independent core: every request goes through bff_handle,
 * which applies the protections (request id, security headers, CORS, body
 * limit, rate limits, authentication) in one place before the route
 * handler, then records metrics and the access log line. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/fastrand.h"
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

/* ---- protections -------------------------------------------------------- */

static void new_request_id(struct bff_ctx *c)
{
    const char *in = bff_header(c->rq, "X-Request-Id");
    if (in && kumo_web_request_id_ok(in)) {
        snprintf(c->request_id, sizeof c->request_id, "%s", in);
        return;
    }
    /* Unique, not secret (the client may choose its own): the per-thread
     * fast generator, 128 bits as 32 lowercase hex digits. */
    kumo_fastrand_hex(c->request_id, 16);
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
    /* From the verified-token cache when this token verified lately (the
     * revocation check below runs every time). */
    int rc = kumo_verify_cache_verify(c->app->verified, c->app->jwt.verifier, tok, len,
                                      (int64_t)time(NULL), &c->principal, NULL);
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
    /* bff_async_ok found it for this method and path already: only the
     * path's parameters are left to take. */
    const struct bff_route *hint = c->rq->route;
    if (hint && kumo_web_route_match(hint->pattern, c->rq->path, &c->params) &&
        strcmp(hint->method, c->rq->method) == 0)
        return hint;
    int path_known = 0;
    struct kumo_buf allow = KUMO_BUF_INIT;
    const struct bff_route *r =
        bff_route_find(c->rq->method, c->rq->path, &c->params, &path_known, &allow);
    if (!r && path_known) {
        bff_resp_header(c->rs, "Allow", (const char *)allow.data);
        bff_error(c, 405, "unimplemented", "method not allowed on this path");
    } else if (!r) {
        bff_error(c, 404, "not_found", "no such route");
    }
    kumo_buf_free(&allow);
    return r;
}

/* The metrics series a route's requests are recorded in, per row of
 * bff_routes (and one more for the unmatched requests), each looked up on
 * the first request that records it (a series is rendered from then on)
 * and kept: labels never change for a row. */
struct route_series {
    _Atomic(struct kumo_metrics_method *) rpc;
    _Atomic(struct kumo_metrics_series *) total[5]; /* by status class */
    _Atomic(struct kumo_metrics_series *) duration;
};
static struct route_series *route_series;
static pthread_once_t route_series_once = PTHREAD_ONCE_INIT;

static void route_series_alloc(void)
{
    route_series = kumo_calloc(bff_n_routes + 1, sizeof *route_series);
}

static void record(struct bff_ctx *c, const struct bff_route *route, int64_t t0)
{
    double secs = (double)(kumo_now_ns() - t0) / 1e9;
    int st = c->rs->status;
    char label[160] = "unmatched";
    /* Unmatched requests share one series: clients choose methods and
     * paths, and must not grow the metrics. */
    if (route) {
        size_t ml = strlen(route->method), pl = strlen(route->pattern);
        if (ml + 1 + pl < sizeof label) {
            memcpy(label, route->method, ml);
            label[ml] = ' ';
            memcpy(label + ml + 1, route->pattern, pl + 1);
        } else {
            snprintf(label, sizeof label, "%s %s", route->method, route->pattern);
        }
    }
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
    pthread_once(&route_series_once, route_series_alloc);
    struct route_series *rs = &route_series[bff_route_index(route)];
    struct kumo_metrics_method *rpc = atomic_load_explicit(&rs->rpc, memory_order_acquire);
    if (rpc == NULL) {
        rpc = kumo_metrics_method(label);
        atomic_store_explicit(&rs->rpc, rpc, memory_order_release);
    }
    kumo_metrics_rpc_finished_at(rpc, code, secs);
    /* Route template and status class: bounded labels (never the path). */
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    int cls = st / 100 - 1;
    if (cls < 0 || cls >= 5)
        cls = 4;
    const char *klass = classes[cls];
    const char *rlabels[] = {"route",
                             route ? route->pattern : "unmatched",
                             "method",
                             route ? route->method : "other",
                             "status_class",
                             klass,
                             NULL};
    struct kumo_metrics_series *total = atomic_load_explicit(&rs->total[cls], memory_order_acquire);
    if (total == NULL) {
        total = kumo_metrics_counter_series(
            "kumo_bff_requests_total",
            "BFF HTTP requests, by route template, method and status class.", rlabels);
        atomic_store_explicit(&rs->total[cls], total, memory_order_release);
    }
    kumo_metrics_series_add(total, 1);
    struct kumo_metrics_series *duration =
        atomic_load_explicit(&rs->duration, memory_order_acquire);
    if (duration == NULL) {
        rlabels[4] = NULL;
        duration = kumo_metrics_histogram_series(
            "kumo_bff_request_duration_seconds",
            "BFF HTTP request duration, by route template and method.", rlabels);
        atomic_store_explicit(&rs->duration, duration, memory_order_release);
    }
    kumo_metrics_series_observe(duration, secs);
    struct kumo_span_end span_end = {kumo_trace_current(), "server", label, klass, t0,
                                     kumo_now_ns()};
    kumo_trace_end(&span_end);
    char status[8], ms[32];
    if (st >= 100 && st <= 999) { /* every HTTP status: three digits */
        status[0] = (char)('0' + st / 100);
        status[1] = (char)('0' + st / 10 % 10);
        status[2] = (char)('0' + st % 10);
        status[3] = '\0';
    } else {
        snprintf(status, sizeof status, "%d", st);
    }
    kumo_format_ms(ms, sizeof ms, kumo_now_ns() - t0);
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

static int bff_resp_has_header(const struct bff_response *rs, const char *name);

/* Sets up the request in *a (same-origin, context, span, protections up
 * to the route's handler). Returns 0 when a console file answered it
 * (nothing to finish), else 1 with a->route the route to serve (NULL when
 * already answered); end() finishes it either way. */
static int begin(struct bff_async *a, struct bff *app, const struct bff_request *rq,
                 struct bff_response *rs)
{
    /* Same-origin requests (the console) are treated like requests without
     * an Origin: no CORS headers, and the cookie endpoints' Origin check
     * (which knows only the KUMO_CORS_ORIGINS list) does not refuse them. */
    if (same_origin(rq)) {
        a->same = *rq;
        a->same.n_headers = 0;
        for (size_t i = 0; i < rq->n_headers; i++)
            if (strcasecmp(rq->headers[i].name, "Origin") != 0)
                a->same.headers[a->same.n_headers++] = rq->headers[i];
        rq = &a->same;
    }
    /* The web console's files (static.c): everything outside /api/. */
    if (bff_static_serve(rq, rs))
        return 0;
    a->t0 = kumo_now_ns();
    struct bff_ctx *c = &a->ctx;
    c->app = app;
    c->rq = rq;
    c->rs = rs;
    c->async = a;
    c->arena = kumo_arena_new();
    c->deadline = (rq->received_ns ? rq->received_ns : a->t0) + app->s.request_timeout_ms * 1000000;
    new_request_id(c);
    /* The request's span (base/trace.h): the child of the client's
     * traceparent or a new trace; current on this thread while the request
     * is served here, so every log line and every RPC made for this
     * request carries it. */
    kumo_trace_start_from_headers(&a->span, bff_header(rq, "traceparent"),
                                  bff_header(rq, "tracestate"));
    a->prev_span = kumo_trace_set_current(&a->span);
    kumo_client_addr(rq->peer, bff_header(rq, "X-Forwarded-For"), app->s.trusted_proxies, c->client,
                     sizeof c->client);
    int origin_ok = 0;
    base_headers(c, &origin_ok);
    kumo_metrics_rpc_started();

    a->route = NULL;
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
               (a->route = find_route(c)) != NULL) {
        const struct bff_route *route = a->route;
        int ok = 1;
        if (route->flags & BFF_LOGIN)
            ok = !rate_limited(c, app->rl_login, c->client, "login");
        if (ok && (route->flags & BFF_TOKEN)) {
            ok = authenticate(c) == 0;
            if (ok && app->rl_principal) {
                struct kumo_buf key = KUMO_BUF_INIT;
                kumo_buf_appendf(&key, "%s/%s", c->principal.tid, c->principal.sub);
                ok = !rate_limited(c, app->rl_principal, (const char *)key.data, "principal");
                kumo_buf_free(&key);
            }
        }
        if (ok && route->op)
            bff_run(c, route->op);
        else if (ok)
            route->fn(c);
    }
    return 1;
}

/* Finishes the answer (fallbacks, metrics, access log) and frees the
 * request's context. */
static void end(struct bff_async *a)
{
    struct bff_ctx *c = &a->ctx;
    struct bff_response *rs = c->rs;
    if (rs->status == 0)
        bff_error(c, 500, "internal", "internal error");
    if (rs->status == 503 && !bff_resp_has_header(rs, "Retry-After"))
        bff_resp_header(rs, "Retry-After", "1"); /* unavailable: worth a retry soon */
    record(c, a->route, a->t0);
    json_decref(c->body);
    if (c->authorization) {
        kumo_secret_wipe(c->authorization, strlen(c->authorization));
        kumo_free(c->authorization);
    }
    kumo_arena_free(c->arena);
    kumo_trace_set_current(a->prev_span);
}

void bff_handle(struct bff *app, const struct bff_request *rq, struct bff_response *rs)
{
    struct bff_async a;
    memset(&a, 0, sizeof a);
    if (begin(&a, app, rq, rs))
        end(&a);
}

int bff_async_ok(struct bff_request *rq)
{
    if (strcmp(rq->method, "GET") != 0 || rq->body_too_large || rq->too_many_headers ||
        rq->too_many_query || strncmp(rq->path, "/api/", 5) != 0)
        return 0;
    struct kumo_web_params params;
    int known;
    const struct bff_route *r = bff_route_find(rq->method, rq->path, &params, &known, NULL);
    if (!r || !(r->flags & BFF_ASYNC))
        return 0;
    rq->route = r;
    /* An API key is exchanged for a token by a blocking RPC (or its cache):
     * that request goes to a handler thread. */
    const char *h = bff_header(rq, "Authorization");
    const char *tok;
    size_t len, hlen = h ? strlen(h) : 0;
    struct kumo_api_key key;
    /* An API key's token is KUMO_API_KEY_LEN bytes after a space: any other
     * header (a JWT) is told apart without checking its every byte here
     * (authenticate does that). */
    if (hlen > KUMO_API_KEY_LEN && h[hlen - KUMO_API_KEY_LEN - 1] == ' ' &&
        kumo_jwt_bearer(h, hlen, &tok, &len) == 0 && len == KUMO_API_KEY_LEN &&
        kumo_api_key_parse(tok, len, &key) == 0) {
        kumo_secret_wipe(&key, sizeof key);
        return 0;
    }
    return 1;
}

/* Leaves a request waiting for its RPC (1), or finishes it (0). */
static int settle(struct bff_async *a, struct bff_async **out)
{
    if (a->pending) {
        kumo_trace_set_current(a->prev_span);
        if (out)
            *out = a;
        return 1;
    }
    end(a);
    kumo_free(a);
    return 0;
}

int bff_handle_start(struct bff *app, const struct bff_request *rq, struct bff_response *rs,
                     void (*resume)(void *arg), void *arg, struct bff_async **out)
{
    struct bff_async *a = kumo_calloc(1, sizeof *a);
    a->resume = resume;
    a->resume_arg = arg;
    if (!begin(a, app, rq, rs)) {
        kumo_free(a);
        return 0;
    }
    return settle(a, out);
}

int bff_handle_resume(struct bff_async *a)
{
    a->prev_span = kumo_trace_set_current(&a->span);
    bff__async_continue(a);
    return settle(a, NULL);
}

static int bff_resp_has_header(const struct bff_response *rs, const char *name)
{
    for (size_t i = 0; i < rs->n_headers; i++)
        if (strcasecmp(rs->header_names[i], name) == 0)
            return 1;
    return 0;
}

int bff_is_cheap(const struct bff_request *rq)
{
    if (strcmp(rq->method, "OPTIONS") == 0)
        return 1; /* a preflight is answered from the CORS settings */
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0)
        return 0;
    if (strncmp(rq->path, "/api/", 5) != 0)
        return 1; /* the web console's files (static.c) */
    return strcmp(rq->path, "/api/v1/healthcheck") == 0 ||
           strcmp(rq->path, "/api/v1/openapi.json") == 0;
}

void bff_busy(struct bff_response *rs)
{
    rs->status = 503;
    rs->content_type = "application/json";
    kumo_buf_append_str(&rs->body, "{\"error\":{\"code\":\"unavailable\",\"message\":\"the "
                                   "server is busy; retry later\"}}");
    bff_resp_header(rs, "Retry-After", "1");
    bff_resp_header(rs, "Cache-Control", "no-store");
    bff_resp_header(rs, "X-Content-Type-Options", "nosniff");
    kumo_metrics_counter_add("kumo_bff_busy_total",
                             "Requests answered 503 because every handler was busy", 1);
}
