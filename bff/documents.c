/* Documents, with KumoCMS's paths, verbs and field names where they
 * overlap (file_name, file_size, meta_json / meta_content, document_id,
 * upload_url, method "presigned_url", presigned_url), and its statuses: 409
 * for archiving an archived document, 403 for reading an archived one
 * without a restored copy, 202 while a restore runs. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "bff.h"
#include "kumo/documents/v1/documents.pb-c.h"

#define DOCS "/kumo.documents.v1.DocumentService/"

#define WRITERS (KUMO_ROLE_ADMIN | KUMO_ROLE_EDITOR)

/* ---- request building --------------------------------------------------- */

/* Sets obj.sha256 from a hex string (64 digits) as proto JSON base64.
 * Returns 0 or answers 400. */
static int sha256_field(struct bff_ctx *c, json_t *obj, json_t *hex)
{
    if (!hex)
        return 0;
    const char *s = json_is_string(hex) ? json_string_value(hex) : NULL;
    uint8_t raw[32];
    if (!s || strlen(s) != 64)
        goto bad;
    for (int i = 0; i < 32; i++) {
        char h[3] = {s[2 * i], s[2 * i + 1], 0};
        if (!isxdigit((unsigned char)h[0]) || !isxdigit((unsigned char)h[1]))
            goto bad;
        raw[i] = (uint8_t)strtoul(h, NULL, 16);
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_base64_encode(raw, sizeof raw, 0, 1, &b);
    json_object_set_new(obj, "sha256", json_string((const char *)b.data));
    kumo_buf_free(&b);
    return 0;
bad:
    bff_error(c, 400, "invalid_argument", "sha256 must be 64 hexadecimal digits");
    return -1;
}

/* Sets obj.metadata from meta_json (an object) or meta_content (a string
 * holding a JSON object) or metadata (an object). Returns 0 or answers
 * 400. */
static int metadata_field(struct bff_ctx *c, json_t *obj, json_t *body)
{
    json_t *mj = json_object_get(body, "meta_json");
    json_t *mc = json_object_get(body, "meta_content");
    json_t *md = json_object_get(body, "metadata");
    if ((mj != NULL) + (mc != NULL) + (md != NULL) > 1) {
        bff_error(c, 400, "invalid_argument", "give only one of meta_json, meta_content, metadata");
        return -1;
    }
    if (mj || md) {
        json_t *m = mj ? mj : md;
        if (!json_is_object(m)) {
            bff_error(c, 400, "invalid_argument", "meta_json must be a JSON object");
            return -1;
        }
        json_object_set(obj, "metadata", m);
    } else if (mc) {
        if (!json_is_string(mc)) {
            bff_error(c, 400, "invalid_argument", "meta_content must be a string holding JSON");
            return -1;
        }
        const char *s = json_string_value(mc);
        size_t len = json_string_length(mc);
        if (kumo_web_json_depth(s, len, c->app->s.json_max_depth) > c->app->s.json_max_depth) {
            bff_error(c, 400, "invalid_argument", "JSON nested too deeply");
            return -1;
        }
        json_t *m = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
        if (!m || !json_is_object(m)) {
            json_decref(m);
            bff_error(c, 400, "invalid_argument", "meta_content must hold a JSON object");
            return -1;
        }
        json_object_set_new(obj, "metadata", m);
    }
    return 0;
}

static void copy_field(json_t *to, const char *to_key, json_t *from, const char *from_key)
{
    json_t *v = json_object_get(from, from_key);
    if (v)
        json_object_set(to, to_key, v);
}

/* Content fields shared by POST (CreateDocument) and PUT (CreateVersion). */
static int content_fields(struct bff_ctx *c, json_t *rq, json_t *body)
{
    copy_field(rq, "fileName", body, "file_name");
    copy_field(rq, "contentType", body, "content_type");
    copy_field(rq, "size", body, "file_size");
    copy_field(rq, "presignParts", body, "presign_parts");
    return sha256_field(c, rq, json_object_get(body, "sha256"));
}

/* ---- response building -------------------------------------------------- */

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
        if (parts) {
            json_t *p2 = json_array();
            size_t i;
            json_t *p;
            json_array_foreach(parts, i, p)
            {
                json_t *q = json_deep_copy(p);
                json_object_set_new(q, "headers", headers_map(json_object_get(p, "headers")));
                json_array_append_new(p2, q);
            }
            json_object_set_new(out, "parts", p2);
        }
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

/* {document_id, message, document} */
static json_t *doc_answer(json_t *j, const char *message)
{
    json_t *doc = json_object_get(j, "document");
    json_t *out = json_object();
    json_t *id = doc ? json_object_get(doc, "id") : NULL;
    json_object_set_new(out, "document_id", id ? json_incref(id) : json_string(""));
    json_object_set_new(out, "message", json_string(message));
    json_object_set(out, "document", doc ? doc : json_null());
    return out;
}

static void doc_etag(struct bff_ctx *c, const Kumo__Documents__V1__Document *d)
{
    if (d)
        bff_etag_header(c, d->etag);
}

/* ---- handlers ----------------------------------------------------------- */

static const char *const order_names[] = {"create_time_desc", "create_time_asc", "update_time_desc",
                                          "title_asc", NULL};

/* Upper-cases `s` behind `prefix` ("active" -> "DOCUMENT_STATUS_ACTIVE"). */
static json_t *enum_value(const char *prefix, const char *s)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, prefix);
    for (const char *p = s; *p && b.len < 64; p++)
        kumo_buf_append_byte(&b, (uint8_t)toupper((unsigned char)*p));
    json_t *v = json_string((const char *)b.data);
    kumo_buf_free(&b);
    return v;
}

