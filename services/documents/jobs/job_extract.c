/* The extract job: streams a version's object through a presigned GET,
 * computing its SHA-256 (checked against the one declared at upload),
 * detecting its MIME type from the first bytes with libmagic, and keeping
 * the text of text-like content (valid UTF-8, at most KUMO_EXTRACT_TEXT_MAX
 * bytes) for full-text search. PDFs, Office files and images are spooled
 * to an unlinked temporary file (up to KUMO_EXTRACT_FILE_MAX) and handed
 * to the sandboxed extractor (extract_child.c), whose text is kept the
 * same way and whose thumbnail is stored beside the version's object
 * ("<key>.thumb.png", store/thumbnails.h); a file the extractor cannot
 * read, or that hits one of its bounds, fails the job with the reason
 * (retried, then a dead letter with extraction_state FAILED). The results are written in one
 * transaction that first checks the job's lease, and only while the version is still the document's
 * current one. A document or version purged meanwhile is success with nothing to do. */
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <stdlib.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/validate.h"
#include "http/easy.h"
#include "google/protobuf/duration.pb-c.h"
#include "jobs.h"
#include "extract_child.h"
#include "../store/thumbnails.h"
#include "../store/documents.h"
#include "../store/versions.h"
#include "../store/audit.h"
#include "kumo/storage/v1/storage.pb-c.h"
#include "runtime/log.h"

#define MAGIC_HEAD        (64 * 1024) /* bytes libmagic looks at */
#define PRESIGN_TTL_S     900
#define MIME_MAX          255
#define CONNECT_TIMEOUT_S 10
#define STALL_TIMEOUT_S   60

/* ---- text helpers ---- */

int docs__mime_is_text(const char *mime)
{
    static const char *const exact[] = {
        "application/json",          "application/xml",        "application/javascript",
        "application/x-javascript",  "application/ecmascript", "application/x-sh",
        "application/x-shellscript", "application/csv",        "application/x-csv",
        "application/sql",           "application/x-yaml",     "application/yaml",
        "application/toml",          "application/x-tex",      "application/rtf",
        "application/x-httpd-php",   "application/x-perl",     "application/x-python",
        "application/x-ruby",        "image/svg+xml",          "message/rfc822",
    };
    if (!mime || !mime[0])
        return 0;
    if (strncmp(mime, "text/", 5) == 0)
        return 1;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(mime, exact[i]) == 0)
            return 1;
    size_t n = strlen(mime);
    return (n > 4 && strcmp(mime + n - 4, "+xml") == 0) ||
           (n > 5 && strcmp(mime + n - 5, "+json") == 0);
}

/* ---- the transfer ---- */

struct sink {
    struct docs_ctx *ctx;
    const struct docs_job *job;
    int64_t renew_ns; /* when the lease is extended next (monotonic) */
    int lease_lost;
    EVP_MD_CTX *md;
    magic_t magic;
    const volatile int *stopping;
    struct kumo_buf head; /* the first MAGIC_HEAD bytes, until decided */
    struct kumo_buf raw;  /* text-like content, up to raw_max */
    size_t raw_max;
    int decided, is_text;
    int64_t total;
    /* PDFs, Office files, images: spooled for the extractor. */
    const char *kind; /* docs__extract_kind, or NULL */
    int fd;           /* the unlinked temporary file, or -1 */
    int64_t spooled, file_max;
    int too_big, spool_errno;
    char mime[MIME_MAX + 1];
};

/* An unlinked temporary file in $TMPDIR (or /tmp). */
static int spool_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !dir[0])
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/kumo-extract.XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    return fd;
}

static void spool(struct sink *k, const char *p, size_t n)
{
    if (k->fd < 0 || n == 0)
        return;
    if (k->spooled + (int64_t)n > k->file_max) {
        close(k->fd); /* too big to extract: the hash and type are still kept */
        k->fd = -1;
        k->too_big = 1;
        return;
    }
    while (n > 0) {
        ssize_t w = write(k->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            k->spool_errno = w < 0 ? errno : EIO;
            close(k->fd);
            k->fd = -1;
            return;
        }
        p += w;
        n -= (size_t)w;
        k->spooled += w;
    }
}

