#include "codec/json_codec.h"

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
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
/* Path segments kept for error messages: two per nesting level is enough. */
#define PATH_MAX_SEGS (2 * KUMO_JSON_MAX_DEPTH + 8)
/* Longest field name or map key quoted in an error message. */
#define ERR_NAME_MAX 64

#define MEMBER(msg, off)  ((void *)((char *)(msg) + (off)))
#define CMEMBER(msg, off) ((const void *)((const char *)(msg) + (off)))

/* Timestamp range the JSON mapping allows: 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999999999Z. */
#define TS_MIN_SECONDS (-62135596800LL)
#define TS_MAX_SECONDS 253402300799LL
/* Duration range: +-10000 years. */
#define DUR_MAX_SECONDS 315576000000LL

enum wkt {
    WKT_NONE,
    WKT_TIMESTAMP,
    WKT_DURATION,
    WKT_WRAPPER,
    WKT_STRUCT,
    WKT_VALUE,
    WKT_LIST_VALUE,
    WKT_FIELD_MASK,
    WKT_ANY,
};

/* ------------------------------------------------------------------------ */
/* Descriptor helpers                                                        */

static int is_integral_key_type(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_FLOAT && t != PROTOBUF_C_TYPE_DOUBLE && t != PROTOBUF_C_TYPE_ENUM &&
           t != PROTOBUF_C_TYPE_BYTES && t != PROTOBUF_C_TYPE_MESSAGE &&
           t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BOOL;
}

/* Matches the camel-case form of the proto name `proto` ('_' dropped, the
 * letter after it upper-cased; the first letter too when `cap_first`) at the
 * start of `s`. Returns what follows the match in `s`, or NULL. */
static const char *camel_prefix(const char *proto, const char *s, int cap_first)
{
    int cap = cap_first;
    for (; *proto; proto++) {
        char c = *proto;
        if (c == '_') {
            cap = 1;
            continue;
        }
        if (cap && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        cap = 0;
        if (*s++ != c)
            return NULL;
    }
    return s;
}

/* Whether `entry` is named like protoc names the entry of map field
 * `field`: the field name in UpperCamelCase followed by "Entry". */
static int is_map_entry_name(const char *entry, const char *field)
{
    const char *rest = camel_prefix(field, entry, 1);
    return rest != NULL && strcmp(rest, "Entry") == 0;
}

/* protobuf-c descriptors lose the map_entry option, so a map is recognised
 * by the shape protoc gives it: a repeated message nested in the parent,
 * named after the field, with exactly key = 1 and value = 2. */
static int is_map_field(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const ProtobufCMessageDescriptor *e = f->descriptor;
    if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 ||
        strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0 ||
        e->fields[0].label == PROTOBUF_C_LABEL_REPEATED ||
        e->fields[1].label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    ProtobufCType kt = e->fields[0].type;
    if (!is_integral_key_type(kt) && kt != PROTOBUF_C_TYPE_STRING && kt != PROTOBUF_C_TYPE_BOOL)
        return 0;
    size_t pl = strlen(parent->name);
    if (strncmp(e->name, parent->name, pl) != 0 || e->name[pl] != '.')
        return 0;
    return is_map_entry_name(e->name + pl + 1, f->name);
}

static int is_wrapper_name(const char *n)
{
    static const char *const names[] = {"DoubleValue", "FloatValue",  "Int64Value",
                                        "UInt64Value", "Int32Value",  "UInt32Value",
                                        "BoolValue",   "StringValue", "BytesValue"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(n, names[i]) == 0)
            return 1;
    return 0;
}

/* Which well-known type `desc` is, checking the shape too so that a look-alike
 * with other fields is treated as an ordinary message. */
static enum wkt wkt_of(const ProtobufCMessageDescriptor *desc)
{
    if (desc->package_name == NULL || strcmp(desc->package_name, "google.protobuf") != 0)
        return WKT_NONE;
    const char *n = desc->short_name;
    const ProtobufCFieldDescriptor *f = desc->fields;
    unsigned nf = desc->n_fields;
    if (strcmp(n, "Timestamp") == 0 || strcmp(n, "Duration") == 0) {
        if (nf == 2 && f[0].type == PROTOBUF_C_TYPE_INT64 && f[1].type == PROTOBUF_C_TYPE_INT32 &&
            f[0].label != PROTOBUF_C_LABEL_REPEATED && f[1].label != PROTOBUF_C_LABEL_REPEATED)
            return n[0] == 'T' ? WKT_TIMESTAMP : WKT_DURATION;
        return WKT_NONE;
    }
    if (is_wrapper_name(n))
        return nf == 1 && f[0].label != PROTOBUF_C_LABEL_REPEATED ? WKT_WRAPPER : WKT_NONE;
    if (strcmp(n, "Struct") == 0)
        return nf == 1 && is_map_field(desc, &f[0]) ? WKT_STRUCT : WKT_NONE;
    if (strcmp(n, "ListValue") == 0)
        return nf == 1 && f[0].label == PROTOBUF_C_LABEL_REPEATED &&
                       f[0].type == PROTOBUF_C_TYPE_MESSAGE
                   ? WKT_LIST_VALUE
                   : WKT_NONE;
    if (strcmp(n, "Value") == 0) {
        for (unsigned i = 0; i < nf; i++)
            if (!(f[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
                return WKT_NONE;
        return nf == 6 ? WKT_VALUE : WKT_NONE;
    }
    if (strcmp(n, "FieldMask") == 0)
        return nf == 1 && f[0].label == PROTOBUF_C_LABEL_REPEATED &&
                       f[0].type == PROTOBUF_C_TYPE_STRING
                   ? WKT_FIELD_MASK
                   : WKT_NONE;
    if (strcmp(n, "Any") == 0)
        return WKT_ANY;
    return WKT_NONE;
}

static int is_null_value_enum(const ProtobufCEnumDescriptor *ed)
{
    return strcmp(ed->name, "google.protobuf.NullValue") == 0;
}

/* Whether JSON null is a value of this (singular) type rather than "unset":
 * only google.protobuf.Value and google.protobuf.NullValue. */
static int type_takes_null(ProtobufCType t, const void *typedesc)
{
    if (t == PROTOBUF_C_TYPE_MESSAGE)
        return wkt_of(typedesc) == WKT_VALUE;
    if (t == PROTOBUF_C_TYPE_ENUM)
        return is_null_value_enum(typedesc);
    return 0;
}

/* Size of one element of a repeated field of type `t` in protobuf-c's
 * layout. */
static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default: /* 32-bit integers, enums, float */
        return 4;
    }
}

/* Whether `f` counts as set in `m`, following protobuf-c's own packing rules
 * (so JSON and binary agree): explicit presence (oneof case, has_ flag,
 * non-NULL pointer) where the field has it, non-default value otherwise. */
static int field_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *p = CMEMBER(m, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *)CMEMBER(m, f->quantifier_offset) > 0;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)CMEMBER(m, f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return 1;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const void *ptr = *(const void *const *)p;
            return ptr != NULL && ptr != f->default_value;
        }
        return *(const protobuf_c_boolean *)CMEMBER(m, f->quantifier_offset) != 0;
    }
    switch (f->type) { /* proto3 implicit presence */
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(const void *const *)p != NULL;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p != 0;
    default:
        return elem_size(f->type) == 8 ? *(const uint64_t *)p != 0 : *(const uint32_t *)p != 0;
    }
}

