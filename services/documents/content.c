/* New content (CreateDocument, CreateVersion): the checks of what a client
 * declares, and the pending version row made of it, multipart or single
 * PUT by the configured threshold. */
#include <string.h>

#include "documents.h"
#include "store/versions.h"

kumo_code docs_check_content(struct kumo_rpc_call *call, const struct docs_settings *s,
                             struct docs_new_content *n)
{
    kumo_code rc;
    if (n->content_type[0] == '\0')
        n->content_type = "application/octet-stream";
    if ((rc = docs_check_file_name(call, "file_name", n->file_name)) != KUMO_CODE_OK ||
        (rc = docs_check_content_type(call, "content_type", n->content_type)) != KUMO_CODE_OK ||
        (rc = docs_check_size(call, s, "size", n->size)) != KUMO_CODE_OK ||
        (rc = docs_check_sha256(call, "sha256", n->sha256)) != KUMO_CODE_OK)
        return rc;
    /* presign_parts' URLs carry no checksum, which every part PUT of an
     * upload asking for part checksums must (S3 refuses it otherwise). */
    if (n->presign_parts && n->part_sha256)
        return kumo_rpc_invalid(call, "presign_parts",
                                "not with part_sha256: presign each part with its SHA-256 "
                                "(PresignUploadParts sha256s)");
    return KUMO_CODE_OK;
}

void docs_pending_version(const struct docs_settings *s, const char *tenant_id, const char *doc_id,
                          int64_t version, const struct docs_new_content *n, const char *creator_id,
                          int64_t now_us, struct docs_version_new *out)
{
    memset(out, 0, sizeof *out);
    out->tenant_id = tenant_id;
    out->doc_id = doc_id;
    out->version = version;
    out->file_name = n->file_name;
    out->content_type = n->content_type;
    out->size = n->size;
    out->sha256 = n->sha256;
    out->creator_id = creator_id;
    out->now_us = now_us;
    out->multipart = n->size > s->multipart_threshold;
    if (out->multipart)
        out->part_size = docs_part_size(s, n->size, &out->part_count);
}
