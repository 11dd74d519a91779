/* kumo-storage's KUMO_* variables (listed by --help) and their loading. */
#include <string.h>

#include "runtime/config_fields.h"
#include "auth/jwt_setup.h"
#include "auth/revocations.h"
#include "storage.h"

/* Each variable fills the member TO names (runtime/config_fields.h). */
#define TO(m)   KUMO_CONFIG_TO(struct stg_settings, m)
#define TO_S(m) KUMO_CONFIG_TO_S(struct stg_settings, m)
static const struct kumo_config_var vars[] = {
    {"KUMO_STORAGE_BACKEND", KUMO_CONFIG_STRING, "local",
     "where objects live: local (a directory, served by the data port) or s3", TO(backend)},
    {"KUMO_STORAGE_S3_ENDPOINT", KUMO_CONFIG_STRING, "",
     "s3 backend: endpoint URL (default https://s3.<region>.amazonaws.com)", TO(s3_endpoint)},
    {"KUMO_STORAGE_S3_ADDRESSING", KUMO_CONFIG_STRING, "auto",
     "s3 backend: path, virtual (bucket in the host name) or auto (virtual for AWS, path for "
     "a custom endpoint)",
     TO(s3_addressing)},
    {"KUMO_STORAGE_S3_TIMEOUT", KUMO_CONFIG_DURATION_MS, "120s",
     "s3 backend: longest S3 call (assembling a large multipart object takes a while)", 0,
     KUMO_SEC_MS, KUMO_HOUR_MS, TO(s3_timeout_ms)},
    {"KUMO_STORAGE_S3_CA_FILE", KUMO_CONFIG_STRING, NULL,
     "s3 backend: PEM CA bundle for https (default: the system's)", TO(s3_ca_file)},
    {"KUMO_STORAGE_ROOT", KUMO_CONFIG_STRING, "/var/lib/kumo/storage",
     "local backend: directory holding objects, metadata and uploads", TO(root)},
    {"KUMO_STORAGE_BUCKET", KUMO_CONFIG_STRING, "kumo",
     "bucket name in URLs (path style /<bucket>/<key>)", TO(bucket)},
    {"KUMO_STORAGE_REGION", KUMO_CONFIG_STRING, "us-east-1", "SigV4 region of the data plane",
     TO(region)},
    {"KUMO_STORAGE_DATA_ADDR", KUMO_CONFIG_STRING, NULL,
     "address the data port binds (default: KUMO_RPC_ADDR)", TO(data_addr)},
    {"KUMO_STORAGE_DATA_PORT", KUMO_CONFIG_INT, "7104",
     "S3-compatible HTTP/1.1 data port; 0 = any, -1 = off", 0, -1, 65535, TO(data_port)},
    {"KUMO_STORAGE_PUBLIC_URL", KUMO_CONFIG_STRING, "",
     "base URL clients reach the data port at, put in presigned URLs "
     "(default: http://<data addr>:<data port>)",
     TO(public_url)},
    {"KUMO_STORAGE_ACCESS_KEY_ID", KUMO_CONFIG_STRING, NULL,
     "local backend: access key id that signs presigned URLs and that S3 clients use "
     "(required)",
     TO(access_key_id)},
    {"KUMO_STORAGE_SECRET_ACCESS_KEY", KUMO_CONFIG_STRING, NULL,
     "local backend: secret access key of KUMO_STORAGE_ACCESS_KEY_ID (required)",
     KUMO_CONFIG_SECRET, TO(secret_access_key)},
    {"KUMO_STORAGE_PRESIGN_TTL", KUMO_CONFIG_DURATION_MS, "15m",
     "validity of presigned URLs when the request names none", 0, KUMO_SEC_MS, 7 * KUMO_DAY_MS,
     TO_S(presign_ttl_s)},
    {"KUMO_STORAGE_DOWNLOAD_TTL_MAX", KUMO_CONFIG_DURATION_MS, "1h",
     "longest validity of a download URL: PresignDownload refuses more, the data port refuses "
     "presigned GET/HEAD signed for longer",
     0, KUMO_SEC_MS, 7 * KUMO_DAY_MS, TO_S(download_ttl_max_s)},
    {"KUMO_STORAGE_MAX_OBJECT_SIZE", KUMO_CONFIG_SIZE, "5GiB",
     "largest single PUT (larger objects go multipart)", 0, 0, 5 * 1024 * KUMO_GIB,
     TO(max_object_size)},
    {"KUMO_STORAGE_MAX_PART_SIZE", KUMO_CONFIG_SIZE, "5GiB", "largest multipart part", 0, 1,
     5 * KUMO_GIB, TO(max_part_size)},
    {"KUMO_STORAGE_MIN_PART_SIZE", KUMO_CONFIG_SIZE, "5MiB",
     "smallest multipart part but the last (S3: 5 MiB)", 0, 0, 5 * KUMO_GIB, TO(min_part_size)},
    {"KUMO_STORAGE_MAX_PARTS", KUMO_CONFIG_INT, "10000", "most parts in an upload", 0, 1,
     STG_PARTS_MAX, TO(max_parts)},
    {"KUMO_STORAGE_MAX_XML_SIZE", KUMO_CONFIG_SIZE, "2MiB", "largest CompleteMultipartUpload body",
     0, 1024, 64 * KUMO_MIB, TO(max_xml_size)},
    {"KUMO_STORAGE_RESTORE_EXPEDITED", KUMO_CONFIG_DURATION_MS, "5s",
     "archive emulation: delay of an Expedited restore", 0, 0, 30 * KUMO_DAY_MS,
     TO(restore_ms[STG_TIER_EXPEDITED])},
    {"KUMO_STORAGE_RESTORE_STANDARD", KUMO_CONFIG_DURATION_MS, "1m",
     "archive emulation: delay of a Standard restore", 0, 0, 30 * KUMO_DAY_MS,
     TO(restore_ms[STG_TIER_STANDARD])},
    {"KUMO_STORAGE_RESTORE_BULK", KUMO_CONFIG_DURATION_MS, "5m",
     "archive emulation: delay of a Bulk restore", 0, 0, 30 * KUMO_DAY_MS,
     TO(restore_ms[STG_TIER_BULK])},
    {"KUMO_STORAGE_RESTORE_DAY", KUMO_CONFIG_DURATION_MS, "24h",
     "archive emulation: length of one of a restore's days (shorten for tests)", 0, 1, KUMO_DAY_MS,
     TO(restore_day_ms)},
    {"KUMO_STORAGE_CORS_ORIGINS", KUMO_CONFIG_STRING, "",
     "comma-separated browser origins allowed on the data port (\"*\" = any; empty = none)",
     TO(cors_origins)},
    {"KUMO_STORAGE_CORS_MAX_AGE", KUMO_CONFIG_DURATION_MS, "10m",
     "how long browsers may cache a CORS preflight", 0, 0, KUMO_DAY_MS, TO_S(cors_max_age_s)},
    {"KUMO_STORAGE_DATA_MAX_CONNECTIONS", KUMO_CONFIG_INT, "256",
     "data port: most connections at once (one thread each)", 0, 1, 10000,
     TO(data_max_connections)},
    {"KUMO_STORAGE_DATA_TIMEOUT", KUMO_CONFIG_DURATION_MS, "60s",
     "data port: close a connection silent this long", 0, KUMO_SEC_MS, KUMO_HOUR_MS,
     TO_S(data_timeout_s)},
    {"KUMO_STORAGE_DATA_CONNECTION_MEMORY", KUMO_CONFIG_SIZE, "128KiB",
     "data port: memory per connection, which bounds request headers", 0, 16 * 1024, 4 * KUMO_MIB,
     TO(data_connection_memory)},
    {"KUMO_STORAGE_MIN_FREE", KUMO_CONFIG_SIZE, "64MiB",
     "local backend: /readyz answers 503 while the storage volume has less free space (writes "
     "that do not fit are refused with InsufficientStorage, 507)",
     0, 0, 1LL << 50, TO(min_free)},
    {"KUMO_STORAGE_FSYNC", KUMO_CONFIG_BOOL, "true",
     "fsync objects and directories before acknowledging writes", TO(do_fsync)},
    {"KUMO_STORAGE_EVENTS_JOURNAL", KUMO_CONFIG_STRING, "",
     "file of the object event journal read by ListObjectEvents (default: "
     "<KUMO_STORAGE_ROOT>/events.journal); keep it on a persistent volume",
     TO(events_journal)},
    {"KUMO_STORAGE_EVENTS_SOURCE", KUMO_CONFIG_STRING, "auto",
     "where object events come from: dataport (the local data port journals its PUTs and "
     "multipart completions), sqs (S3 Event Notifications through KUMO_STORAGE_SQS_QUEUE_URL) "
     "or auto (dataport for the local backend, sqs for s3 when a queue is set)",
     TO(events_source)},
    {"KUMO_STORAGE_SQS_QUEUE_URL", KUMO_CONFIG_STRING, "",
     "SQS queue receiving the bucket's S3 Event Notifications (s3:ObjectCreated:Put, "
     "s3:ObjectCreated:Post, s3:ObjectCreated:CompleteMultipartUpload, "
     "s3:ObjectRestore:Completed), e.g. https://sqs.us-east-1.amazonaws.com/<account>/<queue>",
     TO(sqs_queue_url)},
    {"KUMO_STORAGE_SQS_REGION", KUMO_CONFIG_STRING, "",
     "SigV4 region of the queue (default: KUMO_STORAGE_REGION)", TO(sqs_region)},
    {"KUMO_STORAGE_SQS_WAIT", KUMO_CONFIG_DURATION_MS, "20s",
     "SQS ReceiveMessage long poll (WaitTimeSeconds, whole seconds)", 0, KUMO_SEC_MS,
     20 * KUMO_SEC_MS, TO(sqs_wait_ms)},
    {"KUMO_STORAGE_EVENTS_KEEP", KUMO_CONFIG_INT, "50000",
     "object events the journal keeps (older ones are compacted away)", 0, 100, 10000000,
     TO(events_keep)},
    KUMO_JWT_SETUP_CONFIG_VARS,
    KUMO_REVOCATIONS_CONFIG_VARS,
    KUMO_JWT_SETUP_CALLERS_VAR("documents",
                               "service principals allowed to call (every RPC but health and "
                               "reflection; users' tokens are refused), naming the tenant in "
                               "tenant_id"),
};

