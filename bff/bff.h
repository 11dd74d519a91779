/* kumo-bff internals: the browser-facing JSON API. One front-end
 * independent core (bff_handle: request in, response out) behind the
 * HTTP/1.1 front-end (libmicrohttpd, http1.c); the route handlers turn JSON
 * into RPCs to kumo-users and kumo-documents. Nothing here is used outside
 * bff/. */
#ifndef KUMO_BFF_H
#define KUMO_BFF_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "users/apikey_exchange.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/trace.h"
#include "runtime/config.h"
#include "auth/jwks_fetch.h"
#include "auth/jwt.h"
#include "auth/jwt_setup.h"
#include "auth/ratelimit.h"
#include "auth/revocations.h"
#include "auth/throttle.h"
#include "auth/verify_cache.h"
#include "rpc_client/client.h"
#include "auth/client_addr.h"
#include "web.h"

/* Settings from the KUMO_* variables (config.c). */
struct bff_settings {
    const char *http_addr;
    int http_port;
    const char *users_target, *documents_target, *storage_target;
    struct kumo_jwt_settings jwt; /* KUMO_JWT_* (auth/jwt_setup.h) */
    const char *cors_origins;
    int cookie_secure;
    int64_t body_max;
    int json_max_depth;
    int64_t request_timeout_ms;
    int64_t client_timeout_ms;
    int http_handlers; /* requests served at once (handler threads) */
    int http_queue;    /* requests waiting for a handler; more get 503 */
    int http_max_connections, http_max_per_address; /* runtime/connlimit.h */
    double rl_addr_rate, rl_addr_burst;
    double rl_principal_rate, rl_principal_burst;
    double rl_login_rate, rl_login_burst;
    struct kumo_cidr_list *trusted_proxies; /* owned; freed in teardown */
    int page_size_max;
    const char *web_root;        /* KUMO_WEB_ROOT ("" = next to the binary, "off") */
    const char *web_connect_src; /* KUMO_WEB_CONNECT_SRC: extra CSP origins */
    const char *kumocms_tenant;  /* KUMO_KUMOCMS_TENANT: POST /auth's tenant ("": off) */
    /* KUMO_DIRECT_UPLOAD_CONNECT: "host:port" the direct upload's PUTs
     * connect to instead of the upload URL's ("": the URL's). */
    const char *direct_upload_connect;
};

/* Loads and validates the settings; logs and returns -1 on a bad value. */
int bff_settings_load(const struct kumo_config *c, struct bff_settings *s);
/* The BFF's own variables (besides the daemon's common ones). */
const struct kumo_config_var *bff_config_vars(size_t *n);

/* The process-wide state. */
struct bff {
    struct bff_settings s;
    struct kumo_rpc_client *users, *documents, *storage;
    struct kumo_apikey_exchange *apikeys;
    struct kumo_jwt_setup jwt;          /* verifier of users' tokens, JWKS refresher */
    struct kumo_verify_cache *verified; /* tokens verified lately */
    struct kumo_ratelimit *rl_addr, *rl_principal, *rl_login;
    /* Client addresses with a credential refused within the last
     * BFF_SUSPECT_WINDOW_MS: their API keys skip the exchange cache. */
    struct kumo_throttle *suspects;
    /* Revoked keys and users (kumo-users' feed), checked on every token. */
    struct kumo_revocations_client revocations;
    struct bff_http *http;
};

/* ---- the front-end independent request and response ---------------- */

struct bff_kv {
    const char *name;
    const char *value;
};

#define BFF_MAX_HEADERS 64
#define BFF_MAX_QUERY   32

struct bff_route;

