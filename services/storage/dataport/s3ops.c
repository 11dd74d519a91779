/* The S3 operations of the data port, on the local backend: routing of an
 * authenticated request to its operation, PutObject, DeleteObject and the
 * multipart calls (GET/HEAD are s3get.c, CopyObject s3copy.c, the
 * listings s3list.c).
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

#define DEFAULT_CT "binary/octet-stream"

/* ---- small parsers ---- */

int stg__dp_parse_uint(const char *s, size_t len, int64_t *out)
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
    const char *cl = stg__dp_header(r, "Content-Length");
    int64_t v = -1;
    *bad = cl && stg__dp_parse_uint(cl, strlen(cl), &v) != 0;
    return cl ? v : -1;
}

static int has_body(struct dp_req *r)
{
    const char *cl = stg__dp_header(r, "Content-Length");
    return stg__dp_header(r, "Transfer-Encoding") != NULL || (cl && strcmp(cl, "0") != 0);
}

void stg__dp_xml_elem(struct kumo_buf *b, const char *name, const char *text)
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
        const struct dp_param *q = stg__dp_param(r, stg_ck_header((enum stg_ck_alg)a));
        if (q) {
            s.alg = (enum stg_ck_alg)a;
            s.value = q->value;
            s.count++;
        }
    }
    const char *trailer = stg__dp_header(r, "x-amz-trailer");
    const char *sdk = stg__dp_header(r, "x-amz-sdk-checksum-algorithm");
    const struct dp_param *sdk_q = stg__dp_param(r, "x-amz-sdk-checksum-algorithm");
    if (sdk == NULL && sdk_q)
        sdk = sdk_q->value;
    enum stg_ck_alg sdk_alg = sdk ? stg_ck_parse(sdk, strlen(sdk)) : STG_CK_NONE;
    if (sdk && sdk_alg == STG_CK_NONE) {
        *out = stg__dp_error(r, STG_E_INVALID_REQUEST,
                             "Value for x-amz-sdk-checksum-algorithm header is invalid.", NULL);
        return 0;
    }
    if (s.count + (trailer != NULL) > 1) {
        *out = stg__dp_error(r, STG_E_INVALID_REQUEST,
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
            *out = stg__dp_error(r, STG_E_INVALID_REQUEST,
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
            *out = stg__dp_error(r, STG_E_INVALID_REQUEST, msg, NULL);
            return 0;
        }
        r->has_ck_expect = 1;
    } else {
        r->ck_alg = sdk_alg;
    }
    if (sdk_alg != STG_CK_NONE && sdk_alg != r->ck_alg) {
        *out =
            stg__dp_error(r, STG_E_INVALID_REQUEST,
                          "x-amz-sdk-checksum-algorithm does not match the checksum sent.", NULL);
        return 0;
    }
    if (r->streaming && r->chunk_cfg.trailer && !r->ck_from_trailer) {
        *out = stg__dp_error(r, STG_E_INVALID_REQUEST,
                             "A STREAMING-*-TRAILER body needs x-amz-trailer.", NULL);
        return 0;
    }
    stg_ck_init(&r->ck, r->ck_alg);
    return 1;
}

