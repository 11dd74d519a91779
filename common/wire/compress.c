#include "wire/compress.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/errors.h"

/* zlib's gzip wrapper: 15-bit window plus 16. */
#define GZIP_WINDOW_BITS (15 + 16)
/* First output allocation of a decompression when the input gives no better
 * hint. */
#define MIN_GROWTH 4096

/* zlib reports an error on arguments we control (a bug, not bad input). */
static void zfail(const char *what, int rc)
{
    fprintf(stderr, "kumo: zlib %s failed: %d\n", what, rc);
    abort();
}

/* zlib allocates through kumo's wrappers, so failure aborts like everywhere
 * else and no Z_MEM_ERROR path needs handling. Not zeroed (zlib's own default
 * does not zero either): clearing deflate's ~256 KiB of tables on every call
 * made compressing a 4 KiB message 1.3-7x slower here. */
static voidpf zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        zfail("zalloc size", 0);
    return kumo_malloc((size_t)items * size);
}

static void zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    kumo_free(p);
}

static void zinit(z_stream *zs)
{
    memset(zs, 0, sizeof *zs);
    zs->zalloc = zalloc;
    zs->zfree = zfree;
}

/* Gives zlib the next piece of input: avail_in is 32-bit. */
static void refill(z_stream *zs, const uint8_t **in, size_t *left)
{
    if (zs->avail_in || *left == 0)
        return;
    uInt n = *left > UINT_MAX ? UINT_MAX : (uInt)*left;
    zs->next_in = (Bytef *)*in;
    zs->avail_in = n;
    *in += n;
    *left -= n;
}

int kumo_gzip_compress(const uint8_t *in, size_t len, struct kumo_buf *out)
{
    z_stream zs;
    zinit(&zs);
    int rc = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW_BITS, 8,
                          Z_DEFAULT_STRATEGY);
    if (rc != Z_OK)
        zfail("deflateInit2", rc);
    size_t left = len;
    /* deflateBound covers the gzip wrapper: usually one pass suffices. */
    kumo_buf_reserve(out, deflateBound(&zs, len > ULONG_MAX ? ULONG_MAX : (uLong)len));
    do {
        refill(&zs, &in, &left);
        size_t room = out->cap - out->len - 1;
        if (room == 0) {
            kumo_buf_reserve(out, out->cap);
            room = out->cap - out->len - 1;
        }
        uInt avail = room > UINT_MAX ? UINT_MAX : (uInt)room;
        zs.next_out = out->data + out->len;
        zs.avail_out = avail;
        rc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            zfail("deflate", rc);
        out->len += avail - zs.avail_out;
    } while (rc != Z_STREAM_END);
    out->data[out->len] = '\0';
    deflateEnd(&zs);
    return 0;
}

/* Makes room for more output, growing geometrically from a hint but never
 * beyond `limit` bytes of output in total (`produced` so far): the buffer is
 * sized here rather than by kumo_buf_reserve, whose power-of-two rounding
 * could double the memory a near-limit input gets. Returns the room usable
 * by the next inflate call (at least 1 while produced < limit). */
static uInt grow(struct kumo_buf *out, size_t base, size_t produced, size_t limit, size_t hint)
{
    size_t used = base + produced + 1; /* + NUL kept by kumo_buf */
    if (out->cap <= used) {
        size_t want = produced > hint ? produced : hint;
        if (want < MIN_GROWTH)
            want = MIN_GROWTH;
        if (want > limit - produced)
            want = limit - produced;
        out->cap = used + want;
        out->data = kumo_realloc(out->data, out->cap);
    }
    size_t room = out->cap - used;
    if (room > limit - produced)
        room = limit - produced;
    return room > UINT_MAX ? UINT_MAX : (uInt)room;
}

/* Runs inflate over all members. Returns 0 or a KUMO_ERR_*; *produced is
 * the output written after out->len. */
static int inflate_all(z_stream *zs, const uint8_t *in, size_t len, size_t max_out,
                       struct kumo_buf *out, size_t *produced)
{
    /* One byte of room past the limit tells "exactly max_out" from "more". */
    size_t limit = max_out < SIZE_MAX - out->len - 2 ? max_out + 1 : SIZE_MAX - out->len - 2;
    size_t base = out->len;
    size_t left = len;
    /* Typical protobuf/JSON ratios are 2-5x. */
    size_t hint = len < SIZE_MAX / 4 ? len * 4 : len;
    for (;;) {
        refill(zs, &in, &left);
        uInt avail = grow(out, base, *produced, limit, hint);
        zs->next_out = out->data + base + *produced;
        zs->avail_out = avail;
        int rc = inflate(zs, Z_NO_FLUSH);
        *produced += avail - zs->avail_out;
        if (*produced > max_out)
            return KUMO_ERR_TOO_LARGE;
        if (rc == Z_STREAM_END) {
            if (zs->avail_in == 0 && left == 0)
                return 0;
            /* Another member follows (or garbage, which inflate rejects as a
             * bad header). */
            if (inflateReset(zs) != Z_OK)
                zfail("inflateReset", rc);
            continue;
        }
        if (rc == Z_BUF_ERROR && zs->avail_in == 0 && left == 0)
            return KUMO_ERR_INVALID; /* truncated */
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return KUMO_ERR_INVALID; /* Z_DATA_ERROR, Z_NEED_DICT */
    }
}

int kumo_gzip_decompress(const uint8_t *in, size_t len, size_t max_out, struct kumo_buf *out)
{
    if (len == 0)
        return KUMO_ERR_INVALID;
    z_stream zs;
    zinit(&zs);
    int rc = inflateInit2(&zs, GZIP_WINDOW_BITS);
    if (rc != Z_OK)
        zfail("inflateInit2", rc);
    size_t produced = 0;
    rc = inflate_all(&zs, in, len, max_out, out, &produced);
    inflateEnd(&zs);
    if (rc == 0)
        out->len += produced;
    if (out->data)
        out->data[out->len] = '\0';
    return rc;
}
