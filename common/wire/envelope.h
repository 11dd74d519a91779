/* The 5-byte length-prefixed message framing ("envelope") shared by gRPC,
 * gRPC-Web and Connect streaming: one flags byte, a 4-byte big-endian length,
 * then the message. */
#ifndef KUMO_ENVELOPE_H
#define KUMO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define KUMO_ENVELOPE_HEADER_LEN 5
/* The message is compressed with the stream's negotiated encoding. */
#define KUMO_ENVELOPE_COMPRESSED 0x01
/* End of stream: gRPC-Web trailers / Connect end-of-stream message. */
#define KUMO_ENVELOPE_END_STREAM 0x80

/* Incremental reader. The fields are private to envelope.c except max_len,
 * which may be read. Bytes can arrive split anywhere; the cost is linear in
 * the bytes fed, however they are split. */
struct kumo_envelope_reader {
    size_t max_len;      /* largest message length accepted */
    struct kumo_buf buf; /* copied bytes; [rpos, buf.len) not consumed yet */
    size_t rpos;
    size_t scan;        /* offset in buf of the next header to check (may lie
                           past buf.len while a message body is incomplete) */
    size_t msg_start;   /* offset in buf of the message that ends at scan */
    const uint8_t *ext; /* borrowed bytes (feed_borrowed), [ext_pos, ext_len) */
    size_t ext_pos;
    size_t ext_len;
    int err; /* sticky KUMO_ERR_TOO_LARGE */
};

/* Initializes an empty reader accepting messages of at most `max_len` bytes.
 * Allocates nothing until bytes are fed. */
void kumo_envelope_reader_init(struct kumo_envelope_reader *r, size_t max_len);

/* Appends bytes received, copying them: `data` may be reused as soon as this
 * returns. Returns 0, or KUMO_ERR_TOO_LARGE as soon as a header announces a
 * message longer than max_len; nothing from that header on is buffered, and
 * every later call returns the error too (the messages complete before it can
 * still be taken with next()). */
int kumo_envelope_reader_feed(struct kumo_envelope_reader *r, const uint8_t *data, size_t len);

/* Zero-copy variant of feed for the usual "feed, then call next() until it
 * returns 0" loop: messages lying whole inside `data` are handed out by
 * next() as pointers into `data`; only a message split across calls is
 * copied. The caller keeps `data` valid and unchanged until next() has
 * returned something other than 1, or until the next feed/feed_borrowed,
 * detach or free call (feed and feed_borrowed detach first). Returns as feed. */
int kumo_envelope_reader_feed_borrowed(struct kumo_envelope_reader *r, const uint8_t *data,
                                       size_t len);

/* Copies whatever the reader still needs of borrowed bytes into its own
 * buffer, so the caller may drop them without draining next(). Pointers from
 * next() are invalidated. */
void kumo_envelope_reader_detach(struct kumo_envelope_reader *r);

/* Takes the next complete message. Returns 1 and sets *flags, *msg and
 * *msg_len (*msg points into the reader or into borrowed data and stays valid
 * until the next feed/feed_borrowed/next/detach/free; it is non-NULL even for
 * an empty message); 0 if no complete message is buffered; KUMO_ERR_TOO_LARGE
 * once the messages before an oversized header have been taken. */
int kumo_envelope_reader_next(struct kumo_envelope_reader *r, uint8_t *flags, const uint8_t **msg,
                              size_t *msg_len);

/* Bytes buffered that do not yet form a complete message. Nonzero at the end
 * of the stream means the last message was truncated. */
size_t kumo_envelope_reader_pending(const struct kumo_envelope_reader *r);

/* Frees the buffer; the reader may be initialized again. */
void kumo_envelope_reader_free(struct kumo_envelope_reader *r);

/* Writes the 5-byte header of a message of `len` bytes into `hdr` (for a
 * writer that sends header and message from separate buffers). `len` must
 * fit in 32 bits: a larger value is a caller bug and aborts. */
void kumo_envelope_header(uint8_t hdr[KUMO_ENVELOPE_HEADER_LEN], uint8_t flags, size_t len);

/* Appends a 5-byte header then the message (`msg` may be NULL when `len` is
 * 0). `len` must fit in 32 bits (aborts otherwise). */
void kumo_envelope_write(struct kumo_buf *out, uint8_t flags, const uint8_t *msg, size_t len);

#endif
