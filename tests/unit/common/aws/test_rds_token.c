/* Tests of common/rds_token: the issue's vector byte for byte, agreement with
 * botocore's generate_db_auth_token (tests/unit/common/aws/sigv4_vectors.json),
 * and the server-side check an Aurora emulation uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "aws/rds_token.h"

#define T0     1440938160 /* 2015-08-30T12:36:00Z */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define HOST   "mydb.cluster-abc.us-east-1.rds.amazonaws.com"

static const char issue_vector[] =
    "mydb.cluster-abc.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=jane_doe"
    "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2F"
    "rds-db%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=900"
    "&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=2fbe7f87e7c633f370fb34566984649259f3b707816121b6d9d46796c2215170";

static struct kumo_aws_credentials plain = {(char *)"AKIDEXAMPLE", (char *)SECRET, NULL, 0};
static struct kumo_aws_credentials temp = {(char *)"ASIATEMP", (char *)"temp/secret",
                                           (char *)"IQoJ+token/==", 0};

static const struct kumo_aws_credentials *lookup(void *ctx, const char *akid)
{
    (void)ctx;
    if (strcmp(akid, plain.access_key_id) == 0)
        return &plain;
    if (strcmp(akid, temp.access_key_id) == 0)
        return &temp;
    return NULL;
}

static void test_rds_token_issue_vector_byte_for_byte(void **state)
{
    (void)state;
    char *tok = NULL;
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", HOST, 3306, "jane_doe", T0, &tok), 0);
    assert_string_equal(tok, issue_vector);
    kumo_free(tok);
}

/* Sorted '&'-separated parameters after the "/?". */
static char *sorted_params(const char *tok)
{
    const char *q = strstr(tok, "/?");
    char *copy = kumo_strdup(q + 2);
    char *parts[32];
    size_t n = 0;
    for (char *p = copy; p && *p && n < 32;) {
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
    kumo_buf_append(&b, tok, (size_t)(q - tok));
    for (size_t i = 0; i < n; i++) {
        kumo_buf_append_byte(&b, i ? '&' : '?');
        kumo_buf_append_str(&b, parts[i]);
    }
    kumo_free(copy);
    return kumo_buf_steal(&b, NULL);
}

static void test_rds_token_matches_botocore(void **state)
{
    (void)state;
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    char path[4096];
    snprintf(path, sizeof path, "%.*s/sigv4_vectors.json", slash ? (int)(slash - src) : 1,
             slash ? src : ".");
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    assert_non_null(root);
    json_t *vs = json_object_get(root, "vectors");
    size_t python = 0, crt = 0;
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *v = json_array_get(vs, i);
        if (strcmp(json_string_value(json_object_get(v, "kind")), "rds") != 0)
            continue;
        json_t *tokv = json_object_get(v, "token");
        struct kumo_aws_credentials c = {
            (char *)"AKIDEXAMPLE", (char *)SECRET,
            json_is_string(tokv) ? (char *)json_string_value(tokv) : NULL, 0};
        char *tok = NULL;
        assert_int_equal(kumo_rds_token_make(&c, json_string_value(json_object_get(v, "region")),
                                             json_string_value(json_object_get(v, "host")),
                                             (int)json_integer_value(json_object_get(v, "port")),
                                             json_string_value(json_object_get(v, "user")),
                                             (time_t)json_integer_value(json_object_get(v, "time")),
                                             &tok),
                         0);
        const char *want = json_string_value(json_object_get(v, "want"));
        if (strcmp(json_string_value(json_object_get(v, "signer")), "python") == 0) {
            if (strcmp(tok, want) != 0)
                fail_msg("%s:\n got  %s\n want %s", json_string_value(json_object_get(v, "name")),
                         tok, want);
            python++;
        } else {
            /* The CRT signer orders X-Amz-SignedHeaders before X-Amz-Expires. */
            char *a = sorted_params(tok), *b = sorted_params(want);
            assert_string_equal(a, b);
            kumo_free(a);
            kumo_free(b);
            crt++;
        }
        kumo_free(tok);
    }
    assert_true(python >= 4 && crt >= 4);
    json_decref(root);
}

