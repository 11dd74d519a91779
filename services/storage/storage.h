/* kumo-storage internals: settings, errors, keys, object metadata, the local
 * backend, presigning, the JWKS loader, the RPC service and the S3-compatible
 * data port. Nothing here is used outside services/storage. */
#ifndef KUMO_STORAGE_STORAGE_H
#define KUMO_STORAGE_STORAGE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/hex.h"
#include "aws/credentials.h"
#include "base/buf.h"
#include "runtime/config.h"
#include "base/errors.h"
#include "auth/jwt.h"
#include "auth/jwt_setup.h"
#include "rpc/rpc.h"
#include "auth/rpc_auth.h"
#include "aws/sigv4.h"

struct kumo_admin;
struct kumo_rpc_server;

/* ---- limits ---------------------------------------------------------------- */

#define STG_KEY_MAX          1024 /* bytes, as S3 */
#define STG_TENANT_MAX       128  /* = KUMO_JWT_ID_MAX */
#define STG_UPLOAD_ID_LEN    32   /* hex characters (128 random bits) */
#define STG_GEN_LEN          32   /* hex characters of a data file generation */
#define STG_ETAG_MAX         56   /* "<32 hex>-<parts>" and NUL, with room */
#define STG_CONTENT_TYPE_MAX 256
#define STG_HEADER_VALUE_MAX 1024 /* stored headers (content-disposition...) */
#define STG_USER_META_MAX    2048 /* x-amz-meta-* names + values, as S3 */
#define STG_MAX_STORED_HDRS  64
#define STG_META_FILE_MAX    (64 * 1024)
#define STG_PARTS_MAX        10000 /* S3's part number range 1..10000 */
#define STG_RESTORE_DAYS_MAX 365
#define STG_PAGE_DEFAULT     1000

/* ---- errors ---------------------------------------------------------------- */

/* What went wrong, in terms both faces understand: each maps to an S3 error
 * (code, HTTP status) for the data port and to a kumo_code for the RPCs.
 * Every error, one row each: its name, S3 code and HTTP status (the data
 * port), RPC code and S3's default message. enum stg_err and the table of
 * errors.c are both made from these rows. */
