/* Tests of common/sigv4: building blocks, byte-for-byte agreement with
 * botocore (tests/unit/common/aws/sigv4_vectors.json, made by sigv4_vectors.py,
 * both the pure-Python and the CRT signer), the verifier accepting what
 * botocore signs, and every tampering case a data port must refuse with the
 * right reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "aws/sigv4.h"

#define T0     1440938160 /* 2015-08-30T12:36:00Z */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN  "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+tok/en=="
#define HOST   "127.0.0.1:9000"

static struct kumo_aws_credentials keys[] = {
    {(char *)"AKIDEXAMPLE", (char *)SECRET, NULL, 0},
    {(char *)"ASIATEMP", (char *)"temp/secret+key", (char *)TOKEN, 0},
    {(char *)"AKIDEXPIRED", (char *)"old", NULL, T0 - 1},
};

static const struct kumo_aws_credentials *lookup(void *ctx, const char *akid)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].access_key_id, akid) == 0)
            return &keys[i];
    return NULL;
}

static char vectors_path[4096];
static char script_path[4096];

static void find_files(void)
{
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    int dir_len = slash ? (int)(slash - src) : 1;
    const char *dir = slash ? src : ".";
    snprintf(vectors_path, sizeof vectors_path, "%.*s/sigv4_vectors.json", dir_len, dir);
    snprintf(script_path, sizeof script_path, "%.*s/sigv4_vectors.py", dir_len, dir);
}

/* ---- helpers ---- */

static struct kumo_sigv4_verifier s3_verifier = {"us-east-1", "s3", KUMO_SIGV4_S3, lookup, NULL};

/* Verifies "path?query" with headers; returns the reason, *res kept. */
static enum kumo_sigv4_reason verify_full(const struct kumo_sigv4_verifier *v, const char *method,
                                          const char *target, const struct kumo_sigv4_kv *h,
                                          size_t nh, time_t now,
                                          struct kumo_sigv4_verify_result *res)
{
    const char *q = strchr(target, '?');
    size_t pl = q ? (size_t)(q - target) : strlen(target);
    struct kumo_sigv4_verify_request req = {
        method, strlen(method), target, pl, q ? q + 1 : NULL, q ? strlen(q + 1) : 0, h, nh, NULL};
    return kumo_sigv4_verify(v, &req, now, res);
}

static enum kumo_sigv4_reason verify_s3(const char *method, const char *target,
                                        const struct kumo_sigv4_kv *h, size_t nh, time_t now)
{
    struct kumo_sigv4_verify_result res;
    enum kumo_sigv4_reason r = verify_full(&s3_verifier, method, target, h, nh, now, &res);
    assert_int_equal(res.reason, r);
    if (r != KUMO_SIGV4_OK)
        assert_non_null(res.message);
    kumo_sigv4_verify_result_free(&res);
    return r;
}

#define KV(n, v) kumo_sigv4_kv_str(n, v)

static void expect_reason(enum kumo_sigv4_reason got, enum kumo_sigv4_reason want, const char *what)
{
    if (got != want)
        fail_msg("%s: got %s, want %s", what, kumo_sigv4_reason_name(got),
                 kumo_sigv4_reason_name(want));
}

/* ---- building blocks ---- */

static void test_sigv4_uri_encode_keeps_unreserved_only(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_sigv4_uri_encode("AZaz09-._~", 10, 0, &b);
    assert_string_equal((char *)b.data, "AZaz09-._~");
    kumo_buf_reset(&b);
    kumo_sigv4_uri_encode("a b/c+d=e", 9, 0, &b);
    assert_string_equal((char *)b.data, "a%20b%2Fc%2Bd%3De");
    kumo_buf_reset(&b);
    kumo_sigv4_uri_encode("/a b/c", 6, 1, &b);
    assert_string_equal((char *)b.data, "/a%20b/c");
    kumo_buf_reset(&b);
    kumo_sigv4_uri_encode("\xc3\xa9\x00\xff%", 5, 1, &b);
    assert_string_equal((char *)b.data, "%C3%A9%00%FF%25");
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        kumo_buf_reset(&b);
        kumo_sigv4_uri_encode(&in, 1, 0, &b);
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~';
        assert_int_equal(b.len, keep ? 1 : 3);
    }
    kumo_buf_free(&b);
}

