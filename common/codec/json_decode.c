/* Proto3 JSON -> protobuf message (kumo_json_decode), strict: unknown
 * fields, duplicate map keys, out-of-range numbers and bad well-known types
 * are errors naming the path. */
#include "codec/json_codec.h"
#include "codec/json_internal.h"

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

/* Path segments kept for error messages: two per nesting level is enough. */
#define PATH_MAX_SEGS (2 * KUMO_JSON_MAX_DEPTH + 8)
/* Longest field name or map key quoted in an error message. */
#define ERR_NAME_MAX 64

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
        int rc = kumo__json_parse_integral(json_string_value(v), json_string_length(v), neg, mag);
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
        int rc = kumo__json_parse_double_string(json_string_value(v), json_string_length(v), out);
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
    if (json_is_null(v) && kumo__json_is_null_value_enum(ed)) {
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
        if (rc == 0 && kumo__json_double_to_float(x, p) != 0)
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
    if (json_is_null(v) && !kumo__json_type_takes_null(t, typedesc))
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
    size_t es = kumo_pb_elem_size(f->type);
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
    int rc = kumo__json_parse_integral(key, strlen(key), &neg, &mag);
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
        kumo__json_mark_present(e, kf);
        kumo__json_mark_present(e, vf);
    }
    return check_duplicate_keys(d, kf, arr, *count);
}

/* Whether JSON key `key` is the lowerCamelCase form of `proto`. */
static int json_name_eq(const char *proto, const char *key)
{
    const char *rest = kumo__json_camel_prefix(proto, key, 0);
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
        return kumo__json_is_map_field(m->descriptor, f) ? decode_map(d, m, f, v, depth)
                                                         : decode_repeated(d, m, f, v, depth);
    }
    if (json_is_null(v) && !kumo__json_type_takes_null(f->type, f->descriptor))
        return 0; /* null means default: leave the field unset */
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *c = MEMBER(m, f->quantifier_offset);
        if (*c != 0) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(m->descriptor, *c);
            fail(d, "oneof member \"");
            kumo__json_append_name(&d->err, other ? other->name : "?");
            kumo_buf_append_str(&d->err, "\" is already set");
            return KUMO_ERR_INVALID;
        }
        *c = f->id; /* before the value, so a half-decoded member is freed */
    }
    int rc = decode_single(d, f->type, f->descriptor, v, MEMBER(m, f->offset), depth);
    if (rc == 0)
        kumo__json_mark_present(m, f);
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
            kumo__json_parse_timestamp(json_string_value(v), json_string_length(v), &secs,
                                       &nanos) != 0)
            return fail(d, "expected an RFC 3339 timestamp between 0001-01-01T00:00:00Z and "
                           "9999-12-31T23:59:59.999999999Z");
    } else {
        if (!json_is_string(v) ||
            kumo__json_parse_duration(json_string_value(v), json_string_length(v), &secs, &nanos) !=
                0)
            return fail(d, "expected a duration like \"1.5s\" within +-315576000000s");
    }
    *(int64_t *)MEMBER(m, f[0].offset) = secs;
    *(int32_t *)MEMBER(m, f[1].offset) = nanos;
    kumo__json_mark_present(m, &f[0]);
    kumo__json_mark_present(m, &f[1]);
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
        } else if (!((c >= 'a' && c <= 'z') || (!seg_start && kumo__json_is_digit(c)))) {
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
    enum wkt w = kumo__json_wkt_of(desc);
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
            kumo__json_mark_present(m, f);
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
