#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "wire/compress.h"
#include "base/errors.h"

/* Python: gzip.compress(b"hello, kumo\n", mtime=0). */
static const uint8_t hello_gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb,
                                   0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0xc8, 0x2e, 0xcd, 0xcd, 0xe7,
                                   0x02, 0x00, 0x93, 0x44, 0x42, 0xf3, 0x0c, 0x00, 0x00, 0x00};
/* gzip(1) of "named\n" with its file name and mtime in the header. */
static const uint8_t named_gz[] = {0x1f, 0x8b, 0x08, 0x08, 0x08, 0xed, 0x03, 0x6b, 0x00,
                                   0x03, 0x6e, 0x61, 0x6d, 0x65, 0x64, 0x2e, 0x74, 0x78,
                                   0x74, 0x00, 0xcb, 0x4b, 0xcc, 0x4d, 0x4d, 0xe1, 0x02,
                                   0x00, 0xdc, 0xf0, 0x7a, 0x41, 0x06, 0x00, 0x00, 0x00};

static void test_compress_decompress_known_vectors(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_gzip_decompress(hello_gz, sizeof hello_gz, 100, &out), 0);
    assert_int_equal(out.len, 12);
    assert_string_equal((char *)out.data, "hello, kumo\n");
    kumo_buf_reset(&out);
    assert_int_equal(kumo_gzip_decompress(named_gz, sizeof named_gz, 100, &out), 0);
    assert_string_equal((char *)out.data, "named\n");
    kumo_buf_free(&out);
}

static void round_trip(const uint8_t *in, size_t len)
{
    struct kumo_buf gz = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    assert_int_equal(kumo_gzip_compress(in, len, &gz), 0);
    assert_true(gz.len >= 18); /* 10-byte header + 8-byte trailer at least */
    assert_int_equal(gz.data[0], 0x1f);
    assert_int_equal(gz.data[1], 0x8b);
    assert_int_equal(gz.data[2], 8); /* deflate */
    /* ISIZE trailer: length mod 2^32, little-endian. */
    uint32_t isize = (uint32_t)gz.data[gz.len - 4] | (uint32_t)gz.data[gz.len - 3] << 8 |
                     (uint32_t)gz.data[gz.len - 2] << 16 | (uint32_t)gz.data[gz.len - 1] << 24;
    assert_int_equal(isize, (uint32_t)len);
    assert_int_equal(kumo_gzip_decompress(gz.data, gz.len, len, &out), 0);
    assert_int_equal(out.len, len);
    if (len)
        assert_memory_equal(out.data, in, len);
    kumo_buf_free(&gz);
    kumo_buf_free(&out);
}

static void test_compress_round_trip(void **state)
{
    (void)state;
    round_trip(NULL, 0);
    round_trip((const uint8_t *)"x", 1);
    round_trip((const uint8_t *)"hello, kumo\n", 12);
    const size_t big = 3 << 20;
    uint8_t *buf = kumo_malloc(big);
    srand(99);
    for (size_t i = 0; i < big; i++)
        buf[i] = (uint8_t)rand(); /* incompressible */
    round_trip(buf, big);
    for (size_t i = 0; i < big; i++)
        buf[i] = (uint8_t) "abcabd"[i % 6]; /* very compressible */
    round_trip(buf, big);
    kumo_free(buf);
}

static void test_compress_appends(void **state)
{
    (void)state;
    struct kumo_buf gz = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    kumo_buf_append_str(&gz, "pre");
    assert_int_equal(kumo_gzip_compress((const uint8_t *)"data", 4, &gz), 0);
    assert_memory_equal(gz.data, "pre", 3);
    kumo_buf_append_str(&out, "got:");
    assert_int_equal(kumo_gzip_decompress(gz.data + 3, gz.len - 3, 4, &out), 0);
    assert_string_equal((char *)out.data, "got:data");
    kumo_buf_free(&gz);
    kumo_buf_free(&out);
}

static void test_compress_limit_is_exact(void **state)
{
    (void)state;
    uint8_t in[1000];
    memset(in, 'z', sizeof in);
    struct kumo_buf gz = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    kumo_gzip_compress(in, sizeof in, &gz);
    assert_int_equal(kumo_gzip_decompress(gz.data, gz.len, 1000, &out), 0);
    assert_int_equal(out.len, 1000);
    kumo_buf_reset(&out);
    assert_int_equal(kumo_gzip_decompress(gz.data, gz.len, 999, &out), KUMO_ERR_TOO_LARGE);
    assert_int_equal(out.len, 0);
    assert_int_equal(kumo_gzip_decompress(gz.data, gz.len, 0, &out), KUMO_ERR_TOO_LARGE);
    kumo_buf_reset(&gz);
    /* An empty payload fits a zero limit. */
    kumo_gzip_compress(NULL, 0, &gz);
    assert_int_equal(kumo_gzip_decompress(gz.data, gz.len, 0, &out), 0);
    assert_int_equal(out.len, 0);
    kumo_buf_free(&gz);
    kumo_buf_free(&out);
}

