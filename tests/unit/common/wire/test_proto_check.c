#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "google/protobuf/struct.pb-c.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "wire/proto_check.h"

static const ProtobufCMessageDescriptor *req_desc = &kumo__test__v1__echo_request__descriptor;
static const ProtobufCMessageDescriptor *resp_desc = &kumo__test__v1__echo_response__descriptor;

static size_t varint(uint8_t *out, uint64_t v)
{
    size_t o = 0;
    do {
        out[o++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return o;
}

/* Writes a length-delimited field. */
static size_t ld(uint8_t *out, unsigned num, const void *data, size_t len)
{
    size_t o = varint(out, (uint64_t)num << 3 | 2);
    o += varint(out + o, len);
    memmove(out + o, data, len);
    return o + len;
}

static void test_proto_check_accepts_valid_messages(void **state)
{
    (void)state;
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    char *hdrs[] = {"x-a", "caf\xc3\xa9"};
    uint8_t payload[] = {0, 0xff, 0xc0, 0xaf}; /* bytes fields may hold anything */
    req.message = "h\xc3\xa9llo \xf0\x9f\x98\x80";
    req.payload.data = payload;
    req.payload.len = sizeof payload;
    req.n_echo_headers = 2;
    req.echo_headers = hdrs;
    uint8_t buf[256];
    size_t n = kumo__test__v1__echo_request__pack(&req, buf);
    struct kumo_proto_check_error err = {0};
    assert_int_equal(kumo_proto_check_strings(req_desc, buf, n, &err), 0);
    assert_int_equal(kumo_proto_check_strings(req_desc, buf, 0, &err), 0);
    assert_int_equal(kumo_proto_check_strings(req_desc, NULL, 0, NULL), 0);
}

static void test_proto_check_rejects_nul_and_bad_utf8(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct kumo_proto_check_error err = {0};
    size_t n = ld(buf, 1, "ab\0cd", 5);
    assert_int_equal(kumo_proto_check_strings(req_desc, buf, n, &err), KUMO_ERR_INVALID);
    assert_string_equal(err.field, "message");
    assert_string_equal(err.reason, "contains a NUL byte");
    n = ld(buf, 1, "\xed\xa0\x80", 3);
    assert_int_equal(kumo_proto_check_strings(req_desc, buf, n, &err), KUMO_ERR_INVALID);
    assert_string_equal(err.reason, "is not valid UTF-8");
    /* A repeated string, after a valid first element. */
    n = ld(buf, 3, "ok", 2);
    n += ld(buf + n, 3, "\xc0\xaf", 2);
    assert_int_equal(kumo_proto_check_strings(req_desc, buf, n, &err), KUMO_ERR_INVALID);
    assert_string_equal(err.field, "echo_headers");
    /* The same bytes in a bytes field are fine. */
    n = ld(buf, 2, "\xc0\xaf\0", 3);
    assert_int_equal(kumo_proto_check_strings(req_desc, buf, n, &err), 0);
}

static void test_proto_check_walks_nested_maps(void **state)
{
    (void)state;
    /* EchoResponse.headers is map<string,string>: entries are messages
     * with key = 1 and value = 2. */
    uint8_t entry[32], buf[64];
    size_t e = ld(entry, 1, "k", 1);
    e += ld(entry + e, 2, "v\xff", 2);
    size_t n = ld(buf, 3, entry, e);
    struct kumo_proto_check_error err = {0};
    assert_int_equal(kumo_proto_check_strings(resp_desc, buf, n, &err), KUMO_ERR_INVALID);
    assert_string_equal(err.field, "value");
    e = ld(entry, 1, "k", 1);
    e += ld(entry + e, 2, "v", 1);
    n = ld(buf, 3, entry, e);
    assert_int_equal(kumo_proto_check_strings(resp_desc, buf, n, &err), 0);
}

static void test_proto_check_skips_unknown_and_scalar_fields(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = varint(buf, 4 << 3 | 0); /* deadline_ms, a varint */
    n += varint(buf + n, 150);
    n += varint(buf + n, 99 << 3 | 1); /* unknown fixed64 */
    memset(buf + n, 0xff, 8);
    n += 8;
    n += ld(buf + n, 98, "\xff\0", 2); /* unknown length-delimited: not ours to judge */
    n += varint(buf + n, 97 << 3 | 5); /* unknown fixed32 */
    memset(buf + n, 0, 4);
    n += 4;
    assert_int_equal(kumo_proto_check_strings(resp_desc, buf, n, NULL), 0);
    n += ld(buf + n, 1, "\xff", 1); /* then a known string field */
    assert_int_equal(kumo_proto_check_strings(resp_desc, buf, n, NULL), KUMO_ERR_INVALID);
}

static void test_proto_check_rejects_malformed_wire(void **state)
{
    (void)state;
    struct kumo_proto_check_error err = {0};
    const uint8_t truncated_len[] = {1 << 3 | 2, 5, 'a'};
    assert_int_equal(kumo_proto_check_strings(req_desc, truncated_len, sizeof truncated_len, &err),
                     KUMO_ERR_INVALID);
    const uint8_t truncated_varint[] = {4 << 3, 0x80};
    assert_int_equal(
        kumo_proto_check_strings(resp_desc, truncated_varint, sizeof truncated_varint, &err),
        KUMO_ERR_INVALID);
    const uint8_t group[] = {5 << 3 | 3};
    assert_int_equal(kumo_proto_check_strings(req_desc, group, sizeof group, &err),
                     KUMO_ERR_INVALID);
    const uint8_t huge_len[] = {1 << 3 | 2, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(kumo_proto_check_strings(req_desc, huge_len, sizeof huge_len, &err),
                     KUMO_ERR_INVALID);
    const uint8_t long_varint[] = {4 << 3, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff,   0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(kumo_proto_check_strings(resp_desc, long_varint, sizeof long_varint, &err),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_proto_check_strings(NULL, truncated_len, 1, &err), KUMO_ERR_INVALID);
}

/* google.protobuf.Value nested `depth` times through list_value (6) ->
 * ListValue.values (1), with string_value (3) = leaf at the bottom. */
static size_t nested_value(uint8_t *out, size_t cap, int depth, const char *leaf, size_t leaf_len)
{
    uint8_t *tmp = malloc(cap);
    size_t n = ld(out, 3, leaf, leaf_len);
    for (int i = 0; i < depth; i++) {
        size_t m = ld(tmp, 1, out, n); /* ListValue { values = [inner] } */
        n = ld(out, 6, tmp, m);        /* Value { list_value = ... } */
        assert_true(n < cap / 2);
    }
    free(tmp);
    return n;
}

static void test_proto_check_bounds_depth(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *value = &google__protobuf__value__descriptor;
    size_t cap = 4096;
    uint8_t *buf = malloc(cap);
    struct kumo_proto_check_error err = {0};
    size_t n = nested_value(buf, cap, 10, "ok", 2);
    assert_int_equal(kumo_proto_check_strings(value, buf, n, &err), 0);
    n = nested_value(buf, cap, 10, "a\0", 2);
    assert_int_equal(kumo_proto_check_strings(value, buf, n, &err), KUMO_ERR_INVALID);
    assert_string_equal(err.field, "string_value");
    n = nested_value(buf, cap, KUMO_PROTO_CHECK_MAX_DEPTH, "ok", 2);
    assert_int_equal(kumo_proto_check_strings(value, buf, n, &err), KUMO_ERR_INVALID);
    assert_string_equal(err.reason, "is nested too deeply");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_check_accepts_valid_messages),
        cmocka_unit_test(test_proto_check_rejects_nul_and_bad_utf8),
        cmocka_unit_test(test_proto_check_walks_nested_maps),
        cmocka_unit_test(test_proto_check_skips_unknown_and_scalar_fields),
        cmocka_unit_test(test_proto_check_rejects_malformed_wire),
        cmocka_unit_test(test_proto_check_bounds_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