#define STG_ERRORS(X)                                                                              \
    X(STG_OK, "OK", 200, KUMO_CODE_OK, "OK")                                                       \
    X(STG_E_NO_SUCH_KEY, "NoSuchKey", 404, KUMO_CODE_NOT_FOUND,                                    \
      "The specified key does not exist.")                                                         \
    X(STG_E_NO_SUCH_UPLOAD, "NoSuchUpload", 404, KUMO_CODE_NOT_FOUND,                              \
      "The specified multipart upload does not exist. The upload ID may be invalid, or the "       \
      "upload may have been aborted or completed.")                                                \
    /* archived and not restored */                                                                \
    X(STG_E_INVALID_OBJECT_STATE, "InvalidObjectState", 403, KUMO_CODE_FAILED_PRECONDITION,        \
      "The operation is not valid for the object's storage class.")                                \
    /* missing part or ETag mismatch */                                                            \
    X(STG_E_INVALID_PART, "InvalidPart", 400, KUMO_CODE_FAILED_PRECONDITION,                       \
      "One or more of the specified parts could not be found. The part may not have been "         \
      "uploaded, or the specified entity tag may not match the part's entity tag.")                \
    X(STG_E_INVALID_PART_ORDER, "InvalidPartOrder", 400, KUMO_CODE_INVALID_ARGUMENT,               \
      "The list of parts was not in ascending order. Parts must be ordered by part number.")       \
    /* a part (not the last) under the minimum */                                                  \
    X(STG_E_ENTITY_TOO_SMALL, "EntityTooSmall", 400, KUMO_CODE_FAILED_PRECONDITION,                \
      "Your proposed upload is smaller than the minimum allowed object size.")                     \
    X(STG_E_ENTITY_TOO_LARGE, "EntityTooLarge", 400, KUMO_CODE_INVALID_ARGUMENT,                   \
      "Your proposed upload exceeds the maximum allowed object size.")                             \
    /* Content-MD5 or x-amz-checksum-sha256 mismatch */                                            \
    X(STG_E_BAD_DIGEST, "BadDigest", 400, KUMO_CODE_INVALID_ARGUMENT,                              \
      "The Content-MD5 or checksum value that you specified did not match what the server "        \
      "received.")                                                                                 \
    /* x-amz-content-sha256 mismatch */                                                            \
    X(STG_E_SHA256_MISMATCH, "XAmzContentSHA256Mismatch", 400, KUMO_CODE_INVALID_ARGUMENT,         \
      "The provided 'x-amz-content-sha256' header does not match what was computed.")              \
    /* a digest header that does not parse */                                                      \
    X(STG_E_INVALID_DIGEST, "InvalidDigest", 400, KUMO_CODE_INVALID_ARGUMENT,                      \
      "The Content-MD5 or checksum value that you specified is not valid.")                        \
    X(STG_E_INVALID_ARGUMENT, "InvalidArgument", 400, KUMO_CODE_INVALID_ARGUMENT,                  \
      "Invalid Argument")                                                                          \
    X(STG_E_KEY_TOO_LONG, "KeyTooLongError", 400, KUMO_CODE_INVALID_ARGUMENT,                      \
      "Your key is too long")                                                                      \
    X(STG_E_INVALID_STORAGE_CLASS, "InvalidStorageClass", 400, KUMO_CODE_INVALID_ARGUMENT,         \
      "The storage class you specified is not valid")                                              \
    X(STG_E_METADATA_TOO_LARGE, "MetadataTooLarge", 400, KUMO_CODE_INVALID_ARGUMENT,               \
      "Your metadata headers exceed the maximum allowed metadata size")                            \
    X(STG_E_MALFORMED_XML, "MalformedXML", 400, KUMO_CODE_INVALID_ARGUMENT,                        \
      "The XML you provided was not well-formed or did not validate against our published "        \
      "schema")                                                                                    \
    X(STG_E_INCOMPLETE_BODY, "IncompleteBody", 400, KUMO_CODE_INVALID_ARGUMENT,                    \
      "You did not provide the number of bytes specified by the Content-Length HTTP header")       \
    X(STG_E_MISSING_CONTENT_LENGTH, "MissingContentLength", 411, KUMO_CODE_INVALID_ARGUMENT,       \
      "You must provide the Content-Length HTTP header.")                                          \
    X(STG_E_NOT_IMPLEMENTED, "NotImplemented", 501, KUMO_CODE_UNIMPLEMENTED,                       \
      "A header or operation you provided implies functionality that is not implemented")          \
    X(STG_E_PRECONDITION_FAILED, "PreconditionFailed", 412, KUMO_CODE_FAILED_PRECONDITION,         \
      "At least one of the preconditions you specified did not hold")                              \
    X(STG_E_INVALID_RANGE, "InvalidRange", 416, KUMO_CODE_OUT_OF_RANGE,                            \
      "The requested range is not satisfiable")                                                    \
    X(STG_E_MAX_MESSAGE_LENGTH, "MaxMessageLengthExceeded", 400, KUMO_CODE_INVALID_ARGUMENT,       \
      "Your request was too big.")                                                                 \
    X(STG_E_RESTORE_IN_PROGRESS, "RestoreAlreadyInProgress", 409, KUMO_CODE_FAILED_PRECONDITION,   \
      "Object restore is already in progress")                                                     \
    X(STG_E_INVALID_REQUEST, "InvalidRequest", 400, KUMO_CODE_INVALID_ARGUMENT, "Invalid Request") \
    /* an aws-chunked chunk or trailer signature */                                                \
    X(STG_E_SIGNATURE_MISMATCH, "SignatureDoesNotMatch", 403, KUMO_CODE_PERMISSION_DENIED,         \
      "The request signature we calculated does not match the signature you provided.")            \
    /* the S3 backend could not be reached or failed */                                            \
    X(STG_E_UPSTREAM, "ServiceUnavailable", 503, KUMO_CODE_UNAVAILABLE,                            \
      "The object store could not be reached or failed.")                                          \
    /* no space left on the local backend's volume */                                              \
    X(STG_E_STORAGE_FULL, "InsufficientStorage", 507, KUMO_CODE_RESOURCE_EXHAUSTED,                \
      "The storage volume is full (no space left on device): nothing was stored. Retry "           \
      "once space is freed.")                                                                      \
    X(STG_E_INTERNAL, "InternalError", 500, KUMO_CODE_INTERNAL,                                    \
      "We encountered an internal error. Please try again.")

#define STG_ERR_NAME(name, s3, http, rpc, msg) name,
enum stg_err { STG_ERRORS(STG_ERR_NAME) STG_E__COUNT };
#undef STG_ERR_NAME

/* S3 code ("NoSuchKey"), HTTP status and RPC code of an error. */
const char *stg_err_s3_code(enum stg_err e);
int stg_err_http_status(enum stg_err e);
kumo_code stg_err_rpc_code(enum stg_err e);
/* S3's default message for the error. */
const char *stg_err_message(enum stg_err e);

/* ---- settings ---------------------------------------------------------------- */

struct stg_settings {
    const char *backend; /* "local" */
    const char *root;
    const char *bucket;
    const char *region;
    const char *data_addr;
    int data_port;          /* -1: off */
    const char *public_url; /* "" until resolved after the data port binds */
    const char *access_key_id;
    const char *secret_access_key;
    int64_t presign_ttl_s;
    int64_t download_ttl_max_s; /* longest download URL lifetime */
    int64_t max_object_size;
    int64_t max_part_size;
    int64_t min_part_size;
    int max_parts;
    int64_t max_xml_size;
    int64_t restore_ms[4]; /* by RestoreTier value (0 = STANDARD's) */
    int64_t restore_day_ms;
    const char *cors_origins;
    int64_t cors_max_age_s;
    int data_max_connections;
    int64_t data_timeout_s;
    int64_t data_connection_memory;
    int64_t drain_timeout_ms;
    int do_fsync;
    int64_t min_free;             /* KUMO_STORAGE_MIN_FREE: /readyz 503 below it */
    struct kumo_jwt_settings jwt; /* KUMO_JWT_*, KUMO_SERVICE_CALLERS (auth/jwt_setup.h) */
    const char *s3_endpoint;
    const char *s3_addressing; /* auto, path, virtual */
    int64_t s3_timeout_ms;
    const char *s3_ca_file;
    const char *events_journal; /* "" or NULL: <root>/events.journal */
    const char *events_source;  /* auto, dataport, sqs */
    const char *sqs_queue_url;  /* "" = none */
    const char *sqs_region;
    int64_t sqs_wait_ms;
    int64_t events_keep;
};

