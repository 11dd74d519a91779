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
#include "base/buf.h"
#include "base/errors.h"
#include "codec/json_codec.h"

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "kumo/test/v1/echo.pb-c.h"
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

/* ---- a fully populated AllTypes, built without allocation ---- */

struct full {
    AllTypes m;
    Inner inner, inner_child, rep_inner[2], *rep_inner_p[2], map_inner, choice_inner, empty_inner;
    int32_t rep_i32[3];
    int64_t rep_i64[2];
    char *rep_str[2];
    ProtobufCBinaryData rep_bytes[2];
    Kumo__Test__V1__Color rep_color[3];
    double rep_double[5];
    protobuf_c_boolean rep_bool[2];
    uint64_t rep_u64[2];
    float rep_float[2];
    Kumo__Test__V1__AllTypes__MapStringStringEntry mss[2], *mss_p[2];
    Kumo__Test__V1__AllTypes__MapStringInnerEntry msi, *msi_p[1];
    Kumo__Test__V1__AllTypes__MapInt32StringEntry mis[2], *mis_p[2];
    Kumo__Test__V1__AllTypes__MapStringColorEntry msc, *msc_p[1];
    Kumo__Test__V1__AllTypes__MapInt64Int64Entry mii, *mii_p[1];
    Kumo__Test__V1__AllTypes__MapBoolBytesEntry mbb[2], *mbb_p[2];
    Kumo__Test__V1__AllTypes__MapUint32DoubleEntry mud, *mud_p[1];
    Kumo__Test__V1__AllTypes__MapStringDurationEntry msd, *msd_p[1];
    Google__Protobuf__Timestamp ts, rep_ts[2], *rep_ts_p[2];
    Google__Protobuf__Duration dur, map_dur;
    Google__Protobuf__Value value;
    Google__Protobuf__Int32Value w_i32;
    Google__Protobuf__StringValue w_str;
    Google__Protobuf__FieldMask mask;
    char *mask_paths[2];
    Google__Protobuf__Empty empty;
};

static uint8_t bytes_val[] = {0x00, 0xff, 0x10, 'a'};
static uint8_t bytes_1[] = {1};
static uint8_t bytes_12[] = {1, 2};

