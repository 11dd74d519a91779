#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "wire/connect_get.h"
#include "base/errors.h"

static void parse_ok(const char *q, struct kumo_connect_get *g)
{
    const char *why = NULL;
    int rc = kumo_connect_get_parse(q, strlen(q), g, &why);
    if (rc != 0)
        fail_msg("parse(%s) = %d: %s", q, rc, why);
}

static void parse_err(const char *q, int want_code)
{
    struct kumo_connect_get g;
    const char *why = NULL;
    assert_int_equal(kumo_connect_get_parse(q, strlen(q), &g, &why), want_code);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
    assert_null(g.message.data); /* nothing left to free */
    kumo_connect_get_free(&g);   /* and freeing is harmless */
}

static void test_connect_get_json_raw_message(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    parse_ok("encoding=json&message=%7B%22sentence%22%3A+%22I+feel+happy.%22%7D", &g);
    assert_string_equal(g.encoding, "json");
    assert_string_equal(g.compression, "");
    assert_int_equal(g.has_connect_v1, 0);
    assert_int_equal(g.message.len, 29);
    assert_string_equal((char *)g.message.data, "{\"sentence\": \"I feel happy.\"}");
    kumo_connect_get_free(&g);
    assert_null(g.message.data);
}

static void test_connect_get_proto_base64(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    /* What connect-go sends: 0x0a 0x03 "abc" 0xfb 0xff, base64url unpadded. */
    const uint8_t msg[] = {0x0a, 0x03, 'a', 'b', 'c', 0xfb, 0xff};
    struct kumo_buf b64 = KUMO_BUF_INIT;
    kumo_buf_append_str(&b64, "connect=v1&encoding=proto&base64=1&message=");
    kumo_base64_encode(msg, sizeof msg, 1, 0, &b64);
    parse_ok((char *)b64.data, &g);
    assert_string_equal(g.encoding, "proto");
    assert_int_equal(g.has_connect_v1, 1);
    assert_int_equal(g.message.len, sizeof msg);
    assert_memory_equal(g.message.data, msg, sizeof msg);
    kumo_connect_get_free(&g);

    /* Padded, with the '=' percent-encoded, in another parameter order. */
    parse_ok("message=CgNhYmP7_w%3D%3D&base64=1&encoding=proto", &g);
    assert_int_equal(g.message.len, sizeof msg);
    assert_memory_equal(g.message.data, msg, sizeof msg);
    kumo_connect_get_free(&g);

    /* Standard alphabet, '+' percent-encoded so it is not a space. */
    parse_ok("message=CgNhYmP7%2Fw&base64=1&encoding=proto", &g);
    assert_memory_equal(g.message.data, msg, sizeof msg);
    kumo_connect_get_free(&g);
    kumo_buf_free(&b64);
}

static void test_connect_get_base64_other_values_mean_raw(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    parse_ok("encoding=json&base64=0&message=e30", &g);
    assert_string_equal((char *)g.message.data, "e30");
    kumo_connect_get_free(&g);
    parse_ok("encoding=json&base64=true&message=e30", &g);
    assert_string_equal((char *)g.message.data, "e30");
    kumo_connect_get_free(&g);
    parse_ok("encoding=json&base64=1&message=e30", &g);
    assert_string_equal((char *)g.message.data, "{}");
    kumo_connect_get_free(&g);
}

static void test_connect_get_compression(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    parse_ok("encoding=proto&compression=gzip&base64=1&message=H4sIAAAAAAAA_wMAAAAAAAAAAAA", &g);
    assert_string_equal(g.compression, "gzip");
    assert_int_equal(g.message.len, 20); /* still compressed */
    assert_int_equal(g.message.data[0], 0x1f);
    kumo_connect_get_free(&g);
    parse_ok("encoding=proto&compression=identity&message=", &g);
    assert_string_equal(g.compression, "identity");
    kumo_connect_get_free(&g);
    parse_ok("encoding=proto&compression=fifteen-chars-x&message=", &g);
    assert_string_equal(g.compression, "fifteen-chars-x");
    kumo_connect_get_free(&g);
    parse_err("encoding=proto&compression=sixteen-chars-xx&message=", KUMO_CODE_UNIMPLEMENTED);
    parse_err("encoding=proto&compression=%zz&message=", KUMO_CODE_INVALID_ARGUMENT);
}

static void test_connect_get_empty_message(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    parse_ok("encoding=proto&message=", &g);
    assert_int_equal(g.message.len, 0);
    assert_non_null(g.message.data);
    kumo_connect_get_free(&g);
    parse_ok("encoding=proto&message", &g); /* no '=' at all */
    assert_int_equal(g.message.len, 0);
    assert_non_null(g.message.data);
    kumo_connect_get_free(&g);
    parse_ok("encoding=proto&base64=1&message=", &g);
    assert_int_equal(g.message.len, 0);
    kumo_connect_get_free(&g);
}

