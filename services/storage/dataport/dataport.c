/* The data port: an S3-compatible HTTP/1.1 endpoint on GNU libmicrohttpd.
 *
 * Threads: one per connection (MHD_USE_THREAD_PER_CONNECTION), bounded by
 * KUMO_STORAGE_DATA_MAX_CONNECTIONS (runtime/connlimit.h: a quarter of it
 * per client address; past a limit the connection idle longest is closed
 * first, so idle sockets cannot lock other clients out), so the blocking disk work of a request
 * (writes, fsync, assembling a multipart object) delays only its own
 * connection. Memory per connection is bounded by MHD's pool
 * (KUMO_STORAGE_DATA_CONNECTION_MEMORY: request line and headers must fit,
 * bodies pass through it in pieces), so a body of any size streams to disk.
 *
 * A request's life: MHD hands the raw request target to on_uri (kept per
 * connection: SigV4 needs the path exactly as sent, which MHD would
 * otherwise unescape); the first call of on_request authenticates it
 * (SigV4: presigned query or Authorization header, via common/sigv4) and
 * routes it; body pieces go to the operation (s3ops.c); the last call
 * verifies the body and answers; on_completed logs and cleans up (a
 * temporary file of an unfinished upload is removed). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <unistd.h>

#include "base/alloc.h"
#include "dataport.h"
#include "http/mhd.h"
#include "runtime/connlimit.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "base/pctenc.h"
#include "rpc/rpc.h"
#include "base/secret.h"

#define MAX_HEADERS      KUMO_SIGV4_MAX_HEADERS
#define MAX_HEADER_BYTES (16 * 1024)
#define MAX_PARAMS       64
#define THREAD_STACK     (512 * 1024)
#define DRAIN_POLL_MS    20
#define CORS_METHODS     "GET, PUT, POST, DELETE, HEAD"
#define CORS_EXPOSE                                                                                \
    "ETag, Content-Length, Content-Range, Content-Type, Last-Modified, x-amz-request-id, "         \
    "x-amz-storage-class, x-amz-restore, x-amz-checksum-sha256, x-amz-checksum-crc32, "            \
    "x-amz-checksum-crc32c, x-amz-checksum-crc64nvme, x-amz-checksum-sha1, x-amz-checksum-type"
#define MAX_CORS_HDR_LEN 4096

struct stg_dataport {
    struct stg_ctx *ctx;
    struct MHD_Daemon *d;
    int port;
    atomic_long inflight;
    struct kumo_connlimit *limit;
    atomic_int draining; /* SIGTERM: Connection: close, idle ones closed */
};

/* Per connection: the raw target of the request being read. */
struct dp_conn {
    char *uri;
    struct kumo_connlimit_slot *slot;
};

/* ---- small helpers ---- */

const char *stg__dp_header(struct dp_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const struct dp_param *stg__dp_param(const struct dp_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_params; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return &r->params[i];
    return NULL;
}

static void add_common_headers(struct dp_req *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "x-amz-request-id", r->rid);
    MHD_add_response_header(resp, "Server", "kumo-storage");
    /* Every answer, errors included: no browser guesses a type here. */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
}

enum MHD_Result stg__dp_queue(struct dp_req *r, unsigned status, struct MHD_Response *resp)
{
    if (resp == NULL)
        return MHD_NO;
    add_common_headers(r, resp);
    r->status = status;
    r->responded = 1;
    if (atomic_load(&r->ctx->dp->draining))
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result stg__dp_xml(struct dp_req *r, unsigned status, const struct kumo_buf *xml)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(xml->len, xml->data, MHD_RESPMEM_MUST_COPY);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", "application/xml");
    r->bytes_out += (int64_t)xml->len;
    return stg__dp_queue(r, status, resp);
}

enum MHD_Result stg__dp_empty(struct dp_req *r, unsigned status, const char *etag)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (resp && etag)
        MHD_add_response_header(resp, "ETag", etag);
    return stg__dp_queue(r, status, resp);
}

