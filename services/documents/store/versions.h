/* The document_versions table: one row per uploaded (or pending) content
 * of a document, and the object keys its bytes live under. Every statement
 * on it is in store/versions.c, next to the column list its rows are read
 * back with (the purge of a whole document: store/purge.c). */
#ifndef KUMO_DOCUMENTS_STORE_VERSIONS_H
#define KUMO_DOCUMENTS_STORE_VERSIONS_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "db/db.h"
#include "db/page_rows.h"
#include "kumo/documents/v1/documents.pb-c.h"
#include "rpc/rpc.h"

/* One document_versions row. */
struct docs_version_row {
    int64_t version, status, size, upload_method, part_size, part_count, create_us, complete_us;
    int complete_null;
    char *file_name, *content_type, *detected_content_type, *creator_id, *object_key, *upload_id;
    uint8_t sha256[32];
    size_t sha256_len;
};

/* Writes the object key of a version's upload, "t/<tenant>/d/<doc>/v<N>",
 * into out[cap] (truncated to fit, always terminated). Returns the length
 * the key has (as snprintf). */
int docs_version_key(char *out, size_t cap, const char *tenant_id, const char *doc_id,
                     int64_t version);

/* docs_version_key in the call's arena. */
char *docs_object_key(struct kumo_rpc_call *call, const char *tenant_id, const char *doc_id,
                      int64_t version);

/* Loads version `version` of a document. OK, NOT_FOUND or the DB error. */
kumo_code docs_version_load(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const char *tenant_id, const char *doc_id, int64_t version,
                            struct docs_version_row *v);

/* A new pending version. */
struct docs_version_new {
    const char *tenant_id, *doc_id, *file_name, *content_type, *creator_id;
    int64_t version, size;
    ProtobufCBinaryData sha256; /* len 0 or 32 */
    int multipart;              /* upload method: multipart, else single PUT */
    int64_t part_size;
    int32_t part_count;
    int64_t now_us;
};

/* Inserts a pending version under its upload key (docs_version_key). OK
 * or the DB error. (The caller queues the cleanup of its upload.) */
kumo_code docs_version_insert(struct kumo_db_conn *c, const struct docs_version_new *n);

/* Records the multipart upload id of a pending version unless one is
 * recorded already (*matched = 0 then). OK or the DB error. */
kumo_code docs_version_set_upload_id(struct kumo_db_conn *c, const char *tenant_id,
                                     const char *doc_id, int64_t version, const char *upload_id,
                                     uint64_t *matched);

/* Forgets the multipart upload of the pending version at `object_key`
 * (its next PresignUploadParts starts a fresh one). OK or the DB error. */
kumo_code docs_version_forget_upload(struct kumo_db_conn *c, const char *tenant_id,
                                     const char *object_key);

/* Marks a version complete (AVAILABLE), its content at content_key; sha
 * NULL or 32 bytes. OK or the DB error. */
kumo_code docs_version_complete(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                                int64_t version, const char *content_key, const uint8_t *sha,
                                int64_t now_us);

/* The content keys of every available version of a document, newest first
 * (call arena). OK or the DB error. */
kumo_code docs_version_keys(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const char *tenant_id, const char *doc_id, char ***keys, size_t *n);

/* A page `pg` (db/page_rows.h; keyed by version, pg->after < 0: the
 * first) of a document's versions, newest first: *out gets *n Version
 * messages (call arena), *next the next page's token (left alone on the
 * last page). OK or the DB error. */
kumo_code docs_version_list(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const struct kumo_db_page *pg, const char *tenant_id,
                            const char *doc_id, Kumo__Documents__V1__Version ***out, size_t *n,
                            char **next);

/* Inside the caller's transaction: locks a version row and reads its
 * status, object key (into key[key_cap]) and upload id (into
 * upload[upload_cap], "" when NULL). OK, NOT_FOUND or the DB error. */
kumo_code docs_version_lock(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                            int64_t version, int64_t *status, char *key, size_t key_cap,
                            char *upload, size_t upload_cap);

/* Inside the caller's transaction: locks a version row and reads its
 * status and creation time. OK, NOT_FOUND or the DB error. */
kumo_code docs_version_lock_created(struct kumo_db_conn *c, const char *tenant_id,
                                    const char *doc_id, int64_t version, int64_t *status,
                                    int64_t *create_us);

/* Deletes a version row. OK or the DB error. */
kumo_code docs_version_delete(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                              int64_t version);

/* Records what extraction found in a version: its detected MIME type and
 * the SHA-256 of its bytes, unless the version now declares another
 * SHA-256 (given at completion after the job read the row): then nothing
 * is written and *matched is 0. OK or the DB error. */
kumo_code docs_version_set_detected(struct kumo_db_conn *c, const char *tenant_id,
                                    const char *doc_id, int64_t version, const char *mime,
                                    const uint8_t sha[32], uint64_t *matched);

/* What extraction reads: a version's content key, declared SHA-256 and
 * size, and its document's current version and status. */
struct docs_version_source {
    char key[301];
    size_t key_len;
    uint8_t sha[32];
    size_t sha_len;
    int sha_null;
    int64_t size, current, status;
};

/* Loads the extraction source of a version. OK, NOT_FOUND (document or
 * version gone) or the DB error. */
kumo_code docs_version_source(struct kumo_db_conn *c, const char *tenant_id, const char *doc_id,
                              int64_t version, struct docs_version_source *v);

/* Up to `max` pending versions created before before_us, oldest first,
 * into refs[0..*n) (store/documents.h). OK or the DB error. */
struct docs_doc_ref;
kumo_code docs_version_list_expired(struct kumo_db_conn *c, int64_t before_us,
                                    struct docs_doc_ref *refs, size_t max, size_t *n);

/* Records sha (32 bytes) as the checksum of version `version` when it has
 * none yet (a checksum given at CompleteUpload rather than at create):
 * *changed = 1 when recorded, 0 when the version already had one. OK or
 * the DB error. */
kumo_code docs_version_declare_sha(struct kumo_db_conn *c, const char *tenant_id,
                                   const char *doc_id, int64_t version, const uint8_t sha[32],
                                   uint64_t *changed);

/* Records on the document why the upload of its pending version `version`
 * failed its checks (reason: a static text of at most 255 characters);
 * nothing when that version is no longer pending. Cleared by
 * docs_doc_set_current. OK or the DB error. */
kumo_code docs_version_fail_upload(struct kumo_db_conn *c, const char *tenant_id,
                                   const char *doc_id, int64_t version, const char *reason,
                                   int64_t now_us);

#endif
