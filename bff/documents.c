/* Documents, with KumoCMS's paths, verbs and field names where they
 * overlap (file_name, file_size, meta_json / meta_content, document_id,
 * upload_url, method "presigned_url", presigned_url), and its statuses: 409
 * for archiving an archived document, 403 for reading an archived one
 * without a restored copy, 202 while a restore runs. Each route is a row
 * (a mapped RPC, op.h); the KumoCMS answers that rearrange a response are
 * hooks, and GET /documents/{id} (the browser's hot path, with a second
 * read to say why a download is impossible) is written out. */
#include <string.h>

#include "kumo/documents/v1/documents.pb-c.h"
#include "op.h"
#include "rest_json.h"

#define DOCS(m) "/kumo.documents.v1.DocumentService/" m
#define RQ(m)   &kumo__documents__v1__##m##_request__descriptor
#define RS(m)   &kumo__documents__v1__##m##_response__descriptor

#define WRITERS (KUMO_ROLE_ADMIN | KUMO_ROLE_EDITOR)
#define END                                                                                        \
    {                                                                                              \
        0, NULL, NULL, 0, NULL, 0                                                                  \
    }

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

/* {document_id, message, document, restore} */
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
    json_object_set(out, "document", doc ? doc : json_null());
    json_object_set(out, "restore", restore ? restore : json_null());
    json_decref(j);
    bff_json(c, 202, out);
}

/* ---- the routes ----------------------------------------------------------- */