static enum MHD_Result error_raw(struct dp_req *r, unsigned status, const char *code,
                                 const char *message, const char *extra)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    if (strcmp(r->method, "HEAD") != 0) {
        kumo_buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        kumo_buf_append_str(&b, code);
        kumo_buf_append_str(&b, "</Code><Message>");
        stg_xml_escape(&b, message, strlen(message));
        kumo_buf_append_str(&b, "</Message>");
        if (r->key[0]) {
            kumo_buf_append_str(&b, "<Key>");
            stg_xml_escape(&b, r->key, strlen(r->key));
            kumo_buf_append_str(&b, "</Key>");
        }
        if (extra)
            kumo_buf_append_str(&b, extra);
        kumo_buf_appendf(&b, "<RequestId>%s</RequestId></Error>", r->rid);
    }
    enum MHD_Result rc = stg__dp_xml(r, status, &b);
    kumo_buf_free(&b);
    return rc;
}

enum MHD_Result stg__dp_error(struct dp_req *r, enum stg_err e, const char *why, const char *extra)
{
    return error_raw(r, (unsigned)stg_err_http_status(e), stg_err_s3_code(e),
                     why ? why : stg_err_message(e), extra);
}

/* ---- parsing the request target ---- */

long stg__dp_decode_path(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = kumo_hex_digit((unsigned char)in[i + 1]),
                lo = kumo_hex_digit((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return -2;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

static void free_params(struct dp_req *r)
{
    for (size_t i = 0; i < r->n_params; i++) {
        kumo_free(r->params[i].name);
        kumo_free(r->params[i].value);
    }
    kumo_free(r->params);
    r->params = NULL;
    r->n_params = 0;
}

static int parse_params(struct dp_req *r)
{
    const char *p = r->query, *end = r->query + r->query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            if (r->n_params == MAX_PARAMS)
                return -1;
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            struct kumo_buf n = KUMO_BUF_INIT, v = KUMO_BUF_INIT;
            int rc = kumo_url_query_decode(p, (size_t)((eq ? eq : stop) - p), &n);
            if (rc == 0 && eq)
                rc = kumo_url_query_decode(eq + 1, (size_t)(stop - eq - 1), &v);
            kumo_buf_append_str(&n, "");
            kumo_buf_append_str(&v, "");
            r->params = kumo_realloc(r->params, (r->n_params + 1) * sizeof *r->params);
            r->params[r->n_params].name = kumo_buf_steal(&n, NULL);
            r->params[r->n_params].value = kumo_buf_steal(&v, NULL);
            r->n_params++;
            if (rc != 0)
                return -1;
        }
        p = stop + 1;
    }
    return 0;
}

/* Splits the target; checks the bucket; decodes the key. Answers on error. */
static enum MHD_Result parse_target(struct dp_req *r, int *ok)
{
    *ok = 0;
    char *q = strchr(r->uri, '?');
    r->path_len = q ? (size_t)(q - r->uri) : strlen(r->uri);
    r->query = q ? q + 1 : "";
    r->query_len = strlen(r->query);
    if (r->path_len == 0 || r->uri[0] != '/')
        return error_raw(r, 400, "InvalidURI", "Couldn't parse the specified URI.", NULL);
    if (parse_params(r) != 0)
        return error_raw(r, 400, "InvalidURI", "Couldn't parse the specified URI.", NULL);
    const char *bucket = r->uri + 1;
    const char *slash = memchr(bucket, '/', r->path_len - 1);
    size_t blen = slash ? (size_t)(slash - bucket) : r->path_len - 1;
    int bucket_level = slash == NULL || (size_t)(slash + 1 - r->uri) == r->path_len;
    if (blen == 0)
        return error_raw(r, 501, "NotImplemented",
                         "Only object operations and ListObjectsV2 are implemented on this "
                         "endpoint.",
                         NULL);
    if (blen != strlen(r->ctx->s.bucket) || memcmp(bucket, r->ctx->s.bucket, blen) != 0)
        return error_raw(r, 404, "NoSuchBucket", "The specified bucket does not exist", NULL);
    if (bucket_level) {
        /* The bucket itself: only ListObjectsV2 (GET ?list-type=2). */
        const struct dp_param *lt = stg__dp_param(r, "list-type");
        if (strcmp(r->method, "GET") != 0 || lt == NULL || strcmp(lt->value, "2") != 0)
            return error_raw(r, 501, "NotImplemented",
                             "Only object operations and ListObjectsV2 are implemented on this "
                             "endpoint.",
                             NULL);
        r->op = DP_OP_LIST_OBJECTS;
        *ok = 1;
        return MHD_YES;
    }
    const char *k = slash + 1;
    long n = stg__dp_decode_path(k, r->path_len - (size_t)(k - r->uri), r->key, sizeof r->key);
    if (n == -2) {
        r->key[0] = '\0';
        return stg__dp_error(r, STG_E_KEY_TOO_LONG, NULL, NULL);
    }
    if (n < 0) {
        r->key[0] = '\0';
        return error_raw(r, 400, "InvalidURI", "Couldn't parse the specified URI.", NULL);
    }
    if ((size_t)n != strlen(r->key)) {
        r->key[0] = '\0'; /* a %00 in the key */
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT, "The key must not contain NUL.", NULL);
    }
    *ok = 1;
    return MHD_YES;
}

