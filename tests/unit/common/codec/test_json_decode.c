/* Tests of common/codec/json_decode.c (and json_scalars.c): both field names,
 * null, numbers, bools, strings, bytes, enums, Timestamps, Durations, maps,
 * repeated fields, oneofs, unknown fields, bad documents, the depth limit,
 * well-known types; decoding into an arena and freeing partial messages. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/errors.h"
#include "codec/json_codec.h"

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "kumo/test/v1/types.pb-c.h"

#include "json_fixture.h"

/* Decoding fails with `want_rc` and an error message containing `want`
 * (exactly `want` when `exact`), leaving nothing allocated. */
static void check_decode_error(const ProtobufCMessageDescriptor *desc, const char *json,
                               int want_rc, const char *want, int exact)
{
    ProtobufCMessage *m = (ProtobufCMessage *)(uintptr_t)1; /* must stay untouched */
    char *err = NULL;
    int rc = kumo_json_decode(desc, json, strlen(json), &counting, &m, &err);
    if (rc != want_rc)
        fail_msg("decoding %s: got %d (%s), want %d", json, rc, err ? err : "", want_rc);
    assert_ptr_equal(m, (ProtobufCMessage *)(uintptr_t)1);
    assert_non_null(err);
    if (exact ? strcmp(err, want) != 0 : strstr(err, want) == NULL)
        fail_msg("decoding %s: error \"%s\", want \"%s\"", json, err, want);
    kumo_free(err);
    assert_int_equal(live_allocs, 0);
}

static void assert_decode_error(const char *json, const char *want)
{
    check_decode_error(ALL, json, KUMO_ERR_INVALID, want, 1);
}

static void assert_decode_fails(const char *json, const char *want_part)
{
    check_decode_error(ALL, json, KUMO_ERR_INVALID, want_part, 0);
}

/* Decodes `json` as AllTypes and checks the re-encoding. */
static void assert_reencodes(const char *json, const char *want)
{
    ProtobufCMessage *m = decode_ok(ALL, json);
    assert_encodes(m, want);
    release(m);
}

static void test_json_codec_decode_accepts_both_names(void **state)
{
    (void)state;
    ProtobufCMessage *a = decode_ok(
        ALL, "{\"int32_value\":1,\"repeated_int64\":[\"2\"],\"map_string_string\":{\"a\":\"b\"},"
             "\"choice_string\":\"c\",\"optional_int32\":0}");
    ProtobufCMessage *b = decode_ok(
        ALL, "{\"int32Value\":1,\"repeatedInt64\":[\"2\"],\"mapStringString\":{\"a\":\"b\"},"
             "\"choiceString\":\"c\",\"optionalInt32\":0}");
    assert_same_binary(a, b);
    assert_encodes(a, "{\"int32Value\":1,\"repeatedInt64\":[\"2\"],\"mapStringString\":{\"a\":"
                      "\"b\"},\"choiceString\":\"c\",\"optionalInt32\":0}");
    protobuf_c_message_free_unpacked(a, &counting);
    release(b);
}

static void test_json_codec_decode_null_means_default(void **state)
{
    (void)state;
    assert_reencodes("{\"int32Value\":null,\"stringValue\":null,\"inner\":null,"
                     "\"repeatedInt32\":null,\"mapStringString\":null,\"choiceString\":null,"
                     "\"choiceInt64\":\"5\",\"timestamp\":null,\"wrappedInt32\":null,"
                     "\"optionalBool\":null}",
                     "{\"choiceInt64\":\"5\"}");
}

