/* kumo-documents internals: the state shared by the handlers, the job
 * workers and the helpers every file of the service uses. Nothing here is
 * used outside services/documents. */
#ifndef KUMO_DOCUMENTS_DOCUMENTS_H
#define KUMO_DOCUMENTS_DOCUMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "users/apikey_exchange.h"
#include "base/buf.h"
#include "runtime/config.h"
#include "db/call.h"
#include "db/db.h"
#include "db/rds_auth.h"
#include "auth/jwks_fetch.h"
#include "auth/jwt_setup.h"
#include "runtime/probes.h"
#include "kumo/documents/v1/documents.pb-c.h"
#include "auth/jwt.h"
#include "rpc/fields.h"
#include "rpc/rpc.h"
#include "auth/rpc_auth.h"
#include "rpc_client/client.h"
#include "rpc/server.h"

#define DOCS_ID_MAX 32 /* "doc_" + 20 base32 characters, with room */

/* Settings from the KUMO_* variables (config.c). Durations in ms unless
 * the name says otherwise. */
struct docs_settings {
    struct kumo_jwt_settings jwt; /* token verification (the KUMO_JWT_* settings) */
    /* peers */
    const char *storage_target;       /* KUMO_STORAGE_TARGET, "127.0.0.1:7103" */
    const char *users_target;         /* KUMO_USERS_TARGET, "127.0.0.1:7101" */
    const char *service_api_key_file; /* KUMO_SERVICE_API_KEY_FILE; NULL/"" = no jobs */
    /* documents */
    int64_t max_document_size;   /* KUMO_MAX_DOCUMENT_SIZE */
    int64_t multipart_threshold; /* KUMO_MULTIPART_THRESHOLD */
    int64_t multipart_part_size; /* KUMO_MULTIPART_PART_SIZE */
    int64_t upload_url_ttl_ms;   /* KUMO_UPLOAD_URL_TTL */
    int64_t download_url_ttl_ms; /* KUMO_DOWNLOAD_URL_TTL */
    int64_t retention_ms;        /* KUMO_DELETE_RETENTION: soft delete -> purge */
    int64_t upload_expiry_ms;    /* KUMO_UPLOAD_EXPIRY: pending uploads cleaned after */
    int64_t idempotency_ttl_ms;  /* KUMO_IDEMPOTENCY_TTL */
    /* jobs */
    int64_t jobs_workers;         /* KUMO_JOBS_WORKERS (0 = no workers here) */
    int64_t jobs_max_attempts;    /* KUMO_JOBS_MAX_ATTEMPTS */
    int64_t jobs_backoff_base_ms; /* KUMO_JOBS_BACKOFF_BASE */
    int64_t jobs_backoff_max_ms;  /* KUMO_JOBS_BACKOFF_MAX */
    int64_t jobs_poll_ms;         /* KUMO_JOBS_POLL_INTERVAL */
    int64_t jobs_sweep_ms;        /* KUMO_JOBS_SWEEP_INTERVAL */
    int64_t jobs_lease_ms;        /* KUMO_JOBS_LEASE */
    int64_t extract_text_max;     /* KUMO_EXTRACT_TEXT_MAX (bytes) */
    /* the sandboxed extractor (jobs/extract_child.c) */
    const char *extract_bin;       /* KUMO_EXTRACT_BIN ("": beside this binary, "off") */
    const char *extract_ocr_langs; /* KUMO_EXTRACT_OCR_LANGS ("eng+jpn", "off") */
    int64_t extract_timeout_ms;    /* KUMO_EXTRACT_TIMEOUT (also its CPU limit) */
    int64_t extract_memory;        /* KUMO_EXTRACT_MEMORY (address space, bytes) */
    int64_t extract_file_max;      /* KUMO_EXTRACT_FILE_MAX (bytes) */
    int64_t extract_max_pages;     /* KUMO_EXTRACT_MAX_PAGES */
    int64_t extract_ocr_pages;     /* KUMO_EXTRACT_OCR_PAGES */
    int64_t extract_max_pixels;    /* KUMO_EXTRACT_MAX_PIXELS */
    int64_t extract_zip_max;       /* KUMO_EXTRACT_ZIP_MAX (bytes) */
    int64_t thumbnail_size;        /* KUMO_THUMBNAIL_SIZE (pixels, 0: none) */
    /* object-created events (events/) */
    int upload_events;                /* KUMO_UPLOAD_EVENTS */
    const char *upload_events_target; /* KUMO_UPLOAD_EVENTS_TARGET, "" = storage_target */
    int64_t upload_events_wait_ms;    /* KUMO_UPLOAD_EVENTS_WAIT */
    int64_t upload_events_workers;    /* KUMO_UPLOAD_EVENTS_WORKERS */
};

