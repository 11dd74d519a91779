/* protobuf-c descriptor helpers shared by the JSON encoder and decoder:
 * map and well-known-type recognition, field presence, element sizes. */
#include "codec/json_codec.h"
#include "codec/json_internal.h"

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/calendar.h"
#include "base/errors.h"

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
const char *kumo__json_camel_prefix(const char *proto, const char *s, int cap_first)
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
    const char *rest = kumo__json_camel_prefix(field, entry, 1);
    return rest != NULL && strcmp(rest, "Entry") == 0;
}

/* protobuf-c descriptors lose the map_entry option, so a map is recognised
 * by the shape protoc gives it: a repeated message nested in the parent,
 * named after the field, with exactly key = 1 and value = 2. */
int kumo__json_is_map_field(const ProtobufCMessageDescriptor *parent,
                            const ProtobufCFieldDescriptor *f)
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
static enum wkt wkt_classify(const ProtobufCMessageDescriptor *desc)
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
        return nf == 1 && kumo__json_is_map_field(desc, &f[0]) ? WKT_STRUCT : WKT_NONE;
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

/* kumo__json_wkt_of runs for every message a JSON text holds (a list page:
 * hundreds), and classifying takes a few string compares: the answer is
 * kept per descriptor (they are static and few) in a small table of
 * atomics, each slot the descriptor's address with the answer in its top
 * byte (user-space addresses leave it zero), 0 when empty. A collision
 * only overwrites a slot. */
#define WKT_CACHE_SLOTS 128
static _Atomic uint64_t wkt_cache[WKT_CACHE_SLOTS];

enum wkt kumo__json_wkt_of(const ProtobufCMessageDescriptor *desc)
{
    uint64_t addr = (uint64_t)(uintptr_t)desc;
    _Atomic uint64_t *slot = &wkt_cache[(addr >> 4) % WKT_CACHE_SLOTS];
    uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
    if (v != 0 && (v & ((1ull << 56) - 1)) == addr)
        return (enum wkt)(v >> 56);
    enum wkt w = wkt_classify(desc);
    if ((addr >> 56) == 0)
        atomic_store_explicit(slot, addr | ((uint64_t)w << 56), memory_order_relaxed);
    return w;
}

int kumo__json_is_null_value_enum(const ProtobufCEnumDescriptor *ed)
{
    return strcmp(ed->name, "google.protobuf.NullValue") == 0;
}

/* Whether JSON null is a value of this (singular) type rather than "unset":
 * only google.protobuf.Value and google.protobuf.NullValue. */
int kumo__json_type_takes_null(ProtobufCType t, const void *typedesc)
{
    if (t == PROTOBUF_C_TYPE_MESSAGE)
        return kumo__json_wkt_of(typedesc) == WKT_VALUE;
    if (t == PROTOBUF_C_TYPE_ENUM)
        return kumo__json_is_null_value_enum(typedesc);
    return 0;
}

/* Size of one element of a repeated field of type `t` in protobuf-c's
 * layout. */
size_t kumo_pb_elem_size(ProtobufCType t)
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
int kumo_pb_field_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
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
        return kumo_pb_elem_size(f->type) == 8 ? *(const uint64_t *)p != 0
                                               : *(const uint32_t *)p != 0;
    }
}

/* Marks a just-decoded non-oneof field present where protobuf-c keeps a
 * has_ flag (proto2/proto3-optional scalars and bytes). */
void kumo__json_mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
}

void kumo__json_append_name(struct kumo_buf *b, const char *name)
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
