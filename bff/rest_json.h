/* Response messages -> the REST JSON of the API, written in one pass
 * straight from the protobuf-c descriptors (no proto3 JSON text, no second
 * JSON library in between). The API's conventions: snake_case keys (the
 * proto field names), enum names short and lowercase ("active" for
 * DOCUMENT_STATUS_ACTIVE), SHA-256 as hex, sizes as numbers, other 64-bit
 * integers as strings, well-known types (Timestamp, Struct...) in their
 * proto3 JSON form. Fields are written in field-number order; proto3
 * fields holding their default value are left out. Pure: no I/O, no
 * request context. */
#ifndef KUMO_BFF_REST_JSON_H
#define KUMO_BFF_REST_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "base/buf.h"

/* Appends the REST JSON object of `m` (NULL: "{}") to `b`. */
void bff_rest_encode(struct kumo_buf *b, const ProtobufCMessage *m);

/* Appends the members of `m` ("k":v pairs) to an object being written in
 * `b`; *first says whether nothing was written in that object yet, and is
 * cleared once something is. `m` NULL writes nothing. */
void bff_rest_members(struct kumo_buf *b, const ProtobufCMessage *m, int *first);

/* Appends the value of field `name` of `m`, or its empty form when it is
 * not set (a list: [], a string: "", a message: null). Returns 0, or -1
 * (nothing written) when `m` has no such field. */
int bff_rest_field(struct kumo_buf *b, const ProtobufCMessage *m, const char *name);

/* Appends `s` as a JSON string (quotes included). Invalid UTF-8 bytes
 * become U+FFFD. `s` NULL is "". */
void bff_rest_string(struct kumo_buf *b, const char *s);

/* The REST JSON of `m` as a jansson value (a new reference, never NULL),
 * for answers that rearrange it. */
json_t *bff_rest_to_json(const ProtobufCMessage *m);

/* The short REST name of enum value `full` ("DOCUMENT_STATUS_ACTIVE" ->
 * "active") into out[0..cap); returns 0, or -1 when it has none of the
 * known prefixes (then the full name is used). */
int bff_rest_enum_short(const char *full, char *out, size_t cap);

/* Looks up field `name` (proto spelling) of `m`'s type; NULL if none. */
const ProtobufCFieldDescriptor *bff_rest_find_field(const ProtobufCMessageDescriptor *d,
                                                    const char *name);

/* The sub-message in field `name` of `m`, or NULL (unset or no such
 * message field). */
const ProtobufCMessage *bff_rest_sub(const ProtobufCMessage *m, const char *name);

/* The string in field `name` of `m`, or NULL (no such string field). */
const char *bff_rest_str(const ProtobufCMessage *m, const char *name);

#endif
