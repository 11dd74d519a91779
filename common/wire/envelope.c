#include "wire/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"

#define HDR KUMO_ENVELOPE_HEADER_LEN

/* An emptied buffer larger than this is released instead of kept, so a
 * long-lived stream that once carried a big message does not pin it. */
#define KEEP_CAP (64 * 1024)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void kumo_envelope_reader_init(struct kumo_envelope_reader *r, size_t max_len)
{
    memset(r, 0, sizeof *r);
    r->max_len = max_len;
}

void kumo_envelope_reader_free(struct kumo_envelope_reader *r)
{
    kumo_buf_free(&r->buf);
    size_t max_len = r->max_len;
    kumo_envelope_reader_init(r, max_len);
}

/* Drops consumed bytes by moving the rest to the front, but only when the
 * move costs no more than the bytes consumed since the last move: that keeps
 * the total work linear however the input is split. */
static void compact(struct kumo_envelope_reader *r)
{
    size_t rpos = r->rpos;
    if (rpos == 0)
        return;
    size_t tail = r->buf.len - rpos;
    if (tail > rpos)
        return;
    if (tail == 0 && r->buf.cap > KEEP_CAP) {
        kumo_buf_free(&r->buf);
    } else {
        if (tail)
            memmove(r->buf.data, r->buf.data + rpos, tail);
        r->buf.len = tail;
        r->buf.data[tail] = '\0';
    }
    r->scan -= rpos;
    r->msg_start = r->msg_start > rpos ? r->msg_start - rpos : 0;
    r->rpos = 0;
}

/* Reads the header at offset `off` of the buffered bytes followed by `data`.
 * Returns 0 if those do not hold all 5 bytes yet. */
static int header_at(const struct kumo_envelope_reader *r, const uint8_t *data, size_t len,
                     size_t off, uint32_t *msg_len)
{
    size_t have = r->buf.len;
    if (off > have + len || have + len - off < HDR)
        return 0;
    uint8_t h[HDR];
    for (size_t i = 0; i < HDR; i++) {
        size_t o = off + i;
        h[i] = o < have ? r->buf.data[o] : data[o - have];
    }
    *msg_len = be32(h + 1);
    return 1;
}

static int too_large(const struct kumo_envelope_reader *r, size_t off, uint32_t n)
{
    return n > r->max_len || n > SIZE_MAX - HDR - off;
}

/* Checks every header that the buffered bytes plus `data` complete, so an
 * oversized message is refused before its body is buffered. On an oversized
 * one: sets the sticky error, cuts the buffer at that header and sets *keep
 * to the number of bytes of `data` before it. */
static int scan_headers(struct kumo_envelope_reader *r, const uint8_t *data, size_t len,
                        size_t *keep)
{
    uint32_t n;
    *keep = len;
    while (header_at(r, data, len, r->scan, &n)) {
        if (too_large(r, r->scan, n)) {
            r->err = KUMO_ERR_TOO_LARGE;
            if (r->scan <= r->buf.len) {
                *keep = 0;
                r->buf.len = r->scan;
                if (r->buf.data)
                    r->buf.data[r->buf.len] = '\0';
            } else {
                *keep = r->scan - r->buf.len;
            }
            return r->err;
        }
        r->msg_start = r->scan;
        r->scan += HDR + (size_t)n;
    }
    return 0;
}

static int feed_copy(struct kumo_envelope_reader *r, const uint8_t *data, size_t len)
{
    compact(r);
    size_t keep;
    int rc = scan_headers(r, data, len, &keep);
    if (keep)
        kumo_buf_append(&r->buf, data, keep);
    return rc;
}

void kumo_envelope_reader_detach(struct kumo_envelope_reader *r)
{
    size_t n = r->ext_len - r->ext_pos;
    const uint8_t *p = n ? r->ext + r->ext_pos : NULL;
    r->ext = NULL;
    r->ext_pos = r->ext_len = 0;
    /* Headers were checked by feed_borrowed, which also cut the borrowed
     * range before an oversized one: this cannot fail. */
    if (n)
        (void)feed_copy(r, p, n);
}

int kumo_envelope_reader_feed(struct kumo_envelope_reader *r, const uint8_t *data, size_t len)
{
    /* Detach even after an error: the caller may drop the borrowed bytes
     * once this returns, and next() still delivers the messages before the
     * oversized one. */
    kumo_envelope_reader_detach(r);
    if (r->err)
        return r->err;
    return feed_copy(r, data, len);
}