struct bff_request {
    const char *method; /* "GET" */
    const char *path;   /* decoded path, no query */
    struct bff_kv headers[BFF_MAX_HEADERS];
    size_t n_headers;
    struct bff_kv query[BFF_MAX_QUERY]; /* decoded */
    size_t n_query;
    int too_many_query;   /* more than BFF_MAX_QUERY parameters */
    int too_many_headers; /* more than BFF_MAX_HEADERS headers (431) */
    const char *body;
    size_t body_len;
    int body_too_large;            /* the front-end stopped reading at the limit */
    const char *peer;              /* socket peer address, numeric */
    int64_t received_ns;           /* kumo_now_ns when it was read whole (0: now):
                                      the request's budget runs from here, so time
                                      spent waiting for a handler counts */
    const struct bff_route *route; /* set by bff_async_ok: its route for this
                                      method and path, found once */
};

#define BFF_MAX_RESP_HEADERS 24
#define BFF_RESP_HEADER_TEXT 768

struct bff_response {
    int status;
    struct kumo_buf body;
    const char *content_type; /* static */
    char *header_names[BFF_MAX_RESP_HEADERS];
    char *header_values[BFF_MAX_RESP_HEADERS];
    size_t n_headers;
    /* Where bff_resp_header copies names and values while they fit (a
     * GET's ten headers take ~300 bytes); the rest are malloc'd. */
    char header_text[BFF_RESP_HEADER_TEXT];
    size_t header_text_used;
};

/* Serves one request: fills *rs (status, headers, body). Thread-safe;
 * blocks on RPCs. */
void bff_handle(struct bff *app, const struct bff_request *rq, struct bff_response *rs);

/* ---- serving without a thread per request ---------------------------
 * A request whose route is marked BFF_ASYNC, with a bearer JWT (or no
 * credentials; an API key's exchange may block), can be served from a
 * front-end's event loop: bff_handle_start runs every check bff_handle
 * runs (the same code), up to the RPC, which goes out asynchronously
 * (kumo_rpc_client_call_async); when it is answered, `resume(arg)` is
 * called on the RPC client's thread, and the front-end then calls
 * bff_handle_resume on its own thread to finish the answer. */
struct bff_async;

/* 1 if bff_handle_start can serve `rq` (a function of the request: nothing
 * is done; the route it found is kept in rq->route for the start). */
int bff_async_ok(struct bff_request *rq);

/* Starts serving `rq` (bff_async_ok must hold; rq and rs must stay until
 * the request is finished). Returns 0 when the answer is in *rs already,
 * 1 when it is pending: `resume(arg)` will be called once, from another
 * thread, after which bff_handle_resume(*out) must be called. */
int bff_handle_start(struct bff *app, const struct bff_request *rq, struct bff_response *rs,
                     void (*resume)(void *arg), void *arg, struct bff_async **out);

/* Continues a pending request after its resume(arg): returns 0 when the
 * answer is in *rs (`a` is freed), or 1 when it is pending again (another
 * RPC: resume(arg) will be called again). */
int bff_handle_resume(struct bff_async *a);

/* 1 when `rq` needs no RPC to another service's business logic: the web
 * console's files, /healthcheck (health checks only), /openapi.json and
 * CORS preflights. The front-ends serve these on a lane of their own, so
 * they never wait behind requests blocked on a slow dependency. */
int bff_is_cheap(const struct bff_request *rq);

/* Fills `rs` (empty) with the answer to a request refused because every
 * handler is busy and the queue is full: 503 `unavailable` with
 * Retry-After. Any thread. */
void bff_busy(struct bff_response *rs);

/* Frees the strings of *rs. */
void bff_response_clear(struct bff_response *rs);

/* Adds a response header (both strings copied). */
void bff_resp_header(struct bff_response *rs, const char *name, const char *value);

/* ---- per-request context for route handlers ------------------------ */

struct bff_ctx {
    struct bff *app;
    const struct bff_request *rq;
    struct bff_response *rs;
    struct kumo_arena *arena;
    struct kumo_web_params params;
    char request_id[130];
    char client[64];
    int64_t deadline; /* kumo_now_ns base */
    int authenticated;
    struct kumo_principal principal;
    char *authorization; /* "Bearer <jwt>" to forward (kumo_malloc'd) */
    json_t *body;        /* parsed JSON body, or NULL */
    /* The etag a mapped RPC uses when If-Match is absent (set by an op's
     * prepare step), or NULL. */
    const char *etag_default;
    struct bff_async *async; /* the request's serving state (core.c) */
};