void bff_h_docs_list(struct bff_ctx *c)
{
    int ps;
    if (bff_page_size(c, &ps) != 0)
        return;
    static const char *const map[][2] = {
        {"page_token", "pageToken"},
        {"tag", "tag"},
        {"content_type", "contentType"},
        {"owner_id", "ownerId"},
        {"created_after", "createTimeAfter"},
        {"created_before", "createTimeBefore"},
        {"updated_after", "updateTimeAfter"},
        {"updated_before", "updateTimeBefore"},
        {"q", "query"},
    };
    json_t *q = json_object();
    if (ps)
        json_object_set_new(q, "pageSize", json_integer(ps));
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *v = bff_query(c->rq, map[i][0]);
        if (v)
            json_object_set_new(q, map[i][1], json_string(v));
    }
    const char *v;
    if ((v = bff_query(c->rq, "status")) && *v)
        json_object_set_new(q, "status", enum_value("DOCUMENT_STATUS_", v));
    if ((v = bff_query(c->rq, "order")) && *v) {
        int ok = 0;
        for (const char *const *o = order_names; *o; o++)
            ok |= strcmp(*o, v) == 0;
        if (!ok) {
            json_decref(q);
            bff_error(c, 400, "invalid_argument",
                      "order must be create_time_desc, create_time_asc, update_time_desc or "
                      "title_asc");
            return;
        }
        json_object_set_new(q, "orderBy", enum_value("DOCUMENT_ORDER_", v));
    }
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__documents__v1__list_documents_request__descriptor, q);
    json_decref(q);
    ProtobufCMessage *rs;
    if (!rq ||
        bff_call_or_error(c, c->app->documents, DOCS "ListDocuments", rq,
                          &kumo__documents__v1__list_documents_response__descriptor, &rs) != 0)
        return;
    bff_page_out(c, "documents", rs);
}

void bff_h_docs_create(struct bff_ctx *c)
{
    static const char *const allowed[] = {
        "file_name", "file_size",   "content_type", "meta_json", "meta_content",    "metadata",
        "title",     "description", "tags",         "sha256",    "idempotency_key", "presign_parts",
        NULL};
    if (bff_require_role(c, WRITERS) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    json_t *rqj = json_object();
    copy_field(rqj, "title", c->body, "title");
    copy_field(rqj, "description", c->body, "description");
    copy_field(rqj, "tags", c->body, "tags");
    copy_field(rqj, "idempotencyKey", c->body, "idempotency_key");
    const char *ik = bff_header(c->rq, "Idempotency-Key");
    if (ik && !json_object_get(rqj, "idempotencyKey"))
        json_object_set_new(rqj, "idempotencyKey", json_string(ik));
    if (content_fields(c, rqj, c->body) != 0 || metadata_field(c, rqj, c->body) != 0) {
        json_decref(rqj);
        return;
    }
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__documents__v1__create_document_request__descriptor, rqj);
    json_decref(rqj);
    Kumo__Documents__V1__CreateDocumentResponse *rs;
    if (!rq || bff_call_or_error(c, c->app->documents, DOCS "CreateDocument", rq,
                                 &kumo__documents__v1__create_document_response__descriptor,
                                 (ProtobufCMessage **)&rs) != 0)
        return;
    json_t *j = bff_proto_to_json(&rs->base);
    const char *id = rs->document ? rs->document->id : "";
    doc_etag(c, rs->document);
    char loc[200];
    snprintf(loc, sizeof loc, "/api/v1/documents/%s", id);
    bff_resp_header(c->rs, "Location", loc);
    json_t *out = upload_answer(id, json_object_get(j, "document"), json_object_get(j, "upload"));
    json_decref(j);
    bff_json(c, 201, out);
}