static struct kumo_rds_token_check check_for(const char *host_port, const char *user)
{
    struct kumo_rds_token_check c = {"us-east-1", host_port, user, lookup, NULL};
    return c;
}

static int verify(const struct kumo_rds_token_check *chk, const char *tok, time_t now,
                  enum kumo_sigv4_reason *reason)
{
    struct kumo_sigv4_verify_result res;
    int rc = kumo_rds_token_verify(chk, tok, strlen(tok), now, &res);
    if (reason)
        *reason = res.reason;
    if (rc != 0)
        assert_non_null(res.message);
    kumo_sigv4_verify_result_free(&res);
    return rc;
}

static void test_rds_token_verify_round_trip(void **state)
{
    (void)state;
    struct kumo_rds_token_check chk = check_for(HOST ":3306", "jane_doe");
    assert_int_equal(verify(&chk, issue_vector, T0, NULL), 0);
    assert_int_equal(verify(&chk, issue_vector, T0 + 900, NULL), 0);
    struct kumo_rds_token_check any = check_for(NULL, NULL);
    assert_int_equal(verify(&any, issue_vector, T0, NULL), 0);

    char *tok = NULL;
    assert_int_equal(
        kumo_rds_token_make(&temp, "us-east-1", "10.1.2.3", 3306, "app user+ü", T0, &tok), 0);
    assert_non_null(strstr(tok, "&X-Amz-Security-Token=IQoJ%2Btoken%2F%3D%3D&"));
    struct kumo_rds_token_check chk2 = check_for("10.1.2.3:3306", "app user+\xc3\xbc");
    assert_int_equal(verify(&chk2, tok, T0 + 1, NULL), 0);
    kumo_free(tok);
}

/* Replaces the first `from` in the issue vector by `to`. */
static char *tampered(const char *from, const char *to)
{
    const char *p = strstr(issue_vector, from);
    assert_non_null(p);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append(&b, issue_vector, (size_t)(p - issue_vector));
    kumo_buf_append_str(&b, to);
    kumo_buf_append_str(&b, p + strlen(from));
    return kumo_buf_steal(&b, NULL);
}

static void expect_tampered(const char *from, const char *to, int want_rc,
                            enum kumo_sigv4_reason want_reason)
{
    struct kumo_rds_token_check chk = check_for(NULL, NULL);
    char *t = tampered(from, to);
    enum kumo_sigv4_reason r;
    int rc = verify(&chk, t, T0, &r);
    if (rc != want_rc || (rc == -EACCES && r != want_reason))
        fail_msg("%s -> %s: rc %d (%s)", from, to, rc, kumo_sigv4_reason_name(r));
    kumo_free(t);
}