/* ---- SigV4 ---- */

struct hdr_list {
    struct kumo_sigv4_kv kv[MAX_HEADERS];
    size_t n;
    size_t bytes;
    int overflow;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct hdr_list *l = cls;
    l->bytes += key_size + value_size;
    if (l->n == MAX_HEADERS || l->bytes > MAX_HEADER_BYTES) {
        l->overflow = 1;
        return MHD_NO;
    }
    l->kv[l->n++] = (struct kumo_sigv4_kv){key, key_size, value ? value : "", value_size};
    return MHD_YES;
}

static const struct kumo_aws_credentials *lookup_key(void *ctx, const char *akid)
{
    const struct stg_ctx *c = ctx;
    return strcmp(akid, c->creds.access_key_id) == 0 ? &c->creds : NULL;
}

static void sig_extra(struct kumo_buf *x, const struct kumo_sigv4_verify_result *res)
{
    if (res->reason != KUMO_SIGV4_SIGNATURE_MISMATCH)
        return;
    const char *fields[][2] = {{"AWSAccessKeyId", res->access_key_id},
                               {"StringToSign", res->string_to_sign},
                               {"SignatureProvided", res->signature_provided},
                               {"CanonicalRequest", res->canonical_request}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i][1] == NULL)
            continue;
        kumo_buf_appendf(x, "<%s>", fields[i][0]);
        stg_xml_escape(x, fields[i][1], strlen(fields[i][1]));
        kumo_buf_appendf(x, "</%s>", fields[i][0]);
    }
}

/* Records an aws-chunked payload mode (x-amz-content-sha256 STREAMING-*)
 * and what verifying its chunk signatures needs. Returns 0 for a mode the
 * data port does not speak (SigV4a). */