/* Streams `total` zero bytes through deflate: a ~1000:1 "zip bomb". */
static void make_bomb(size_t total, struct kumo_buf *out)
{
    static uint8_t zeros[1 << 16];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    uint8_t chunk[1 << 14];
    size_t left = total;
    int flush;
    do {
        size_t n = left < sizeof zeros ? left : sizeof zeros;
        left -= n;
        flush = left ? Z_NO_FLUSH : Z_FINISH;
        zs.next_in = zeros;
        zs.avail_in = (uInt)n;
        do {
            zs.next_out = chunk;
            zs.avail_out = sizeof chunk;
            deflate(&zs, flush);
            kumo_buf_append(out, chunk, sizeof chunk - zs.avail_out);
        } while (zs.avail_out == 0);
    } while (flush != Z_FINISH);
    deflateEnd(&zs);
}

static void test_compress_zip_bomb_rejected_with_bounded_memory(void **state)
{
    (void)state;
    struct kumo_buf bomb = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    make_bomb((size_t)256 << 20, &bomb);
    assert_true(bomb.len < 512 * 1024); /* 256 MiB in a few hundred KiB */
    const size_t limit = 1 << 20;
    assert_int_equal(kumo_gzip_decompress(bomb.data, bomb.len, limit, &out), KUMO_ERR_TOO_LARGE);
    assert_int_equal(out.len, 0);
    /* The output buffer never grew past the limit (plus the probe byte and
     * the NUL kumo_buf keeps). */
    assert_true(out.cap <= limit + 2);
    kumo_buf_free(&out);

    /* A tiny limit on a tiny input: the growth is capped too. */
    assert_int_equal(kumo_gzip_decompress(bomb.data, bomb.len, 10, &out), KUMO_ERR_TOO_LARGE);
    assert_true(out.cap <= 12);
    kumo_buf_free(&out);
    kumo_buf_free(&bomb);
}

static void expect_invalid(const uint8_t *in, size_t len)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append_str(&out, "keep");
    assert_int_equal(kumo_gzip_decompress(in, len, 1 << 20, &out), KUMO_ERR_INVALID);
    assert_int_equal(out.len, 4);
    assert_string_equal((char *)out.data, "keep");
    kumo_buf_free(&out);
}

static void test_compress_rejects_truncated(void **state)
{
    (void)state;
    expect_invalid(hello_gz, 0);
    expect_invalid(NULL, 0);
    for (size_t n = 1; n < sizeof hello_gz; n++)
        expect_invalid(hello_gz, n);
}

static void test_compress_rejects_trailing_garbage(void **state)
{
    (void)state;
    uint8_t buf[sizeof hello_gz + 4];
    memcpy(buf, hello_gz, sizeof hello_gz);
    memcpy(buf + sizeof hello_gz, "\0\0\0\0", 4);
    expect_invalid(buf, sizeof hello_gz + 1);
    expect_invalid(buf, sizeof hello_gz + 4);
    buf[sizeof hello_gz] = 'x';
    expect_invalid(buf, sizeof hello_gz + 1);
    /* The start of another member that never finishes. */
    buf[sizeof hello_gz] = 0x1f;
    buf[sizeof hello_gz + 1] = 0x8b;
    expect_invalid(buf, sizeof hello_gz + 2);
}

static void test_compress_rejects_corruption(void **state)
{
    (void)state;
    uint8_t buf[sizeof hello_gz];
    /* A wrong CRC-32, a wrong ISIZE, a wrong magic, a wrong method. */
    const size_t at[] = {sizeof hello_gz - 8, sizeof hello_gz - 1, 0, 1, 2};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        memcpy(buf, hello_gz, sizeof buf);
        buf[at[i]] ^= 0x01;
        expect_invalid(buf, sizeof buf);
    }
    /* A zlib (RFC 1950) stream is not gzip. */
    uint8_t z[64];
    uLongf zlen = sizeof z;
    assert_int_equal(compress2(z, &zlen, (const Bytef *)"hello", 5, 6), Z_OK);
    expect_invalid(z, zlen);
    /* Nor is plain text. */
    expect_invalid((const uint8_t *)"hello, kumo", 11);
}

static void test_compress_concatenated_members(void **state)
{
    (void)state;
    struct kumo_buf gz = KUMO_BUF_INIT, out = KUMO_BUF_INIT;
    kumo_gzip_compress((const uint8_t *)"first,", 6, &gz);
    kumo_gzip_compress(NULL, 0, &gz);
    kumo_gzip_compress((const uint8_t *)"second", 6, &gz);
    assert_int_equal(kumo_gzip_decompress(gz.data, gz.len, 12, &out), 0);
    assert_string_equal((char *)out.data, "first,second");
    kumo_buf_reset(&out);
    /* The limit counts the whole output, across members. */
    assert_int_equal(kumo_gzip_decompress(gz.data, gz.len, 11, &out), KUMO_ERR_TOO_LARGE);
    kumo_buf_free(&gz);
    kumo_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compress_decompress_known_vectors),
        cmocka_unit_test(test_compress_round_trip),
        cmocka_unit_test(test_compress_appends),
        cmocka_unit_test(test_compress_limit_is_exact),
        cmocka_unit_test(test_compress_zip_bomb_rejected_with_bounded_memory),
        cmocka_unit_test(test_compress_rejects_truncated),
        cmocka_unit_test(test_compress_rejects_trailing_garbage),
        cmocka_unit_test(test_compress_rejects_corruption),
        cmocka_unit_test(test_compress_concatenated_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