const struct kumo_config_var *stg_config_vars(size_t *n)
{
    *n = sizeof vars / sizeof vars[0];
    return vars;
}

/* The local backend's data port key pair (the S3 backend signs with the
 * provider chain's credentials instead). */
static int check_key_pair(const struct stg_settings *s)
{
    if (s->access_key_id == NULL || s->access_key_id[0] == '\0' ||
        strchr(s->access_key_id, '/') != NULL || strlen(s->access_key_id) > 128)
        return kumo_config_bad("KUMO_STORAGE_ACCESS_KEY_ID must be 1..128 characters without '/'");
    if (s->secret_access_key == NULL || strlen(s->secret_access_key) < 16)
        return kumo_config_bad("KUMO_STORAGE_SECRET_ACCESS_KEY must be at least 16 characters");
    return 0;
}

int stg_settings_load(const struct kumo_config *c, struct stg_settings *s)
{
    KUMO_CONFIG_FILL(c, s, vars);
    if (s->data_addr == NULL || *s->data_addr == '\0')
        s->data_addr = kumo_config_string(c, "KUMO_RPC_ADDR");
    s->drain_timeout_ms = kumo_config_int(c, "KUMO_DRAIN_TIMEOUT"); /* the daemon's */
    s->restore_ms[STG_TIER_UNSPECIFIED] = s->restore_ms[STG_TIER_STANDARD];

    if (strcmp(s->backend, "local") != 0 && strcmp(s->backend, "s3") != 0)
        return kumo_config_bad("KUMO_STORAGE_BACKEND must be local or s3");
    if (strcmp(s->s3_addressing, "auto") != 0 && strcmp(s->s3_addressing, "path") != 0 &&
        strcmp(s->s3_addressing, "virtual") != 0)
        return kumo_config_bad("KUMO_STORAGE_S3_ADDRESSING must be auto, path or virtual");
    if (s->root == NULL || s->root[0] != '/')
        return kumo_config_bad("KUMO_STORAGE_ROOT must be an absolute path");
    if (!stg_bucket_name_valid(s->bucket))
        return kumo_config_bad("KUMO_STORAGE_BUCKET is not a valid S3 bucket name");
    if (s->region[0] == '\0' || strchr(s->region, '/') != NULL)
        return kumo_config_bad("KUMO_STORAGE_REGION must be a region name such as us-east-1");
    if (strcmp(s->backend, "local") == 0 && check_key_pair(s) != 0)
        return -1;
    if (strcmp(s->events_source, "auto") != 0 && strcmp(s->events_source, "dataport") != 0 &&
        strcmp(s->events_source, "sqs") != 0)
        return kumo_config_bad("KUMO_STORAGE_EVENTS_SOURCE must be auto, dataport or sqs");
    if (strcmp(s->events_source, "sqs") == 0 && (!s->sqs_queue_url || !s->sqs_queue_url[0]))
        return kumo_config_bad("KUMO_STORAGE_EVENTS_SOURCE=sqs needs KUMO_STORAGE_SQS_QUEUE_URL");
    if (s->min_part_size > s->max_part_size)
        return kumo_config_bad(
            "KUMO_STORAGE_MIN_PART_SIZE must not exceed KUMO_STORAGE_MAX_PART_SIZE");
    if (s->data_port < 0 && strcmp(s->backend, "local") == 0)
        return kumo_config_bad(
            "KUMO_STORAGE_DATA_PORT=-1 is only for the S3 backend: the local backend "
            "serves its objects there");
    return kumo_jwt_settings_load(c, &s->jwt);
}