/* The daemon's variables (for kumo_daemon_spec). */
const struct kumo_config_var *stg_config_vars(size_t *n);

/* Fills *s from the loaded configuration (strings borrowed from `c`) and
 * checks what the table cannot. Returns 0, or -1 after logging why. */
int stg_settings_load(const struct kumo_config *c, struct stg_settings *s);

/* ---- keys ---------------------------------------------------------------- */

/* Checks the syntax of an object key: 1..STG_KEY_MAX bytes of UTF-8 without
 * NUL or control characters, no leading '/', no empty, "." or ".." segments,
 * no backslash, and the form "t/<tenant>/<rest>" with a tenant of printable
 * ASCII. Returns STG_OK, STG_E_KEY_TOO_LONG or STG_E_INVALID_ARGUMENT with
 * *why (may be NULL) a static reason safe to show clients. */
enum stg_err stg_key_check(const char *key, size_t len, const char **why);

/* For a key that passed stg_key_check: points *tid at its tenant segment. */
void stg_key_tenant(const char *key, const char **tid, size_t *tid_len);

/* Returns 1 if `key` (checked) lies under "t/<tid>/". */
int stg_key_in_tenant(const char *key, const char *tid);

/* Returns 1 if id[0..len) is a well-formed upload id (STG_UPLOAD_ID_LEN
 * lowercase hex characters). */
int stg_upload_id_valid(const char *id, size_t len);

/* Returns 1 if `name` is a valid S3 bucket name (3..63 of a-z 0-9 . -,
 * starting and ending with a letter or digit, no "..", not an IP address). */
int stg_bucket_name_valid(const char *name);

/* Returns 1 if s[0..len) is an acceptable Content-Type value (1..
 * STG_CONTENT_TYPE_MAX printable ASCII bytes). */
int stg_content_type_valid(const char *s, size_t len);

/* ---- what browsers may render (serve_policy.c) -------------------------------- */

/* Returns 1 if content of type ct[0..len) may be served inline: a raster
 * image (png, apng, jpeg, gif, webp, avif, bmp, icons; never SVG),
 * application/pdf, or text/plain with a charset parameter; the value must
 * parse as type/subtype *(; name=token|quoted-string). 0 for anything else
 * (HTML, SVG, XML, scripts, text without a charset, malformed values). */
int stg_inline_safe(const char *ct, size_t len);

/* Appends to `out` the Content-Disposition to serve an object of type `ct`
 * (NUL-terminated) with, given the one asked for (`want`: the
 * response-content-disposition override or the stored header; NULL or
 * blank for none). A type that is not inline-safe is always an attachment:
 * `want` kept if its type is already "attachment", else "attachment" with
 * want's parameters (a filename survives), else "attachment". An
 * inline-safe type keeps `want` as it is (nothing appended when blank:
 * no header). */
void stg_serve_disposition(const char *ct, const char *want, struct kumo_buf *out);

/* ---- flexible checksums (checksum.c) ------------------------------------------- */

/* S3's checksum algorithms (x-amz-checksum-<alg>). */
enum stg_ck_alg {
    STG_CK_NONE = 0,
    STG_CK_CRC32,
    STG_CK_CRC32C,
    STG_CK_CRC64NVME,
    STG_CK_SHA1,
    STG_CK_SHA256,
};

/* How an object's checksum was computed: over its bytes (FULL_OBJECT), or
 * as the checksum of its parts' checksums ("<base64>-<parts>", COMPOSITE). */
enum stg_ck_type {
    STG_CK_FULL_OBJECT = 0,
    STG_CK_COMPOSITE = 1,
};

#define STG_CK_MAX_LEN 32 /* bytes of the longest checksum (SHA-256) */
#define STG_CK_B64_MAX 56 /* base64 of 32 bytes (44), "-10000" and NUL */

/* A running checksum. */
struct stg_cksum {
    enum stg_ck_alg alg;
    uint32_t c32;
    uint64_t c64;
    EVP_MD_CTX *md;
};

/* CRC-32 (zlib), CRC-32C (Castagnoli, ISA-L) and CRC-64/NVME of data,
 * continuing from `crc` (0 to start; the value returned for the bytes so
 * far to go on). */
uint32_t stg_crc32(uint32_t crc, const void *data, size_t len);
uint32_t stg_crc32c(uint32_t crc, const void *data, size_t len);
uint64_t stg_crc64nvme(uint64_t crc, const void *data, size_t len);