static void full_init(struct full *f)
{
    AllTypes *m = &f->m;
    memset(f, 0, sizeof(*f));
    kumo__test__v1__all_types__init(m);
    m->int32_value = -42;
    m->int64_value = -9007199254740993LL;
    m->uint32_value = UINT32_MAX;
    m->uint64_value = UINT64_MAX;
    m->sint32_value = INT32_MIN;
    m->sint64_value = INT64_MIN;
    m->fixed32_value = 7;
    m->fixed64_value = 9007199254740993ULL;
    m->sfixed32_value = -7;
    m->sfixed64_value = -8;
    m->float_value = 1.1f;
    m->double_value = 0.1;
    m->bool_value = 1;
    m->string_value = "h\xc3\xa9llo \"w\"\n";
    m->bytes_value = (ProtobufCBinaryData){sizeof(bytes_val), bytes_val};
    m->color = KUMO__TEST__V1__COLOR__COLOR_BLUE;
    kumo__test__v1__inner__init(&f->inner);
    kumo__test__v1__inner__init(&f->inner_child);
    f->inner.id = 1;
    f->inner.name = "in";
    f->inner.child = &f->inner_child;
    f->inner_child.id = 2;
    m->inner = &f->inner;

    f->rep_i32[0] = 1, f->rep_i32[1] = -2, f->rep_i32[2] = 3;
    m->n_repeated_int32 = 3, m->repeated_int32 = f->rep_i32;
    f->rep_i64[0] = 1, f->rep_i64[1] = -2;
    m->n_repeated_int64 = 2, m->repeated_int64 = f->rep_i64;
    f->rep_str[0] = "a", f->rep_str[1] = "";
    m->n_repeated_string = 2, m->repeated_string = f->rep_str;
    f->rep_bytes[1] = (ProtobufCBinaryData){1, bytes_1};
    m->n_repeated_bytes = 2, m->repeated_bytes = f->rep_bytes;
    kumo__test__v1__inner__init(&f->rep_inner[0]);
    kumo__test__v1__inner__init(&f->rep_inner[1]);
    f->rep_inner[1].id = 5;
    f->rep_inner_p[0] = &f->rep_inner[0], f->rep_inner_p[1] = &f->rep_inner[1];
    m->n_repeated_inner = 2, m->repeated_inner = f->rep_inner_p;
    f->rep_color[0] = KUMO__TEST__V1__COLOR__COLOR_RED;
    f->rep_color[1] = (Kumo__Test__V1__Color)42; /* unknown: stays a number */
    f->rep_color[2] = KUMO__TEST__V1__COLOR__COLOR_INFRARED;
    m->n_repeated_color = 3, m->repeated_color = f->rep_color;
    f->rep_double[0] = 1.5, f->rep_double[1] = NAN, f->rep_double[2] = INFINITY;
    f->rep_double[3] = -INFINITY, f->rep_double[4] = -0.0;
    m->n_repeated_double = 5, m->repeated_double = f->rep_double;
    f->rep_bool[0] = 1, f->rep_bool[1] = 0;
    m->n_repeated_bool = 2, m->repeated_bool = f->rep_bool;
    f->rep_u64[0] = 0, f->rep_u64[1] = UINT64_MAX;
    m->n_repeated_uint64 = 2, m->repeated_uint64 = f->rep_u64;
    f->rep_float[0] = 0.5f, f->rep_float[1] = FLT_MAX;
    m->n_repeated_float = 2, m->repeated_float = f->rep_float;

    for (int i = 0; i < 2; i++) {
        kumo__test__v1__all_types__map_string_string_entry__init(&f->mss[i]);
        f->mss_p[i] = &f->mss[i];
        kumo__test__v1__all_types__map_int32_string_entry__init(&f->mis[i]);
        f->mis_p[i] = &f->mis[i];
        kumo__test__v1__all_types__map_bool_bytes_entry__init(&f->mbb[i]);
        f->mbb_p[i] = &f->mbb[i];
    }
    f->mss[0].key = "k", f->mss[0].value = "v";
    f->mss[1].key = "", f->mss[1].value = "empty";
    m->n_map_string_string = 2, m->map_string_string = f->mss_p;
    kumo__test__v1__all_types__map_string_inner_entry__init(&f->msi);
    kumo__test__v1__inner__init(&f->map_inner);
    f->map_inner.id = 1;
    f->msi.key = "x", f->msi.value = &f->map_inner;
    f->msi_p[0] = &f->msi;
    m->n_map_string_inner = 1, m->map_string_inner = f->msi_p;
    f->mis[0].key = -1, f->mis[0].value = "neg";
    f->mis[1].key = 7, f->mis[1].value = "seven";
    m->n_map_int32_string = 2, m->map_int32_string = f->mis_p;
    kumo__test__v1__all_types__map_string_color_entry__init(&f->msc);
    f->msc.key = "c", f->msc.value = KUMO__TEST__V1__COLOR__COLOR_GREEN;
    f->msc_p[0] = &f->msc;
    m->n_map_string_color = 1, m->map_string_color = f->msc_p;
    kumo__test__v1__all_types__map_int64_int64_entry__init(&f->mii);
    f->mii.key = INT64_MIN, f->mii.value = INT64_MAX;
    f->mii_p[0] = &f->mii;
    m->n_map_int64_int64 = 1, m->map_int64_int64 = f->mii_p;
    f->mbb[0].key = 1, f->mbb[0].value = (ProtobufCBinaryData){2, bytes_12};
    f->mbb[1].key = 0;
    m->n_map_bool_bytes = 2, m->map_bool_bytes = f->mbb_p;
    kumo__test__v1__all_types__map_uint32_double_entry__init(&f->mud);
    f->mud.key = UINT32_MAX, f->mud.value = 2.5;
    f->mud_p[0] = &f->mud;
    m->n_map_uint32_double = 1, m->map_uint32_double = f->mud_p;
    kumo__test__v1__all_types__map_string_duration_entry__init(&f->msd);
    google__protobuf__duration__init(&f->map_dur);
    f->map_dur.nanos = -1000;
    f->msd.key = "neg", f->msd.value = &f->map_dur;
    f->msd_p[0] = &f->msd;
    m->n_map_string_duration = 1, m->map_string_duration = f->msd_p;

    kumo__test__v1__inner__init(&f->choice_inner);
    f->choice_inner.id = 9;
    m->choice_case = KUMO__TEST__V1__ALL_TYPES__CHOICE_CHOICE_INNER;
    m->choice_inner = &f->choice_inner;
    /* Presence: defaults that are set still show. */
    m->presence_int32_case = KUMO__TEST__V1__ALL_TYPES__PRESENCE_INT32_OPTIONAL_INT32;
    m->presence_string_case = KUMO__TEST__V1__ALL_TYPES__PRESENCE_STRING_OPTIONAL_STRING;
    m->optional_string = "";
    m->presence_color_case = KUMO__TEST__V1__ALL_TYPES__PRESENCE_COLOR_OPTIONAL_COLOR;
    m->presence_bool_case = KUMO__TEST__V1__ALL_TYPES__PRESENCE_BOOL_OPTIONAL_BOOL;
    m->presence_double_case = KUMO__TEST__V1__ALL_TYPES__PRESENCE_DOUBLE_OPTIONAL_DOUBLE;
    m->presence_uint64_case = KUMO__TEST__V1__ALL_TYPES__PRESENCE_UINT64_OPTIONAL_UINT64;

    google__protobuf__timestamp__init(&f->ts);
    f->ts.seconds = 63108020, f->ts.nanos = 21000000;
    m->timestamp = &f->ts;
    google__protobuf__duration__init(&f->dur);
    f->dur.seconds = 1, f->dur.nanos = 500000000;
    m->duration = &f->dur;
    for (int i = 0; i < 2; i++) {
        google__protobuf__timestamp__init(&f->rep_ts[i]);
        f->rep_ts_p[i] = &f->rep_ts[i];
    }
    f->rep_ts[0].seconds = -62135596800LL;
    f->rep_ts[1].seconds = 253402300799LL, f->rep_ts[1].nanos = 999999999;
    m->n_repeated_timestamp = 2, m->repeated_timestamp = f->rep_ts_p;

    google__protobuf__value__init(&f->value);
    f->value.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE;
    m->value = &f->value;
    google__protobuf__int32_value__init(&f->w_i32);
    m->wrapped_int32 = &f->w_i32;
    google__protobuf__string_value__init(&f->w_str);
    f->w_str.value = "w";
    m->wrapped_string = &f->w_str;
    google__protobuf__field_mask__init(&f->mask);
    f->mask_paths[0] = "foo_bar", f->mask_paths[1] = "a.b_c";
    f->mask.n_paths = 2, f->mask.paths = f->mask_paths;
    m->field_mask = &f->mask;
    google__protobuf__empty__init(&f->empty);
    m->empty = &f->empty;
}

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

