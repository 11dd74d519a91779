/* kumo-documents' KUMO_* variables (listed by --help) and their loading. */
#include <pthread.h>
#include <string.h>

#include "auth/jwt_setup.h"
#include "documents.h"
#include "runtime/config_fields.h"
#include "auth/revocations.h"

/* Each variable fills the member TO names (runtime/config_fields.h). */
#define TO(m) KUMO_CONFIG_TO(struct docs_settings, m)
static const struct kumo_config_var own_vars[] = {
    KUMO_JWT_SETUP_CONFIG_VARS,
    KUMO_REVOCATIONS_CONFIG_VARS,
    KUMO_JWT_SETUP_CALLERS_VAR(
        "", "service principals allowed to call (none: the documents RPCs are for users)"),
    {"KUMO_AWS_REGION", KUMO_CONFIG_STRING, NULL,
     "region of the RDS IAM token (KUMO_DB_AUTH=iam); default: AWS_REGION"},
    {"KUMO_MIGRATE_LOCK_TIMEOUT", KUMO_CONFIG_DURATION_MS, "60s",
     "migrate: longest wait for another migrator's lock", 0, 0, KUMO_HOUR_MS},
    {"KUMO_STORAGE_TARGET", KUMO_CONFIG_STRING, "127.0.0.1:7103",
     "kumo-storage's RPC address (host:port)", TO(storage_target)},
    {"KUMO_USERS_TARGET", KUMO_CONFIG_STRING, "127.0.0.1:7101",
     "kumo-users' RPC address (host:port), for the service API key exchange", TO(users_target)},
    {"KUMO_SERVICE_API_KEY_FILE", KUMO_CONFIG_STRING, NULL,
     "file holding this service's API key (kumo-users bootstrap writes documents.apikey), "
     "exchanged for the service token every kumo-storage call and background job uses "
     "(required to serve)",
     TO(service_api_key_file)},
    {"KUMO_MAX_DOCUMENT_SIZE", KUMO_CONFIG_SIZE, "5TiB", "largest document content", 0, 0,
     5 * KUMO_TIB, TO(max_document_size)},
    {"KUMO_MULTIPART_THRESHOLD", KUMO_CONFIG_SIZE, "100MiB",
     "content above this size is uploaded in parts", 0, 5 * KUMO_MIB, 5 * KUMO_GIB,
     TO(multipart_threshold)},
    {"KUMO_MULTIPART_PART_SIZE", KUMO_CONFIG_SIZE, "64MiB",
     "part size of multipart uploads (shrunk, not below 5 MiB, so that a file has at least 6 "
     "parts; grown so that at most 10000 parts are needed)",
     0, 5 * KUMO_MIB, 5 * KUMO_GIB, TO(multipart_part_size)},
    {"KUMO_UPLOAD_URL_TTL", KUMO_CONFIG_DURATION_MS, "15m", "validity of upload URLs", 0,
     KUMO_SEC_MS, 7 * KUMO_DAY_MS, TO(upload_url_ttl_ms)},
    {"KUMO_DOWNLOAD_URL_TTL", KUMO_CONFIG_DURATION_MS, "5m",
     "validity of download URLs when the request names none (at most 1h)", 0, KUMO_SEC_MS,
     KUMO_HOUR_MS, TO(download_url_ttl_ms)},
    {"KUMO_DELETE_RETENTION", KUMO_CONFIG_DURATION_MS, "720h",
     "how long a soft-deleted document can be undeleted before it is purged", 0, 0,
     3650 * KUMO_DAY_MS, TO(retention_ms)},
    {"KUMO_UPLOAD_EXPIRY", KUMO_CONFIG_DURATION_MS, "24h",
     "pending uploads not completed within this are cleaned up", 0, KUMO_MIN_MS, 30 * KUMO_DAY_MS,
     TO(upload_expiry_ms)},
    {"KUMO_IDEMPOTENCY_TTL", KUMO_CONFIG_DURATION_MS, "24h",
     "how long a CreateDocument idempotency_key is remembered", 0, KUMO_MIN_MS, 30 * KUMO_DAY_MS,
     TO(idempotency_ttl_ms)},
    {"KUMO_JOBS_WORKERS", KUMO_CONFIG_INT, "2", "background job workers (0: none here)", 0, 0, 64,
     TO(jobs_workers)},
    {"KUMO_JOBS_MAX_ATTEMPTS", KUMO_CONFIG_INT, "5",
     "attempts of a job before it becomes a dead letter", 0, 1, 100, TO(jobs_max_attempts)},
    {"KUMO_JOBS_BACKOFF_BASE", KUMO_CONFIG_DURATION_MS, "1s",
     "delay before the first retry (doubling, with jitter)", 0, 10, KUMO_HOUR_MS,
     TO(jobs_backoff_base_ms)},
    {"KUMO_JOBS_BACKOFF_MAX", KUMO_CONFIG_DURATION_MS, "5m", "longest delay between retries", 0, 10,
     KUMO_DAY_MS, TO(jobs_backoff_max_ms)},
    {"KUMO_UPLOAD_EVENTS", KUMO_CONFIG_BOOL, "true",
     "complete uploads from kumo-storage's object-created events (ListObjectEvents), without "
     "the client calling CompleteUpload; needs KUMO_SERVICE_API_KEY_FILE",
     TO(upload_events)},
    {"KUMO_UPLOAD_EVENTS_TARGET", KUMO_CONFIG_STRING, "",
     "kumo-storage instance serving the object event feed, host:port (default: "
     "KUMO_STORAGE_TARGET; on AWS the single kumo-storage-events pod that reads SQS)",
     TO(upload_events_target)},
    {"KUMO_UPLOAD_EVENTS_WORKERS", KUMO_CONFIG_INT, "4",
     "object events handled side by side (threads, per page of events read)", 0, 1, 16,
     TO(upload_events_workers)},
    {"KUMO_UPLOAD_EVENTS_WAIT", KUMO_CONFIG_DURATION_MS, "5s",
     "how long one ListObjectEvents long poll waits for an event (an event is handled as "
     "soon as it is recorded whatever this is; shorter means quicker shutdowns)",
     0, 100, 25000, TO(upload_events_wait_ms)},
    {"KUMO_JOBS_POLL_INTERVAL", KUMO_CONFIG_DURATION_MS, "1s",
     "how often an idle worker looks for due jobs", 0, 10, 10 * KUMO_MIN_MS, TO(jobs_poll_ms)},
    {"KUMO_JOBS_SWEEP_INTERVAL", KUMO_CONFIG_DURATION_MS, "1m",
     "how often expired uploads and soft-deleted documents past retention are swept", 0,
     KUMO_SEC_MS, KUMO_DAY_MS, TO(jobs_sweep_ms)},
    {"KUMO_JOBS_LEASE", KUMO_CONFIG_DURATION_MS, "30s",
     "how long a worker owns a job before another may take it over; extended every third of it "
     "while the job runs, so a killed worker's job runs again within about this long",
     0, KUMO_SEC_MS, KUMO_DAY_MS, TO(jobs_lease_ms)},
    {"KUMO_EXTRACT_TEXT_MAX", KUMO_CONFIG_SIZE, "1MiB",
     "most text extracted from a document for full-text search", 0, 0, 16 * KUMO_MIB,
     TO(extract_text_max)},
    {"KUMO_EXTRACT_BIN", KUMO_CONFIG_STRING, "",
     "the sandboxed extractor for PDFs, Office files and images (default: kumo-extract beside "
     "this binary; \"off\": only text-like content is extracted)",
     TO(extract_bin)},
    {"KUMO_EXTRACT_TIMEOUT", KUMO_CONFIG_DURATION_MS, "60s",
     "wall-clock limit of one extractor run (killed after; its CPU limit is the same)", 0,
     KUMO_SEC_MS, KUMO_HOUR_MS, TO(extract_timeout_ms)},
    {"KUMO_EXTRACT_MEMORY", KUMO_CONFIG_SIZE, "1GiB", "address-space limit of one extractor run", 0,
     64 * KUMO_MIB, 64 * KUMO_GIB, TO(extract_memory)},
    {"KUMO_EXTRACT_FILE_MAX", KUMO_CONFIG_SIZE, "256MiB",
     "larger PDFs, Office files and images are not given to the extractor (no text)", 0, 0,
     16 * KUMO_GIB, TO(extract_file_max)},
    {"KUMO_EXTRACT_MAX_PAGES", KUMO_CONFIG_INT, "500", "PDF pages whose text is read", 0, 1, 100000,
     TO(extract_max_pages)},
    {"KUMO_EXTRACT_OCR_PAGES", KUMO_CONFIG_INT, "10",
     "pages OCRed of a PDF without a text layer (0: no OCR of PDFs)", 0, 0, 1000,
     TO(extract_ocr_pages)},
    {"KUMO_EXTRACT_OCR_LANGS", KUMO_CONFIG_STRING, "eng+jpn",
     "tesseract languages of OCR (\"off\": no OCR)", TO(extract_ocr_langs)},
    {"KUMO_EXTRACT_MAX_PIXELS", KUMO_CONFIG_INT, "50000000",
     "largest image decoded or page rendered, in pixels (bigger images are refused)", 0, 10000,
     1000000000, TO(extract_max_pixels)},
    {"KUMO_EXTRACT_ZIP_MAX", KUMO_CONFIG_SIZE, "64MiB",
     "uncompressed bytes read from an Office file's zip (zip bombs stop there)", 0, KUMO_MIB,
     4 * KUMO_GIB, TO(extract_zip_max)},
    {"KUMO_THUMBNAIL_SIZE", KUMO_CONFIG_INT, "256",
     "longest side of PDF and image thumbnails, in pixels (0: none)", 0, 0, 2048,
     TO(thumbnail_size)},
};

