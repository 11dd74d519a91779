/* The S3 operations of the data port, on the local backend: PutObject,
 * GetObject (Range, conditional ETags, response-* overrides), HeadObject,
 * DeleteObject, the multipart calls and ListObjectsV2.
 *
 * Integrity: a body is streamed to a temporary file (decoded on the way
 * when it is aws-chunked, chunk signatures checked as each chunk ends)
 * while MD5, SHA-256 and the flexible checksum the client chose are
 * computed; only when it is complete are the client's declarations checked
 * (x-amz-content-sha256 when it is a hash, Content-MD5, x-amz-checksum-*
 * from a header or the trailer, x-amz-decoded-content-length) and the
 * object committed. A mismatch answers the S3 error and leaves nothing
 * behind. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "dataport.h"
#include "runtime/log.h"
#include "base/validate.h"

#define XML_HEAD   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS      " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
#define DEFAULT_CT "binary/octet-stream"
#define LIST_MAX   1000

/* ---- small parsers ---- */

static int parse_uint(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int64_t header_length(struct dp_req *r, int *bad)
{
    const char *cl = kumo__dp_header(r, "Content-Length");
    int64_t v = -1;
    *bad = cl && parse_uint(cl, strlen(cl), &v) != 0;
    return cl ? v : -1;
}

static int has_body(struct dp_req *r)
{
    const char *cl = kumo__dp_header(r, "Content-Length");
    return kumo__dp_header(r, "Transfer-Encoding") != NULL || (cl && strcmp(cl, "0") != 0);
}

static void xml_elem(struct kumo_buf *b, const char *name, const char *text)
{
    kumo_buf_appendf(b, "<%s>", name);
    stg_xml_escape(b, text, strlen(text));
    kumo_buf_appendf(b, "</%s>", name);
}

/* ---- what the client declared about the body ---- */

static int decode_b64(const char *s, uint8_t *out, size_t n)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    int ok = kumo_base64_decode(s, strlen(s), &b) == 0 && b.len == n;
    if (ok)
        memcpy(out, b.data, n);
    kumo_buf_free(&b);
    return ok ? 0 : -1;
}

struct ck_scan {
    enum stg_ck_alg alg;
    const char *value;
    int count;
};

static enum MHD_Result scan_ck_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t klen, const char *value, size_t vlen)
{
    (void)kind;
    (void)vlen;
    struct ck_scan *s = cls;
    enum stg_ck_alg a = stg_ck_from_header(key, klen);
    if (a != STG_CK_NONE) {
        s->alg = a;
        s->value = value ? value : "";
        s->count++;
    }
    return MHD_YES;
}

/* The flexible checksum of a body: one x-amz-checksum-<alg> header, or
 * x-amz-trailer naming one (aws-chunked with a trailer), or only
 * x-amz-sdk-checksum-algorithm (computed and stored, nothing to compare).
 * Answers and returns 0 on a problem. */
static int flexible_checksum(struct dp_req *r, enum MHD_Result *out)
{
    struct ck_scan s = {STG_CK_NONE, NULL, 0};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, scan_ck_header, &s);
    /* A presigned URL carries them as (signed) query parameters. */
    for (int a = STG_CK_CRC32; a <= STG_CK_SHA256; a++) {
        const struct dp_param *q = kumo__dp_param(r, stg_ck_header((enum stg_ck_alg)a));
        if (q) {
            s.alg = (enum stg_ck_alg)a;
            s.value = q->value;
            s.count++;
        }
    }
    const char *trailer = kumo__dp_header(r, "x-amz-trailer");
    const char *sdk = kumo__dp_header(r, "x-amz-sdk-checksum-algorithm");
    const struct dp_param *sdk_q = kumo__dp_param(r, "x-amz-sdk-checksum-algorithm");
    if (sdk == NULL && sdk_q)
        sdk = sdk_q->value;
    enum stg_ck_alg sdk_alg = sdk ? stg_ck_parse(sdk, strlen(sdk)) : STG_CK_NONE;
    if (sdk && sdk_alg == STG_CK_NONE) {
        *out = kumo__dp_error(r, STG_E_INVALID_REQUEST,
                              "Value for x-amz-sdk-checksum-algorithm header is invalid.", NULL);
        return 0;
    }
    if (s.count + (trailer != NULL) > 1) {
        *out = kumo__dp_error(r, STG_E_INVALID_REQUEST,
                              "Expecting a single x-amz-checksum- header. Multiple checksum "
                              "Types are not allowed.",
                              NULL);
        return 0;
    }
    if (trailer) {
        size_t tl = strlen(trailer);
        while (tl && trailer[tl - 1] == ' ')
            tl--;
        while (tl && *trailer == ' ')
            trailer++, tl--;
        r->ck_alg = stg_ck_from_header(trailer, tl);
        if (r->ck_alg == STG_CK_NONE || !r->streaming || !r->chunk_cfg.trailer) {
            *out = kumo__dp_error(r, STG_E_INVALID_REQUEST,
                                  "x-amz-trailer must name one x-amz-checksum-* header of an "
                                  "aws-chunked body with a trailer (STREAMING-*-TRAILER).",
                                  NULL);
            return 0;
        }
        r->ck_from_trailer = 1;
    } else if (s.count == 1) {
        r->ck_alg = s.alg;
        if (stg_ck_unb64(s.value, s.alg, r->ck_expect) != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "Value for %s header is invalid.", stg_ck_header(s.alg));
            *out = kumo__dp_error(r, STG_E_INVALID_REQUEST, msg, NULL);
            return 0;
        }
        r->has_ck_expect = 1;
    } else {
        r->ck_alg = sdk_alg;
    }
    if (sdk_alg != STG_CK_NONE && sdk_alg != r->ck_alg) {
        *out =
            kumo__dp_error(r, STG_E_INVALID_REQUEST,
                           "x-amz-sdk-checksum-algorithm does not match the checksum sent.", NULL);
        return 0;
    }
    if (r->streaming && r->chunk_cfg.trailer && !r->ck_from_trailer) {
        *out = kumo__dp_error(r, STG_E_INVALID_REQUEST,
                              "A STREAMING-*-TRAILER body needs x-amz-trailer.", NULL);
        return 0;
    }
    stg_ck_init(&r->ck, r->ck_alg);
    return 1;
}

/* aws-chunked: the decoded length is required and bounded like a body. */
static int streaming_length(struct dp_req *r, int64_t max, enum MHD_Result *out)
{
    const char *enc = kumo__dp_header(r, "Content-Encoding");
    const char *dl = kumo__dp_header(r, "x-amz-decoded-content-length");
    int64_t v = -1;
    if (!r->streaming) {
        if (enc && strstr(enc, "aws-chunked")) {
            *out = kumo__dp_error(r, STG_E_INVALID_REQUEST,
                                  "An aws-chunked body needs x-amz-content-sha256 "
                                  "STREAMING-UNSIGNED-PAYLOAD-TRAILER or "
                                  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER].",
                                  NULL);
            return 0;
        }
        return 1;
    }
    if (dl == NULL) {
        *out = kumo__dp_error(r, STG_E_MISSING_CONTENT_LENGTH,
                              "An aws-chunked body needs x-amz-decoded-content-length.", NULL);
        return 0;
    }
    if (parse_uint(dl, strlen(dl), &v) != 0) {
        *out = kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "x-amz-decoded-content-length is not a number.", NULL);
        return 0;
    }
    if (v > max) {
        char extra[128];
        snprintf(extra, sizeof extra,
                 "<ProposedSize>%lld</ProposedSize><MaxSizeAllowed>%lld</MaxSizeAllowed>",
                 (long long)v, (long long)max);
        *out = kumo__dp_error(r, STG_E_ENTITY_TOO_LARGE, NULL, extra);
        return 0;
    }
    r->decoded_length = v;
    return 1;
}