/* ---- encoding ---- */

static void test_json_codec_encode_empty_message(void **state)
{
    (void)state;
    AllTypes m = KUMO__TEST__V1__ALL_TYPES__INIT;
    assert_encodes(&m.base, "{}");
}

static void test_json_codec_encode_every_field_kind(void **state)
{
    (void)state;
    struct full f;
    full_init(&f);
    assert_encodes(&f.m.base, full_json);
}

static void test_json_codec_encode_appends(void **state)
{
    (void)state;
    Inner in = KUMO__TEST__V1__INNER__INIT;
    in.id = 3;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "x=");
    assert_int_equal(kumo_json_encode(&in.base, &b), 0);
    assert_string_equal((char *)b.data, "x={\"id\":3}");
    kumo_buf_free(&b);
}

static void test_json_codec_encode_numbers(void **state)
{
    (void)state;
    AllTypes m = KUMO__TEST__V1__ALL_TYPES__INIT;
    m.double_value = 1e300;
    m.float_value = -3.25f;
    m.int64_value = INT64_MAX;
    assert_encodes(&m.base, "{\"int64Value\":\"9223372036854775807\",\"floatValue\":-3.25,"
                            "\"doubleValue\":1e+300}");
    m.int64_value = 0;
    m.float_value = 0;
    m.double_value = 5e-324; /* smallest subnormal survives */
    char *s = encode(&m.base);
    ProtobufCMessage *back = decode_ok(ALL, s);
    assert_true(((AllTypes *)back)->double_value == 5e-324);
    release(back);
    kumo_free(s);
    m.double_value = -0.0; /* a default for protobuf-c too: omitted */
    assert_encodes(&m.base, "{}");
    m.double_value = 123456789.0;
    assert_encodes(&m.base, "{\"doubleValue\":123456789}");
}

