/* The callers' side of the RPC client: configuration, building a call,
 * handing it to the I/O thread, waiting for it and decoding the response.
 * The I/O thread lives in rpc_client_conn.c and rpc_client_h2.c. */
#include "rpc_client/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/ascii.h"
#include "base/trace.h"
#include "wire/compress.h"
#include "wire/envelope.h"
#include "rpc/rpc.h"
#include "rpc_client/internal.h"

#define DEFAULT_MAX_MESSAGE   (4u * 1024 * 1024)
#define DEFAULT_CONNECT_MS    5000
#define MAX_METADATA_NAME_LEN 256
#define MAX_METADATA_VALUE    8192

/* ---- call lists ---- */

void kumo__rpc_list_push(struct kumo__rpc_call_list *l, struct kumo__rpc_call *call)
{
    call->next = NULL;
    call->prev = l->tail;
    if (l->tail)
        l->tail->next = call;
    else
        l->head = call;
    l->tail = call;
    l->n++;
}

void kumo__rpc_list_push_front(struct kumo__rpc_call_list *l, struct kumo__rpc_call *call)
{
    call->prev = NULL;
    call->next = l->head;
    if (l->head)
        l->head->prev = call;
    else
        l->tail = call;
    l->head = call;
    l->n++;
}

void kumo__rpc_list_remove(struct kumo__rpc_call_list *l, struct kumo__rpc_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        l->head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        l->tail = call->prev;
    call->prev = call->next = NULL;
    l->n--;
}

struct kumo__rpc_call *kumo__rpc_list_pop(struct kumo__rpc_call_list *l)
{
    struct kumo__rpc_call *call = l->head;
    if (call)
        kumo__rpc_list_remove(l, call);
    return call;
}

/* ---- call lifetime ---- */

static void call_free(struct kumo__rpc_call *call)
{
    kumo_free(call->path);
    kumo_free(call->request_id);
    kumo_free(call->authorization);
    kumo_free(call->traceparent);
    kumo_free(call->tracestate);
    for (size_t i = 0; i < 2 * call->n_md; i++)
        kumo_free(call->md[i]);
    kumo_free(call->md);
    kumo_buf_free(&call->body);
    kumo_buf_free(&call->grpc_message);
    kumo_buf_free(&call->resp);
    kumo_free(call->message);
    pthread_cond_destroy(&call->cond);
    kumo_free(call);
}

/* Drops one reference under the lock; frees outside it. */
static void call_unref(struct kumo__rpc_call *call)
{
    struct kumo_rpc_client *c = call->client;
    pthread_mutex_lock(&c->mu);
    int left = --call->refs;
    pthread_mutex_unlock(&c->mu);
    if (left == 0)
        call_free(call);
}

static void finish_async(struct kumo__rpc_call *call);

void kumo__rpc_call_complete(struct kumo__rpc_call *call, kumo_code code, char *message)
{
    struct kumo_rpc_client *c = call->client;
    int fire = 0;
    pthread_mutex_lock(&c->mu);
    if (!call->done) {
        call->done = 1;
        call->code = code;
        call->message = message;
        message = NULL;
        if (call->done_fn)
            fire = 1;
        else
            pthread_cond_signal(&call->cond);
    }
    pthread_mutex_unlock(&c->mu);
    kumo_free(message);
    if (fire)
        finish_async(call);
}

void kumo__rpc_call_completef(struct kumo__rpc_call *call, kumo_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = kumo_vstrdupf(fmt, ap);
    va_end(ap);
    kumo__rpc_call_complete(call, code, message);
}

void kumo__rpc_call_io_release(struct kumo__rpc_call *call)
{
    if (call->timer) {
        event_free(call->timer);
        call->timer = NULL;
    }
    kumo_envelope_reader_free(&call->reader);
    call->conn = NULL;
    call_unref(call);
}

void kumo__rpc_stat_inc(struct kumo_rpc_client *c, uint64_t *counter)
{
    pthread_mutex_lock(&c->mu);
    (*counter)++;
    pthread_mutex_unlock(&c->mu);
}