/* Marks a just-decoded non-oneof field present where protobuf-c keeps a
 * has_ flag (proto2/proto3-optional scalars and bytes). */
static void mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
}

/* ------------------------------------------------------------------------ */
/* Numbers and time                                                         */

/* Converts to float as the JSON mapping does: values that round to a finite
 * float are accepted (even a hair above FLT_MAX), larger ones are out of
 * range. Non-finite values pass through. Returns 0 or -1. */
static int double_to_float(double d, float *out)
{
    /* FLT_MAX plus half an ulp (2^103): anything below rounds to FLT_MAX. */
    const double limit = 0x1.ffffffp127;
    if (isfinite(d) && fabs(d) > FLT_MAX) {
        if (fabs(d) >= limit)
            return -1;
        *out = d < 0 ? -FLT_MAX : FLT_MAX;
        return 0;
    }
    *out = (float)d;
    return 0;
}

/* Whether s[0..len) is a JSON number (RFC 8259 grammar, nothing around). On
 * success sets the digit ranges and the exponent (saturated). */
struct numparts {
    const char *ip, *fp; /* integer and fraction digits */
    size_t ni, nf;
    long long exp;
    int neg;
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(const char *s, size_t len, struct numparts *np)
{
    size_t i = 0;
    memset(np, 0, sizeof(*np));
    if (i < len && s[i] == '-') {
        np->neg = 1;
        i++;
    }
    if (i >= len || !is_digit(s[i]))
        return -1;
    np->ip = s + i;
    if (s[i] == '0')
        i++;
    else
        while (i < len && is_digit(s[i]))
            i++;
    np->ni = (size_t)(s + i - np->ip);
    if (i < len && s[i] == '.') {
        i++;
        np->fp = s + i;
        while (i < len && is_digit(s[i]))
            i++;
        np->nf = (size_t)(s + i - np->fp);
        if (np->nf == 0)
            return -1;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= len || !is_digit(s[i]))
            return -1;
        for (; i < len && is_digit(s[i]); i++)
            if (np->exp < 1000000000LL)
                np->exp = np->exp * 10 + (s[i] - '0');
        if (eneg)
            np->exp = -np->exp;
    }
    return i == len ? 0 : -1;
}

enum { NUM_OK = 0, NUM_SYNTAX = -1, NUM_FRACTION = -2, NUM_RANGE = -3 };

/* Digit k of the concatenated integer and fraction digits. */
static int np_digit(const struct numparts *np, size_t k)
{
    return k < np->ni ? np->ip[k] - '0' : np->fp[k - np->ni] - '0';
}

/* Parses a JSON number written as a string exactly (no detour through
 * double), requiring an integral value: "12", "-3", "1e3", "1.50e1" all work.
 * Sets the sign and magnitude. */