static enum MHD_Result digests(struct dp_req *r, int *ok)
{
    *ok = 0;
    enum MHD_Result out;
    if (!flexible_checksum(r, &out))
        return out;
    const char *md5 = kumo__dp_header(r, "Content-MD5");
    if (md5 && decode_b64(md5, r->md5, 16) != 0)
        return kumo__dp_error(r, STG_E_INVALID_DIGEST, NULL, NULL);
    r->has_md5 = md5 != NULL;
    *ok = 1;
    return MHD_YES;
}

/* Content-Length of a body that goes to disk: required, bounded. */
static enum MHD_Result body_length(struct dp_req *r, int64_t max, int *ok)
{
    *ok = 0;
    int bad;
    enum MHD_Result out;
    if (!streaming_length(r, max, &out))
        return out;
    int64_t cl = header_length(r, &bad);
    if (bad)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT, "Content-Length is not a number.", NULL);
    if (r->streaming) {
        /* The wire length of an aws-chunked body: the decoded bytes plus
         * framing, whose every piece the decoder bounds. */
        r->content_length = cl;
        *ok = 1;
        return MHD_YES;
    }
    if (cl < 0)
        return kumo__dp_error(r, STG_E_MISSING_CONTENT_LENGTH, NULL, NULL);
    if (cl > max) {
        char extra[128];
        snprintf(extra, sizeof extra,
                 "<ProposedSize>%lld</ProposedSize><MaxSizeAllowed>%lld</MaxSizeAllowed>",
                 (long long)cl, (long long)max);
        return kumo__dp_error(r, STG_E_ENTITY_TOO_LARGE, NULL, extra);
    }
    r->content_length = cl;
    *ok = 1;
    return MHD_YES;
}

/* ---- object settings from headers (PUT, CreateMultipartUpload) ---- */

static const char *const stored_headers[] = {
    "content-disposition", "content-encoding", "cache-control", "content-language", "expires",
};

struct meta_scan {
    struct stg_meta *m;
    size_t user_bytes;
    enum stg_err err;
    const char *why;
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t klen,
                                   const char *value, size_t vlen)
{
    (void)kind;
    struct meta_scan *s = cls;
    int user = klen > 11 && strncasecmp(key, "x-amz-meta-", 11) == 0;
    int keep = user;
    for (size_t i = 0; !keep && i < sizeof stored_headers / sizeof stored_headers[0]; i++)
        keep = strlen(stored_headers[i]) == klen && strncasecmp(key, stored_headers[i], klen) == 0;
    if (!keep)
        return MHD_YES;
    const char *why = NULL;
    if (user)
        s->user_bytes += klen - 11 + vlen;
    if (s->user_bytes > STG_USER_META_MAX || s->m->n_hdrs >= STG_MAX_STORED_HDRS) {
        s->err = STG_E_METADATA_TOO_LARGE;
        return MHD_NO;
    }
    if (vlen > STG_HEADER_VALUE_MAX ||
        kumo_text_check(value ? value : "", vlen, STG_HEADER_VALUE_MAX, STG_HEADER_VALUE_MAX,
                        KUMO_TEXT_ALLOW_EMPTY, &why) != 0) {
        s->err = STG_E_INVALID_ARGUMENT;
        s->why = "A stored header (x-amz-meta-*, Content-Disposition...) is not valid text.";
        return MHD_NO;
    }
    if (klen == 16 && strncasecmp(key, "content-encoding", klen) == 0 && value &&
        strstr(value, "aws-chunked")) {
        /* aws-chunked is how the body travelled, not what it is. */
        struct kumo_buf b = KUMO_BUF_INIT;
        const char *p = value;
        while (*p) {
            size_t n = strcspn(p, ",");
            const char *t = p;
            size_t tn = n;
            while (tn && *t == ' ')
                t++, tn--;
            while (tn && t[tn - 1] == ' ')
                tn--;
            if (tn && !(tn == 11 && strncasecmp(t, "aws-chunked", 11) == 0)) {
                if (b.len)
                    kumo_buf_append_str(&b, ",");
                kumo_buf_append(&b, t, tn);
            }
            p += n + (p[n] == ',');
        }
        if (b.len)
            stg_meta_add_hdr(s->m, key, klen, (const char *)b.data, b.len);
        kumo_buf_free(&b);
        return MHD_YES;
    }
    stg_meta_add_hdr(s->m, key, klen, value ? value : "", vlen);
    return MHD_YES;
}

static enum MHD_Result object_settings(struct dp_req *r, int *ok)
{
    *ok = 0;
    struct stg_meta *m = &r->meta;
    memcpy(m->key, r->key, strlen(r->key) + 1);
    const char *ct = kumo__dp_header(r, "Content-Type");
    if (ct == NULL || *ct == '\0')
        ct = DEFAULT_CT;
    if (!stg_content_type_valid(ct, strlen(ct)))
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "Content-Type must be 1..256 printable ASCII characters.", NULL);
    memcpy(m->content_type, ct, strlen(ct) + 1);
    const char *cls = kumo__dp_header(r, "x-amz-storage-class");
    m->storage_class = cls ? stg_class_parse(cls, strlen(cls)) : STG_CLASS_STANDARD;
    if (m->storage_class == STG_CLASS_UNSPECIFIED)
        return kumo__dp_error(r, STG_E_INVALID_STORAGE_CLASS, NULL, NULL);
    if (r->op == DP_OP_CREATE_MPU) {
        /* The upload's checksum: S3 computes composite checksums for
         * CRC32, CRC32C, SHA1 and SHA256 unless FULL_OBJECT is asked (CRC
         * only), and full-object ones for CRC64NVME. */
        const char *alg = kumo__dp_header(r, "x-amz-checksum-algorithm");
        const char *type = kumo__dp_header(r, "x-amz-checksum-type");
        m->ck_alg = alg ? stg_ck_parse(alg, strlen(alg)) : STG_CK_NONE;
        if (alg && m->ck_alg == STG_CK_NONE)
            return kumo__dp_error(r, STG_E_INVALID_REQUEST,
                                  "Checksum algorithm provided is unsupported. Please try again "
                                  "with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, "
                                  "SHA256]",
                                  NULL);
        m->ck_type = m->ck_alg == STG_CK_CRC64NVME ? STG_CK_FULL_OBJECT : STG_CK_COMPOSITE;
        if (type && strcmp(type, "FULL_OBJECT") == 0 && m->ck_alg != STG_CK_SHA1 &&
            m->ck_alg != STG_CK_SHA256 && m->ck_alg != STG_CK_NONE)
            m->ck_type = STG_CK_FULL_OBJECT;
        else if (type && (strcmp(type, "COMPOSITE") != 0 || m->ck_alg == STG_CK_NONE ||
                          m->ck_alg == STG_CK_CRC64NVME))
            return kumo__dp_error(r, STG_E_INVALID_REQUEST,
                                  "The x-amz-checksum-type is not valid for the algorithm.", NULL);
    }
    struct meta_scan s = {m, 0, STG_OK, NULL};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, scan_header, &s);
    if (s.err != STG_OK)
        return kumo__dp_error(r, s.err, s.why, NULL);
    *ok = 1;
    return MHD_YES;
}