/* ---- status helpers ---- */

void kumo_rpc_status_clear(struct kumo_rpc_status *s)
{
    if (s == NULL)
        return;
    kumo_free(s->message);
    s->message = NULL;
    s->code = KUMO_CODE_OK;
}

static kumo_code set_status(struct kumo_rpc_status *st, kumo_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static kumo_code set_status(struct kumo_rpc_status *st, kumo_code code, const char *fmt, ...)
{
    if (st == NULL)
        return code;
    struct kumo_buf b = KUMO_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kumo_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    kumo_free(st->message);
    st->code = code;
    st->message = kumo_buf_steal(&b, NULL);
    return code;
}

/* ---- configuration ---- */

static int valid_port(const char *s)
{
    if (*s == '\0' || strlen(s) > 5)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    long v = strtol(s, NULL, 10);
    return v >= 1 && v <= 65535;
}

static int valid_host_char(char ch, int bracketed)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    if (ch == '.' || ch == '-' || ch == '_')
        return 1;
    return bracketed && (ch == ':' || ch == '%');
}

/* Splits "host:port" / "[v6]:port" into malloc'd parts. */
static int parse_target(const char *target, char **host, char **port)
{
    const char *h, *h_end, *p;
    int bracketed = target[0] == '[';
    if (bracketed) {
        h = target + 1;
        h_end = strchr(h, ']');
        if (h_end == NULL || h_end[1] != ':')
            return KUMO_ERR_INVALID;
        p = h_end + 2;
    } else {
        h = target;
        h_end = strrchr(target, ':');
        if (h_end == NULL || memchr(target, ':', (size_t)(h_end - target)) != NULL)
            return KUMO_ERR_INVALID; /* no port, or an IPv6 address without brackets */
        p = h_end + 1;
    }
    if (h_end == h || (size_t)(h_end - h) > 253 || !valid_port(p))
        return KUMO_ERR_INVALID;
    for (const char *q = h; q < h_end; q++)
        if (!valid_host_char(*q, bracketed))
            return KUMO_ERR_INVALID;
    *host = kumo_strndup(h, (size_t)(h_end - h));
    *port = kumo_strdup(p);
    return 0;
}

/* Fills c->addr when the host is a numeric IPv4/IPv6 address. */
static void resolve_numeric(struct kumo_rpc_client *c)
{
    uint16_t port = (uint16_t)strtol(c->port, NULL, 10);
    struct sockaddr_in *sin = (struct sockaddr_in *)&c->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->addr;
    memset(&c->addr, 0, sizeof c->addr);
    if (inet_pton(AF_INET, c->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        c->addr_len = sizeof *sin;
    } else if (inet_pton(AF_INET6, c->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        c->addr_len = sizeof *sin6;
    } else {
        c->addr_len = 0;
    }
}

static int is_ip_literal(const char *s)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static int tls_context_new(struct kumo_rpc_client *c, const char *ca_file)
{
    static const unsigned char alpn[] = {2, 'h', '2'};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return KUMO_ERR_IO;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    /* SSL_CTX_set_alpn_protos returns 0 on success, unlike the rest. */
    if (ok != 1 || SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn) != 0) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return KUMO_ERR_IO;
    }
    c->ssl_ctx = ctx;
    return 0;
}

static void client_destroy(struct kumo_rpc_client *c)
{
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    pthread_cond_destroy(&c->idle);
    pthread_condattr_destroy(&c->cond_attr);
    pthread_mutex_destroy(&c->mu);
    kumo_free(c->target);
    kumo_free(c->host);
    kumo_free(c->port);
    kumo_free(c->verify_name);
    kumo_free(c);
}