static int parse_integral(const char *s, size_t len, int *neg, uint64_t *mag)
{
    struct numparts np;
    if (scan_number(s, len, &np) != 0)
        return NUM_SYNTAX;
    size_t nd = np.ni + np.nf, first = nd, last = 0;
    for (size_t k = 0; k < nd; k++)
        if (np_digit(&np, k) != 0) {
            if (first == nd)
                first = k;
            last = k;
        }
    *neg = np.neg;
    *mag = 0;
    if (first == nd) /* zero, whatever the exponent */
        return NUM_OK;
    /* value = digits[first..last] * 10^scale */
    long long scale = np.exp - (long long)np.nf + (long long)(nd - 1 - last);
    if (scale < 0)
        return NUM_FRACTION;
    if ((long long)(last - first + 1) + scale > 20)
        return NUM_RANGE;
    uint64_t v = 0;
    for (long long k = (long long)first; k <= (long long)last + scale; k++) {
        unsigned dgt = k <= (long long)last ? (unsigned)np_digit(&np, (size_t)k) : 0;
        if (v > (UINT64_MAX - dgt) / 10)
            return NUM_RANGE;
        v = v * 10 + dgt;
    }
    *mag = v;
    return NUM_OK;
}

/* Parses a JSON number written as a string as a double; "NaN", "Infinity"
 * and "-Infinity" too. */
