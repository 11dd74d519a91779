#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "wire/envelope.h"
#include "base/errors.h"

static void put_header(uint8_t *p, uint8_t flags, uint32_t len)
{
    p[0] = flags;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
}

/* Expects next() to yield exactly (flags, msg). */
static void expect_msg(struct kumo_envelope_reader *r, uint8_t flags, const void *msg, size_t len)
{
    uint8_t f = 0xaa;
    const uint8_t *m = NULL;
    size_t n = 12345;
    assert_int_equal(kumo_envelope_reader_next(r, &f, &m, &n), 1);
    assert_int_equal(f, flags);
    assert_non_null(m);
    assert_int_equal(n, len);
    if (len)
        assert_memory_equal(m, msg, len);
}

static int next_rc(struct kumo_envelope_reader *r)
{
    uint8_t f;
    const uint8_t *m;
    size_t n;
    return kumo_envelope_reader_next(r, &f, &m, &n);
}

static void test_envelope_write_header_layout(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_envelope_write(&out, KUMO_ENVELOPE_COMPRESSED, (const uint8_t *)"abc", 3);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.data,
                        "\x01\x00\x00\x00\x03"
                        "abc",
                        8);
    kumo_envelope_write(&out, KUMO_ENVELOPE_END_STREAM, NULL, 0);
    assert_int_equal(out.len, 13);
    assert_memory_equal(out.data + 8, "\x80\x00\x00\x00\x00", 5);
    kumo_buf_free(&out);

    uint8_t hdr[KUMO_ENVELOPE_HEADER_LEN];
    kumo_envelope_header(hdr, 0, 0x01020304);
    assert_memory_equal(hdr, "\x00\x01\x02\x03\x04", 5);
    kumo_envelope_header(hdr, 0x02, 0xffffffffu);
    assert_memory_equal(hdr, "\x02\xff\xff\xff\xff", 5);
}

static void test_envelope_reader_empty(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 100);
    assert_int_equal(r.max_len, 100);
    assert_int_equal(next_rc(&r), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    assert_int_equal(kumo_envelope_reader_feed(&r, NULL, 0), 0);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, NULL, 0), 0);
    assert_int_equal(next_rc(&r), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    kumo_envelope_reader_free(&r);
    kumo_envelope_reader_free(&r); /* twice is harmless */
}