/* "CRC32"...; the header "x-amz-checksum-crc32"...; the XML element
 * "ChecksumCRC32"...; the raw length in bytes. "" / 0 for STG_CK_NONE. */
const char *stg_ck_name(enum stg_ck_alg a);
const char *stg_ck_header(enum stg_ck_alg a);
const char *stg_ck_xml(enum stg_ck_alg a);
size_t stg_ck_len(enum stg_ck_alg a);
/* The algorithm named s[0..len) (any case), or STG_CK_NONE. */
enum stg_ck_alg stg_ck_parse(const char *s, size_t len);
/* The algorithm whose header is name[0..len) (any case), or STG_CK_NONE. */
enum stg_ck_alg stg_ck_from_header(const char *name, size_t len);

/* Starts a checksum (STG_CK_NONE: updates do nothing). */
void stg_ck_init(struct stg_cksum *c, enum stg_ck_alg a);
void stg_ck_update(struct stg_cksum *c, const void *data, size_t len);
/* Writes the big-endian checksum to out and returns its length; frees c. */
size_t stg_ck_final(struct stg_cksum *c, uint8_t out[STG_CK_MAX_LEN]);
/* Frees c without a result (safe twice, and on a zeroed struct). */
void stg_ck_free(struct stg_cksum *c);
/* Base64 (padded) of raw[0..len) into out. */
void stg_ck_b64(const uint8_t *raw, size_t len, char out[STG_CK_B64_MAX]);
/* Decodes the base64 checksum s of algorithm a into out. Returns 0, or -1
 * unless it is exactly stg_ck_len(a) bytes of valid base64. */
int stg_ck_unb64(const char *s, enum stg_ck_alg a, uint8_t out[STG_CK_MAX_LEN]);

/* ---- aws-chunked bodies (chunked.c) ---------------------------------------------- */

/* Bounds on what a client controls in an aws-chunked body. */
#define STG_CHUNK_MAX          (64 * 1024 * 1024) /* payload bytes of one chunk */
#define STG_CHUNK_LINE_MAX     256                /* a chunk header line */
#define STG_CHUNK_TRAILERS_MAX 8                  /* trailing header lines */
#define STG_CHUNK_TRAILER_MAX  512                /* one trailing header line */

/* How the chunks are signed (from x-amz-content-sha256). */
struct stg_chunked_cfg {
    int signed_chunks; /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] */
    int trailer;       /* *-TRAILER: trailing headers follow the last chunk */
    /* signed_chunks only: the request's signing key, X-Amz-Date
     * ("YYYYMMDDTHHMMSSZ"), credential scope and seed signature (hex). */
    uint8_t key[32];
    char date[17];
    char scope[160];
    char seed[65];
};

/* The decoder of one body. */
struct stg_chunked;

/* Receives decoded payload bytes; returns 0, or nonzero to stop decoding
 * (stg_chunked_feed then fails with STG_E_INTERNAL). */
typedef int (*stg_chunked_sink)(void *arg, const uint8_t *p, size_t n);

/* A decoder for `cfg` (copied), emitting payload to sink(arg, ...). */
struct stg_chunked *stg_chunked_new(const struct stg_chunked_cfg *cfg, stg_chunked_sink sink,
                                    void *arg);
/* Frees the decoder and wipes its key. NULL is ignored. */
void stg_chunked_free(struct stg_chunked *c);

/* Decodes the next n wire bytes (any split). Returns STG_OK or, for good
 * (later calls keep returning it): STG_E_INVALID_REQUEST (malformed
 * framing, bounds exceeded, bytes after the end), STG_E_SIGNATURE_MISMATCH
 * (a chunk or trailer signature) with *why a static reason. */
enum stg_err stg_chunked_feed(struct stg_chunked *c, const uint8_t *p, size_t n, const char **why);
/* After the last byte: STG_OK if the body ended exactly (final chunk and,
 * with a trailer, the trailing headers and their blank line), else
 * STG_E_INCOMPLETE_BODY or the error feed returned. */
enum stg_err stg_chunked_finish(struct stg_chunked *c, const char **why);
/* Payload bytes decoded so far. */
int64_t stg_chunked_decoded(const struct stg_chunked *c);
/* The value of trailing header `name` (lowercase), or NULL. */
const char *stg_chunked_trailer(const struct stg_chunked *c, const char *name);

/* ---- object metadata ------------------------------------------------------- */

enum stg_class {
    STG_CLASS_UNSPECIFIED = 0,
    STG_CLASS_STANDARD = 1,
    STG_CLASS_GLACIER = 2,
    STG_CLASS_DEEP_ARCHIVE = 3,
};

enum stg_restore_state {
    STG_RESTORE_NONE = 0, /* not archived */
    STG_RESTORE_ARCHIVED = 1,
    STG_RESTORE_IN_PROGRESS = 2,
    STG_RESTORE_RESTORED = 3,
};

enum stg_tier {
    STG_TIER_UNSPECIFIED = 0,
    STG_TIER_EXPEDITED = 1,
    STG_TIER_STANDARD = 2,
    STG_TIER_BULK = 3,
};