static int parse_double_string(const char *s, size_t len, double *out)
{
    if (len == 3 && memcmp(s, "NaN", 3) == 0) {
        *out = NAN;
        return NUM_OK;
    }
    if (len == 8 && memcmp(s, "Infinity", 8) == 0) {
        *out = INFINITY;
        return NUM_OK;
    }
    if (len == 9 && memcmp(s, "-Infinity", 9) == 0) {
        *out = -INFINITY;
        return NUM_OK;
    }
    struct numparts np;
    if (scan_number(s, len, &np) != 0)
        return NUM_SYNTAX;
    char tmp[64];
    char *buf = len < sizeof(tmp) ? tmp : kumo_malloc(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    double d = strtod(buf, NULL);
    if (buf != tmp)
        kumo_free(buf);
    if (isinf(d))
        return NUM_RANGE;
    *out = d;
    return NUM_OK;
}

/* Reads exactly `n` digits at s[*i]; returns the value or -1. */
static long read_digits(const char *s, size_t len, size_t *i, size_t n)
{
    long v = 0;
    if (*i + n > len)
        return -1;
    for (size_t k = 0; k < n; k++) {
        char c = s[*i + k];
        if (!is_digit(c))
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += n;
    return v;
}

/* Reads ".d{1,9}" if present, as nanoseconds. Returns 0 or -1. */
static int read_fraction(const char *s, size_t len, size_t *i, int32_t *nanos)
{
    *nanos = 0;
    if (*i >= len || s[*i] != '.')
        return 0;
    (*i)++;
    size_t n = 0;
    int32_t v = 0;
    while (*i < len && is_digit(s[*i])) {
        if (++n > 9)
            return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    if (n == 0)
        return -1;
    while (n++ < 9)
        v *= 10;
    *nanos = v;
    return 0;
}

/* Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|+HH:MM|-HH:MM)" within
 * the Timestamp range. Returns 0 or -1. */
static int parse_timestamp(const char *s, size_t len, int64_t *secs, int32_t *nanos)
{
    size_t i = 0;
    long y = read_digits(s, len, &i, 4);
    if (y < 0 || i >= len || s[i++] != '-')
        return -1;
    long mo = read_digits(s, len, &i, 2);
    if (mo < 1 || mo > 12 || i >= len || s[i++] != '-')
        return -1;
    long d = read_digits(s, len, &i, 2);
    if (d < 1 || d > kumo_days_in_month(y, (unsigned)mo) || i >= len || s[i++] != 'T')
        return -1;
    long h = read_digits(s, len, &i, 2);
    if (h < 0 || h > 23 || i >= len || s[i++] != ':')
        return -1;
    long mi = read_digits(s, len, &i, 2);
    if (mi < 0 || mi > 59 || i >= len || s[i++] != ':')
        return -1;
    long se = read_digits(s, len, &i, 2);
    if (se < 0 || se > 59 || read_fraction(s, len, &i, nanos) != 0 || i >= len)
        return -1;
    long off = 0;
    if (s[i] == 'Z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i++] == '-' ? -1 : 1;
        long oh = read_digits(s, len, &i, 2);
        if (oh < 0 || oh > 23 || i >= len || s[i++] != ':')
            return -1;
        long om = read_digits(s, len, &i, 2);
        if (om < 0 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    int64_t t =
        kumo_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    t -= off;
    if (t < TS_MIN_SECONDS || t > TS_MAX_SECONDS)
        return -1;
    *secs = t;
    return 0;
}

/* Parses "-?\d+(\.\d{1,9})?s" within the Duration range. */
static int parse_duration(const char *s, size_t len, int64_t *secs, int32_t *nanos)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    size_t start = i;
    int64_t v = 0;
    while (i < len && is_digit(s[i])) {
        v = v * 10 + (s[i++] - '0');
        if (v > DUR_MAX_SECONDS)
            return -1;
    }
    if (i == start || read_fraction(s, len, &i, nanos) != 0)
        return -1;
    if (i + 1 != len || s[i] != 's')
        return -1;
    *secs = neg ? -v : v;
    if (neg)
        *nanos = -*nanos;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */

static int encode_message(struct kumo_buf *b, const ProtobufCMessage *m,
                          const ProtobufCMessageDescriptor *desc, int depth);

static void append_json_name(struct kumo_buf *b, const char *name)
{
    int up = 0;
    for (; *name; name++) {
        char c = *name;
        if (c == '_') {
            up = 1;
            continue;
        }
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = 0;
        kumo_buf_append_byte(b, (uint8_t)c);
    }
}

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
void kumo_json_append_string(struct kumo_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    kumo_buf_reserve(b, len + 2);
    kumo_buf_append_byte(b, '"');
    size_t run = 0; /* start of bytes copied verbatim */
    size_t i = 0;
    while (i < len) {
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
        if (double_to_float(strtod(tmp, NULL), &back) == 0 && back == v)
            break;
    }
    kumo_buf_append_str(b, tmp);
}

static void append_enum(struct kumo_buf *b, const ProtobufCEnumDescriptor *ed, int32_t v)
{
    if (is_null_value_enum(ed) && v == 0) {
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
        kumo_buf_appendf(b, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        kumo_buf_appendf(b, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        kumo_buf_appendf(b, "\"%" PRId64 "\"", *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        kumo_buf_appendf(b, "\"%" PRIu64 "\"", *(const uint64_t *)p);
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
    size_t es = elem_size(f->type);
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
        return is_map_field(m->descriptor, f) ? encode_map(b, m, f, depth)
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
        if (!field_is_set(m, f))
            continue;
        if (!first)
            kumo_buf_append_byte(b, ',');
        first = 0;
        kumo_buf_append_byte(b, '"');
        append_json_name(b, f->name);
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
        if (!field_is_set(m, f))
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
    switch (wkt_of(m->descriptor)) {
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

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */

enum seg_kind { SEG_FIELD, SEG_INDEX, SEG_KEY };

struct dec {
    ProtobufCAllocator *alloc;
    struct kumo_buf scratch; /* base64 output */
    struct kumo_buf err;     /* the error message, once there is one */
    struct {
        enum seg_kind kind;
        const char *name;
        size_t index;
    } path[PATH_MAX_SEGS];
    size_t npath;
};

static int decode_message(struct dec *d, const ProtobufCMessageDescriptor *desc, json_t *v,
                          ProtobufCMessage **slot, int depth);

static void *dalloc(struct dec *d, size_t size)
{
    void *p = d->alloc->alloc(d->alloc->allocator_data, size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "kumo: json_codec: allocator returned NULL for %zu bytes\n", size);
        abort();
    }
    return p;
}

static char *dstrndup(struct dec *d, const char *s, size_t n)
{
    char *p = dalloc(d, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void path_push(struct dec *d, enum seg_kind kind, const char *name, size_t index)
{
    if (d->npath < PATH_MAX_SEGS) {
        d->path[d->npath].kind = kind;
        d->path[d->npath].name = name;
        d->path[d->npath].index = index;
    }
    d->npath++;
}

static void path_pop(struct dec *d)
{
    d->npath--;
}

/* Appends a name from the input for an error message: clipped (at a UTF-8
 * boundary) and with control characters replaced. */
static void append_clipped(struct kumo_buf *b, const char *s)
{
    size_t n = strlen(s), cut = n;
    if (n > ERR_NAME_MAX) {
        cut = ERR_NAME_MAX;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)s[i];
        kumo_buf_append_byte(b, c < 0x20 || c == 0x7f || c == '"' ? '?' : c);
    }
    if (cut < n)
        kumo_buf_append_str(b, "...");
}

static void append_path(struct kumo_buf *b, const struct dec *d)
{
    size_t n = d->npath < PATH_MAX_SEGS ? d->npath : PATH_MAX_SEGS;
    for (size_t i = 0; i < n; i++) {
        switch (d->path[i].kind) {
        case SEG_FIELD:
            if (i)
                kumo_buf_append_byte(b, '.');
            append_clipped(b, d->path[i].name);
            break;
        case SEG_INDEX:
            kumo_buf_appendf(b, "[%zu]", d->path[i].index);
            break;
        case SEG_KEY:
            kumo_buf_append_byte(b, '[');
            append_clipped(b, d->path[i].name);
            kumo_buf_append_byte(b, ']');
            break;
        }
    }
}

/* Records an error at the current path and returns KUMO_ERR_INVALID. */
__attribute__((format(printf, 2, 3))) static int fail(struct dec *d, const char *fmt, ...)
{
    va_list ap;
    kumo_buf_reset(&d->err);
    if (d->npath > 0) {
        kumo_buf_append_str(&d->err, "field \"");
        append_path(&d->err, d);
        kumo_buf_append_str(&d->err, "\": ");
    }
    va_start(ap, fmt);
    kumo_buf_vappendf(&d->err, fmt, ap);
    va_end(ap);
    return KUMO_ERR_INVALID;
}

static int num_fail(struct dec *d, int rc, const char *type)
{
    if (rc == NUM_FRACTION)
        return fail(d, "%s must be a whole number", type);
    if (rc == NUM_RANGE)
        return fail(d, "value out of range for %s", type);
    return fail(d, "expected an integer (%s)", type);
}

static const char *int_type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
        return "int32";
    case PROTOBUF_C_TYPE_SINT32:
        return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
        return "sfixed32";
    case PROTOBUF_C_TYPE_UINT32:
        return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
        return "fixed32";
    case PROTOBUF_C_TYPE_INT64:
        return "int64";
    case PROTOBUF_C_TYPE_SINT64:
        return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
        return "sfixed64";
    case PROTOBUF_C_TYPE_UINT64:
        return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
        return "fixed64";
    case PROTOBUF_C_TYPE_ENUM:
        return "enum";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    default:
        return "string";
    }
}

/* Reads an integer given as a JSON number or a string into sign and
 * magnitude. */
static int json_integral(struct dec *d, const json_t *v, const char *type, int *neg, uint64_t *mag)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        *neg = i < 0;
        *mag = i < 0 ? (uint64_t)(-(i + 1)) + 1 : (uint64_t)i;
        return 0;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x != floor(x))
            return num_fail(d, NUM_FRACTION, type);
        if (fabs(x) >= 0x1p64)
            return num_fail(d, NUM_RANGE, type);
        *neg = x < 0;
        *mag = (uint64_t)fabs(x);
        return 0;
    }
    if (json_is_string(v)) {
        int rc = parse_integral(json_string_value(v), json_string_length(v), neg, mag);
        return rc ? num_fail(d, rc, type) : 0;
    }
    return num_fail(d, NUM_SYNTAX, type);
}

static int check_signed(struct dec *d, int neg, uint64_t mag, uint64_t max, const char *type,
                        int64_t *out)
{
    if (mag > max + (uint64_t)neg)
        return num_fail(d, NUM_RANGE, type);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag; /* two's complement, -2^63 included */
    return 0;
}

static int check_unsigned(struct dec *d, int neg, uint64_t mag, uint64_t max, const char *type,
                          uint64_t *out)
{
    if ((neg && mag != 0) || mag > max)
        return num_fail(d, NUM_RANGE, type);
    *out = mag;
    return 0;
}

/* Decodes an integer of type `t` from sign and magnitude into `p`. */
static int store_integer(struct dec *d, ProtobufCType t, int neg, uint64_t mag, void *p)
{
    int64_t s = 0;
    uint64_t u = 0;
    int rc;
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        rc = check_signed(d, neg, mag, INT32_MAX, int_type_name(t), &s);
        if (rc == 0)
            *(int32_t *)p = (int32_t)s;
        return rc;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        rc = check_unsigned(d, neg, mag, UINT32_MAX, int_type_name(t), &u);
        if (rc == 0)
            *(uint32_t *)p = (uint32_t)u;
        return rc;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = check_signed(d, neg, mag, INT64_MAX, int_type_name(t), &s);
        if (rc == 0)
            *(int64_t *)p = s;
        return rc;
    default:
        rc = check_unsigned(d, neg, mag, UINT64_MAX, int_type_name(t), &u);
        if (rc == 0)
            *(uint64_t *)p = u;
        return rc;
    }
}

static int decode_integer(struct dec *d, ProtobufCType t, const json_t *v, void *p)
{
    int neg;
    uint64_t mag;
    int rc = json_integral(d, v, int_type_name(t), &neg, &mag);
    return rc ? rc : store_integer(d, t, neg, mag, p);
}

static int decode_double(struct dec *d, const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        int rc = parse_double_string(json_string_value(v), json_string_length(v), out);
        if (rc == NUM_RANGE)
            return fail(d, "value out of range for double");
        if (rc != 0)
            return fail(d, "expected a number");
        return 0;
    }
    return fail(d, "expected a number");
}

static int decode_enum(struct dec *d, const ProtobufCEnumDescriptor *ed, const json_t *v,
                       int32_t *out)
{
    if (json_is_null(v) && is_null_value_enum(ed)) {
        *out = 0;
        return 0;
    }
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        if (ev == NULL) {
            fail(d, "unknown value \"");
            append_clipped(&d->err, json_string_value(v));
            kumo_buf_appendf(&d->err, "\" for enum %s", ed->name);
            return KUMO_ERR_INVALID;
        }
        *out = ev->value;
        return 0;
    }
    if (json_is_number(v))
        return decode_integer(d, PROTOBUF_C_TYPE_ENUM, v, out);
    return fail(d, "expected an enum name or number");
}

static int decode_bytes(struct dec *d, const json_t *v, ProtobufCBinaryData *out)
{
    if (!json_is_string(v))
        return fail(d, "expected a base64 string");
    kumo_buf_reset(&d->scratch);
    if (kumo_base64_decode(json_string_value(v), json_string_length(v), &d->scratch) != 0)
        return fail(d, "invalid base64");
    out->len = d->scratch.len;
    out->data = NULL;
    if (out->len > 0) {
        out->data = dalloc(d, out->len);
        memcpy(out->data, d->scratch.data, out->len);
    }
    return 0;
}

/* Decodes a JSON value of type `t` into the storage at `p`. */
static int decode_single(struct dec *d, ProtobufCType t, const void *typedesc, json_t *v, void *p,
                         int depth)
{
    switch (t) {
    case PROTOBUF_C_TYPE_FLOAT: {
        double x;
        int rc = decode_double(d, v, &x);
        if (rc == 0 && double_to_float(x, p) != 0)
            rc = fail(d, "value out of range for float");
        return rc;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        return decode_double(d, v, p);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return fail(d, "expected true or false");
        *(protobuf_c_boolean *)p = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return decode_enum(d, typedesc, v, p);
    case PROTOBUF_C_TYPE_STRING:
        if (!json_is_string(v))
            return fail(d, "expected a string");
        *(char **)p = dstrndup(d, json_string_value(v), json_string_length(v));
        return 0;
    case PROTOBUF_C_TYPE_BYTES:
        return decode_bytes(d, v, p);
    case PROTOBUF_C_TYPE_MESSAGE:
        return decode_message(d, typedesc, v, p, depth);
    default:
        return decode_integer(d, t, v, p);
    }
}

/* A list element or map value of type `t`: null only where the type itself
 * has a null (Value, NullValue). */
static int decode_element(struct dec *d, ProtobufCType t, const void *typedesc, json_t *v, void *p,
                          int depth)
{
    if (json_is_null(v) && !type_takes_null(t, typedesc))
        return fail(d, "null is not allowed here");
    return decode_single(d, t, typedesc, v, p, depth);
}

static int decode_repeated(struct dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                           json_t *v, int depth)
{
    if (!json_is_array(v))
        return fail(d, "expected an array");
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    size_t es = elem_size(f->type);
    size_t *count = MEMBER(m, f->quantifier_offset);
    char *arr = dalloc(d, n * es);
    memset(arr, 0, n * es);
    *(void **)MEMBER(m, f->offset) = arr;
    for (size_t i = 0; i < n; i++) {
        path_push(d, SEG_INDEX, NULL, i);
        void *slot = arr + i * es;
        int rc = decode_element(d, f->type, f->descriptor, json_array_get(v, i), slot, depth);
        path_pop(d);
        /* Count what protobuf_c_message_free_unpacked must release: a failed
         * scalar or string allocated nothing, a failed message may have. */
        if (rc == 0 || (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void **)slot != NULL))
            *count = i + 1;
        if (rc)
            return rc;
    }
    return 0;
}

static int decode_map_key(struct dec *d, const ProtobufCFieldDescriptor *kf, const char *key,
                          void *p)
{
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        *(char **)p = dstrndup(d, key, strlen(key));
        return 0;
    }
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return fail(d, "map key must be \"true\" or \"false\"");
        *(protobuf_c_boolean *)p = key[0] == 't';
        return 0;
    }
    int neg;
    uint64_t mag;
    int rc = parse_integral(key, strlen(key), &neg, &mag);
    if (rc != 0)
        return fail(d, "map key must be an integer (%s)", int_type_name(kf->type));
    return store_integer(d, kf->type, neg, mag, p);
}

/* Reads an integer or bool map key as 64 bits (signed keys sign-extended). */
static uint64_t key_bits(const ProtobufCMessage *e, const ProtobufCFieldDescriptor *kf)
{
    const void *p = CMEMBER(e, kf->offset);
    switch (kf->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p != 0;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return (uint64_t)(int64_t) * (const int32_t *)p;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)p;
    default:
        return *(const uint64_t *)p;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* JSON objects cannot repeat a key, but "1" and "01" are the same int32 key:
 * reject that like protobuf-go does, rather than keep two entries (which
 * would encode as a duplicate key). Sorting keeps it O(n log n). */
static int check_duplicate_keys(struct dec *d, const ProtobufCFieldDescriptor *kf,
                                ProtobufCMessage **entries, size_t n)
{
    if (kf->type == PROTOBUF_C_TYPE_STRING || n < 2)
        return 0; /* string keys are distinct JSON keys already */
    uint64_t *keys = kumo_malloc(n * sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = key_bits(entries[i], kf);
    qsort(keys, n, sizeof(*keys), cmp_u64);
    size_t i = 1;
    while (i < n && keys[i] != keys[i - 1])
        i++;
    int rc = 0;
    if (i < n) {
        uint64_t k = keys[i];
        if (kf->type == PROTOBUF_C_TYPE_BOOL)
            rc = fail(d, "duplicate map key %s", k ? "true" : "false");
        else if (kf->type == PROTOBUF_C_TYPE_UINT32 || kf->type == PROTOBUF_C_TYPE_FIXED32 ||
                 kf->type == PROTOBUF_C_TYPE_UINT64 || kf->type == PROTOBUF_C_TYPE_FIXED64)
            rc = fail(d, "duplicate map key %" PRIu64, k);
        else
            rc = fail(d, "duplicate map key %" PRId64, (int64_t)k);
    }
    kumo_free(keys);
    return rc;
}

static int decode_map(struct dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                      json_t *v, int depth)
{
    if (!json_is_object(v))
        return fail(d, "expected an object");
    size_t n = json_object_size(v);
    if (n == 0)
        return 0;
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    size_t *count = MEMBER(m, f->quantifier_offset);
    ProtobufCMessage **arr = dalloc(d, n * sizeof(*arr));
    *(ProtobufCMessage ***)MEMBER(m, f->offset) = arr;
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(v, key, val)
    {
        ProtobufCMessage *e = dalloc(d, ed->sizeof_message);
        protobuf_c_message_init(ed, e);
        arr[(*count)++] = e;
        path_push(d, SEG_KEY, key, 0);
        rc = decode_map_key(d, kf, key, MEMBER(e, kf->offset));
        if (rc == 0)
            rc = decode_element(d, vf->type, vf->descriptor, val, MEMBER(e, vf->offset), depth);
        path_pop(d);
        if (rc)
            return rc;
        mark_present(e, kf);
        mark_present(e, vf);
    }
    return check_duplicate_keys(d, kf, arr, *count);
}

/* Whether JSON key `key` is the lowerCamelCase form of `proto`. */
static int json_name_eq(const char *proto, const char *key)
{
    const char *rest = camel_prefix(proto, key, 0);
    return rest != NULL && *rest == '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (json_name_eq(desc->fields[i].name, key))
            return &desc->fields[i];
    return protobuf_c_message_descriptor_get_field_by_name(desc, key);
}

static int decode_field(struct dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                        json_t *v, int depth)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (json_is_null(v))
            return 0;
        return is_map_field(m->descriptor, f) ? decode_map(d, m, f, v, depth)
                                              : decode_repeated(d, m, f, v, depth);
    }
    if (json_is_null(v) && !type_takes_null(f->type, f->descriptor))
        return 0; /* null means default: leave the field unset */
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *c = MEMBER(m, f->quantifier_offset);
        if (*c != 0) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(m->descriptor, *c);
            fail(d, "oneof member \"");
            append_json_name(&d->err, other ? other->name : "?");
            kumo_buf_append_str(&d->err, "\" is already set");
            return KUMO_ERR_INVALID;
        }
        *c = f->id; /* before the value, so a half-decoded member is freed */
    }
    int rc = decode_single(d, f->type, f->descriptor, v, MEMBER(m, f->offset), depth);
    if (rc == 0)
        mark_present(m, f);
    return rc;
}