/* ---- begin ---- */

/* Where body bytes (decoded, for aws-chunked) go: the running checksum
 * and the temporary file. */
static int file_sink(void *arg, const uint8_t *p, size_t n)
{
    struct dp_req *r = arg;
    if (r->streaming && stg_chunked_decoded(r->chunked) + (int64_t)n > r->decoded_length) {
        r->body_error = STG_E_INVALID_REQUEST;
        r->body_error_why = "The aws-chunked body holds more than x-amz-decoded-content-length.";
        return -1;
    }
    stg_ck_update(&r->ck, p, n);
    enum stg_err e = stg_writer_write(r->w, p, n);
    if (e != STG_OK) {
        r->body_error = e;
        return -1;
    }
    return 0;
}

/* Opens the temporary file (and the aws-chunked decoder) of a body. */
static enum MHD_Result file_body(struct dp_req *r, int want_sha256)
{
    enum stg_err e = stg_writer_open(r->ctx->store, want_sha256, &r->w);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    if (r->streaming)
        r->chunked = stg_chunked_new(&r->chunk_cfg, file_sink, r);
    r->body = DP_BODY_FILE;
    return MHD_YES;
}

static enum MHD_Result begin_put(struct dp_req *r)
{
    int ok;
    enum MHD_Result out = digests(r, &ok);
    if (ok)
        out = body_length(r, r->ctx->s.max_object_size, &ok);
    if (ok)
        out = object_settings(r, &ok);
    if (!ok)
        return out;
    return file_body(r, 1);
}

static enum MHD_Result upload_ref(struct dp_req *r, int *ok)
{
    *ok = 0;
    const struct dp_param *id = kumo__dp_param(r, "uploadId");
    if (id == NULL || !stg_upload_id_valid(id->value, strlen(id->value)))
        return kumo__dp_error(r, STG_E_NO_SUCH_UPLOAD, NULL, NULL);
    memcpy(r->upload_id, id->value, STG_UPLOAD_ID_LEN + 1);
    struct stg_meta m;
    enum stg_err e = stg_mpu_get(r->ctx->store, r->upload_id, r->key, &m);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    r->upload_ck_alg = m.ck_alg;
    stg_meta_clear(&m);
    *ok = 1;
    return MHD_YES;
}

static enum MHD_Result begin_part(struct dp_req *r)
{
    const struct dp_param *pn = kumo__dp_param(r, "partNumber");
    int64_t n = 0;
    if (pn == NULL || parse_uint(pn->value, strlen(pn->value), &n) != 0 || n < 1 ||
        n > STG_PARTS_MAX)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "Part number must be an integer between 1 and 10000, inclusive",
                              NULL);
    r->part_number = (int)n;
    int ok;
    enum MHD_Result out = upload_ref(r, &ok);
    if (ok)
        out = digests(r, &ok);
    if (ok)
        out = body_length(r, r->ctx->s.max_part_size, &ok);
    if (!ok)
        return out;
    if (r->upload_ck_alg != STG_CK_NONE && r->ck_alg != STG_CK_NONE &&
        r->ck_alg != r->upload_ck_alg) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum "
                 "Type: %s",
                 stg_ck_name(r->upload_ck_alg), stg_ck_name(r->ck_alg));
        return kumo__dp_error(r, STG_E_INVALID_REQUEST, msg, NULL);
    }
    return file_body(r, r->has_content_sha256);
}

static enum MHD_Result too_big_xml(struct dp_req *r)
{
    return kumo__dp_error(r, STG_E_MAX_MESSAGE_LENGTH, NULL, NULL);
}

/* Prepares to buffer an XML body of declared length cl (-1: unknown). */
static enum MHD_Result xml_body(struct dp_req *r, int64_t cl)
{
    if (r->streaming)
        return kumo__dp_error(r, STG_E_NOT_IMPLEMENTED,
                              "aws-chunked bodies are supported for PutObject and UploadPart "
                              "only.",
                              NULL);
    if (cl > r->ctx->s.max_xml_size)
        return too_big_xml(r);
    r->content_length = cl;
    r->body = DP_BODY_XML;
    r->xml_sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(r->xml_sha, EVP_sha256(), NULL);
    return MHD_YES;
}

static enum MHD_Result begin_complete(struct dp_req *r)
{
    int ok, bad;
    enum MHD_Result out = upload_ref(r, &ok);
    if (ok)
        out = digests(r, &ok);
    if (!ok)
        return out;
    int64_t cl = header_length(r, &bad);
    if (bad)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT, "Content-Length is not a number.", NULL);
    return xml_body(r, cl);
}

static enum MHD_Result begin_restore(struct dp_req *r)
{
    int ok, bad;
    enum MHD_Result out = digests(r, &ok);
    if (!ok)
        return out;
    int64_t cl = header_length(r, &bad);
    if (bad)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT, "Content-Length is not a number.", NULL);
    return xml_body(r, cl);
}

static enum MHD_Result get_object(struct dp_req *r);
static enum MHD_Result delete_object(struct dp_req *r);
static enum MHD_Result create_mpu(struct dp_req *r);
static enum MHD_Result abort_mpu(struct dp_req *r);
static enum MHD_Result list_parts(struct dp_req *r);
static enum MHD_Result copy_object(struct dp_req *r);

static enum MHD_Result list_objects(struct dp_req *r);

enum MHD_Result kumo__dp_begin_op(struct dp_req *r)
{
    const char *why = NULL;
    if (r->op == DP_OP_LIST_OBJECTS) {
        if (has_body(r))
            return kumo__dp_error(r, STG_E_INVALID_REQUEST,
                                  "This operation does not take a request body.", NULL);
        return list_objects(r);
    }
    enum stg_err e = stg_key_check(r->key, strlen(r->key), &why);
    if (e != STG_OK) {
        char msg[160];
        snprintf(msg, sizeof msg, "The object key %s.", why);
        return kumo__dp_error(r, e, msg, NULL);
    }
    switch (r->op) {
    case DP_OP_PUT_OBJECT:
        return begin_put(r);
    case DP_OP_UPLOAD_PART:
        return begin_part(r);
    case DP_OP_COMPLETE_MPU:
        return begin_complete(r);
    case DP_OP_RESTORE_OBJECT:
        return begin_restore(r);
    default:
        break;
    }
    if (has_body(r))
        return kumo__dp_error(r, STG_E_INVALID_REQUEST,
                              "This operation does not take a request body.", NULL);
    if (r->has_content_sha256 && strcmp(r->content_sha256, KUMO_SIGV4_EMPTY_SHA256) != 0)
        return kumo__dp_error(r, STG_E_SHA256_MISMATCH, NULL, NULL);
    switch (r->op) {
    case DP_OP_GET_OBJECT:
    case DP_OP_HEAD_OBJECT:
        return get_object(r);
    case DP_OP_DELETE_OBJECT:
        return delete_object(r);
    case DP_OP_CREATE_MPU:
        return create_mpu(r);
    case DP_OP_ABORT_MPU:
        return abort_mpu(r);
    case DP_OP_LIST_PARTS:
        return list_parts(r);
    case DP_OP_COPY_OBJECT:
        return copy_object(r);
    default:
        return kumo__dp_error(r, STG_E_NOT_IMPLEMENTED, NULL, NULL);
    }
}

/* ---- body ---- */