/* What follows an RPC made with bff_call_then: `state` as given, the
 * outcome (`resp` in the arena when OK; `st` cleared by the caller). */
typedef void (*bff_cont_fn)(struct bff_ctx *c, void *state, kumo_code code, ProtobufCMessage *resp,
                            struct kumo_rpc_status *st);

/* A request's serving state: the context and what the core needs to finish
 * it (core.c), and the RPC in flight when it is served asynchronously
 * (call.c). Internal to the core. */
struct bff_async {
    struct bff_ctx ctx;
    struct bff_request same; /* the request without its Origin (same origin) */
    struct kumo_trace span;
    const struct kumo_trace *prev_span;
    const struct bff_route *route;
    int64_t t0;
    void (*resume)(void *arg); /* NULL: served by bff_handle (blocking) */
    void *resume_arg;
    int pending; /* an asynchronous RPC is in flight */
    bff_cont_fn cont;
    void *state;
    struct kumo_rpc_client *client;
    kumo_code code; /* its outcome (set on the client's thread) */
    ProtobufCMessage *resp;
    struct kumo_rpc_status st;
};

/* Calls method `path` on `client` as bff_call does (with the forwarded
 * authorization) and then `cont` with the outcome: at once on a blocking
 * request, or, on an asynchronous one, once the answer is there (the
 * handler must return right after this call and leave the rest to
 * `cont`). Handlers of BFF_ASYNC routes make their RPCs this way only. */
void bff_call_then(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                   bff_cont_fn cont, void *state);
/* Runs the continuation of a resumed asynchronous RPC (call.c). */
void bff__async_continue(struct bff_async *a);

/* Request helpers (request.c). */
const char *bff_header(const struct bff_request *rq, const char *name);
const char *bff_query(const struct bff_request *rq, const char *name);
/* Path parameter `name` copied into the arena, or "" */
const char *bff_param(struct bff_ctx *c, const char *name);

/* Responses (response.c). */
void bff_json(struct bff_ctx *c, int status, json_t *obj); /* steals obj */
/* Answers `status` with the JSON text in *body (taken: *body is left
 * empty). */
void bff_json_text(struct bff_ctx *c, int status, struct kumo_buf *body);
void bff_error(struct bff_ctx *c, int status, const char *code, const char *message);
/* The error response for an RPC failure (status mapped from the code;
 * unavailable/internal/unknown messages replaced by generic text). */
void bff_rpc_error(struct bff_ctx *c, kumo_code code, const struct kumo_rpc_status *st);

/* Parses the body as a JSON object into c->body (depth checked) and checks
 * it against the route's operation in bff/openapi.yaml (spec.h). Returns 0,
 * or answers 400 (415) and returns -1. An empty body gives an empty object. */
int bff_parse_body(struct bff_ctx *c);
/* bff_parse_body without the check against the document (the caller runs
 * bff_spec_check_body itself). */
int bff_parse_body_only(struct bff_ctx *c);
/* Checks that every key of `obj` is one of the NULL-terminated `allowed`;
 * otherwise answers 400 naming the first other and returns -1. */
int bff_only_fields(struct bff_ctx *c, json_t *obj, const char *const *allowed);

/* Builds a request message from proto-JSON `obj` (decoded into the arena;
 * obj is not stolen). Returns the message, or answers 400 and returns
 * NULL. */
ProtobufCMessage *bff_proto_from_json(struct bff_ctx *c, const ProtobufCMessageDescriptor *desc,
                                      json_t *obj);

/* Calls method `path` on `client` with the request's deadline, request id
 * and forwarded authorization (when `with_auth`). Returns the code; the
 * response is in the arena (call.c). */
kumo_code bff_call(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                   int with_auth, ProtobufCMessage **resp, struct kumo_rpc_status *st);
/* bff_call, answering the error itself on failure. Returns 0 or -1. */
int bff_call_or_error(struct bff_ctx *c, struct kumo_rpc_client *client, const char *path,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                      ProtobufCMessage **resp);