static void test_envelope_reader_one_message(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 100);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, (const uint8_t *)"hello", 5);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, in.len), 0);
    memset(in.data, 0, in.len); /* feed copied: the caller's bytes are free */
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    expect_msg(&r, 0, "hello", 5);
    assert_int_equal(next_rc(&r), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_zero_length_messages(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 0);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, NULL, 0);
    kumo_envelope_write(&in, KUMO_ENVELOPE_END_STREAM, NULL, 0);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, in.len), 0);
    expect_msg(&r, 0, NULL, 0);
    expect_msg(&r, KUMO_ENVELOPE_END_STREAM, NULL, 0);
    assert_int_equal(next_rc(&r), 0);
    /* max_len 0 still refuses a 1-byte message. */
    kumo_buf_reset(&in);
    kumo_envelope_write(&in, 0, (const uint8_t *)"x", 1);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, in.len), KUMO_ERR_TOO_LARGE);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_many_in_one_feed(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 1000);
    struct kumo_buf in = KUMO_BUF_INIT;
    char msg[64];
    for (int i = 0; i < 50; i++) {
        memset(msg, 'a' + i % 26, sizeof msg);
        kumo_envelope_write(&in, (uint8_t)i, (uint8_t *)msg, (size_t)i);
    }
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, in.len), 0);
    for (int i = 0; i < 50; i++) {
        memset(msg, 'a' + i % 26, sizeof msg);
        expect_msg(&r, (uint8_t)i, msg, (size_t)i);
    }
    assert_int_equal(next_rc(&r), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_byte_by_byte(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 300);
    struct kumo_buf in = KUMO_BUF_INIT;
    uint8_t msg[300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    const size_t lens[] = {0, 1, 4, 5, 6, 0, 299, 300, 17};
    const size_t n_lens = sizeof lens / sizeof lens[0];
    for (size_t i = 0; i < n_lens; i++)
        kumo_envelope_write(&in, (uint8_t)i, msg, lens[i]);
    size_t got = 0, start = 0;
    for (size_t i = 0; i < in.len; i++) {
        assert_int_equal(kumo_envelope_reader_feed(&r, in.data + i, 1), 0);
        uint8_t f;
        const uint8_t *m;
        size_t n;
        int rc;
        while ((rc = kumo_envelope_reader_next(&r, &f, &m, &n)) == 1) {
            assert_int_equal(f, got);
            assert_int_equal(n, lens[got]);
            if (n)
                assert_memory_equal(m, msg, n);
            start += 5 + lens[got];
            got++;
        }
        assert_int_equal(rc, 0);
        /* Everything fed but not yet delivered is pending. */
        assert_int_equal(kumo_envelope_reader_pending(&r), i + 1 - start);
    }
    assert_int_equal(got, n_lens);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_exactly_max_len(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 64);
    uint8_t msg[64];
    memset(msg, 'm', sizeof msg);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, msg, 64);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, in.len), 0);
    expect_msg(&r, 0, msg, 64);
    kumo_buf_reset(&in);
    kumo_envelope_write(&in, 0, msg, 63);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, in.len), 0);
    expect_msg(&r, 0, msg, 63);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_too_large_at_header(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 64);
    uint8_t hdr[5];
    put_header(hdr, 0, 65);
    /* Refused on the header alone, before any body byte. */
    assert_int_equal(kumo_envelope_reader_feed(&r, hdr, 4), 0);
    assert_int_equal(kumo_envelope_reader_feed(&r, hdr + 4, 1), KUMO_ERR_TOO_LARGE);
    assert_int_equal(next_rc(&r), KUMO_ERR_TOO_LARGE);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    /* Sticky: more bytes are not buffered. */
    uint8_t body[65] = {0};
    assert_int_equal(kumo_envelope_reader_feed(&r, body, sizeof body), KUMO_ERR_TOO_LARGE);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, body, sizeof body), KUMO_ERR_TOO_LARGE);
    assert_true(r.buf.len <= 5);
    assert_int_equal(next_rc(&r), KUMO_ERR_TOO_LARGE);
    kumo_envelope_reader_free(&r);

    /* The largest announceable length with an unlimited reader is fine. */
    kumo_envelope_reader_init(&r, SIZE_MAX);
    put_header(hdr, 0, 0xffffffffu);
    assert_int_equal(kumo_envelope_reader_feed(&r, hdr, 5), 0);
    assert_int_equal(next_rc(&r), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 5);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_messages_before_too_large_still_delivered(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 10);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, (const uint8_t *)"one", 3);
    kumo_envelope_write(&in, 0, (const uint8_t *)"two", 3);
    size_t good = in.len;
    uint8_t big[11] = {0};
    kumo_envelope_write(&in, 0, big, sizeof big);
    kumo_envelope_write(&in, 0, (const uint8_t *)"three", 5);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, in.len), KUMO_ERR_TOO_LARGE);
    /* Nothing from the oversized header on was kept. */
    assert_int_equal(r.buf.len, good);
    expect_msg(&r, 0, "one", 3);
    expect_msg(&r, 0, "two", 3);
    assert_int_equal(next_rc(&r), KUMO_ERR_TOO_LARGE);
    assert_int_equal(next_rc(&r), KUMO_ERR_TOO_LARGE);
    kumo_envelope_reader_free(&r);

    /* Same through the zero-copy path. */
    kumo_envelope_reader_init(&r, 10);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, in.data, in.len), KUMO_ERR_TOO_LARGE);
    expect_msg(&r, 0, "one", 3);
    expect_msg(&r, 0, "two", 3);
    assert_int_equal(next_rc(&r), KUMO_ERR_TOO_LARGE);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    kumo_envelope_reader_free(&r);
    kumo_buf_free(&in);
}

/* After feed_borrowed reported an oversized message, a further feed still
 * detaches: the caller may then drop the borrowed bytes. */