int kumo__dp_body(struct dp_req *r, const char *data, size_t len)
{
    if (r->body_error != STG_OK)
        return 0; /* drained: the error is answered at the end */
    switch (r->body) {
    case DP_BODY_FILE: {
        if (r->chunked) {
            const char *why = NULL;
            enum stg_err e = stg_chunked_feed(r->chunked, (const uint8_t *)data, len, &why);
            if (e != STG_OK && r->body_error == STG_OK) {
                r->body_error = e;
                r->body_error_why = why;
            }
        } else if (file_sink(r, (const uint8_t *)data, len) != 0 && r->body_error == STG_OK) {
            r->body_error = STG_E_INTERNAL;
        }
        if (r->body_error != STG_OK) {
            /* Nothing of a bad body stays: the rest is drained unread. */
            stg_writer_discard(r->w);
            r->w = NULL;
        }
        return 0;
    }
    case DP_BODY_XML:
        if (r->xml.len + len > (size_t)r->ctx->s.max_xml_size) {
            /* Without a Content-Length (chunked), refuse to read on. */
            return -1;
        }
        kumo_buf_append(&r->xml, data, len);
        EVP_DigestUpdate(r->xml_sha, data, len);
        stg_ck_update(&r->ck, data, len);
        return 0;
    default:
        return -1;
    }
}

/* ---- finish ---- */

static enum MHD_Result sha_mismatch(struct dp_req *r, const uint8_t sha[32])
{
    char hex[65];
    stg_hex(sha, 32, hex);
    struct kumo_buf x = KUMO_BUF_INIT;
    xml_elem(&x, "ClientComputedContentSHA256", r->content_sha256);
    xml_elem(&x, "S3ComputedContentSHA256", hex);
    enum MHD_Result rc = kumo__dp_error(r, STG_E_SHA256_MISMATCH, NULL, (const char *)x.data);
    kumo_buf_free(&x);
    return rc;
}

/* Checks the declarations against the computed digests; answers and
 * returns 0 on a mismatch. */
static int check_digests(struct dp_req *r, const uint8_t md5[16], const uint8_t sha[32],
                         enum MHD_Result *out)
{
    if (r->has_content_sha256) {
        char hex[65];
        stg_hex(sha, 32, hex);
        if (strcmp(hex, r->content_sha256) != 0) {
            *out = sha_mismatch(r, sha);
            return 0;
        }
    }
    if (r->has_md5 && memcmp(md5, r->md5, 16) != 0) {
        *out = kumo__dp_error(r, STG_E_BAD_DIGEST, NULL, NULL);
        return 0;
    }
    return 1;
}

/* The end of an aws-chunked body: complete, of the declared length. */
static int chunked_done(struct dp_req *r, enum MHD_Result *out)
{
    if (!r->streaming)
        return 1;
    const char *why = NULL;
    enum stg_err e = stg_chunked_finish(r->chunked, &why);
    if (e == STG_OK && stg_chunked_decoded(r->chunked) != r->decoded_length) {
        e = STG_E_INCOMPLETE_BODY;
        why = "The aws-chunked body does not hold x-amz-decoded-content-length bytes.";
    }
    if (e != STG_OK) {
        *out = kumo__dp_error(r, e, why, NULL);
        return 0;
    }
    return 1;
}

/* Finishes the flexible checksum and compares it with the declared value
 * (header or trailer). Fills b64 ("" without an algorithm). Answers and
 * returns 0 on a mismatch or a bad trailer. */
static int flexible_ok(struct dp_req *r, char b64[STG_CK_B64_MAX], enum MHD_Result *out)
{
    b64[0] = '\0';
    if (r->ck_alg == STG_CK_NONE)
        return 1;
    uint8_t got[STG_CK_MAX_LEN];
    size_t n = stg_ck_final(&r->ck, got);
    if (r->ck_from_trailer) {
        const char *v =
            r->chunked ? stg_chunked_trailer(r->chunked, stg_ck_header(r->ck_alg)) : NULL;
        if (v == NULL || stg_ck_unb64(v, r->ck_alg, r->ck_expect) != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "The trailer does not hold a valid %s.",
                     stg_ck_header(r->ck_alg));
            *out = kumo__dp_error(r, STG_E_INVALID_REQUEST, msg, NULL);
            return 0;
        }
        r->has_ck_expect = 1;
    }
    if (r->has_ck_expect && memcmp(got, r->ck_expect, n) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.",
                 stg_ck_name(r->ck_alg));
        *out = kumo__dp_error(r, STG_E_BAD_DIGEST, msg, NULL);
        return 0;
    }
    stg_ck_b64(got, n, b64);
    return 1;
}

static enum MHD_Result finish_put(struct dp_req *r)
{
    uint8_t md5[16], sha[32];
    stg_writer_digests(r->w, md5, sha);
    enum MHD_Result out;
    char ck[STG_CK_B64_MAX];
    if (!chunked_done(r, &out) || !check_digests(r, md5, sha, &out) || !flexible_ok(r, ck, &out))
        return out;
    r->meta.ck_alg = r->ck_alg;
    r->meta.ck_type = STG_CK_FULL_OBJECT;
    memcpy(r->meta.ck_value, ck, sizeof ck);
    struct stg_writer *w = r->w;
    r->w = NULL;
    enum stg_err e = stg_object_put(r->ctx->store, w, &r->meta);
    if (e == STG_OK && stg_event_created(r->ctx, 1 /* STG_EV_CREATED_PUT */, &r->meta) != 0)
        e = STG_E_INTERNAL; /* the client retries: the event is recorded then */
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    char etag[STG_ETAG_MAX + 2];
    snprintf(etag, sizeof etag, "\"%s\"", r->meta.etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (resp && r->ck_alg != STG_CK_NONE) {
        MHD_add_response_header(resp, stg_ck_header(r->ck_alg), ck);
        MHD_add_response_header(resp, "x-amz-checksum-type", "FULL_OBJECT");
    }
    if (resp)
        MHD_add_response_header(resp, "ETag", etag);
    return kumo__dp_queue(r, 200, resp);
}

static enum MHD_Result finish_part(struct dp_req *r)
{
    uint8_t md5[16], sha[32];
    stg_writer_digests(r->w, md5, sha);
    enum MHD_Result out;
    char ck[STG_CK_B64_MAX];
    if (!chunked_done(r, &out) || !check_digests(r, md5, sha, &out) || !flexible_ok(r, ck, &out))
        return out;
    struct stg_writer *w = r->w;
    r->w = NULL;
    char etag[33], quoted[36];
    enum stg_err e = stg_mpu_put_part(r->ctx->store, r->upload_id, r->key, r->part_number, w, etag);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, "ETag", quoted);
        if (r->ck_alg != STG_CK_NONE)
            MHD_add_response_header(resp, stg_ck_header(r->ck_alg), ck);
    }
    return kumo__dp_queue(r, 200, resp);
}