void bff_h_docs_put(struct bff_ctx *c)
{
    static const char *const allowed[] = {"file_name", "file_size",     "content_type",
                                          "sha256",    "presign_parts", NULL};
    if (bff_require_role(c, WRITERS) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    const char *id = bff_param(c, "id");
    json_t *rqj = json_object();
    json_object_set_new(rqj, "documentId", json_string(id));
    if (content_fields(c, rqj, c->body) != 0) {
        json_decref(rqj);
        return;
    }
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__documents__v1__create_version_request__descriptor, rqj);
    json_decref(rqj);
    Kumo__Documents__V1__CreateVersionResponse *rs;
    if (!rq || bff_call_or_error(c, c->app->documents, DOCS "CreateVersion", rq,
                                 &kumo__documents__v1__create_version_response__descriptor,
                                 (ProtobufCMessage **)&rs) != 0)
        return;
    json_t *j = bff_proto_to_json(&rs->base);
    json_t *out = upload_answer(id, json_object_get(j, "document"), json_object_get(j, "upload"));
    copy_field(out, "version", j, "version");
    json_decref(j);
    bff_json(c, 201, out);
}

static Kumo__Documents__V1__GetDocumentResponse *get_doc(struct bff_ctx *c, const char *id,
                                                         int version, int url, kumo_code *code,
                                                         struct kumo_rpc_status *st)
{
    Kumo__Documents__V1__GetDocumentRequest rq = KUMO__DOCUMENTS__V1__GET_DOCUMENT_REQUEST__INIT;
    rq.id = (char *)id;
    rq.version = version;
    rq.include_download_url = url;
    Kumo__Documents__V1__GetDocumentResponse *rs = NULL;
    *code = bff_call(c, c->app->documents, DOCS "GetDocument", &rq.base,
                     &kumo__documents__v1__get_document_response__descriptor, 1,
                     (ProtobufCMessage **)&rs, st);
    return rs;
}

/* The document's fields at the top level (KumoCMS), plus document_id,
 * version and the download link. */
static json_t *get_answer(Kumo__Documents__V1__GetDocumentResponse *rs)
{
    json_t *j = bff_proto_to_json(&rs->base);
    json_t *doc = json_object_get(j, "document");
    json_t *out = doc ? json_deep_copy(doc) : json_object();
    json_object_set_new(out, "document_id",
                        json_string(rs->document && rs->document->id ? rs->document->id : ""));
    copy_field(out, "version", j, "version");
    json_t *dl = json_object_get(j, "download");
    if (dl) {
        copy_field(out, "presigned_url", dl, "url");
        copy_field(out, "presigned_url_expires_at", dl, "expire_time");
    }
    json_decref(j);
    return out;
}

void bff_h_docs_get(struct bff_ctx *c)
{
    const char *id = bff_param(c, "id");
    int version = 0;
    const char *v = bff_query(c->rq, "version");
    if (v && *v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 0 || n > 1000000000) {
            bff_error(c, 400, "invalid_argument", "version must be a positive integer");
            return;
        }
        version = (int)n;
    }
    /* download=false: the metadata only, whatever the state (the console's
     * document page reads an archived document too). */
    const char *dl = bff_query(c->rq, "download");
    int want_url = !(dl && (strcmp(dl, "false") == 0 || strcmp(dl, "0") == 0));
    struct kumo_rpc_status st = {0};
    kumo_code code;
    Kumo__Documents__V1__GetDocumentResponse *rs = get_doc(c, id, version, want_url, &code, &st);
    if (want_url && (code == KUMO_CODE_FAILED_PRECONDITION || code == KUMO_CODE_UNAVAILABLE)) {
        /* No download possible: say why, from the document's state. */
        kumo_rpc_status_clear(&st);
        rs = get_doc(c, id, version, 0, &code, &st);
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
                rs = get_doc(c, id, version, 1, &code, &st);
            } else if (rstate != KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_IN_PROGRESS) {
                bff_error(c, 403, "failed_precondition",
                          "the document is archived: restore it before downloading");
                return;
            } else {
                doc_etag(c, rs->document);
                json_t *out = get_answer(rs);
                json_object_set_new(out, "message", json_string("restore in progress"));
                bff_json(c, 202, out);
                return;
            }
        }
    }
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, &st);
        kumo_rpc_status_clear(&st);
        return;
    }
    doc_etag(c, rs->document);
    bff_json(c, 200, get_answer(rs));
}

