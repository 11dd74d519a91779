/* Documents, with KumoCMS's paths, verbs and field names where they
 * overlap (file_name, file_size, meta_json / meta_content, document_id,
 * upload_url, method "presigned_url", presigned_url), and its statuses: 409
 * for archiving an archived document, 403 for reading an archived one
 * without a restored copy, 202 while a restore runs. Each route is a row
 * (a mapped RPC, op.h); the KumoCMS answers that rearrange a response are
 * hooks, and GET /documents/{id} (the browser's hot path, with a second
 * read to say why a download is impossible) is written out. */
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "http/http_put.h"

#include "kumo/documents/v1/documents.pb-c.h"
#include "op.h"
#include "rest_json.h"
#include "spec.h"
#include "rpc/rpc.h"
#include "runtime/log.h"

#define DOCS(m) "/kumo.documents.v1.DocumentService/" m
#define RQ(m)   &kumo__documents__v1__##m##_request__descriptor
#define RS(m)   &kumo__documents__v1__##m##_response__descriptor
/* The service, method and message types of a route's RPC. */
#define DOCS_RPC(Method, method)                                                                   \
    .service = BFF_DOCUMENTS, .rpc = DOCS(#Method), .req = RQ(method), .resp = RS(method)

#define WRITERS (KUMO_ROLE_ADMIN | KUMO_ROLE_EDITOR)
#define END     BFF_FIELDS_END

static const struct bff_enum status_enum = {"DOCUMENT_STATUS_", NULL, NULL, 0};
static const char *const order_names[] = {"create_time_desc", "create_time_asc", "update_time_desc",
                                          "title_asc", NULL};
static const struct bff_enum order_enum = {
    "DOCUMENT_ORDER_", order_names,
    "order must be create_time_desc, create_time_asc, update_time_desc or title_asc", 0};
static const char *const tier_names[] = {"expedited", "standard", "bulk", NULL};
static const struct bff_enum tier_enum = {"RESTORE_TIER_", tier_names,
                                          "tier must be expedited, standard or bulk", 1};

/* ---- answers that rearrange a response ---------------------------------- */

static void copy_field(json_t *to, const char *to_key, json_t *from, const char *from_key)
{
    json_t *v = json_object_get(from, from_key);
    if (v)
        json_object_set(to, to_key, v);
}

/* [{name, value}] -> {name: value} */
static json_t *headers_map(json_t *arr)
{
    json_t *m = json_object();
    size_t i;
    json_t *h;
    json_array_foreach(arr, i, h)
    {
        json_t *n = json_object_get(h, "name"), *v = json_object_get(h, "value");
        if (json_is_string(n) && json_is_string(v))
            json_object_set(m, json_string_value(n), v);
    }
    return m;
}

/* Part targets with their headers as a map. */
static json_t *parts_list(json_t *parts)
{
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        json_t *q = json_deep_copy(p);
        json_object_set_new(q, "headers", headers_map(json_object_get(p, "headers")));
        json_array_append_new(out, q);
    }
    return out;
}

/* The KumoCMS answer to a create: where and how to upload. */
static json_t *upload_answer(const char *id, json_t *doc, json_t *upload)
{
    json_t *out = json_object();
    json_object_set_new(out, "document_id", json_string(id));
    json_t *m = json_object_get(upload, "method");
    int multipart = json_is_string(m) && strcmp(json_string_value(m), "multipart") == 0;
    json_object_set_new(out, "method", json_string(multipart ? "multipart" : "presigned_url"));
    if (multipart) {
        json_object_set_new(out, "message",
                            json_string("upload each part (POST upload-parts for the URLs), then "
                                        "POST complete with the parts' ETags"));
        copy_field(out, "part_size", upload, "part_size");
        copy_field(out, "part_count", upload, "part_count");
        json_t *parts = json_object_get(upload, "parts");
        if (parts)
            json_object_set_new(out, "parts", parts_list(parts));
    } else {
        json_object_set_new(out, "message",
                            json_string("PUT the content to upload_url with upload_headers, then "
                                        "POST complete"));
        copy_field(out, "upload_url", upload, "url");
        json_t *hm = json_object_get(upload, "http_method");
        json_object_set_new(out, "http_method", hm ? json_incref(hm) : json_string("PUT"));
        json_object_set_new(out, "upload_headers", headers_map(json_object_get(upload, "headers")));
    }
    copy_field(out, "expires_at", upload, "expire_time");
    json_object_set(out, "document", doc ? doc : json_null());
    return out;
}