static void test_sigv4_date_round_trip_and_rejects(void **state)
{
    (void)state;
    char d[KUMO_SIGV4_DATE_SIZE];
    time_t t;
    assert_int_equal(kumo_sigv4_format_date(T0, d), 0);
    assert_string_equal(d, "20150830T123600Z");
    assert_int_equal(kumo_sigv4_parse_date(d, 16, &t), 0);
    assert_int_equal(t, T0);
    assert_int_equal(kumo_sigv4_parse_date("20240229T235959Z", 16, &t), 0);
    static const char *const bad[] = {
        "20150231T000000Z",  "20150830T123600",
        "20150830T123600z",  "20150830 123600Z",
        "2015083OT123600Z",  "20151330T000000Z",
        "20150830T246000Z",  "19691231T235959Z",
        "20150830T123600ZZ", "",
        "+0150830T123600Z",  "20230229T000000Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kumo_sigv4_parse_date(bad[i], strlen(bad[i]), &t), KUMO_ERR_INVALID);
}

static void test_sigv4_signing_key_matches_aws_documentation(void **state)
{
    (void)state;
    uint8_t key[32];
    char hex[65];
    kumo_sigv4_signing_key(SECRET, "20120215", "us-east-1", "iam", key);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    kumo_sigv4_sha256_hex("", 0, hex);
    assert_string_equal(hex, KUMO_SIGV4_EMPTY_SHA256);
}

static void expect_uri(const char *in, enum kumo_sigv4_flavor f, const char *want)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_sigv4_canonical_uri(in, strlen(in), f, &b);
    assert_string_equal((char *)b.data, want);
    kumo_buf_free(&b);
}

static void test_sigv4_canonical_uri_s3_verbatim_generic_normalised(void **state)
{
    (void)state;
    expect_uri("", KUMO_SIGV4_S3, "/");
    expect_uri("/a//b/./c/../d%20e", KUMO_SIGV4_S3, "/a//b/./c/../d%20e");
    expect_uri("", KUMO_SIGV4_GENERIC, "/");
    expect_uri("/", KUMO_SIGV4_GENERIC, "/");
    expect_uri("//", KUMO_SIGV4_GENERIC, "/");
    expect_uri("/./", KUMO_SIGV4_GENERIC, "/");
    expect_uri("/../..", KUMO_SIGV4_GENERIC, "/");
    expect_uri("/a/./b/../c//d/", KUMO_SIGV4_GENERIC, "/a/c/d/");
    expect_uri("/example%20space/", KUMO_SIGV4_GENERIC, "/example%2520space/");
    expect_uri("/a/b/..", KUMO_SIGV4_GENERIC, "/a");
}

/* ---- botocore vectors ---- */

static json_t *load_vectors(void)
{
    json_error_t err;
    json_t *root = json_load_file(vectors_path, 0, &err);
    if (root == NULL)
        fail_msg("%s: %s", vectors_path, err.text);
    return root;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Pairs from a JSON [[k,v],...] array (strings borrowed from `a`). */
static size_t kv_array(json_t *a, struct kumo_sigv4_kv *out, size_t max)
{
    size_t n = json_array_size(a);
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(a, i);
        out[i] =
            KV(json_string_value(json_array_get(p, 0)), json_string_value(json_array_get(p, 1)));
    }
    return n;
}