/* aws-chunked: the decoded length is required and bounded like a body. */
static int streaming_length(struct dp_req *r, int64_t max, enum MHD_Result *out)
{
    const char *enc = stg__dp_header(r, "Content-Encoding");
    const char *dl = stg__dp_header(r, "x-amz-decoded-content-length");
    int64_t v = -1;
    if (!r->streaming) {
        if (enc && strstr(enc, "aws-chunked")) {
            *out = stg__dp_error(r, STG_E_INVALID_REQUEST,
                                 "An aws-chunked body needs x-amz-content-sha256 "
                                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER or "
                                 "STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER].",
                                 NULL);
            return 0;
        }
        return 1;
    }
    if (dl == NULL) {
        *out = stg__dp_error(r, STG_E_MISSING_CONTENT_LENGTH,
                             "An aws-chunked body needs x-amz-decoded-content-length.", NULL);
        return 0;
    }
    if (stg__dp_parse_uint(dl, strlen(dl), &v) != 0) {
        *out = stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "x-amz-decoded-content-length is not a number.", NULL);
        return 0;
    }
    if (v > max) {
        char extra[128];
        snprintf(extra, sizeof extra,
                 "<ProposedSize>%lld</ProposedSize><MaxSizeAllowed>%lld</MaxSizeAllowed>",
                 (long long)v, (long long)max);
        *out = stg__dp_error(r, STG_E_ENTITY_TOO_LARGE, NULL, extra);
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
    const char *md5 = stg__dp_header(r, "Content-MD5");
    if (md5 && decode_b64(md5, r->md5, 16) != 0)
        return stg__dp_error(r, STG_E_INVALID_DIGEST, NULL, NULL);
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
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT, "Content-Length is not a number.", NULL);
    if (r->streaming) {
        /* The wire length of an aws-chunked body: the decoded bytes plus
         * framing, whose every piece the decoder bounds. */
        r->content_length = cl;
        *ok = 1;
        return MHD_YES;
    }
    if (cl < 0)
        return stg__dp_error(r, STG_E_MISSING_CONTENT_LENGTH, NULL, NULL);
    if (cl > max) {
        char extra[128];
        snprintf(extra, sizeof extra,
                 "<ProposedSize>%lld</ProposedSize><MaxSizeAllowed>%lld</MaxSizeAllowed>",
                 (long long)cl, (long long)max);
        return stg__dp_error(r, STG_E_ENTITY_TOO_LARGE, NULL, extra);
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

enum MHD_Result stg__dp_object_settings(struct dp_req *r, int *ok)
{
    *ok = 0;
    struct stg_meta *m = &r->meta;
    memcpy(m->key, r->key, strlen(r->key) + 1);
    const char *ct = stg__dp_header(r, "Content-Type");
    if (ct == NULL || *ct == '\0')
        ct = DEFAULT_CT;
    if (!stg_content_type_valid(ct, strlen(ct)))
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "Content-Type must be 1..256 printable ASCII characters.", NULL);
    memcpy(m->content_type, ct, strlen(ct) + 1);
    const char *cls = stg__dp_header(r, "x-amz-storage-class");
    m->storage_class = cls ? stg_class_parse(cls, strlen(cls)) : STG_CLASS_STANDARD;
    if (m->storage_class == STG_CLASS_UNSPECIFIED)
        return stg__dp_error(r, STG_E_INVALID_STORAGE_CLASS, NULL, NULL);
    if (r->op == DP_OP_CREATE_MPU) {
        /* The upload's checksum: S3 computes composite checksums for
         * CRC32, CRC32C, SHA1 and SHA256 unless FULL_OBJECT is asked (CRC
         * only), and full-object ones for CRC64NVME. */
        const char *alg = stg__dp_header(r, "x-amz-checksum-algorithm");
        const char *type = stg__dp_header(r, "x-amz-checksum-type");
        m->ck_alg = alg ? stg_ck_parse(alg, strlen(alg)) : STG_CK_NONE;
        if (alg && m->ck_alg == STG_CK_NONE)
            return stg__dp_error(r, STG_E_INVALID_REQUEST,
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
            return stg__dp_error(r, STG_E_INVALID_REQUEST,
                                 "The x-amz-checksum-type is not valid for the algorithm.", NULL);
    }
    struct meta_scan s = {m, 0, STG_OK, NULL};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, scan_header, &s);
    if (s.err != STG_OK)
        return stg__dp_error(r, s.err, s.why, NULL);
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
static enum MHD_Result file_body(struct dp_req *r, int want_md5, int want_sha256)
{
    enum stg_err e = stg_writer_open(r->ctx->store, want_md5, want_sha256, &r->w);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
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
        out = stg__dp_object_settings(r, &ok);
    if (!ok)
        return out;
    return file_body(r, 1, 1);
}

/* The multipart upload named by ?uploadId= for the request's key: sets
 * r->upload_id and *m (to clear) and *ok; answers NoSuchUpload (or the
 * store's error) otherwise. */
enum MHD_Result stg__dp_find_upload(struct dp_req *r, struct stg_meta *m, int *ok)
{
    *ok = 0;
    const struct dp_param *id = stg__dp_param(r, "uploadId");
    if (id == NULL || !stg_upload_id_valid(id->value, strlen(id->value)))
        return stg__dp_error(r, STG_E_NO_SUCH_UPLOAD, NULL, NULL);
    memcpy(r->upload_id, id->value, STG_UPLOAD_ID_LEN + 1);
    enum stg_err e = stg_mpu_get(r->ctx->store, r->upload_id, r->key, m);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    *ok = 1;
    return MHD_YES;
}

static enum MHD_Result upload_ref(struct dp_req *r, int *ok)
{
    struct stg_meta m;
    enum MHD_Result out = stg__dp_find_upload(r, &m, ok);
    if (*ok) {
        r->upload_ck_alg = m.ck_alg;
        stg_meta_clear(&m);
    }
    return out;
}

static enum MHD_Result begin_part(struct dp_req *r)
{
    const struct dp_param *pn = stg__dp_param(r, "partNumber");
    int64_t n = 0;
    if (pn == NULL || stg__dp_parse_uint(pn->value, strlen(pn->value), &n) != 0 || n < 1 ||
        n > STG_PARTS_MAX)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "Part number must be an integer between 1 and 10000, inclusive", NULL);
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
        return stg__dp_error(r, STG_E_INVALID_REQUEST, msg, NULL);
    }
    /* A part whose SHA-256 the client declares (header or trailer) and
     * that has no Content-MD5 to check is not MD5-hashed: its ETag comes
     * from that SHA-256, verified (stg_mpu_put_part). MD5 costs twice
     * SHA-256's CPU time here (sha_ni), on the cores the uploader shares. */
    int sha256_declared =
        r->ck_alg == STG_CK_SHA256 && (r->has_ck_expect || r->ck_from_trailer) && !r->has_md5;
    return file_body(r, !sha256_declared, r->has_content_sha256);
}

