/* What the server reads from a request's headers when they end: the
 * headers it knows, the content type and so the protocol (Connect, gRPC,
 * gRPC-Web; JSON or binary), the request id, the deadline, the compression
 * both ways, and the caller's credentials. stream.c calls these from its
 * end-of-headers step. */
#include "rpc/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "wire/compress.h"
#include "wire/timeout.h"
#include "base/fastrand.h"

/* Returns the index of a header the server reads, or -1 (called for
 * every request header: the length picks the candidates). */
int kumo__req_known_header(const uint8_t *name, size_t len)
{
#define KH(lit, index)                                                                             \
    if (len == sizeof lit - 1 && memcmp(name, lit, sizeof lit - 1) == 0)                           \
    return index
    switch (len) {
    case 10:
        KH("tracestate", KUMO_KH_TRACESTATE);
        break;
    case 11:
        KH("traceparent", KUMO_KH_TRACEPARENT);
        break;
    case 12:
        KH("content-type", KUMO_KH_CONTENT_TYPE);
        KH("x-request-id", KUMO_KH_REQUEST_ID);
        KH("grpc-timeout", KUMO_KH_GRPC_TIMEOUT);
        break;
    case 13:
        KH("grpc-encoding", KUMO_KH_GRPC_ENCODING);
        KH("authorization", KUMO_KH_AUTHORIZATION);
        break;
    case 15:
        KH("accept-encoding", KUMO_KH_ACCEPT_ENCODING);
        break;
    case 16:
        KH("content-encoding", KUMO_KH_CONTENT_ENCODING);
        break;
    case 18:
        KH("connect-timeout-ms", KUMO_KH_CONNECT_TIMEOUT);
        break;
    case 20:
        KH("grpc-accept-encoding", KUMO_KH_GRPC_ACCEPT_ENCODING);
        break;
    case 23:
        KH("connect-accept-encoding", KUMO_KH_CONNECT_ACCEPT_ENCODING);
        break;
    case 24:
        KH("connect-content-encoding", KUMO_KH_CONNECT_CONTENT_ENCODING);
        break;
    }
#undef KH
    return -1;
}

/* The media type without parameters, lowercased (internal.h). */
const char *kumo__req_media_type(struct kumo_rpc_call *call, const char *ct)
{
    /* What clients send: already lowercase, no parameters. */
    const char *end = ct;
    while ((*end >= 'a' && *end <= 'z') || *end == '/' || *end == '+' || *end == '-')
        end++;
    if (*end == '\0')
        return ct;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    char *s = kumo_arena_strndup(call->arena, ct, n);
    for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return s;
}

/* Returns 0 and sets protocol/json, or -1 for an unsupported type. */
int kumo__req_classify_content_type(struct kumo_rpc_call *call, const char *mt)
{
    static const struct {
        const char *type;
        size_t len;
        enum kumo__rpc_protocol protocol;
        int json;
    } table[] = {
        {"application/proto", 17, KUMO_PROTO_CONNECT, 0},
        {"application/grpc", 16, KUMO_PROTO_GRPC, 0},
        {"application/json", 16, KUMO_PROTO_CONNECT, 1},
        {"application/grpc+proto", 22, KUMO_PROTO_GRPC, 0},
        {"application/grpc+json", 21, KUMO_PROTO_GRPC, 1},
        {"application/grpc-web", 20, KUMO_PROTO_GRPC_WEB, 0},
        {"application/grpc-web+proto", 26, KUMO_PROTO_GRPC_WEB, 0},
        {"application/grpc-web+json", 25, KUMO_PROTO_GRPC_WEB, 1},
        {"application/connect+proto", 25, KUMO_PROTO_CONNECT_STREAM, 0},
        {"application/connect+json", 24, KUMO_PROTO_CONNECT_STREAM, 1},
    };
    size_t len = strlen(mt);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].len == len && memcmp(mt, table[i].type, len) == 0) {
            call->protocol = table[i].protocol;
            call->json = table[i].json;
            return 0;
        }
    }
    return -1;
}

static int list_has_gzip(const char *list)
{
    if (list == NULL)
        return 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",; ");
        if (n == 4 && strncasecmp(p, "gzip", 4) == 0)
            return 1;
        p += n;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

int kumo__req_request_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((struct kumo_rpc_call *)0)->request_id))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