static int streaming_mode(struct dp_req *r, const char *ph,
                          const struct kumo_sigv4_verify_result *res)
{
    struct stg_chunked_cfg *cfg = &r->chunk_cfg;
    memset(cfg, 0, sizeof *cfg);
    if (strcmp(ph, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0) {
        cfg->trailer = 1;
    } else if (strcmp(ph, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") == 0 ||
               strcmp(ph, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") == 0) {
        cfg->signed_chunks = 1;
        cfg->trailer = strstr(ph, "-TRAILER") != NULL;
        /* A presigned URL has no seed signature to chain from. */
        if (res->query_auth || res->scope == NULL || strlen(res->scope) >= sizeof cfg->scope ||
            kumo_sigv4_format_date(res->request_time, cfg->date) != 0)
            return 0;
        memcpy(cfg->key, res->signing_key, sizeof cfg->key);
        memcpy(cfg->seed, res->signature, sizeof cfg->seed);
        memcpy(cfg->scope, res->scope, strlen(res->scope) + 1);
    } else {
        return 0;
    }
    r->streaming = 1;
    return 1;
}

/* Verifies the request's signature; answers and returns 0 on failure. On
 * success records the declared payload hash. */
static int authenticate(struct dp_req *r, enum MHD_Result *out)
{
    struct hdr_list *l = kumo_calloc(1, sizeof *l);
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, collect_header, l);
    if (l->overflow) {
        kumo_free(l);
        *out = error_raw(r, 400, "RequestHeaderSectionTooLarge",
                         "Your request header section exceeds the maximum allowed size.", NULL);
        return 0;
    }
    struct kumo_sigv4_verifier v = {r->ctx->s.region, "s3", KUMO_SIGV4_S3, lookup_key, r->ctx};
    struct kumo_sigv4_verify_request vr = {r->method, strlen(r->method), r->uri, r->path_len,
                                           r->query,  r->query_len,      l->kv,  l->n,
                                           NULL};
    struct kumo_sigv4_verify_result res;
    memset(&res, 0, sizeof res);
    enum kumo_sigv4_reason why = kumo_sigv4_verify(&v, &vr, time(NULL), &res);
    kumo_free(l);
    if (why != KUMO_SIGV4_OK) {
        int status = 403;
        const char *code = kumo_sigv4_reason_s3_code(why, res.query_auth, &status);
        struct kumo_buf x = KUMO_BUF_INIT;
        sig_extra(&x, &res);
        kumo_log(KUMO_LOG_INFO, r->rid, "data port request refused", "reason",
                 kumo_sigv4_reason_name(why), NULL);
        kumo_metrics_counter_add("kumo_storage_auth_failures_total",
                                 "Data port requests refused by SigV4 verification", 1);
        *out = error_raw(r, (unsigned)status, code, res.message ? res.message : "Access Denied",
                         x.len ? (const char *)x.data : NULL);
        kumo_buf_free(&x);
        kumo_sigv4_verify_result_free(&res);
        return 0;
    }
    /* A download link's lifetime is capped whoever signed it (the same
     * limit as PresignDownload's). */
    if (res.query_auth && (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) &&
        (int64_t)(res.expires_at - res.request_time) > r->ctx->s.download_ttl_max_s) {
        kumo_sigv4_verify_result_free(&res);
        kumo_log(KUMO_LOG_INFO, r->rid, "data port request refused", "reason",
                 "download URL lifetime over KUMO_STORAGE_DOWNLOAD_TTL_MAX", NULL);
        *out = error_raw(r, 403, "AccessDenied",
                         "Presigned download URLs may not be valid longer than the configured "
                         "maximum.",
                         NULL);
        return 0;
    }
    const char *ph = res.payload_hash ? res.payload_hash : KUMO_SIGV4_UNSIGNED_PAYLOAD;
    int ok = 1;
    if (strlen(ph) == 64) {
        r->has_content_sha256 = 1;
        memcpy(r->content_sha256, ph, 65);
    } else if (strcmp(ph, KUMO_SIGV4_UNSIGNED_PAYLOAD) != 0 && !streaming_mode(r, ph, &res)) {
        *out = error_raw(r, 501, "NotImplemented",
                         "ECDSA-signed (SigV4a) aws-chunked payloads are not supported.", NULL);
        ok = 0;
    }
    kumo_sigv4_verify_result_free(&res);
    return ok;
}

/* ---- routing ---- */

static const char *const unsupported_subresources[] = {
    "acl",        "tagging",   "legal-hold",   "retention", "select", "torrent",
    "attributes", "versionId", "versioning",   "lifecycle", "policy", "cors",
    "website",    "location",  "uploads-list", "list-type", "delete",
};

static enum dp_op choose_op(struct dp_req *r, const char **err)
{
    int uploads = stg__dp_param(r, "uploads") != NULL;
    int upload_id = stg__dp_param(r, "uploadId") != NULL;
    int part = stg__dp_param(r, "partNumber") != NULL;
    const char *m = r->method;
    *err = NULL;
    for (size_t i = 0; i < sizeof unsupported_subresources / sizeof unsupported_subresources[0];
         i++)
        if (stg__dp_param(r, unsupported_subresources[i]))
            return DP_OP_NONE;
    if (strcmp(m, "PUT") == 0) {
        if (stg__dp_header(r, "x-amz-copy-source"))
            return upload_id || part ? DP_OP_NONE : DP_OP_COPY_OBJECT; /* no UploadPartCopy */
        if (upload_id != part)
            *err = "UploadPart needs both partNumber and uploadId.";
        return upload_id ? DP_OP_UPLOAD_PART : DP_OP_PUT_OBJECT;
    }
    if (strcmp(m, "GET") == 0)
        return upload_id ? DP_OP_LIST_PARTS : part ? DP_OP_NONE : DP_OP_GET_OBJECT;
    if (strcmp(m, "HEAD") == 0)
        return part ? DP_OP_NONE : DP_OP_HEAD_OBJECT;
    if (strcmp(m, "DELETE") == 0)
        return upload_id ? DP_OP_ABORT_MPU : DP_OP_DELETE_OBJECT;
    if (strcmp(m, "POST") == 0 && stg__dp_param(r, "restore"))
        return upload_id || uploads ? DP_OP_NONE : DP_OP_RESTORE_OBJECT;
    if (strcmp(m, "POST") == 0)
        return uploads ? DP_OP_CREATE_MPU : upload_id ? DP_OP_COMPLETE_MPU : DP_OP_NONE;
    *err = "method";
    return DP_OP_NONE;
}

/* ---- CORS ---- */

/* Returns the configured entry matching `origin` (echoed), or NULL. */
static const char *cors_match(const struct stg_ctx *ctx, const char *origin)
{
    const char *list = ctx->s.cors_origins;
    if (origin == NULL || list == NULL || *list == '\0' || strlen(origin) > 512)
        return NULL;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if ((n == 1 && *p == '*') || (n == olen && memcmp(p, origin, n) == 0))
            return origin;
        p += n;
    }
    return NULL;
}

static int token_list_ok(const char *s)
{
    if (strlen(s) > MAX_CORS_HDR_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("-_, .", *s)))
            return 0;
    return 1;
}