static void test_json_codec_decode_numbers(void **state)
{
    (void)state;
    assert_reencodes("{\"int32Value\":\"-12\",\"uint32Value\":1e3,\"int64Value\":\"1.5e1\","
                     "\"uint64Value\":\"1e19\",\"sint32Value\":1.0,\"fixed32Value\":\"0\","
                     "\"sfixed64Value\":-0,\"fixed64Value\":\"-0\"}",
                     "{\"int32Value\":-12,\"int64Value\":\"15\",\"uint32Value\":1000,"
                     "\"uint64Value\":\"10000000000000000000\",\"sint32Value\":1}");
    /* 64-bit values are exact, not rounded through double. */
    assert_reencodes("{\"int64Value\":\"9007199254740993\",\"uint64Value\":"
                     "\"18446744073709551615\",\"sint64Value\":\"-9223372036854775808\","
                     "\"fixed64Value\":9007199254740993}",
                     "{\"int64Value\":\"9007199254740993\",\"uint64Value\":"
                     "\"18446744073709551615\",\"sint64Value\":\"-9223372036854775808\","
                     "\"fixed64Value\":\"9007199254740993\"}");
    assert_reencodes("{\"int32Value\":2147483647,\"sfixed32Value\":-2147483648,"
                     "\"uint32Value\":\"4294967295\"}",
                     "{\"int32Value\":2147483647,\"uint32Value\":4294967295,"
                     "\"sfixed32Value\":-2147483648}");
    assert_reencodes("{\"floatValue\":\"NaN\",\"doubleValue\":\"-Infinity\","
                     "\"repeatedFloat\":[\"Infinity\",3.4028235e38,\"1.5\",-2],"
                     "\"repeatedDouble\":[\"1e-5\",1E2,-0.0]}",
                     "{\"floatValue\":\"NaN\",\"doubleValue\":\"-Infinity\","
                     "\"repeatedDouble\":[1e-05,100,-0.0],"
                     "\"repeatedFloat\":[\"Infinity\",3.4028235e+38,1.5,-2]}");
}

static void test_json_codec_decode_rejects_bad_numbers(void **state)
{
    (void)state;
    assert_decode_error("{\"int32Value\":1.5}",
                        "field \"int32Value\": int32 must be a whole number");
    assert_decode_error("{\"int32Value\":\"1.5\"}",
                        "field \"int32Value\": int32 must be a whole number");
    assert_decode_error("{\"int32Value\":2147483648}",
                        "field \"int32Value\": value out of range for int32");
    assert_decode_error("{\"sint32Value\":-2147483649}",
                        "field \"sint32Value\": value out of range for sint32");
    assert_decode_error("{\"uint32Value\":-1}",
                        "field \"uint32Value\": value out of range for uint32");
    assert_decode_error("{\"fixed32Value\":\"4294967296\"}",
                        "field \"fixed32Value\": value out of range for fixed32");
    assert_decode_error("{\"int64Value\":\"9223372036854775808\"}",
                        "field \"int64Value\": value out of range for int64");
    assert_decode_error("{\"sfixed64Value\":\"-9223372036854775809\"}",
                        "field \"sfixed64Value\": value out of range for sfixed64");
    assert_decode_error("{\"uint64Value\":\"18446744073709551616\"}",
                        "field \"uint64Value\": value out of range for uint64");
    assert_decode_error("{\"uint64Value\":\"1e20\"}",
                        "field \"uint64Value\": value out of range for uint64");
    assert_decode_error("{\"int64Value\":1e300}",
                        "field \"int64Value\": value out of range for int64");
    assert_decode_error("{\"int32Value\":\" 1\"}",
                        "field \"int32Value\": expected an integer (int32)");
    assert_decode_error("{\"int32Value\":\"01\"}",
                        "field \"int32Value\": expected an integer (int32)");
    assert_decode_error("{\"int32Value\":\"+1\"}",
                        "field \"int32Value\": expected an integer (int32)");
    assert_decode_error("{\"int32Value\":\"0x10\"}",
                        "field \"int32Value\": expected an integer (int32)");
    assert_decode_error("{\"int32Value\":\"\"}",
                        "field \"int32Value\": expected an integer (int32)");
    assert_decode_error("{\"int32Value\":true}",
                        "field \"int32Value\": expected an integer (int32)");
    assert_decode_error("{\"int32Value\":{}}", "field \"int32Value\": expected an integer (int32)");
    assert_decode_error("{\"doubleValue\":\"nan\"}", "field \"doubleValue\": expected a number");
    assert_decode_error("{\"doubleValue\":\"1e400\"}",
                        "field \"doubleValue\": value out of range for double");
    assert_decode_error("{\"doubleValue\":[]}", "field \"doubleValue\": expected a number");
    assert_decode_error("{\"floatValue\":3.5e38}",
                        "field \"floatValue\": value out of range for float");
    assert_decode_error("{\"floatValue\":\"-1e39\"}",
                        "field \"floatValue\": value out of range for float");
    /* jansson itself refuses integers beyond 64 bits and overflowing reals. */
    assert_decode_fails("{\"doubleValue\":1e400}", "invalid JSON: ");
    assert_decode_fails("{\"uint64Value\":18446744073709551615}", "invalid JSON: ");
}