static int decode_fields(struct dec *d, ProtobufCMessage *m, json_t *obj, int depth)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    uint64_t seen_small[4] = {0};
    size_t words = (desc->n_fields + 63) / 64;
    uint64_t *seen = words <= 4 ? seen_small : kumo_calloc(words, sizeof(uint64_t));
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(obj, key, val)
    {
        const ProtobufCFieldDescriptor *f = find_field(desc, key);
        if (f == NULL) {
            kumo_buf_reset(&d->err);
            kumo_buf_append_str(&d->err, "unknown field \"");
            append_path(&d->err, d);
            if (d->npath > 0)
                kumo_buf_append_byte(&d->err, '.');
            append_clipped(&d->err, key);
            kumo_buf_append_byte(&d->err, '"');
            rc = KUMO_ERR_INVALID;
            break;
        }
        size_t idx = (size_t)(f - desc->fields);
        path_push(d, SEG_FIELD, key, 0);
        if (seen[idx / 64] & (1ULL << (idx % 64)))
            rc = fail(d, "duplicate field");
        else
            rc = decode_field(d, m, f, val, depth);
        seen[idx / 64] |= 1ULL << (idx % 64);
        path_pop(d);
        if (rc)
            break;
    }
    if (seen != seen_small)
        kumo_free(seen);
    return rc;
}