static void test_json_codec_encode_string_escapes(void **state)
{
    (void)state;
    AllTypes m = KUMO__TEST__V1__ALL_TYPES__INIT;
    m.string_value = "\x01\x1f\x7f\b\f\r\t\\/<";
    assert_encodes(&m.base, "{\"stringValue\":\"\\u0001\\u001f\x7f\\b\\f\\r\\t\\\\/<\"}");
    /* protobuf-c does not check UTF-8: invalid bytes must not leak out raw. */
    m.string_value = "a\xff"
                     "b\xc3"
                     "c\xed\xa0\x80"
                     "d\xf0\x9f\x98\x80";
    assert_encodes(&m.base, "{\"stringValue\":\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd"
                            "\xf0\x9f\x98\x80\"}");
}

static void test_json_codec_encode_timestamps(void **state)
{
    (void)state;
    static const struct {
        int64_t s;
        int32_t n;
        const char *want;
    } cases[] = {
        {0, 0, "\"1970-01-01T00:00:00Z\""},
        {-1, 0, "\"1969-12-31T23:59:59Z\""},
        {-1, 999999999, "\"1969-12-31T23:59:59.999999999Z\""},
        {951782400, 100000, "\"2000-02-29T00:00:00.000100Z\""},
        {1700000000, 120000000, "\"2023-11-14T22:13:20.120Z\""},
        {-62135596800LL, 0, "\"0001-01-01T00:00:00Z\""},
        {253402300799LL, 1, "\"9999-12-31T23:59:59.000000001Z\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        ts.seconds = cases[i].s;
        ts.nanos = cases[i].n;
        assert_encodes(&ts.base, cases[i].want);
    }
}

static void test_json_codec_encode_durations(void **state)
{
    (void)state;
    static const struct {
        int64_t s;
        int32_t n;
        const char *want;
    } cases[] = {
        {0, 0, "\"0s\""},
        {1, 500000000, "\"1.500s\""},
        {-1, -500000000, "\"-1.500s\""},
        {0, -1, "\"-0.000000001s\""},
        {315576000000LL, 0, "\"315576000000s\""},
        {-315576000000LL, -999999999, "\"-315576000000.999999999s\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
        d.seconds = cases[i].s;
        d.nanos = cases[i].n;
        assert_encodes(&d.base, cases[i].want);
    }
}

static void expect_encode_error(const ProtobufCMessage *m, int want)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "keep");
    assert_int_equal(kumo_json_encode(m, &b), want);
    assert_int_equal(b.len, 4); /* restored */
    assert_string_equal((char *)b.data, "keep");
    kumo_buf_free(&b);
}

static void test_json_codec_encode_rejects_unrepresentable(void **state)
{
    (void)state;
    AllTypes m = KUMO__TEST__V1__ALL_TYPES__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    m.int32_value = 5;
    m.timestamp = &ts;
    ts.seconds = 253402300800LL; /* year 10000 */
    expect_encode_error(&m.base, KUMO_ERR_INVALID);
    ts.seconds = 0;
    ts.nanos = 1000000000;
    expect_encode_error(&m.base, KUMO_ERR_INVALID);
    ts.nanos = -1;
    expect_encode_error(&m.base, KUMO_ERR_INVALID);

    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    d.seconds = 1;
    d.nanos = -1; /* mixed signs */
    expect_encode_error(&d.base, KUMO_ERR_INVALID);
    d.seconds = 315576000001LL;
    d.nanos = 0;
    expect_encode_error(&d.base, KUMO_ERR_INVALID);

    Google__Protobuf__FieldMask fm = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"fooBar"}; /* would come back as foo_bar */
    fm.n_paths = 1;
    fm.paths = paths;
    expect_encode_error(&fm.base, KUMO_ERR_INVALID);
    paths[0] = "foo__bar";
    expect_encode_error(&fm.base, KUMO_ERR_INVALID);

    Google__Protobuf__Value v = GOOGLE__PROTOBUF__VALUE__INIT;
    v.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    v.number_value = NAN;
    expect_encode_error(&v.base, KUMO_ERR_INVALID);

    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    expect_encode_error(&any.base, KUMO_ERR_UNSUPPORTED);
}