static void test_json_codec_decode_bools_strings_bytes(void **state)
{
    (void)state;
    assert_reencodes("{\"boolValue\":true,\"stringValue\":\"\\u00e9\\ud83d\\ude00\","
                     "\"bytesValue\":\"-_8\",\"repeatedBytes\":[\"+/8=\",\"AQ\",\"\"]}",
                     "{\"boolValue\":true,\"stringValue\":\"\xc3\xa9\xf0\x9f\x98\x80\","
                     "\"bytesValue\":\"+/8=\",\"repeatedBytes\":[\"+/8=\",\"AQ==\",\"\"]}");
    assert_decode_error("{\"boolValue\":\"true\"}", "field \"boolValue\": expected true or false");
    assert_decode_error("{\"boolValue\":1}", "field \"boolValue\": expected true or false");
    assert_decode_error("{\"stringValue\":1}", "field \"stringValue\": expected a string");
    assert_decode_error("{\"string_value\":false}", "field \"string_value\": expected a string");
    assert_decode_error("{\"bytesValue\":\"A\"}", "field \"bytesValue\": invalid base64");
    assert_decode_error("{\"bytesValue\":\"AQ=\"}", "field \"bytesValue\": invalid base64");
    assert_decode_error("{\"bytesValue\":\"A Q==\"}", "field \"bytesValue\": invalid base64");
    assert_decode_error("{\"bytesValue\":[1]}", "field \"bytesValue\": expected a base64 string");
    /* NUL cannot live in a protobuf-c string: jansson refuses it. */
    assert_decode_fails("{\"stringValue\":\"a\\u0000b\"}", "invalid JSON: ");
}

static void test_json_codec_decode_enums(void **state)
{
    (void)state;
    assert_reencodes("{\"color\":\"COLOR_RED\",\"repeatedColor\":[2,-1,99,\"COLOR_UNSPECIFIED\"],"
                     "\"mapStringColor\":{\"a\":3},\"choiceColor\":0}",
                     "{\"color\":\"COLOR_RED\",\"repeatedColor\":[\"COLOR_GREEN\","
                     "\"COLOR_INFRARED\",99,\"COLOR_UNSPECIFIED\"],\"mapStringColor\":{\"a\":"
                     "\"COLOR_BLUE\"},\"choiceColor\":\"COLOR_UNSPECIFIED\"}");
    assert_decode_error("{\"color\":\"PURPLE\"}",
                        "field \"color\": unknown value \"PURPLE\" for enum kumo.test.v1.Color");
    assert_decode_error("{\"color\":\"1\"}",
                        "field \"color\": unknown value \"1\" for enum kumo.test.v1.Color");
    assert_decode_error("{\"color\":2147483648}", "field \"color\": value out of range for enum");
    assert_decode_error("{\"color\":1.5}", "field \"color\": enum must be a whole number");
    assert_decode_error("{\"color\":true}", "field \"color\": expected an enum name or number");
}

static void test_json_codec_decode_timestamps(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t s;
        int32_t n;
    } ok[] = {
        {"1972-01-01T10:00:20.021Z", 63108020, 21000000},
        {"1972-01-01T11:00:20.021+01:00", 63108020, 21000000},
        {"1972-01-01T09:30:20.021-00:30", 63108020, 21000000},
        {"1970-01-01T00:00:00.1Z", 0, 100000000},
        {"1970-01-01T00:00:00.123456789Z", 0, 123456789},
        {"0001-01-01T00:00:00Z", -62135596800LL, 0},
        {"0001-01-01T01:00:00+01:00", -62135596800LL, 0},
        {"9999-12-31T23:59:59.999999999Z", 253402300799LL, 999999999},
        {"2024-02-29T00:00:00Z", 1709164800, 0},
        {"2000-02-29T12:00:00Z", 951825600, 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char json[128];
        snprintf(json, sizeof(json), "{\"timestamp\":\"%s\"}", ok[i].in);
        AllTypes *m = (AllTypes *)decode_ok(ALL, json);
        assert_non_null(m->timestamp);
        assert_int_equal(m->timestamp->seconds, ok[i].s);
        assert_int_equal(m->timestamp->nanos, ok[i].n);
        release(&m->base);
    }
    static const char *const bad[] = {
        "0000-12-31T23:59:59Z",   "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
        "10000-01-01T00:00:00Z",  "1970-01-01T00:00:00",       "1970-01-01T00:00:00.1234567890Z",
        "1970-01-01T00:00:00.Z",  "1970-01-01 00:00:00Z",      "1970-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",   "1900-02-29T00:00:00Z",      "1970-01-01T24:00:00Z",
        "1970-01-01T00:60:00Z",   "1970-01-01T00:00:60Z",      "1970-01-01T00:00:00z",
        "1970-13-01T00:00:00Z",   "1970-00-01T00:00:00Z",      "1970-01-01T00:00:00+24:00",
        "1970-01-01T00:00:00+01", "1970-01-01T00:00:00Z ",     "",
        "1970-1-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[128];
        snprintf(json, sizeof(json), "{\"timestamp\":\"%s\"}", bad[i]);
        assert_decode_fails(json, "field \"timestamp\": expected an RFC 3339 timestamp");
    }
    assert_decode_fails("{\"timestamp\":0}", "field \"timestamp\": expected an RFC 3339");
    assert_decode_fails("{\"repeatedTimestamp\":[\"1970-01-01T00:00:00Z\",{}]}",
                        "field \"repeatedTimestamp[1]\": expected an RFC 3339");
}

