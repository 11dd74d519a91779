/* Tests of common/aws/sigv4_verify.c: the presigned (query) and header
 * (Authorization) forms round trip, and every tampering case a data port
 * must refuse with the right reason; expiry, scope, limits, reason names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "aws/sigv4.h"
#include "sigv4_fixture.h"

/* ---- presigned (query) form: round trip and tampering ---- */

static struct kumo_aws_credentials temp_creds = {(char *)"ASIATEMP", (char *)"temp/secret+key",
                                                 (char *)TOKEN, 0};

/* PUT /bkt/t/1/up load.bin?x-id=PutObject, content-type signed, session
 * token, 600 s, at T0. */
static char *presign_base(void)
{
    struct kumo_sigv4_kv q[] = {KV("x-id", "PutObject")};
    struct kumo_sigv4_kv h[] = {KV("Host", HOST), KV("Content-Type", "text/plain")};
    struct kumo_sigv4_signing sg = {&temp_creds, "us-east-1", "s3", KUMO_SIGV4_S3, T0};
    struct kumo_sigv4_request req = {"PUT", "/bkt/t/1/up load.bin", 0, q, 1, h, 2, NULL};
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_sigv4_presign(&sg, &req, 600, &out), 0);
    return kumo_buf_steal(&out, NULL);
}

static const struct kumo_sigv4_kv base_headers[] = {
    {"host", 4, HOST, sizeof HOST - 1},
    {"content-type", 12, "text/plain", 10},
    {"User-Agent", 10, "curl/7.88", 9}, /* unsigned, not x-amz-*: allowed */
};

static enum kumo_sigv4_reason verify_base(const char *target, time_t now)
{
    return verify_s3("PUT", target, base_headers, 3, now);
}

static void test_sigv4_presign_round_trip(void **state)
{
    (void)state;
    char *t = presign_base();
    assert_non_null(strstr(t, "/bkt/t/1/up%20load.bin?x-id=PutObject&X-Amz-Algorithm="));
    assert_non_null(strstr(t, "&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Security-Token="));
    struct kumo_sigv4_verify_result res;
    assert_int_equal(verify_full(&s3_verifier, "PUT", t, base_headers, 3, T0 + 10, &res),
                     KUMO_SIGV4_OK);
    assert_int_equal(res.query_auth, 1);
    assert_string_equal(res.access_key_id, "ASIATEMP");
    assert_string_equal(res.payload_hash, "UNSIGNED-PAYLOAD");
    assert_int_equal(res.request_time, T0);
    assert_int_equal(res.expires_at, T0 + 600);
    assert_string_equal(res.scope, "20150830/us-east-1/s3/aws4_request");
    assert_null(res.message);
    assert_null(res.canonical_request);
    kumo_sigv4_verify_result_free(&res);
    /* Header names in any case, values with extra blanks: same canonical. */
    struct kumo_sigv4_kv h2[] = {KV("HOST", HOST), KV("Content-TYPE", "  text/plain  ")};
    assert_int_equal(verify_s3("PUT", t, h2, 2, T0), KUMO_SIGV4_OK);
    kumo_free(t);
}

/* Splits the query of `t` into raw "k=v" parts (copies). */
static size_t split_params(const char *t, char **parts, size_t max)
{
    const char *q = strchr(t, '?') + 1;
    size_t n = 0;
    while (*q && n < max) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        parts[n++] = kumo_strndup(q, len);
        q += len + (amp ? 1 : 0);
    }
    return n;
}

/* Rebuilds "path?parts" with part `skip` left out, part `mod` replaced by
 * `repl`, and `extra` appended (each optional: pass (size_t)-1 / NULL). */
static char *rebuild(const char *t, char **parts, size_t n, size_t skip, size_t mod,
                     const char *repl, const char *extra)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append(&b, t, (size_t)(strchr(t, '?') - t));
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (i == skip)
            continue;
        kumo_buf_append_byte(&b, first ? '?' : '&');
        kumo_buf_append_str(&b, i == mod ? repl : parts[i]);
        first = 0;
    }
    if (extra) {
        kumo_buf_append_byte(&b, first ? '?' : '&');
        kumo_buf_append_str(&b, extra);
    }
    return kumo_buf_steal(&b, NULL);
}

struct tamper {
    const char *param;
    enum kumo_sigv4_reason appended; /* value + "x" */
    enum kumo_sigv4_reason removed;
    enum kumo_sigv4_reason duplicated;
};