/* A header stored with an object and returned on GET/HEAD (x-amz-meta-*,
 * content-disposition, content-encoding, cache-control, content-language,
 * expires). Owned strings. */
struct stg_hdr {
    char *name; /* lowercase */
    char *value;
};

/* A time the backend does not know (an S3 restore in progress). */
#define STG_TIME_UNKNOWN INT64_MAX

/* An object's metadata, as kept in its sidecar file (also the settings of a
 * multipart upload). */
struct stg_meta {
    char key[STG_KEY_MAX + 1];
    char gen[STG_GEN_LEN + 1]; /* data file generation; "" for uploads */
    int64_t size;
    char etag[STG_ETAG_MAX]; /* without quotes */
    uint8_t sha256[32];
    char content_type[STG_CONTENT_TYPE_MAX + 1];
    enum stg_class storage_class;
    int parts; /* 0 for a single PUT */
    int64_t mtime_ms;
    enum stg_tier restore_tier;
    int64_t restore_ready_ms; /* 0: never restored; STG_TIME_UNKNOWN: ongoing */
    int64_t restore_expire_ms;
    /* The flexible checksum the client chose (STG_CK_NONE: none), its type
     * and base64 value ("" for an upload in progress). */
    enum stg_ck_alg ck_alg;
    enum stg_ck_type ck_type;
    char ck_value[STG_CK_B64_MAX];
    struct stg_hdr *hdrs;
    size_t n_hdrs;
};

void stg_meta_init(struct stg_meta *m);
/* Frees the headers; the struct may be reused after stg_meta_init. */
void stg_meta_clear(struct stg_meta *m);
/* Deep copy into *dst (initialized or cleared first by the caller). */
void stg_meta_copy(struct stg_meta *dst, const struct stg_meta *src);
/* Appends a stored header (copied). */
void stg_meta_add_hdr(struct stg_meta *m, const char *name, size_t nlen, const char *value,
                      size_t vlen);
/* Appends the sidecar JSON of `m` to `out`. */
void stg_meta_encode(const struct stg_meta *m, struct kumo_buf *out);
/* Parses a sidecar. Returns 0 (m filled; clear it later) or KUMO_ERR_INVALID. */
int stg_meta_decode(const char *json, size_t len, struct stg_meta *m);

/* Restore state at `now_ms`. */
enum stg_restore_state stg_meta_restore_state(const struct stg_meta *m, int64_t now_ms);
/* Returns 1 if the object's bytes may be read at `now_ms`. */
int stg_meta_readable(const struct stg_meta *m, int64_t now_ms);

/* "STANDARD", "GLACIER", "DEEP_ARCHIVE"; NULL for others. */
const char *stg_class_name(enum stg_class c);
/* Parses an S3 x-amz-storage-class value. Returns the class, or
 * STG_CLASS_UNSPECIFIED if unknown. */
enum stg_class stg_class_parse(const char *s, size_t len);
/* "Expedited", "Standard", "Bulk". */
const char *stg_tier_name(enum stg_tier t);

/* Wall clock in milliseconds since the epoch. */
int64_t stg_now_ms(void);
/* Writes an HTTP date ("Mon, 23 Nov 2026 08:00:00 GMT") of `ms` to out[32]. */
void stg_http_date(int64_t ms, char out[32]);
/* Writes an ISO 8601 UTC time with milliseconds ("2026-11-23T08:00:00.000Z"). */
void stg_iso_date(int64_t ms, char out[32]);

/* ---- local backend ----------------------------------------------------------- */

struct stg_store;

/* Opens (creating if needed) the store rooted at `root`. Returns 0 and sets
 * *out, or -1 after logging why. */
int stg_store_open(struct stg_store **out, const char *root, int do_fsync);
void stg_store_close(struct stg_store *st);

struct stg_sweep_stats {
    unsigned long temp_removed;    /* temporary files of interrupted writes */
    unsigned long orphans_removed; /* data files no metadata points at */
    unsigned long broken_removed;  /* metadata without its data */
    unsigned long uploads_kept;
};

/* Removes what interrupted writes left behind. Run at start-up, before
 * serving. Returns 0 or -1 (logged). */
int stg_store_sweep(struct stg_store *st, struct stg_sweep_stats *stats);

/* Readiness: 0 if the root is still usable and its volume has at least
 * the free space set by stg_store_set_min_free, else fills err. */
int stg_store_check(struct stg_store *st, char *err, size_t errlen);

/* Sets the free space (bytes available to this process) under which
 * stg_store_check fails (0: no threshold). */
void stg_store_set_min_free(struct stg_store *st, int64_t bytes);

/* A temporary file being written, with running MD5 and SHA-256. */
struct stg_writer;

/* Opens a temporary file computing MD5 if want_md5 and SHA-256 if
 * want_sha256 (a digest not computed reads as zeros). */
enum stg_err stg_writer_open(struct stg_store *st, int want_md5, int want_sha256,
                             struct stg_writer **out);
/* Appends n bytes. STG_E_INTERNAL on an I/O error (logged). */
enum stg_err stg_writer_write(struct stg_writer *w, const void *p, size_t n);
int64_t stg_writer_size(const struct stg_writer *w);
/* Finishes the digests (once; later calls return the same values). The
 * SHA-256 is zero if the writer was opened without it. */