static int config_valid(const struct kumo_rpc_client_config *cfg)
{
    if (cfg == NULL || cfg->target == NULL || cfg->connect_timeout_ms < 0)
        return 0;
    if (cfg->max_message_size > UINT32_MAX)
        return 0; /* the envelope length is 32 bits */
    if (cfg->server_name && (cfg->server_name[0] == '\0' || strlen(cfg->server_name) > 253))
        return 0;
    return 1;
}

int kumo_rpc_client_new(struct kumo_rpc_client **out, const struct kumo_rpc_client_config *cfg)
{
    char *host = NULL, *port = NULL;
    if (out == NULL || !config_valid(cfg) || parse_target(cfg->target, &host, &port) != 0)
        return KUMO_ERR_INVALID;

    struct kumo_rpc_client *c = kumo_calloc(1, sizeof *c);
    c->target = kumo_strdup(cfg->target);
    c->host = host;
    c->port = port;
    c->tls = cfg->tls != 0;
    c->verify_name = kumo_strdup(cfg->server_name ? cfg->server_name : host);
    c->verify_name_is_ip = is_ip_literal(c->verify_name);
    c->max_message_size = cfg->max_message_size ? cfg->max_message_size : DEFAULT_MAX_MESSAGE;
    c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c->no_compression = cfg->no_compression;
    resolve_numeric(c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&c->cond_attr);
    pthread_condattr_setclock(&c->cond_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->idle, NULL);

    int rc = c->tls ? tls_context_new(c, cfg->ca_file) : 0;
    if (rc == 0)
        rc = kumo__rpc_io_start(c);
    if (rc != 0) {
        client_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

void kumo_rpc_client_get_stats(struct kumo_rpc_client *c, struct kumo_rpc_client_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

void kumo_rpc_client_free(struct kumo_rpc_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    pthread_mutex_unlock(&c->mu);
    kumo__rpc_io_stop(c);
    /* The I/O thread failed every call before exiting; wait until their
     * callers have left, since they still touch c->mu. */
    pthread_mutex_lock(&c->mu);
    while (c->n_callers > 0)
        pthread_cond_wait(&c->idle, &c->mu);
    pthread_mutex_unlock(&c->mu);
    client_destroy(c);
}

/* ---- building a call ---- */

static int valid_path(const char *path)
{
    if (path[0] != '/' || strlen(path) > 1024)
        return 0;
    for (const char *p = path; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

/* A header value: at most MAX_METADATA_VALUE bytes of printable ASCII
 * (checked eight bytes at a time: the ~300-byte authorization goes through
 * here on every call). */
static int valid_value(const char *v)
{
    size_t len = strnlen(v, MAX_METADATA_VALUE + 1);
    return len <= MAX_METADATA_VALUE && kumo_ascii_printable(v, len);
}

/* Headers the client sets itself or that HTTP/2 forbids (RFC 9113 8.2.2). */
static int reserved_name(const char *n)
{
    static const char *const reserved[] = {
        "content-type",     "te",
        "user-agent",       "host",
        "connection",       "keep-alive",
        "upgrade",          "transfer-encoding",
        "proxy-connection", "content-length",
    };
    if (strncmp(n, "grpc-", 5) == 0)
        return 1;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(n, reserved[i]) == 0)
            return 1;
    return 0;
}

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > MAX_METADATA_NAME_LEN || reserved_name(n))
        return 0;
    for (const char *p = n; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              ch == '.'))
            return 0;
    }
    return 1;
}

/* Returns NULL when the options are acceptable, else what is wrong. */
static const char *check_options(const struct kumo_rpc_call_options *o)
{
    if (o->request_id && !valid_value(o->request_id))
        return "invalid x-request-id value";
    if (o->authorization && !valid_value(o->authorization))
        return "invalid authorization value";
    if (o->n_metadata && o->metadata == NULL)
        return "metadata is NULL";
    for (size_t i = 0; i < o->n_metadata; i++) {
        const struct kumo_rpc_metadata *m = &o->metadata[i];
        if (m->name == NULL || !valid_name(m->name))
            return "invalid or reserved metadata name";
        if (m->value == NULL || !valid_value(m->value))
            return "invalid metadata value";
    }
    return NULL;
}

