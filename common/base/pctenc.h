/* Percent-encoding as the RPC protocols use it: the gRPC "grpc-message"
 * trailer (gRPC over HTTP/2 spec, "Responses") and the query component of
 * Connect GET URLs. */
#ifndef KUMO_PCTENC_H
#define KUMO_PCTENC_H

#include <stddef.h>

#include "base/buf.h"

/* Appends `in[0..len)` to `out` with every byte outside 0x20-0x7E, and '%'
 * itself, written as "%XX" (uppercase hex), as grpc-message requires (UTF-8
 * text becomes its percent-encoded bytes). */
void kumo_pct_encode(const char *in, size_t len, struct kumo_buf *out);

/* Appends the decoding of a grpc-message value to `out`. Lenient as the gRPC
 * spec asks of receivers: a '%' not followed by two hex digits (either case)
 * is copied verbatim, so a bad sequence never loses the message. */
void kumo_pct_decode(const char *in, size_t len, struct kumo_buf *out);

/* Appends the decoding of one key or value of a URL query
 * (application/x-www-form-urlencoded): '+' becomes a space, "%XX" a byte
 * (either case), anything else is copied. Returns 0, or KUMO_ERR_INVALID for
 * a '%' not followed by two hex digits, leaving `out` as it was (its
 * capacity may have grown). */
int kumo_url_query_decode(const char *in, size_t len, struct kumo_buf *out);

#endif