void bff_h_docs_patch(struct bff_ctx *c)
{
    static const char *const allowed[] = {"title",     "description", "tags", "metadata",
                                          "meta_json", "file_name",   NULL};
    if (bff_require_role(c, WRITERS) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    const char *etag = bff_if_match(c);
    if (!etag) {
        bff_error(c, 428, "failed_precondition", "If-Match with the document's etag is required");
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "id", json_string(bff_param(c, "id")));
    struct kumo_buf mask = KUMO_BUF_INIT;
    static const char *const plain[][2] = {{"title", "title"},
                                           {"description", "description"},
                                           {"tags", "tags"},
                                           {"file_name", "fileName"}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (json_object_get(c->body, plain[i][0])) {
            copy_field(doc, plain[i][1], c->body, plain[i][0]);
            kumo_buf_appendf(&mask, "%s%s", mask.len ? "," : "", plain[i][1]);
        }
    }
    if (json_object_get(c->body, "metadata") || json_object_get(c->body, "meta_json")) {
        if (metadata_field(c, doc, c->body) != 0) {
            json_decref(doc);
            kumo_buf_free(&mask);
            return;
        }
        kumo_buf_appendf(&mask, "%smetadata", mask.len ? "," : "");
    }
    if (mask.len == 0) {
        json_decref(doc);
        bff_error(c, 400, "invalid_argument", "nothing to change");
        return;
    }
    json_t *rqj = json_pack("{s:o,s:s,s:s}", "document", doc, "updateMask", (const char *)mask.data,
                            "etag", etag);
    kumo_buf_free(&mask);
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__documents__v1__update_document_request__descriptor, rqj);
    json_decref(rqj);
    if (!rq)
        return;
    Kumo__Documents__V1__UpdateDocumentResponse *rs;
    struct kumo_rpc_status st = {0};
    kumo_code code = bff_call(c, c->app->documents, DOCS "UpdateDocument", rq,
                              &kumo__documents__v1__update_document_response__descriptor, 1,
                              (ProtobufCMessage **)&rs, &st);
    if (code == KUMO_CODE_ABORTED) {
        kumo_rpc_status_clear(&st);
        bff_error(c, 412, "aborted", "the document changed since it was read (etag mismatch)");
        return;
    }
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, &st);
        kumo_rpc_status_clear(&st);
        return;
    }
    doc_etag(c, rs->document);
    json_t *j = bff_proto_to_json(&rs->base);
    json_t *out = doc_answer(j, "updated");
    json_decref(j);
    bff_json(c, 200, out);
}

static int query_true(struct bff_ctx *c, const char *name)
{
    const char *v = bff_query(c->rq, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

void bff_h_docs_delete(struct bff_ctx *c)
{
    if (bff_require_role(c, WRITERS) != 0)
        return;
    Kumo__Documents__V1__DeleteDocumentRequest rq =
        KUMO__DOCUMENTS__V1__DELETE_DOCUMENT_REQUEST__INIT;
    rq.id = (char *)bff_param(c, "id");
    rq.purge = query_true(c, "purge");
    const char *etag = bff_if_match(c);
    rq.etag = (char *)(etag ? etag : "");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->documents, DOCS "DeleteDocument", &rq.base,
                          &kumo__documents__v1__delete_document_response__descriptor, &rs) != 0)
        return;
    json_t *j = bff_proto_to_json(rs);
    json_t *out = doc_answer(j, rq.purge ? "purged" : "deleted");
    json_object_set_new(out, "document_id", json_string(rq.id));
    json_decref(j);
    bff_json(c, 200, out);
}

