/* Fixture shared by test_json_encode.c and test_json_decode.c: an allocator
 * that counts (error paths must free through alloc->free), encode/decode
 * helpers, and the JSON of the fully populated AllTypes of test_json_encode.c.
 * Static definitions, each used by both binaries (an unused one would not
 * compile under -Werror): each includes it once, after cmocka.h. */
#ifndef KUMO_JSON_FIXTURE_H
#define KUMO_JSON_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "codec/json_codec.h"

#include "kumo/test/v1/types.pb-c.h"

typedef Kumo__Test__V1__AllTypes AllTypes;
typedef Kumo__Test__V1__Inner Inner;
#define ALL   (&kumo__test__v1__all_types__descriptor)
#define INNER (&kumo__test__v1__inner__descriptor)

/* ---- an allocator that counts, so error paths are seen to free through
 * alloc->free and not leak ---- */

static long live_allocs;

static void *count_alloc(void *data, size_t size)
{
    (void)data;
    live_allocs++;
    return kumo_malloc(size);
}

static void count_free(void *data, void *p)
{
    (void)data;
    if (p != NULL)
        live_allocs--;
    kumo_free(p);
}

static ProtobufCAllocator counting = {count_alloc, count_free, NULL};

/* ---- helpers ---- */

static char *encode(const ProtobufCMessage *m)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    assert_int_equal(kumo_json_encode(m, &b), 0);
    return kumo_buf_steal(&b, NULL);
}

static void assert_encodes(const ProtobufCMessage *m, const char *want)
{
    char *got = encode(m);
    assert_string_equal(got, want);
    kumo_free(got);
}

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *m = NULL;
    char *err = NULL;
    int rc = kumo_json_decode(desc, json, strlen(json), &counting, &m, &err);
    if (rc != 0)
        fail_msg("decoding %s: %d %s", json, rc, err ? err : "");
    assert_null(err);
    assert_non_null(m);
    return m;
}

static void release(ProtobufCMessage *m)
{
    protobuf_c_message_free_unpacked(m, &counting);
    assert_int_equal(live_allocs, 0);
}

static void assert_same_binary(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size(a);
    size_t nb = protobuf_c_message_get_packed_size(b);
    assert_int_equal(na, nb);
    uint8_t *ba = kumo_malloc(na + 1), *bb = kumo_malloc(nb + 1);
    assert_int_equal(protobuf_c_message_pack(a, ba), na);
    assert_int_equal(protobuf_c_message_pack(b, bb), nb);
    assert_memory_equal(ba, bb, na);
    kumo_free(ba);
    kumo_free(bb);
}

/* The JSON of the fully populated AllTypes that full_init (test_json_encode.c)
 * builds. */
static const char full_json[] =
    "{\"int32Value\":-42,\"int64Value\":\"-9007199254740993\",\"uint32Value\":4294967295,"
    "\"uint64Value\":\"18446744073709551615\",\"sint32Value\":-2147483648,"
    "\"sint64Value\":\"-9223372036854775808\",\"fixed32Value\":7,"
    "\"fixed64Value\":\"9007199254740993\",\"sfixed32Value\":-7,\"sfixed64Value\":\"-8\","
    "\"floatValue\":1.1,\"doubleValue\":0.1,\"boolValue\":true,"
    "\"stringValue\":\"h\xc3\xa9llo \\\"w\\\"\\n\",\"bytesValue\":\"AP8QYQ==\","
    "\"color\":\"COLOR_BLUE\",\"inner\":{\"id\":1,\"name\":\"in\",\"child\":{\"id\":2}},"
    "\"repeatedInt32\":[1,-2,3],\"repeatedInt64\":[\"1\",\"-2\"],\"repeatedString\":[\"a\",\"\"],"
    "\"repeatedBytes\":[\"\",\"AQ==\"],\"repeatedInner\":[{},{\"id\":5}],"
    "\"repeatedColor\":[\"COLOR_RED\",42,\"COLOR_INFRARED\"],"
    "\"repeatedDouble\":[1.5,\"NaN\",\"Infinity\",\"-Infinity\",-0.0],"
    "\"repeatedBool\":[true,false],\"repeatedUint64\":[\"0\",\"18446744073709551615\"],"
    "\"repeatedFloat\":[0.5,3.4028235e+38],"
    "\"mapStringString\":{\"k\":\"v\",\"\":\"empty\"},\"mapStringInner\":{\"x\":{\"id\":1}},"
    "\"mapInt32String\":{\"-1\":\"neg\",\"7\":\"seven\"},"
    "\"mapStringColor\":{\"c\":\"COLOR_GREEN\"},"
    "\"mapInt64Int64\":{\"-9223372036854775808\":\"9223372036854775807\"},"
    "\"mapBoolBytes\":{\"true\":\"AQI=\",\"false\":\"\"},"
    "\"mapUint32Double\":{\"4294967295\":2.5},"
    "\"choiceInner\":{\"id\":9},\"optionalInt32\":0,\"optionalString\":\"\","
    "\"optionalColor\":\"COLOR_UNSPECIFIED\",\"optionalBool\":false,\"optionalDouble\":0,"
    "\"optionalUint64\":\"0\","
    "\"timestamp\":\"1972-01-01T10:00:20.021Z\",\"duration\":\"1.500s\","
    "\"repeatedTimestamp\":[\"0001-01-01T00:00:00Z\",\"9999-12-31T23:59:59.999999999Z\"],"
    "\"mapStringDuration\":{\"neg\":\"-0.000001s\"},"
    "\"value\":null,\"wrappedInt32\":0,\"wrappedString\":\"w\","
    "\"fieldMask\":\"fooBar,a.bC\",\"empty\":{}}";

#endif
