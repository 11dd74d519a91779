/* AWS Signature Version 4 (AWS4-HMAC-SHA256): signing requests (Authorization
 * header), presigning URLs (query-string auth) and verifying both forms on a
 * server (the storage data port, an Aurora IAM emulation).
 *
 * Two flavors of canonical request exist:
 *   - S3: the canonical URI is the path as it goes on the wire, encoded once
 *     and never normalised ("/a//b/../c" stays); header-signed requests carry
 *     x-amz-content-sha256; a presigned request's payload is
 *     "UNSIGNED-PAYLOAD".
 *   - GENERIC (every other service, e.g. rds-db): dot segments and empty
 *     segments are removed from the wire path and the result is encoded again
 *     (so "%20" becomes "%2520"); a presigned request's payload is the hash of
 *     the empty string.
 * Query keys and values are RFC 3986 encoded (everything but A-Z a-z 0-9
 * "-._~" as uppercase %XX) and sorted by key, then value. Header names are
 * lowercased, values trimmed with runs of spaces/tabs folded to one space, and
 * repeated headers joined with ",".
 *
 * Wire order of a presigned query matches botocore's signer: the caller's
 * parameters in the caller's order, then X-Amz-Algorithm, X-Amz-Credential,
 * X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Security-Token and
 * X-Amz-Signature last. Nothing here has a fixed-size buffer for variable
 * data. */
#ifndef KUMO_SIGV4_H
#define KUMO_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "aws/credentials.h"
#include "base/buf.h"

#define KUMO_SIGV4_ALGORITHM        "AWS4-HMAC-SHA256"
#define KUMO_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define KUMO_SIGV4_EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* X-Amz-Expires range (seconds): S3 rejects anything over a week. */
#define KUMO_SIGV4_MAX_EXPIRES 604800
/* How far a request's date may be in the future (presign) or off the server
 * clock either way (header auth), as S3 allows. */
#define KUMO_SIGV4_MAX_SKEW 900

/* Limits on what a client controls (the verifier answers
 * KUMO_SIGV4_TOO_LARGE beyond them; the signer answers KUMO_ERR_TOO_LARGE
 * rather than produce a request the verifier would refuse, the path and
 * query counted encoded). */
#define KUMO_SIGV4_MAX_METHOD         32
#define KUMO_SIGV4_MAX_PATH           8192
#define KUMO_SIGV4_MAX_QUERY          16384
#define KUMO_SIGV4_MAX_QUERY_PARAMS   128
#define KUMO_SIGV4_MAX_HEADERS        128
#define KUMO_SIGV4_MAX_HEADER_NAME    256
#define KUMO_SIGV4_MAX_HEADER_VALUE   8192
#define KUMO_SIGV4_MAX_SIGNED_HEADERS 64

/* "YYYYMMDDTHHMMSSZ" plus NUL. */
#define KUMO_SIGV4_DATE_SIZE 17
/* 64 hex digits plus NUL. */
#define KUMO_SIGV4_HEX_SIZE 65