static void test_json_codec_decode_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t s;
        int32_t n;
    } ok[] = {
        {"1.5s", 1, 500000000},
        {"-1.5s", -1, -500000000},
        {"-0.5s", 0, -500000000},
        {"0s", 0, 0},
        {"0.000000001s", 0, 1},
        {"315576000000s", 315576000000LL, 0},
        {"-315576000000.999999999s", -315576000000LL, -999999999},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char json[128];
        snprintf(json, sizeof(json), "{\"duration\":\"%s\"}", ok[i].in);
        AllTypes *m = (AllTypes *)decode_ok(ALL, json);
        assert_int_equal(m->duration->seconds, ok[i].s);
        assert_int_equal(m->duration->nanos, ok[i].n);
        release(&m->base);
    }
    static const char *const bad[] = {
        "315576000001s", "1.0000000001s", "1s ",  "s",    "1",    "+1s",
        "1.s",           ".5s",           "1e3s", "--1s", "1.5S", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[128];
        snprintf(json, sizeof(json), "{\"duration\":\"%s\"}", bad[i]);
        assert_decode_fails(json, "field \"duration\": expected a duration");
    }
}

static void test_json_codec_decode_maps(void **state)
{
    (void)state;
    assert_reencodes("{\"mapInt32String\":{\"-2147483648\":\"min\",\"1e1\":\"ten\"},"
                     "\"mapInt64Int64\":{\"-1\":1},\"mapBoolBytes\":{\"false\":\"AA==\"},"
                     "\"mapUint32Double\":{\"0\":\"NaN\"},"
                     "\"mapStringInner\":{\"\\\"q\\\"\":{\"name\":\"n\"}}}",
                     "{\"mapStringInner\":{\"\\\"q\\\"\":{\"name\":\"n\"}},"
                     "\"mapInt32String\":{\"-2147483648\":\"min\",\"10\":\"ten\"},"
                     "\"mapInt64Int64\":{\"-1\":\"1\"},\"mapBoolBytes\":{\"false\":\"AA==\"},"
                     "\"mapUint32Double\":{\"0\":\"NaN\"}}");
    assert_decode_error("{\"mapInt32String\":{\"x\":\"a\"}}",
                        "field \"mapInt32String[x]\": map key must be an integer (int32)");
    assert_decode_error("{\"mapInt32String\":{\"2147483648\":\"a\"}}",
                        "field \"mapInt32String[2147483648]\": value out of range for int32");
    assert_decode_error("{\"mapUint32Double\":{\"-1\":1}}",
                        "field \"mapUint32Double[-1]\": value out of range for uint32");
    assert_decode_error("{\"mapBoolBytes\":{\"yes\":\"\"}}",
                        "field \"mapBoolBytes[yes]\": map key must be \"true\" or \"false\"");
    assert_decode_error("{\"mapInt32String\":{\"1\":\"a\",\"1e0\":\"b\"}}",
                        "field \"mapInt32String\": duplicate map key 1");
    assert_decode_error("{\"mapInt64Int64\":{\"-5\":\"1\",\"3\":\"2\",\"-0.5e1\":\"3\"}}",
                        "field \"mapInt64Int64\": duplicate map key -5");
    assert_decode_error("{\"mapStringString\":{\"a\":null}}",
                        "field \"mapStringString[a]\": null is not allowed here");
    assert_decode_error("{\"mapStringInner\":{\"k\":{\"id\":\"x\"}}}",
                        "field \"mapStringInner[k].id\": expected an integer (int32)");
    assert_decode_error("{\"mapStringString\":[]}",
                        "field \"mapStringString\": expected an object");
    assert_decode_error("{\"mapStringString\":{\"a\":1}}",
                        "field \"mapStringString[a]\": expected a string");
}