#define BFF_SUSPECT_WINDOW_MS (15 * 60 * 1000)

/* Returns 1 if the request's client address had a credential (password,
 * API key, refresh token) refused by kumo-users recently. */
int bff_client_suspect(struct bff_ctx *c);
/* Records the outcome of a kumo-users call made for the request's client:
 * unauthenticated or resource_exhausted marks the address suspect. */
void bff_note_credential_outcome(struct bff_ctx *c, kumo_code code);

/* Requires one of `roles` (bits) in the principal; answers 403 otherwise
 * and returns -1. */
int bff_require_role(struct bff_ctx *c, unsigned roles);

/* page_size from the query, clamped to 1..KUMO_PAGE_SIZE_MAX (0 when
 * absent: the service's default). Returns 0, or answers 400 and returns -1. */
int bff_page_size(struct bff_ctx *c, int *out);
/* Adds ETag: "<etag>" (nothing for an empty etag). */
void bff_etag_header(struct bff_ctx *c, const char *etag);
/* The etag of If-Match without quotes or W/ (in the arena), or NULL. */
const char *bff_if_match(struct bff_ctx *c);

/* ---- routes ---------------------------------------------------------- */

/* Route flags. */
#define BFF_PUBLIC 0u
#define BFF_TOKEN  1u /* a bearer token or API key is required */
#define BFF_LOGIN  2u /* also under the sign-in rate limit (KUMO_LOGIN_RATE_LIMIT) */
#define BFF_ASYNC                                                                                  \
    4u /* may be served without a thread (bff_handle_start): its handler                           \
          (and an op's hooks) never block, its RPCs go by bff_call_then */

struct bff_op; /* a mapped RPC (op.h), run by bff_run */

/* One row of the route table: either a hand-written handler `fn` or a
 * mapped RPC `op`. */
struct bff_route {
    const char *method;
    const char *pattern;
    unsigned flags;
    void (*fn)(struct bff_ctx *c);
    const struct bff_op *op;
};

/* The largest body of PUT /documents/{id} (KumoCMS's inline file_content,
 * base64 of up to 10 MB, with room for the other members). */
#define BFF_DIRECT_BODY_MAX (14LL * 1024 * 1024)
/* The largest direct upload (KumoCMS's MAX_FILE_SIZE: direct below it). */
#define BFF_DIRECT_MAX (10LL * 1024 * 1024)

/* The body limit of a request (front-ends: 413 above it before reading
 * more): KUMO_BODY_MAX, or BFF_DIRECT_BODY_MAX (when larger) for PUT
 * /api/v1/documents/{id} with an Authorization header (`authorized`;
 * anonymous requests never get the larger limit), whose handler holds
 * bodies without file_content to KUMO_BODY_MAX itself. `path` may carry a
 * query. */
int64_t bff_body_limit(const struct bff *app, const char *method, const char *path, int authorized);

extern const struct bff_route bff_routes[];
extern const size_t bff_n_routes;

/* Finds the route of `method` `path`, filling *params. Returns it, or NULL
 * with *path_known set when the path matches with another method (and
 * `allow`, when not NULL, listing the methods it has, ", " separated). */
const struct bff_route *bff_route_find(const char *method, const char *path,
                                       struct kumo_web_params *params, int *path_known,
                                       struct kumo_buf *allow);

/* The row of bff_routes that r is, or bff_n_routes for NULL or any route
 * not in the table. */
size_t bff_route_index(const struct bff_route *r);

/* Runs a mapped RPC for the request (runner.c). */
void bff_run(struct bff_ctx *c, const struct bff_op *op);

