/* The S3 backend's HTTP client (s3client.c), shared with backend_s3.c. */
#ifndef KUMO_STORAGE_S3CLIENT_H
#define KUMO_STORAGE_S3CLIENT_H

#include "../storage.h"

/* A response: status, body (bounded) and the raw header block. */
struct s3_resp {
    long status;
    struct kumo_buf body;
    struct kumo_buf hdrs;
};

/* Sends one signed request for `key` (the object path under the bucket;
 * query parameters in any order) with extra header lines ("Name: value")
 * and an optional body (POST only, which must then name its Content-Type;
 * PUT is sent without a body). Returns STG_OK with *r filled (whatever the HTTP
 * status; free with stg__s3_resp_free), or STG_E_UPSTREAM when no answer
 * came (logged). */
enum stg_err stg__s3_call(struct stg_s3 *s3, const char *method, const char *key,
                          const struct kumo_sigv4_kv *q, size_t nq, const char *const *hdrs,
                          size_t nh, const void *body, size_t len, struct s3_resp *r);
void stg__s3_resp_free(struct s3_resp *r);

/* A response header's value (not NUL-terminated), or NULL. */
const char *stg__s3_header(const struct s3_resp *r, const char *name, size_t *len);

/* Appends "<prefix>/<encoded key>" (the request path of an object). */
void stg__s3_object_path(const struct stg_s3 *s3, const char *key, struct kumo_buf *out);

/* Current credentials (caller clears). Returns 0 or a negative error. */
int stg__s3_creds(struct stg_s3 *s3, struct kumo_aws_credentials *out);

/* The bucket name. */
const char *stg__s3_bucket(const struct stg_s3 *s3);

#endif
