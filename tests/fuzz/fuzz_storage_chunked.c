/* storage chunked: the aws-chunked body decoder (client bytes straight off
 * the data port). The first byte picks the mode (unsigned with trailer,
 * signed, signed with trailer) and how the rest is split into feeds; the
 * decoder must never crash, leak or read past a feed, and what it reports
 * must hold together: the sink receives exactly the decoded count, never
 * more than the wire bytes; once failed it stays failed with a reason;
 * finish succeeds only after a clean end; trailers it keeps are within
 * their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "storage.h"

struct count {
    int64_t bytes;
};

static int sink(void *arg, const uint8_t *p, size_t n)
{
    struct count *c = arg;
    volatile uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= p[i]; /* touches every byte handed over */
    (void)x;
    c->bytes += (int64_t)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    struct stg_chunked_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.signed_chunks = (mode & 3) != 0;
    cfg.trailer = (mode & 3) != 1;
    if (cfg.signed_chunks) {
        kumo_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1",
                               "s3", cfg.key);
        memcpy(cfg.date, "20130524T000000Z", 17);
        memcpy(cfg.scope, "20130524/us-east-1/s3/aws4_request", 35);
        memcpy(cfg.seed, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", 65);
    }
    size_t step = (size_t)(mode >> 2) + 1;
    struct count got = {0};
    struct stg_chunked *c = stg_chunked_new(&cfg, sink, &got);
    enum stg_err e = STG_OK;
    for (size_t i = 0; i < size; i += step) {
        const char *why = NULL;
        size_t n = size - i < step ? size - i : step;
        /* A feed is a copy of exactly n bytes: ASan sees any overread. */
        uint8_t *piece = malloc(n);
        memcpy(piece, data + i, n);
        enum stg_err fe = stg_chunked_feed(c, piece, n, &why);
        free(piece);
        if (fe != STG_OK && why == NULL)
            abort();
        if (e != STG_OK && fe != e)
            abort(); /* a failure sticks */
        e = fe;
    }
    if (got.bytes != stg_chunked_decoded(c) || got.bytes > (int64_t)size)
        abort();
    const char *why = NULL;
    enum stg_err fin = stg_chunked_finish(c, &why);
    if (fin != STG_OK && why == NULL)
        abort();
    if (e != STG_OK && fin != e)
        abort();
    if (fin == STG_OK) {
        const char *v = stg_chunked_trailer(c, "x-amz-checksum-crc32");
        if (v && strlen(v) >= STG_CHUNK_TRAILER_MAX)
            abort();
    }
    stg_chunked_free(c);
    return 0;
}