/* Everything the handlers and workers share; built once at start-up
 * (context.c), immutable afterwards. */
struct docs_ctx {
    struct docs_settings s;
    struct kumo_db *db;
    struct kumo_db_rds_auth *db_rds;       /* when KUMO_DB_AUTH=iam */
    struct kumo_jwt_setup jwt;             /* verifier, authenticator, JWKS refresher */
    struct kumo_probes *probes;            /* readiness: db, storage */
    struct kumo_rpc_client *storage;       /* kumo-storage */
    struct kumo_rpc_client *users;         /* kumo-users (API key exchange) */
    struct kumo_apikey_exchange *exchange; /* the service principal's tokens */
    char *service_api_key;                 /* from KUMO_SERVICE_API_KEY_FILE, or NULL */
};

/* ---- limits of the data model ---- */

#define DOCS_TITLE_MAX_CHARS       300
#define DOCS_DESCRIPTION_MAX_CHARS 4000
#define DOCS_FILE_NAME_MAX_CHARS   255
#define DOCS_CONTENT_TYPE_MAX      255
#define DOCS_TAGS_MAX              50
#define DOCS_TAG_MAX_CHARS         64
#define DOCS_METADATA_MAX          (64 * 1024) /* as JSON text */
#define DOCS_IDEMPOTENCY_KEY_MAX   128
#define DOCS_QUERY_MAX_CHARS       200
#define DOCS_PAGE_DEFAULT          20
#define DOCS_PAGE_MAX              100
#define DOCS_PRESIGN_PARTS_MAX     1000  /* part URLs in one response */
#define DOCS_PARTS_MAX             10000 /* parts of one multipart upload */
#define DOCS_MIN_PART_SIZE         (5LL * 1024 * 1024)
#define DOCS_PARTS_PARALLEL        6 /* parts a client sends at once (the console) */
#define DOCS_DOWNLOAD_TTL_MAX_MS   (3600LL * 1000)

/* Roles on the documents ladder (kumo_principal.roles -> rank). */
enum docs_rank { DOCS_VIEWER = 1, DOCS_EDITOR = 2, DOCS_ADMIN = 3 };

/* ---- config.c ---- */

/* The daemon's own variables (DB ones included), for the daemon spec. */
const struct kumo_config_var *docs_config_vars(size_t *n);

/* Fills *s from a loaded configuration (strings borrowed from `c`).
 * Returns 0, or -1 after logging what is wrong. */
int docs_settings_load(const struct kumo_config *c, struct docs_settings *s);

/* Part size for `size` bytes: the configured size, shrunk (to whole MiB,
 * not below DOCS_MIN_PART_SIZE) so that there are at least
 * DOCS_PARTS_PARALLEL parts, or grown (to whole MiB) so that no more than
 * DOCS_PARTS_MAX are needed; sets *count. */
int64_t docs_part_size(const struct docs_settings *s, int64_t size, int32_t *count);

/* ---- context.c ---- */

/* Builds the context for serving: settings, DB pool, storage and users
 * clients, service API key and its exchange. Returns 0, or -1 after
 * logging why. (Token verification is set up by docs_auth_start.) */
int docs_ctx_init(struct docs_ctx *ctx, const struct kumo_config *c);

/* Opens only the DB pool (for migrate). */
int docs_ctx_open_db(struct docs_ctx *ctx, const struct kumo_config *c);

/* Releases everything docs_ctx_init / docs_ctx_open_db / docs_auth_start
 * made. */
void docs_ctx_free(struct docs_ctx *ctx);

/* ---- auth.c: token verification, readiness, who may call what ---- */

/* Token verification (common/auth/jwt_setup: kumo-users' JWKS, refreshed)
 * with the authenticator installed on `srv`, and the readiness checks db,
 * storage and jwks on `admin` (common/runtime/probes). Returns 0 or -1
 * after logging. */
struct kumo_admin;
int docs_auth_start(struct docs_ctx *ctx, struct kumo_rpc_server *srv, struct kumo_admin *admin);
void docs_auth_stop(struct docs_ctx *ctx);

/* Sets *p to the caller if it is a user (not a service principal) of at
 * least `rank` and returns OK; otherwise answers permission_denied (or
 * unauthenticated) and returns the code. */