static void vector_signing(json_t *v, struct kumo_aws_credentials *c, struct kumo_sigv4_signing *sg)
{
    c->access_key_id = (char *)"AKIDEXAMPLE";
    c->secret_access_key = (char *)SECRET;
    c->session_token = (char *)jstr(v, "token");
    c->expiration = 0;
    sg->creds = c;
    sg->region = jstr(v, "region");
    sg->service = jstr(v, "service");
    sg->flavor = strcmp(jstr(v, "flavor"), "s3") == 0 ? KUMO_SIGV4_S3 : KUMO_SIGV4_GENERIC;
    sg->now = (time_t)json_integer_value(json_object_get(v, "time"));
}

/* Sorted '&'-separated parts, for comparing parameter sets. */
static char *sorted_params(const char *target)
{
    const char *q = strchr(target, '?');
    char *copy = kumo_strdup(q ? q + 1 : "");
    char *parts[64];
    size_t n = 0;
    for (char *p = copy; p && *p && n < 64;) {
        parts[n++] = p;
        char *amp = strchr(p, '&');
        if (amp)
            *amp++ = '\0';
        p = amp;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(parts[j - 1], parts[j]) > 0; j--) {
            char *t = parts[j];
            parts[j] = parts[j - 1];
            parts[j - 1] = t;
        }
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append(&b, target, q ? (size_t)(q - target) : strlen(target));
    for (size_t i = 0; i < n; i++) {
        kumo_buf_append_byte(&b, i ? '&' : '?');
        kumo_buf_append_str(&b, parts[i]);
    }
    kumo_free(copy);
    return kumo_buf_steal(&b, NULL);
}

static void check_presign_vector(json_t *v)
{
    struct kumo_aws_credentials c;
    struct kumo_sigv4_signing sg;
    struct kumo_sigv4_kv q[16], h[16];
    vector_signing(v, &c, &sg);
    struct kumo_sigv4_request req = {jstr(v, "method"),
                                     jstr(v, "path"),
                                     0,
                                     q,
                                     kv_array(json_object_get(v, "query"), q, 16),
                                     h,
                                     kv_array(json_object_get(v, "headers"), h, 16),
                                     NULL};
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_sigv4_presign(
                         &sg, &req, (long)json_integer_value(json_object_get(v, "expires")), &out),
                     0);
    const char *want = jstr(v, "want");
    if (strcmp(jstr(v, "signer"), "python") == 0) {
        if (strcmp((char *)out.data, want) != 0)
            fail_msg("%s:\n got  %s\n want %s", jstr(v, "name"), (char *)out.data, want);
    } else {
        /* CRT orders X-Amz-SignedHeaders before X-Amz-Expires: same set,
         * same signature. */
        char *a = sorted_params((char *)out.data), *b = sorted_params(want);
        if (strcmp(a, b) != 0)
            fail_msg("%s (crt):\n got  %s\n want %s", jstr(v, "name"), a, b);
        kumo_free(a);
        kumo_free(b);
    }
    kumo_buf_free(&out);
}

static void check_header_vector(json_t *v)
{
    struct kumo_aws_credentials c;
    struct kumo_sigv4_signing sg;
    struct kumo_sigv4_kv q[16], h[16];
    vector_signing(v, &c, &sg);
    struct kumo_sigv4_request req = {jstr(v, "method"),
                                     jstr(v, "path"),
                                     0,
                                     q,
                                     kv_array(json_object_get(v, "query"), q, 16),
                                     h,
                                     kv_array(json_object_get(v, "headers"), h, 16),
                                     jstr(v, "payload_hash")};
    struct kumo_sigv4_header_auth auth;
    assert_int_equal(kumo_sigv4_sign_headers(&sg, &req, &auth), 0);
    if (strcmp(auth.authorization, jstr(v, "want_authorization")) != 0)
        fail_msg("%s (%s):\n got  %s\n want %s", jstr(v, "name"), jstr(v, "signer"),
                 auth.authorization, jstr(v, "want_authorization"));
    assert_string_equal(auth.amz_date, jstr(v, "want_amz_date"));
    if (sg.flavor == KUMO_SIGV4_S3)
        assert_string_equal(auth.content_sha256, jstr(v, "payload_hash"));
    else
        assert_null(auth.content_sha256);
    if (c.session_token)
        assert_ptr_equal(auth.security_token, c.session_token);
    kumo_sigv4_header_auth_free(&auth);
}