static void test_json_codec_encode_unset_submessages_as_defaults(void **state)
{
    (void)state;
    /* A map value missing on the wire unpacks as NULL: JSON shows the default. */
    AllTypes m = KUMO__TEST__V1__ALL_TYPES__INIT;
    Kumo__Test__V1__AllTypes__MapStringInnerEntry e =
        KUMO__TEST__V1__ALL_TYPES__MAP_STRING_INNER_ENTRY__INIT;
    Kumo__Test__V1__AllTypes__MapStringInnerEntry *ep = &e;
    e.key = "k";
    m.n_map_string_inner = 1;
    m.map_string_inner = &ep;
    m.choice_case = KUMO__TEST__V1__ALL_TYPES__CHOICE_CHOICE_INNER;
    assert_encodes(&m.base, "{\"mapStringInner\":{\"k\":{}},\"choiceInner\":{}}");
}

/* ---- round trips and agreement with the binary codec ---- */

static void test_json_codec_round_trip_every_field_kind(void **state)
{
    (void)state;
    struct full f;
    full_init(&f);
    ProtobufCMessage *d = decode_ok(ALL, full_json);
    assert_same_binary(&f.m.base, d);
    assert_encodes(d, full_json);
    release(d);
}

static void test_json_codec_agrees_with_binary_unpack(void **state)
{
    (void)state;
    struct full f;
    full_init(&f);
    size_t n = protobuf_c_message_get_packed_size(&f.m.base);
    uint8_t *wire = kumo_malloc(n);
    protobuf_c_message_pack(&f.m.base, wire);
    ProtobufCMessage *u = protobuf_c_message_unpack(ALL, NULL, n, wire);
    assert_non_null(u);
    assert_encodes(u, full_json); /* binary -> JSON */
    ProtobufCMessage *d = decode_ok(ALL, full_json);
    assert_same_binary(u, d); /* JSON -> binary */
    release(d);
    protobuf_c_message_free_unpacked(u, NULL);
    kumo_free(wire);
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

/* ---- proto2-style presence (what protoc-c 1.5 also uses for proto3
 * `optional`), through a hand-built descriptor ---- */

struct opt {
    ProtobufCMessage base;
    protobuf_c_boolean has_i32;
    int32_t i32;
    char *str;
    protobuf_c_boolean has_raw;
    ProtobufCBinaryData raw;
    Inner *inner;
    protobuf_c_boolean has_u64;
    uint64_t u64;
    protobuf_c_boolean has_color;
    Kumo__Test__V1__Color color;
    int32_t req;
};

static const ProtobufCMessageDescriptor opt_desc;

static void opt_init(struct opt *m)
{
    memset(m, 0, sizeof(*m));
    m->base.descriptor = &opt_desc;
}

#define OPT_FIELD(name, id, label, type, q, field, desc)                                           \
    {                                                                                              \
        name, id, label, type, q, offsetof(struct opt, field), desc, NULL, 0, 0, NULL, NULL        \
    }

static const ProtobufCFieldDescriptor opt_fields[] = {
    OPT_FIELD("opt_i32", 1, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32,
              offsetof(struct opt, has_i32), i32, NULL),
    OPT_FIELD("opt_str", 2, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0, str, NULL),
    OPT_FIELD("opt_raw", 3, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_BYTES,
              offsetof(struct opt, has_raw), raw, NULL),
    OPT_FIELD("opt_inner", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_MESSAGE, 0, inner,
              &kumo__test__v1__inner__descriptor),
    OPT_FIELD("opt_u64", 5, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_UINT64,
              offsetof(struct opt, has_u64), u64, NULL),
    OPT_FIELD("opt_color", 6, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_ENUM,
              offsetof(struct opt, has_color), color, &kumo__test__v1__color__descriptor),
    OPT_FIELD("req_i32", 7, PROTOBUF_C_LABEL_REQUIRED, PROTOBUF_C_TYPE_INT32, 0, req, NULL),
};
static const unsigned opt_by_name[] = {5, 0, 3, 2, 1, 4, 6};
static const ProtobufCIntRange opt_ranges[] = {{1, 0}, {0, 7}};
static const ProtobufCMessageDescriptor opt_desc = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "kumo.test.v1.Opt",
    "Opt",
    "Opt",
    "kumo.test.v1",
    sizeof(struct opt),
    7,
    opt_fields,
    opt_by_name,
    1,
    opt_ranges,
    (ProtobufCMessageInit)opt_init,
    NULL,
    NULL,
    NULL,
};