const struct kumo_config_var *docs_config_vars(size_t *n)
{
    return kumo_db_daemon_vars(own_vars, sizeof own_vars / sizeof own_vars[0], "kumo_documents", n);
}

int docs_settings_load(const struct kumo_config *c, struct docs_settings *s)
{
    KUMO_CONFIG_FILL(c, s, own_vars);
    if (strspn(s->extract_ocr_langs, "abcdefghijklmnopqrstuvwxyz_+") !=
        strlen(s->extract_ocr_langs))
        return kumo_config_bad("KUMO_EXTRACT_OCR_LANGS: tesseract language names joined by '+'");
    if (kumo_jwt_settings_load(c, &s->jwt) != 0)
        return -1;
    if (s->storage_target[0] == '\0' || s->users_target[0] == '\0')
        return kumo_config_bad("KUMO_STORAGE_TARGET and KUMO_USERS_TARGET must not be empty");
    if (s->jobs_backoff_base_ms > s->jobs_backoff_max_ms)
        return kumo_config_bad("KUMO_JOBS_BACKOFF_BASE must not exceed KUMO_JOBS_BACKOFF_MAX");
    return 0;
}

int64_t docs_part_size(const struct docs_settings *s, int64_t size, int32_t *count)
{
    int64_t ps =
        s->multipart_part_size < DOCS_MIN_PART_SIZE ? DOCS_MIN_PART_SIZE : s->multipart_part_size;
    /* Large parts upload fastest (bench/results/console-upload-percpart-*),
     * as long as there are enough of them to send DOCS_PARTS_PARALLEL at
     * once: a 100 MiB file gets 6 parts of 17 MiB, not 2 of 64 MiB. */
    if (size > 0 && (size + ps - 1) / ps < DOCS_PARTS_PARALLEL) {
        int64_t want = (size + DOCS_PARTS_PARALLEL - 1) / DOCS_PARTS_PARALLEL;
        want = (want + KUMO_MIB - 1) / KUMO_MIB * KUMO_MIB;
        ps = want < DOCS_MIN_PART_SIZE ? DOCS_MIN_PART_SIZE : want < ps ? want : ps;
    }
    if ((size + ps - 1) / ps > DOCS_PARTS_MAX) {
        /* Smallest whole number of MiB that fits in DOCS_PARTS_MAX parts. */
        int64_t need = (size + DOCS_PARTS_MAX - 1) / DOCS_PARTS_MAX;
        ps = (need + KUMO_MIB - 1) / KUMO_MIB * KUMO_MIB;
    }
    *count = size == 0 ? 1 : (int32_t)((size + ps - 1) / ps);
    return ps;
}
