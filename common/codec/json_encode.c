/* Protobuf message -> canonical proto3 JSON (kumo_json_encode), and the
 * JSON string escaper other modules reuse (kumo_json_append_string). */
#include "codec/json_codec.h"
#include "codec/json_internal.h"

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/calendar.h"
#include "base/errors.h"

/* Encoding has no attacker-chosen depth of its own, but a message unpacked
 * from binary can be deep; this keeps the recursion bounded anyway. */
#define ENCODE_MAX_DEPTH 1000

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */

static int encode_message(struct kumo_buf *b, const ProtobufCMessage *m,
                          const ProtobufCMessageDescriptor *desc, int depth);

/* Length of the valid UTF-8 sequence at p (2..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t rem)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (rem < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
    return n;
}

/* Appends s[0..len) as a JSON string. protobuf-c does not check UTF-8 when
 * unpacking binary, so invalid sequences become U+FFFD: the output stays
 * valid JSON whatever the message holds. */
/* 1 if the 8 bytes at p are all printable ASCII other than '"' and '\\'
 * (copied verbatim): a word at a time, as most of what the BFF and the
 * codec write (ids, URLs, names) is. Each test is the classic "has a byte
 * below n" (x - n*ones) & ~x & highs, exact as to whether any byte is. */
static int plain_word(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t x, q, bs;
    memcpy(&x, p, sizeof x);
    q = x ^ (ones * '"');
    bs = x ^ (ones * '\\');
    uint64_t flag = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | x;
    return (flag & highs) == 0;
}

void kumo_json_append_string(struct kumo_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    kumo_buf_reserve(b, len + 2);
    kumo_buf_append_byte(b, '"');
    size_t run = 0; /* start of bytes copied verbatim */
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && plain_word(p + i)) {
            i += 8;
            continue;
        }
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq(p + i, len - i);
            if (n) {
                i += n;
                continue;
            }
        }
        kumo_buf_append(b, p + run, i - run);
        switch (c) {
        case '"':
            kumo_buf_append_str(b, "\\\"");
            break;
        case '\\':
            kumo_buf_append_str(b, "\\\\");
            break;
        case '\n':
            kumo_buf_append_str(b, "\\n");
            break;
        case '\r':
            kumo_buf_append_str(b, "\\r");
            break;
        case '\t':
            kumo_buf_append_str(b, "\\t");
            break;
        case '\b':
            kumo_buf_append_str(b, "\\b");
            break;
        case '\f':
            kumo_buf_append_str(b, "\\f");
            break;
        default:
            if (c >= 0x80) {
                kumo_buf_append_str(b, "\\ufffd");
            } else {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                kumo_buf_append(b, esc, sizeof(esc));
            }
        }
        i++;
        run = i;
    }
    kumo_buf_append(b, p + run, len - run);
    kumo_buf_append_byte(b, '"');
}

static int append_nonfinite(struct kumo_buf *b, double v)
{
    if (isnan(v))
        kumo_buf_append_str(b, "\"NaN\"");
    else if (isinf(v))
        kumo_buf_append_str(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else if (v == 0 && signbit(v))
        /* "-0" would read back as the integer 0 in many parsers (jansson
         * included): keep the sign with a fraction. */
        kumo_buf_append_str(b, "-0.0");
    else
        return 0;
    return 1;
}

/* Shortest of 15..17 significant digits that reads back exactly. */
static void append_double(struct kumo_buf *b, double v)
{
    char tmp[40];
    if (append_nonfinite(b, v))
        return;
    /* A whole number below 1e15 (counts, sizes: most numbers in metadata)
     * is its digits, exactly what "%.15g" prints, without printf and
     * strtod. -0 keeps its sign through the general path. */
    if (fabs(v) < 1e15 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
        kumo_buf_append_i64(b, (int64_t)v, 0);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    kumo_buf_append_str(b, tmp);
}

/* Shortest of 1..9 significant digits that reads back (through double, as
 * the decoder does) to the same float. */
static void append_float(struct kumo_buf *b, float v)
{
    char tmp[40];
    if (append_nonfinite(b, v))
        return;
    for (int prec = 1; prec <= 9; prec++) {
        float back;
        snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)v);
        if (kumo__json_double_to_float(strtod(tmp, NULL), &back) == 0 && back == v)
            break;
    }
    kumo_buf_append_str(b, tmp);
}