static void test_connect_get_unknown_and_empty_params_ignored(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    parse_ok("&&x=1&encoding=json&x=2&=&messages=no&Message=no&%zz=%zz&message=ok&", &g);
    assert_string_equal((char *)g.message.data, "ok");
    kumo_connect_get_free(&g);
}

static void test_connect_get_encoded_keys(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    parse_ok("%65ncoding=json&%6D%65%73%73%61%67%65=hi", &g);
    assert_string_equal(g.encoding, "json");
    assert_string_equal((char *)g.message.data, "hi");
    kumo_connect_get_free(&g);
    /* A name spelled two ways is still the same parameter. */
    parse_err("encoding=json&message=a&%6Dessage=b", KUMO_CODE_INVALID_ARGUMENT);
}

static void test_connect_get_missing_params(void **state)
{
    (void)state;
    parse_err("", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("message=e30", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=json", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=json&messag=e30", KUMO_CODE_INVALID_ARGUMENT);
}

static void test_connect_get_unsupported_encoding(void **state)
{
    (void)state;
    parse_err("encoding=xml&message=x", KUMO_CODE_UNIMPLEMENTED);
    parse_err("encoding=JSON&message=x", KUMO_CODE_UNIMPLEMENTED);
    parse_err("encoding=&message=x", KUMO_CODE_UNIMPLEMENTED);
    parse_err("encoding=proto-but-much-longer-than-sixteen&message=x", KUMO_CODE_UNIMPLEMENTED);
    parse_err("encoding=json%00&message=x", KUMO_CODE_UNIMPLEMENTED);
    parse_err("encoding=%zz&message=x", KUMO_CODE_INVALID_ARGUMENT);
    struct kumo_connect_get g;
    parse_ok("encoding=%70roto&message=x", &g); /* percent-encoded value */
    assert_string_equal(g.encoding, "proto");
    kumo_connect_get_free(&g);
}

static void test_connect_get_connect_version(void **state)
{
    (void)state;
    struct kumo_connect_get g;
    parse_ok("connect=v1&encoding=json&message=1", &g);
    assert_int_equal(g.has_connect_v1, 1);
    kumo_connect_get_free(&g);
    parse_err("connect=v2&encoding=json&message=1", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("connect=&encoding=json&message=1", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("connect=v1x&encoding=json&message=1", KUMO_CODE_INVALID_ARGUMENT);
}

static void test_connect_get_repeated_params(void **state)
{
    (void)state;
    parse_err("encoding=json&message=1&message=2", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=json&encoding=json&message=1", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=json&base64=1&base64=1&message=1", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=json&compression=gzip&compression=gzip&message=1",
              KUMO_CODE_INVALID_ARGUMENT);
    parse_err("connect=v1&connect=v1&encoding=json&message=1", KUMO_CODE_INVALID_ARGUMENT);
}

static void test_connect_get_malformed_message(void **state)
{
    (void)state;
    parse_err("encoding=json&message=%7", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=json&message=100%", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=proto&base64=1&message=e", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=proto&base64=1&message=e30==", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=proto&base64=1&message=e3+0", KUMO_CODE_INVALID_ARGUMENT);
    parse_err("encoding=proto&base64=1&message=e3!0", KUMO_CODE_INVALID_ARGUMENT);
}

static void test_connect_get_large_message_linear(void **state)
{
    (void)state;
    const size_t n = 3 << 20;
    uint8_t *msg = kumo_malloc(n);
    for (size_t i = 0; i < n; i++)
        msg[i] = (uint8_t)(i * 31);
    struct kumo_buf q = KUMO_BUF_INIT;
    kumo_buf_append_str(&q, "encoding=proto&base64=1&message=");
    kumo_base64_encode(msg, n, 1, 0, &q);
    kumo_buf_append_str(&q, "&zz=1");
    struct kumo_connect_get g;
    parse_ok((char *)q.data, &g);
    assert_int_equal(g.message.len, n);
    assert_memory_equal(g.message.data, msg, n);
    /* Memory is bounded by the input. */
    assert_true(g.message.cap <= 2 * q.len);
    kumo_connect_get_free(&g);
    kumo_buf_free(&q);
    kumo_free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_get_json_raw_message),
        cmocka_unit_test(test_connect_get_proto_base64),
        cmocka_unit_test(test_connect_get_base64_other_values_mean_raw),
        cmocka_unit_test(test_connect_get_compression),
        cmocka_unit_test(test_connect_get_empty_message),
        cmocka_unit_test(test_connect_get_unknown_and_empty_params_ignored),
        cmocka_unit_test(test_connect_get_encoded_keys),
        cmocka_unit_test(test_connect_get_missing_params),
        cmocka_unit_test(test_connect_get_unsupported_encoding),
        cmocka_unit_test(test_connect_get_connect_version),
        cmocka_unit_test(test_connect_get_repeated_params),
        cmocka_unit_test(test_connect_get_malformed_message),
        cmocka_unit_test(test_connect_get_large_message_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