static enum MHD_Result preflight(struct dp_req *r)
{
    r->op = DP_OP_PREFLIGHT;
    const char *origin = stg__dp_header(r, "Origin");
    const char *method = stg__dp_header(r, "Access-Control-Request-Method");
    const char *hdrs = stg__dp_header(r, "Access-Control-Request-Headers");
    if (origin == NULL || method == NULL)
        return error_raw(r, 400, "BadRequest",
                         "Insufficient information. Origin request header needed.", NULL);
    const char *allowed = cors_match(r->ctx, origin);
    int method_ok = strstr(CORS_METHODS, method) != NULL && strlen(method) >= 3 &&
                    strchr(method, ',') == NULL && strchr(method, ' ') == NULL;
    if (allowed == NULL || !method_ok || (hdrs && !token_list_ok(hdrs)))
        return error_raw(r, 403, "AccessForbidden",
                         "CORSResponse: This CORS request is not allowed.", NULL);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    r->origin = allowed;
    char age[24];
    snprintf(age, sizeof age, "%lld", (long long)r->ctx->s.cors_max_age_s);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", CORS_METHODS);
    if (hdrs && *hdrs)
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", hdrs);
    MHD_add_response_header(resp, "Access-Control-Max-Age", age);
    return stg__dp_queue(r, 200, resp);
}

/* ---- the request life cycle ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct stg_dataport *dp = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct dp_conn *dc = ci ? ci->socket_context : NULL;
    if (dc) {
        kumo_connlimit_set_idle(dp->limit, dc->slot, 0);
        kumo_free(dc->uri);
        dc->uri = kumo_strdup(uri);
    }
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct stg_dataport *dp = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct dp_conn *nc = kumo_calloc(1, sizeof(struct dp_conn));
        *socket_context = nc;
        kumo_metrics_connection_opened();
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (fi && !(nc->slot = kumo_connlimit_admit_addr(dp->limit, ai ? ai->client_addr : NULL,
                                                         fi->connect_fd)))
            shutdown(fi->connect_fd, SHUT_RDWR); /* over a limit: MHD closes it */
        return;
    }
    struct dp_conn *dc = *socket_context;
    if (dc) {
        kumo_connlimit_release(dp->limit, dc->slot);
        kumo_free(dc->uri);
        kumo_free(dc);
        *socket_context = NULL;
    }
    kumo_metrics_connection_closed();
}

