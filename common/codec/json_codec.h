/* The proto3 JSON mapping (https://protobuf.dev/programming-guides/json/),
 * generic over protobuf-c descriptors: Connect's JSON codec.
 *
 * Field names are lowerCamelCase on output (derived from the proto name, as
 * protoc derives json_name); both spellings are accepted on input. 64-bit
 * integers are JSON strings, enums names, bytes base64, maps objects.
 * Well-known types get their special forms: Timestamp, Duration, the
 * wrappers, Struct/Value/ListValue, FieldMask (Empty needs none).
 * google.protobuf.Any is not supported (it needs a type registry).
 *
 * Maps are recognised the way protoc builds them: a repeated field of a
 * nested message named <FieldName>Entry with exactly the fields key = 1 and
 * value = 2 (protobuf-c descriptors do not carry the map_entry option).
 *
 * Limits that come from jansson: a bare JSON integer outside the int64 range
 * (e.g. a uint64 above 2^63 not written as a string) and "\u0000" in strings
 * are rejected as invalid JSON. */
#ifndef KUMO_JSON_CODEC_H
#define KUMO_JSON_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "base/buf.h"

/* Maximum nesting of messages (and Struct/ListValue levels) kumo_json_decode
 * accepts; the top-level message is depth 1. */
#define KUMO_JSON_MAX_DEPTH 64

/* Decodes proto3 JSON `json` (`len` bytes, not necessarily NUL-terminated)
 * into a new message of type `desc`. The top level must be a JSON object (or
 * an array for google.protobuf.ListValue).
 * Everything (the message, strings, repeated arrays, bytes, sub-messages) is
 * allocated with `alloc` (e.g. a per-request arena, see arena.h), which must
 * not return NULL; `alloc` NULL means malloc, and the caller then frees the
 * message with protobuf_c_message_free_unpacked(msg, NULL).
 * Returns 0 and sets *out; or KUMO_ERR_INVALID for malformed JSON or JSON that
 * does not fit the message (unknown field, wrong type, out of range...), or
 * KUMO_ERR_TOO_LARGE when messages nest deeper than KUMO_JSON_MAX_DEPTH. On
 * error *out is untouched, what was allocated has been released through
 * alloc->free, and, when `errmsg` is not NULL, *errmsg is set to a
 * human-readable message the caller frees with kumo_free, such as
 * `field "inner.fooBar": expected a string`. */
int kumo_json_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, char **errmsg);

/* Encodes `msg` as proto3 JSON (compact, fields in field-number order,
 * default values of fields without presence omitted), appending to `out`.
 * Returns 0; or KUMO_ERR_INVALID when `msg` holds something JSON cannot
 * express (a Timestamp or Duration out of its range, a FieldMask path that
 * does not map to lowerCamelCase and back), KUMO_ERR_UNSUPPORTED for a
 * google.protobuf.Any, KUMO_ERR_TOO_LARGE for messages nested over 1000
 * deep; on error `out` is restored to its previous length. */
int kumo_json_encode(const ProtobufCMessage *msg, struct kumo_buf *out);

/* Appends s[0..len) as a JSON string literal, quotes included: '"', '\\'
 * and control characters escaped, valid UTF-8 copied as is, each byte of an
 * invalid sequence written as \ufffd, so the output is valid JSON whatever
 * the bytes (protobuf-c does not check UTF-8 when unpacking binary). */
void kumo_json_append_string(struct kumo_buf *b, const char *s, size_t len);

/* protobuf-c helpers the codec is built on, for other generic code over
 * descriptors (kumo-bff's REST writer). */

/* Size of one element of a repeated field of type `t` in protobuf-c's
 * layout. */
size_t kumo_pb_elem_size(ProtobufCType t);

/* Whether `f` counts as set in `m`, following protobuf-c's own packing rules
 * (so JSON and binary agree): explicit presence (oneof case, has_ flag,
 * non-NULL pointer) where the field has it, non-default value otherwise. */
int kumo_pb_field_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

#endif