void bff_h_docs_upload_parts(struct bff_ctx *c)
{
    static const char *const allowed[] = {"part_numbers", "version", NULL};
    if (bff_require_role(c, WRITERS) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    json_t *rqj = json_deep_copy(c->body);
    json_object_set_new(rqj, "documentId", json_string(bff_param(c, "id")));
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__documents__v1__presign_upload_parts_request__descriptor, rqj);
    json_decref(rqj);
    ProtobufCMessage *rs;
    if (!rq || bff_call_or_error(c, c->app->documents, DOCS "PresignUploadParts", rq,
                                 &kumo__documents__v1__presign_upload_parts_response__descriptor,
                                 &rs) != 0)
        return;
    json_t *j = bff_proto_to_json(rs);
    json_t *out = json_object();
    json_t *parts = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "parts"), i, p)
    {
        json_t *q = json_deep_copy(p);
        json_object_set_new(q, "headers", headers_map(json_object_get(p, "headers")));
        json_array_append_new(parts, q);
    }
    json_object_set_new(out, "parts", parts);
    copy_field(out, "expires_at", j, "expire_time");
    json_decref(j);
    bff_json(c, 200, out);
}

void bff_h_docs_complete(struct bff_ctx *c)
{
    static const char *const allowed[] = {"parts", "version", NULL};
    if (bff_require_role(c, WRITERS) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    json_t *rqj = json_deep_copy(c->body);
    json_object_set_new(rqj, "documentId", json_string(bff_param(c, "id")));
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__documents__v1__complete_upload_request__descriptor, rqj);
    json_decref(rqj);
    Kumo__Documents__V1__CompleteUploadResponse *rs;
    if (!rq || bff_call_or_error(c, c->app->documents, DOCS "CompleteUpload", rq,
                                 &kumo__documents__v1__complete_upload_response__descriptor,
                                 (ProtobufCMessage **)&rs) != 0)
        return;
    doc_etag(c, rs->document);
    json_t *j = bff_proto_to_json(&rs->base);
    json_t *out = doc_answer(j, "upload complete");
    json_decref(j);
    bff_json(c, 200, out);
}

void bff_h_docs_archive(struct bff_ctx *c)
{
    static const char *const allowed[] = {"etag", NULL};
    if (bff_require_role(c, WRITERS) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    Kumo__Documents__V1__ArchiveDocumentRequest rq =
        KUMO__DOCUMENTS__V1__ARCHIVE_DOCUMENT_REQUEST__INIT;
    rq.id = (char *)bff_param(c, "id");
    json_t *e = json_object_get(c->body, "etag");
    const char *etag = bff_if_match(c);
    rq.etag = (char *)(etag ? etag : json_is_string(e) ? json_string_value(e) : "");
    Kumo__Documents__V1__ArchiveDocumentResponse *rs;
    if (bff_call_or_error(c, c->app->documents, DOCS "ArchiveDocument", &rq.base,
                          &kumo__documents__v1__archive_document_response__descriptor,
                          (ProtobufCMessage **)&rs) != 0)
        return;
    doc_etag(c, rs->document);
    json_t *j = bff_proto_to_json(&rs->base);
    json_t *out = doc_answer(j, "archived");
    json_decref(j);
    bff_json(c, 200, out);
}

void bff_h_docs_restore(struct bff_ctx *c)
{
    static const char *const allowed[] = {"days", "tier", NULL};
    if (bff_require_role(c, WRITERS) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    json_t *rqj = json_object();
    json_object_set_new(rqj, "id", json_string(bff_param(c, "id")));
    copy_field(rqj, "days", c->body, "days");
    json_t *tier = json_object_get(c->body, "tier");
    if (tier) {
        const char *t = json_is_string(tier) ? json_string_value(tier) : "";
        if (strcasecmp(t, "expedited") != 0 && strcasecmp(t, "standard") != 0 &&
            strcasecmp(t, "bulk") != 0) {
            json_decref(rqj);
            bff_error(c, 400, "invalid_argument", "tier must be expedited, standard or bulk");
            return;
        }
        json_object_set_new(rqj, "tier", enum_value("RESTORE_TIER_", t));
    }
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__documents__v1__restore_document_request__descriptor, rqj);
    json_decref(rqj);
    Kumo__Documents__V1__RestoreDocumentResponse *rs;
    if (!rq || bff_call_or_error(c, c->app->documents, DOCS "RestoreDocument", rq,
                                 &kumo__documents__v1__restore_document_response__descriptor,
                                 (ProtobufCMessage **)&rs) != 0)
        return;
    json_t *j = bff_proto_to_json(&rs->base);
    json_t *out = doc_answer(j, "restore requested");
    json_t *doc = json_object_get(j, "document");
    json_t *restore = doc ? json_object_get(doc, "restore") : NULL;
    json_object_set(out, "restore", restore ? restore : json_null());
    json_decref(j);
    bff_json(c, 202, out);
}

void bff_h_docs_undelete(struct bff_ctx *c)
{
    if (bff_require_role(c, WRITERS) != 0)
        return;
    Kumo__Documents__V1__UndeleteDocumentRequest rq =
        KUMO__DOCUMENTS__V1__UNDELETE_DOCUMENT_REQUEST__INIT;
    rq.id = (char *)bff_param(c, "id");
    Kumo__Documents__V1__UndeleteDocumentResponse *rs;
    if (bff_call_or_error(c, c->app->documents, DOCS "UndeleteDocument", &rq.base,
                          &kumo__documents__v1__undelete_document_response__descriptor,
                          (ProtobufCMessage **)&rs) != 0)
        return;
    doc_etag(c, rs->document);
    json_t *j = bff_proto_to_json(&rs->base);
    json_t *out = doc_answer(j, "undeleted");
    json_decref(j);
    bff_json(c, 200, out);
}

void bff_h_docs_versions(struct bff_ctx *c)
{
    int ps;
    if (bff_page_size(c, &ps) != 0)
        return;
    Kumo__Documents__V1__ListVersionsRequest rq = KUMO__DOCUMENTS__V1__LIST_VERSIONS_REQUEST__INIT;
    rq.document_id = (char *)bff_param(c, "id");
    rq.page_size = ps;
    const char *t = bff_query(c->rq, "page_token");
    rq.page_token = (char *)(t ? t : "");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->documents, DOCS "ListVersions", &rq.base,
                          &kumo__documents__v1__list_versions_response__descriptor, &rs) != 0)
        return;
    bff_page_out(c, "versions", rs);
}

