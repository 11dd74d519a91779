/* The extractor's output protocol: what the sandboxed `kumo-extract`
 * child (tools/extract/) writes on its stdout and kumo-documents' extract
 * job reads back. A stream of frames, each a type byte, a 4-byte
 * big-endian payload length and the payload:
 *   'T' text (UTF-8, may be split over several frames)
 *   'P' pages read (4-byte big-endian count)
 *   'I' thumbnail image (PNG bytes, at most one frame)
 *   'E' why extraction failed (short ASCII text, at most one frame)
 *   'Z' end: the child finished normally (last frame; nothing may follow)
 * Hand-written because it is ours: five frame kinds need no library.
 * Fuzzed by tests/fuzz/fuzz_extract_frames.c. */
#ifndef KUMO_EXTRACT_FRAMES_H
#define KUMO_EXTRACT_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define KUMO_XF_TEXT  'T'
#define KUMO_XF_PAGES 'P'
#define KUMO_XF_THUMB 'I'
#define KUMO_XF_ERROR 'E'
#define KUMO_XF_END   'Z'

#define KUMO_XF_HEADER    5
#define KUMO_XF_ERROR_MAX 512

/* Appends one frame to `out`. */
void kumo_xf_put(struct kumo_buf *out, int type, const void *data, size_t len);

/* What a child's output says. Buffers are owned (kumo_xf_result_free). */
struct kumo_xf_result {
    struct kumo_buf text;
    struct kumo_buf thumb;
    char error[KUMO_XF_ERROR_MAX + 1]; /* "" when none; printable ASCII */
    uint32_t pages;
    int ended; /* an 'Z' frame closed the stream */
};

/* Decodes a whole output of `len` bytes. Text beyond text_max bytes and a
 * thumbnail beyond thumb_max make it fail. Returns 0, or -1 with `why`
 * (a static string) when the stream is malformed: unknown type, truncated
 * frame, frame after the end, a repeated thumbnail/error frame, a bad
 * pages frame, or a size over its limit. `r` holds what was decoded up to
 * there either way. */
int kumo_xf_decode(const uint8_t *data, size_t len, size_t text_max, size_t thumb_max,
                   struct kumo_xf_result *r, const char **why);

void kumo_xf_result_free(struct kumo_xf_result *r);

#endif