static void test_json_codec_decode_repeated(void **state)
{
    (void)state;
    assert_reencodes("{\"repeatedInner\":[{\"id\":1},{},{\"child\":{}}],\"repeatedString\":[],"
                     "\"repeatedInt32\":[\"7\",8.0]}",
                     "{\"repeatedInt32\":[7,8],\"repeatedInner\":[{\"id\":1},{},{\"child\":{}}]}");
    assert_decode_error("{\"repeatedInt32\":1}", "field \"repeatedInt32\": expected an array");
    assert_decode_error("{\"repeatedInt32\":[1,null]}",
                        "field \"repeatedInt32[1]\": null is not allowed here");
    assert_decode_error("{\"repeatedInner\":[{},{\"name\":5}]}",
                        "field \"repeatedInner[1].name\": expected a string");
    assert_decode_error("{\"repeatedInner\":[{},{\"child\":{\"child\":{\"nope\":1}}}]}",
                        "unknown field \"repeatedInner[1].child.child.nope\"");
    assert_decode_error("{\"repeatedString\":[\"a\",\"b\",3]}",
                        "field \"repeatedString[2]\": expected a string");
}

static void test_json_codec_decode_oneofs_and_presence(void **state)
{
    (void)state;
    assert_reencodes("{\"choiceBytes\":\"\",\"optionalString\":\"\",\"optionalDouble\":0,"
                     "\"optionalUint64\":\"0\"}",
                     "{\"choiceBytes\":\"\",\"optionalString\":\"\",\"optionalDouble\":0,"
                     "\"optionalUint64\":\"0\"}");
    assert_decode_error("{\"choiceString\":\"a\",\"choiceInt64\":\"1\"}",
                        "field \"choiceInt64\": oneof member \"choiceString\" is already set");
    assert_decode_error("{\"choiceInner\":{\"id\":1},\"choice_bytes\":\"\"}",
                        "field \"choice_bytes\": oneof member \"choiceInner\" is already set");
    assert_decode_error("{\"int32Value\":1,\"int32_value\":2}",
                        "field \"int32_value\": duplicate field");
    assert_decode_error("{\"choiceInner\":{\"id\":\"x\"}}",
                        "field \"choiceInner.id\": expected an integer (int32)");
}

static void test_json_codec_decode_rejects_unknown_fields(void **state)
{
    (void)state;
    assert_decode_error("{\"x\":1}", "unknown field \"x\"");
    assert_decode_error("{\"Int32Value\":1}", "unknown field \"Int32Value\"");
    assert_decode_error("{\"int32value\":1}", "unknown field \"int32value\"");
    assert_decode_error("{\"inner\":{\"id\":1,\"x\":null}}", "unknown field \"inner.x\"");
    assert_decode_error("{\"mapStringInner\":{\"k\":{\"x\":1}}}",
                        "unknown field \"mapStringInner[k].x\"");
    /* Names from the input are clipped and cleaned in messages. */
    assert_decode_error("{\"a\\nb\":1}", "unknown field \"a?b\"");
    char json[300], want[100];
    snprintf(json, sizeof(json), "{\"%0100d\":1}", 0);
    snprintf(want, sizeof(want), "unknown field \"%064d...\"", 0);
    check_decode_error(ALL, json, KUMO_ERR_INVALID, want, 1);
}