/* The span making the call is the parent of the callee's span: copied now,
 * on the caller's thread, because the thread-local current span is not
 * visible from the client's I/O thread that sends the headers. */
static void set_trace(struct kumo__rpc_call *call, const struct kumo_trace *t)
{
    if (t == NULL || t->trace_id[0] == '\0')
        return;
    char tp[KUMO_TRACE_PARENT_LEN + 1];
    kumo_trace_format(t, tp, sizeof tp);
    call->traceparent = kumo_strdup(tp);
    if (t->tracestate[0] && valid_value(t->tracestate))
        call->tracestate = kumo_strdup(t->tracestate);
}

static struct kumo__rpc_call *call_new(struct kumo_rpc_client *c, const char *path,
                                       const struct kumo_rpc_call_options *o)
{
    struct kumo__rpc_call *call = kumo_calloc(1, sizeof *call);
    call->client = c;
    call->path = kumo_strdup(path);
    call->deadline = o->deadline;
    call->request_id = o->request_id ? kumo_strdup(o->request_id) : NULL;
    call->authorization = o->authorization ? kumo_strdup(o->authorization) : NULL;
    set_trace(call, o->trace ? o->trace : kumo_trace_current());
    call->n_md = o->n_metadata;
    call->md = kumo_calloc(2 * o->n_metadata + 1, sizeof(char *));
    for (size_t i = 0; i < o->n_metadata; i++) {
        call->md[2 * i] = kumo_strdup(o->metadata[i].name);
        call->md[2 * i + 1] = kumo_strdup(o->metadata[i].value);
    }
    pthread_cond_init(&call->cond, &c->cond_attr);
    call->refs = 2;
    kumo_envelope_reader_init(&call->reader, c->max_message_size);
    return call;
}

/* Serializes the request straight after its 5-byte envelope header. */
static void pack_body(struct kumo__rpc_call *call, const ProtobufCMessage *request, size_t size)
{
    kumo_buf_reserve(&call->body, KUMO_ENVELOPE_HEADER_LEN + size);
    kumo_envelope_header(call->body.data, 0, size);
    size_t n = protobuf_c_message_pack(request, call->body.data + KUMO_ENVELOPE_HEADER_LEN);
    call->body.len = KUMO_ENVELOPE_HEADER_LEN + n;
}

/* ---- waiting ---- */

static struct timespec ns_to_timespec(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    return ts;
}

/* Hands the call to the I/O thread. Returns 0, or -1 when the client is
 * closing (the call is then still wholly the caller's). */