static void complete_result(struct dp_req *r, const struct stg_meta *m, struct kumo_buf *b)
{
    struct kumo_buf loc = KUMO_BUF_INIT;
    kumo_buf_appendf(&loc, "%s/%s/", r->ctx->public_url, r->ctx->s.bucket);
    kumo_sigv4_uri_encode(m->key, strlen(m->key), 1, &loc);
    char etag[STG_ETAG_MAX + 2];
    snprintf(etag, sizeof etag, "\"%s\"", m->etag);
    kumo_buf_append_str(b, XML_HEAD "<CompleteMultipartUploadResult" S3_NS ">");
    xml_elem(b, "Location", (const char *)loc.data);
    xml_elem(b, "Bucket", r->ctx->s.bucket);
    xml_elem(b, "Key", m->key);
    xml_elem(b, "ETag", etag);
    if (m->ck_alg != STG_CK_NONE) {
        xml_elem(b, stg_ck_xml(m->ck_alg), m->ck_value);
        xml_elem(b, "ChecksumType", m->ck_type == STG_CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
    }
    kumo_buf_append_str(b, "</CompleteMultipartUploadResult>");
    kumo_buf_free(&loc);
}

/* Checks the declared digests of a buffered XML body; answers and returns
 * 0 on a mismatch. */
static int xml_digests_ok(struct dp_req *r, enum MHD_Result *out)
{
    uint8_t sha[32], md5[16];
    unsigned len;
    EVP_DigestFinal_ex(r->xml_sha, sha, &len);
    EVP_Digest(r->xml.data ? (const void *)r->xml.data : "", r->xml.len, md5, &len, EVP_md5(),
               NULL);
    char ck[STG_CK_B64_MAX];
    return check_digests(r, md5, sha, out) && flexible_ok(r, ck, out);
}

static enum MHD_Result finish_restore(struct dp_req *r)
{
    enum MHD_Result out;
    if (!xml_digests_ok(r, &out))
        return out;
    int days;
    enum stg_tier tier;
    const char *why = NULL;
    enum stg_err e =
        stg_xml_parse_restore((const char *)r->xml.data, r->xml.len, &days, &tier, &why);
    if (e != STG_OK)
        return kumo__dp_error(r, e, why, NULL);
    struct stg_meta m;
    enum stg_restore_state before;
    const struct stg_settings *s = &r->ctx->s;
    e = stg_object_restore(r->ctx->store, r->key, days, tier, s->restore_ms[tier],
                           s->restore_day_ms, stg_now_ms(), &m, &before);
    if (e == STG_E_INVALID_OBJECT_STATE)
        return kumo__dp_error(r, e, "Restore is not allowed for the object's current storage class",
                              NULL);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    if (before != STG_RESTORE_RESTORED)
        stg_restore_watch_add(r->ctx, &m);
    stg_meta_clear(&m);
    if (before == STG_RESTORE_IN_PROGRESS)
        return kumo__dp_error(r, STG_E_RESTORE_IN_PROGRESS, NULL, NULL);
    return kumo__dp_empty(r, before == STG_RESTORE_RESTORED ? 200 : 202, NULL);
}

static enum MHD_Result finish_complete(struct dp_req *r)
{
    enum MHD_Result out;
    if (!xml_digests_ok(r, &out))
        return out;
    struct stg_part *parts = NULL;
    size_t n = 0;
    const char *why = NULL;
    enum stg_err e = stg_xml_parse_complete((const char *)r->xml.data, r->xml.len,
                                            r->ctx->s.max_parts, &parts, &n, &why);
    struct stg_meta m;
    if (e == STG_OK)
        e = stg_mpu_complete(r->ctx->store, r->upload_id, r->key, parts, n, r->ctx->s.min_part_size,
                             &m, &why);
    kumo_free(parts);
    if (e == STG_OK && stg_event_created(r->ctx, 2 /* STG_EV_CREATED_MULTIPART */, &m) != 0) {
        stg_meta_clear(&m);
        e = STG_E_INTERNAL;
    }
    if (e != STG_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s%s%s", stg_err_message(e), why ? " " : "", why ? why : "");
        return kumo__dp_error(r, e, msg, NULL);
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    complete_result(r, &m, &b);
    stg_meta_clear(&m);
    out = kumo__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}

enum MHD_Result kumo__dp_finish_op(struct dp_req *r)
{
    if (r->body_error != STG_OK)
        return kumo__dp_error(r, r->body_error, r->body_error_why, NULL);
    if (r->content_length >= 0 && r->received != r->content_length)
        return kumo__dp_error(r, STG_E_INCOMPLETE_BODY, NULL, NULL);
    enum MHD_Result out;
    switch (r->op) {
    case DP_OP_PUT_OBJECT:
    case DP_OP_UPLOAD_PART:
        out = r->op == DP_OP_PUT_OBJECT ? finish_put(r) : finish_part(r);
        /* A refused body's temporary file goes before the answer does. */
        stg_writer_discard(r->w);
        r->w = NULL;
        return out;
    case DP_OP_COMPLETE_MPU:
        return finish_complete(r);
    case DP_OP_RESTORE_OBJECT:
        return finish_restore(r);
    default:
        return kumo__dp_error(r, STG_E_INTERNAL, NULL, NULL);
    }
}

void kumo__dp_op_cleanup(struct dp_req *r)
{
    stg_writer_discard(r->w);
    r->w = NULL;
    kumo_buf_free(&r->xml);
    EVP_MD_CTX_free(r->xml_sha);
    r->xml_sha = NULL;
    stg_ck_free(&r->ck);
    stg_chunked_free(r->chunked);
    r->chunked = NULL;
}

/* ---- GET / HEAD ---- */

/* 1: a satisfiable single range in [*first, *last]; 0: serve the whole
 * object (no header, or one S3 ignores: malformed or several ranges);
 * -1: unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *first, int64_t *last)
{
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return 0;
    const char *p = h + 6, *dash = strchr(p, '-');
    if (dash == NULL)
        return 0;
    int64_t a, b;
    if (dash == p) {
        if (parse_uint(dash + 1, strlen(dash + 1), &b) != 0)
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (parse_uint(p, (size_t)(dash - p), &a) != 0)
        return 0;
    if (dash[1] == '\0') {
        b = INT64_MAX;
    } else if (parse_uint(dash + 1, strlen(dash + 1), &b) != 0 || b < a) {
        return 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

/* 1 if `etag` (unquoted) is in the If-Match / If-None-Match list `h`. */
static int etag_listed(const char *h, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        const char *t = p;
        size_t tn = n;
        while (tn && t[tn - 1] == ' ')
            tn--;
        if (tn == 1 && *t == '*')
            return 1;
        if (tn >= 2 && t[0] == 'W' && t[1] == '/')
            t += 2, tn -= 2;
        if (tn >= 2 && t[0] == '"' && t[tn - 1] == '"')
            t++, tn -= 2;
        if (tn == elen && memcmp(t, etag, elen) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static void restore_header(struct MHD_Response *resp, const struct stg_meta *m)
{
    char v[96], date[32];
    switch (stg_meta_restore_state(m, stg_now_ms())) {
    case STG_RESTORE_IN_PROGRESS:
        MHD_add_response_header(resp, "x-amz-restore", "ongoing-request=\"true\"");
        break;
    case STG_RESTORE_RESTORED:
        stg_http_date(m->restore_expire_ms, date);
        snprintf(v, sizeof v, "ongoing-request=\"false\", expiry-date=\"%s\"", date);
        MHD_add_response_header(resp, "x-amz-restore", v);
        break;
    default:
        break;
    }
}

static const char *const overrides[][2] = {
    {"response-content-type", "Content-Type"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
};

static const char *override_for(struct dp_req *r, const char *header)
{
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        if (strcasecmp(overrides[i][1], header) != 0)
            continue;
        const struct dp_param *p = kumo__dp_param(r, overrides[i][0]);
        return p ? p->value : NULL;
    }
    return NULL;
}

static int header_value_ok(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 0;
    return 1;
}

/* The stored header `name` of m, or NULL. */
static const char *stored_header(const struct stg_meta *m, const char *name)
{
    for (size_t i = 0; i < m->n_hdrs; i++)
        if (strcasecmp(m->hdrs[i].name, name) == 0)
            return m->hdrs[i].value;
    return NULL;
}

/* What a browser does with the bytes: render inline only the types
 * stg_inline_safe allows (others are attachments whatever was asked), and
 * sandbox what it renders (no script, no same-origin access to the data
 * port), as S3 behind a response headers policy would. (nosniff is on
 * every answer of the data port: add_common_headers.) */
static void browser_headers(struct dp_req *r, struct MHD_Response *resp, const char *ct,
                            const struct stg_meta *m)
{
    const char *want = override_for(r, "Content-Disposition");
    if (want == NULL)
        want = stored_header(m, "content-disposition");
    struct kumo_buf d = KUMO_BUF_INIT;
    stg_serve_disposition(ct, want, &d);
    if (d.len)
        MHD_add_response_header(resp, "Content-Disposition", (const char *)d.data);
    kumo_buf_free(&d);
    MHD_add_response_header(resp, "Content-Security-Policy", "sandbox");
}

static void object_headers(struct dp_req *r, struct MHD_Response *resp, const struct stg_meta *m)
{
    char etag[STG_ETAG_MAX + 2], date[32];
    snprintf(etag, sizeof etag, "\"%s\"", m->etag);
    stg_http_date(m->mtime_ms, date);
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Last-Modified", date);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    const char *ct = override_for(r, "Content-Type");
    if (ct == NULL)
        ct = m->content_type;
    MHD_add_response_header(resp, "Content-Type", ct);
    for (size_t i = 0; i < m->n_hdrs; i++)
        if (override_for(r, m->hdrs[i].name) == NULL &&
            strcasecmp(m->hdrs[i].name, "content-disposition") != 0)
            MHD_add_response_header(resp, m->hdrs[i].name, m->hdrs[i].value);
    for (size_t i = 1; i < sizeof overrides / sizeof overrides[0]; i++) {
        const struct dp_param *p = kumo__dp_param(r, overrides[i][0]);
        if (p && strcasecmp(overrides[i][1], "Content-Disposition") != 0)
            MHD_add_response_header(resp, overrides[i][1], p->value);
    }
    browser_headers(r, resp, ct, m);
    if (m->storage_class != STG_CLASS_STANDARD)
        MHD_add_response_header(resp, "x-amz-storage-class", stg_class_name(m->storage_class));
    restore_header(resp, m);
}

static enum MHD_Result not_modified(struct dp_req *r, const struct stg_meta *m)
{
    char etag[STG_ETAG_MAX + 2];
    snprintf(etag, sizeof etag, "\"%s\"", m->etag);
    return kumo__dp_empty(r, 304, etag);
}

/* Answers a precondition or range problem; returns 0 if there is none. */
static int preconditions(struct dp_req *r, const struct stg_meta *m, enum MHD_Result *out)
{
    const char *im = kumo__dp_header(r, "If-Match");
    const char *inm = kumo__dp_header(r, "If-None-Match");
    if (im && !etag_listed(im, m->etag)) {
        *out =
            kumo__dp_error(r, STG_E_PRECONDITION_FAILED, NULL, "<Condition>If-Match</Condition>");
        return 1;
    }
    if (inm && etag_listed(inm, m->etag)) {
        *out = not_modified(r, m);
        return 1;
    }
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const struct dp_param *p = kumo__dp_param(r, overrides[i][0]);
        if (p && (strlen(p->value) > STG_HEADER_VALUE_MAX || !header_value_ok(p->value))) {
            *out = kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                                  "A response-* override is not a valid header value.", NULL);
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result serve_range(struct dp_req *r, int fd, const struct stg_meta *m)
{
    int64_t first = 0, last = m->size - 1;
    int rng = parse_range(kumo__dp_header(r, "Range"), m->size, &first, &last);
    if (rng < 0) {
        close(fd);
        char extra[64];
        snprintf(extra, sizeof extra, "<ActualObjectSize>%lld</ActualObjectSize>",
                 (long long)m->size);
        return kumo__dp_error(r, STG_E_INVALID_RANGE, NULL, extra);
    }
    int64_t len = rng ? last - first + 1 : m->size;
    struct MHD_Response *resp;
    if (len == 0) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, (uint64_t)first);
        if (resp == NULL)
            close(fd);
    }
    if (resp == NULL)
        return MHD_NO;
    object_headers(r, resp, m);
    const char *mode = kumo__dp_header(r, "x-amz-checksum-mode");
    if (!rng && mode && strcasecmp(mode, "ENABLED") == 0) {
        if (m->ck_alg != STG_CK_NONE) {
            MHD_add_response_header(resp, stg_ck_header(m->ck_alg), m->ck_value);
            MHD_add_response_header(resp, "x-amz-checksum-type",
                                    m->ck_type == STG_CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
        } else {
            /* Without a checksum the client chose: the SHA-256 every
             * object has. */
            struct kumo_buf b = KUMO_BUF_INIT;
            kumo_base64_encode(m->sha256, 32, 0, 1, &b);
            MHD_add_response_header(resp, "x-amz-checksum-sha256", (const char *)b.data);
            MHD_add_response_header(resp, "x-amz-checksum-type", "FULL_OBJECT");
            kumo_buf_free(&b);
        }
    }
    if (rng) {
        char cr[80];
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                 (long long)m->size);
        MHD_add_response_header(resp, "Content-Range", cr);
    }
    if (strcmp(r->method, "HEAD") != 0)
        r->bytes_out += len;
    return kumo__dp_queue(r, rng ? 206 : 200, resp);
}

static enum MHD_Result get_object(struct dp_req *r)
{
    struct stg_meta m;
    int fd = -1;
    enum stg_err e = stg_object_open(r->ctx->store, r->key, &m, &fd);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    enum MHD_Result out;
    if (r->op == DP_OP_GET_OBJECT && !stg_meta_readable(&m, stg_now_ms())) {
        char extra[64];
        snprintf(extra, sizeof extra, "<StorageClass>%s</StorageClass>",
                 stg_class_name(m.storage_class));
        out = kumo__dp_error(r, STG_E_INVALID_OBJECT_STATE, NULL, extra);
    } else if (preconditions(r, &m, &out)) {
        /* answered */
    } else {
        out = serve_range(r, fd, &m);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    stg_meta_clear(&m);
    return out;
}

/* ---- the rest ---- */

static enum MHD_Result delete_object(struct dp_req *r)
{
    enum stg_err e = stg_object_delete(r->ctx->store, r->key, NULL);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    return kumo__dp_empty(r, 204, NULL);
}

static enum MHD_Result create_mpu(struct dp_req *r)
{
    int ok;
    enum MHD_Result out = object_settings(r, &ok);
    if (!ok)
        return out;
    char id[STG_UPLOAD_ID_LEN + 1];
    enum stg_err e = stg_mpu_create(r->ctx->store, &r->meta, id);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, XML_HEAD "<InitiateMultipartUploadResult" S3_NS ">");
    xml_elem(&b, "Bucket", r->ctx->s.bucket);
    xml_elem(&b, "Key", r->key);
    xml_elem(&b, "UploadId", id);
    kumo_buf_append_str(&b, "</InitiateMultipartUploadResult>");
    out = kumo__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}

static enum MHD_Result abort_mpu(struct dp_req *r)
{
    const struct dp_param *id = kumo__dp_param(r, "uploadId");
    enum stg_err e = stg_mpu_abort(r->ctx->store, id ? id->value : "", r->key);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    return kumo__dp_empty(r, 204, NULL);
}

static int int_param(struct dp_req *r, const char *name, int64_t def, int64_t max, int64_t *out)
{
    const struct dp_param *p = kumo__dp_param(r, name);
    *out = def;
    if (p == NULL)
        return 0;
    if (parse_uint(p->value, strlen(p->value), out) != 0 || *out > max)
        return -1;
    return 0;
}

static void parts_xml(struct dp_req *r, const struct stg_meta *m, int64_t marker, int64_t max,
                      const struct stg_part *parts, size_t n, int truncated, struct kumo_buf *b)
{
    kumo_buf_append_str(b, XML_HEAD "<ListPartsResult" S3_NS ">");
    xml_elem(b, "Bucket", r->ctx->s.bucket);
    xml_elem(b, "Key", r->key);
    xml_elem(b, "UploadId", r->upload_id);
    kumo_buf_appendf(b, "<PartNumberMarker>%lld</PartNumberMarker>", (long long)marker);
    if (n)
        kumo_buf_appendf(b, "<NextPartNumberMarker>%d</NextPartNumberMarker>", parts[n - 1].number);
    kumo_buf_appendf(b, "<MaxParts>%lld</MaxParts><IsTruncated>%s</IsTruncated>", (long long)max,
                     truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        char date[32];
        stg_iso_date(parts[i].mtime_ms, date);
        kumo_buf_appendf(b,
                         "<Part><PartNumber>%d</PartNumber><LastModified>%s</LastModified>"
                         "<ETag>&quot;%s&quot;</ETag><Size>%lld</Size></Part>",
                         parts[i].number, date, parts[i].etag, (long long)parts[i].size);
    }
    kumo_buf_appendf(b, "<StorageClass>%s</StorageClass></ListPartsResult>",
                     stg_class_name(m->storage_class));
}

static enum MHD_Result list_parts(struct dp_req *r)
{
    int64_t max, marker;
    if (int_param(r, "max-parts", LIST_MAX, INT32_MAX, &max) != 0 ||
        int_param(r, "part-number-marker", 0, STG_PARTS_MAX, &marker) != 0)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "max-parts and part-number-marker must be non-negative integers",
                              NULL);
    if (max > LIST_MAX)
        max = LIST_MAX;
    const struct dp_param *id = kumo__dp_param(r, "uploadId");
    if (id == NULL || !stg_upload_id_valid(id->value, strlen(id->value)))
        return kumo__dp_error(r, STG_E_NO_SUCH_UPLOAD, NULL, NULL);
    memcpy(r->upload_id, id->value, STG_UPLOAD_ID_LEN + 1);
    struct stg_meta m;
    enum stg_err e = stg_mpu_get(r->ctx->store, r->upload_id, r->key, &m);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    struct stg_part *parts = NULL;
    size_t n = 0;
    int truncated = 0;
    e = stg_mpu_list(r->ctx->store, r->upload_id, r->key, (int)marker, (int)max, &parts, &n,
                     &truncated);
    if (e != STG_OK) {
        stg_meta_clear(&m);
        return kumo__dp_error(r, e, NULL, NULL);
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    parts_xml(r, &m, marker, max, parts, n, truncated, &b);
    kumo_free(parts);
    stg_meta_clear(&m);
    enum MHD_Result out = kumo__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}

/* ---- CopyObject ---- */

/* Decodes x-amz-copy-source ("[/]bucket/key", URL-encoded) into src. */
static enum MHD_Result copy_source(struct dp_req *r, char *src, size_t cap, int *ok)
{
    *ok = 0;
    const char *h = kumo__dp_header(r, "x-amz-copy-source");
    if (*h == '/')
        h++;
    if (strchr(h, '?'))
        return kumo__dp_error(r, STG_E_NOT_IMPLEMENTED, "Object versions are not supported.", NULL);
    size_t blen = strlen(r->ctx->s.bucket);
    if (strncmp(h, r->ctx->s.bucket, blen) != 0 || h[blen] != '/')
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "The copy source must be an object of this bucket.", NULL);
    long n = kumo__dp_decode_path(h + blen + 1, strlen(h + blen + 1), src, cap);
    const char *why = NULL;
    if (n < 0 || (size_t)n != strlen(src) || stg_key_check(src, (size_t)n, &why) != STG_OK)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT, "The copy source key is not valid.", NULL);
    *ok = 1;
    return MHD_YES;
}

static const char *const copy_conditions[] = {
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-copy-source-range",
};

static enum MHD_Result copy_object(struct dp_req *r)
{
    for (size_t i = 0; i < sizeof copy_conditions / sizeof copy_conditions[0]; i++)
        if (kumo__dp_header(r, copy_conditions[i]))
            return kumo__dp_error(r, STG_E_NOT_IMPLEMENTED,
                                  "Conditional and ranged copies are not supported.", NULL);
    char src[STG_KEY_MAX + 1];
    int ok;
    enum MHD_Result out = copy_source(r, src, sizeof src, &ok);
    if (!ok)
        return out;
    const char *dir = kumo__dp_header(r, "x-amz-metadata-directive");
    int replace = dir && strcmp(dir, "REPLACE") == 0;
    if (dir && !replace && strcmp(dir, "COPY") != 0)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "x-amz-metadata-directive must be COPY or REPLACE.", NULL);
    if (strcmp(src, r->key) == 0 && !replace && !kumo__dp_header(r, "x-amz-storage-class"))
        return kumo__dp_error(r, STG_E_INVALID_REQUEST,
                              "This copy request is illegal because it is trying to copy an "
                              "object to itself without changing the object's metadata, storage "
                              "class, website redirect location or encryption attributes.",
                              NULL);
    out = object_settings(r, &ok); /* class, and the REPLACE settings */
    if (!ok)
        return out;
    struct stg_meta m;
    enum stg_err e = stg_object_copy(r->ctx->store, src, r->key, r->meta.storage_class,
                                     replace ? &r->meta : NULL, stg_now_ms(), &m);
    if (e != STG_OK)
        return kumo__dp_error(r, e, NULL, NULL);
    char date[32];
    stg_iso_date(m.mtime_ms, date);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b,
                     XML_HEAD "<CopyObjectResult" S3_NS "><LastModified>%s</LastModified>"
                              "<ETag>&quot;%s&quot;</ETag></CopyObjectResult>",
                     date, m.etag);
    stg_meta_clear(&m);
    out = kumo__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}