void kumo__req_make_request_id(char *out, size_t outlen)
{
    /* Unique enough for correlation, not a secret. */
    if (outlen >= 33)
        kumo_fastrand_hex(out, 16);
}

int kumo__req_parse_deadline(struct kumo_rpc_call *call)
{
    int64_t ns = 0;
    int rc = 0;
    const char *v;
    if (call->protocol == KUMO_PROTO_CONNECT || call->protocol == KUMO_PROTO_CONNECT_GET ||
        call->protocol == KUMO_PROTO_CONNECT_STREAM) {
        v = call->known[KUMO_KH_CONNECT_TIMEOUT];
        if (v == NULL)
            return 0;
        rc = kumo_connect_timeout_parse(v, strlen(v), &ns);
    } else {
        v = call->known[KUMO_KH_GRPC_TIMEOUT];
        if (v == NULL)
            return 0;
        rc = kumo_grpc_timeout_parse(v, strlen(v), &ns);
    }
    if (rc != 0) {
        kumo__respond_error(call, KUMO_CODE_INVALID_ARGUMENT, "malformed timeout header");
        return -1;
    }
    int64_t now = kumo_now_ns();
    call->deadline = ns > INT64_MAX - now ? INT64_MAX : now + ns;
    if (ns <= 0) {
        kumo__respond_error(call, KUMO_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
        return -1;
    }
    /* Deadlines further than a day away are no deadline in practice. */
    if (ns < (int64_t)86400 * 1000000000) {
        struct timeval tv = {(time_t)(ns / 1000000000), (suseconds_t)((ns % 1000000000) / 1000)};
        call->deadline_ev = evtimer_new(call->io->base, kumo__call_on_deadline, call);
        evtimer_add(call->deadline_ev, &tv);
    }
    return 0;
}

int kumo__req_setup_encodings(struct kumo_rpc_call *call)
{
    int grpc = call->protocol == KUMO_PROTO_GRPC || call->protocol == KUMO_PROTO_GRPC_WEB;
    if (call->protocol == KUMO_PROTO_CONNECT_GET) {
        call->gzip_out = list_has_gzip(call->known[KUMO_KH_ACCEPT_ENCODING]);
        return 0;
    }
    const char *accept_name = grpc ? "grpc-accept-encoding" : "accept-encoding";
    int enc = grpc ? KUMO_KH_GRPC_ENCODING : KUMO_KH_CONTENT_ENCODING;
    int accept = grpc ? KUMO_KH_GRPC_ACCEPT_ENCODING : KUMO_KH_ACCEPT_ENCODING;
    if (call->protocol == KUMO_PROTO_CONNECT_STREAM) {
        accept_name = "connect-accept-encoding";
        enc = KUMO_KH_CONNECT_CONTENT_ENCODING;
        accept = KUMO_KH_CONNECT_ACCEPT_ENCODING;
    }
    call->encoding = call->known[enc];
    call->accept_encoding = call->known[accept];
    if (call->encoding && strcasecmp(call->encoding, "identity") != 0) {
        if (strcasecmp(call->encoding, "gzip") != 0) {
            kumo_rpc_call_set_header(call, accept_name, "gzip,identity");
            kumo__respond_error(call, KUMO_CODE_UNIMPLEMENTED,
                                "unsupported compression (supported: gzip, identity)");
            return -1;
        }
        call->gzip_in = 1;
    }
    call->gzip_out = list_has_gzip(call->accept_encoding);
    return 0;
}

/* Authenticates from the headers alone, before any of the body is read or
 * decoded: an unauthenticated caller of a non-public method learns nothing
 * about its request and costs no decode; the rest of its body is dropped
 * unbuffered, then its stream reset (discard). Returns 0, or -1 after
 * answering. */
int kumo__req_authenticate(struct kumo_rpc_call *call)
{
    const struct kumo_rpc_server *srv = call->io->srv;
    if (srv->auth_fn == NULL || (call->method->entry->flags & KUMO_RPC_PUBLIC))
        return 0;
    kumo_code code =
        srv->auth_fn(srv->auth_ud, call, call->known[KUMO_KH_AUTHORIZATION], &call->principal);
    if (code == KUMO_CODE_OK)
        return 0;
    /* Counted in kumo_rpc_requests_total like a call its handler refused. */
    call->dispatched = 1;
    kumo_metrics_rpc_started();
    kumo__respond_error(call, code, call->error_message ? call->error_message : "unauthenticated");
    return -1;
}
