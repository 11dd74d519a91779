/* Private to common/codec/: what the JSON <-> protobuf encoder
 * (json_encode.c) and decoder (json_decode.c) share: protobuf-c descriptor
 * helpers (json_descriptors.c) and the exact number, Timestamp and Duration
 * parsers (json_scalars.c). Not for use outside this folder. */
#ifndef KUMO_CODEC_JSON_INTERNAL_H
#define KUMO_CODEC_JSON_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define MEMBER(msg, off)  ((void *)((char *)(msg) + (off)))
#define CMEMBER(msg, off) ((const void *)((const char *)(msg) + (off)))

/* Timestamp range the JSON mapping allows: 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999999999Z. */
#define TS_MIN_SECONDS (-62135596800LL)
#define TS_MAX_SECONDS 253402300799LL
/* Duration range: +-10000 years. */
#define DUR_MAX_SECONDS 315576000000LL

/* Results of the exact number parsers (kumo__json_parse_integral). */
enum { NUM_OK = 0, NUM_SYNTAX = -1, NUM_FRACTION = -2, NUM_RANGE = -3 };

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

/* Matches the camel-case form of the proto name `proto` ('_' dropped, the
 * letter after it upper-cased; the first letter too when `cap_first`) at the
 * start of `s`. Returns what follows the match in `s`, or NULL. */
const char *kumo__json_camel_prefix(const char *proto, const char *s, int cap_first);

/* protobuf-c descriptors lose the map_entry option, so a map is recognised
 * by the shape protoc gives it: a repeated message nested in the parent,
 * named after the field, with exactly key = 1 and value = 2. */
int kumo__json_is_map_field(const ProtobufCMessageDescriptor *parent,
                            const ProtobufCFieldDescriptor *f);

/* Which well-known type `desc` is, checking the shape too so that a look-alike
 * with other fields is treated as an ordinary message. */
enum wkt kumo__json_wkt_of(const ProtobufCMessageDescriptor *desc);

/* Whether `ed` is google.protobuf.NullValue. */
int kumo__json_is_null_value_enum(const ProtobufCEnumDescriptor *ed);

/* Whether JSON null is a value of this (singular) type rather than "unset":
 * only google.protobuf.Value and google.protobuf.NullValue. */
int kumo__json_type_takes_null(ProtobufCType t, const void *typedesc);

/* Marks a just-decoded non-oneof field present where protobuf-c keeps a
 * has_ flag (proto2/proto3-optional scalars and bytes). */
void kumo__json_mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/* Converts to float as the JSON mapping does: values that round to a finite
 * float are accepted (even a hair above FLT_MAX), larger ones are out of
 * range. Non-finite values pass through. Returns 0 or -1. */
int kumo__json_double_to_float(double d, float *out);

/* Whether `c` is an ASCII digit. */
int kumo__json_is_digit(char c);

/* Parses a JSON number written as a string exactly (no detour through
 * double), requiring an integral value: "12", "-3", "1e3", "1.50e1" all work.
 * Sets the sign and magnitude. */
int kumo__json_parse_integral(const char *s, size_t len, int *neg, uint64_t *mag);

/* Parses a JSON number written as a string as a double; "NaN", "Infinity"
 * and "-Infinity" too. */
int kumo__json_parse_double_string(const char *s, size_t len, double *out);

/* Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|+HH:MM|-HH:MM)" within
 * the Timestamp range. Returns 0 or -1. */
int kumo__json_parse_timestamp(const char *s, size_t len, int64_t *secs, int32_t *nanos);

/* Parses "-?\d+(\.\d{1,9})?s" within the Duration range. */
int kumo__json_parse_duration(const char *s, size_t len, int64_t *secs, int32_t *nanos);

/* Appends the lowerCamelCase JSON name of the proto field name `name`
 * (protoc's json_name rule: '_' dropped, the next letter upper-cased). */
struct kumo_buf;
void kumo__json_append_name(struct kumo_buf *b, const char *name);

#endif
