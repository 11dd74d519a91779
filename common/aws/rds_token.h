/* RDS / Aurora IAM database authentication tokens: a SigV4 presigned
 * "connect" request for service rds-db, used as the MySQL password (sent
 * with mysql_clear_password over verified TLS). The token is
 *   <host>:<port>/?Action=connect&DBUser=<user>&X-Amz-Algorithm=...
 *   &X-Amz-Credential=...&X-Amz-Date=...&X-Amz-Expires=900
 *   &X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]&X-Amz-Signature=...
 * without a scheme, byte for byte what botocore's generate_db_auth_token
 * (pure-Python signer) produces. With a session token it exceeds 1 KB. */
#ifndef KUMO_RDS_TOKEN_H
#define KUMO_RDS_TOKEN_H

#include <stddef.h>
#include <time.h>

#include "aws/credentials.h"
#include "aws/sigv4.h"

/* How long a token is valid (seconds); RDS fixes it. */
#define KUMO_RDS_TOKEN_EXPIRES 900

/* Makes a token for `db_user` at host:port (port 1..65535) in `region`,
 * signed with `creds` at time `now`. Returns 0 and sets *out to a
 * NUL-terminated string the caller frees with kumo_free (it is a bearer
 * secret for 15 minutes: never log it); KUMO_ERR_INVALID for an empty or
 * malformed argument (host with '/', '?', '@', whitespace or control bytes;
 * user empty or with NUL); the errors of kumo_sigv4_presign. *out is
 * untouched on failure. */
int kumo_rds_token_make(const struct kumo_aws_credentials *creds, const char *region,
                        const char *host, int port, const char *db_user, time_t now, char **out);

/* What a server (an Aurora emulation) expects of a token. */
struct kumo_rds_token_check {
    const char *region;
    const char *host_port; /* "host:port" the token must be for; NULL: any */
    const char *db_user;   /* user logging in; NULL: any */
    kumo_sigv4_lookup_fn lookup;
    void *lookup_ctx;
};

/* Verifies token[0..len) at time `now`: its SigV4 signature (service rds-db,
 * GENERIC flavor, empty payload, host signed), expiry, Action=connect, and
 * that it is for chk->db_user and chk->host_port. Fills *res (free it with
 * kumo_sigv4_verify_result_free in every case). Returns 0 if valid;
 * KUMO_ERR_INVALID if the token is not of that shape or names another
 * action, user or host (res->message says which); -EACCES if SigV4
 * verification failed (res->reason says why). */
int kumo_rds_token_verify(const struct kumo_rds_token_check *chk, const char *token, size_t len,
                          time_t now, struct kumo_sigv4_verify_result *res);

#endif