void stg_writer_digests(struct stg_writer *w, uint8_t md5[16], uint8_t sha256[32]);
/* Removes the temporary file and frees w. NULL is ignored. */
void stg_writer_discard(struct stg_writer *w);

/* Makes the written bytes the object m->key atomically (fsync, rename, fsync
 * directory; then the metadata sidecar likewise). Fills m->gen, size, etag
 * (MD5 hex), sha256, mtime_ms. Consumes w in all cases. */
enum stg_err stg_object_put(struct stg_store *st, struct stg_writer *w, struct stg_meta *m);

/* Reads the metadata of `key`. STG_E_NO_SUCH_KEY if absent. */
enum stg_err stg_object_stat(struct stg_store *st, const char *key, struct stg_meta *m);

/* Opens the bytes of `key` for reading, consistent with the metadata
 * returned (a concurrent overwrite does not mix versions). *fd is the
 * caller's to close. */
enum stg_err stg_object_open(struct stg_store *st, const char *key, struct stg_meta *m, int *fd);

/* Deletes `key`; *existed (may be NULL) says whether it was there. */
enum stg_err stg_object_delete(struct stg_store *st, const char *key, int *existed);

/* Copies src to dst (new data file, MD5 ETag of the content), with class
 * `cls` (UNSPECIFIED: STANDARD), keeping the source's content type and
 * stored headers unless `replace` is given (then its content type and
 * headers are used, as S3's x-amz-metadata-directive: REPLACE).
 * STG_E_INVALID_OBJECT_STATE if the source is archived and not restored.
 * Fills *out. */
enum stg_err stg_object_copy(struct stg_store *st, const char *src, const char *dst,
                             enum stg_class cls, const struct stg_meta *replace, int64_t now_ms,
                             struct stg_meta *out);

/* Changes the class of `key`. Leaving an archived class needs a restored
 * copy (else STG_E_INVALID_OBJECT_STATE). Fills *out. */
enum stg_err stg_object_set_class(struct stg_store *st, const char *key, enum stg_class cls,
                                  int64_t now_ms, struct stg_meta *out);

/* Starts (or, if restored, extends) a restore of an archived object: ready
 * after delay_ms, then readable for days * day_ms. *before receives the
 * restore state found: RESTORED (only the expiry moved, counted from now),
 * IN_PROGRESS (left as it is) or ARCHIVED (a restore started).
 * STG_E_INVALID_OBJECT_STATE for an object that is not archived. */
enum stg_err stg_object_restore(struct stg_store *st, const char *key, int days, enum stg_tier tier,
                                int64_t delay_ms, int64_t day_ms, int64_t now_ms,
                                struct stg_meta *out, enum stg_restore_state *before);

/* An object in a listing. */
struct stg_list_entry {
    char *key; /* owned */
    int64_t size;
    char etag[STG_ETAG_MAX];
    int64_t mtime_ms;
    enum stg_class storage_class;
    enum stg_ck_alg ck_alg;
};

/* Every object whose key starts with `prefix`, sorted by key (byte order,
 * as S3's UTF-8 binary order). Reads every sidecar: the local backend
 * keeps no index, so a listing costs one pass over the store. *out is the
 * caller's (stg_list_free). */
enum stg_err stg_object_list(struct stg_store *st, const char *prefix, struct stg_list_entry **out,
                             size_t *n);
void stg_list_free(struct stg_list_entry *entries, size_t n);

/* ---- multipart uploads (local backend) -------------------------------------- */

struct stg_part {
    int number;
    char etag[33]; /* MD5 hex */
    /* CompleteMultipartUpload: the part's checksum the client listed
     * (base64, "" if none) for the upload's algorithm. */
    char ck[STG_CK_B64_MAX];
    enum stg_ck_alg ck_alg;
    int64_t size;
    int64_t mtime_ms;
};

/* Creates an upload for init->key with init's content type, class and
 * headers; writes its id (STG_UPLOAD_ID_LEN hex + NUL) to id_out. */
enum stg_err stg_mpu_create(struct stg_store *st, const struct stg_meta *init,
                            char id_out[STG_UPLOAD_ID_LEN + 1]);

/* Reads an upload's settings; STG_E_NO_SUCH_UPLOAD unless it exists for
 * `key`. `m` may be NULL (existence check). */
enum stg_err stg_mpu_get(struct stg_store *st, const char *id, const char *key, struct stg_meta *m);

/* Stores the written bytes as part `number` of the upload (replacing an
 * earlier one) and writes its ETag to etag_out: the MD5 hex of the bytes,
 * or, for a writer opened without MD5, the first 16 bytes of the SHA-256
 * `ck` (then required: STG_E_INTERNAL otherwise) in hex. ck_alg / ck
 * (base64): the flexible checksum the data port verified on the PUT
 * (STG_CK_NONE: none), kept with the part for completion. Consumes w. */