static void test_sigv4_botocore_vectors_byte_for_byte(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *vs = json_object_get(root, "vectors");
    size_t presign = 0, header = 0;
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *v = json_array_get(vs, i);
        const char *kind = jstr(v, "kind");
        if (strcmp(kind, "presign") == 0) {
            check_presign_vector(v);
            presign++;
        } else if (strcmp(kind, "header") == 0) {
            check_header_vector(v);
            header++;
        }
    }
    assert_true(presign >= 18); /* 9 cases x python and crt */
    assert_true(header >= 18);
    json_decref(root);
}

/* botocore's signed requests, as a server receives them, verify. */
static void test_sigv4_verify_accepts_botocore_requests(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *vs = json_object_get(root, "vectors");
    size_t checked = 0;
    keys[0].session_token = NULL;
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *v = json_array_get(vs, i);
        const char *kind = jstr(v, "kind");
        if (strcmp(kind, "rds") == 0)
            continue;
        json_t *r = json_object_get(v, "request");
        struct kumo_sigv4_kv h[16];
        size_t nh = kv_array(json_object_get(r, "headers"), h, 16);
        struct kumo_sigv4_verifier ver = {jstr(v, "region"), jstr(v, "service"),
                                          strcmp(jstr(v, "flavor"), "s3") == 0 ? KUMO_SIGV4_S3
                                                                               : KUMO_SIGV4_GENERIC,
                                          lookup, NULL};
        const char *path = jstr(r, "path"), *query = jstr(r, "query");
        struct kumo_sigv4_verify_request req = {jstr(v, "method"),
                                                strlen(jstr(v, "method")),
                                                path,
                                                strlen(path),
                                                query,
                                                strlen(query),
                                                h,
                                                nh,
                                                ver.flavor == KUMO_SIGV4_GENERIC &&
                                                        strcmp(kind, "header") == 0
                                                    ? jstr(v, "payload_hash")
                                                    : NULL};
        /* The vectors with a session token need a key that expects it. */
        keys[0].session_token = (char *)jstr(v, "token");
        struct kumo_sigv4_verify_result res;
        time_t t = (time_t)json_integer_value(json_object_get(v, "time"));
        enum kumo_sigv4_reason got = kumo_sigv4_verify(&ver, &req, t, &res);
        if (got != KUMO_SIGV4_OK)
            fail_msg("%s (%s): %s: %s\n%s", jstr(v, "name"), jstr(v, "signer"),
                     kumo_sigv4_reason_name(got), res.message,
                     res.canonical_request ? res.canonical_request : "");
        assert_int_equal(res.query_auth, strcmp(kind, "presign") == 0);
        assert_string_equal(res.access_key_id, "AKIDEXAMPLE");
        assert_non_null(res.scope);
        assert_int_equal(strlen(res.signature), 64);
        kumo_sigv4_verify_result_free(&res);
        checked++;
    }
    keys[0].session_token = NULL;
    assert_true(checked >= 36);
    json_decref(root);
}

/* The committed JSON is what botocore produces today. */
static void test_sigv4_vectors_fixture_is_fresh(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import botocore' >/dev/null 2>&1") != 0)
        skip();
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", script_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    struct kumo_buf live = KUMO_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        kumo_buf_append(&live, chunk, n);
    assert_int_equal(pclose(p), 0);
    FILE *f = fopen(vectors_path, "rb");
    assert_non_null(f);
    struct kumo_buf file = KUMO_BUF_INIT;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        kumo_buf_append(&file, chunk, n);
    fclose(f);
    assert_true(live.len > 1000);
    assert_int_equal(live.len, file.len);
    assert_memory_equal(live.data, file.data, live.len);
    kumo_buf_free(&live);
    kumo_buf_free(&file);
}

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

