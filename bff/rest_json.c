/* Response messages -> REST JSON in one pass (see rest_json.h). The
 * conversions are the API's contract, kept from the first BFF (which got
 * there through proto3 JSON and a reshaping pass): keys are proto names,
 * enums lose their type prefix and are lowercase, `sha256` is hex, `size`
 * and `part_size` are numbers. Well-known types are handed to the proto3
 * JSON codec, whose forms (RFC 3339 timestamps, Struct as an object) the
 * API keeps as they are. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "codec/json_codec.h"
#include "rest_json.h"

#define MEMBER(m, off) ((const char *)(m) + (off))

/* The type prefixes of the enums the API shows (proto enum naming rule:
 * every value starts with its type's name). */
static const char *const enum_prefixes[] = {
    "DOCUMENT_STATUS_",  "RESTORE_STATE_", "RESTORE_TIER_",   "VERSION_STATUS_",
    "EXTRACTION_STATE_", "UPLOAD_METHOD_", "DOCUMENT_ORDER_", "ROLE_",
};

int bff_rest_enum_short(const char *full, char *out, size_t cap)
{
    for (size_t i = 0; i < sizeof enum_prefixes / sizeof enum_prefixes[0]; i++) {
        size_t n = strlen(enum_prefixes[i]);
        if (strncmp(full, enum_prefixes[i], n) != 0 || full[n] == '\0')
            continue;
        const char *rest = full + n;
        size_t len = strlen(rest);
        if (len >= cap)
            return -1;
        for (size_t j = 0; j < len; j++) {
            char ch = rest[j];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            else if (!((ch >= '0' && ch <= '9') || ch == '_'))
                return -1;
            out[j] = ch;
        }
        out[len] = '\0';
        return 0;
    }
    return -1;
}

void bff_rest_string(struct kumo_buf *b, const char *s)
{
    kumo_json_append_string(b, s ? s : "", s ? strlen(s) : 0);
}

static int is_wkt(const ProtobufCMessageDescriptor *d)
{
    return strncmp(d->name, "google.protobuf.", 16) == 0;
}

/* 64-bit sizes are numbers in the API (they stay far below 2^53). */
static int number_field(const ProtobufCFieldDescriptor *f)
{
    return strcmp(f->name, "size") == 0 || strcmp(f->name, "part_size") == 0;
}

static void enum_value(struct kumo_buf *b, const ProtobufCEnumDescriptor *ed, int32_t v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    if (!ev) {
        kumo_buf_append_i64(b, v, 0); /* open enum: unknown numbers stay numbers */
        return;
    }
    char low[64];
    bff_rest_string(b, bff_rest_enum_short(ev->name, low, sizeof low) == 0 ? low : ev->name);
}

static void bytes_value(struct kumo_buf *b, const ProtobufCFieldDescriptor *f,
                        const ProtobufCBinaryData *bd)
{
    kumo_buf_append_byte(b, '"');
    if (strcmp(f->name, "sha256") == 0) {
        static const char hex[] = "0123456789abcdef";
        kumo_buf_reserve(b, 2 * bd->len + 1);
        for (size_t i = 0; i < bd->len; i++) {
            b->data[b->len++] = (uint8_t)hex[bd->data[i] >> 4];
            b->data[b->len++] = (uint8_t)hex[bd->data[i] & 15];
        }
    } else {
        kumo_base64_encode(bd->data, bd->len, 0, 1, b);
    }
    kumo_buf_append_byte(b, '"');
}

static void message_value(struct kumo_buf *b, const ProtobufCMessage *m)
{
    if (m && is_wkt(m->descriptor)) {
        if (kumo_json_encode(m, b) == 0)
            return;
        kumo_buf_append_str(b, "null"); /* out of range: cannot be said in JSON */
        return;
    }
    bff_rest_encode(b, m);
}

static void single_value(struct kumo_buf *b, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
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
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t v = *(const int64_t *)p;
        kumo_buf_append_i64(b, v, !(number_field(f) && v >= 0));
        break;
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        kumo_buf_append_decimal(b, *(const uint64_t *)p, 0, !number_field(f));
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        kumo_buf_appendf(b, "%.9g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        kumo_buf_appendf(b, "%.17g", *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        kumo_buf_append_str(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM:
        enum_value(b, f->descriptor, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_STRING:
        bff_rest_string(b, *(const char *const *)p);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        bytes_value(b, f, p);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        message_value(b, *(const ProtobufCMessage *const *)p);
        break;
    }
}

static void field_value(struct kumo_buf *b, const ProtobufCMessage *m,
                        const ProtobufCFieldDescriptor *f)
{
    const void *p = MEMBER(m, f->offset);
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        single_value(b, f, p);
        return;
    }
    size_t n = *(const size_t *)MEMBER(m, f->quantifier_offset);
    const char *arr = *(const char *const *)p;
    size_t es = kumo_pb_elem_size(f->type);
    kumo_buf_append_byte(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            kumo_buf_append_byte(b, ',');
        single_value(b, f, arr + i * es);
    }
    kumo_buf_append_byte(b, ']');
}

/* A field's name as a JSON key, after a comma unless it is the first:
 * protobuf field names are identifiers ([A-Za-z_][A-Za-z0-9_]*, protoc's
 * grammar), so there is nothing to escape; one append instead of four. */
static void append_key(struct kumo_buf *b, const char *name, int first)
{
    size_t n = strlen(name);
    kumo_buf_reserve(b, n + 4);
    uint8_t *p = b->data + b->len;
    if (!first)
        *p++ = ',';
    *p++ = '"';
    memcpy(p, name, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    *p = '\0';
    b->len = (size_t)(p - b->data);
}

void bff_rest_members(struct kumo_buf *b, const ProtobufCMessage *m, int *first)
{
    if (!m)
        return;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    /* protobuf-c keeps fields in field-number order, as proto3 JSON does. */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!kumo_pb_field_is_set(m, f))
            continue;
        append_key(b, f->name, *first);
        *first = 0;
        field_value(b, m, f);
    }
}

void bff_rest_encode(struct kumo_buf *b, const ProtobufCMessage *m)
{
    int first = 1;
    kumo_buf_append_byte(b, '{');
    bff_rest_members(b, m, &first);
    kumo_buf_append_byte(b, '}');
}

const ProtobufCFieldDescriptor *bff_rest_find_field(const ProtobufCMessageDescriptor *d,
                                                    const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

int bff_rest_field(struct kumo_buf *b, const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = bff_rest_find_field(m->descriptor, name);
    if (!f)
        return -1;
    if (kumo_pb_field_is_set(m, f))
        field_value(b, m, f);
    else if (f->label == PROTOBUF_C_LABEL_REPEATED)
        kumo_buf_append_str(b, "[]");
    else if (f->type == PROTOBUF_C_TYPE_STRING)
        kumo_buf_append_str(b, "\"\"");
    else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        kumo_buf_append_str(b, "null");
    else
        single_value(b, f, MEMBER(m, f->offset));
    return 0;
}

json_t *bff_rest_to_json(const ProtobufCMessage *m)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    bff_rest_encode(&b, m);
    json_t *v = json_loadb((const char *)b.data, b.len, 0, NULL);
    kumo_buf_free(&b);
    return v ? v : json_object();
}

const ProtobufCMessage *bff_rest_sub(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = m ? bff_rest_find_field(m->descriptor, name) : NULL;
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(const ProtobufCMessage *const *)MEMBER(m, f->offset);
}

const char *bff_rest_str(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = m ? bff_rest_find_field(m->descriptor, name) : NULL;
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(const char *const *)MEMBER(m, f->offset);
}