static int decode_timestamp_or_duration(struct dec *d, ProtobufCMessage *m, enum wkt w,
                                        const json_t *v)
{
    const ProtobufCFieldDescriptor *f = m->descriptor->fields;
    int64_t secs;
    int32_t nanos;
    if (w == WKT_TIMESTAMP) {
        if (!json_is_string(v) ||
            parse_timestamp(json_string_value(v), json_string_length(v), &secs, &nanos) != 0)
            return fail(d, "expected an RFC 3339 timestamp between 0001-01-01T00:00:00Z and "
                           "9999-12-31T23:59:59.999999999Z");
    } else {
        if (!json_is_string(v) ||
            parse_duration(json_string_value(v), json_string_length(v), &secs, &nanos) != 0)
            return fail(d, "expected a duration like \"1.5s\" within +-315576000000s");
    }
    *(int64_t *)MEMBER(m, f[0].offset) = secs;
    *(int32_t *)MEMBER(m, f[1].offset) = nanos;
    mark_present(m, &f[0]);
    mark_present(m, &f[1]);
    return 0;
}

/* snake_case of a lowerCamelCase FieldMask path; fails on what protobuf-go
 * rejects: underscores, empty paths, non-identifiers. */
static int mask_path_to_snake(const char *s, size_t n, struct kumo_buf *out)
{
    int seg_start = 1;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (seg_start)
                return -1;
            seg_start = 1;
            kumo_buf_append_byte(out, '.');
            continue;
        }
        if (c >= 'A' && c <= 'Z') {
            kumo_buf_append_byte(out, '_');
            c = (char)(c - 'A' + 'a');
        } else if (!((c >= 'a' && c <= 'z') || (!seg_start && is_digit(c)))) {
            return -1;
        }
        kumo_buf_append_byte(out, (uint8_t)c);
        seg_start = 0;
    }
    return seg_start ? -1 : 0;
}

