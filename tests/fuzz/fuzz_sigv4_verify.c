/* SigV4 verification of arbitrary requests (what the storage data port feeds
 * it from the network), the RDS token check, the STS XML and container JSON
 * credential parsers, and the property that whatever kumo signs, kumo
 * verifies.
 *
 * Input: byte 0 selects the mode (mod 6); the rest is the payload.
 *   0, 1  verify (S3 / GENERIC flavor): "METHOD\nTARGET\nName: value\n..."
 *         where TARGET is path[?query]; clock T0 + (int8)byte1 minutes
 *   2     STS AssumeRoleWithWebIdentity response (XML)
 *   3     container credentials response (JSON)
 *   4     RDS auth token
 *   5     sign/verify round trip: "PATH\nKEY\nVALUE\nHEADER-VALUE" */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "aws/credentials.h"
#include "base/buf.h"
#include "base/errors.h"
#include "aws/rds_token.h"
#include "aws/sigv4.h"

#define T0 1440938160

static struct kumo_aws_credentials keys[] = {
    {(char *)"AKIDEXAMPLE", (char *)"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, 0},
    {(char *)"ASIATEMP", (char *)"temp/secret+key", (char *)"IQoJ+token/==", 0},
};

static const struct kumo_aws_credentials *lookup(void *ctx, const char *akid)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].access_key_id, akid) == 0)
            return &keys[i];
    return NULL;
}

static void check_result(const struct kumo_sigv4_verify_result *res, enum kumo_sigv4_reason r)
{
    if (r != res->reason || (unsigned)r > KUMO_SIGV4_TOO_LARGE)
        abort();
    if (r == KUMO_SIGV4_OK) {
        if (res->message || !res->scope || !res->access_key_id || !res->payload_hash ||
            strlen(res->signature) != 64)
            abort();
    } else if (res->message == NULL || res->scope != NULL) {
        abort();
    }
    if (r == KUMO_SIGV4_SIGNATURE_MISMATCH && (!res->canonical_request || !res->string_to_sign))
        abort();
    int status = 0;
    const char *code = kumo_sigv4_reason_s3_code(r, res->query_auth, &status);
    if (code == NULL || (r != KUMO_SIGV4_OK && status != 400 && status != 403))
        abort();
}

/* Splits p[0..len) at the next '\n'; returns the line length. */
static size_t next_line(const char *p, size_t len)
{
    const char *nl = memchr(p, '\n', len);
    return nl ? (size_t)(nl - p) : len;
}

static void fuzz_verify(const char *p, size_t len, enum kumo_sigv4_flavor flavor, time_t now)
{
    struct kumo_sigv4_kv h[KUMO_SIGV4_MAX_HEADERS + 8];
    size_t nh = 0;
    size_t ml = next_line(p, len);
    const char *method = p;
    p += ml < len ? ml + 1 : ml;
    len -= ml < len ? ml + 1 : ml;
    size_t tl = next_line(p, len);
    const char *target = p;
    p += tl < len ? tl + 1 : tl;
    len -= tl < len ? tl + 1 : tl;
    while (len > 0 && nh < sizeof h / sizeof h[0]) {
        size_t l = next_line(p, len);
        const char *colon = memchr(p, ':', l);
        if (colon != NULL) {
            const char *v = colon + 1;
            while (v < p + l && *v == ' ')
                v++;
            h[nh++] = (struct kumo_sigv4_kv){p, (size_t)(colon - p), v, (size_t)(p + l - v)};
        }
        p += l < len ? l + 1 : l;
        len -= l < len ? l + 1 : l;
    }
    const char *q = memchr(target, '?', tl);
    size_t pl = q ? (size_t)(q - target) : tl;
    struct kumo_sigv4_verify_request req = {
        method, ml, target, pl, q ? q + 1 : NULL, q ? tl - pl - 1 : 0, h, nh, NULL};
    struct kumo_sigv4_verifier v = {"us-east-1", flavor == KUMO_SIGV4_S3 ? "s3" : "rds-db", flavor,
                                    lookup, NULL};
    struct kumo_sigv4_verify_result res;
    enum kumo_sigv4_reason r = kumo_sigv4_verify(&v, &req, now, &res);
    check_result(&res, r);
    kumo_sigv4_verify_result_free(&res);
}

static void fuzz_parsers(const char *p, size_t len, int json)
{
    struct kumo_aws_credentials c = {0};
    struct kumo_buf err = KUMO_BUF_INIT;
    int rc = json ? kumo__aws_parse_container_response(p, len, &c, &err)
                  : kumo__aws_parse_sts_response(p, len, &c, &err);
    if (rc == 0) {
        if (!c.access_key_id || !*c.access_key_id || !c.secret_access_key ||
            !*c.secret_access_key || err.len != 0)
            abort();
    } else if (c.access_key_id != NULL || err.len == 0) {
        abort();
    }
    kumo_aws_credentials_clear(&c);
    kumo_buf_free(&err);
}

static void fuzz_rds(const char *p, size_t len)
{
    struct kumo_rds_token_check chk = {"us-east-1", NULL, NULL, lookup, NULL};
    struct kumo_sigv4_verify_result res;
    int rc = kumo_rds_token_verify(&chk, p, len, T0, &res);
    if (rc != 0 && res.message == NULL)
        abort();
    kumo_sigv4_verify_result_free(&res);
}