static struct dp_req *new_req(struct stg_dataport *dp, struct MHD_Connection *c, const char *method)
{
    struct dp_req *r = kumo_calloc(1, sizeof *r);
    r->ctx = dp->ctx;
    r->conn = c;
    r->method = method;
    r->t0_ns = kumo_now_ns();
    r->content_length = -1;
    stg_meta_init(&r->meta);
    uint8_t raw[8];
    kumo_secret_random_bytes(raw, sizeof raw);
    kumo_hex_encode(raw, sizeof raw, r->rid);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct dp_conn *dc = ci ? ci->socket_context : NULL;
    if (dc && dc->uri) {
        r->uri = dc->uri; /* taken: the next request brings its own */
        dc->uri = NULL;
    } else {
        r->uri = kumo_strdup("");
    }
    atomic_fetch_add(&dp->inflight, 1);
    return r;
}

static enum MHD_Result begin(struct dp_req *r)
{
    enum MHD_Result out;
    int ok;
    if (strcmp(r->method, "OPTIONS") == 0)
        return preflight(r);
    r->origin = cors_match(r->ctx, stg__dp_header(r, "Origin"));
    out = parse_target(r, &ok);
    if (!ok)
        return out;
    if (!authenticate(r, &out))
        return out;
    const char *err = NULL;
    if (r->op != DP_OP_LIST_OBJECTS)
        r->op = choose_op(r, &err);
    if (err && strcmp(err, "method") == 0)
        return error_raw(r, 405, "MethodNotAllowed",
                         "The specified method is not allowed against this resource.", NULL);
    if (err)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT, err, NULL);
    if (r->op == DP_OP_NONE)
        return stg__dp_error(r, STG_E_NOT_IMPLEMENTED, NULL, NULL);
    return stg__dp_begin_op(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)url;
    (void)version;
    struct dp_req *r = *req_cls;
    if (r == NULL) {
        r = new_req(cls, c, method);
        *req_cls = r;
    }
    if (!r->started) {
        r->started = 1;
        return begin(r);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->received += (int64_t)n;
        return stg__dp_body(r, upload_data, n) == 0 ? MHD_YES : MHD_NO;
    }
    if (r->responded)
        return MHD_YES;
    return stg__dp_finish_op(r);
}

static const char *op_name(enum dp_op op)
{
    static const char *const names[] = {
        [DP_OP_NONE] = "none",
        [DP_OP_PUT_OBJECT] = "PutObject",
        [DP_OP_GET_OBJECT] = "GetObject",
        [DP_OP_HEAD_OBJECT] = "HeadObject",
        [DP_OP_DELETE_OBJECT] = "DeleteObject",
        [DP_OP_CREATE_MPU] = "CreateMultipartUpload",
        [DP_OP_UPLOAD_PART] = "UploadPart",
        [DP_OP_COMPLETE_MPU] = "CompleteMultipartUpload",
        [DP_OP_ABORT_MPU] = "AbortMultipartUpload",
        [DP_OP_LIST_PARTS] = "ListParts",
        [DP_OP_COPY_OBJECT] = "CopyObject",
        [DP_OP_RESTORE_OBJECT] = "RestoreObject",
        [DP_OP_PREFLIGHT] = "Preflight",
        [DP_OP_LIST_OBJECTS] = "ListObjectsV2",
    };
    return names[op];
}