static int decode_field_mask(struct dec *d, ProtobufCMessage *m, const json_t *v)
{
    if (!json_is_string(v))
        return fail(d, "expected a field mask string like \"a.b,fooBar\"");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), n = len ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    if (n == 0)
        return 0;
    const ProtobufCFieldDescriptor *f = &m->descriptor->fields[0];
    char **paths = dalloc(d, n * sizeof(char *));
    *(char ***)MEMBER(m, f->offset) = paths;
    size_t *count = MEMBER(m, f->quantifier_offset);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        kumo_buf_reset(&d->scratch);
        if (mask_path_to_snake(s + start, i - start, &d->scratch) != 0)
            return fail(d, "invalid field mask path #%zu", *count + 1);
        paths[(*count)++] = dstrndup(d, (const char *)d->scratch.data, d->scratch.len);
        start = i + 1;
    }
    return 0;
}

static int decode_value(struct dec *d, ProtobufCMessage *m, json_t *v, int depth)
{
    const char *member;
    switch (json_typeof(v)) {
    case JSON_NULL:
        member = "null_value";
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        member = "bool_value";
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        member = "number_value";
        break;
    case JSON_STRING:
        member = "string_value";
        break;
    case JSON_ARRAY:
        member = "list_value";
        break;
    default:
        member = "struct_value";
        break;
    }
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, member);
    if (f == NULL)
        return fail(d, "google.protobuf.Value has no %s", member);
    *(uint32_t *)MEMBER(m, f->quantifier_offset) = f->id;
    return decode_single(d, f->type, f->descriptor, v, MEMBER(m, f->offset), depth);
}

