/* thumbnail_url of Document answers (GetDocument, ListDocuments): the
 * thumbnail keys of the documents' current versions in one query
 * (store/thumbnails.h), then a presigned GET for each from kumo-storage.
 * A presigned URL is reused for the first half of its life (a small
 * direct-mapped cache keyed by object key: keys carry their tenant and
 * come from tenant-scoped rows), so a console listing the same page again
 * does not pay one storage call per row. Best effort: without the
 * database or storage the answer simply has no thumbnails. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"

#include "documents.h"
#include "google/protobuf/duration.pb-c.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "store/thumbnails.h"

#define ST_DELETED  KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED
#define CACHE_SLOTS 4096
#define URL_MAX     4096

struct slot {
    char key[DOCS_THUMB_KEY_MAX + 1];
    char *url;        /* kumo_malloc'd; NULL: empty */
    int64_t expire_s; /* the URL's expire_time */
    int32_t expire_ns;
    int64_t reuse_until_s; /* wall clock: half its life */
};

static struct slot cache[CACHE_SLOTS];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static struct slot *slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return &cache[h % CACHE_SLOTS];
}

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* A cached URL still in the first half of its life, copied into the call. */
static int cache_get(struct kumo_rpc_call *call, const char *key, Kumo__Documents__V1__Document *d)
{
    int hit = 0;
    pthread_mutex_lock(&cache_mu);
    struct slot *s = slot_of(key);
    if (s->url && strcmp(s->key, key) == 0 && now_s() < s->reuse_until_s) {
        size_t n = strlen(s->url);
        d->thumbnail_url = kumo_rpc_call_alloc(call, n + 1);
        memcpy(d->thumbnail_url, s->url, n + 1);
        Google__Protobuf__Timestamp *t = kumo_rpc_call_alloc(call, sizeof *t);
        google__protobuf__timestamp__init(t);
        t->seconds = s->expire_s;
        t->nanos = s->expire_ns;
        d->thumbnail_expire_time = t;
        hit = 1;
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const char *key, const char *url, const Google__Protobuf__Timestamp *exp)
{
    size_t n = strlen(url);
    if (!exp || n >= URL_MAX || strlen(key) > DOCS_THUMB_KEY_MAX)
        return;
    int64_t now = now_s();
    char *copy = kumo_malloc(n + 1);
    memcpy(copy, url, n + 1);
    pthread_mutex_lock(&cache_mu);
    struct slot *s = slot_of(key);
    kumo_free(s->url);
    memcpy(s->key, key, strlen(key) + 1);
    s->url = copy;
    s->expire_s = exp->seconds;
    s->expire_ns = exp->nanos;
    s->reuse_until_s = now + (exp->seconds - now) / 2;
    pthread_mutex_unlock(&cache_mu);
}

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
        if (!keys[j][0] || cache_get(call, keys[j], docs[which[j]]))
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
        if (r->url && r->url[0])
            cache_put(keys[j], r->url, r->expire_time);
    }
}