kumo_code docs_caller(struct kumo_rpc_call *call, enum docs_rank rank,
                      const struct kumo_principal **p);

/* docs_caller, then the id in request field `field` (kumo_rpc_check_id):
 * what every handler naming one document checks first. OK or answered. */
kumo_code docs_caller_id(struct kumo_rpc_call *call, enum docs_rank rank, const char *field,
                         const char *id, const struct kumo_principal **p);

/* ---- migrations.c ---- */

const struct kumo_db_migration *docs_migrations(size_t *n);

/* The `migrate` subcommand. */
int docs_cmd_migrate(const struct kumo_config *c, int argc, char **argv, void *ud);

/* ---- the DB in a handler (common/db/call.h, rpc/fields.h) ---- */

/* Answers the call with the last DB error (safe message; NOT_FOUND is
 * "document not found"), releasing `c` (may be NULL; rolls back). Returns
 * the code. */
static inline kumo_code docs_db_fail(struct kumo_rpc_call *call, struct kumo_db_conn *c,
                                     kumo_code rc)
{
    return kumo_db_call_fail(call, c, rc, "document not found");
}

/* ---- storage_call.c ---- */

/* Calls kumo-storage's `method` as the service principal acting for
 * `tenant_id` (the caller's verified tenant): sets req's tenant_id, gets
 * the service token for that tenant (KUMO_SERVICE_API_KEY_FILE exchanged
 * with kumo-users, cached) and passes on the call's deadline and request
 * id, never the caller's token: kumo-storage serves only its service
 * callers, and this service decides who may touch a document's bytes. The
 * response lives in the call's arena. Returns OK, the storage code (logged
 * with its message, which is never passed on), or UNAVAILABLE when no
 * service token could be had. */