/* Copies a field without the bytes the signer refuses. */
static char *field(const char *p, size_t len, int header_value)
{
    char *s = kumo_malloc(len + 2);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\0' && !(header_value && (p[i] == '\r' || p[i] == '\n')))
            s[n++] = p[i];
    s[n] = '\0';
    return s;
}

/* Whatever kumo signs (presigned and header forms), kumo verifies. */
static void fuzz_round_trip(const char *p, size_t len)
{
    const char *parts[4] = {"", "", "", ""};
    size_t lens[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4 && len > 0; i++) {
        size_t l = i < 3 ? next_line(p, len) : len;
        parts[i] = p;
        lens[i] = l;
        p += l < len ? l + 1 : l;
        len -= l < len ? l + 1 : l;
    }
    char *raw = field(parts[0], lens[0], 0);
    struct kumo_buf path = KUMO_BUF_INIT;
    kumo_buf_append_byte(&path, '/');
    kumo_buf_append_str(&path, raw);
    char *key = field(parts[1], lens[1], 0), *val = field(parts[2], lens[2], 0);
    char *hv = field(parts[3], lens[3], 1);
    struct kumo_sigv4_kv q[] = {kumo_sigv4_kv_str(key[0] ? key : "k", val)};
    struct kumo_sigv4_kv h[] = {kumo_sigv4_kv_str("host", "127.0.0.1:9000"),
                                kumo_sigv4_kv_str("x-amz-meta-f", hv)};
    /* Parameter names that select an authentication form are not data. */
    int query_ok = strncmp(q[0].name, "X-Amz-", 6) != 0 && strcmp(q[0].name, "Signature") != 0 &&
                   strcmp(q[0].name, "AWSAccessKeyId") != 0;
    struct kumo_sigv4_signing sg = {&keys[1], "us-east-1", "s3", KUMO_SIGV4_S3, T0};
    struct kumo_sigv4_request req = {"PUT", (char *)path.data, 0, q, query_ok ? 1 : 0, h, 2, NULL};
    struct kumo_sigv4_verifier v = {"us-east-1", "s3", KUMO_SIGV4_S3, lookup, NULL};
    struct kumo_buf target = KUMO_BUF_INIT;
    int rc = kumo_sigv4_presign(&sg, &req, 60, &target);
    if (rc == 0) {
        const char *qm = strchr((char *)target.data, '?');
        struct kumo_sigv4_verify_request vr = {"PUT",
                                               3,
                                               (char *)target.data,
                                               (size_t)(qm - (char *)target.data),
                                               qm + 1,
                                               strlen(qm + 1),
                                               h,
                                               2,
                                               NULL};
        struct kumo_sigv4_verify_result res;
        if (kumo_sigv4_verify(&v, &vr, T0, &res) != KUMO_SIGV4_OK)
            abort();
        kumo_sigv4_verify_result_free(&res);
    } else if (rc != KUMO_ERR_TOO_LARGE) {
        abort(); /* nothing here is invalid, only possibly too large */
    }
    kumo_buf_free(&target);

    struct kumo_sigv4_header_auth auth;
    req.payload_hash = KUMO_SIGV4_UNSIGNED_PAYLOAD;
    if (kumo_sigv4_sign_headers(&sg, &req, &auth) == 0) {
        struct kumo_buf wire = KUMO_BUF_INIT, qs = KUMO_BUF_INIT;
        kumo_sigv4_uri_encode((char *)path.data, path.len, 1, &wire);
        if (query_ok) {
            kumo_sigv4_uri_encode(q[0].name, q[0].name_len, 0, &qs);
            kumo_buf_append_byte(&qs, '=');
            kumo_sigv4_uri_encode(q[0].value, q[0].value_len, 0, &qs);
        }
        struct kumo_sigv4_kv hh[] = {h[0],
                                     h[1],
                                     kumo_sigv4_kv_str("x-amz-date", auth.amz_date),
                                     kumo_sigv4_kv_str("x-amz-content-sha256", auth.content_sha256),
                                     kumo_sigv4_kv_str("x-amz-security-token", auth.security_token),
                                     kumo_sigv4_kv_str("authorization", auth.authorization)};
        struct kumo_sigv4_verify_request vr = {
            "PUT", 3, (char *)wire.data, wire.len, (char *)qs.data, qs.len, hh, 6, NULL};
        struct kumo_sigv4_verify_result res;
        if (kumo_sigv4_verify(&v, &vr, T0, &res) != KUMO_SIGV4_OK)
            abort();
        kumo_sigv4_verify_result_free(&res);
        kumo_sigv4_header_auth_free(&auth);
        kumo_buf_free(&wire);
        kumo_buf_free(&qs);
    }
    kumo_buf_free(&path);
    kumo_free(raw);
    kumo_free(key);
    kumo_free(val);
    kumo_free(hv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *p = (const char *)data + 2;
    size_t len = size - 2;
    switch (data[0] % 6) {
    case 0:
    case 1:
        fuzz_verify(p, len, data[0] % 2 ? KUMO_SIGV4_GENERIC : KUMO_SIGV4_S3,
                    T0 + (time_t)(int8_t)data[1] * 60);
        break;
    case 2:
        fuzz_parsers(p, len, 0);
        break;
    case 3:
        fuzz_parsers(p, len, 1);
        break;
    case 4:
        fuzz_rds(p, len);
        break;
    default:
        fuzz_round_trip(p, len);
        break;
    }
    return 0;
}