static const struct tamper tampers[] = {
    {"x-id", KUMO_SIGV4_SIGNATURE_MISMATCH, KUMO_SIGV4_SIGNATURE_MISMATCH,
     KUMO_SIGV4_SIGNATURE_MISMATCH},
    {"X-Amz-Algorithm", KUMO_SIGV4_UNSUPPORTED_AUTH, KUMO_SIGV4_MALFORMED_AUTH,
     KUMO_SIGV4_MALFORMED_AUTH},
    {"X-Amz-Credential", KUMO_SIGV4_WRONG_TERMINAL, KUMO_SIGV4_MALFORMED_AUTH,
     KUMO_SIGV4_MALFORMED_AUTH},
    {"X-Amz-Date", KUMO_SIGV4_MALFORMED_DATE, KUMO_SIGV4_MALFORMED_AUTH, KUMO_SIGV4_MALFORMED_AUTH},
    {"X-Amz-Expires", KUMO_SIGV4_BAD_EXPIRES, KUMO_SIGV4_MALFORMED_AUTH, KUMO_SIGV4_MALFORMED_AUTH},
    {"X-Amz-SignedHeaders", KUMO_SIGV4_HOST_NOT_SIGNED, KUMO_SIGV4_MALFORMED_AUTH,
     KUMO_SIGV4_MALFORMED_AUTH},
    {"X-Amz-Security-Token", KUMO_SIGV4_BAD_SECURITY_TOKEN, KUMO_SIGV4_BAD_SECURITY_TOKEN,
     KUMO_SIGV4_MALFORMED_AUTH},
    {"X-Amz-Signature", KUMO_SIGV4_SIGNATURE_MISMATCH, KUMO_SIGV4_MALFORMED_AUTH,
     KUMO_SIGV4_MALFORMED_AUTH},
};

static void test_sigv4_presign_every_param_tampered(void **state)
{
    (void)state;
    char *t = presign_base();
    char *parts[16];
    size_t n = split_params(t, parts, 16);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        const struct tamper *tp = NULL;
        for (size_t k = 0; k < sizeof tampers / sizeof tampers[0]; k++)
            if (strncmp(parts[i], tampers[k].param, strlen(tampers[k].param)) == 0 &&
                parts[i][strlen(tampers[k].param)] == '=')
                tp = &tampers[k];
        assert_non_null(tp);
        char what[128];
        struct kumo_buf x = KUMO_BUF_INIT;
        kumo_buf_appendf(&x, "%sx", parts[i]);
        char *a = rebuild(t, parts, n, (size_t)-1, i, (char *)x.data, NULL);
        snprintf(what, sizeof what, "%s appended", tp->param);
        expect_reason(verify_base(a, T0), tp->appended, what);
        char *r = rebuild(t, parts, n, i, (size_t)-1, NULL, NULL);
        snprintf(what, sizeof what, "%s removed", tp->param);
        expect_reason(verify_base(r, T0), tp->removed, what);
        char *d = rebuild(t, parts, n, (size_t)-1, (size_t)-1, NULL, parts[i]);
        snprintf(what, sizeof what, "%s duplicated", tp->param);
        expect_reason(verify_base(d, T0), tp->duplicated, what);
        kumo_free(a);
        kumo_free(r);
        kumo_free(d);
        kumo_buf_free(&x);
    }
    /* An added parameter is not signed. */
    char *e = rebuild(t, parts, n, (size_t)-1, (size_t)-1, NULL, "acl=public-read");
    expect_reason(verify_base(e, T0), KUMO_SIGV4_SIGNATURE_MISMATCH, "extra param");
    kumo_free(e);
    for (size_t i = 0; i < n; i++)
        kumo_free(parts[i]);
    kumo_free(t);
}

/* Replaces the first occurrence of `from` in `t` by `to`. */
static char *replace(const char *t, const char *from, const char *to)
{
    const char *p = strstr(t, from);
    assert_non_null(p);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append(&b, t, (size_t)(p - t));
    kumo_buf_append_str(&b, to);
    kumo_buf_append_str(&b, p + strlen(from));
    return kumo_buf_steal(&b, NULL);
}

static void expect_replaced(const char *t, const char *from, const char *to,
                            enum kumo_sigv4_reason want)
{
    char *m = replace(t, from, to);
    char what[256];
    snprintf(what, sizeof what, "%s -> %s", from, to);
    expect_reason(verify_base(m, T0), want, what);
    kumo_free(m);
}

