/* AWS credentials and the provider chain kumo workloads use to get them:
 * the users/documents MySQL IAM mode (RDS auth tokens) and the storage S3
 * backend (presigned URLs, libcurl's SigV4) share one provider.
 *
 * Sources, in the order the AWS SDKs try them (shared config files and the
 * EC2 instance metadata service are not supported):
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional
 *      AWS_SESSION_TOKEN (static, never refreshed);
 *   2. web identity (EKS IRSA): AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE,
 *      optional AWS_ROLE_SESSION_NAME: STS AssumeRoleWithWebIdentity over
 *      HTTPS, the token file re-read on every refresh (kubelet rotates it);
 *      the endpoint is https://sts.<AWS_REGION>.amazonaws.com (global
 *      https://sts.amazonaws.com without a region or with
 *      AWS_STS_REGIONAL_ENDPOINTS=legacy), or KUMO_AWS_STS_ENDPOINT (a full
 *      URL, for tests and private endpoints);
 *   3. container credentials (ECS, EKS Pod Identity):
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI, or
 *      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2, with
 *      the Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *      (re-read on every refresh) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
 * The environment is read once, when the provider is made.
 *
 * Temporary credentials are cached and handed out until `refresh_margin_s`
 * before they expire; then the next kumo_aws_credentials_get refreshes them
 * (one caller fetches, concurrent callers wait for its result). Secrets are
 * never logged and are wiped from memory when freed. */
#ifndef KUMO_AWS_CREDENTIALS_H
#define KUMO_AWS_CREDENTIALS_H

#include <stddef.h>
#include <time.h>

#include "base/buf.h"

/* A set of AWS credentials. Strings are NUL-terminated and owned by whoever
 * filled the struct (kumo_aws_credentials_get: the caller). */
struct kumo_aws_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term credentials */
    time_t expiration;   /* 0: does not expire */
};

/* Largest response body accepted from STS or the container endpoint. */
#define KUMO_AWS_MAX_RESPONSE (64 * 1024)
/* Largest web identity or container authorization token file read. */
#define KUMO_AWS_MAX_TOKEN_FILE (64 * 1024)

/* Where the credentials of a provider come from. */
enum kumo_aws_source {
    KUMO_AWS_SOURCE_ENV,
    KUMO_AWS_SOURCE_WEB_IDENTITY,
    KUMO_AWS_SOURCE_CONTAINER,
};

struct kumo_aws_provider_config {
    /* PEM CA bundle for HTTPS (STS); NULL: the system bundle. */
    const char *ca_file;
    /* Per HTTP call; 0 means the default (connect 2000 ms, total 5000 ms). */
    long connect_timeout_ms;
    long timeout_ms;
    /* Refresh this long before expiry; 0 means the default (300 s). */
    int refresh_margin_s;
    /* Clock (seconds since the epoch); NULL: time(NULL). For tests. */
    time_t (*clock)(void *ctx);
    void *clock_ctx;
};

struct kumo_aws_provider;

/* Makes a provider from the environment (see the top of this file) and
 * `cfg` (NULL: all defaults; copied). Nothing is fetched yet. Returns 0 and
 * sets *out; KUMO_ERR_NOT_FOUND if no source is configured; KUMO_ERR_INVALID
 * for a half-configured source (an access key id without its secret, a
 * relative URI not starting with '/', a full URI that is neither https nor
 * http to a loopback/ECS/EKS address). *out is untouched on failure. */
int kumo_aws_provider_new(struct kumo_aws_provider **out,
                          const struct kumo_aws_provider_config *cfg);

/* Frees the provider and its cached credentials. NULL is ignored. No other
 * thread may be using it. */
void kumo_aws_provider_free(struct kumo_aws_provider *p);

/* Returns the source the provider uses. */
enum kumo_aws_source kumo_aws_provider_source(const struct kumo_aws_provider *p);

/* Static name of a source: "env", "web_identity", "container". */
const char *kumo_aws_source_name(enum kumo_aws_source s);

/* Gets current credentials: the cached ones if they are valid for more than
 * the refresh margin, else freshly fetched ones. Thread-safe. Returns 0 and
 * fills *out with copies the caller releases with kumo_aws_credentials_clear.
 * On failure *out is untouched and the reason is available from
 * kumo_aws_provider_last_error:
 *   -ETIMEDOUT        an HTTP call timed out;
 *   KUMO_ERR_IO       connection/TLS failure, a 5xx, an unreadable token file;
 *   -EACCES           the service refused (an STS <ErrorResponse>, a 4xx);
 *   KUMO_ERR_INVALID  an unparseable response or one missing a field, or
 *                     credentials that are already expired;
 *   KUMO_ERR_TOO_LARGE a response or token file over the limits above.
 * If a refresh fails while the cached credentials have not expired yet,
 * those are returned instead (a failure inside the margin is not fatal). */
int kumo_aws_credentials_get(struct kumo_aws_provider *p, struct kumo_aws_credentials *out);

/* Drops the cached credentials so the next get fetches new ones (e.g. after
 * the service answered ExpiredToken). No effect on environment credentials.
 * Thread-safe. */
void kumo_aws_provider_invalidate(struct kumo_aws_provider *p);

/* Appends the description of the last failure (empty if the last fetch
 * succeeded), e.g. "sts: InvalidIdentityToken: Token expired". Never
 * contains a secret. Thread-safe. */
void kumo_aws_provider_last_error(struct kumo_aws_provider *p, struct kumo_buf *out);

/* Returns how many fetches (HTTP calls) the provider has made. For tests and
 * metrics. Thread-safe. */
unsigned long kumo_aws_provider_fetch_count(struct kumo_aws_provider *p);

/* Deep-copies `src` into *dst (overwritten, not freed first). */
void kumo_aws_credentials_copy(struct kumo_aws_credentials *dst,
                               const struct kumo_aws_credentials *src);

/* Wipes and frees the strings of *c and zeroes it. Safe on a zeroed struct
 * and to call twice. */
void kumo_aws_credentials_clear(struct kumo_aws_credentials *c);

/* ---- internals, shared with the tests and the fuzz target ---- */

/* Parses an STS AssumeRoleWithWebIdentity response body (XML). Returns 0 and
 * fills *out (caller clears); -EACCES for an <ErrorResponse> (its code and
 * message appended to `err`); KUMO_ERR_INVALID for anything else unusable
 * (reason appended to `err`). `err` may be NULL. */
int kumo__aws_parse_sts_response(const char *body, size_t len, struct kumo_aws_credentials *out,
                                 struct kumo_buf *err);

/* Parses a container credentials endpoint response body (JSON). Same
 * returns as kumo__aws_parse_sts_response (-EACCES when the body is an error
 * object with "code"/"message"). */
int kumo__aws_parse_container_response(const char *body, size_t len,
                                       struct kumo_aws_credentials *out, struct kumo_buf *err);

/* The URL a provider fetches from (STS endpoint or container URL), NULL
 * for environment credentials. Borrowed from the provider. */
const char *kumo__aws_provider_url(const struct kumo_aws_provider *p);

/* Parses an ISO 8601 UTC time as AWS writes expirations
 * ("2015-08-30T12:36:00Z", optional fraction, "Z" or "+00:00"). Returns 0
 * and sets *out, or KUMO_ERR_INVALID. */
int kumo__aws_parse_iso8601(const char *s, size_t len, time_t *out);

#endif
