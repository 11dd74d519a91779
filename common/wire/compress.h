/* gzip (RFC 1952) message compression, the "gzip" encoding of gRPC
 * (grpc-encoding) and Connect (Content-Encoding / Connect-Content-Encoding). */
#ifndef KUMO_COMPRESS_H
#define KUMO_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Appends the gzip compression of `in[0..len)` (one member, default level)
 * to `out`. Returns 0. */
int kumo_gzip_compress(const uint8_t *in, size_t len, struct kumo_buf *out);

/* Appends the decompression of the gzip data `in[0..len)` to `out`. Several
 * concatenated members (RFC 1952 2.2) decode as their concatenation.
 * Returns 0; KUMO_ERR_TOO_LARGE as soon as the output would exceed `max_out`
 * bytes (inflating stops there, so a zip bomb costs at most about `max_out`
 * bytes of memory and the work to produce them); KUMO_ERR_INVALID for corrupt
 * or truncated data, an empty input, or bytes after the last member that are
 * not another member. On error `out` keeps its previous length (its capacity
 * may have grown). */
int kumo_gzip_decompress(const uint8_t *in, size_t len, size_t max_out, struct kumo_buf *out);

#endif