static void test_sigv4_presign_values_tampered(void **state)
{
    (void)state;
    char *t = presign_base();
    /* Key, method-independent path forms. */
    expect_replaced(t, "up%20load.bin", "up%20loaD.bin", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_replaced(t, "up%20load.bin", "up+load.bin", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_replaced(t, "/bkt/t/1/", "/bkt/t/2/", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_replaced(t, "/bkt/t/1/", "/bkt/t//1/", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_replaced(t, "/bkt/t/1/", "/bkt/t/1/../1/", KUMO_SIGV4_SIGNATURE_MISMATCH);
    /* Same day, other second; other day. */
    expect_replaced(t, "X-Amz-Date=20150830T123600Z", "X-Amz-Date=20150830T123601Z",
                    KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_replaced(t, "X-Amz-Date=20150830T123600Z", "X-Amz-Date=20150829T123600Z",
                    KUMO_SIGV4_WRONG_DATE_SCOPE);
    expect_replaced(t, "X-Amz-Expires=600", "X-Amz-Expires=601", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_replaced(t, "X-Amz-SignedHeaders=content-type%3Bhost", "X-Amz-SignedHeaders=host",
                    KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_replaced(t, "ASIATEMP%2F", "AKIDEXAMPLE%2F", KUMO_SIGV4_BAD_SECURITY_TOKEN);
    expect_replaced(t, "ASIATEMP%2F", "NOSUCHKEY%2F", KUMO_SIGV4_UNKNOWN_ACCESS_KEY);
    expect_replaced(t, "ASIATEMP%2F", "AKIDEXPIRED%2F", KUMO_SIGV4_EXPIRED_TOKEN);
    expect_replaced(t, "%2Fus-east-1%2F", "%2Fus-west-2%2F", KUMO_SIGV4_WRONG_REGION);
    expect_replaced(t, "%2Fs3%2F", "%2Fiam%2F", KUMO_SIGV4_WRONG_SERVICE);
    expect_replaced(t, "%2F20150830%2F", "%2F20150831%2F", KUMO_SIGV4_WRONG_DATE_SCOPE);
    /* Credential shapes. */
    expect_replaced(t, "ASIATEMP%2F20150830", "20150830", KUMO_SIGV4_MALFORMED_CREDENTIAL);
    expect_replaced(t, "ASIATEMP%2F", "ASIATEMP%2F%2F", KUMO_SIGV4_MALFORMED_CREDENTIAL);
    expect_replaced(t, "%2F20150830%2F", "%2F2015083%2F", KUMO_SIGV4_MALFORMED_CREDENTIAL);
    expect_replaced(t, "aws4_request", "aws4_request%2Fx", KUMO_SIGV4_MALFORMED_CREDENTIAL);
    expect_replaced(t, "X-Amz-Credential=ASIATEMP",
                    "X-Amz-Credential=", KUMO_SIGV4_MALFORMED_CREDENTIAL);
    expect_replaced(t, "aws4_request", "aws5_request", KUMO_SIGV4_WRONG_TERMINAL);
    /* Expires range and form. */
    expect_replaced(t, "X-Amz-Expires=600", "X-Amz-Expires=0", KUMO_SIGV4_BAD_EXPIRES);
    expect_replaced(t, "X-Amz-Expires=600", "X-Amz-Expires=-5", KUMO_SIGV4_BAD_EXPIRES);
    expect_replaced(t, "X-Amz-Expires=600", "X-Amz-Expires=604801", KUMO_SIGV4_BAD_EXPIRES);
    expect_replaced(t, "X-Amz-Expires=600", "X-Amz-Expires=99999999999999999999999",
                    KUMO_SIGV4_BAD_EXPIRES);
    expect_replaced(t, "X-Amz-Expires=600", "X-Amz-Expires=", KUMO_SIGV4_BAD_EXPIRES);
    expect_replaced(t, "X-Amz-Expires=600", "X-Amz-Expires=6e2", KUMO_SIGV4_BAD_EXPIRES);
    /* Signed headers list shapes. */
    expect_replaced(t, "content-type%3Bhost", "host%3Bcontent-type",
                    KUMO_SIGV4_MALFORMED_SIGNED_HEADERS);
    expect_replaced(t, "content-type%3Bhost", "Content-Type%3Bhost",
                    KUMO_SIGV4_MALFORMED_SIGNED_HEADERS);
    expect_replaced(t, "content-type%3Bhost", "content-type%3B%3Bhost",
                    KUMO_SIGV4_MALFORMED_SIGNED_HEADERS);
    expect_replaced(t, "content-type%3Bhost", "host%3Bhost", KUMO_SIGV4_MALFORMED_SIGNED_HEADERS);
    expect_replaced(t, "content-type%3Bhost", "", KUMO_SIGV4_MALFORMED_SIGNED_HEADERS);
    expect_replaced(t, "content-type%3Bhost", "content-type", KUMO_SIGV4_HOST_NOT_SIGNED);
    expect_replaced(t, "content-type%3Bhost", "content-type%3Bhost%3Brange",
                    KUMO_SIGV4_SIGNATURE_MISMATCH);
    /* Encoding and form. */
    expect_replaced(t, "x-id=PutObject", "x-id=Put%zzObject", KUMO_SIGV4_BAD_ENCODING);
    expect_replaced(t, "X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256",
                    KUMO_SIGV4_UNSUPPORTED_AUTH);
    expect_replaced(t, "X-Amz-Date=20150830T123600Z", "X-Amz-Date=20150830T123600Z%00",
                    KUMO_SIGV4_MALFORMED_AUTH);
    kumo_free(t);
}

static void test_sigv4_presign_headers_tampered(void **state)
{
    (void)state;
    char *t = presign_base();
    struct kumo_sigv4_kv wrong_type[] = {KV("host", HOST), KV("content-type", "text/html")};
    expect_reason(verify_s3("PUT", t, wrong_type, 2, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "content-type changed");
    struct kumo_sigv4_kv no_type[] = {KV("host", HOST)};
    expect_reason(verify_s3("PUT", t, no_type, 1, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "content-type missing");
    struct kumo_sigv4_kv two_types[] = {KV("host", HOST), KV("content-type", "text/plain"),
                                        KV("content-type", "text/plain")};
    expect_reason(verify_s3("PUT", t, two_types, 3, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "content-type repeated");
    struct kumo_sigv4_kv other_host[] = {KV("host", "127.0.0.1:9001"),
                                         KV("content-type", "text/plain")};
    expect_reason(verify_s3("PUT", t, other_host, 2, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "host changed");
    struct kumo_sigv4_kv meta[] = {KV("host", HOST), KV("content-type", "text/plain"),
                                   KV("X-Amz-Storage-Class", "GLACIER")};
    struct kumo_sigv4_verify_result res;
    assert_int_equal(verify_full(&s3_verifier, "PUT", t, meta, 3, T0, &res),
                     KUMO_SIGV4_HEADERS_NOT_SIGNED);
    assert_non_null(strstr(res.message, "X-Amz-Storage-Class"));
    kumo_sigv4_verify_result_free(&res);
    expect_reason(verify_base(t, T0), KUMO_SIGV4_OK, "base");
    expect_reason(verify_s3("GET", t, base_headers, 3, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "method changed");
    expect_reason(verify_s3("put", t, base_headers, 3, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "method case changed");
    /* Both forms at once. */
    struct kumo_sigv4_kv both[] = {KV("host", HOST), KV("content-type", "text/plain"),
                                   KV("Authorization", "AWS4-HMAC-SHA256 Credential=x")};
    expect_reason(verify_s3("PUT", t, both, 3, T0), KUMO_SIGV4_MULTIPLE_AUTH, "both forms");
    kumo_free(t);
}

static void test_sigv4_presign_expiry_boundaries(void **state)
{
    (void)state;
    char *t = presign_base();
    expect_reason(verify_base(t, T0 + 600), KUMO_SIGV4_OK, "last valid second");
    struct kumo_sigv4_verify_result res;
    assert_int_equal(verify_full(&s3_verifier, "PUT", t, base_headers, 3, T0 + 601, &res),
                     KUMO_SIGV4_EXPIRED);
    assert_string_equal(res.message, "Request has expired");
    int status = 0;
    assert_string_equal(kumo_sigv4_reason_s3_code(res.reason, res.query_auth, &status),
                        "AccessDenied");
    assert_int_equal(status, 403);
    kumo_sigv4_verify_result_free(&res);
    expect_reason(verify_base(t, T0 - KUMO_SIGV4_MAX_SKEW), KUMO_SIGV4_OK, "15 min early");
    expect_reason(verify_base(t, T0 - KUMO_SIGV4_MAX_SKEW - 1), KUMO_SIGV4_NOT_YET_VALID,
                  "future date");
    kumo_free(t);

    /* A week is the longest S3 allows, and it holds to the last second. */
    struct kumo_sigv4_kv h[] = {KV("host", HOST)};
    struct kumo_sigv4_signing sg = {&keys[0], "us-east-1", "s3", KUMO_SIGV4_S3, T0};
    struct kumo_sigv4_request req = {"GET", "/bkt/k", 0, NULL, 0, h, 1, NULL};
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_sigv4_presign(&sg, &req, KUMO_SIGV4_MAX_EXPIRES, &out), 0);
    expect_reason(verify_s3("GET", (char *)out.data, h, 1, T0 + KUMO_SIGV4_MAX_EXPIRES),
                  KUMO_SIGV4_OK, "week");
    expect_reason(verify_s3("GET", (char *)out.data, h, 1, T0 + KUMO_SIGV4_MAX_EXPIRES + 1),
                  KUMO_SIGV4_EXPIRED, "week + 1");
    kumo_buf_free(&out);
}

static void test_sigv4_verifier_scope_mismatch(void **state)
{
    (void)state;
    char *t = presign_base();
    struct kumo_sigv4_verifier eu = {"eu-west-1", "s3", KUMO_SIGV4_S3, lookup, NULL};
    struct kumo_sigv4_verify_result res;
    assert_int_equal(verify_full(&eu, "PUT", t, base_headers, 3, T0, &res),
                     KUMO_SIGV4_WRONG_REGION);
    assert_non_null(strstr(res.message, "the region 'us-east-1' is wrong; expecting 'eu-west-1'"));
    int status = 0;
    assert_string_equal(kumo_sigv4_reason_s3_code(res.reason, 1, &status),
                        "AuthorizationQueryParametersError");
    assert_int_equal(status, 400);
    kumo_sigv4_verify_result_free(&res);
    struct kumo_sigv4_verifier other = {"us-east-1", "s3-object-lambda", KUMO_SIGV4_S3, lookup,
                                        NULL};
    assert_int_equal(verify_full(&other, "PUT", t, base_headers, 3, T0, &res),
                     KUMO_SIGV4_WRONG_SERVICE);
    assert_non_null(strstr(res.message, "This endpoint belongs to \"s3-object-lambda\""));
    kumo_sigv4_verify_result_free(&res);
    kumo_free(t);
}

static void test_sigv4_mismatch_exposes_canonical_request(void **state)
{
    (void)state;
    char *t = presign_base();
    char *m = replace(t, "x-id=PutObject", "x-id=GetObject");
    struct kumo_sigv4_verify_result res;
    assert_int_equal(verify_full(&s3_verifier, "PUT", m, base_headers, 3, T0, &res),
                     KUMO_SIGV4_SIGNATURE_MISMATCH);
    assert_non_null(res.canonical_request);
    assert_true(strncmp(res.canonical_request, "PUT\n/bkt/t/1/up%20load.bin\n", 27) == 0);
    assert_non_null(strstr(res.canonical_request, "&x-id=GetObject\n"));
    assert_non_null(strstr(res.canonical_request,
                           "\ncontent-type:text/plain\nhost:" HOST "\n\ncontent-type;host\n"
                           "UNSIGNED-PAYLOAD"));
    const char *prefix = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/s3/aws4_request\n";
    assert_true(strncmp(res.string_to_sign, prefix, strlen(prefix)) == 0);
    char hash[65];
    kumo_sigv4_sha256_hex(res.canonical_request, strlen(res.canonical_request), hash);
    assert_string_equal(res.string_to_sign + strlen(prefix), hash);
    assert_string_equal(res.signature_provided, strstr(t, "X-Amz-Signature=") + 16);
    /* The signing key is not left in a failed result. */
    static const uint8_t zero[32];
    assert_memory_equal(res.signing_key, zero, 32);
    int status = 0;
    assert_string_equal(kumo_sigv4_reason_s3_code(res.reason, 1, &status), "SignatureDoesNotMatch");
    assert_int_equal(status, 403);
    kumo_sigv4_verify_result_free(&res);
    kumo_free(m);
    kumo_free(t);
}

static void test_sigv4_verify_no_auth_and_other_schemes(void **state)
{
    (void)state;
    struct kumo_sigv4_kv h[] = {KV("host", HOST)};
    expect_reason(verify_s3("GET", "/bkt/k", h, 1, T0), KUMO_SIGV4_NO_AUTH, "anonymous");
    expect_reason(verify_s3("GET", "/bkt/k?versionId=3", h, 1, T0), KUMO_SIGV4_NO_AUTH,
                  "anonymous with query");
    expect_reason(
        verify_s3("GET", "/bkt/k?AWSAccessKeyId=AKIDEXAMPLE&Expires=1&Signature=x", h, 1, T0),
        KUMO_SIGV4_UNSUPPORTED_AUTH, "sigv2 query");
    struct kumo_sigv4_kv v2[] = {KV("host", HOST), KV("Authorization", "AWS AKIDEXAMPLE:abc=")};
    expect_reason(verify_s3("GET", "/bkt/k", v2, 2, T0), KUMO_SIGV4_UNSUPPORTED_AUTH,
                  "sigv2 header");
    expect_reason(verify_s3("GET", "/bkt/k?X-Amz-Signature=abc", h, 1, T0),
                  KUMO_SIGV4_MALFORMED_AUTH, "signature alone");
}

static void test_sigv4_verify_limits(void **state)
{
    (void)state;
    struct kumo_sigv4_kv h[] = {KV("host", HOST)};
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "/bkt/k?a=");
    for (int i = 0; i < KUMO_SIGV4_MAX_QUERY; i++)
        kumo_buf_append_byte(&b, 'x');
    expect_reason(verify_s3("GET", (char *)b.data, h, 1, T0), KUMO_SIGV4_TOO_LARGE, "long query");
    kumo_buf_reset(&b);
    kumo_buf_append_str(&b, "/bkt/k?");
    for (int i = 0; i <= KUMO_SIGV4_MAX_QUERY_PARAMS; i++)
        kumo_buf_appendf(&b, "p%d&", i);
    expect_reason(verify_s3("GET", (char *)b.data, h, 1, T0), KUMO_SIGV4_TOO_LARGE, "many params");
    kumo_buf_reset(&b);
    kumo_buf_append_byte(&b, '/');
    for (int i = 0; i < KUMO_SIGV4_MAX_PATH; i++)
        kumo_buf_append_byte(&b, 'k');
    expect_reason(verify_s3("GET", (char *)b.data, h, 1, T0), KUMO_SIGV4_TOO_LARGE, "long path");
    kumo_buf_free(&b);
    struct kumo_sigv4_kv many[KUMO_SIGV4_MAX_HEADERS + 1];
    for (int i = 0; i <= KUMO_SIGV4_MAX_HEADERS; i++)
        many[i] = KV("x-other", "1");
    expect_reason(verify_s3("GET", "/bkt/k", many, KUMO_SIGV4_MAX_HEADERS + 1, T0),
                  KUMO_SIGV4_TOO_LARGE, "many headers");
    char *big = kumo_malloc(KUMO_SIGV4_MAX_HEADER_VALUE + 2);
    memset(big, 'v', KUMO_SIGV4_MAX_HEADER_VALUE + 1);
    big[KUMO_SIGV4_MAX_HEADER_VALUE + 1] = '\0';
    struct kumo_sigv4_kv bigh[] = {KV("host", HOST), KV("authorization", big)};
    expect_reason(verify_s3("GET", "/bkt/k", bigh, 2, T0), KUMO_SIGV4_TOO_LARGE, "big header");
    kumo_free(big);
    expect_reason(verify_s3("", "/bkt/k", h, 1, T0), KUMO_SIGV4_TOO_LARGE, "empty method");
}

/* ---- header (Authorization) form ---- */

/* A header-signed PUT at T0; fills h[0..5) (strings owned by *auth). */
static void header_base(struct kumo_sigv4_header_auth *auth, struct kumo_sigv4_kv *h)
{
    static const char body_hash[] =
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
    struct kumo_sigv4_kv in[] = {KV("Host", HOST), KV("Content-Type", "text/plain")};
    struct kumo_sigv4_signing sg = {&keys[0], "us-east-1", "s3", KUMO_SIGV4_S3, T0};
    struct kumo_sigv4_request req = {"PUT", "/bkt/t/1/a b.txt", 0, NULL, 0, in, 2, body_hash};
    assert_int_equal(kumo_sigv4_sign_headers(&sg, &req, auth), 0);
    h[0] = KV("Host", HOST);
    h[1] = KV("Content-Type", "text/plain");
    h[2] = KV("X-Amz-Date", auth->amz_date);
    h[3] = KV("X-Amz-Content-SHA256", auth->content_sha256);
    h[4] = KV("Authorization", auth->authorization);
}

#define HPATH "/bkt/t/1/a%20b.txt"

static void test_sigv4_header_round_trip(void **state)
{
    (void)state;
    struct kumo_sigv4_header_auth auth;
    struct kumo_sigv4_kv h[5];
    header_base(&auth, h);
    struct kumo_sigv4_verify_result res;
    assert_int_equal(verify_full(&s3_verifier, "PUT", HPATH, h, 5, T0, &res), KUMO_SIGV4_OK);
    assert_int_equal(res.query_auth, 0);
    assert_string_equal(res.payload_hash,
                        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    kumo_sigv4_verify_result_free(&res);
    expect_reason(verify_s3("PUT", HPATH, h, 5, T0 + KUMO_SIGV4_MAX_SKEW), KUMO_SIGV4_OK, "+15m");
    expect_reason(verify_s3("PUT", HPATH, h, 5, T0 - KUMO_SIGV4_MAX_SKEW), KUMO_SIGV4_OK, "-15m");
    expect_reason(verify_s3("PUT", HPATH, h, 5, T0 + KUMO_SIGV4_MAX_SKEW + 1),
                  KUMO_SIGV4_TIME_SKEWED, "late");
    expect_reason(verify_s3("PUT", HPATH, h, 5, T0 - KUMO_SIGV4_MAX_SKEW - 1),
                  KUMO_SIGV4_TIME_SKEWED, "early");
    kumo_sigv4_header_auth_free(&auth);
}

static enum kumo_sigv4_reason with_auth(struct kumo_sigv4_kv *h, const char *authz)
{
    struct kumo_sigv4_kv saved = h[4];
    h[4] = KV("Authorization", authz);
    enum kumo_sigv4_reason r = verify_s3("PUT", HPATH, h, 5, T0);
    h[4] = saved;
    return r;
}

static void expect_auth_replaced(struct kumo_sigv4_kv *h, const char *authz, const char *from,
                                 const char *to, enum kumo_sigv4_reason want)
{
    char *m = replace(authz, from, to);
    char what[256];
    snprintf(what, sizeof what, "Authorization %s -> %s", from, to);
    expect_reason(with_auth(h, m), want, what);
    kumo_free(m);
}

static void test_sigv4_header_authorization_tampered(void **state)
{
    (void)state;
    struct kumo_sigv4_header_auth auth;
    struct kumo_sigv4_kv h[5];
    header_base(&auth, h);
    const char *a = auth.authorization;
    const char *sig = strstr(a, "Signature=") + 10;
    char flipped[65];
    for (int i = 0; i < 64; i++) { /* every position is compared */
        memcpy(flipped, sig, 65);
        flipped[i] = flipped[i] == '0' ? '1' : '0';
        expect_auth_replaced(h, a, sig, flipped, KUMO_SIGV4_SIGNATURE_MISMATCH);
    }
    memcpy(flipped, sig, 65);
    for (int i = 0; i < 64; i++) /* S3 signatures are lowercase hex */
        flipped[i] = flipped[i] >= 'a' ? (char)(flipped[i] - 32) : flipped[i];
    expect_auth_replaced(h, a, sig, flipped, KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_auth_replaced(h, a, sig, "abc", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_auth_replaced(h, a, ", Signature=", ", Signatures=", KUMO_SIGV4_MALFORMED_AUTH);
    expect_auth_replaced(h, a,
                         ", SignedHeaders=", ", SignedHeaders=x;, Foo=", KUMO_SIGV4_MALFORMED_AUTH);
    expect_auth_replaced(h, a,
                         "Credential=", "Credential=x, Credential=", KUMO_SIGV4_MALFORMED_AUTH);
    expect_auth_replaced(h, a, ", SignedHeaders=", ",SignedHeaders=", KUMO_SIGV4_OK);
    expect_auth_replaced(h, a, "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256   ", KUMO_SIGV4_OK);
    expect_auth_replaced(h, a, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", KUMO_SIGV4_UNSUPPORTED_AUTH);
    expect_auth_replaced(h, a, "/us-east-1/", "/eu-west-1/", KUMO_SIGV4_WRONG_REGION);
    expect_auth_replaced(h, a, "/s3/", "/sts/", KUMO_SIGV4_WRONG_SERVICE);
    expect_auth_replaced(h, a, "/20150830/", "/20150831/", KUMO_SIGV4_WRONG_DATE_SCOPE);
    expect_auth_replaced(h, a, "AKIDEXAMPLE/", "AKIDOTHER/", KUMO_SIGV4_UNKNOWN_ACCESS_KEY);
    expect_auth_replaced(h, a, "AKIDEXAMPLE/", "", KUMO_SIGV4_MALFORMED_CREDENTIAL);
    expect_auth_replaced(h, a, "content-type;", "", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_auth_replaced(h, a, "host;", "", KUMO_SIGV4_HOST_NOT_SIGNED);
    expect_auth_replaced(h, a, "x-amz-date", "x-amz-datf", KUMO_SIGV4_HEADERS_NOT_SIGNED);
    expect_auth_replaced(h, a, ", Signature=", "", KUMO_SIGV4_MALFORMED_AUTH);
    expect_auth_replaced(h, a, sig, "", KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_reason(with_auth(h, "AWS4-HMAC-SHA256"), KUMO_SIGV4_MALFORMED_AUTH, "bare");
    expect_reason(with_auth(h, ""), KUMO_SIGV4_UNSUPPORTED_AUTH, "empty");
    struct kumo_buf trailing = KUMO_BUF_INIT;
    kumo_buf_appendf(&trailing, "%s,", a);
    expect_reason(with_auth(h, (char *)trailing.data), KUMO_SIGV4_MALFORMED_AUTH, "trailing ,");
    kumo_buf_free(&trailing);
    kumo_sigv4_header_auth_free(&auth);
}

static void test_sigv4_header_required_headers(void **state)
{
    (void)state;
    struct kumo_sigv4_header_auth auth;
    struct kumo_sigv4_kv h[6];
    header_base(&auth, h);
    struct kumo_sigv4_kv x[6];

    memcpy(x, h, sizeof x);
    x[2] = KV("X-Other", "1");
    expect_reason(verify_s3("PUT", HPATH, x, 5, T0), KUMO_SIGV4_MISSING_DATE, "no x-amz-date");
    x[2] = KV("X-Amz-Date", "2015-08-30T12:36:00Z");
    expect_reason(verify_s3("PUT", HPATH, x, 5, T0), KUMO_SIGV4_MALFORMED_DATE, "iso date");
    memcpy(x, h, sizeof x);
    x[5] = x[2];
    expect_reason(verify_s3("PUT", HPATH, x, 6, T0), KUMO_SIGV4_MALFORMED_DATE, "two dates");

    memcpy(x, h, sizeof x);
    x[3] = KV("X-Other", "1");
    expect_reason(verify_s3("PUT", HPATH, x, 5, T0), KUMO_SIGV4_MISSING_CONTENT_SHA256,
                  "no content sha");
    x[3] = KV("x-amz-content-sha256", "abc");
    expect_reason(verify_s3("PUT", HPATH, x, 5, T0), KUMO_SIGV4_BAD_CONTENT_SHA256, "bad sha");
    x[3] = KV("x-amz-content-sha256", KUMO_SIGV4_EMPTY_SHA256);
    expect_reason(verify_s3("PUT", HPATH, x, 5, T0), KUMO_SIGV4_SIGNATURE_MISMATCH, "other sha");
    x[3] = KV("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    expect_reason(verify_s3("PUT", HPATH, x, 5, T0), KUMO_SIGV4_SIGNATURE_MISMATCH, "unsigned");

    memcpy(x, h, sizeof x);
    x[5] = KV("x-amz-security-token", "abc");
    expect_reason(verify_s3("PUT", HPATH, x, 6, T0), KUMO_SIGV4_HEADERS_NOT_SIGNED,
                  "unsigned token header");
    x[5] = KV("Authorization", auth.authorization);
    expect_reason(verify_s3("PUT", HPATH, x, 6, T0), KUMO_SIGV4_MALFORMED_AUTH, "two auth");
    x[5] = KV("Content-Type", "text/html");
    expect_reason(verify_s3("PUT", HPATH, x, 6, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "second content-type");
    expect_reason(verify_s3("PUT", HPATH "?x=1", h, 5, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "query added");
    expect_reason(verify_s3("PUT", "/bkt/t/1/a+b.txt", h, 5, T0), KUMO_SIGV4_SIGNATURE_MISMATCH,
                  "path re-encoded");
    kumo_sigv4_header_auth_free(&auth);
}

static void test_sigv4_header_session_token(void **state)
{
    (void)state;
    struct kumo_sigv4_kv in[] = {KV("host", HOST)};
    struct kumo_sigv4_signing sg = {&temp_creds, "us-east-1", "s3", KUMO_SIGV4_S3, T0};
    struct kumo_sigv4_request req = {"GET", "/bkt/k", 0, NULL, 0, in, 1, NULL};
    struct kumo_sigv4_header_auth auth;
    assert_int_equal(kumo_sigv4_sign_headers(&sg, &req, &auth), 0);
    assert_string_equal(auth.content_sha256, KUMO_SIGV4_EMPTY_SHA256);
    assert_non_null(strstr(auth.authorization, "x-amz-security-token"));
    struct kumo_sigv4_kv h[] = {KV("host", HOST), KV("x-amz-date", auth.amz_date),
                                KV("x-amz-content-sha256", auth.content_sha256),
                                KV("x-amz-security-token", auth.security_token),
                                KV("authorization", auth.authorization)};
    expect_reason(verify_s3("GET", "/bkt/k", h, 5, T0), KUMO_SIGV4_OK, "token");
    h[3] = KV("x-amz-security-token", "IQoJ-other");
    expect_reason(verify_s3("GET", "/bkt/k", h, 5, T0), KUMO_SIGV4_BAD_SECURITY_TOKEN,
                  "other token");
    h[3] = KV("x-other", "1");
    expect_reason(verify_s3("GET", "/bkt/k", h, 5, T0), KUMO_SIGV4_BAD_SECURITY_TOKEN, "no token");
    kumo_sigv4_header_auth_free(&auth);
}

static void test_sigv4_reason_names_and_codes(void **state)
{
    (void)state;
    for (int r = KUMO_SIGV4_OK; r <= KUMO_SIGV4_TOO_LARGE; r++) {
        const char *name = kumo_sigv4_reason_name((enum kumo_sigv4_reason)r);
        assert_string_not_equal(name, "unknown");
        for (int s = r + 1; s <= KUMO_SIGV4_TOO_LARGE; s++)
            assert_string_not_equal(name, kumo_sigv4_reason_name((enum kumo_sigv4_reason)s));
        for (int q = 0; q < 2; q++) {
            int status = 0;
            const char *code = kumo_sigv4_reason_s3_code((enum kumo_sigv4_reason)r, q, &status);
            assert_non_null(code);
            if (r != KUMO_SIGV4_OK)
                assert_true((status == 400 || status == 403) && code[0] != '\0');
        }
    }
    int status = 0;
    assert_string_equal(kumo_sigv4_reason_s3_code(KUMO_SIGV4_UNKNOWN_ACCESS_KEY, 0, &status),
                        "InvalidAccessKeyId");
    assert_string_equal(kumo_sigv4_reason_s3_code(KUMO_SIGV4_MALFORMED_AUTH, 0, &status),
                        "AuthorizationHeaderMalformed");
    assert_string_equal(kumo_sigv4_reason_s3_code(KUMO_SIGV4_MALFORMED_AUTH, 1, &status),
                        "AuthorizationQueryParametersError");
    assert_string_equal(kumo_sigv4_reason_name((enum kumo_sigv4_reason)999), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_presign_round_trip),
        cmocka_unit_test(test_sigv4_presign_every_param_tampered),
        cmocka_unit_test(test_sigv4_presign_values_tampered),
        cmocka_unit_test(test_sigv4_presign_headers_tampered),
        cmocka_unit_test(test_sigv4_presign_expiry_boundaries),
        cmocka_unit_test(test_sigv4_verifier_scope_mismatch),
        cmocka_unit_test(test_sigv4_mismatch_exposes_canonical_request),
        cmocka_unit_test(test_sigv4_verify_no_auth_and_other_schemes),
        cmocka_unit_test(test_sigv4_verify_limits),
        cmocka_unit_test(test_sigv4_header_round_trip),
        cmocka_unit_test(test_sigv4_header_authorization_tampered),
        cmocka_unit_test(test_sigv4_header_required_headers),
        cmocka_unit_test(test_sigv4_header_session_token),
        cmocka_unit_test(test_sigv4_reason_names_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