static enum MHD_Result too_big_xml(struct dp_req *r)
{
    return stg__dp_error(r, STG_E_MAX_MESSAGE_LENGTH, NULL, NULL);
}

/* Prepares to buffer an XML body (of the declared Content-Length, if
 * any). */
static enum MHD_Result xml_body(struct dp_req *r)
{
    int bad;
    int64_t cl = header_length(r, &bad);
    if (bad)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT, "Content-Length is not a number.", NULL);
    if (r->streaming)
        return stg__dp_error(r, STG_E_NOT_IMPLEMENTED,
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
    int ok;
    enum MHD_Result out = upload_ref(r, &ok);
    if (ok)
        out = digests(r, &ok);
    if (!ok)
        return out;
    return xml_body(r);
}

static enum MHD_Result begin_restore(struct dp_req *r)
{
    int ok;
    enum MHD_Result out = digests(r, &ok);
    if (!ok)
        return out;
    return xml_body(r);
}

/* ---- body ---- */

int stg__dp_body(struct dp_req *r, const char *data, size_t len)
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
    kumo_hex_encode(sha, 32, hex);
    struct kumo_buf x = KUMO_BUF_INIT;
    stg__dp_xml_elem(&x, "ClientComputedContentSHA256", r->content_sha256);
    stg__dp_xml_elem(&x, "S3ComputedContentSHA256", hex);
    enum MHD_Result rc = stg__dp_error(r, STG_E_SHA256_MISMATCH, NULL, (const char *)x.data);
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
        kumo_hex_encode(sha, 32, hex);
        if (strcmp(hex, r->content_sha256) != 0) {
            *out = sha_mismatch(r, sha);
            return 0;
        }
    }
    if (r->has_md5 && memcmp(md5, r->md5, 16) != 0) {
        *out = stg__dp_error(r, STG_E_BAD_DIGEST, NULL, NULL);
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
        *out = stg__dp_error(r, e, why, NULL);
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
            *out = stg__dp_error(r, STG_E_INVALID_REQUEST, msg, NULL);
            return 0;
        }
        r->has_ck_expect = 1;
    }
    if (r->has_ck_expect && memcmp(got, r->ck_expect, n) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.",
                 stg_ck_name(r->ck_alg));
        *out = stg__dp_error(r, STG_E_BAD_DIGEST, msg, NULL);
        return 0;
    }
    stg_ck_b64(got, n, b64);
    return 1;
}

/* Checks a body streamed to a file: the end of its aws-chunked framing,
 * the declared digests and the flexible checksum (into ck). Answers and
 * returns 0 on a problem. */
static int file_body_ok(struct dp_req *r, char ck[STG_CK_B64_MAX], enum MHD_Result *out)
{
    uint8_t md5[16], sha[32];
    stg_writer_digests(r->w, md5, sha);
    return chunked_done(r, out) && check_digests(r, md5, sha, out) && flexible_ok(r, ck, out);
}