static const struct bff_field list_fields[] = {
    {BFF_QUERY, "page_size", "page_size", BFF_PAGE_SIZE, NULL, 0},
    {BFF_QUERY, "page_token", "page_token", BFF_COPY, NULL, 0},
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
const struct bff_op bff_op_docs_list = {.service = BFF_DOCUMENTS,
                                        .rpc = DOCS("ListDocuments"),
                                        .req = RQ(list_documents),
                                        .resp = RS(list_documents),
                                        .fields = list_fields,
                                        .status = 200,
                                        .answer = BFF_ANS_PAGE,
                                        .key = "documents"};

static const char *const create_body[] = {
    "file_name", "file_size",   "content_type", "meta_json", "meta_content",    "metadata",
    "title",     "description", "tags",         "sha256",    "idempotency_key", "presign_parts",
    NULL};
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
    {BFF_BODY, "sha256", "sha256", BFF_HEX256, NULL, 0},
    {BFF_BODY, NULL, "metadata", BFF_METADATA, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_create = {.service = BFF_DOCUMENTS,
                                          .rpc = DOCS("CreateDocument"),
                                          .req = RQ(create_document),
                                          .resp = RS(create_document),
                                          .roles = WRITERS,
                                          .body = create_body,
                                          .fields = create_fields,
                                          .status = 201,
                                          .etag_of = "document",
                                          .location = "/api/v1/documents/",
                                          .answer = BFF_ANS_HOOK,
                                          .answer_fn = created_answer};

static const char *const put_body[] = {"file_name", "file_size",     "content_type",
                                       "sha256",    "presign_parts", NULL};
static const struct bff_field put_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    {BFF_BODY, "file_name", "file_name", BFF_COPY, NULL, 0},
    {BFF_BODY, "content_type", "content_type", BFF_COPY, NULL, 0},
    {BFF_BODY, "file_size", "size", BFF_COPY, NULL, 0},
    {BFF_BODY, "presign_parts", "presign_parts", BFF_COPY, NULL, 0},
    {BFF_BODY, "sha256", "sha256", BFF_HEX256, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_put = {.service = BFF_DOCUMENTS,
                                       .rpc = DOCS("CreateVersion"),
                                       .req = RQ(create_version),
                                       .resp = RS(create_version),
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
    .service = BFF_DOCUMENTS,
    .rpc = DOCS("UpdateDocument"),
    .req = RQ(update_document),
    .resp = RS(update_document),
    .roles = WRITERS,
    .body = patch_body,
    .fields = patch_fields,
    .mask = "update_mask",
    .aborted = "the document changed since it was read (etag mismatch)",
    .status = 200,
    .etag_of = "document",
    .answer = BFF_ANS_DOC,
    .key = "updated"};

static const struct bff_field delete_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "purge", "purge", BFF_BOOL, NULL, 0},
    {BFF_IF_MATCH, NULL, "etag", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_delete = {.service = BFF_DOCUMENTS,
                                          .rpc = DOCS("DeleteDocument"),
                                          .req = RQ(delete_document),
                                          .resp = RS(delete_document),
                                          .roles = WRITERS,
                                          .fields = delete_fields,
                                          .status = 200,
                                          .answer = BFF_ANS_HOOK,
                                          .answer_fn = delete_answer};

static const char *const parts_body[] = {"part_numbers", "version", NULL};
static const struct bff_field parts_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    {BFF_BODY, "part_numbers", "part_numbers", BFF_COPY, NULL, 0},
    {BFF_BODY, "version", "version", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_upload_parts = {.service = BFF_DOCUMENTS,
                                                .rpc = DOCS("PresignUploadParts"),
                                                .req = RQ(presign_upload_parts),
                                                .resp = RS(presign_upload_parts),
                                                .roles = WRITERS,
                                                .body = parts_body,
                                                .fields = parts_fields,
                                                .status = 200,
                                                .answer = BFF_ANS_HOOK,
                                                .answer_fn = parts_answer};

static const char *const complete_body[] = {"parts", "version", NULL};
static const struct bff_field complete_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    {BFF_BODY, "parts", "parts", BFF_COPY, NULL, 0},
    {BFF_BODY, "version", "version", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_complete = {.service = BFF_DOCUMENTS,
                                            .rpc = DOCS("CompleteUpload"),
                                            .req = RQ(complete_upload),
                                            .resp = RS(complete_upload),
                                            .roles = WRITERS,
                                            .body = complete_body,
                                            .fields = complete_fields,
                                            .status = 200,
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
const struct bff_op bff_op_docs_archive = {.service = BFF_DOCUMENTS,
                                           .rpc = DOCS("ArchiveDocument"),
                                           .req = RQ(archive_document),
                                           .resp = RS(archive_document),
                                           .roles = WRITERS,
                                           .body = archive_body,
                                           .fields = archive_fields,
                                           .status = 200,
                                           .etag_of = "document",
                                           .answer = BFF_ANS_DOC,
                                           .key = "archived"};

static const char *const restore_body[] = {"days", "tier", NULL};
static const struct bff_field restore_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_BODY, "days", "days", BFF_COPY, NULL, 0},
    {BFF_BODY, "tier", "tier", BFF_ENUM, &tier_enum, 0},
    END,
};
const struct bff_op bff_op_docs_restore = {.service = BFF_DOCUMENTS,
                                           .rpc = DOCS("RestoreDocument"),
                                           .req = RQ(restore_document),
                                           .resp = RS(restore_document),
                                           .roles = WRITERS,
                                           .body = restore_body,
                                           .fields = restore_fields,
                                           .status = 202,
                                           .answer = BFF_ANS_HOOK,
                                           .answer_fn = restore_answer};

static const struct bff_field id_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_undelete = {.service = BFF_DOCUMENTS,
                                            .rpc = DOCS("UndeleteDocument"),
                                            .req = RQ(undelete_document),
                                            .resp = RS(undelete_document),
                                            .roles = WRITERS,
                                            .fields = id_fields,
                                            .status = 200,
                                            .etag_of = "document",
                                            .answer = BFF_ANS_DOC,
                                            .key = "undeleted"};

static const struct bff_field versions_fields[] = {
    {BFF_PATH, "id", "document_id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "page_size", "page_size", BFF_PAGE_SIZE, NULL, 0},
    {BFF_QUERY, "page_token", "page_token", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_versions = {.service = BFF_DOCUMENTS,
                                            .rpc = DOCS("ListVersions"),
                                            .req = RQ(list_versions),
                                            .resp = RS(list_versions),
                                            .fields = versions_fields,
                                            .status = 200,
                                            .answer = BFF_ANS_PAGE,
                                            .key = "versions"};

static const struct bff_field audit_fields[] = {
    {BFF_QUERY, "page_size", "page_size", BFF_PAGE_SIZE, NULL, 0},
    {BFF_QUERY, "page_token", "page_token", BFF_COPY, NULL, 0},
    {BFF_QUERY, "document_id", "document_id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "actor_id", "actor_id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "action", "action", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_audit = {.service = BFF_DOCUMENTS,
                                    .rpc = DOCS("ListAuditEvents"),
                                    .req = RQ(list_audit_events),
                                    .resp = RS(list_audit_events),
                                    .roles = KUMO_ROLE_ADMIN,
                                    .fields = audit_fields,
                                    .status = 200,
                                    .answer = BFF_ANS_PAGE,
                                    .key = "events"};

static const struct bff_field page_fields[] = {
    {BFF_QUERY, "page_size", "page_size", BFF_PAGE_SIZE, NULL, 0},
    {BFF_QUERY, "page_token", "page_token", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_dead_letters = {.service = BFF_DOCUMENTS,
                                           .rpc = DOCS("ListDeadLetters"),
                                           .req = RQ(list_dead_letters),
                                           .resp = RS(list_dead_letters),
                                           .roles = KUMO_ROLE_ADMIN,
                                           .fields = page_fields,
                                           .status = 200,
                                           .answer = BFF_ANS_PAGE,
                                           .key = "dead_letters"};

const struct bff_op bff_op_redrive = {.service = BFF_DOCUMENTS,
                                      .rpc = DOCS("RedriveDeadLetter"),
                                      .req = RQ(redrive_dead_letter),
                                      .resp = RS(redrive_dead_letter),
                                      .roles = KUMO_ROLE_ADMIN,
                                      .fields = id_fields,
                                      .status = 202,
                                      .answer = BFF_ANS_MESSAGE};

/* ---- GET /documents/{id} ---------------------------------------------------- */

static const struct bff_field get_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_QUERY, "version", "version", BFF_UINT, NULL, 0},
    {BFF_CONST, "true", "include_download_url", BFF_BOOL, NULL, 0},
    END,
};
const struct bff_op bff_op_docs_get = {.service = BFF_DOCUMENTS,
                                       .rpc = DOCS("GetDocument"),
                                       .req = RQ(get_document),
                                       .resp = RS(get_document),
                                       .fields = get_fields,
                                       .status = 200,
                                       .etag_of = "document",
                                       .answer = BFF_ANS_HOOK};

static Kumo__Documents__V1__GetDocumentResponse *
get_doc(struct bff_ctx *c, Kumo__Documents__V1__GetDocumentRequest *rq, int url, kumo_code *code,
        struct kumo_rpc_status *st)
{
    rq->include_download_url = url;
    Kumo__Documents__V1__GetDocumentResponse *rs = NULL;
    *code = bff_call(c, c->app->documents, bff_op_docs_get.rpc, &rq->base, bff_op_docs_get.resp, 1,
                     (ProtobufCMessage **)&rs, st);
    return rs;
}

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

void bff_h_docs_get(struct bff_ctx *c)
{
    Kumo__Documents__V1__GetDocumentRequest *rq = (void *)bff_op_request(c, &bff_op_docs_get);
    if (!rq)
        return;
    /* download=false: the metadata only, whatever the state (the console's
     * document page reads an archived document too). */
    const char *dl = bff_query(c->rq, "download");
    int want_url = !(dl && (strcmp(dl, "false") == 0 || strcmp(dl, "0") == 0));
    struct kumo_rpc_status st = {0};
    kumo_code code;
    Kumo__Documents__V1__GetDocumentResponse *rs = get_doc(c, rq, want_url, &code, &st);
    if (want_url && (code == KUMO_CODE_FAILED_PRECONDITION || code == KUMO_CODE_UNAVAILABLE)) {
        /* No download possible: say why, from the document's state. */
        kumo_rpc_status_clear(&st);
        rs = get_doc(c, rq, 0, &code, &st);
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
                kumo_rpc_status_clear(&st);
                rs = get_doc(c, rq, 1, &code, &st);
            } else if (rstate != KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_IN_PROGRESS) {
                bff_error(c, 403, "failed_precondition",
                          "the document is archived: restore it before downloading");
                return;
            } else {
                get_answer(c, 202, rs, "restore in progress");
                return;
            }
        }
    }
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, &st);
        kumo_rpc_status_clear(&st);
        return;
    }
    get_answer(c, 200, rs, NULL);
}