static void append_enum(struct kumo_buf *b, const ProtobufCEnumDescriptor *ed, int32_t v)
{
    if (kumo__json_is_null_value_enum(ed) && v == 0) {
        /* Any other number stays a number, or it would not read back. */
        kumo_buf_append_str(b, "null");
        return;
    }
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    if (ev != NULL)
        kumo_buf_appendf(b, "\"%s\"", ev->name);
    else
        kumo_buf_appendf(b, "%" PRId32, v); /* open enum: unknown numbers stay numbers */
}

/* Appends the value of type `t` stored at `p` (protobuf-c layout). */
static int encode_single(struct kumo_buf *b, ProtobufCType t, const void *typedesc, const void *p,
                         int depth)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        kumo_buf_append_i64(b, *(const int32_t *)p, 0);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        kumo_buf_append_decimal(b, *(const uint32_t *)p, 0, 0);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        kumo_buf_append_i64(b, *(const int64_t *)p, 1);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        kumo_buf_append_decimal(b, *(const uint64_t *)p, 0, 1);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        append_float(b, *(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        append_double(b, *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        kumo_buf_append_str(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM:
        append_enum(b, typedesc, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        kumo_json_append_string(b, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        kumo_buf_append_byte(b, '"');
        kumo_base64_encode(bd->data, bd->len, 0, 1, b);
        kumo_buf_append_byte(b, '"');
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return encode_message(b, *(const ProtobufCMessage *const *)p, typedesc, depth + 1);
    }
    return 0;
}

static int encode_repeated(struct kumo_buf *b, const ProtobufCMessage *m,
                           const ProtobufCFieldDescriptor *f, int depth)
{
    size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset);
    const char *arr = *(const char *const *)CMEMBER(m, f->offset);
    size_t es = kumo_pb_elem_size(f->type);
    kumo_buf_append_byte(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            kumo_buf_append_byte(b, ',');
        int rc = encode_single(b, f->type, f->descriptor, arr + i * es, depth);
        if (rc)
            return rc;
    }
    kumo_buf_append_byte(b, ']');
    return 0;
}

/* Appends a map key as a JSON object key (always a string). */
static void append_map_key(struct kumo_buf *b, const ProtobufCFieldDescriptor *kf, const void *p)
{
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        kumo_json_append_string(b, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        kumo_buf_append_str(b, *(const protobuf_c_boolean *)p ? "\"true\"" : "\"false\"");
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        kumo_buf_appendf(b, "\"%" PRId32 "\"", *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        kumo_buf_appendf(b, "\"%" PRIu32 "\"", *(const uint32_t *)p);
        break;
    default: /* 64-bit integers are already strings */
        encode_single(b, kf->type, NULL, p, 0);
    }
}

static int encode_map(struct kumo_buf *b, const ProtobufCMessage *m,
                      const ProtobufCFieldDescriptor *f, int depth)
{
    size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset);
    const ProtobufCMessage *const *arr =
        *(const ProtobufCMessage *const *const *)CMEMBER(m, f->offset);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    int first = 1;
    kumo_buf_append_byte(b, '{');
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *e = arr[i];
        if (e == NULL)
            continue;
        if (!first)
            kumo_buf_append_byte(b, ',');
        first = 0;
        append_map_key(b, kf, CMEMBER(e, kf->offset));
        kumo_buf_append_byte(b, ':');
        int rc = encode_single(b, vf->type, vf->descriptor, CMEMBER(e, vf->offset), depth);
        if (rc)
            return rc;
    }
    kumo_buf_append_byte(b, '}');
    return 0;
}

static int encode_field_value(struct kumo_buf *b, const ProtobufCMessage *m,
                              const ProtobufCFieldDescriptor *f, int depth)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return kumo__json_is_map_field(m->descriptor, f) ? encode_map(b, m, f, depth)
                                                         : encode_repeated(b, m, f, depth);
    return encode_single(b, f->type, f->descriptor, CMEMBER(m, f->offset), depth);
}

static int encode_fields(struct kumo_buf *b, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    int first = 1;
    kumo_buf_append_byte(b, '{');
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!kumo_pb_field_is_set(m, f))
            continue;
        if (!first)
            kumo_buf_append_byte(b, ',');
        first = 0;
        kumo_buf_append_byte(b, '"');
        kumo__json_append_name(b, f->name);
        kumo_buf_append_str(b, "\":");
        int rc = encode_field_value(b, m, f, depth);
        if (rc)
            return rc;
    }
    kumo_buf_append_byte(b, '}');
    return 0;
}