static enum MHD_Result finish_put(struct dp_req *r)
{
    enum MHD_Result out;
    char ck[STG_CK_B64_MAX];
    if (!file_body_ok(r, ck, &out))
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
        return stg__dp_error(r, e, NULL, NULL);
    char etag[STG_ETAG_MAX + 2];
    snprintf(etag, sizeof etag, "\"%s\"", r->meta.etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (resp && r->ck_alg != STG_CK_NONE) {
        MHD_add_response_header(resp, stg_ck_header(r->ck_alg), ck);
        MHD_add_response_header(resp, "x-amz-checksum-type", "FULL_OBJECT");
    }
    if (resp)
        MHD_add_response_header(resp, "ETag", etag);
    return stg__dp_queue(r, 200, resp);
}

static enum MHD_Result finish_part(struct dp_req *r)
{
    enum MHD_Result out;
    char ck[STG_CK_B64_MAX];
    if (!file_body_ok(r, ck, &out))
        return out;
    struct stg_writer *w = r->w;
    r->w = NULL;
    char etag[33], quoted[36];
    enum stg_err e = stg_mpu_put_part(r->ctx->store, r->upload_id, r->key, r->part_number, w,
                                      r->ck_alg, ck, etag);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, "ETag", quoted);
        if (r->ck_alg != STG_CK_NONE)
            MHD_add_response_header(resp, stg_ck_header(r->ck_alg), ck);
    }
    return stg__dp_queue(r, 200, resp);
}