static void test_envelope_reader_borrowed_error_then_feed_detaches(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 4);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, (const uint8_t *)"ok", 2);
    kumo_envelope_write(&in, 0, (const uint8_t *)"toolong", 7);
    uint8_t *copy = kumo_malloc(in.len);
    memcpy(copy, in.data, in.len);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, copy, in.len), KUMO_ERR_TOO_LARGE);
    assert_int_equal(kumo_envelope_reader_feed(&r, (const uint8_t *)"x", 1), KUMO_ERR_TOO_LARGE);
    memset(copy, 0, in.len);
    kumo_free(copy);
    expect_msg(&r, 0, "ok", 2);
    assert_int_equal(next_rc(&r), KUMO_ERR_TOO_LARGE);

    kumo_envelope_reader_free(&r);
    copy = kumo_malloc(in.len);
    memcpy(copy, in.data, in.len);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, copy, in.len), KUMO_ERR_TOO_LARGE);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, (const uint8_t *)"x", 1),
                     KUMO_ERR_TOO_LARGE);
    memset(copy, 0, in.len);
    kumo_free(copy);
    expect_msg(&r, 0, "ok", 2);
    assert_int_equal(next_rc(&r), KUMO_ERR_TOO_LARGE);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_pending_reports_truncation(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 100);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, (const uint8_t *)"complete", 8);
    kumo_envelope_write(&in, 0, (const uint8_t *)"truncated", 9);
    /* All of the first, 3 header bytes of the second. */
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data, 13 + 3), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 3);
    /* The header and 4 bytes of the body. */
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data + 16, 6), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 9);
    expect_msg(&r, 0, "complete", 8);
    assert_int_equal(next_rc(&r), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 9);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data + 22, in.len - 22), 0);
    assert_int_equal(kumo_envelope_reader_pending(&r), 0);
    expect_msg(&r, 0, "truncated", 9);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_borrowed_is_zero_copy(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 100);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, (const uint8_t *)"first", 5);
    kumo_envelope_write(&in, 1, (const uint8_t *)"second", 6);
    kumo_envelope_write(&in, 0, NULL, 0);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, in.data, in.len), 0);
    assert_int_equal(r.buf.len, 0); /* nothing copied */
    uint8_t f;
    const uint8_t *m;
    size_t n;
    assert_int_equal(kumo_envelope_reader_next(&r, &f, &m, &n), 1);
    assert_ptr_equal(m, in.data + 5);
    assert_int_equal(n, 5);
    assert_int_equal(kumo_envelope_reader_next(&r, &f, &m, &n), 1);
    assert_ptr_equal(m, in.data + 15);
    assert_int_equal(f, 1);
    assert_int_equal(kumo_envelope_reader_next(&r, &f, &m, &n), 1);
    assert_int_equal(n, 0);
    assert_non_null(m);
    assert_int_equal(kumo_envelope_reader_next(&r, &f, &m, &n), 0);
    assert_int_equal(r.buf.len, 0);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

/* Feeds `len` bytes from a fresh heap copy that is freed as soon as the
 * contract allows, so ASan catches any use of borrowed bytes after that. */
static int feed_borrowed_then_drain(struct kumo_envelope_reader *r, const uint8_t *data, size_t len,
                                    struct kumo_buf *msgs)
{
    uint8_t *copy = kumo_malloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    int rc = kumo_envelope_reader_feed_borrowed(r, copy, len);
    uint8_t f;
    const uint8_t *m;
    size_t n;
    int got;
    while ((got = kumo_envelope_reader_next(r, &f, &m, &n)) == 1) {
        kumo_envelope_write(msgs, f, m, n);
    }
    memset(copy, 0xdd, len);
    kumo_free(copy);
    return rc ? rc : got;
}