static void test_json_codec_decode_rejects_bad_documents(void **state)
{
    (void)state;
    assert_decode_error("[]", "expected an object");
    assert_decode_error("[{}]", "expected an object");
    assert_decode_fails("", "invalid JSON: ");
    assert_decode_fails("\"x\"", "invalid JSON: ");
    assert_decode_fails("1", "invalid JSON: ");
    assert_decode_fails("null", "invalid JSON: ");
    assert_decode_fails("{} x", "invalid JSON: ");
    assert_decode_fails("{\"int32Value\":1,}", "invalid JSON: ");
    assert_decode_fails("{\"int32Value\":1,\"int32Value\":2}", "invalid JSON: ");
    assert_decode_fails("{\"stringValue\":\"\xff\"}", "invalid JSON: ");
    assert_decode_fails("{\"stringValue\":\"\\ud800\"}", "invalid JSON: ");
    assert_decode_fails("{'a':1}", "invalid JSON: ");
    /* jansson's message quotes input: nothing but printable ASCII gets out. */
    ProtobufCMessage *m = NULL;
    char *err = NULL;
    const char bad[] = "{\"\xc3\xa9\x01\xff";
    assert_int_equal(kumo_json_decode(ALL, bad, sizeof(bad) - 1, NULL, &m, &err), KUMO_ERR_INVALID);
    for (const char *p = err; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    kumo_free(err);
    /* errmsg NULL is allowed. */
    assert_int_equal(kumo_json_decode(ALL, "[", 1, NULL, &m, NULL), KUMO_ERR_INVALID);
    assert_null(m);
}

static void test_json_codec_decode_reads_only_len_bytes(void **state)
{
    (void)state;
    const char buf[] = "{\"int32Value\":5}garbage";
    ProtobufCMessage *m = NULL;
    assert_int_equal(kumo_json_decode(ALL, buf, 16, NULL, &m, NULL), 0);
    assert_int_equal(((AllTypes *)m)->int32_value, 5);
    protobuf_c_message_free_unpacked(m, NULL);
    /* Not NUL-terminated at all. */
    char *exact = kumo_malloc(2);
    memcpy(exact, "{}", 2);
    assert_int_equal(kumo_json_decode(INNER, exact, 2, NULL, &m, NULL), 0);
    protobuf_c_message_free_unpacked(m, NULL);
    kumo_free(exact);
}

static char *nested_inner(int levels)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "{\"id\":1");
    for (int i = 1; i < levels; i++)
        kumo_buf_append_str(&b, ",\"child\":{\"id\":1");
    for (int i = 0; i < levels; i++)
        kumo_buf_append_byte(&b, '}');
    return kumo_buf_steal(&b, NULL);
}

static void test_json_codec_decode_depth_limit(void **state)
{
    (void)state;
    char *ok = nested_inner(KUMO_JSON_MAX_DEPTH);
    ProtobufCMessage *m = decode_ok(INNER, ok);
    char *again = encode(m);
    assert_string_equal(again, ok);
    kumo_free(again);
    release(m);
    kumo_free(ok);

    char *deep = nested_inner(KUMO_JSON_MAX_DEPTH + 1);
    check_decode_error(INNER, deep, KUMO_ERR_TOO_LARGE, "messages nested deeper than 64", 0);
    kumo_free(deep);

    /* Struct/ListValue levels count too. */
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "{\"value\":");
    for (int i = 0; i < 70; i++)
        kumo_buf_append_byte(&b, '[');
    for (int i = 0; i < 70; i++)
        kumo_buf_append_byte(&b, ']');
    kumo_buf_append_byte(&b, '}');
    check_decode_error(ALL, (char *)b.data, KUMO_ERR_TOO_LARGE, "nested deeper", 0);
    kumo_buf_free(&b);

    /* Past jansson's own limit the parser stops first: still TOO_LARGE. */
    kumo_buf_append_str(&b, "{\"value\":");
    for (int i = 0; i < 5000; i++)
        kumo_buf_append_byte(&b, '[');
    check_decode_error(ALL, (char *)b.data, KUMO_ERR_TOO_LARGE, "invalid JSON", 0);
    kumo_buf_free(&b);
}