static void log_request(struct dp_req *r, enum MHD_RequestTerminationCode toe)
{
    char status[16], ms[32], in[32];
    snprintf(status, sizeof status, "%u", r->status);
    snprintf(ms, sizeof ms, "%.3f", (double)(kumo_now_ns() - r->t0_ns) / 1e6);
    snprintf(in, sizeof in, "%lld", (long long)r->received);
    kumo_log(toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? KUMO_LOG_INFO : KUMO_LOG_WARN, r->rid,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "data request"
                                                        : "data request ended early",
             "method", r->method, "op", op_name(r->op), "status", status, "key", r->key, "bytes_in",
             in, "ms", ms, NULL);
    kumo_metrics_counter_add("kumo_storage_data_requests_total", "Data port requests", 1);
    if (r->status >= 400 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        kumo_metrics_counter_add("kumo_storage_data_errors_total",
                                 "Data port requests answered with an error or cut short", 1);
    kumo_metrics_counter_add("kumo_storage_data_bytes_in_total", "Body bytes received",
                             (uint64_t)r->received);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct stg_dataport *dp = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context)
        kumo_connlimit_set_idle(dp->limit, ((struct dp_conn *)ci->socket_context)->slot, 1);
    struct dp_req *r = *req_cls;
    if (r == NULL)
        return;
    log_request(r, toe);
    stg__dp_op_cleanup(r);
    free_params(r);
    stg_meta_clear(&r->meta);
    kumo_free(r->uri);
    kumo_free(r);
    *req_cls = NULL;
    atomic_fetch_sub(&dp->inflight, 1);
}

/* ---- start and stop ---- */

int stg_dataport_start(struct stg_ctx *ctx)
{
    const struct stg_settings *s = &ctx->s;
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    socklen_t sl;
    if (kumo_http_listen_addr(s->data_addr, s->data_port, &ss, &sl) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "error",
                 "KUMO_STORAGE_DATA_ADDR must be a numeric IP address", NULL);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct stg_dataport *dp = kumo_calloc(1, sizeof *dp);
    dp->ctx = ctx;
    kumo_connlimit_new(&dp->limit, s->data_max_connections, s->data_max_connections / 4);
    dp->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, dp, MHD_OPTION_EXTERNAL_LOGGER, kumo_mhd_log,
        (void *)(intptr_t)KUMO_LOG_WARN, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        /* headroom: connlimit evicts idle ones to let new ones in */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->data_max_connections + 16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->data_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)s->data_connection_memory,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK, MHD_OPTION_URI_LOG_CALLBACK, on_uri, dp,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, dp, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        dp, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
    if (dp->d == NULL) {
        char port[16];
        snprintf(port, sizeof port, "%d", s->data_port);
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot start the data port", "port", port, "error",
                 strerror(errno), NULL);
        kumo_connlimit_free(dp->limit);
        kumo_free(dp);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(dp->d, MHD_DAEMON_INFO_BIND_PORT);
    dp->port = info ? info->port : s->data_port;
    ctx->dp = dp;
    return 0;
}

int stg_dataport_port(const struct stg_dataport *dp)
{
    return dp->port;
}

/* During the drain a keep-alive connection idle this long is closed (the
 * grace spares a client sending its next request right now: it gets it
 * answered with Connection: close instead). */
#define DRAIN_IDLE_GRACE_NS (100LL * 1000000)

void stg_dataport_quiesce(struct stg_dataport *dp)
{
    if (dp == NULL || atomic_exchange(&dp->draining, 1))
        return;
    MHD_socket lsock = MHD_quiesce_daemon(dp->d);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
}

int stg_dataport_drained(struct stg_dataport *dp)
{
    if (dp == NULL)
        return 1;
    kumo_connlimit_close_idle(dp->limit, DRAIN_IDLE_GRACE_NS);
    return atomic_load(&dp->inflight) == 0 && kumo_connlimit_count(dp->limit, NULL) == 0;
}

void stg_dataport_stop(struct stg_dataport *dp, int64_t deadline)
{
    if (dp == NULL)
        return;
    stg_dataport_quiesce(dp);
    while (!stg_dataport_drained(dp) && kumo_now_ns() < deadline)
        usleep(DRAIN_POLL_MS * 1000);
    MHD_stop_daemon(dp->d);
    kumo_connlimit_free(dp->limit);
    kumo_free(dp);
}