static void test_rds_token_verify_rejects(void **state)
{
    (void)state;
    struct kumo_rds_token_check other_user = check_for(HOST ":3306", "root");
    assert_int_equal(verify(&other_user, issue_vector, T0, NULL), KUMO_ERR_INVALID);
    struct kumo_rds_token_check other_host = check_for(HOST ":3307", "jane_doe");
    assert_int_equal(verify(&other_host, issue_vector, T0, NULL), KUMO_ERR_INVALID);
    struct kumo_rds_token_check eu = {"eu-west-1", NULL, NULL, lookup, NULL};
    enum kumo_sigv4_reason r;
    assert_int_equal(verify(&eu, issue_vector, T0, &r), -EACCES);
    assert_int_equal(r, KUMO_SIGV4_WRONG_REGION);
    struct kumo_rds_token_check any = check_for(NULL, NULL);
    assert_int_equal(verify(&any, issue_vector, T0 + 901, &r), -EACCES);
    assert_int_equal(r, KUMO_SIGV4_EXPIRED);

    expect_tampered("DBUser=jane_doe", "DBUser=root", -EACCES, KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_tampered("Action=connect", "Action=connecT", -EACCES, KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_tampered(":3306/", ":3307/", -EACCES, KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_tampered("X-Amz-Expires=900", "X-Amz-Expires=9000", -EACCES,
                    KUMO_SIGV4_SIGNATURE_MISMATCH);
    expect_tampered("rds-db", "rds", -EACCES, KUMO_SIGV4_WRONG_SERVICE);
    expect_tampered("AKIDEXAMPLE", "AKIDOTHER", -EACCES, KUMO_SIGV4_UNKNOWN_ACCESS_KEY);
    expect_tampered("&X-Amz-Algorithm", "&X-Amz-Security-Token=x&X-Amz-Algorithm", -EACCES,
                    KUMO_SIGV4_BAD_SECURITY_TOKEN);
    expect_tampered("/?", "?", KUMO_ERR_INVALID, KUMO_SIGV4_OK);
    expect_tampered(HOST ":3306/?", "/?", KUMO_ERR_INVALID, KUMO_SIGV4_OK);

    /* A token signed for a temporary key needs its session token. */
    char *tok = NULL;
    assert_int_equal(kumo_rds_token_make(&temp, "us-east-1", HOST, 3306, "u", T0, &tok), 0);
    char *cut = strstr(tok, "&X-Amz-Security-Token=");
    char *amp = strchr(cut + 1, '&');
    memmove(cut, amp, strlen(amp) + 1);
    assert_int_equal(verify(&any, tok, T0, &r), -EACCES);
    assert_int_equal(r, KUMO_SIGV4_BAD_SECURITY_TOKEN);
    kumo_free(tok);

    /* Signed, but for another action: refused after the signature holds. */
    struct kumo_sigv4_kv q[] = {kumo_sigv4_kv_str("Action", "describe"),
                                kumo_sigv4_kv_str("DBUser", "u")};
    struct kumo_sigv4_kv h[] = {kumo_sigv4_kv_str("host", HOST ":3306")};
    struct kumo_sigv4_signing sg = {&plain, "us-east-1", "rds-db", KUMO_SIGV4_GENERIC, T0};
    struct kumo_sigv4_request req = {"GET", "/", 0, q, 2, h, 1, NULL};
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, HOST ":3306");
    assert_int_equal(kumo_sigv4_presign(&sg, &req, 900, &b), 0);
    assert_int_equal(verify(&any, (char *)b.data, T0, NULL), KUMO_ERR_INVALID);
    kumo_buf_free(&b);
}

static void test_rds_token_make_rejects_bad_input(void **state)
{
    (void)state;
    char *tok = (char *)"untouched";
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", "", 3306, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", NULL, 3306, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", "a/b", 3306, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", "a b", 3306, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", "u@h", 3306, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", HOST, 0, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", HOST, 65536, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", HOST, 3306, "", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "us-east-1", HOST, 3306, NULL, T0, &tok),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(&plain, "", HOST, 3306, "u", T0, &tok), KUMO_ERR_INVALID);
    assert_int_equal(kumo_rds_token_make(NULL, "us-east-1", HOST, 3306, "u", T0, &tok),
                     KUMO_ERR_INVALID);
    assert_string_equal(tok, "untouched");
}

static void test_rds_token_long_session_token(void **state)
{
    (void)state;
    /* Real STS session tokens run to ~1 KB, making ~1.4 KB tokens. */
    char *st = kumo_malloc(1025);
    for (int i = 0; i < 1024; i++)
        st[i] = "IQoJb3+/="[i % 9];
    st[1024] = '\0';
    struct kumo_aws_credentials c = {(char *)"ASIATEMP", (char *)"temp/secret", st, 0};
    char *tok = NULL;
    assert_int_equal(kumo_rds_token_make(&c, "us-east-1", HOST, 3306, "jane_doe", T0, &tok), 0);
    assert_true(strlen(tok) > 1400);
    char *saved = temp.session_token;
    temp.session_token = st;
    struct kumo_rds_token_check chk = check_for(HOST ":3306", "jane_doe");
    assert_int_equal(verify(&chk, tok, T0, NULL), 0);
    temp.session_token = saved;
    kumo_free(tok);
    kumo_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rds_token_issue_vector_byte_for_byte),
        cmocka_unit_test(test_rds_token_matches_botocore),
        cmocka_unit_test(test_rds_token_verify_round_trip),
        cmocka_unit_test(test_rds_token_verify_rejects),
        cmocka_unit_test(test_rds_token_make_rejects_bad_input),
        cmocka_unit_test(test_rds_token_long_session_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