enum stg_err stg_mpu_put_part(struct stg_store *st, const char *id, const char *key, int number,
                              struct stg_writer *w, enum stg_ck_alg ck_alg, const char *ck,
                              char etag_out[33]);

/* Lists the parts in ascending order from part number > `after`, at most
 * `max` (*truncated = 1 if more follow). *parts is the caller's (kumo_free). */
enum stg_err stg_mpu_list(struct stg_store *st, const char *id, const char *key, int after, int max,
                          struct stg_part **parts, size_t *n, int *truncated);

/* Assembles the listed parts (ascending numbers, ETags without quotes) into
 * the object; every part but the last must be >= min_part_size. A part's
 * listed checksum (ck, ck_alg) is compared, as S3 does, with the one its
 * PUT carried and the data port verified, whatever algorithm the upload
 * asked for: a mismatch, or a part PUT without one, is STG_E_INVALID_PART
 * with *why == stg_why_part_checksum or stg_why_part_no_checksum, nothing
 * assembled. Fills *out (ETag "<md5 of md5s>-<n>"). Removes the upload. */
enum stg_err stg_mpu_complete(struct stg_store *st, const char *id, const char *key,
                              const struct stg_part *want, size_t n, int64_t min_part_size,
                              struct stg_meta *out, const char **why);
/* The *why of a completion refused for a part's checksum. */
extern const char stg_why_part_checksum[];
extern const char stg_why_part_no_checksum[];

/* Discards the upload and its parts. */
enum stg_err stg_mpu_abort(struct stg_store *st, const char *id, const char *key);

/* ---- backends: what the RPCs run against ---------------------------------------- */

/* Longest upload id accepted from any backend (S3's are opaque text). */
#define STG_UPLOAD_ID_MAX 1024

struct stg_ctx;
struct stg_s3;

/* The object operations behind the RPCs, for the local store or S3. Each
 * fills its outputs only on STG_OK; `out` metadata is the caller's to
 * clear. */
struct stg_backend_ops {
    const char *name;
    /* Returns 1 if id[0..len) can be an upload id of this backend. */
    int (*upload_id_valid)(const char *id, size_t len);
    enum stg_err (*stat)(struct stg_ctx *c, const char *key, struct stg_meta *m);
    enum stg_err (*remove)(struct stg_ctx *c, const char *key);
    enum stg_err (*copy)(struct stg_ctx *c, const char *src, const char *dst, enum stg_class cls,
                         struct stg_meta *out);
    enum stg_err (*set_class)(struct stg_ctx *c, const char *key, enum stg_class cls,
                              struct stg_meta *out);
    enum stg_err (*restore)(struct stg_ctx *c, const char *key, int days, enum stg_tier tier,
                            struct stg_meta *out, enum stg_restore_state *before);
    enum stg_err (*mpu_create)(struct stg_ctx *c, const struct stg_meta *init,
                               char id_out[STG_UPLOAD_ID_MAX + 1]);
    enum stg_err (*mpu_check)(struct stg_ctx *c, const char *id, const char *key);
    enum stg_err (*mpu_list)(struct stg_ctx *c, const char *id, const char *key, int after, int max,
                             struct stg_part **parts, size_t *n, int *truncated);
    enum stg_err (*mpu_complete)(struct stg_ctx *c, const char *id, const char *key,
                                 const struct stg_part *want, size_t n, struct stg_meta *out,
                                 const char **why);
    enum stg_err (*mpu_abort)(struct stg_ctx *c, const char *id, const char *key);
    /* Copies the credentials that sign presigned URLs into *out (caller
     * clears). Returns 0 or a negative error (logged). */
    int (*sign_creds)(struct stg_ctx *c, struct kumo_aws_credentials *out);
};

/* The local backend (ctx->store). */
extern const struct stg_backend_ops stg_backend_local;

/* The S3 backend (ctx->s3): KUMO_STORAGE_S3_* settings, credentials from
 * the provider chain of aws_credentials.h. */
extern const struct stg_backend_ops stg_backend_s3;

/* Sets up ctx->s3 and the URL parts presigning uses. Returns 0 or -1
 * (logged). */
int stg_s3_open(struct stg_ctx *ctx);
/* Frees what stg_s3_open made. NULL is ignored. */
void stg_s3_close(struct stg_s3 *s3);

/* ---- shared daemon state ------------------------------------------------------ */

struct stg_dataport;
struct stg_s3;
struct stg_journal;
struct stg_sqs;

struct stg_ctx {
    struct stg_settings s;
    const struct stg_backend_ops *be;
    struct stg_store *store;           /* local backend */
    struct stg_s3 *s3;                 /* S3 backend */
    char *path_prefix;                 /* "/<bucket>" (path style) or "" before "/<key>" in URLs */
    struct kumo_aws_credentials creds; /* the data port's key pair */
    char *public_url;                  /* "http://host:port", no trailing '/' */
    char *public_host;                 /* the Host header clients send */
    struct kumo_jwt_setup jwt;         /* token verification of RPC callers (auth/jwt_setup.h) */
    struct stg_dataport *dp;
    struct stg_journal *journal; /* object events (journal.h) */
    int dataport_events;         /* the data port journals its own events */
    struct stg_sqs *sqs;         /* S3 Event Notifications through SQS (sqs.h) */
};

