/* Checks the string fields of an encoded protobuf message on the wire.
 *
 * proto3 says a `string` holds valid UTF-8, but protobuf-c's unpack neither
 * checks that nor keeps the length: a string with a NUL byte inside arrives
 * silently truncated at the NUL, so a handler can no longer tell. The RPC
 * server therefore runs this over every binary request it decoded (the JSON
 * codec already refuses both through jansson) and answers invalid_argument
 * naming the field. */
#ifndef KUMO_PROTO_CHECK_H
#define KUMO_PROTO_CHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest message nesting walked; deeper input is refused. */
#define KUMO_PROTO_CHECK_MAX_DEPTH 64

/* What was wrong, for the error message (static strings). */
struct kumo_proto_check_error {
    const char *field;  /* the field's name as in the .proto, or "" */
    const char *reason; /* "is not valid UTF-8", "contains a NUL byte", ... */
};

/* Walks data[0..len), an encoding of a `desc` message, and checks every
 * string field (nested messages, repeated fields, oneofs and map entries
 * included; unknown fields are skipped) is valid UTF-8 without NUL bytes.
 * Returns 0, or KUMO_ERR_INVALID filling *err (may be NULL) for a bad string,
 * malformed wire data or nesting deeper than KUMO_PROTO_CHECK_MAX_DEPTH. */
int kumo_proto_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                             size_t len, struct kumo_proto_check_error *err);

#endif
