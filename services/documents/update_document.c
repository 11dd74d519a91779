/* UpdateDocument: title, description, file name, tags and metadata, as
 * the update mask names them, conditional on the etag. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "documents.h"
#include "store/documents.h"

#define ST_DELETED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED

static const struct kumo_rpc_mask_path mask_paths[] = {{"title", DOCS_DOC_F_TITLE},
                                                       {"description", DOCS_DOC_F_DESCRIPTION},
                                                       {"tags", DOCS_DOC_F_TAGS},
                                                       {"metadata", DOCS_DOC_F_METADATA},
                                                       {"file_name", DOCS_DOC_F_FILE_NAME}};

static kumo_code check_update(struct kumo_rpc_call *call, const Kumo__Documents__V1__Document *d,
                              unsigned f, struct docs_doc_edit *u, struct kumo_buf *tags,
                              struct kumo_buf *meta)
{
    kumo_code rc = KUMO_CODE_OK;
    if ((f & DOCS_DOC_F_TITLE) && (rc = docs_check_title(call, "document.title", d->title)) != 0)
        return rc;
    if ((f & DOCS_DOC_F_DESCRIPTION) &&
        (rc = docs_check_description(call, "document.description", d->description)) != 0)
        return rc;
    if ((f & DOCS_DOC_F_FILE_NAME) &&
        (rc = docs_check_file_name(call, "document.file_name", d->file_name)) != 0)
        return rc;
    if ((f & DOCS_DOC_F_TAGS) &&
        (rc = docs_check_tags(call, "document.tags", d->tags, d->n_tags, tags)) != 0)
        return rc;
    if ((f & DOCS_DOC_F_METADATA) &&
        (rc = docs_check_metadata(call, "document.metadata", d->metadata, meta)) != 0)
        return rc;
    u->fields = f;
    u->title = d->title;
    u->description = d->description;
    u->file_name = d->file_name;
    u->tags = d->tags;
    u->n_tags = d->n_tags;
    u->tags_text = tags->len ? (const char *)tags->data : "";
    u->metadata = meta->len ? (const char *)meta->data : NULL;
    return KUMO_CODE_OK;
}

static void changed_fields(unsigned f, struct kumo_buf *out)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < sizeof mask_paths / sizeof mask_paths[0]; k++)
        if (f & mask_paths[k].bit)
            json_array_append_new(arr, json_string(mask_paths[k].path));
    json_t *root = json_object();
    json_object_set_new(root, "fields", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    kumo_buf_append_str(out, s);
    free(s);
    json_decref(root);
}

DOCS_HANDLER(update_document)
{
    struct docs_ctx *ctx = kumo_rpc_call_service_data(call);
    const Kumo__Documents__V1__UpdateDocumentRequest *req = (const void *)request;
    const struct kumo_principal *p;
    kumo_code rc = docs_caller(call, DOCS_EDITOR, &p);
    if (rc != KUMO_CODE_OK)
        return rc;
    if (req->document == NULL)
        return kumo_rpc_invalid(call, "document", "is required");
    const char *id = req->document->id;
    unsigned f;
    int64_t version;
    if ((rc = kumo_rpc_check_id(call, "document.id", id)) != KUMO_CODE_OK ||
        (rc = kumo_rpc_update_mask(call, req->update_mask, mask_paths,
                                   sizeof mask_paths / sizeof mask_paths[0], &f)) != KUMO_CODE_OK)
        return rc;
    if (req->etag[0] == '\0')
        return kumo_rpc_invalid(call, "etag", "is required");
    if (kumo_etag_parse(req->etag, &version) != 0)
        return kumo_rpc_invalid(call, "etag", "is not an etag of this service");
    struct docs_doc_edit u;
    struct kumo_buf tags = KUMO_BUF_INIT, meta = KUMO_BUF_INIT, details = KUMO_BUF_INIT;
    struct kumo_db_conn *c = NULL;
    uint64_t matched = 0;
    if ((rc = check_update(call, req->document, f, &u, &tags, &meta)) != KUMO_CODE_OK ||
        (rc = kumo_db_call_acquire(ctx->db, call, &c)) != KUMO_CODE_OK)
        goto out;
    changed_fields(f, &details);
    rc = kumo_db_begin(c);
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_update(c, p->tid, id, version, &u, &matched);
    if (rc == KUMO_CODE_OK && matched == 0) {
        struct docs_doc_row d;
        if (docs_doc_load(c, call, p->tid, id, 0, &d) == KUMO_CODE_OK && d.status == ST_DELETED) {
            kumo_db_rollback(c);
            kumo_db_release(c);
            rc = kumo_rpc_call_error(call, KUMO_CODE_FAILED_PRECONDITION,
                                     "document is deleted: undelete it first");
        } else {
            rc = docs_lost_race(call, c, p->tid, id);
        }
        goto out;
    }
    rc = docs_finish_audited(call, c, p, rc, "document.update", id, (const char *)details.data,
                             &kumo__documents__v1__update_document_response__descriptor, response);
out:
    kumo_buf_free(&tags);
    kumo_buf_free(&meta);
    kumo_buf_free(&details);
    return rc;
}