/* Bytes still missing before the buffered bytes end on a message boundary. */
static size_t tail_need(const struct kumo_envelope_reader *r)
{
    if (r->scan > r->buf.len)
        return r->scan - r->buf.len;
    size_t partial = r->buf.len - r->scan;
    return partial ? HDR - partial : 0;
}

int kumo_envelope_reader_feed_borrowed(struct kumo_envelope_reader *r, const uint8_t *data,
                                       size_t len)
{
    kumo_envelope_reader_detach(r);
    if (r->err)
        return r->err;
    /* Finish the message split across calls by copying; afterwards the
     * buffer ends on a boundary and the rest of `data` can be borrowed. */
    size_t need;
    while (len > 0 && (need = tail_need(r)) > 0) {
        size_t k = need < len ? need : len;
        int rc = feed_copy(r, data, k);
        if (rc)
            return rc;
        data += k;
        len -= k;
    }
    if (len == 0)
        return 0;
    size_t off = 0;
    while (off <= len && len - off >= HDR) {
        uint32_t n = be32(data + off + 1);
        if (too_large(r, off, n)) {
            r->err = KUMO_ERR_TOO_LARGE;
            break;
        }
        off += HDR + (size_t)n;
    }
    r->ext = data;
    r->ext_pos = 0;
    r->ext_len = r->err ? off : len;
    return r->err;
}

/* Takes the message at p[0..avail) if it is complete; returns its size with
 * header, or 0. */
static size_t take(const uint8_t *p, size_t avail, uint8_t *flags, const uint8_t **msg,
                   size_t *msg_len)
{
    if (avail < HDR)
        return 0;
    uint32_t n = be32(p + 1);
    if (avail - HDR < n)
        return 0;
    *flags = p[0];
    *msg = p + HDR;
    *msg_len = n;
    return HDR + (size_t)n;
}

int kumo_envelope_reader_next(struct kumo_envelope_reader *r, uint8_t *flags, const uint8_t **msg,
                              size_t *msg_len)
{
    compact(r);
    if (r->rpos < r->buf.len) {
        /* Borrowed bytes only ever follow a buffer that ends on a boundary,
         * so an incomplete message here means there is nothing more. */
        size_t used = take(r->buf.data + r->rpos, r->buf.len - r->rpos, flags, msg, msg_len);
        r->rpos += used;
        return used ? 1 : 0;
    }
    if (r->ext_pos < r->ext_len) {
        size_t used = take(r->ext + r->ext_pos, r->ext_len - r->ext_pos, flags, msg, msg_len);
        if (used) {
            r->ext_pos += used;
            return 1;
        }
        kumo_envelope_reader_detach(r);
        return 0;
    }
    return r->err;
}

size_t kumo_envelope_reader_pending(const struct kumo_envelope_reader *r)
{
    size_t p = r->scan <= r->buf.len ? r->buf.len - r->scan : r->buf.len - r->msg_start;
    size_t off = r->ext_pos;
    while (off < r->ext_len && r->ext_len - off >= HDR) {
        uint32_t n = be32(r->ext + off + 1);
        if (r->ext_len - off - HDR < n)
            break;
        off += HDR + (size_t)n;
    }
    return p + (r->ext_len - off);
}

void kumo_envelope_header(uint8_t hdr[KUMO_ENVELOPE_HEADER_LEN], uint8_t flags, size_t len)
{
    if ((uint64_t)len > UINT32_MAX) {
        fprintf(stderr, "kumo: envelope message of %zu bytes does not fit 32 bits\n", len);
        abort();
    }
    hdr[0] = flags;
    hdr[1] = (uint8_t)(len >> 24);
    hdr[2] = (uint8_t)(len >> 16);
    hdr[3] = (uint8_t)(len >> 8);
    hdr[4] = (uint8_t)len;
}

void kumo_envelope_write(struct kumo_buf *out, uint8_t flags, const uint8_t *msg, size_t len)
{
    uint8_t hdr[HDR];
    kumo_envelope_header(hdr, flags, len);
    kumo_buf_reserve(out, HDR + len);
    kumo_buf_append(out, hdr, HDR);
    if (len)
        kumo_buf_append(out, msg, len);
}