static void test_json_codec_decode_well_known_types(void **state)
{
    (void)state;
    assert_reencodes(
        "{\"structValue\":{\"a\":1,\"b\":[true,null,\"s\",{}],\"c\":{\"d\":-0.5}},"
        "\"value\":{\"x\":[]},\"listValue\":[1,\"two\",[3]],\"nullValue\":null,"
        "\"repeatedValue\":[null,1.5,false,\"\",[],{}],"
        "\"wrappedInt32\":0,\"wrappedInt64\":\"-5\",\"wrappedUint64\":7,\"wrappedUint32\":\"8\","
        "\"wrappedBool\":false,\"wrappedString\":\"\",\"wrappedBytes\":\"AQ\","
        "\"wrappedDouble\":\"Infinity\",\"wrappedFloat\":0.25,"
        "\"fieldMask\":\"fooBar,a.bC.d1,x\",\"empty\":{}}",
        "{\"structValue\":{\"a\":1,\"b\":[true,null,\"s\",{}],\"c\":{\"d\":-0.5}},"
        "\"value\":{\"x\":[]},\"listValue\":[1,\"two\",[3]],"
        "\"repeatedValue\":[null,1.5,false,\"\",[],{}],"
        "\"wrappedInt32\":0,\"wrappedInt64\":\"-5\",\"wrappedUint64\":\"7\","
        "\"wrappedUint32\":8,\"wrappedBool\":false,\"wrappedString\":\"\","
        "\"wrappedBytes\":\"AQ==\",\"wrappedDouble\":\"Infinity\",\"wrappedFloat\":0.25,"
        "\"fieldMask\":\"fooBar,a.bC.d1,x\",\"empty\":{}}");
    /* A null Value is a value, not an absent field. */
    assert_reencodes("{\"value\":null}", "{\"value\":null}");
    assert_reencodes("{\"nullValue\":25,\"repeatedValue\":[null]}",
                     "{\"nullValue\":25,\"repeatedValue\":[null]}");
    assert_reencodes("{\"fieldMask\":\"\"}", "{\"fieldMask\":\"\"}");
    AllTypes *m = (AllTypes *)decode_ok(ALL, "{\"fieldMask\":\"fooBar,a.bC\",\"value\":\"s\"}");
    assert_int_equal(m->field_mask->n_paths, 2);
    assert_string_equal(m->field_mask->paths[0], "foo_bar");
    assert_string_equal(m->field_mask->paths[1], "a.b_c");
    assert_int_equal(m->value->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE);
    assert_string_equal(m->value->string_value, "s");
    release(&m->base);

    assert_decode_error("{\"fieldMask\":\"foo_bar\"}",
                        "field \"fieldMask\": invalid field mask path #1");
    assert_decode_error("{\"fieldMask\":\"a,,b\"}",
                        "field \"fieldMask\": invalid field mask path #2");
    assert_decode_error("{\"fieldMask\":\"a.\"}",
                        "field \"fieldMask\": invalid field mask path #1");
    assert_decode_error("{\"fieldMask\":\"1a\"}",
                        "field \"fieldMask\": invalid field mask path #1");
    assert_decode_fails("{\"fieldMask\":[\"a\"]}", "field \"fieldMask\": expected a field mask");
    assert_decode_error("{\"structValue\":[]}", "field \"structValue\": expected an object");
    assert_decode_error("{\"listValue\":{}}", "field \"listValue\": expected an array");
    assert_decode_error("{\"wrappedInt32\":\"x\"}",
                        "field \"wrappedInt32\": expected an integer (int32)");
    assert_decode_error("{\"structValue\":{\"a\":{\"b\":[1,{\"c\":\"NaN\"},{\"d\":{\"e\":[]}},"
                        "true,{\"f\":1.5}]}},\"nullValue\":true}",
                        "field \"nullValue\": expected an enum name or number");
    assert_decode_error("{\"empty\":{\"a\":1}}", "unknown field \"empty.a\"");

    /* Top level: Struct is an object, ListValue may be an array. */
    ProtobufCMessage *s = decode_ok(&google__protobuf__struct__descriptor, "{\"k\":[1,{}]}");
    assert_encodes(s, "{\"k\":[1,{}]}");
    release(s);
    ProtobufCMessage *l = decode_ok(&google__protobuf__list_value__descriptor, "[null,\"a\"]");
    assert_encodes(l, "[null,\"a\"]");
    release(l);
    check_decode_error(&google__protobuf__any__descriptor, "{}", KUMO_ERR_INVALID,
                       "google.protobuf.Any is not supported in JSON", 1);
}

/* ---- allocation ---- */

