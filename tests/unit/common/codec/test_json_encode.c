/* Tests of common/codec/json_encode.c (and json_descriptors.c): encoding every
 * field kind, numbers, escapes, Timestamps and Durations, what cannot be
 * represented; round trips and agreement with the binary codec; explicit
 * presence through a hand-built proto2-style descriptor; generated messages. */
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
#include "base/buf.h"
#include "base/errors.h"
#include "codec/json_codec.h"

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "kumo/test/v1/types.pb-c.h"

#include "json_fixture.h"

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

/* Whole numbers take a fast path: the text must stay what the shortest
 * round-trip "%.*g" gives, on both sides of every edge of that path. */
static void test_json_codec_encode_whole_doubles_as_printf(void **state)
{
    (void)state;
    static const double values[] = {1,
                                    -1,
                                    7,
                                    42,
                                    -42,
                                    1000,
                                    123456,
                                    -987654,
                                    1e14,
                                    999999999999999.0,
                                    1e15,
                                    -1e15,
                                    1e15 + 2,
                                    9007199254740992.0,
                                    1e16,
                                    4503599627370497.0,
                                    0.5,
                                    -2.5,
                                    1e-7,
                                    3.0e20,
                                    -123456789012345.0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        AllTypes m = KUMO__TEST__V1__ALL_TYPES__INIT;
        m.double_value = values[i];
        char want[64], num[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, values[i]);
            if (strtod(num, NULL) == values[i])
                break;
        }
        snprintf(want, sizeof want, "{\"doubleValue\":%s}", num);
        assert_encodes(&m.base, want);
    }
    /* -0 in a Value (no default to omit) keeps its sign (as "-0.0": see
     * append_nonfinite). */
    Google__Protobuf__Value v = GOOGLE__PROTOBUF__VALUE__INIT;
    v.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    v.number_value = -0.0;
    struct kumo_buf b = KUMO_BUF_INIT;
    assert_int_equal(kumo_json_encode(&v.base, &b), 0);
    assert_string_equal((const char *)b.data, "-0.0");
    kumo_buf_reset(&b);
    v.number_value = -17;
    assert_int_equal(kumo_json_encode(&v.base, &b), 0);
    assert_string_equal((const char *)b.data, "-17");
    kumo_buf_free(&b);
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

/* The reference escaper: kumo_json_append_string before it skipped plain
 * 8-byte words, one byte at a time. */
static void ref_append_string(struct kumo_buf *b, const unsigned char *p, size_t len)
{
    kumo_buf_append_byte(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = 0;
        if (c >= 0xC2 && c <= 0xF4) {
            unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
            unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
            size_t need = c <= 0xDF ? 2 : c <= 0xEF ? 3 : 4;
            n = need;
            for (size_t k = 1; k < need; k++) {
                unsigned char d = i + k < len ? p[i + k] : 0;
                if (i + k >= len || (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF))) {
                    n = 0;
                    break;
                }
            }
        }
        if (n) {
            kumo_buf_append(b, p + i, n);
            i += n;
            continue;
        }
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            snprintf(esc, sizeof esc, "\\%c",
                     c == '\n'   ? 'n'
                     : c == '\r' ? 'r'
                     : c == '\t' ? 't'
                     : c == '\b' ? 'b'
                                 : 'f');
        else if (c >= 0x80)
            snprintf(esc, sizeof esc, "\\ufffd");
        else if (c < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            snprintf(esc, sizeof esc, "%c", c);
        kumo_buf_append_str(b, esc);
        i++;
    }
    kumo_buf_append_byte(b, '"');
}

/* The word-at-a-time escaper writes what the byte-at-a-time one did, for
 * strings of every length up to 40 made of plain ASCII with, at random
 * places, each kind of byte that needs care (quote, backslash, controls,
 * DEL, UTF-8 of every length, broken UTF-8). */
static void test_json_append_string_matches_bytewise(void **state)
{
    (void)state;
    static const unsigned char odd[] = {'"',  '\\', 0x00, 0x01, '\n', 0x1F, 0x20, 0x7F,
                                        0x80, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F,
                                        0x98, 0x80, 0xED, 0xA0, 0xFF, 0xC0, '~',  '!'};
    unsigned seed = 12345;
    unsigned char in[40];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 41);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = (seed >> 16) & 0x7FFF;
            in[i] = r % 4 == 0 ? odd[r / 4 % sizeof odd] : (unsigned char)(0x20 + r % 0x5F);
        }
        struct kumo_buf got = KUMO_BUF_INIT, want = KUMO_BUF_INIT;
        kumo_json_append_string(&got, (const char *)in, len);
        ref_append_string(&want, in, len);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        kumo_buf_free(&got);
        kumo_buf_free(&want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_codec_encode_empty_message),
        cmocka_unit_test(test_json_codec_encode_every_field_kind),
        cmocka_unit_test(test_json_codec_encode_appends),
        cmocka_unit_test(test_json_codec_encode_numbers),
        cmocka_unit_test(test_json_codec_encode_whole_doubles_as_printf),
        cmocka_unit_test(test_json_codec_encode_string_escapes),
        cmocka_unit_test(test_json_codec_encode_timestamps),
        cmocka_unit_test(test_json_codec_encode_durations),
        cmocka_unit_test(test_json_codec_encode_rejects_unrepresentable),
        cmocka_unit_test(test_json_codec_encode_unset_submessages_as_defaults),
        cmocka_unit_test(test_json_codec_round_trip_every_field_kind),
        cmocka_unit_test(test_json_codec_agrees_with_binary_unpack),
        cmocka_unit_test(test_json_codec_explicit_presence_label_optional),
        cmocka_unit_test(test_json_codec_echo_request),
        cmocka_unit_test(test_json_append_string_matches_bytewise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