static int submit(struct kumo_rpc_client *c, struct kumo__rpc_call *call)
{
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    c->n_callers++;
    c->stats.calls++;
    int was_empty = c->submitted.head == NULL;
    kumo__rpc_list_push(&c->submitted, call);
    /* Under the lock so the wake event cannot be freed meanwhile. */
    if (was_empty)
        event_active(c->wake, EV_READ, 0);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* Waits until the call is settled or its deadline passes; the caller keeps
 * its reference. Called and returns with c->mu held. */
static void wait_done(struct kumo_rpc_client *c, struct kumo__rpc_call *call)
{
    struct timespec ts = ns_to_timespec(call->deadline);
    while (!call->done) {
        if (call->deadline == 0) {
            pthread_cond_wait(&call->cond, &c->mu);
            continue;
        }
        int rc = pthread_cond_timedwait(&call->cond, &c->mu, &ts);
        if (rc == ETIMEDOUT && !call->done) {
            /* The I/O thread's timer fires at the same instant and resets
             * the stream; the caller does not wait for it. */
            call->done = 1;
            call->code = KUMO_CODE_DEADLINE_EXCEEDED;
            call->message = kumo_strdup("deadline exceeded");
        }
    }
}

static kumo_code decode_response(struct kumo__rpc_call *call,
                                 const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
                                 ProtobufCMessage **response, struct kumo_rpc_status *st)
{
    static const uint8_t empty[1];
    const uint8_t *data = call->resp.len ? call->resp.data : empty;
    size_t len = call->resp.len;
    struct kumo_buf plain = KUMO_BUF_INIT;
    kumo_code code = KUMO_CODE_OK;

    if (call->resp_flags & KUMO_ENVELOPE_COMPRESSED) {
        if (call->encoding != KUMO__RPC_ENC_GZIP)
            return set_status(st, KUMO_CODE_INTERNAL,
                              "compressed response without a supported grpc-encoding");
        int rc = kumo_gzip_decompress(data, len, call->client->max_message_size, &plain);
        if (rc == KUMO_ERR_TOO_LARGE)
            code = set_status(st, KUMO_CODE_RESOURCE_EXHAUSTED,
                              "response message larger than %zu bytes after decompression",
                              call->client->max_message_size);
        else if (rc != 0)
            code = set_status(st, KUMO_CODE_INTERNAL, "corrupt gzip response message");
        data = plain.len ? plain.data : empty;
        len = plain.len;
    }
    if (code == KUMO_CODE_OK) {
        *response = protobuf_c_message_unpack(desc, alloc, len, data);
        if (*response == NULL)
            code =
                set_status(st, KUMO_CODE_INTERNAL, "cannot parse the response as %s", desc->name);
    }
    kumo_buf_free(&plain);
    return code;
}

/* Takes the outcome of a settled call into *st (and *response when OK). */
static kumo_code take_result(struct kumo__rpc_call *call, const ProtobufCMessageDescriptor *desc,
                             ProtobufCAllocator *alloc, ProtobufCMessage **response,
                             struct kumo_rpc_status *st)
{
    if (call->code == KUMO_CODE_OK)
        return decode_response(call, desc, alloc, response, st);
    if (st) {
        st->code = call->code;
        st->message = call->message;
        st->retry_after_s = call->retry_after_s;
        call->message = NULL;
    }
    return call->code;
}

static void caller_leave(struct kumo_rpc_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (--c->n_callers == 0 && c->closing)
        pthread_cond_broadcast(&c->idle);
    pthread_mutex_unlock(&c->mu);
}

/* ---- deferred work of the callbacks (kumo_rpc_client_defer) ---- */

/* Per I/O thread: the nodes deferred, and how deep in batches it is. */
static __thread struct kumo_rpc_deferred *deferred;
static __thread int batch_depth;

void kumo_rpc_client_defer(struct kumo_rpc_deferred *d)
{
    d->next = deferred;
    deferred = d;
}

static void run_deferred(void)
{
    while (deferred) {
        struct kumo_rpc_deferred *d = deferred;
        deferred = d->next;
        d->next = NULL;
        d->fn(d->arg);
    }
}

void kumo__rpc_batch_begin(void)
{
    batch_depth++;
}

void kumo__rpc_batch_end(void)
{
    if (--batch_depth == 0)
        run_deferred();
}

/* An asynchronous call is settled (on the I/O thread): its outcome to the
 * callback, then the caller's part of the call goes as in
 * kumo_rpc_client_call's return. */
static void finish_async(struct kumo__rpc_call *call)
{
    struct kumo_rpc_client *c = call->client;
    struct kumo_rpc_status st = {KUMO_CODE_OK, NULL, 0};
    ProtobufCMessage *response = NULL;
    kumo_code code = take_result(call, call->resp_desc, call->resp_alloc, &response, &st);
    st.code = code;
    call->done_fn(call->done_arg, code, response, &st);
    call_unref(call);
    caller_leave(c);
    if (batch_depth == 0)
        run_deferred(); /* answered alone (deadline, failure): at once */
}

/* The checks shared by both kinds of call. Returns KUMO_CODE_OK with the
 * packed size in *size, or the refusal (status set). */
static kumo_code check_call(struct kumo_rpc_client *c, const char *path,
                            const ProtobufCMessage *request,
                            const ProtobufCMessageDescriptor *response_desc, int have_out,
                            const struct kumo_rpc_call_options *o, size_t *size,
                            struct kumo_rpc_status *status)
{
    const char *bad;
    if (status) {
        status->code = KUMO_CODE_OK;
        status->message = NULL;
        status->retry_after_s = 0;
    }
    if (c == NULL || path == NULL || request == NULL || response_desc == NULL || !have_out)
        return set_status(status, KUMO_CODE_INVALID_ARGUMENT, "missing argument");
    if (!valid_path(path))
        return set_status(status, KUMO_CODE_INVALID_ARGUMENT, "invalid path");
    if ((bad = check_options(o)) != NULL)
        return set_status(status, KUMO_CODE_INVALID_ARGUMENT, "%s", bad);
    if (o->deadline != 0 && o->deadline <= kumo_now_ns())
        return set_status(status, KUMO_CODE_DEADLINE_EXCEEDED, "deadline exceeded before the call");
    *size = protobuf_c_message_get_packed_size(request);
    if (*size > c->max_message_size)
        return set_status(status, KUMO_CODE_RESOURCE_EXHAUSTED,
                          "request message of %zu bytes is larger than the limit of %zu", *size,
                          c->max_message_size);
    return KUMO_CODE_OK;
}

kumo_code kumo_rpc_client_call_async(struct kumo_rpc_client *c, const char *path,
                                     const ProtobufCMessage *request,
                                     const ProtobufCMessageDescriptor *response_desc,
                                     ProtobufCAllocator *alloc,
                                     const struct kumo_rpc_call_options *opts,
                                     kumo_rpc_done_fn done, void *arg,
                                     struct kumo_rpc_status *status)
{
    static const struct kumo_rpc_call_options no_opts;
    const struct kumo_rpc_call_options *o = opts ? opts : &no_opts;
    size_t size = 0;
    kumo_code code = check_call(c, path, request, response_desc, done != NULL, o, &size, status);
    if (code != KUMO_CODE_OK)
        return code;
    struct kumo__rpc_call *call = call_new(c, path, o);
    call->done_fn = done;
    call->done_arg = arg;
    call->resp_desc = response_desc;
    call->resp_alloc = alloc;
    pack_body(call, request, size);
    if (submit(c, call) != 0) {
        kumo_envelope_reader_free(&call->reader);
        call_free(call);
        return set_status(status, KUMO_CODE_UNAVAILABLE, "client closed");
    }
    return KUMO_CODE_OK;
}

kumo_code kumo_rpc_client_call(struct kumo_rpc_client *c, const char *path,
                               const ProtobufCMessage *request,
                               const ProtobufCMessageDescriptor *response_desc,
                               ProtobufCAllocator *alloc, const struct kumo_rpc_call_options *opts,
                               ProtobufCMessage **response, struct kumo_rpc_status *status)
{
    static const struct kumo_rpc_call_options no_opts;
    const struct kumo_rpc_call_options *o = opts ? opts : &no_opts;
    if (response)
        *response = NULL;
    size_t size = 0;
    kumo_code rc = check_call(c, path, request, response_desc, response != NULL, o, &size, status);
    if (rc != KUMO_CODE_OK)
        return rc;

    struct kumo__rpc_call *call = call_new(c, path, o);
    pack_body(call, request, size);
    if (submit(c, call) != 0) {
        kumo_envelope_reader_free(&call->reader);
        call_free(call);
        return set_status(status, KUMO_CODE_UNAVAILABLE, "client closed");
    }

    pthread_mutex_lock(&c->mu);
    wait_done(c, call);
    pthread_mutex_unlock(&c->mu);
    /* The I/O thread writes nothing the caller reads once `done` is set. */
    kumo_code code = take_result(call, response_desc, alloc, response, status);
    call_unref(call);
    caller_leave(c);
    return code;
}

struct event_base *kumo_rpc_client_event_base(struct kumo_rpc_client *c)
{
    return c->base;
}