static void test_envelope_reader_borrowed_split_messages(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 1000);
    struct kumo_buf in = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    for (size_t i = 0; i < 40; i++)
        kumo_envelope_write(&in, (uint8_t)i, msg, i * 5);
    /* Every chunk size from 1 to 40 cuts headers and bodies everywhere. */
    for (size_t chunk = 1; chunk <= 40; chunk++) {
        kumo_buf_reset(&out);
        for (size_t off = 0; off < in.len; off += chunk) {
            size_t k = in.len - off < chunk ? in.len - off : chunk;
            assert_int_equal(feed_borrowed_then_drain(&r, in.data + off, k, &out), 0);
        }
        assert_int_equal(kumo_envelope_reader_pending(&r), 0);
        assert_int_equal(out.len, in.len);
        assert_memory_equal(out.data, in.data, in.len);
    }
    kumo_buf_free(&in);
    kumo_buf_free(&out);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_borrowed_detach(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 100);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, (const uint8_t *)"a", 1);
    kumo_envelope_write(&in, 0, (const uint8_t *)"bb", 2);
    kumo_envelope_write(&in, 0, (const uint8_t *)"ccc", 3);
    uint8_t *copy = kumo_malloc(in.len);
    memcpy(copy, in.data, in.len);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, copy, in.len - 1), 0);
    expect_msg(&r, 0, "a", 1);
    /* Stop draining: detach, then the caller's bytes may go. */
    kumo_envelope_reader_detach(&r);
    memset(copy, 0, in.len);
    kumo_free(copy);
    assert_int_equal(kumo_envelope_reader_pending(&r), 7);
    expect_msg(&r, 0, "bb", 2);
    assert_int_equal(next_rc(&r), 0);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data + in.len - 1, 1), 0);
    expect_msg(&r, 0, "ccc", 3);
    assert_int_equal(next_rc(&r), 0);

    /* A copying feed after an undrained borrowed one detaches by itself. */
    copy = kumo_malloc(in.len);
    memcpy(copy, in.data, in.len);
    assert_int_equal(kumo_envelope_reader_feed_borrowed(&r, copy, 10), 0);
    assert_int_equal(kumo_envelope_reader_feed(&r, in.data + 10, in.len - 10), 0);
    memset(copy, 0, in.len);
    kumo_free(copy);
    expect_msg(&r, 0, "a", 1);
    expect_msg(&r, 0, "bb", 2);
    expect_msg(&r, 0, "ccc", 3);
    assert_int_equal(next_rc(&r), 0);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_mixed_feeds_random_splits(void **state)
{
    (void)state;
    srand(1234);
    struct kumo_buf in = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    uint8_t msg[3000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)rand();
    for (int i = 0; i < 200; i++) {
        size_t len = (size_t)rand() % (rand() % 4 ? 20 : (int)sizeof msg);
        kumo_envelope_write(&in, (uint8_t)rand(), msg + (size_t)rand() % 10,
                            len > 2990 ? 2990 : len);
    }
    for (int iter = 0; iter < 200; iter++) {
        struct kumo_envelope_reader r;
        kumo_envelope_reader_init(&r, 2990);
        kumo_buf_reset(&out);
        size_t off = 0;
        while (off < in.len) {
            size_t k = (size_t)rand() % (rand() % 2 ? 8 : 5000);
            if (k > in.len - off)
                k = in.len - off;
            if (rand() % 2) {
                assert_int_equal(feed_borrowed_then_drain(&r, in.data + off, k, &out), 0);
            } else {
                assert_int_equal(kumo_envelope_reader_feed(&r, in.data + off, k), 0);
                uint8_t f;
                const uint8_t *m;
                size_t n;
                /* Sometimes leave messages buffered for later. */
                while (rand() % 4 && kumo_envelope_reader_next(&r, &f, &m, &n) == 1)
                    kumo_envelope_write(&out, f, m, n);
            }
            off += k;
        }
        uint8_t f;
        const uint8_t *m;
        size_t n;
        while (kumo_envelope_reader_next(&r, &f, &m, &n) == 1)
            kumo_envelope_write(&out, f, m, n);
        assert_int_equal(kumo_envelope_reader_pending(&r), 0);
        assert_int_equal(out.len, in.len);
        assert_memory_equal(out.data, in.data, in.len);
        kumo_envelope_reader_free(&r);
    }
    kumo_buf_free(&in);
    kumo_buf_free(&out);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Feeding a large message one byte at a time must stay linear, and memory
 * must not outlive the message. */
static void test_envelope_reader_byte_by_byte_large_is_linear(void **state)
{
    (void)state;
    const size_t big = 4 << 20;
    uint8_t *msg = kumo_malloc(big);
    for (size_t i = 0; i < big; i++)
        msg[i] = (uint8_t)(i >> 3);
    struct kumo_buf in = KUMO_BUF_INIT;
    kumo_envelope_write(&in, 0, msg, big);
    kumo_envelope_write(&in, 0, (const uint8_t *)"tail", 4);
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, big);
    double t0 = now_sec();
    for (size_t i = 0; i < in.len; i++)
        assert_int_equal(kumo_envelope_reader_feed(&r, in.data + i, 1), 0);
    double dt = now_sec() - t0;
    /* ~4M calls: well under a second even under ASan, tens of seconds under
     * valgrind on a loaded machine; a quadratic reader would take hours. */
    assert_true(dt < 180.0);
    assert_true(r.buf.cap <= 2 * in.len + 64);
    expect_msg(&r, 0, msg, big);
    expect_msg(&r, 0, "tail", 4);
    assert_int_equal(next_rc(&r), 0);
    /* The emptied big buffer is released. */
    assert_true(r.buf.cap <= 64 * 1024);
    kumo_free(msg);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

/* A long stream of small messages read while fed keeps the buffer small. */
static void test_envelope_reader_long_stream_bounded_memory(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 100);
    struct kumo_buf in = KUMO_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        kumo_envelope_write(&in, 0, (const uint8_t *)"0123456789", (size_t)(i % 11));
    size_t delivered = 0;
    for (int round = 0; round < 100; round++) {
        for (size_t off = 0; off < in.len; off += 7) {
            size_t k = in.len - off < 7 ? in.len - off : 7;
            assert_int_equal(kumo_envelope_reader_feed(&r, in.data + off, k), 0);
            while (next_rc(&r) == 1)
                delivered++;
        }
        assert_true(r.buf.cap <= 256);
    }
    assert_int_equal(delivered, 100 * 1000);
    kumo_buf_free(&in);
    kumo_envelope_reader_free(&r);
}