/* Appends ".fff", ".ffffff" or ".fffffffff" (0, 3, 6 or 9 digits). */
/* Writes v as exactly `width` decimal digits at p (zero-padded). Timestamps
 * are formatted by hand: printf parses its format on every call, and a
 * page of documents carries hundreds of timestamps. */
static void put_digits(char *p, uint32_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static void append_nanos(struct kumo_buf *b, int32_t nanos)
{
    if (nanos == 0)
        return;
    char frac[10];
    int width = 9;
    uint32_t v = (uint32_t)nanos;
    if (nanos % 1000000 == 0) {
        width = 3;
        v /= 1000000;
    } else if (nanos % 1000 == 0) {
        width = 6;
        v /= 1000;
    }
    frac[0] = '.';
    put_digits(frac + 1, v, width);
    kumo_buf_append(b, frac, (size_t)width + 1);
}

static int encode_timestamp(struct kumo_buf *b, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = m->descriptor->fields;
    int64_t secs = *(const int64_t *)CMEMBER(m, f[0].offset);
    int32_t nanos = *(const int32_t *)CMEMBER(m, f[1].offset);
    if (secs < TS_MIN_SECONDS || secs > TS_MAX_SECONDS || nanos < 0 || nanos > 999999999)
        return KUMO_ERR_INVALID;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned mo, d;
    kumo_civil_from_days(days, &y, &mo, &d);
    /* "YYYY-MM-DDTHH:MM:SS (years 1..9999: the range checked above) */
    char t[21] = "\"0000-00-00T00:00:00";
    put_digits(t + 1, (uint32_t)y, 4);
    put_digits(t + 6, mo, 2);
    put_digits(t + 9, d, 2);
    put_digits(t + 12, (uint32_t)(sod / 3600), 2);
    put_digits(t + 15, (uint32_t)(sod / 60 % 60), 2);
    put_digits(t + 18, (uint32_t)(sod % 60), 2);
    kumo_buf_append(b, t, sizeof t - 1);
    append_nanos(b, nanos);
    kumo_buf_append_str(b, "Z\"");
    return 0;
}

static int encode_duration(struct kumo_buf *b, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = m->descriptor->fields;
    int64_t secs = *(const int64_t *)CMEMBER(m, f[0].offset);
    int32_t nanos = *(const int32_t *)CMEMBER(m, f[1].offset);
    if (secs < -DUR_MAX_SECONDS || secs > DUR_MAX_SECONDS || nanos < -999999999 ||
        nanos > 999999999 || (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0))
        return KUMO_ERR_INVALID;
    int neg = secs < 0 || nanos < 0;
    kumo_buf_appendf(b, "\"%s%" PRId64, neg ? "-" : "", neg ? -secs : secs);
    append_nanos(b, neg ? -nanos : nanos);
    kumo_buf_append_str(b, "s\"");
    return 0;
}

/* lowerCamelCase of a snake_case FieldMask path, as protobuf-go does it;
 * fails when the result would not map back to the same path. */
static int append_mask_path(struct kumo_buf *b, const char *path)
{
    size_t start = b->len;
    int under = 0;
    for (const char *p = path; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            return KUMO_ERR_INVALID; /* would come back as "_x" */
        if (c == '_' && under)
            return KUMO_ERR_INVALID; /* "__" cannot come back */
        if (c != '_') {
            if (under && c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            else if (under)
                return KUMO_ERR_INVALID; /* "_" is only kept before a lowercase letter */
            kumo_buf_append_byte(b, (uint8_t)c);
        }
        under = c == '_';
    }
    if (under || *path == '\0' || strchr(path, ',') != NULL || strchr(path, '"') != NULL ||
        strchr(path, '\\') != NULL)
        return KUMO_ERR_INVALID;
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] < 0x20 || b->data[i] >= 0x7f)
            return KUMO_ERR_INVALID;
    return 0;
}

