/* kumo-documents internals: the state shared by the handlers, the job
 * workers and the helpers every file of the service uses. Nothing here is
 * used outside services/documents. */
#ifndef KUMO_DOCUMENTS_DOCUMENTS_H
#define KUMO_DOCUMENTS_DOCUMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "apikey_exchange.h"
#include "config.h"
#include "db.h"
#include "db_rds_auth.h"
#include "jwks_fetch.h"
#include "kumo/documents/v1/documents.pb-c.h"
#include "kumo_jwt.h"
#include "rpc.h"
#include "rpc_auth.h"
#include "rpc_client.h"
#include "rpc_server.h"

#define DOCS_ID_MAX 32 /* "doc_" + 20 base32 characters, with room */

/* Settings from the KUMO_* variables (config.c). Durations in ms unless
 * the name says otherwise. */
struct docs_settings {
    /* token verification (as kumo-storage) */
    const char *jwt_issuer, *jwt_audience;
    int64_t jwt_leeway_s, jwt_max_ttl_s;
    const char *jwks_file, *jwks_url;
    int64_t jwks_refresh_ms;
    const char *service_callers;
    /* peers */
    const char *storage_target;       /* KUMO_STORAGE_TARGET, "127.0.0.1:7103" */
    const char *users_target;         /* KUMO_USERS_TARGET, "127.0.0.1:7101" */
    const char *service_api_key_file; /* KUMO_SERVICE_API_KEY_FILE; NULL/"" = no jobs */
    /* documents */
    int64_t max_document_size;   /* KUMO_MAX_DOCUMENT_SIZE */
    int64_t multipart_threshold; /* KUMO_MULTIPART_THRESHOLD */
    int64_t multipart_part_size; /* KUMO_MULTIPART_PART_SIZE */
    int64_t upload_url_ttl_ms;   /* KUMO_UPLOAD_URL_TTL */
    int64_t download_url_ttl_ms; /* KUMO_DOWNLOAD_URL_TTL */
    int64_t retention_ms;        /* KUMO_DELETE_RETENTION: soft delete -> purge */
    int64_t upload_expiry_ms;    /* KUMO_UPLOAD_EXPIRY: pending uploads cleaned after */
    int64_t idempotency_ttl_ms;  /* KUMO_IDEMPOTENCY_TTL */
    /* jobs */
    int64_t jobs_workers;         /* KUMO_JOBS_WORKERS (0 = no workers here) */
    int64_t jobs_max_attempts;    /* KUMO_JOBS_MAX_ATTEMPTS */
    int64_t jobs_backoff_base_ms; /* KUMO_JOBS_BACKOFF_BASE */
    int64_t jobs_backoff_max_ms;  /* KUMO_JOBS_BACKOFF_MAX */
    int64_t jobs_poll_ms;         /* KUMO_JOBS_POLL_INTERVAL */
    int64_t jobs_sweep_ms;        /* KUMO_JOBS_SWEEP_INTERVAL */
    int64_t jobs_lease_ms;        /* KUMO_JOBS_LEASE */
    int64_t extract_text_max;     /* KUMO_EXTRACT_TEXT_MAX (bytes) */
};

/* Everything the handlers and workers share; built once at start-up
 * (context.c), immutable afterwards. */
struct docs_ctx {
    struct docs_settings s;
    struct kumo_db *db;
    struct kumo_db_rds_auth *db_rds;       /* when KUMO_DB_AUTH=iam */
    struct kumo_jwt_verifier *verifier;    /* kumo-users' keys (JWKS) */
    struct kumo_rpc_jwt_auth *auth;        /* installed on the RPC server */
    struct kumo_jwks_refresher *jwks;      /* keeps the verifier's keys fresh */
    struct kumo_rpc_client *storage;       /* kumo-storage */
    struct kumo_rpc_client *users;         /* kumo-users (API key exchange) */
    struct kumo_apikey_exchange *exchange; /* the service principal's tokens */
    char *service_api_key;                 /* from KUMO_SERVICE_API_KEY_FILE, or NULL */
};

#endif