kumo_code docs_storage_call(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant_id,
                            const char *method, ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

/* Sets thumbnail_url and thumbnail_expire_time of those of docs[0..n)
 * (n <= 100) whose current version has a thumbnail, with presigned GETs
 * (thumbnail_url.c). Best effort: a failure leaves them empty. */
void docs_thumbnails_attach(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                            Kumo__Documents__V1__Document **docs, size_t n);

/* Calls kumo-storage `method` for a background job (`job_id` as the
 * request id, a 30 s deadline) as the service principal acting for
 * `tenant_id`; the response is malloc'd (protobuf_c_message_free_unpacked).
 * On failure returns the code and appends a description to `err`. */
kumo_code docs_job_storage_call(struct docs_ctx *ctx, const char *job_id, const char *tenant_id,
                                const char *method, const ProtobufCMessage *req,
                                const ProtobufCMessageDescriptor *resp_desc,
                                ProtobufCMessage **resp, struct kumo_buf *err);

/* docs_job_storage_call on another kumo-storage client (the event feed's,
 * KUMO_UPLOAD_EVENTS_TARGET). */
kumo_code docs_job_storage_call_via(struct docs_ctx *ctx, struct kumo_rpc_client *client,
                                    const char *job_id, const char *tenant_id, const char *method,
                                    const ProtobufCMessage *req,
                                    const ProtobufCMessageDescriptor *resp_desc,
                                    ProtobufCMessage **resp, struct kumo_buf *err);

/* Answers a failed storage call: unavailable "storage unavailable" for
 * transport errors, failed_precondition/not_found with `what` otherwise. */
kumo_code docs_storage_fail(struct kumo_rpc_call *call, kumo_code rc, const char *what);

/* ---- messages.c: rows (store/) to messages ---- */

struct docs_doc_row;
struct docs_version_row;

Kumo__Documents__V1__Document *docs_doc_message(struct kumo_rpc_call *call,
                                                const struct docs_doc_row *d);
Kumo__Documents__V1__Version *docs_version_message(struct kumo_rpc_call *call,
                                                   const struct docs_version_row *v);

/* Timestamp / etag in the call's arena. */
Google__Protobuf__Timestamp *docs_ts(struct kumo_rpc_call *call, int64_t us);
/* A Timestamp in microseconds since the epoch (0 for NULL). */
int64_t docs_ts_us(const Google__Protobuf__Timestamp *t);
char *docs_etag(struct kumo_rpc_call *call, int64_t version);

/* Struct <-> JSON object text. docs_metadata_json appends the JSON of `s`
 * (NULL: nothing) and returns 0, or -1 if not encodable. docs_struct_parse
 * decodes JSON text into a Struct in the call's arena (NULL on failure or
 * for NULL/empty text). */
int docs_metadata_json(const Google__Protobuf__Struct *s, struct kumo_buf *out);
Google__Protobuf__Struct *docs_struct_parse(struct kumo_rpc_call *call, const char *json);

/* ---- content.c: new content (CreateDocument, CreateVersion) ---- */

/* What a new version is made of, as the client declared it. */
struct docs_new_content {
    const char *file_name, *content_type;
    int64_t size;
    ProtobufCBinaryData sha256;
    int presign_parts, part_sha256; /* the request's flags (multipart only) */
};

/* The new content a CreateDocumentRequest or CreateVersionRequest names
 * (the two spell these fields alike). */
#define DOCS_NEW_CONTENT_OF(req)                                                                   \
    ((struct docs_new_content){.file_name = (req)->file_name,                                      \
                               .content_type = (req)->content_type,                                \
                               .size = (req)->size,                                                \
                               .sha256 = (req)->sha256,                                            \
                               .presign_parts = (req)->presign_parts,                              \
                               .part_sha256 = (req)->part_sha256})

/* Checks new content ("" content_type becomes application/octet-stream;
 * presign_parts and part_sha256 not both). OK, or answers
 * invalid_argument naming the field. */
kumo_code docs_check_content(struct kumo_rpc_call *call, const struct docs_settings *s,
                             struct docs_new_content *n);

/* Fills *out (store/versions.h) with pending version `version` of n: a
 * multipart upload above KUMO_MULTIPART_THRESHOLD, in docs_part_size
 * parts. */
struct docs_version_new;
void docs_pending_version(const struct docs_settings *s, const char *tenant_id, const char *doc_id,
                          int64_t version, const struct docs_new_content *n, const char *creator_id,
                          int64_t now_us, struct docs_version_new *out);

/* ---- validate.c: request fields ---- */

/* Each returns OK or answers invalid_argument naming `field`. */
kumo_code docs_check_file_name(struct kumo_rpc_call *call, const char *field, const char *s);
kumo_code docs_check_title(struct kumo_rpc_call *call, const char *field, const char *s);
kumo_code docs_check_description(struct kumo_rpc_call *call, const char *field, const char *s);
kumo_code docs_check_content_type(struct kumo_rpc_call *call, const char *field, const char *s);
kumo_code docs_check_sha256(struct kumo_rpc_call *call, const char *field, ProtobufCBinaryData b);
kumo_code docs_check_size(struct kumo_rpc_call *call, const struct docs_settings *s,
                          const char *field, int64_t size);
/* Checks tags and appends them joined by ' ' to `text`. */
kumo_code docs_check_tags(struct kumo_rpc_call *call, const char *field, char **tags, size_t n,
                          struct kumo_buf *text);
/* Checks metadata and appends its JSON to `json` (nothing for NULL). */
kumo_code docs_check_metadata(struct kumo_rpc_call *call, const char *field,
                              const Google__Protobuf__Struct *m, struct kumo_buf *json);

/* Pure checks (fuzzed): 0 or -1 with a static *why. */
int docs_content_type_valid(const char *s, size_t len, const char **why);
int docs_file_name_valid(const char *s, size_t len, const char **why);
int docs_tag_valid(const char *s, size_t len, const char **why);

/* ---- upload.c: upload targets ---- */

/* Builds the upload target of a pending version (creating the multipart
 * upload and recording its id if it has none yet: with SHA-256 part
 * checksums asked of storage iff part_sha256, S3's SHA256 COMPOSITE, whose
 * part PUTs and completion must then all carry them). presign_parts: every
 * part's URL too (without checksums). Returns OK or answers. */
kumo_code docs_upload_target(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                             const char *tenant_id, const char *doc_id, struct docs_version_row *v,
                             int presign_parts, int part_sha256,
                             Kumo__Documents__V1__UploadTarget **out);

/* Presigns part `part_number` (1..v->part_count) of a pending multipart
 * version into *out; sets *expire to the URL's expiry. sha256 (NULL or 32
 * bytes) is signed into the URL as x-amz-checksum-sha256 (then a header
 * of *out). OK or answers. */
kumo_code docs_presign_part(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant_id,
                            const struct docs_version_row *v, int32_t part_number,
                            const ProtobufCBinaryData *sha256,
                            Kumo__Documents__V1__PartTarget **out,
                            Google__Protobuf__Timestamp **expire);

/* ---- complete_upload.c: completion from an object-created event ---- */

/* What an object-created event did. */
enum docs_event_outcome {
    DOCS_EVENT_COMPLETED = 0, /* the version became current */
    DOCS_EVENT_DUPLICATE,     /* it was complete already (an earlier event or CompleteUpload) */
    DOCS_EVENT_REJECTED,      /* the content failed the checks (recorded) or is gone */
    DOCS_EVENT_UNKNOWN,       /* no such pending version: dropped */
    DOCS_EVENT_ERROR,         /* transient (DB, storage): to retry */
};

/* Completes pending version `version` of document doc_id of tenant_id as
 * CompleteUpload would, on behalf of the version's creator, from an
 * object-created event (`call`: a background call, kumo_rpc_call_background,
 * carrying the deadline and request id). Idempotent: a version complete
 * already is DUPLICATE. OK with *outcome, or an error code (*outcome ERROR)
 * after which the event is to be retried. */
kumo_code docs_complete_from_event(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                                   const char *tenant_id, const char *doc_id, int64_t version,
                                   enum docs_event_outcome *outcome);

/* ---- lookup.c ---- */

/* Loads version `version` of a document on `c`. On failure answers
 * (not_found "version N not found", or the DB error), releases `c` and
 * returns the code. */
kumo_code docs_version_get(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                           const char *tenant_id, const char *doc_id, int64_t version,
                           struct docs_version_row *v);

/* ---- change.c: what the conditional changes share ---- */

/* Loads the document `id` of the caller to change (checking `etag` when
 * given: aborted if stale) and, when keys is not NULL, the content keys of
 * its available versions, newest first. OK or answered. */
kumo_code docs_load_for_change(struct docs_ctx *ctx, struct kumo_rpc_call *call,
                               const struct kumo_principal *p, const char *id, const char *etag,
                               struct docs_doc_row *d, char ***keys, size_t *n);

/* Leases a connection, begins a transaction and loads the document `id`
 * of the tenant FOR UPDATE into *d. OK with *c open, or answered (the
 * connection released). */
kumo_code docs_lock_doc(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tenant_id,
                        const char *id, struct kumo_db_conn **c, struct docs_doc_row *d);

/* Answers a conditional change that matched no row: the document is gone
 * (not_found) or the etag was stale (aborted). Rolls back, releases c. */
kumo_code docs_lost_race(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                         const char *id);

/* Commits, reads the document back and answers with a response of type
 * `desc`, whose first field is the Document. Releases c. */
kumo_code docs_finish_change(struct kumo_rpc_call *call, struct kumo_db_conn *c, const char *tid,
                             const char *id, const ProtobufCMessageDescriptor *desc,
                             ProtobufCMessage **response);
/* Ends a change made in c's transaction: with rc OK, records the caller's
 * audit event `action` on document `id` (details: JSON or NULL) and goes
 * on as docs_finish_change; otherwise (or when the audit fails) rolls back
 * and fails the call with rc. Releases c. */
kumo_code docs_finish_audited(struct kumo_rpc_call *call, struct kumo_db_conn *c,
                              const struct kumo_principal *p, kumo_code rc, const char *action,
                              const char *id, const char *details,
                              const ProtobufCMessageDescriptor *desc, ProtobufCMessage **response);

/* ---- the handlers ---- */

#define DOCS_HANDLER(name)                                                                         \
    kumo_code docs_##name(struct kumo_rpc_call *call, const ProtobufCMessage *request,             \
                          ProtobufCMessage **response)

DOCS_HANDLER(create_document);
DOCS_HANDLER(presign_upload_parts);
DOCS_HANDLER(complete_upload);

/* Creates the upload counters at zero, so that rates see the first event
 * (a counter born at 1 has no increase). Once, at start. */
void docs_upload_metrics_init(void);
DOCS_HANDLER(get_document);
DOCS_HANDLER(list_documents);
DOCS_HANDLER(update_document);
DOCS_HANDLER(archive_document);
DOCS_HANDLER(restore_document);
DOCS_HANDLER(delete_document);
DOCS_HANDLER(undelete_document);
DOCS_HANDLER(create_version);
DOCS_HANDLER(list_versions);
DOCS_HANDLER(list_audit_events);
/* dead_letters.c: tenant admins only. */
DOCS_HANDLER(list_dead_letters);
DOCS_HANDLER(redrive_dead_letter);

/* service.c: the service to register (user_data = ctx). */
void docs_service_init(struct kumo_rpc_service *svc, struct docs_ctx *ctx);

#endif
