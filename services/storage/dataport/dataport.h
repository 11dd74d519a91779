/* Internals of the data port shared by dataport.c (server, request life
 * cycle, SigV4, routing, CORS, responses) and the S3 operations: s3ops.c
 * (PUT, multipart, DELETE; bodies and their checks), s3get.c (GET, HEAD),
 * s3copy.c (CopyObject), s3list.c (ListObjectsV2, ListParts). */
#ifndef KUMO_STORAGE_DATAPORT_H
#define KUMO_STORAGE_DATAPORT_H

#include <microhttpd.h>
#include <openssl/evp.h>

#include "../storage.h"

enum dp_op {
    DP_OP_NONE,
    DP_OP_PUT_OBJECT,
    DP_OP_GET_OBJECT,
    DP_OP_HEAD_OBJECT,
    DP_OP_DELETE_OBJECT,
    DP_OP_CREATE_MPU,
    DP_OP_UPLOAD_PART,
    DP_OP_COMPLETE_MPU,
    DP_OP_ABORT_MPU,
    DP_OP_LIST_PARTS,
    DP_OP_COPY_OBJECT,
    DP_OP_RESTORE_OBJECT,
    DP_OP_PREFLIGHT,
    DP_OP_LIST_OBJECTS,
};

/* Where a request body goes. */
enum dp_body {
    DP_BODY_NONE, /* the operation takes none */
    DP_BODY_FILE, /* streamed into a stg_writer */
    DP_BODY_XML,  /* buffered (bounded) for parsing */
};

/* A decoded query parameter. */
struct dp_param {
    char *name;
    char *value;
};

/* One request, from its headers to the completion callback. */
struct dp_req {
    struct stg_ctx *ctx;
    struct MHD_Connection *conn;
    const char *method;
    char *uri; /* raw request target (owned) */
    size_t path_len;
    const char *query; /* into uri, after '?' ("" if none) */
    size_t query_len;
    struct dp_param *params;
    size_t n_params;
    enum dp_op op;
    int started;
    int responded;
    char key[STG_KEY_MAX + 1];
    char upload_id[STG_UPLOAD_ID_LEN + 1];
    int part_number;
    char rid[33];
    int64_t t0_ns;
    const char *origin; /* allowed CORS origin, or NULL */
    /* body */
    enum dp_body body;
    struct stg_writer *w;
    struct kumo_buf xml;
    EVP_MD_CTX *xml_sha;
    int64_t content_length; /* -1: not sent */
    int64_t received;
    enum stg_err body_error;
    const char *body_error_why;
    /* what the client declared about the body */
    int has_content_sha256;
    char content_sha256[65];
    int has_md5;
    uint8_t md5[16];
    /* aws-chunked: x-amz-content-sha256 was STREAMING-* (the decoder's
     * settings from the verified signature), and the decoded length the
     * client declared (x-amz-decoded-content-length) */
    int streaming;
    struct stg_chunked_cfg chunk_cfg;
    struct stg_chunked *chunked;
    int64_t decoded_length;
    /* the flexible checksum of the body (x-amz-checksum-*, x-amz-trailer,
     * x-amz-sdk-checksum-algorithm): algorithm, running state, and the
     * value declared in a header (from_trailer: it comes in the trailer) */
    enum stg_ck_alg ck_alg;
    struct stg_cksum ck;
    int ck_from_trailer;
    int has_ck_expect;
    uint8_t ck_expect[STG_CK_MAX_LEN];
    /* the upload's settings (UploadPart) */
    enum stg_ck_alg upload_ck_alg;
    /* settings of a PUT or CreateMultipartUpload */
    struct stg_meta meta;
    /* outcome, for the access log */
    unsigned status;
    int64_t bytes_out;
};

/* ---- dataport.c ---- */

/* A request header (any case), or NULL. */
const char *stg__dp_header(struct dp_req *r, const char *name);
/* A decoded query parameter, or NULL. */
const struct dp_param *stg__dp_param(const struct dp_req *r, const char *name);
/* Queues `resp` with `status` plus the common headers (request id, CORS),
 * and destroys it. Returns MHD_YES or MHD_NO. */
enum MHD_Result stg__dp_queue(struct dp_req *r, unsigned status, struct MHD_Response *resp);
/* Answers an S3 <Error> document (no body for HEAD); `why` (may be NULL)
 * replaces the default message; `extra` (may be NULL) is more XML inside
 * <Error>. */
enum MHD_Result stg__dp_error(struct dp_req *r, enum stg_err e, const char *why, const char *extra);
/* Answers `status` with an XML body (copied). */
enum MHD_Result stg__dp_xml(struct dp_req *r, unsigned status, const struct kumo_buf *xml);
/* Answers `status` with no body and the ETag header if `etag` is set. */
enum MHD_Result stg__dp_empty(struct dp_req *r, unsigned status, const char *etag);

/* Percent-decodes in[0..len) into out[cap] ('+' stays '+'). Returns the
 * length, -1 for a bad escape, -2 if it does not fit. */
long stg__dp_decode_path(const char *in, size_t len, char *out, size_t cap);

/* ---- s3ops.c ---- */

/* Called once the request is authenticated: validates and either answers
 * (operations without a body) or prepares the body. */
enum MHD_Result stg__dp_begin_op(struct dp_req *r);
/* A piece of the body. Returns 0, or -1 to drop the connection. */
int stg__dp_body(struct dp_req *r, const char *data, size_t len);
/* The body is complete: verifies it and answers. */
enum MHD_Result stg__dp_finish_op(struct dp_req *r);
/* Releases what an operation holds (temporary file, buffers). */
void stg__dp_op_cleanup(struct dp_req *r);

#define KUMO_DP_XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define KUMO_DP_S3_NS    " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
/* Most keys or parts one listing answers (S3's own bound). */
#define KUMO_DP_LIST_MAX 1000

/* Parses a decimal without sign (at most 18 digits) from s[0..len).
 * Returns 0, or -1 for anything else. */
int stg__dp_parse_uint(const char *s, size_t len, int64_t *out);
/* Appends <name>text</name>, text XML-escaped. */
void stg__dp_xml_elem(struct kumo_buf *b, const char *name, const char *text);
/* The multipart upload named by ?uploadId= for the request's key: sets
 * r->upload_id, *m (to clear) and *ok = 1; otherwise answers NoSuchUpload
 * (or the store's error) and sets *ok = 0. */
enum MHD_Result stg__dp_find_upload(struct dp_req *r, struct stg_meta *m, int *ok);

/* The object settings of a PUT, CreateMultipartUpload or CopyObject from
 * its headers (Content-Type and the other stored headers, x-amz-meta-*,
 * x-amz-storage-class) into r->meta: *ok = 1, or the S3 error answered and
 * *ok = 0. */
enum MHD_Result stg__dp_object_settings(struct dp_req *r, int *ok);

/* ---- s3get.c ---- */

/* GetObject or HeadObject (r->method). */
enum MHD_Result stg__dp_get_object(struct dp_req *r);

/* ---- s3copy.c ---- */

/* CopyObject (PUT with x-amz-copy-source). */
enum MHD_Result stg__dp_copy_object(struct dp_req *r);

/* ---- s3list.c ---- */

/* ListObjectsV2 of the bucket within the caller's prefix. */
enum MHD_Result stg__dp_list_objects(struct dp_req *r);
/* ListParts of the multipart upload ?uploadId= of the request's key. */
enum MHD_Result stg__dp_list_parts(struct dp_req *r);

#endif