void bff_h_audit(struct bff_ctx *c)
{
    int ps;
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0 || bff_page_size(c, &ps) != 0)
        return;
    Kumo__Documents__V1__ListAuditEventsRequest rq =
        KUMO__DOCUMENTS__V1__LIST_AUDIT_EVENTS_REQUEST__INIT;
    rq.page_size = ps;
    const char *v;
    rq.page_token = (char *)((v = bff_query(c->rq, "page_token")) ? v : "");
    rq.document_id = (char *)((v = bff_query(c->rq, "document_id")) ? v : "");
    rq.actor_id = (char *)((v = bff_query(c->rq, "actor_id")) ? v : "");
    rq.action = (char *)((v = bff_query(c->rq, "action")) ? v : "");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->documents, DOCS "ListAuditEvents", &rq.base,
                          &kumo__documents__v1__list_audit_events_response__descriptor, &rs) != 0)
        return;
    bff_page_out(c, "events", rs);
}

void bff_h_dead_letters(struct bff_ctx *c)
{
    int ps;
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0 || bff_page_size(c, &ps) != 0)
        return;
    Kumo__Documents__V1__ListDeadLettersRequest rq =
        KUMO__DOCUMENTS__V1__LIST_DEAD_LETTERS_REQUEST__INIT;
    rq.page_size = ps;
    const char *v = bff_query(c->rq, "page_token");
    rq.page_token = (char *)(v ? v : "");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->documents, DOCS "ListDeadLetters", &rq.base,
                          &kumo__documents__v1__list_dead_letters_response__descriptor, &rs) != 0)
        return;
    bff_page_out(c, "dead_letters", rs);
}

void bff_h_redrive(struct bff_ctx *c)
{
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0)
        return;
    Kumo__Documents__V1__RedriveDeadLetterRequest rq =
        KUMO__DOCUMENTS__V1__REDRIVE_DEAD_LETTER_REQUEST__INIT;
    rq.id = (char *)bff_param(c, "id");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->documents, DOCS "RedriveDeadLetter", &rq.base,
                          &kumo__documents__v1__redrive_dead_letter_response__descriptor, &rs) != 0)
        return;
    bff_json(c, 202, bff_proto_to_json(rs));
}