static int decode_message(struct dec *d, const ProtobufCMessageDescriptor *desc, json_t *v,
                          ProtobufCMessage **slot, int depth)
{
    enum wkt w = wkt_of(desc);
    if (w != WKT_VALUE && ++depth > KUMO_JSON_MAX_DEPTH) {
        fail(d, "messages nested deeper than %d", KUMO_JSON_MAX_DEPTH);
        return KUMO_ERR_TOO_LARGE;
    }
    if (w == WKT_ANY)
        return fail(d, "google.protobuf.Any is not supported in JSON");
    ProtobufCMessage *m = dalloc(d, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    *slot = m; /* from now on the caller's cleanup frees it */
    switch (w) {
    case WKT_TIMESTAMP:
    case WKT_DURATION:
        return decode_timestamp_or_duration(d, m, w, v);
    case WKT_WRAPPER: {
        const ProtobufCFieldDescriptor *f = &desc->fields[0];
        int rc = decode_single(d, f->type, f->descriptor, v, MEMBER(m, f->offset), depth);
        if (rc == 0)
            mark_present(m, f);
        return rc;
    }
    case WKT_STRUCT:
        return decode_map(d, m, &desc->fields[0], v, depth);
    case WKT_LIST_VALUE:
        return decode_repeated(d, m, &desc->fields[0], v, depth);
    case WKT_VALUE:
        return decode_value(d, m, v, depth);
    case WKT_FIELD_MASK:
        return decode_field_mask(d, m, v);
    default:
        break;
    }
    if (!json_is_object(v))
        return fail(d, "expected an object");
    return decode_fields(d, m, v, depth);
}

/* Copies jansson's parse error, keeping printable ASCII only: it quotes the
 * input, which may be anything. */
static void set_parse_error(struct kumo_buf *b, const json_error_t *je)
{
    kumo_buf_append_str(b, "invalid JSON: ");
    for (const char *p = je->text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        kumo_buf_append_byte(b, c >= 0x20 && c < 0x7f ? c : '?');
    }
    kumo_buf_appendf(b, " (line %d, column %d)", je->line, je->column);
}

static void *std_alloc(void *data, size_t size)
{
    (void)data;
    return kumo_malloc(size);
}

static void std_free(void *data, void *p)
{
    (void)data;
    kumo_free(p);
}

int kumo_json_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, char **errmsg)
{
    /* kumo_malloc is malloc underneath, so protobuf-c's default free fits. */
    static ProtobufCAllocator std_allocator = {std_alloc, std_free, NULL};
    struct dec d = {.alloc = alloc ? alloc : &std_allocator};
    ProtobufCMessage *m = NULL;
    json_error_t je;
    int rc;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        set_parse_error(&d.err, &je);
        rc = json_error_code(&je) == json_error_stack_overflow ? KUMO_ERR_TOO_LARGE
                                                               : KUMO_ERR_INVALID;
    } else {
        rc = decode_message(&d, desc, root, &m, 0);
        json_decref(root);
    }
    if (rc == 0) {
        *out = m;
    } else {
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, d.alloc);
        if (errmsg != NULL)
            *errmsg = kumo_buf_steal(&d.err, NULL);
    }
    kumo_buf_free(&d.err);
    kumo_buf_free(&d.scratch);
    return rc;
}