static void complete_result(struct dp_req *r, const struct stg_meta *m, struct kumo_buf *b)
{
    struct kumo_buf loc = KUMO_BUF_INIT;
    kumo_buf_appendf(&loc, "%s/%s/", r->ctx->public_url, r->ctx->s.bucket);
    kumo_sigv4_uri_encode(m->key, strlen(m->key), 1, &loc);
    char etag[STG_ETAG_MAX + 2];
    snprintf(etag, sizeof etag, "\"%s\"", m->etag);
    kumo_buf_append_str(b, KUMO_DP_XML_HEAD "<CompleteMultipartUploadResult" KUMO_DP_S3_NS ">");
    stg__dp_xml_elem(b, "Location", (const char *)loc.data);
    stg__dp_xml_elem(b, "Bucket", r->ctx->s.bucket);
    stg__dp_xml_elem(b, "Key", m->key);
    stg__dp_xml_elem(b, "ETag", etag);
    if (m->ck_alg != STG_CK_NONE) {
        stg__dp_xml_elem(b, stg_ck_xml(m->ck_alg), m->ck_value);
        stg__dp_xml_elem(b, "ChecksumType",
                         m->ck_type == STG_CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
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
        return stg__dp_error(r, e, why, NULL);
    struct stg_meta m;
    enum stg_restore_state before;
    const struct stg_settings *s = &r->ctx->s;
    e = stg_object_restore(r->ctx->store, r->key, days, tier, s->restore_ms[tier],
                           s->restore_day_ms, stg_now_ms(), &m, &before);
    if (e == STG_E_INVALID_OBJECT_STATE)
        return stg__dp_error(r, e, "Restore is not allowed for the object's current storage class",
                             NULL);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    if (before != STG_RESTORE_RESTORED)
        stg_restore_watch_add(r->ctx, &m);
    stg_meta_clear(&m);
    if (before == STG_RESTORE_IN_PROGRESS)
        return stg__dp_error(r, STG_E_RESTORE_IN_PROGRESS, NULL, NULL);
    return stg__dp_empty(r, before == STG_RESTORE_RESTORED ? 200 : 202, NULL);
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
        return stg__dp_error(r, e, msg, NULL);
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    complete_result(r, &m, &b);
    stg_meta_clear(&m);
    out = stg__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}

static enum MHD_Result delete_object(struct dp_req *r);
static enum MHD_Result create_mpu(struct dp_req *r);
static enum MHD_Result abort_mpu(struct dp_req *r);

/* ---- the operations ---- */

typedef enum MHD_Result (*op_fn)(struct dp_req *r);

/* What each operation (but ListObjectsV2) runs when its headers are in,
 * and, for one that takes a body, when the body is: one without `finish`
 * must have no body and answers from `begin`. */
static const struct {
    op_fn begin, finish;
} ops[] = {
    [DP_OP_PUT_OBJECT] = {begin_put, finish_put},
    [DP_OP_UPLOAD_PART] = {begin_part, finish_part},
    [DP_OP_COMPLETE_MPU] = {begin_complete, finish_complete},
    [DP_OP_RESTORE_OBJECT] = {begin_restore, finish_restore},
    [DP_OP_GET_OBJECT] = {stg__dp_get_object, NULL},
    [DP_OP_HEAD_OBJECT] = {stg__dp_get_object, NULL},
    [DP_OP_DELETE_OBJECT] = {delete_object, NULL},
    [DP_OP_CREATE_MPU] = {create_mpu, NULL},
    [DP_OP_ABORT_MPU] = {abort_mpu, NULL},
    [DP_OP_LIST_PARTS] = {stg__dp_list_parts, NULL},
    [DP_OP_COPY_OBJECT] = {stg__dp_copy_object, NULL},
};

static op_fn op_begin(enum dp_op op)
{
    return (size_t)op < sizeof ops / sizeof ops[0] ? ops[op].begin : NULL;
}

static op_fn op_finish(enum dp_op op)
{
    return (size_t)op < sizeof ops / sizeof ops[0] ? ops[op].finish : NULL;
}

enum MHD_Result stg__dp_begin_op(struct dp_req *r)
{
    const char *why = NULL;
    if (r->op == DP_OP_LIST_OBJECTS) {
        if (has_body(r))
            return stg__dp_error(r, STG_E_INVALID_REQUEST,
                                 "This operation does not take a request body.", NULL);
        return stg__dp_list_objects(r);
    }
    enum stg_err e = stg_key_check(r->key, strlen(r->key), &why);
    if (e != STG_OK) {
        char msg[160];
        snprintf(msg, sizeof msg, "The object key %s.", why);
        return stg__dp_error(r, e, msg, NULL);
    }
    if (op_finish(r->op) == NULL) {
        if (has_body(r))
            return stg__dp_error(r, STG_E_INVALID_REQUEST,
                                 "This operation does not take a request body.", NULL);
        if (r->has_content_sha256 && strcmp(r->content_sha256, KUMO_SIGV4_EMPTY_SHA256) != 0)
            return stg__dp_error(r, STG_E_SHA256_MISMATCH, NULL, NULL);
    }
    op_fn begin = op_begin(r->op);
    if (begin == NULL)
        return stg__dp_error(r, STG_E_NOT_IMPLEMENTED, NULL, NULL);
    return begin(r);
}

enum MHD_Result stg__dp_finish_op(struct dp_req *r)
{
    if (r->body_error != STG_OK)
        return stg__dp_error(r, r->body_error, r->body_error_why, NULL);
    if (r->content_length >= 0 && r->received != r->content_length)
        return stg__dp_error(r, STG_E_INCOMPLETE_BODY, NULL, NULL);
    op_fn finish = op_finish(r->op);
    if (finish == NULL)
        return stg__dp_error(r, STG_E_INTERNAL, NULL, NULL);
    enum MHD_Result out = finish(r);
    /* A refused body's temporary file goes before the answer does. */
    stg_writer_discard(r->w);
    r->w = NULL;
    return out;
}

void stg__dp_op_cleanup(struct dp_req *r)
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

/* ---- the rest ---- */

static enum MHD_Result delete_object(struct dp_req *r)
{
    enum stg_err e = stg_object_delete(r->ctx->store, r->key, NULL);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    return stg__dp_empty(r, 204, NULL);
}

static enum MHD_Result create_mpu(struct dp_req *r)
{
    int ok;
    enum MHD_Result out = stg__dp_object_settings(r, &ok);
    if (!ok)
        return out;
    char id[STG_UPLOAD_ID_LEN + 1];
    enum stg_err e = stg_mpu_create(r->ctx->store, &r->meta, id);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, KUMO_DP_XML_HEAD "<InitiateMultipartUploadResult" KUMO_DP_S3_NS ">");
    stg__dp_xml_elem(&b, "Bucket", r->ctx->s.bucket);
    stg__dp_xml_elem(&b, "Key", r->key);
    stg__dp_xml_elem(&b, "UploadId", id);
    kumo_buf_append_str(&b, "</InitiateMultipartUploadResult>");
    out = stg__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}

static enum MHD_Result abort_mpu(struct dp_req *r)
{
    const struct dp_param *id = stg__dp_param(r, "uploadId");
    enum stg_err e = stg_mpu_abort(r->ctx->store, id ? id->value : "", r->key);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    return stg__dp_empty(r, 204, NULL);
}