/* A name/value pair (header or query parameter); not NUL-terminated. */
struct kumo_sigv4_kv {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* A kumo_sigv4_kv over two NUL-terminated strings. */
static inline struct kumo_sigv4_kv kumo_sigv4_kv_str(const char *name, const char *value)
{
    struct kumo_sigv4_kv kv = {name, strlen(name), value, strlen(value)};
    return kv;
}

enum kumo_sigv4_flavor {
    KUMO_SIGV4_S3 = 0,
    KUMO_SIGV4_GENERIC = 1,
};

/* Who signs, for which scope, when. */
struct kumo_sigv4_signing {
    const struct kumo_aws_credentials *creds; /* session_token optional */
    const char *region;                       /* "us-east-1" */
    const char *service;                      /* "s3", "rds-db" */
    enum kumo_sigv4_flavor flavor;
    time_t now;
};

/* A request to sign. */
struct kumo_sigv4_request {
    const char *method; /* "GET" */
    /* NUL-terminated path starting with '/' ("" means "/"). With
     * path_encoded 0 it is plain text (an S3 key may hold spaces, UTF-8,
     * '+') and is encoded here, '/' kept; with 1 it is already
     * percent-encoded as it goes on the wire and used as is. */
    const char *path;
    int path_encoded;
    /* Query parameters in plain text, in wire order (encoded here). Must not
     * include X-Amz-* authentication parameters. At most
     * KUMO_SIGV4_MAX_QUERY_PARAMS - 7. */
    const struct kumo_sigv4_kv *query;
    size_t query_count;
    /* Headers to sign (every one listed is signed); must include "host"
     * ("host:port" when the port is not the scheme's default). Must not
     * include authorization, x-amz-date, x-amz-security-token or (S3 flavor,
     * header signing) x-amz-content-sha256: the signer adds those. At most
     * KUMO_SIGV4_MAX_SIGNED_HEADERS - 3. */
    const struct kumo_sigv4_kv *headers;
    size_t header_count;
    /* Hex SHA-256 of the body, "UNSIGNED-PAYLOAD" or another S3 payload
     * keyword. NULL: presign uses the flavor's default, header signing the
     * hash of an empty body. */
    const char *payload_hash;
};

/* Presigns `req` valid for `expires` seconds (1..KUMO_SIGV4_MAX_EXPIRES)
 * and appends the request target "<encoded path>?<query with
 * X-Amz-Signature>" to `out`; a URL is "https://" + host + target, an RDS
 * token host:port + target. Returns 0; KUMO_ERR_INVALID (missing host
 * header, a reserved header or X-Amz-* parameter, a path not starting with
 * '/', a header name/value with CR, LF or NUL, expires out of range,
 * incomplete credentials); KUMO_ERR_TOO_LARGE beyond the limits above. On
 * failure `out` is as it was (its capacity may have grown). */
int kumo_sigv4_presign(const struct kumo_sigv4_signing *sg, const struct kumo_sigv4_request *req,
                       long expires, struct kumo_buf *out);

/* What to send with a header-signed request. */
struct kumo_sigv4_header_auth {
    char *authorization;                 /* Authorization value; owned */
    char amz_date[KUMO_SIGV4_DATE_SIZE]; /* X-Amz-Date value */
    const char *security_token;          /* X-Amz-Security-Token value (the
                                            creds' string) or NULL */
    const char *content_sha256;          /* x-amz-content-sha256 value (S3
                                            flavor: req->payload_hash or a
                                            static string) or NULL */
};

/* Signs `req` with an Authorization header as botocore does: the signed
 * headers are those of `req` plus x-amz-date, x-amz-security-token (if the
 * credentials have one) and, S3 flavor, x-amz-content-sha256. Returns 0 and
 * fills *out (free with kumo_sigv4_header_auth_free), or the errors of
 * kumo_sigv4_presign leaving *out untouched. */
int kumo_sigv4_sign_headers(const struct kumo_sigv4_signing *sg,
                            const struct kumo_sigv4_request *req,
                            struct kumo_sigv4_header_auth *out);

/* Frees what kumo_sigv4_sign_headers allocated. */
void kumo_sigv4_header_auth_free(struct kumo_sigv4_header_auth *a);

/* ---- verification ---- */

/* Why a request was refused (or KUMO_SIGV4_OK). */
enum kumo_sigv4_reason {
    KUMO_SIGV4_OK = 0,
    KUMO_SIGV4_NO_AUTH,              /* neither form present: anonymous */
    KUMO_SIGV4_MULTIPLE_AUTH,        /* Authorization header and query auth */
    KUMO_SIGV4_UNSUPPORTED_AUTH,     /* another algorithm (SigV2, ECDSA...) */
    KUMO_SIGV4_MALFORMED_AUTH,       /* Authorization header / X-Amz-* params
                                        missing, duplicated or unparseable */
    KUMO_SIGV4_MALFORMED_CREDENTIAL, /* not AKID/YYYYMMDD/region/service/term */
    KUMO_SIGV4_MALFORMED_DATE,       /* X-Amz-Date not YYYYMMDDTHHMMSSZ */
    KUMO_SIGV4_MISSING_DATE,         /* header auth without x-amz-date */
    KUMO_SIGV4_BAD_EXPIRES,          /* X-Amz-Expires not in 1..604800 */
    KUMO_SIGV4_WRONG_DATE_SCOPE,     /* credential date != X-Amz-Date's day */
    KUMO_SIGV4_WRONG_REGION,
    KUMO_SIGV4_WRONG_SERVICE,
    KUMO_SIGV4_WRONG_TERMINAL,           /* not "aws4_request" */
    KUMO_SIGV4_MALFORMED_SIGNED_HEADERS, /* empty, not lowercase/sorted/unique */
    KUMO_SIGV4_HOST_NOT_SIGNED,
    KUMO_SIGV4_HEADERS_NOT_SIGNED,     /* an x-amz-* header present, not signed */
    KUMO_SIGV4_MISSING_CONTENT_SHA256, /* S3 header auth without it */
    KUMO_SIGV4_BAD_CONTENT_SHA256,     /* not hex SHA-256 nor a payload keyword */
    KUMO_SIGV4_EXPIRED,                /* presigned URL past X-Amz-Expires */
    KUMO_SIGV4_NOT_YET_VALID,          /* presigned URL dated in the future */
    KUMO_SIGV4_TIME_SKEWED,            /* header auth date off by > 15 min */
    KUMO_SIGV4_UNKNOWN_ACCESS_KEY,
    KUMO_SIGV4_BAD_SECURITY_TOKEN, /* missing, unexpected or different */
    KUMO_SIGV4_EXPIRED_TOKEN,      /* the credentials found have expired */
    KUMO_SIGV4_SIGNATURE_MISMATCH, /* includes a signed header absent */
    KUMO_SIGV4_BAD_ENCODING,       /* bad %XX in the query */
    KUMO_SIGV4_TOO_LARGE,          /* a limit above was exceeded */
};

/* Finds the secret (and expected session token) of an access key id. Returns
 * credentials that stay valid until kumo_sigv4_verify returns, or NULL if
 * the key is unknown. */
typedef const struct kumo_aws_credentials *(*kumo_sigv4_lookup_fn)(void *ctx,
                                                                   const char *access_key_id);

struct kumo_sigv4_verifier {
    const char *region;  /* expected in the credential scope */
    const char *service; /* "s3" */
    enum kumo_sigv4_flavor flavor;
    kumo_sigv4_lookup_fn lookup;
    void *lookup_ctx;
};

/* A request as a server received it. */
struct kumo_sigv4_verify_request {
    const char *method;
    size_t method_len;
    const char *path; /* raw, as received (not decoded), without the query */
    size_t path_len;
    const char *query; /* raw, without '?'; may be NULL with length 0 */
    size_t query_len;
    const struct kumo_sigv4_kv *headers; /* all headers, in received order */
    size_t header_count;
    /* NULL: the payload hash is the one the client declared
     * (x-amz-content-sha256 header for header auth; for a presigned request
     * the X-Amz-Content-Sha256 parameter or UNSIGNED-PAYLOAD under S3, the
     * empty-body hash under GENERIC). Else the hash to use (e.g. computed). */
    const char *payload_hash;
};

struct kumo_sigv4_verify_result {
    enum kumo_sigv4_reason reason;
    int query_auth;      /* 1: presigned (query) form; 0: Authorization */
    char *message;       /* S3-style error text (owned), NULL when OK */
    char *access_key_id; /* owned, once parsed */
    char *payload_hash;  /* owned: what the client declared (the data port
                            checks the body against a hex value) */
    time_t request_time; /* X-Amz-Date */
    time_t expires_at;   /* presigned: request_time + X-Amz-Expires */
    /* On success, for verifying aws-chunked bodies later: the request's
     * signature (seed), scope "YYYYMMDD/region/service/aws4_request" (owned)
     * and signing key. */
    char signature[KUMO_SIGV4_HEX_SIZE];
    char *scope;
    uint8_t signing_key[32];
    /* On KUMO_SIGV4_SIGNATURE_MISMATCH (owned, else NULL): what the server
     * computed and the signature the client sent, as S3 returns them in
     * its error body. */
    char *canonical_request;
    char *string_to_sign;
    char *signature_provided;
};

/* Verifies a SigV4-authenticated request the way S3 does: detects the form
 * (Authorization header or X-Amz-Algorithm query parameter), parses it,
 * checks the credential scope against `v`, the date against `now` (expiry,
 * future date, skew), the access key via v->lookup and its session token,
 * that host and every x-amz-* header present are signed, then rebuilds the
 * canonical request and compares signatures in constant time. Fills *res
 * (release with kumo_sigv4_verify_result_free even on failure) and returns
 * res->reason (KUMO_SIGV4_OK = 0 when the request is authentic).
 * Not done here: the body is not read (the caller checks it against a hex
 * res->payload_hash as it streams, and verifies aws-chunked chunk signatures
 * from res->signature/signing_key if it accepts STREAMING-* payloads); the
 * request date comes from X-Amz-Date only (not the RFC 1123 Date header);
 * messages may echo client bytes (bounded, printable ASCII): XML-escape them. */
enum kumo_sigv4_reason kumo_sigv4_verify(const struct kumo_sigv4_verifier *v,
                                         const struct kumo_sigv4_verify_request *req, time_t now,
                                         struct kumo_sigv4_verify_result *res);

/* Frees the owned fields and wipes the signing key. Safe on a zeroed result. */
void kumo_sigv4_verify_result_free(struct kumo_sigv4_verify_result *res);

/* Static name of a reason, e.g. "signature_mismatch". */
const char *kumo_sigv4_reason_name(enum kumo_sigv4_reason r);

/* The S3 error a data port answers for `r` (query_auth selects between the
 * header and query variants S3 uses): sets *http_status (400/403) and
 * returns the static S3 code ("SignatureDoesNotMatch", "AccessDenied",
 * "AuthorizationQueryParametersError", "InvalidAccessKeyId", ...). The
 * message is in kumo_sigv4_verify_result.message. */
const char *kumo_sigv4_reason_s3_code(enum kumo_sigv4_reason r, int query_auth, int *http_status);

/* ---- building blocks (also used by tests) ---- */

/* Appends the RFC 3986 encoding of in[0..len) to `out`: A-Z a-z 0-9 "-._~"
 * kept, '/' kept if keep_slash, every other byte as uppercase "%XX". */
void kumo_sigv4_uri_encode(const char *in, size_t len, int keep_slash, struct kumo_buf *out);

/* Writes the lowercase hex SHA-256 of data[0..len) and a NUL to `out`. */
void kumo_sigv4_sha256_hex(const void *data, size_t len, char out[KUMO_SIGV4_HEX_SIZE]);

/* Writes `t` as "YYYYMMDDTHHMMSSZ" (UTC). Returns 0, or KUMO_ERR_INVALID if
 * `t` is not representable. */
int kumo_sigv4_format_date(time_t t, char out[KUMO_SIGV4_DATE_SIZE]);

/* Parses exactly "YYYYMMDDTHHMMSSZ" (a real calendar time). Returns 0 and
 * sets *out, or KUMO_ERR_INVALID. */
int kumo_sigv4_parse_date(const char *s, size_t len, time_t *out);

/* Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date8),
 * region), service), "aws4_request") into out[32]. */
void kumo_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                            const char *service, uint8_t out[32]);

/* Appends the canonical URI of a wire (already encoded) path for `flavor`.
 * An empty path is "/". */
void kumo_sigv4_canonical_uri(const char *wire_path, size_t len, enum kumo_sigv4_flavor flavor,
                              struct kumo_buf *out);

#endif