/* ---- ListObjectsV2 ---- */

/* What one credential may list. The data port has one key pair, kumo's
 * own (kumo-documents signs every URL with it), which may read every
 * object of the bucket: its allowed prefix is the whole key space, whose
 * keys all lie under "t/<tenant>/". A listing never names anything else
 * (uploads in progress, the store's own files). */
static const char *allowed_prefix(const struct dp_req *r)
{
    (void)r;
    return "";
}

/* A continuation token: "k" + the last key returned, or "p" + the last
 * common prefix, base64url. */
static void make_token(char kind, const char *s, struct kumo_buf *out)
{
    struct kumo_buf raw = KUMO_BUF_INIT;
    kumo_buf_append_byte(&raw, (uint8_t)kind);
    kumo_buf_append_str(&raw, s);
    kumo_base64_encode(raw.data, raw.len, 1, 0, out);
    kumo_buf_free(&raw);
}

static int parse_token(const char *tok, char *kind, struct kumo_buf *out)
{
    if (kumo_base64_decode(tok, strlen(tok), out) != 0 || out->len < 1 ||
        out->len > STG_KEY_MAX + 1 || (out->data[0] != 'k' && out->data[0] != 'p') ||
        memchr(out->data, '\0', out->len) != NULL)
        return -1;
    *kind = (char)out->data[0];
    kumo_buf_append_byte(out, 0);
    return 0;
}

