/* RDS IAM auth tokens: see rds_token.h. */
#include "aws/rds_token.h"

#include <errno.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "base/pctenc.h"

#define RDS_SERVICE "rds-db"

static int valid_host(const char *h)
{
    if (h == NULL || *h == '\0' || strlen(h) > 253)
        return 0;
    for (; *h; h++) {
        unsigned char c = (unsigned char)*h;
        if (c <= ' ' || c == 0x7f || c == '/' || c == '?' || c == '@' || c == '#')
            return 0;
    }
    return 1;
}

int kumo_rds_token_make(const struct kumo_aws_credentials *creds, const char *region,
                        const char *host, int port, const char *db_user, time_t now, char **out)
{
    if (!valid_host(host) || port < 1 || port > 65535 || db_user == NULL || *db_user == '\0')
        return KUMO_ERR_INVALID;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b, "%s:%d", host, port);
    /* The signed host header is exactly the token's host:port prefix. */
    struct kumo_sigv4_kv query[] = {kumo_sigv4_kv_str("Action", "connect"),
                                    kumo_sigv4_kv_str("DBUser", db_user)};
    struct kumo_sigv4_kv headers[] = {{"host", 4, (const char *)b.data, b.len}};
    struct kumo_sigv4_signing sg = {creds, region, RDS_SERVICE, KUMO_SIGV4_GENERIC, now};
    struct kumo_sigv4_request req = {"GET", "/", 0, query, 2, headers, 1, NULL};
    struct kumo_buf target = KUMO_BUF_INIT;
    int rc = kumo_sigv4_presign(&sg, &req, KUMO_RDS_TOKEN_EXPIRES, &target);
    if (rc == 0)
        kumo_buf_append(&b, target.data, target.len);
    kumo_buf_free(&target);
    if (rc != 0) {
        kumo_buf_free(&b);
        return rc;
    }
    *out = kumo_buf_steal(&b, NULL);
    return 0;
}

/* Decodes the single value of query parameter `name`; returns how many
 * times it occurs (-1 for a bad encoding). */
static int query_value(const char *q, size_t len, const char *name, struct kumo_buf *out)
{
    int count = 0;
    size_t nl = strlen(name);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        const char *eqp = memchr(q + i, '=', j - i);
        size_t kl = eqp ? (size_t)(eqp - (q + i)) : j - i;
        if (kl == nl && memcmp(q + i, name, nl) == 0 && count++ == 0) {
            size_t vl = eqp ? (size_t)(q + j - eqp - 1) : 0;
            if (kumo_url_query_decode(eqp ? eqp + 1 : q + j, vl, out) != 0)
                return -1;
        }
        i = j + 1;
    }
    return count;
}

static int reject(struct kumo_sigv4_verify_result *res, const char *msg)
{
    kumo_free(res->message);
    res->message = kumo_strdup(msg);
    return KUMO_ERR_INVALID;
}

/* Checks Action=connect and DBUser once each, and the user if expected. */
static int check_params(const struct kumo_rds_token_check *chk, const char *q, size_t ql,
                        struct kumo_sigv4_verify_result *res)
{
    struct kumo_buf action = KUMO_BUF_INIT, user = KUMO_BUF_INIT;
    int na = query_value(q, ql, "Action", &action);
    int nu = query_value(q, ql, "DBUser", &user);
    int rc = 0;
    if (na != 1 || action.len != 7 || memcmp(action.data, "connect", 7) != 0)
        rc = reject(res, "token: Action must be connect, once");
    else if (nu != 1 || user.len == 0)
        rc = reject(res, "token: DBUser must appear once");
    else if (chk->db_user != NULL &&
             (user.len != strlen(chk->db_user) || memcmp(user.data, chk->db_user, user.len) != 0))
        rc = reject(res, "token: issued for another user");
    kumo_buf_free(&action);
    kumo_buf_free(&user);
    return rc;
}

int kumo_rds_token_verify(const struct kumo_rds_token_check *chk, const char *token, size_t len,
                          time_t now, struct kumo_sigv4_verify_result *res)
{
    memset(res, 0, sizeof *res);
    const char *slash = token ? memchr(token, '/', len) : NULL;
    if (slash == NULL || slash == token || (size_t)(token + len - slash) < 2 || slash[1] != '?')
        return reject(res, "token: expected host:port/?query");
    size_t hl = (size_t)(slash - token);
    if (chk->host_port != NULL &&
        (hl != strlen(chk->host_port) || memcmp(token, chk->host_port, hl) != 0))
        return reject(res, "token: issued for another host");
    const char *q = slash + 2;
    size_t ql = (size_t)(token + len - q);

    struct kumo_sigv4_kv hdr = {"host", 4, token, hl};
    struct kumo_sigv4_verifier v = {chk->region, RDS_SERVICE, KUMO_SIGV4_GENERIC, chk->lookup,
                                    chk->lookup_ctx};
    struct kumo_sigv4_verify_request req = {"GET", 3, slash, 1, q, ql, &hdr, 1, NULL};
    if (kumo_sigv4_verify(&v, &req, now, res) != KUMO_SIGV4_OK)
        return -EACCES;
    /* Only a token whose signature holds is worth reading further; its
     * parameters are then the ones its owner signed. */
    return check_params(chk, q, ql, res);
}