static int encode_field_mask(struct kumo_buf *b, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = &m->descriptor->fields[0];
    size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset);
    char *const *paths = *(char *const *const *)CMEMBER(m, f->offset);
    kumo_buf_append_byte(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (i)
            kumo_buf_append_byte(b, ',');
        if (append_mask_path(b, paths[i] ? paths[i] : "") != 0)
            return KUMO_ERR_INVALID;
    }
    kumo_buf_append_byte(b, '"');
    return 0;
}

static int encode_value(struct kumo_buf *b, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!kumo_pb_field_is_set(m, f))
            continue;
        if (f->type == PROTOBUF_C_TYPE_DOUBLE && !isfinite(*(const double *)CMEMBER(m, f->offset)))
            return KUMO_ERR_INVALID; /* a JSON number cannot be NaN or infinite */
        /* Value is transparent: its contents sit at the same depth. */
        return encode_single(b, f->type, f->descriptor, CMEMBER(m, f->offset), depth - 1);
    }
    kumo_buf_append_str(b, "null"); /* no kind set: the closest JSON has */
    return 0;
}

static int encode_default(struct kumo_buf *b, const ProtobufCMessageDescriptor *desc, int depth)
{
    ProtobufCMessage *m = kumo_malloc(desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    int rc = encode_message(b, m, desc, depth);
    kumo_free(m);
    return rc;
}

static int encode_message(struct kumo_buf *b, const ProtobufCMessage *m,
                          const ProtobufCMessageDescriptor *desc, int depth)
{
    if (depth > ENCODE_MAX_DEPTH)
        return KUMO_ERR_TOO_LARGE;
    if (m == NULL) /* unset sub-message in a map value, oneof or list */
        return encode_default(b, desc, depth);
    switch (kumo__json_wkt_of(m->descriptor)) {
    case WKT_TIMESTAMP:
        return encode_timestamp(b, m);
    case WKT_DURATION:
        return encode_duration(b, m);
    case WKT_WRAPPER: {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[0];
        return encode_single(b, f->type, f->descriptor, CMEMBER(m, f->offset), depth);
    }
    case WKT_STRUCT:
        return encode_map(b, m, &m->descriptor->fields[0], depth);
    case WKT_LIST_VALUE:
        return encode_repeated(b, m, &m->descriptor->fields[0], depth);
    case WKT_VALUE:
        return encode_value(b, m, depth);
    case WKT_FIELD_MASK:
        return encode_field_mask(b, m);
    case WKT_ANY:
        return KUMO_ERR_UNSUPPORTED;
    case WKT_NONE:
        break;
    }
    return encode_fields(b, m, depth);
}

int kumo_json_encode(const ProtobufCMessage *msg, struct kumo_buf *out)
{
    size_t start = out->len;
    int rc = encode_message(out, msg, msg->descriptor, 1);
    if (rc != 0) {
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
    }
    return rc;
}