/* Hand-written handlers (auth.c, documents.c, misc.c). */
void bff_h_login(struct bff_ctx *c);
void bff_h_refresh(struct bff_ctx *c);
void bff_h_logout(struct bff_ctx *c);
void bff_h_logout_everywhere(struct bff_ctx *c);
void bff_h_me(struct bff_ctx *c);
void bff_h_docs_get(struct bff_ctx *c);
void bff_h_docs_put(struct bff_ctx *c);
void bff_h_kumocms_auth(struct bff_ctx *c);
void bff_h_users_put(struct bff_ctx *c);
/* KumoCMS's permissions of a kumo role name ("admin": read, write, delete,
 * admin; "editor": read, write, delete; else read), a new array. */
json_t *bff_kumocms_permissions(const char *role);
void bff_h_healthcheck(struct bff_ctx *c);
void bff_h_openapi(struct bff_ctx *c);

/* The OpenAPI document as JSON (openapi_spec.c, generated by
 * bff/openapi-gen from bff/openapi.yaml). */
extern const char bff_openapi_json[];

/* ---- the web console (static.c) ------------------------------------- */

/* Opens the console's directory (KUMO_WEB_ROOT, default <bin>/../web) and
 * builds its CSP. Without an index.html there the console is off (logged);
 * returns 0 either way. */
int bff_static_init(const struct bff_settings *s);
void bff_static_free(void);
/* Serves a console file (GET/HEAD outside /api/) into *rs and returns 1;
 * returns 0 to leave the request to the API. Thread-safe. */
int bff_static_serve(const struct bff_request *rq, struct bff_response *rs);
/* Internal, exposed for tests: 1 if `path` is an acceptable request path;
 * 1 if Accept-Encoding `ae` allows `coding`. */
int bff__static_path_ok(const char *path);
int bff__static_accepts(const char *ae, const char *coding);

/* ---- the HTTP/1.1 front-end (http1.c) ------------------------------ */

struct bff_http;
int bff_http_start(struct bff *app, struct bff_http **out);
int bff_http_port(const struct bff_http *h);
/* The body of the 408 answered to a client that did not send its request
 * within KUMO_CLIENT_TIMEOUT (http1.c, h2c.c). */
#define BFF_TIMEOUT_BODY                                                                           \
    "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"the request was not received in "    \
    "time\"}}"

/* Serves one h2c connection (h2c.c) on the event loop of app->documents'
 * RPC client (the calling thread only waits) until it closes, has no open stream
 * for KUMO_CLIENT_TIMEOUT, or *stopping is set (the drain deadline: cut
 * at once). Once *draining is set it sends GOAWAY (NO_ERROR, the last
 * stream the client opened), answers every stream up to it, refuses later
 * ones with RST_STREAM REFUSED_STREAM and closes when none is left. Its
 * requests run on `pool`'s threads (bff_is_cheap ones on `cheap`'s; a full
 * pool is answered with bff_busy), and it returns once none is left
 * there. A request still arriving KUMO_CLIENT_TIMEOUT after its HEADERS
 * began is answered 408 and reset. It marks its connection-limit `slot`
 * idle while no stream is open (runtime/connlimit.h: the limit may then
 * shut it down to admit another). The fd stays the caller's. */
struct bff_pool;
struct kumo_connlimit;
struct kumo_connlimit_slot;
void bff_h2c_serve(struct bff *app, struct bff_pool *pool, struct bff_pool *cheap, int fd,
                   const char *peer, atomic_int *draining, atomic_int *stopping,
                   struct kumo_connlimit *limit, struct kumo_connlimit_slot *slot);
/* The drain (SIGTERM): stops accepting, sends GOAWAY on h2c connections,
 * `Connection: close` on every HTTP/1.1 response from now on, and closes
 * idle keep-alive connections; requests already received are answered. */
void bff_http_quiesce(struct bff_http *h);
/* 1 once the drain left nothing to answer: no request in flight, no
 * connection open. Any thread. */
int bff_http_drained(struct bff_http *h);
/* Waits (until `deadline`, kumo_now_ns) for the drain to finish, then
 * closes whatever is left and frees `h` (NULL is a no-op). Returns 0, or
 * -1 when handlers were still running at the deadline: `h` and everything
 * they use (the app) must then be left as they are (exit). */
int bff_http_stop(struct bff_http *h, int64_t deadline);

#endif