/* POST /documents (201) and PUT /documents/{id} (201, with the version). */
static void created_answer(struct bff_ctx *c, const ProtobufCMessage *rq,
                           const ProtobufCMessage *rs)
{
    const ProtobufCMessage *doc = bff_rest_sub(rs, "document");
    const char *id = bff_rest_str(rq, "document_id");
    if (!id)
        id = doc ? bff_rest_str(doc, "id") : "";
    json_t *j = bff_rest_to_json(rs);
    json_t *out =
        upload_answer(id ? id : "", json_object_get(j, "document"), json_object_get(j, "upload"));
    copy_field(out, "version", j, "version");
    json_decref(j);
    bff_json(c, 201, out);
}

static void parts_answer(struct bff_ctx *c, const ProtobufCMessage *rq, const ProtobufCMessage *rs)
{
    (void)rq;
    json_t *j = bff_rest_to_json(rs);
    json_t *out = json_object();
    json_object_set_new(out, "parts", parts_list(json_object_get(j, "parts")));
    copy_field(out, "expires_at", j, "expire_time");
    json_decref(j);
    bff_json(c, 200, out);
}

static void delete_answer(struct bff_ctx *c, const ProtobufCMessage *rq, const ProtobufCMessage *rs)
{
    const Kumo__Documents__V1__DeleteDocumentRequest *d = (const void *)rq;
    bff_doc_answer(c, 200, d->purge ? "purged" : "deleted", rs, d->id);
}

/* KumoCMS's archive answer: {document_id, message, storage_class,
 * archived_date, file_name, size}, and the document. */
static void archive_answer(struct bff_ctx *c, const ProtobufCMessage *rq,
                           const ProtobufCMessage *rs)
{
    (void)rq;
    json_t *j = bff_rest_to_json(rs);
    json_t *doc = json_object_get(j, "document");
    json_t *out = json_object();
    json_t *id = doc ? json_object_get(doc, "id") : NULL;
    json_object_set_new(out, "document_id", id ? json_incref(id) : json_string(""));
    json_object_set_new(out, "message", json_string("archived"));
    if (doc) {
        copy_field(out, "storage_class", doc, "storage_class");
        copy_field(out, "archived_date", doc, "archive_time");
        copy_field(out, "file_name", doc, "file_name");
        copy_field(out, "size", doc, "size");
    }
    json_object_set(out, "document", doc ? doc : json_null());
    json_decref(j);
    bff_json(c, 200, out);
}

/* {document_id, message, document, restore}, and KumoCMS's restore_status,
 * restore_tier, restore_days, file_name, size. */
static void restore_answer(struct bff_ctx *c, const ProtobufCMessage *rq,
                           const ProtobufCMessage *rs)
{
    (void)rq;
    json_t *j = bff_rest_to_json(rs);
    json_t *doc = json_object_get(j, "document");
    json_t *id = doc ? json_object_get(doc, "id") : NULL;
    json_t *restore = doc ? json_object_get(doc, "restore") : NULL;
    json_t *out = json_object();
    json_object_set_new(out, "document_id", id ? json_incref(id) : json_string(""));
    json_object_set_new(out, "message", json_string("restore requested"));
    if (doc) {
        copy_field(out, "restore_status", doc, "restore_status");
        copy_field(out, "file_name", doc, "file_name");
        copy_field(out, "size", doc, "size");
    }
    if (restore) {
        copy_field(out, "restore_tier", restore, "tier");
        copy_field(out, "restore_days", restore, "days");
    }
    json_object_set(out, "document", doc ? doc : json_null());
    json_object_set(out, "restore", restore ? restore : json_null());
    json_decref(j);
    bff_json(c, 202, out);
}

/* {documents, count, next_page_token[, search_terms]}: KumoCMS's list with
 * its count (of this page), always present; search_terms with q only. */
static void list_answer(struct bff_ctx *c, const ProtobufCMessage *rq, const ProtobufCMessage *rs)
{
    (void)rq;
    const Kumo__Documents__V1__ListDocumentsResponse *l = (const void *)rs;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "{\"documents\":");
    bff_rest_field(&b, rs, "documents");
    kumo_buf_appendf(&b, ",\"count\":%zu,\"next_page_token\":", l->n_documents);
    bff_rest_field(&b, rs, "next_page_token");
    if (l->n_search_terms > 0) { /* the words q was cut into (to mark them) */
        kumo_buf_append_str(&b, ",\"search_terms\":");
        bff_rest_field(&b, rs, "search_terms");
    }
    kumo_buf_append_byte(&b, '}');
    bff_json_text(c, 200, &b);
}

