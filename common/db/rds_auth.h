/* The glue between the MySQL pool and AWS IAM database authentication:
 * a kumo_db_password_fn that mints an RDS auth token (rds_token.h) from the
 * workload's AWS credentials (aws_credentials.h: environment, IRSA web
 * identity, container endpoint) for every new physical connection, and a
 * helper opening a pool from the KUMO_DB_* variables with it wired in when
 * KUMO_DB_AUTH=iam. Every daemon with a database opens it this way. */
#ifndef KUMO_DB_RDS_AUTH_H
#define KUMO_DB_RDS_AUTH_H

#include "aws/credentials.h"
#include "db/db.h"

struct kumo_db_rds_auth;

/* Creates a token minter for `user` at host:port in `region` (all copied),
 * with a credentials provider made from the environment and `pcfg` (NULL:
 * defaults). Returns 0 and sets *out; KUMO_ERR_INVALID for a missing
 * argument; or the error of kumo_aws_provider_new (KUMO_ERR_NOT_FOUND when
 * no credentials source is configured). *out untouched on failure. */
int kumo_db_rds_auth_new(struct kumo_db_rds_auth **out, const char *region, const char *host,
                         unsigned port, const char *user,
                         const struct kumo_aws_provider_config *pcfg);

/* The kumo_db_password_fn (ud = the struct kumo_db_rds_auth *): gets current
 * credentials (cached by the provider) and appends a fresh token to `out`.
 * Returns 0, or nonzero after logging why (never the token or a secret).
 * Thread-safe. */
int kumo_db_rds_auth_password(void *ud, struct kumo_buf *out);

/* Number of tokens minted (for tests and metrics). */
unsigned long kumo_db_rds_auth_tokens(const struct kumo_db_rds_auth *iam);

/* Frees the minter. NULL is ignored. The pool using it must be freed first. */
void kumo_db_rds_auth_free(struct kumo_db_rds_auth *iam);

/* Opens a pool from a configuration loaded with kumo_db_config_vars. In
 * password mode *iam_out is set to NULL. In IAM mode a minter is made for
 * KUMO_DB_HOST/PORT/USER in `region` (NULL or "": AWS_REGION, else
 * AWS_DEFAULT_REGION) and returned in *iam_out; free it with
 * kumo_db_rds_auth_free after kumo_db_free. Nothing is connected yet. Returns 0,
 * or a negative error after logging why (both outputs untouched). */
int kumo_db_open_config(const struct kumo_config *c, const char *region, struct kumo_db **db_out,
                        struct kumo_db_rds_auth **iam_out);

#endif