static void list_text(struct kumo_buf *b, const char *name, const char *text, int url)
{
    if (!url) {
        xml_elem(b, name, text);
        return;
    }
    struct kumo_buf e = KUMO_BUF_INIT;
    kumo_sigv4_uri_encode(text, strlen(text), 1, &e);
    kumo_buf_append_str(&e, "");
    xml_elem(b, name, (const char *)e.data);
    kumo_buf_free(&e);
}

struct list_params {
    const char *prefix, *delim, *start_after, *token;
    int64_t max;
    int url;
};

static enum MHD_Result list_params(struct dp_req *r, struct list_params *lp, int *ok)
{
    *ok = 0;
    const struct dp_param *p;
    lp->prefix = (p = kumo__dp_param(r, "prefix")) ? p->value : "";
    lp->delim = (p = kumo__dp_param(r, "delimiter")) ? p->value : "";
    lp->start_after = (p = kumo__dp_param(r, "start-after")) ? p->value : "";
    lp->token = (p = kumo__dp_param(r, "continuation-token")) ? p->value : NULL;
    p = kumo__dp_param(r, "encoding-type");
    if (p && strcmp(p->value, "url") != 0)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "Invalid Encoding Method specified in Request", NULL);
    lp->url = p != NULL;
    if (int_param(r, "max-keys", LIST_MAX, INT32_MAX, &lp->max) != 0)
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "Provided max-keys not an integer or within integer range", NULL);
    if (lp->max > LIST_MAX)
        lp->max = LIST_MAX;
    if (strlen(lp->prefix) > STG_KEY_MAX || strlen(lp->delim) > STG_KEY_MAX ||
        strlen(lp->start_after) > STG_KEY_MAX)
        return kumo__dp_error(r, STG_E_KEY_TOO_LONG, NULL, NULL);
    *ok = 1;
    return MHD_YES;
}