/* ---- generic flavor and signer input checks ---- */

static void test_sigv4_generic_presign_round_trip_with_long_token(void **state)
{
    (void)state;
    /* Session tokens run past 1 KB: nothing may truncate them. */
    char *token = kumo_malloc(1501);
    for (int i = 0; i < 1500; i++)
        token[i] = "AB+/="[i % 5];
    token[1500] = '\0';
    struct kumo_aws_credentials c = {(char *)"ASIALONG", (char *)"s3cr3t", token, 0};
    struct kumo_sigv4_kv h[] = {KV("host", "svc.example.com")};
    struct kumo_sigv4_signing sg = {&c, "us-east-1", "rds-db", KUMO_SIGV4_GENERIC, T0};
    struct kumo_sigv4_request req = {"GET", "/a/./b", 0, NULL, 0, h, 1, NULL};
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_sigv4_presign(&sg, &req, 900, &out), 0);
    assert_true(out.len > 2500);
    struct kumo_aws_credentials *saved = &keys[1];
    struct kumo_aws_credentials old = *saved;
    *saved = c;
    struct kumo_sigv4_verifier v = {"us-east-1", "rds-db", KUMO_SIGV4_GENERIC, lookup, NULL};
    struct kumo_sigv4_verify_result res;
    assert_int_equal(verify_full(&v, "GET", (char *)out.data, h, 1, T0, &res), KUMO_SIGV4_OK);
    assert_string_equal(res.payload_hash, KUMO_SIGV4_EMPTY_SHA256);
    kumo_sigv4_verify_result_free(&res);
    /* Under S3 rules the same URL does not verify (other URI and payload). */
    struct kumo_sigv4_verifier s3v = {"us-east-1", "rds-db", KUMO_SIGV4_S3, lookup, NULL};
    assert_int_equal(verify_full(&s3v, "GET", (char *)out.data, h, 1, T0, &res),
                     KUMO_SIGV4_SIGNATURE_MISMATCH);
    kumo_sigv4_verify_result_free(&res);
    *saved = old;
    kumo_buf_free(&out);
    kumo_free(token);
}

