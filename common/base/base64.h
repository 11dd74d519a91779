/* Base64 (RFC 4648) for the wire protocols: gRPC-Web text mode, binary
 * metadata ("-bin" headers) and Connect GET messages. */
#ifndef KUMO_BASE64_H
#define KUMO_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Appends the base64 encoding of `in[0..len)` to `out`. `url` nonzero selects
 * the URL-safe alphabet ("-_" instead of "+/"); `pad` nonzero appends '='
 * padding to a multiple of 4 characters. Returns 0. */
int kumo_base64_encode(const uint8_t *in, size_t len, int url, int pad, struct kumo_buf *out);

/* Decodes `in[0..len)`, accepting either alphabet (standard "+/" or URL-safe
 * "-_", even mixed, as gRPC and Connect peers send both) with or without
 * padding. Padding, if present, must be exactly what the length calls for
 * and only at the end. Whitespace and any other character are rejected.
 * Leftover bits of the last character are ignored (RFC 4648 3.5 allows it).
 * Returns 0 after appending the bytes to `out`, or KUMO_ERR_INVALID leaving
 * `out` as it was (its capacity may have grown). An empty input decodes to
 * nothing. */
int kumo_base64_decode(const char *in, size_t len, struct kumo_buf *out);

/* Returns the number of characters kumo_base64_encode produces. */
size_t kumo_base64_encoded_len(size_t len, int pad);

#endif