/* The common prefix of key under lp (prefix + up to the first delimiter
 * after it, inclusive) into cp; 0 if the key has none. */
static int common_prefix(const struct list_params *lp, const char *key, struct kumo_buf *cp)
{
    size_t plen = strlen(lp->prefix), dlen = strlen(lp->delim);
    if (dlen == 0)
        return 0;
    const char *d = strstr(key + plen, lp->delim);
    if (d == NULL)
        return 0;
    cp->len = 0;
    kumo_buf_append(cp, key, (size_t)(d - key) + dlen);
    kumo_buf_append_byte(cp, 0);
    return 1;
}

static enum MHD_Result list_objects(struct dp_req *r)
{
    struct list_params lp;
    int ok;
    enum MHD_Result out = list_params(r, &lp, &ok);
    if (!ok)
        return out;
    char kind = 'k';
    struct kumo_buf tok = KUMO_BUF_INIT;
    if (lp.token && parse_token(lp.token, &kind, &tok) != 0) {
        kumo_buf_free(&tok);
        return kumo__dp_error(r, STG_E_INVALID_ARGUMENT,
                              "The continuation token provided is incorrect", NULL);
    }
    const char *marker = lp.token ? (const char *)tok.data + 1 : lp.start_after;
    const char *allowed = allowed_prefix(r);
    /* Never more than the credential may see: the listing's prefix is the
     * longer of the two when one extends the other, else nothing. */
    int visible = strncmp(lp.prefix, allowed, strlen(allowed)) == 0 ||
                  strncmp(allowed, lp.prefix, strlen(lp.prefix)) == 0;
    const char *scan = strlen(allowed) > strlen(lp.prefix) ? allowed : lp.prefix;
    struct stg_list_entry *all = NULL;
    size_t n = 0;
    enum stg_err e = visible ? stg_object_list(r->ctx->store, scan, &all, &n) : STG_OK;
    if (e != STG_OK) {
        kumo_buf_free(&tok);
        return kumo__dp_error(r, e, NULL, NULL);
    }
    struct kumo_buf items = KUMO_BUF_INIT, cp = KUMO_BUF_INIT, last_cp = KUMO_BUF_INIT,
                    next = KUMO_BUF_INIT;
    int64_t count = 0;
    int truncated = 0;
    size_t mlen = strlen(marker);
    for (size_t i = 0; i < n; i++) {
        const char *key = all[i].key;
        if (strcmp(key, marker) <= 0 || (kind == 'p' && strncmp(key, marker, mlen) == 0))
            continue;
        int has_cp = common_prefix(&lp, key, &cp);
        if (has_cp && last_cp.len && strcmp((const char *)cp.data, (const char *)last_cp.data) == 0)
            continue;
        if (count == lp.max) {
            truncated = 1;
            break;
        }
        count++;
        next.len = 0;
        if (has_cp) {
            kumo_buf_append_str(&items, "<CommonPrefixes>");
            list_text(&items, "Prefix", (const char *)cp.data, lp.url);
            kumo_buf_append_str(&items, "</CommonPrefixes>");
            last_cp.len = 0;
            kumo_buf_append(&last_cp, cp.data, cp.len);
            make_token('p', (const char *)cp.data, &next);
            continue;
        }
        char date[32];
        stg_iso_date(all[i].mtime_ms, date);
        kumo_buf_append_str(&items, "<Contents>");
        list_text(&items, "Key", key, lp.url);
        kumo_buf_appendf(&items,
                         "<LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                         "<Size>%lld</Size><StorageClass>%s</StorageClass>",
                         date, all[i].etag, (long long)all[i].size,
                         stg_class_name(all[i].storage_class));
        if (all[i].ck_alg != STG_CK_NONE)
            kumo_buf_appendf(&items, "<ChecksumAlgorithm>%s</ChecksumAlgorithm>",
                             stg_ck_name(all[i].ck_alg));
        kumo_buf_append_str(&items, "</Contents>");
        make_token('k', key, &next);
    }
    stg_list_free(all, n);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, XML_HEAD "<ListBucketResult" S3_NS ">");
    xml_elem(&b, "Name", r->ctx->s.bucket);
    list_text(&b, "Prefix", lp.prefix, lp.url);
    if (lp.delim[0])
        list_text(&b, "Delimiter", lp.delim, lp.url);
    if (lp.url)
        xml_elem(&b, "EncodingType", "url");
    if (lp.start_after[0])
        list_text(&b, "StartAfter", lp.start_after, lp.url);
    if (lp.token)
        xml_elem(&b, "ContinuationToken", lp.token);
    kumo_buf_appendf(&b, "<KeyCount>%lld</KeyCount><MaxKeys>%lld</MaxKeys>", (long long)count,
                     (long long)lp.max);
    kumo_buf_appendf(&b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (truncated) {
        kumo_buf_append_str(&next, "");
        xml_elem(&b, "NextContinuationToken", (const char *)next.data);
    }
    if (items.len)
        kumo_buf_append(&b, items.data, items.len);
    kumo_buf_append_str(&b, "</ListBucketResult>");
    out = kumo__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    kumo_buf_free(&items);
    kumo_buf_free(&cp);
    kumo_buf_free(&last_cp);
    kumo_buf_free(&next);
    kumo_buf_free(&tok);
    return out;
}
