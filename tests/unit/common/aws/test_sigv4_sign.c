/* Tests of common/aws/sigv4_canonical.c and sigv4_sign.c: building blocks,
 * byte-for-byte agreement with botocore (sigv4_vectors.json, made by
 * sigv4_vectors.py, both the pure-Python and the CRT signer), the verifier
 * accepting what botocore signs, the generic flavor, signer input checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "aws/sigv4.h"
#include "sigv4_fixture.h"

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
        cmocka_unit_test(test_sigv4_generic_presign_round_trip_with_long_token),
        cmocka_unit_test(test_sigv4_signer_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