/* ---- presigning ---------------------------------------------------------------- */

/* Presigns `method` on the object `key` (plain text) with query parameters
 * `query` (wire order) and extra signed headers (besides host) for
 * `expires` seconds at `now`; appends the full URL to `url`. Returns 0 or a
 * negative KUMO_ERR_*. */
int stg_presign(const struct stg_ctx *ctx, const char *method, const char *key,
                const struct kumo_sigv4_kv *query, size_t nq, const struct kumo_sigv4_kv *headers,
                size_t nh, long expires, time_t now, struct kumo_buf *url);

/* Splits "http(s)://authority[/]" into the base URL (no trailing '/')
 * and the Host header value (the default port dropped). Returns 0 (both
 * the caller's to free) or -1. */
int stg_url_split(const char *url, char **base, char **host);

/* Sets ctx->public_url/public_host from the settings (or the bound data
 * port). Returns 0 or -1 (logged). */
int stg_public_url_init(struct stg_ctx *ctx, int bound_port);

/* ---- JWKS and authentication --------------------------------------------------- */

/* ---- RPC service ---------------------------------------------------------------- */

void stg_service_init(struct kumo_rpc_service *svc, struct stg_ctx *ctx);

/* ---- object events (events.c) ----------------------------------------------------- */

/* Records that `m` (its key, size, etag, SHA-256) was just created on the
 * data plane (type: an enum stg_event_type of journal.h), durably, before
 * the request that made it is answered. Returns 0 or -1 (logged: the
 * request must then fail, so that its client retries). */
int stg_event_created(struct stg_ctx *ctx, int type, const struct stg_meta *m);

/* Restore-completed events of the local backend (restore_watch.c): watches
 * the restore of `m` (just requested, in progress) and journals
 * RESTORE_COMPLETED when it is ready. No-op unless the data port journals
 * events. */
void stg_restore_watch_add(struct stg_ctx *ctx, const struct stg_meta *m);
/* Starts the watcher (finding the restores in progress in the store) /
 * stops it. Start returns 0 or -1 (logged). */
int stg_restore_watch_start(struct stg_ctx *ctx);
void stg_restore_watch_stop(void);

/* Resolves the tenant an RPC acts for: service principals only, naming in
 * `requested` (tenant_id) the tenant their token was issued for. OK with
 * *tid, or answered. */
kumo_code stg_acting_tenant(struct kumo_rpc_call *call, const char *requested, const char **tid);

/* ListObjectEvents (service.c's table). */
kumo_code stg_list_object_events(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **response);

/* ---- data port -------------------------------------------------------------------- */

/* Starts the S3-compatible HTTP/1.1 data port. Returns 0 or -1 (logged). */
int stg_dataport_start(struct stg_ctx *ctx);
/* The bound port. */
int stg_dataport_port(const struct stg_dataport *dp);
/* Stops accepting, lets requests in flight finish (until `deadline`,
 * kumo_now_ns), then stops. NULL is ignored. */
void stg_dataport_stop(struct stg_dataport *dp, int64_t deadline);

/* The drain (SIGTERM): stops accepting, answers with Connection: close
 * from now on and closes idle keep-alive connections; requests already
 * received are answered. stg_dataport_drained: 1 once no request is in
 * flight and no connection open. NULL: no-op / 1. */
void stg_dataport_quiesce(struct stg_dataport *dp);
int stg_dataport_drained(struct stg_dataport *dp);

/* ---- S3 XML ---------------------------------------------------------------------- */

/* Appends `s` escaped for XML text. */
void stg_xml_escape(struct kumo_buf *out, const char *s, size_t len);

/* Parses a CompleteMultipartUpload body with libxml2 (no DTD, no entities,
 * no network). Returns STG_OK and sets *parts (caller frees) / *n, or
 * STG_E_MALFORMED_XML / STG_E_INVALID_PART_ORDER / STG_E_INVALID_ARGUMENT
 * with *why. */
enum stg_err stg_xml_parse_complete(const char *body, size_t len, int max_parts,
                                    struct stg_part **parts, size_t *n, const char **why);

/* Checks a part list for the shared rules (1..max parts, numbers 1..10000
 * strictly ascending). */
/* Parses a RestoreObject body (<RestoreRequest><Days>..</Days>
 * <GlacierJobParameters><Tier>..</Tier></GlacierJobParameters>) with the same
 * parser settings. Days 1..365 required; Tier defaults to Standard. Returns
 * STG_OK, STG_E_MALFORMED_XML or STG_E_NOT_IMPLEMENTED (select or output
 * location requests) with *why. */
enum stg_err stg_xml_parse_restore(const char *body, size_t len, int *days, enum stg_tier *tier,
                                   const char **why);

/* Parses a part ETag: 32 hex digits, optionally in double quotes, into
 * lowercase out[33]. Returns 0 or -1. */
int stg_etag_parse(const char *s, char out[33]);

enum stg_err stg_parts_check(struct stg_part *parts, size_t n, int max_parts, const char **why);

#endif