static void test_json_codec_decode_into_arena(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    ProtobufCMessage *m = NULL;
    char *err = NULL;
    assert_int_equal(
        kumo_json_decode(ALL, full_json, strlen(full_json), kumo_arena_allocator(a), &m, &err), 0);
    assert_true(kumo_arena_used(a) > sizeof(AllTypes));
    assert_encodes(m, full_json);
    /* A failure half-way frees through the arena's (no-op) free: no crash. */
    const char bad[] = "{\"repeatedInner\":[{\"id\":1},{\"name\":\"n\",\"id\":\"x\"}]}";
    ProtobufCMessage *m2 = NULL;
    assert_int_equal(kumo_json_decode(ALL, bad, strlen(bad), kumo_arena_allocator(a), &m2, &err),
                     KUMO_ERR_INVALID);
    assert_null(m2);
    assert_string_equal(err, "field \"repeatedInner[1].id\": expected an integer (int32)");
    kumo_free(err);
    kumo_arena_free(a); /* everything goes at once; ASan checks for leaks */
}

static void test_json_codec_decode_errors_free_partial_messages(void **state)
{
    (void)state;
    /* Each fails after allocating strings, bytes, arrays, sub-messages, map
     * entries or oneof members; check_decode_error asserts nothing is left. */
    static const char *const cases[] = {
        "{\"stringValue\":\"s\",\"bytesValue\":\"AQ==\",\"inner\":{\"name\":\"n\",\"child\":{}},"
        "\"x\":1}",
        "{\"repeatedString\":[\"a\",\"b\"],\"repeatedBytes\":[\"AQ==\",\"!\"]}",
        "{\"repeatedInner\":[{\"name\":\"a\"},{\"child\":{\"name\":\"b\",\"id\":true}}]}",
        "{\"mapStringInner\":{\"a\":{\"name\":\"x\"},\"b\":{\"name\":1}}}",
        "{\"mapStringString\":{\"a\":\"b\",\"c\":null}}",
        "{\"mapInt32String\":{\"1\":\"a\",\"01\":\"b\"}}",
        "{\"mapInt32String\":{\"1\":\"a\",\"1.0\":\"b\"}}",
        "{\"choiceInner\":{\"name\":\"n\"},\"choiceString\":\"s\"}",
        "{\"choiceString\":\"s\",\"choiceInner\":{\"name\":\"n\"}}",
        "{\"optionalString\":\"s\",\"timestamp\":\"1970-01-01T00:00:00Z\",\"duration\":\"x\"}",
        "{\"structValue\":{\"a\":[\"x\",{\"b\":\"c\"}]},\"listValue\":[1,2],\"value\":{\"q\":"
        "\"r\"},\"fieldMask\":\"a,b_c\"}",
        "{\"repeatedTimestamp\":[\"1970-01-01T00:00:00Z\",\"bad\"]}",
        "{\"mapStringDuration\":{\"a\":\"1s\",\"b\":\"1\"}}",
        "{\"wrappedString\":\"s\",\"wrappedBytes\":\"AQ==\",\"wrappedInt32\":1.5}",
        "{\"repeatedValue\":[{\"a\":[1,2,\"s\"]},{\"b\":null},{\"c\":1}],\"repeatedInt32\":[null]}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_decode_error(ALL, cases[i], KUMO_ERR_INVALID, "", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_codec_decode_accepts_both_names),
        cmocka_unit_test(test_json_codec_decode_null_means_default),
        cmocka_unit_test(test_json_codec_decode_numbers),
        cmocka_unit_test(test_json_codec_decode_rejects_bad_numbers),
        cmocka_unit_test(test_json_codec_decode_bools_strings_bytes),
        cmocka_unit_test(test_json_codec_decode_enums),
        cmocka_unit_test(test_json_codec_decode_timestamps),
        cmocka_unit_test(test_json_codec_decode_durations),
        cmocka_unit_test(test_json_codec_decode_maps),
        cmocka_unit_test(test_json_codec_decode_repeated),
        cmocka_unit_test(test_json_codec_decode_oneofs_and_presence),
        cmocka_unit_test(test_json_codec_decode_rejects_unknown_fields),
        cmocka_unit_test(test_json_codec_decode_rejects_bad_documents),
        cmocka_unit_test(test_json_codec_decode_reads_only_len_bytes),
        cmocka_unit_test(test_json_codec_decode_depth_limit),
        cmocka_unit_test(test_json_codec_decode_well_known_types),
        cmocka_unit_test(test_json_codec_decode_into_arena),
        cmocka_unit_test(test_json_codec_decode_errors_free_partial_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