static void test_sigv4_signer_rejects_bad_input(void **state)
{
    (void)state;
    struct kumo_sigv4_kv host = KV("host", HOST);
    struct kumo_sigv4_signing sg = {&keys[0], "us-east-1", "s3", KUMO_SIGV4_S3, T0};
    struct kumo_sigv4_request req = {"GET", "/bkt/k", 0, NULL, 0, &host, 1, NULL};
    struct kumo_buf out = KUMO_BUF_INIT;
    struct kumo_sigv4_header_auth auth = {0};

    assert_int_equal(kumo_sigv4_presign(&sg, &req, 0, &out), KUMO_ERR_INVALID);
    assert_int_equal(kumo_sigv4_presign(&sg, &req, KUMO_SIGV4_MAX_EXPIRES + 1, &out),
                     KUMO_ERR_INVALID);
    struct kumo_sigv4_request r2 = req;
    r2.header_count = 0;
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_INVALID);
    r2 = req;
    r2.path = "bkt/k";
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_INVALID);
    r2 = req;
    r2.method = "GE T";
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_INVALID);

    struct kumo_sigv4_kv crlf[] = {host, KV("x-amz-meta-a", "a\r\nX-Evil: 1")};
    r2 = req;
    r2.headers = crlf;
    r2.header_count = 2;
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_INVALID);
    assert_int_equal(kumo_sigv4_sign_headers(&sg, &r2, &auth), KUMO_ERR_INVALID);
    struct kumo_sigv4_kv badname[] = {host, KV("bad name", "1")};
    r2.headers = badname;
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_INVALID);
    struct kumo_sigv4_kv reserved[] = {host, KV("X-Amz-Date", "20150830T123600Z")};
    r2.headers = reserved;
    assert_int_equal(kumo_sigv4_sign_headers(&sg, &r2, &auth), KUMO_ERR_INVALID);
    struct kumo_sigv4_kv sha[] = {host, KV("x-amz-content-sha256", "UNSIGNED-PAYLOAD")};
    r2.headers = sha;
    assert_int_equal(kumo_sigv4_sign_headers(&sg, &r2, &auth), KUMO_ERR_INVALID);
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), 0); /* allowed when presigning */
    kumo_buf_reset(&out);

    struct kumo_sigv4_kv authq = KV("X-Amz-Signature", "x");
    r2 = req;
    r2.query = &authq;
    r2.query_count = 1;
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_INVALID);

    struct kumo_sigv4_kv many[KUMO_SIGV4_MAX_HEADERS + 1];
    for (int i = 0; i <= KUMO_SIGV4_MAX_HEADERS; i++)
        many[i] = host;
    r2 = req;
    r2.headers = many;
    r2.header_count = KUMO_SIGV4_MAX_HEADERS + 1;
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_TOO_LARGE);

    /* Nothing is produced that the verifier would refuse as too large: a
     * path within the limit in plain text but not once encoded (6001 bytes
     * become 18001), a query over the limit once encoded. */
    char *spaces = kumo_malloc(6002);
    spaces[0] = '/';
    memset(spaces + 1, ' ', 6000);
    spaces[6001] = '\0';
    r2 = req;
    r2.path = spaces;
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_TOO_LARGE);
    assert_int_equal(kumo_sigv4_sign_headers(&sg, &r2, &auth), KUMO_ERR_TOO_LARGE);
    struct kumo_sigv4_kv longq = KV("v", spaces);
    r2 = req;
    r2.query = &longq;
    r2.query_count = 1;
    assert_int_equal(kumo_sigv4_presign(&sg, &r2, 60, &out), KUMO_ERR_TOO_LARGE);
    kumo_free(spaces);

    struct kumo_aws_credentials nosecret = {(char *)"AKID", (char *)"", NULL, 0};
    struct kumo_sigv4_signing sg2 = sg;
    sg2.creds = &nosecret;
    assert_int_equal(kumo_sigv4_presign(&sg2, &req, 60, &out), KUMO_ERR_INVALID);
    struct kumo_aws_credentials slash = {(char *)"AK/ID", (char *)"s", NULL, 0};
    sg2.creds = &slash;
    assert_int_equal(kumo_sigv4_presign(&sg2, &req, 60, &out), KUMO_ERR_INVALID);
    sg2 = sg;
    sg2.region = "";
    assert_int_equal(kumo_sigv4_sign_headers(&sg2, &req, &auth), KUMO_ERR_INVALID);
    assert_null(auth.authorization);
    assert_int_equal(out.len, 0);
    kumo_buf_free(&out);
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
    find_files();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_uri_encode_keeps_unreserved_only),
        cmocka_unit_test(test_sigv4_date_round_trip_and_rejects),
        cmocka_unit_test(test_sigv4_signing_key_matches_aws_documentation),
        cmocka_unit_test(test_sigv4_canonical_uri_s3_verbatim_generic_normalised),
        cmocka_unit_test(test_sigv4_botocore_vectors_byte_for_byte),
        cmocka_unit_test(test_sigv4_verify_accepts_botocore_requests),
        cmocka_unit_test(test_sigv4_vectors_fixture_is_fresh),
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
        cmocka_unit_test(test_sigv4_generic_presign_round_trip_with_long_token),
        cmocka_unit_test(test_sigv4_signer_rejects_bad_input),
        cmocka_unit_test(test_sigv4_reason_names_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
