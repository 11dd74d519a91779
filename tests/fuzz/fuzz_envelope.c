/* Envelope reader: however a stream is split, and whichever of feed,
 * feed_borrowed, detach and delayed next() the caller uses, the messages (and
 * the final error) must be those of a single feed of the whole stream.
 *
 * Input: [max_len selector][n][n control bytes][stream]. Control byte: bits
 * 0-4 a chunk length, bit 5 multiplies it by 64, bit 6 feeds it borrowed,
 * bit 7 drains next() right away. Else messages stay buffered; a borrowed
 * chunk is then detached (odd length bits) or kept, as the contract allows,
 * only until the next feed call. The last chunk is the rest of the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "wire/envelope.h"
#include "base/errors.h"

static size_t pick_max_len(uint8_t sel)
{
    return sel == 255 ? SIZE_MAX : (size_t)sel * 8;
}

/* Drains next() into `out` (re-encoded); returns the final next() result. */
static int drain(struct kumo_envelope_reader *r, struct kumo_buf *out)
{
    uint8_t f;
    const uint8_t *m;
    size_t n;
    int rc;
    while ((rc = kumo_envelope_reader_next(r, &f, &m, &n)) == 1)
        kumo_envelope_write(out, f, m, n);
    return rc;
}

/* Borrowed bytes the reader may still refer to until the next feed. */
static uint8_t *held;
static size_t held_len;

static void release_held(void)
{
    if (held) {
        memset(held, 0xee, held_len);
        kumo_free(held);
        held = NULL;
    }
}

/* Feeds one chunk from its own heap copy, freed as soon as the reader's
 * contract allows so ASan sees any later use. */
static int feed_chunk(struct kumo_envelope_reader *r, const uint8_t *p, size_t len, uint8_t ctl,
                      struct kumo_buf *out)
{
    uint8_t *copy = kumo_malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    int rc;
    if (ctl & 0x40) {
        rc = kumo_envelope_reader_feed_borrowed(r, copy, len);
        release_held();
        if (ctl & 0x80) {
            drain(r, out);
        } else if (ctl & 1) {
            kumo_envelope_reader_detach(r);
        } else {
            held = copy;
            held_len = len;
            return rc;
        }
    } else {
        rc = kumo_envelope_reader_feed(r, copy, len);
        release_held();
        if (ctl & 0x80)
            drain(r, out);
    }
    memset(copy, 0xee, len);
    kumo_free(copy);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max_len = pick_max_len(data[0]);
    size_t n_ctl = data[1] % 32;
    if (size < 2 + n_ctl)
        return 0;
    const uint8_t *ctl = data + 2;
    const uint8_t *stream = ctl + n_ctl;
    size_t len = size - 2 - n_ctl;

    struct kumo_envelope_reader ref;
    struct kumo_buf want = KUMO_BUF_INIT;
    kumo_envelope_reader_init(&ref, max_len);
    int ref_feed = kumo_envelope_reader_feed(&ref, stream, len);
    int ref_end = drain(&ref, &want);
    size_t ref_pending = kumo_envelope_reader_pending(&ref);
    if (ref_end != 0 && ref_end != KUMO_ERR_TOO_LARGE)
        abort();
    if (ref_feed != ref_end)
        abort();

    struct kumo_envelope_reader r;
    struct kumo_buf got = KUMO_BUF_INIT;
    kumo_envelope_reader_init(&r, max_len);
    size_t off = 0;
    int err = 0;
    /* Feeding goes on after an error: later feeds must keep failing, and
     * still detach borrowed bytes before those are freed. */
    for (size_t i = 0; i <= n_ctl; i++) {
        size_t k = len - off;
        uint8_t c = i < n_ctl ? ctl[i] : 0x80;
        if (i < n_ctl) {
            size_t want_k = (size_t)(c & 0x1f) << (c & 0x20 ? 6 : 0);
            if (want_k < k)
                k = want_k;
        }
        int rc = feed_chunk(&r, stream + off, k, c, &got);
        if (err && rc != err)
            abort();
        if (!err)
            err = rc;
        off += k;
    }
    int end = drain(&r, &got);
    release_held();
    if (err != 0 && err != ref_end)
        abort();
    if (end != ref_end)
        abort();
    if (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len) != 0))
        abort();
    /* Without an error every byte was fed: the unfinished tail must agree. */
    if (!ref_end && kumo_envelope_reader_pending(&r) != ref_pending)
        abort();
    if (!ref_end && ref_pending + want.len != len)
        abort();

    kumo_envelope_reader_free(&ref);
    kumo_envelope_reader_free(&r);
    kumo_buf_free(&want);
    kumo_buf_free(&got);
    return 0;
}