static void decide(struct sink *k)
{
    const char *m = NULL;
    if (k->magic)
        m = magic_buffer(k->magic, k->head.data ? (const void *)k->head.data : "", k->head.len);
    if (!m || !m[0])
        m = "application/octet-stream";
    snprintf(k->mime, sizeof k->mime, "%s", m);
    k->is_text = docs__mime_is_text(k->mime);
    if (k->is_text)
        kumo_buf_append(&k->raw, k->head.data ? (const void *)k->head.data : "",
                        k->head.len < k->raw_max ? k->head.len : k->raw_max);
    k->kind = k->is_text ? NULL : docs__extract_kind(k->mime);
    if (k->kind && docs__extract_bin(&k->ctx->s)) {
        k->fd = spool_open();
        if (k->fd < 0)
            k->spool_errno = errno;
        spool(k, k->head.data ? (const char *)k->head.data : "", k->head.len);
    }
    k->decided = 1;
    kumo_buf_free(&k->head);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *k = ud;
    size_t n = size * nmemb;
    if (EVP_DigestUpdate(k->md, ptr, n) != 1)
        return 0;
    k->total += (int64_t)n;
    if (!k->decided) {
        size_t take = MAGIC_HEAD - k->head.len;
        if (take > n)
            take = n;
        kumo_buf_append(&k->head, ptr, take);
        if (k->head.len >= MAGIC_HEAD) {
            decide(k);
            ptr += take;
            n -= take;
        } else {
            return size * nmemb;
        }
    }
    if (k->is_text && k->raw.len < k->raw_max) {
        size_t room = k->raw_max - k->raw.len;
        kumo_buf_append(&k->raw, ptr, n < room ? n : room);
    }
    spool(k, ptr, n);
    return size * nmemb;
}

/* Extends the job's lease every third of it, during the download and
 * while the extractor runs. Non-zero once the lease is lost. */
static int keep_lease(void *ud)
{
    struct sink *k = ud;
    int64_t now = kumo_now_ns();
    if (now >= k->renew_ns) {
        k->renew_ns = now + k->ctx->s.jobs_lease_ms * 1000000LL / 3;
        if (docs__job_lease_extend(k->ctx, k->job) == KUMO_CODE_ABORTED)
            k->lease_lost = 1;
    }
    return k->lease_lost;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    struct sink *k = ud;
    if (*k->stopping)
        return 1;
    /* A long transfer keeps its lease: renewed every third of it. */
    return keep_lease(k);
}

/* GETs `url` into the sink. */
static kumo_code fetch(const char *url, struct sink *k, struct kumo_buf *err)
{
    CURL *h = kumo_http_easy(url, NULL);
    if (!h) {
        kumo_buf_appendf(err, "curl init failed");
        return KUMO_CODE_INTERNAL;
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)STALL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, k);
    long status;
    CURLcode cc = kumo_http_easy_run(h, &status);
    if (k->lease_lost) {
        kumo_buf_appendf(err, "lease lost");
        return KUMO_CODE_ABORTED;
    }
    if (cc != CURLE_OK) {
        kumo_buf_appendf(err, "download failed: %s", curl_easy_strerror(cc));
        return KUMO_CODE_UNAVAILABLE;
    }
    if (status != 200) {
        kumo_buf_appendf(err, "download failed: HTTP %ld", status);
        return status == 404 ? KUMO_CODE_NOT_FOUND : KUMO_CODE_UNAVAILABLE;
    }
    if (!k->decided)
        decide(k);
    return KUMO_CODE_OK;
}

/* ---- the job ---- */

/* Reads the version's object key, declared SHA-256 and size. NOT_FOUND when
 * the document or version is gone. */
