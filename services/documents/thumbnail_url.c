/* thumbnail_url of Document answers (GetDocument, ListDocuments): the
 * thumbnail keys of the documents' current versions in one query
 * (store/thumbnails.h), then a presigned GET for each from kumo-storage.
 * A presigned URL is reused for the first half of its life (a small
 * direct-mapped cache keyed by object key: keys carry their tenant and
 * come from tenant-scoped rows), so a console listing the same page again
 * does not pay one storage call per row. Best effort: without the
 * database or storage the answer simply has no thumbnails. */
#include <string.h>

#include "documents.h"
#include "google/protobuf/duration.pb-c.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "link_cache.h"
#include "store/thumbnails.h"

#define ST_DELETED KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED
/* Reused for the first half of their life (link_cache.h). */
DOCS_LINK_CACHE(thumbnail_links, 4096);

void docs_thumbnails_attach(struct docs_ctx *ctx, struct kumo_rpc_call *call, const char *tid,
                            Kumo__Documents__V1__Document **docs, size_t n)
{
    if (n > DOCS_THUMB_BATCH)
        n = DOCS_THUMB_BATCH;
    const char *ids[DOCS_THUMB_BATCH];
    int64_t versions[DOCS_THUMB_BATCH];
    size_t m = 0;
    size_t which[DOCS_THUMB_BATCH];
    for (size_t i = 0; i < n; i++) {
        if (!docs[i] || docs[i]->current_version <= 0 || docs[i]->status == ST_DELETED)
            continue;
        ids[m] = docs[i]->id;
        versions[m] = docs[i]->current_version;
        which[m++] = i;
    }
    if (m == 0)
        return;
    docs_thumb_key *keys = kumo_rpc_call_alloc(call, m * sizeof *keys);
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), &c) != KUMO_CODE_OK)
        return;
    kumo_code rc = docs_thumb_keys(c, tid, ids, versions, m, keys);
    kumo_db_release(c);
    if (rc != KUMO_CODE_OK)
        return;
    for (size_t j = 0; j < m; j++) {
        if (!keys[j][0] || docs_link_cache_get(&thumbnail_links, call, keys[j], strlen(keys[j]),
                                               &docs[which[j]]->thumbnail_url,
                                               &docs[which[j]]->thumbnail_expire_time))
            continue;
        Kumo__Storage__V1__PresignDownloadRequest req =
            KUMO__STORAGE__V1__PRESIGN_DOWNLOAD_REQUEST__INIT;
        Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;
        ttl.seconds = ctx->s.download_url_ttl_ms / 1000;
        req.key = keys[j];
        req.expires_in = &ttl;
        req.response_content_type = "image/png";
        ProtobufCMessage *resp;
        if (docs_storage_call(ctx, call, tid, "PresignDownload", &req.base,
                              &kumo__storage__v1__presign_download_response__descriptor,
                              &resp) != KUMO_CODE_OK)
            continue;
        const Kumo__Storage__V1__PresignDownloadResponse *r = (const void *)resp;
        docs[which[j]]->thumbnail_url = r->url;
        docs[which[j]]->thumbnail_expire_time = r->expire_time;
        if (r->expire_time) {
            int64_t now = docs_link_now_ms();
            int64_t exp = r->expire_time->seconds * 1000 + r->expire_time->nanos / 1000000;
            docs_link_cache_put(&thumbnail_links, keys[j], strlen(keys[j]), r->url, r->expire_time,
                                now + (exp - now) / 2);
        }
    }
}