static void test_envelope_reader_reusable_after_free(void **state)
{
    (void)state;
    struct kumo_envelope_reader r;
    kumo_envelope_reader_init(&r, 4);
    uint8_t hdr[5];
    put_header(hdr, 0, 5);
    assert_int_equal(kumo_envelope_reader_feed(&r, hdr, 5), KUMO_ERR_TOO_LARGE);
    kumo_envelope_reader_free(&r);
    assert_int_equal(r.max_len, 4);
    put_header(hdr, 0, 0);
    assert_int_equal(kumo_envelope_reader_feed(&r, hdr, 5), 0);
    expect_msg(&r, 0, NULL, 0);
    kumo_envelope_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_write_header_layout),
        cmocka_unit_test(test_envelope_reader_empty),
        cmocka_unit_test(test_envelope_reader_one_message),
        cmocka_unit_test(test_envelope_reader_zero_length_messages),
        cmocka_unit_test(test_envelope_reader_many_in_one_feed),
        cmocka_unit_test(test_envelope_reader_byte_by_byte),
        cmocka_unit_test(test_envelope_reader_exactly_max_len),
        cmocka_unit_test(test_envelope_reader_too_large_at_header),
        cmocka_unit_test(test_envelope_reader_messages_before_too_large_still_delivered),
        cmocka_unit_test(test_envelope_reader_borrowed_error_then_feed_detaches),
        cmocka_unit_test(test_envelope_reader_pending_reports_truncation),
        cmocka_unit_test(test_envelope_reader_borrowed_is_zero_copy),
        cmocka_unit_test(test_envelope_reader_borrowed_split_messages),
        cmocka_unit_test(test_envelope_reader_borrowed_detach),
        cmocka_unit_test(test_envelope_reader_mixed_feeds_random_splits),
        cmocka_unit_test(test_envelope_reader_byte_by_byte_large_is_linear),
        cmocka_unit_test(test_envelope_reader_long_stream_bounded_memory),
        cmocka_unit_test(test_envelope_reader_reusable_after_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