static kumo_code load_version(struct docs_ctx *ctx, const struct docs_job *job,
                              struct docs_version_source *v)
{
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(ctx->db, 0, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    kumo_db_conn_set_request_id(c, job->id);
    rc = docs_version_source(c, job->tenant_id, job->document_id, job->version, v);
    kumo_db_release(c);
    return rc;
}

static kumo_code presign(struct docs_job_env *env, const struct docs_job *job, const char *key,
                         char **url, struct kumo_buf *err)
{
    Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;
    ttl.seconds = PRESIGN_TTL_S;
    Kumo__Storage__V1__PresignDownloadRequest req =
        KUMO__STORAGE__V1__PRESIGN_DOWNLOAD_REQUEST__INIT;
    req.tenant_id = (char *)job->tenant_id;
    req.key = (char *)key;
    req.expires_in = &ttl;
    ProtobufCMessage *m = NULL;
    kumo_code rc =
        docs_job_storage_call(env->ctx, job->id, job->tenant_id, "PresignDownload", &req.base,
                              &kumo__storage__v1__presign_download_response__descriptor, &m, err);
    if (rc != KUMO_CODE_OK)
        return rc;
    Kumo__Storage__V1__PresignDownloadResponse *r = (Kumo__Storage__V1__PresignDownloadResponse *)m;
    if (!r->url || !r->url[0]) {
        protobuf_c_message_free_unpacked(m, NULL);
        kumo_buf_appendf(err, "storage PresignDownload: no url");
        return KUMO_CODE_INTERNAL;
    }
    *url = kumo_strdup(r->url);
    protobuf_c_message_free_unpacked(m, NULL);
    return KUMO_CODE_OK;
}

struct result {
    const char *mime;
    uint8_t sha[32];
    const char *text; /* NULL when not text-like */
    size_t text_len;
    uint32_t pages;        /* read by the extractor */
    const char *thumb_key; /* the stored thumbnail's key, or NULL */
};

static kumo_code store_tx(struct kumo_db_conn *c, const struct docs_job *job,
                          const struct result *r, int *lost, int *sha_changed)
{
    kumo_code rc = docs__job_lease_check(c, job);
    if (rc == KUMO_CODE_ABORTED) {
        *lost = 1;
        return rc;
    }
    int64_t current = 0;
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_lock_current(c, job->tenant_id, job->document_id, &current);
    if (rc == KUMO_CODE_NOT_FOUND || (rc == KUMO_CODE_OK && current != job->version))
        return KUMO_CODE_OK; /* purged, or superseded by a newer version */
    if (rc == KUMO_CODE_OK)
        rc = docs_doc_set_extracted(c, job->tenant_id, job->document_id, r->mime, r->sha, r->text,
                                    r->text_len);
    uint64_t matched = 0;
    if (rc == KUMO_CODE_OK)
        rc = docs_version_set_detected(c, job->tenant_id, job->document_id, job->version, r->mime,
                                       r->sha, &matched);
    if (rc == KUMO_CODE_OK && matched == 0) {
        /* A SHA-256 declared at completion while this job ran, and not the
         * one of the bytes read: the same failure as a mismatch found
         * before (nothing of this run is kept). */
        *sha_changed = 1;
        return KUMO_CODE_DATA_LOSS;
    }
    if (rc == KUMO_CODE_OK && r->thumb_key)
        rc = docs_thumb_set(c, job->tenant_id, job->document_id, job->version, r->thumb_key);
    if (rc == KUMO_CODE_OK) {
        char details[MIME_MAX + 160];
        snprintf(details, sizeof details,
                 "{\"detected_content_type\":\"%s\",\"text_bytes\":%zu,\"pages\":%u,"
                 "\"thumbnail\":%s}",
                 r->mime, r->text ? r->text_len : (size_t)0, r->pages,
                 r->thumb_key ? "true" : "false");
        rc = docs_audit(c, job->tenant_id, "documents", "service", "document.extract",
                        job->document_id, job->version, job->id, details);
    }
    return rc;
}

static kumo_code store(struct docs_ctx *ctx, const struct docs_job *job, const struct result *r,
                       struct kumo_buf *err)
{
    struct kumo_db_conn *c = NULL;
    int lost = 0, sha_changed = 0;
    kumo_code rc = kumo_db_acquire(ctx->db, 0, &c);
    if (rc == KUMO_CODE_OK)
        kumo_db_conn_set_request_id(c, job->id);
    /* Deadlocks (ABORTED) are retried; a lost lease is final. */
    for (int tries = 0; rc == KUMO_CODE_OK && tries < 3; tries++) {
        rc = kumo_db_begin(c);
        if (rc == KUMO_CODE_OK)
            rc = store_tx(c, job, r, &lost, &sha_changed);
        if (rc == KUMO_CODE_OK)
            rc = kumo_db_commit(c);
        else
            kumo_db_rollback(c);
        if (rc != KUMO_CODE_ABORTED || lost)
            break;
    }
    if (lost)
        kumo_buf_appendf(err, "lease lost");
    else if (sha_changed)
        kumo_buf_appendf(err, "sha256 mismatch with the declared checksum");
    else if (rc == KUMO_CODE_ABORTED)
        kumo_buf_appendf(err, "database: deadlock");
    else if (rc != KUMO_CODE_OK)
        kumo_buf_appendf(err, "database: %s", kumo_db_last_error()->message);
    kumo_db_release(c);
    return rc;
}

/* The MIME type is stored in an ASCII column: keep it printable ASCII. */
static void mime_sanitize(char *m)
{
    for (char *p = m; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '_';
}

kumo_code docs__job_extract(struct docs_job_env *env, const struct docs_job *job,
                            struct kumo_buf *err)
{
    struct docs_ctx *ctx = env->ctx;
    struct docs_version_source v;
    memset(&v, 0, sizeof v);
    kumo_code rc = load_version(ctx, job, &v);
    if (rc == KUMO_CODE_NOT_FOUND || (rc == KUMO_CODE_OK && v.current != job->version))
        return KUMO_CODE_OK; /* purged or superseded meanwhile: nothing to do */
    /* Archived before extraction ran: the content cannot be read without a
     * restore, and retrying would only end in a dead letter. The document
     * keeps extraction_state PENDING (no text for search) until new content
     * is uploaded. */
    if (rc == KUMO_CODE_OK &&
        v.status == KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED)
        return KUMO_CODE_OK;
    if (rc != KUMO_CODE_OK) {
        kumo_buf_appendf(err, "database: %s", kumo_db_last_error()->message);
        return rc;
    }
    char *url = NULL;
    rc = presign(env, job, v.key, &url, err);
    if (rc != KUMO_CODE_OK)
        return rc;

    struct sink k;
    memset(&k, 0, sizeof k);
    k.ctx = ctx;
    k.job = job;
    k.renew_ns = kumo_now_ns() + ctx->s.jobs_lease_ms * 1000000LL / 3;
    k.md = EVP_MD_CTX_new();
    k.magic = (magic_t)env->magic;
    k.stopping = env->stopping;
    k.raw_max = ctx->s.extract_text_max > 0 ? (size_t)ctx->s.extract_text_max + 3 : 0;
    k.fd = -1;
    k.file_max = ctx->s.extract_file_max;
    if (!k.md || EVP_DigestInit_ex(k.md, EVP_sha256(), NULL) != 1) {
        kumo_buf_appendf(err, "sha256 init failed");
        rc = KUMO_CODE_INTERNAL;
    } else {
        rc = fetch(url, &k, err);
    }
    kumo_free(url);

    struct result r = {.mime = k.mime};
    struct kumo_buf text = KUMO_BUF_INIT;
    unsigned int md_len = 32;
    if (rc == KUMO_CODE_OK && EVP_DigestFinal_ex(k.md, r.sha, &md_len) != 1) {
        kumo_buf_appendf(err, "sha256 failed");
        rc = KUMO_CODE_INTERNAL;
    }
    if (rc == KUMO_CODE_OK && v.size > 0 && k.total != v.size) {
        kumo_buf_appendf(err, "size mismatch: %lld bytes read, %lld declared", (long long)k.total,
                         (long long)v.size);
        rc = KUMO_CODE_DATA_LOSS;
    }
    if (rc == KUMO_CODE_OK && !v.sha_null && v.sha_len == 32 && memcmp(v.sha, r.sha, 32) != 0) {
        kumo_buf_appendf(err, "sha256 mismatch with the declared checksum");
        rc = KUMO_CODE_DATA_LOSS;
    }
    struct kumo_xf_result xr;
    memset(&xr, 0, sizeof xr);
    char thumb_key[DOCS_THUMB_KEY_MAX + 1];
    if (rc == KUMO_CODE_OK && k.kind && !k.too_big && k.fd < 0 && k.spool_errno) {
        kumo_buf_appendf(err, "cannot spool the content for extraction: %s",
                         strerror(k.spool_errno));
        rc = KUMO_CODE_UNAVAILABLE;
    }
    if (rc == KUMO_CODE_OK && k.fd >= 0) {
        rc = docs__extract_child(&ctx->s, k.kind, k.fd, env->stopping, &xr, err, keep_lease, &k);
        r.pages = xr.pages;
        if (rc == KUMO_CODE_OK && xr.thumb.len > 0 &&
            strlen(v.key) + strlen(DOCS_THUMB_SUFFIX) <= DOCS_THUMB_KEY_MAX) {
            snprintf(thumb_key, sizeof thumb_key, "%s%s", v.key, DOCS_THUMB_SUFFIX);
            rc = docs__thumbnail_put(env, job, thumb_key, xr.thumb.data, xr.thumb.len, err);
            r.thumb_key = thumb_key;
        }
    }
    if (rc == KUMO_CODE_OK) {
        mime_sanitize(k.mime);
        if (k.is_text && ctx->s.extract_text_max > 0) {
            kumo_utf8_clean(k.raw.data ? (const char *)k.raw.data : "", k.raw.len,
                            (size_t)ctx->s.extract_text_max, &text);
            r.text = text.data ? (const char *)text.data : "";
            r.text_len = text.len;
        } else if (k.fd >= 0 && ctx->s.extract_text_max > 0) {
            kumo_utf8_clean(xr.text.data ? (const char *)xr.text.data : "", xr.text.len,
                            (size_t)ctx->s.extract_text_max, &text);
            r.text = text.data ? (const char *)text.data : "";
            r.text_len = text.len;
        }
        rc = store(ctx, job, &r, err);
    }
    kumo_xf_result_free(&xr);
    if (k.fd >= 0)
        close(k.fd);
    kumo_buf_free(&text);
    kumo_buf_free(&k.head);
    kumo_buf_free(&k.raw);
    EVP_MD_CTX_free(k.md);
    return rc;
}