static void test_json_codec_explicit_presence_label_optional(void **state)
{
    (void)state;
    struct opt m;
    opt_init(&m);
    assert_encodes(&m.base, "{\"reqI32\":0}"); /* required: always there */
    m.i32 = 5;                                 /* no has_: not set */
    assert_encodes(&m.base, "{\"reqI32\":0}");

    Inner in = KUMO__TEST__V1__INNER__INIT;
    m.has_i32 = 1;
    m.i32 = 0;
    m.str = "";
    m.has_raw = 1;
    m.inner = &in;
    m.has_u64 = 1;
    m.has_color = 1;
    const char *want = "{\"optI32\":0,\"optStr\":\"\",\"optRaw\":\"\",\"optInner\":{},"
                       "\"optU64\":\"0\",\"optColor\":\"COLOR_UNSPECIFIED\",\"reqI32\":0}";
    assert_encodes(&m.base, want);

    struct opt *d = (struct opt *)decode_ok(&opt_desc, want);
    assert_true(d->has_i32 && d->has_raw && d->has_u64 && d->has_color);
    assert_non_null(d->str);
    assert_non_null(d->inner);
    assert_same_binary(&m.base, &d->base);
    release(&d->base);

    d = (struct opt *)decode_ok(&opt_desc, "{\"opt_u64\":null,\"optColor\":\"COLOR_RED\"}");
    assert_false(d->has_u64);
    assert_true(d->has_color);
    assert_int_equal(d->color, KUMO__TEST__V1__COLOR__COLOR_RED);
    assert_null(d->str);
    assert_encodes(&d->base, "{\"optColor\":\"COLOR_RED\",\"reqI32\":0}");
    release(&d->base);
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

static void test_json_codec_echo_request(void **state)
{
    (void)state;
    ProtobufCMessage *m = decode_ok(&kumo__test__v1__echo_request__descriptor,
                                    "{\"message\":\"hi\",\"payload\":\"AAEC\","
                                    "\"echo_headers\":[\"x-a\",\"x-b\"]}");
    assert_encodes(m,
                   "{\"message\":\"hi\",\"payload\":\"AAEC\",\"echoHeaders\":[\"x-a\",\"x-b\"]}");
    release(m);
    Kumo__Test__V1__LookupResponse r = KUMO__TEST__V1__LOOKUP_RESPONSE__INIT;
    r.key = "k";
    r.kind = KUMO__TEST__V1__KIND__KIND_FANCY;
    r.big = (1LL << 53) + 1;
    assert_encodes(&r.base, "{\"key\":\"k\",\"kind\":\"KIND_FANCY\",\"big\":\"9007199254740993\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_codec_encode_empty_message),
        cmocka_unit_test(test_json_codec_encode_every_field_kind),
        cmocka_unit_test(test_json_codec_encode_appends),
        cmocka_unit_test(test_json_codec_encode_numbers),
        cmocka_unit_test(test_json_codec_encode_string_escapes),
        cmocka_unit_test(test_json_codec_encode_timestamps),
        cmocka_unit_test(test_json_codec_encode_durations),
        cmocka_unit_test(test_json_codec_encode_rejects_unrepresentable),
        cmocka_unit_test(test_json_codec_encode_unset_submessages_as_defaults),
        cmocka_unit_test(test_json_codec_round_trip_every_field_kind),
        cmocka_unit_test(test_json_codec_agrees_with_binary_unpack),
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
        cmocka_unit_test(test_json_codec_explicit_presence_label_optional),
        cmocka_unit_test(test_json_codec_decode_into_arena),
        cmocka_unit_test(test_json_codec_decode_errors_free_partial_messages),
        cmocka_unit_test(test_json_codec_echo_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