/* ---- the routes ----------------------------------------------------------- */

static const struct bff_field list_fields[] = {
    /* KumoCMS lists up to 100 without asking; a page_size given wins (the
     * rows are applied in order). Clamped to KUMO_PAGE_SIZE_MAX. */
    {BFF_CONST, "100", "page_size", BFF_PAGE_SIZE, NULL, 0},
    BFF_PAGE_FIELDS,
    {BFF_QUERY, "tag", "tag", BFF_COPY, NULL, 0},
    {BFF_QUERY, "content_type", "content_type", BFF_COPY, NULL, 0},
    {BFF_QUERY, "owner_id", "owner_id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "created_after", "create_time_after", BFF_COPY, NULL, 0},
    {BFF_QUERY, "created_before", "create_time_before", BFF_COPY, NULL, 0},
    {BFF_QUERY, "updated_after", "update_time_after", BFF_COPY, NULL, 0},
    {BFF_QUERY, "updated_before", "update_time_before", BFF_COPY, NULL, 0},
    {BFF_QUERY, "q", "query", BFF_COPY, NULL, 0},
    {BFF_QUERY, "status", "status", BFF_ENUM, &status_enum, 0},
    {BFF_QUERY, "order", "order_by", BFF_ENUM, &order_enum, 0},
    END,
};
const struct bff_op bff_op_docs_list = {DOCS_RPC(ListDocuments, list_documents),
                                        .fields = list_fields, .answer = BFF_ANS_HOOK,
                                        .answer_fn = list_answer};

static const char *const create_body[] = {
    "file_name",       "file_size",     "content_type", "meta_json", "meta_content",
    "metadata",        "title",         "description",  "tags",      "sha256",
    "idempotency_key", "presign_parts", "part_sha256",  NULL};
static const struct bff_field create_fields[] = {
    {BFF_BODY, "title", "title", BFF_COPY, NULL, 0},
    {BFF_BODY, "description", "description", BFF_COPY, NULL, 0},
    {BFF_BODY, "tags", "tags", BFF_COPY, NULL, 0},
    {BFF_BODY, "idempotency_key", "idempotency_key", BFF_COPY, NULL, 0},
    {BFF_HEADER, "Idempotency-Key", "idempotency_key", BFF_COPY, NULL, BFF_UNLESS},
    {BFF_BODY, "file_name", "file_name", BFF_COPY, NULL, 0},
    {BFF_BODY, "content_type", "content_type", BFF_COPY, NULL, 0},
    {BFF_BODY, "file_size", "size", BFF_COPY, NULL, 0},
    {BFF_BODY, "presign_parts", "presign_parts", BFF_COPY, NULL, 0},
    /* multipart: the client sends each part's SHA-256 (opt-in) */
    {BFF_BODY, "part_sha256", "part_sha256", BFF_COPY, NULL, 0},
    {BFF_BODY, "sha256", "sha256", BFF_HEX256, NULL, 0},
    {BFF_BODY, NULL, "metadata", BFF_METADATA, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_create = {DOCS_RPC(CreateDocument, create_document),
                                          .roles = WRITERS,
                                          .body = create_body,
                                          .fields = create_fields,
                                          .status = 201,
                                          .etag_of = "document",
                                          .location = "/api/v1/documents/",
                                          .answer = BFF_ANS_HOOK,
                                          .answer_fn = created_answer};

static const char *const put_body[] = {
    "file_name", "file_size", "content_type", "sha256", "presign_parts", "part_sha256", NULL};
static const struct bff_field put_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    {BFF_BODY, "file_name", "file_name", BFF_COPY, NULL, 0},
    {BFF_BODY, "content_type", "content_type", BFF_COPY, NULL, 0},
    {BFF_BODY, "file_size", "size", BFF_COPY, NULL, 0},
    {BFF_BODY, "presign_parts", "presign_parts", BFF_COPY, NULL, 0},
    {BFF_BODY, "part_sha256", "part_sha256", BFF_COPY, NULL, 0},
    {BFF_BODY, "sha256", "sha256", BFF_HEX256, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_put = {DOCS_RPC(CreateVersion, create_version),
                                       .doc_id = "id",
                                       .roles = WRITERS,
                                       .body = put_body,
                                       .fields = put_fields,
                                       .status = 201,
                                       .answer = BFF_ANS_HOOK,
                                       .answer_fn = created_answer};

static const char *const patch_body[] = {"title",     "description", "tags", "metadata",
                                         "meta_json", "file_name",   NULL};
static const struct bff_field patch_fields[] = {
    {BFF_IF_MATCH, NULL, "etag", BFF_COPY, NULL, BFF_REQUIRED},
    {BFF_PATH, "id", "document.id", BFF_COPY, NULL, 0},
    {BFF_BODY, "title", "document.title", BFF_COPY, NULL, BFF_MASKED},
    {BFF_BODY, "description", "document.description", BFF_COPY, NULL, BFF_MASKED},
    {BFF_BODY, "tags", "document.tags", BFF_COPY, NULL, BFF_MASKED},
    {BFF_BODY, "file_name", "document.file_name", BFF_COPY, NULL, BFF_MASKED},
    {BFF_BODY, NULL, "document.metadata", BFF_METADATA, NULL, BFF_MASKED},
    END,
};
const struct bff_op bff_op_docs_patch = {
    DOCS_RPC(UpdateDocument, update_document),
    .doc_id = "id",
    .roles = WRITERS,
    .body = patch_body,
    .fields = patch_fields,
    .mask = "update_mask",
    .aborted = "the document changed since it was read (etag mismatch)",
    .etag_of = "document",
    .answer = BFF_ANS_DOC,
    .key = "updated"};

static const struct bff_field delete_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "purge", "purge", BFF_BOOL, NULL, 0},
    {BFF_IF_MATCH, NULL, "etag", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_delete = {DOCS_RPC(DeleteDocument, delete_document),
                                          .doc_id = "id",
                                          .roles = WRITERS,
                                          .fields = delete_fields,
                                          .answer = BFF_ANS_HOOK,
                                          .answer_fn = delete_answer};

static const char *const parts_body[] = {"part_numbers", "version", "sha256s", NULL};
static const struct bff_field parts_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    {BFF_BODY, "part_numbers", "part_numbers", BFF_COPY, NULL, 0},
    {BFF_BODY, "version", "version", BFF_COPY, NULL, 0},
    /* base64, one per part number: signed into each URL */
    {BFF_BODY, "sha256s", "sha256s", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_upload_parts = {DOCS_RPC(PresignUploadParts, presign_upload_parts),
                                                .doc_id = "id",
                                                .roles = WRITERS,
                                                .body = parts_body,
                                                .fields = parts_fields,
                                                .answer = BFF_ANS_HOOK,
                                                .answer_fn = parts_answer};

static const char *const complete_body[] = {"parts", "version", "sha256", NULL};
static const struct bff_field complete_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    {BFF_BODY, "parts", "parts", BFF_COPY, NULL, 0},
    {BFF_BODY, "version", "version", BFF_COPY, NULL, 0},
    /* hashed while uploading: declared now rather than at create */
    {BFF_BODY, "sha256", "sha256", BFF_HEX256, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_complete = {DOCS_RPC(CompleteUpload, complete_upload),
                                            .doc_id = "id",
                                            .roles = WRITERS,
                                            .body = complete_body,
                                            .fields = complete_fields,
                                            .etag_of = "document",
                                            .answer = BFF_ANS_DOC,
                                            .key = "upload complete"};

static const char *const archive_body[] = {"etag", NULL};
static const struct bff_field archive_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_BODY, "etag", "etag", BFF_COPY, NULL, 0},
    {BFF_IF_MATCH, NULL, "etag", BFF_COPY, NULL, 0}, /* wins over the body's */
    END,
};
const struct bff_op bff_op_docs_archive = {DOCS_RPC(ArchiveDocument, archive_document),
                                           .doc_id = "id",
                                           .roles = WRITERS,
                                           .body = archive_body,
                                           .fields = archive_fields,
                                           .etag_of = "document",
                                           .answer = BFF_ANS_HOOK,
                                           .answer_fn = archive_answer};

/* days defaults to 1, as KumoCMS's (the tier to standard: the service's). */
static int restore_prepare(struct bff_ctx *c)
{
    if (!json_object_get(c->body, "days"))
        json_object_set_new(c->body, "days", json_integer(1));
    return 0;
}

static const char *const restore_body[] = {"days", "tier", NULL};
static const struct bff_field restore_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_BODY, "days", "days", BFF_COPY, NULL, 0},
    {BFF_BODY, "tier", "tier", BFF_ENUM, &tier_enum, 0},
    END,
};
const struct bff_op bff_op_docs_restore = {DOCS_RPC(RestoreDocument, restore_document),
                                           .doc_id = "id",
                                           .roles = WRITERS,
                                           .body = restore_body,
                                           .fields = restore_fields,
                                           .prepare = restore_prepare,
                                           .status = 202,
                                           .answer = BFF_ANS_HOOK,
                                           .answer_fn = restore_answer};

static const struct bff_field id_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_undelete = {DOCS_RPC(UndeleteDocument, undelete_document),
                                            .doc_id = "id",
                                            .roles = WRITERS,
                                            .fields = id_fields,
                                            .etag_of = "document",
                                            .answer = BFF_ANS_DOC,
                                            .key = "undeleted"};

static const struct bff_field versions_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    BFF_PAGE_FIELDS,
    END,
};
const struct bff_op bff_op_docs_versions = {DOCS_RPC(ListVersions, list_versions), .doc_id = "id",
                                            .fields = versions_fields, .answer = BFF_ANS_PAGE,
                                            .key = "versions"};

static const struct bff_field audit_fields[] = {
    BFF_PAGE_FIELDS,
    {BFF_QUERY, "document_id", "document_id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "actor_id", "actor_id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "action", "action", BFF_COPY, NULL, 0},
    {BFF_QUERY, "time_after", "time_after", BFF_COPY, NULL, 0},
    {BFF_QUERY, "time_before", "time_before", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_audit = {DOCS_RPC(ListAuditEvents, list_audit_events),
                                    .roles = KUMO_ROLE_ADMIN, .fields = audit_fields,
                                    .answer = BFF_ANS_PAGE, .key = "events"};

static const struct bff_field page_fields[] = {
    BFF_PAGE_FIELDS,
    END,
};
const struct bff_op bff_op_dead_letters = {DOCS_RPC(ListDeadLetters, list_dead_letters),
                                           .roles = KUMO_ROLE_ADMIN, .fields = page_fields,
                                           .answer = BFF_ANS_PAGE, .key = "dead_letters"};

const struct bff_op bff_op_redrive = {DOCS_RPC(RedriveDeadLetter, redrive_dead_letter),
                                      .roles = KUMO_ROLE_ADMIN, .fields = id_fields, .status = 202,
                                      .answer = BFF_ANS_MESSAGE};

/* ---- GET /documents/{id} ---------------------------------------------------- */

static const struct bff_field get_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "version", "version", BFF_UINT, NULL, 0},
    {BFF_CONST, "true", "include_download_url", BFF_BOOL, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_get = {DOCS_RPC(GetDocument, get_document), .fields = get_fields,
                                       .etag_of = "document", .answer = BFF_ANS_HOOK};

/* The document's fields at the top level (KumoCMS), plus document_id,
 * version and the download link: written straight from the message. */
static void get_answer(struct bff_ctx *c, int status,
                       const Kumo__Documents__V1__GetDocumentResponse *rs, const char *message)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    int first = 1;
    kumo_buf_reserve(&b, 2048);
    kumo_buf_append_byte(&b, '{');
    bff_rest_members(&b, rs->document ? &rs->document->base : NULL, &first);
    kumo_buf_append_str(&b, first ? "\"document_id\":" : ",\"document_id\":");
    bff_rest_string(&b, rs->document ? rs->document->id : "");
    if (rs->version) {
        kumo_buf_append_str(&b, ",\"version\":");
        bff_rest_encode(&b, &rs->version->base);
    }
    if (rs->download) {
        if (rs->download->url && *rs->download->url) {
            kumo_buf_append_str(&b, ",\"presigned_url\":");
            bff_rest_string(&b, rs->download->url);
        }
        if (rs->download->expire_time) {
            kumo_buf_append_str(&b, ",\"presigned_url_expires_at\":");
            bff_rest_field(&b, &rs->download->base, "expire_time");
        }
    }
    if (message) {
        kumo_buf_append_str(&b, ",\"message\":");
        bff_rest_string(&b, message);
    }
    kumo_buf_append_byte(&b, '}');
    if (rs->document)
        bff_etag_header(c, rs->document->etag);
    bff_json_text(c, status, &b);
}

static int query_true(struct bff_ctx *c, const char *name)
{
    const char *v = bff_query(c->rq, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* A soft-deleted document is 404 (KumoCMS) unless the Trash asks for it
 * with include_deleted=true. */
static int deleted_hidden(struct bff_ctx *c, const Kumo__Documents__V1__GetDocumentResponse *rs)
{
    if (!rs->document ||
        rs->document->status != KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED ||
        query_true(c, "include_deleted"))
        return 0;
    bff_error(c, 404, "not_found", "document not found (deleted: see the Trash)");
    return 1;
}

/* GET /documents/{id} in steps (bff_call_then: it may be served without a
 * thread): GetDocument with the download link; when no download is
 * possible, GetDocument without it to say why from the document's state,
 * and once more with it when a restore finished in between. */
struct get_state {
    Kumo__Documents__V1__GetDocumentRequest *rq;
    int step; /* 1: first read (want_url), 2: without the link, 3: again with it */
    int want_url;
};

static void get_step(struct bff_ctx *c, void *state, kumo_code code, ProtobufCMessage *resp,
                     struct kumo_rpc_status *st);

static void get_doc(struct bff_ctx *c, struct get_state *g, int step, int url)
{
    g->step = step;
    g->rq->include_download_url = url;
    bff_call_then(c, c->app->documents, bff_op_docs_get.rpc, &g->rq->base, bff_op_docs_get.resp,
                  get_step, g);
}

static void get_step(struct bff_ctx *c, void *state, kumo_code code, ProtobufCMessage *resp,
                     struct kumo_rpc_status *st)
{
    struct get_state *g = state;
    const Kumo__Documents__V1__GetDocumentResponse *rs = (const void *)resp;
    if (g->step == 1 && g->want_url &&
        (code == KUMO_CODE_FAILED_PRECONDITION || code == KUMO_CODE_UNAVAILABLE)) {
        /* No download possible: say why, from the document's state. */
        get_doc(c, g, 2, 0);
        return;
    }
    if (g->step == 2) {
        if (code == KUMO_CODE_OK && deleted_hidden(c, rs))
            return;
        if (code == KUMO_CODE_OK && rs->document &&
            rs->document->status ==
                KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED) {
            Kumo__Documents__V1__RestoreState rstate =
                rs->document->restore
                    ? rs->document->restore->state
                    : KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_UNSPECIFIED;
            if (rstate == KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_RESTORED) {
                /* The restore finished between the two reads: the download
                 * is possible now, so ask for it again (not a 403). */
                get_doc(c, g, 3, 1);
            } else if (rstate != KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_IN_PROGRESS) {
                bff_error(c, 403, "failed_precondition",
                          "the document is archived: restore it before downloading");
            } else {
                get_answer(c, 202, rs, "restore in progress");
            }
            return;
        }
    }
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, st);
        return;
    }
    if (deleted_hidden(c, rs))
        return;
    get_answer(c, 200, rs, NULL);
}

void bff_h_docs_get(struct bff_ctx *c)
{
    if (bff_doc_id_check(c, "id") != 0 || bff_spec_check_query(c) != 0)
        return;
    struct get_state *g = kumo_arena_calloc(c->arena, sizeof *g);
    g->rq = (void *)bff_op_request(c, &bff_op_docs_get);
    if (!g->rq)
        return;
    /* download=false: the metadata only, whatever the state (the console's
     * document page reads an archived document too). */
    const char *dl = bff_query(c->rq, "download");
    g->want_url = !(dl && (strcmp(dl, "false") == 0 || strcmp(dl, "0") == 0));
    get_doc(c, g, 1, g->want_url);
}

/* ---- PUT /documents/{id} with file_content: KumoCMS's direct replace ---- */

/* The document's metadata from meta_json / meta_content / metadata, set
 * after the upload (UpdateDocument with the completed document's etag). */
static const struct bff_field direct_meta_fields[] = {
    {BFF_PATH, "id", "document.id", BFF_COPY, NULL, 0},
    {BFF_BODY, NULL, "document.metadata", BFF_METADATA, NULL, BFF_MASKED},
    END,
};
static const struct bff_op direct_meta_op = {DOCS_RPC(UpdateDocument, update_document),
                                             .fields = direct_meta_fields, .mask = "update_mask"};

static int direct_bad(struct bff_ctx *c, int status, const char *message)
{
    bff_error(c, status, status == 413 ? "resource_exhausted" : "invalid_argument", message);
    return -1;
}

/* Decodes and checks file_content against file_size and sha256 (when
 * given); on success the body's file_size and sha256 are the content's,
 * for CreateVersion to declare and CompleteUpload to verify. */
static int direct_content(struct bff_ctx *c, struct kumo_buf *raw)
{
    json_t *fc = json_object_get(c->body, "file_content");
    if (!json_is_string(fc) || json_string_length(fc) == 0)
        return direct_bad(c, 400, "file_content must be the base64 of the file");
    if (json_string_length(fc) > kumo_base64_encoded_len((size_t)BFF_DIRECT_MAX, 1))
        return direct_bad(c, 413,
                          "file_content must be below 10 MB: for a larger file, PUT without "
                          "file_content and upload to upload_url");
    if (kumo_base64_decode(json_string_value(fc), json_string_length(fc), raw) != 0)
        return direct_bad(c, 400, "file_content is not valid base64");
    if ((int64_t)raw->len >= BFF_DIRECT_MAX)
        return direct_bad(c, 413,
                          "file_content must be below 10 MB: for a larger file, PUT without "
                          "file_content and upload to upload_url");
    json_t *fs = json_object_get(c->body, "file_size");
    if (fs && (!json_is_integer(fs) || json_integer_value(fs) != (json_int_t)raw->len))
        return direct_bad(c, 400, "file_size does not match the size of file_content");
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(raw->data, raw->len, md);
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[sizeof hex - 1] = '\0';
    json_t *sha = json_object_get(c->body, "sha256");
    if (sha && (!json_is_string(sha) || strcasecmp(json_string_value(sha), hex) != 0))
        return direct_bad(c, 400, "sha256 does not match file_content");
    json_object_set_new(c->body, "file_size", json_integer((json_int_t)raw->len));
    json_object_set_new(c->body, "sha256", json_string(hex));
    return 0;
}

/* One PUT of data[0..len) to a presigned URL with its headers; the ETag
 * into etag[0..96). Returns 0, or answers 502 and returns -1. */
static int put_bytes(struct bff_ctx *c, const char *url, Kumo__Documents__V1__Header *const *hs,
                     size_t n, const uint8_t *data, size_t len, char *etag)
{
    struct kumo_http_header *h = kumo_arena_calloc(c->arena, (n + 1) * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        h[i].name = hs[i]->name;
        h[i].value = hs[i]->value;
    }
    int64_t left_ms = (c->deadline - kumo_now_ns()) / 1000000;
    struct kumo_http_put_req req = {url,
                                    h,
                                    n,
                                    data,
                                    len,
                                    left_ms > 1 ? (long)left_ms : 1,
                                    c->app->s.direct_upload_connect,
                                    "storing the content"};
    struct kumo_http_put_answer ans;
    struct kumo_buf err = KUMO_BUF_INIT;
    int rc = kumo_http_put(&req, &ans, &err);
    if (rc != 0) {
        /* The URL is presigned: never logged. */
        kumo_log(KUMO_LOG_WARN, c->request_id, "direct upload failed", "error",
                 (const char *)err.data, NULL);
        kumo_buf_free(&err);
        bff_error(c, 502, "unavailable", "storing the content failed; retry");
        return -1;
    }
    kumo_buf_free(&err);
    if (etag)
        memcpy(etag, ans.etag, sizeof ans.etag);
    return 0;
}

/* PUTs the bytes where CreateVersion said, as a client would: one PUT, or
 * each part (their URLs were asked for with presign_parts) with the parts'
 * ETags into *done for CompleteUpload. Returns 0, or answers and returns
 * -1. */
static int direct_store(struct bff_ctx *c, const Kumo__Documents__V1__UploadTarget *u,
                        const struct kumo_buf *raw,
                        Kumo__Documents__V1__CompleteUploadRequest *done)
{
    if (u && u->method == KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_SINGLE_PUT && u->url)
        return put_bytes(c, u->url, u->headers, u->n_headers, raw->data, raw->len, NULL);
    if (!u || u->method != KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART ||
        u->part_size <= 0 || u->n_parts != (size_t)u->part_count) {
        bff_error(c, 500, "internal", "no usable upload target for the direct upload");
        return -1;
    }
    done->parts = kumo_arena_calloc(c->arena, (u->n_parts + 1) * sizeof *done->parts);
    for (size_t i = 0; i < u->n_parts; i++) {
        const Kumo__Documents__V1__PartTarget *pt = u->parts[i];
        uint64_t off = (uint64_t)(pt->part_number - 1) * (uint64_t)u->part_size;
        if (pt->part_number < 1 || pt->size < 0 || off + (uint64_t)pt->size > raw->len) {
            bff_error(c, 500, "internal", "bad part plan for the direct upload");
            return -1;
        }
        Kumo__Documents__V1__CompletedPart *cp = kumo_arena_calloc(c->arena, sizeof *cp);
        kumo__documents__v1__completed_part__init(cp);
        cp->etag = kumo_arena_calloc(c->arena, 96);
        cp->part_number = pt->part_number;
        if (put_bytes(c, pt->url, pt->headers, pt->n_headers, raw->data + off, (size_t)pt->size,
                      cp->etag) != 0)
            return -1;
        done->parts[done->n_parts++] = cp;
    }
    return 0;
}

static void direct_put(struct bff_ctx *c)
{
    static const char *const allowed[] = {"file_content", "file_name", "file_size",
                                          "content_type", "sha256",    "meta_json",
                                          "meta_content", "metadata",  NULL};
    if (bff_only_fields(c, c->body, allowed) != 0)
        return;
    struct kumo_buf raw = KUMO_BUF_INIT;
    if (direct_content(c, &raw) != 0) {
        kumo_buf_free(&raw);
        return;
    }
    json_t *mj = json_object_get(c->body, "meta_json"),
           *mc = json_object_get(c->body, "meta_content"),
           *md = json_object_get(c->body, "metadata");
    Kumo__Documents__V1__UpdateDocumentRequest *meta = NULL;
    if (mj || mc || md) {
        c->etag_default = "";
        meta = (void *)bff_op_request(c, &direct_meta_op);
        if (!meta) {
            kumo_buf_free(&raw);
            return;
        }
    }
    json_object_set_new(c->body, "presign_parts", json_true()); /* multipart: every URL */
    ProtobufCMessage *crq = bff_op_request(c, &bff_op_docs_put);
    Kumo__Documents__V1__CreateVersionResponse *cv;
    Kumo__Documents__V1__CompleteUploadRequest done =
        KUMO__DOCUMENTS__V1__COMPLETE_UPLOAD_REQUEST__INIT;
    if (!crq ||
        bff_call_or_error(c, c->app->documents, bff_op_docs_put.rpc, crq, bff_op_docs_put.resp,
                          (ProtobufCMessage **)&cv) != 0 ||
        direct_store(c, cv->upload, &raw, &done) != 0) {
        kumo_buf_free(&raw);
        return;
    }
    kumo_buf_free(&raw);
    done.document_id = (char *)bff_param(c, "id");
    done.version = cv->version ? cv->version->version : 0;
    Kumo__Documents__V1__CompleteUploadResponse *cu;
    if (bff_call_or_error(c, c->app->documents, bff_op_docs_complete.rpc, &done.base,
                          bff_op_docs_complete.resp, (ProtobufCMessage **)&cu) != 0)
        return;
    const Kumo__Documents__V1__Document *doc = cu->document;
    if (meta && doc) {
        meta->etag = doc->etag;
        Kumo__Documents__V1__UpdateDocumentResponse *ud;
        if (bff_call_or_error(c, c->app->documents, direct_meta_op.rpc, &meta->base,
                              direct_meta_op.resp, (ProtobufCMessage **)&ud) != 0)
            return;
        doc = ud->document;
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "{\"document_id\":");
    bff_rest_string(&b, done.document_id);
    kumo_buf_append_str(&b, ",\"message\":\"File replaced successfully\",\"method\":\"direct\"");
    kumo_buf_appendf(&b, ",\"version\":%d,\"document\":", (int)done.version);
    if (doc)
        bff_rest_encode(&b, &doc->base);
    else
        kumo_buf_append_str(&b, "null");
    kumo_buf_append_byte(&b, '}');
    if (doc)
        bff_etag_header(c, doc->etag);
    bff_json_text(c, 200, &b);
}

void bff_h_docs_put(struct bff_ctx *c)
{
    if (bff_doc_id_check(c, "id") != 0 || bff_require_role(c, WRITERS) != 0 ||
        bff_parse_body_only(c) != 0)
        return;
    /* The raised limit of this route is for file_content only. */
    if (!json_object_get(c->body, "file_content") &&
        (int64_t)c->rq->body_len > c->app->s.body_max) {
        bff_error(c, 413, "resource_exhausted", "request body too large");
        return;
    }
    if (bff_spec_check_body(c) != 0)
        return;
    if (json_object_get(c->body, "file_content")) {
        direct_put(c);
        return;
    }
    bff_run(c, &bff_op_docs_put);
}
