/* Tests of kumo-storage's flexible checksums (checksum.c) against the
 * published check values of each CRC ("123456789") and FIPS 180 vectors,
 * and of the aws-chunked decoder (chunked.c) against the example of the
 * S3 documentation ("Signature Calculations for the Authorization Header:
 * Transferring Payload in Multiple Chunks"), plus framing errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "storage.h"

static const char check[] = "123456789";

static void test_crc_check_values(void **state)
{
    (void)state;
    /* CRC-32/ISO-HDLC, CRC-32C/ISCSI, CRC-64/NVME check values. */
    assert_int_equal(stg_crc32(0, check, 9), 0xCBF43926u);
    assert_int_equal(stg_crc32c(0, check, 9), 0xE3069283u);
    assert_true(stg_crc64nvme(0, check, 9) == 0xAE8B14860A799888ull);
    assert_int_equal(stg_crc32(0, "", 0), 0);
    assert_int_equal(stg_crc32c(0, "", 0), 0);
    assert_true(stg_crc64nvme(0, "", 0) == 0);
}

static void test_crc_chaining(void **state)
{
    (void)state;
    /* Any split gives the one-shot value (the body arrives in pieces). */
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    uint32_t a = stg_crc32(0, buf, sizeof buf), c = stg_crc32c(0, buf, sizeof buf);
    uint64_t n = stg_crc64nvme(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
        assert_int_equal(stg_crc32(stg_crc32(0, buf, cut), buf + cut, sizeof buf - cut), a);
        assert_int_equal(stg_crc32c(stg_crc32c(0, buf, cut), buf + cut, sizeof buf - cut), c);
        assert_true(stg_crc64nvme(stg_crc64nvme(0, buf, cut), buf + cut, sizeof buf - cut) == n);
    }
}

static void b64_of(enum stg_ck_alg a, const char *data, char out[STG_CK_B64_MAX])
{
    struct stg_cksum c;
    uint8_t raw[STG_CK_MAX_LEN];
    stg_ck_init(&c, a);
    stg_ck_update(&c, data, strlen(data));
    size_t n = stg_ck_final(&c, raw);
    assert_int_equal(n, stg_ck_len(a));
    stg_ck_b64(raw, n, out);
}

static void test_ck_values_and_names(void **state)
{
    (void)state;
    char b[STG_CK_B64_MAX];
    b64_of(STG_CK_CRC32, check, b);
    assert_string_equal(b, "y/Q5Jg=="); /* 0xCBF43926 big-endian */
    b64_of(STG_CK_CRC32C, check, b);
    assert_string_equal(b, "4waSgw==");
    b64_of(STG_CK_CRC64NVME, check, b);
    assert_string_equal(b, "rosUhgp5mIg=");
    b64_of(STG_CK_SHA1, "abc", b);
    assert_string_equal(b, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    b64_of(STG_CK_SHA256, "abc", b);
    assert_string_equal(b, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    assert_int_equal(stg_ck_parse("crc64nvme", 9), STG_CK_CRC64NVME);
    assert_int_equal(stg_ck_parse("MD5", 3), STG_CK_NONE);
    assert_int_equal(stg_ck_from_header("X-Amz-Checksum-CRC32C", 21), STG_CK_CRC32C);
    assert_string_equal(stg_ck_xml(STG_CK_SHA1), "ChecksumSHA1");
    uint8_t raw[STG_CK_MAX_LEN];
    assert_int_equal(stg_ck_unb64("y/Q5Jg==", STG_CK_CRC32, raw), 0);
    assert_int_equal(stg_ck_unb64("y/Q5Jg==", STG_CK_CRC64NVME, raw), -1);
    assert_int_equal(stg_ck_unb64("not base64!", STG_CK_CRC32, raw), -1);
    struct stg_cksum none;
    stg_ck_init(&none, STG_CK_NONE);
    stg_ck_update(&none, "x", 1);
    assert_int_equal(stg_ck_final(&none, raw), 0);
}

/* ---- aws-chunked ---- */

struct sink {
    struct kumo_buf got;
};

static int to_buf(void *arg, const uint8_t *p, size_t n)
{
    kumo_buf_append(&((struct sink *)arg)->got, p, n);
    return 0;
}

/* The S3 documentation's example: 66560 bytes of 'a' in chunks of 65536,
 * 1024 and 0, signed with the example key on 2013-05-24. */
static void aws_example(struct kumo_buf *wire, struct stg_chunked_cfg *cfg)
{
    static const char *const sigs[] = {
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    };
    static const size_t sizes[] = {65536, 1024, 0};
    memset(cfg, 0, sizeof *cfg);
    cfg->signed_chunks = 1;
    kumo_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1",
                           "s3", cfg->key);
    memcpy(cfg->date, "20130524T000000Z", 17);
    snprintf(cfg->scope, sizeof cfg->scope, "20130524/us-east-1/s3/aws4_request");
    memcpy(cfg->seed, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", 65);
    for (int i = 0; i < 3; i++) {
        kumo_buf_appendf(wire, "%zx;chunk-signature=%s\r\n", sizes[i], sigs[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            kumo_buf_append_byte(wire, 'a');
        if (sizes[i])
            kumo_buf_append_str(wire, "\r\n");
    }
    kumo_buf_append_str(wire, "\r\n");
}

static enum stg_err decode(const struct stg_chunked_cfg *cfg, const uint8_t *p, size_t n,
                           size_t step, struct sink *s, struct stg_chunked **out)
{
    struct stg_chunked *c = stg_chunked_new(cfg, to_buf, s);
    enum stg_err e = STG_OK;
    for (size_t i = 0; e == STG_OK && i < n; i += step)
        e = stg_chunked_feed(c, p + i, n - i < step ? n - i : step, NULL);
    if (e == STG_OK)
        e = stg_chunked_finish(c, NULL);
    if (out)
        *out = c;
    else
        stg_chunked_free(c);
    return e;
}

static void test_chunked_aws_example(void **state)
{
    (void)state;
    struct kumo_buf wire = KUMO_BUF_INIT;
    struct stg_chunked_cfg cfg;
    aws_example(&wire, &cfg);
    /* Whole, byte by byte and in odd pieces: the same result. */
    size_t steps[] = {wire.len, 1, 7, 4096};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct sink s = {KUMO_BUF_INIT};
        assert_int_equal(decode(&cfg, wire.data, wire.len, steps[i], &s, NULL), STG_OK);
        assert_int_equal(s.got.len, 66560);
        assert_true(s.got.data[0] == 'a' && s.got.data[66559] == 'a');
        kumo_buf_free(&s.got);
    }
    /* One payload byte changed: the first chunk's signature fails. */
    wire.data[200] = 'b';
    struct sink s = {KUMO_BUF_INIT};
    assert_int_equal(decode(&cfg, wire.data, wire.len, 1000, &s, NULL), STG_E_SIGNATURE_MISMATCH);
    kumo_buf_free(&s.got);
    wire.data[200] = 'a';
    /* The chain: another seed fails from the first chunk on. */
    cfg.seed[0] = cfg.seed[0] == '4' ? '5' : '4';
    assert_int_equal(decode(&cfg, wire.data, wire.len, 1000, &s, NULL), STG_E_SIGNATURE_MISMATCH);
    kumo_buf_free(&s.got);
    kumo_buf_free(&wire);
}

static void test_chunked_unsigned_trailer(void **state)
{
    (void)state;
    static const char wire[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n"
                               "x-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    struct stg_chunked_cfg cfg = {.trailer = 1};
    struct sink s = {KUMO_BUF_INIT};
    struct stg_chunked *c;
    assert_int_equal(decode(&cfg, (const uint8_t *)wire, strlen(wire), 3, &s, &c), STG_OK);
    assert_int_equal(s.got.len, 11);
    assert_memory_equal(s.got.data, "hello world", 11);
    assert_string_equal(stg_chunked_trailer(c, "x-amz-checksum-crc32"), "DUoRhQ==");
    assert_int_equal(stg_chunked_decoded(c), 11);
    assert_null(stg_chunked_trailer(c, "x-amz-checksum-crc32c"));
    stg_chunked_free(c);
    kumo_buf_free(&s.got);
}

static void test_chunked_malformed(void **state)
{
    (void)state;
    struct stg_chunked_cfg unsig = {.trailer = 1};
    static const struct {
        const char *wire;
        enum stg_err want;
    } cases[] = {
        {"5\r\nhello\r\n", STG_E_INCOMPLETE_BODY},                    /* no final chunk */
        {"5\r\nhellox\r\n0\r\n\r\n", STG_E_INVALID_REQUEST},          /* no CRLF after bytes */
        {"5\nhello\r\n0\r\n\r\n", STG_E_INVALID_REQUEST},             /* bare LF */
        {"x\r\n", STG_E_INVALID_REQUEST},                             /* not hex */
        {"5;ext=1\r\nhello\r\n0\r\n\r\n", STG_E_INVALID_REQUEST},     /* extension unsigned */
        {"4000001\r\n", STG_E_INVALID_REQUEST},                       /* over 64 MiB */
        {"11111111111111111\r\n", STG_E_INVALID_REQUEST},             /* 17 digits */
        {"0\r\nx-amz-checksum-crc32\r\n\r\n", STG_E_INVALID_REQUEST}, /* no colon */
        {"0\r\nbad name:1\r\n\r\n", STG_E_INVALID_REQUEST},
        {"0\r\na:1\r\na:2\r\n\r\n", STG_E_INVALID_REQUEST},                 /* twice */
        {"0\r\n\r\nmore", STG_E_INVALID_REQUEST},                           /* after the end */
        {"0\r\na:1\r\n", STG_E_INCOMPLETE_BODY},                            /* no blank line */
        {"0\r\nx-amz-trailer-signature:00\r\n\r\n", STG_E_INVALID_REQUEST}, /* unsigned */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sink s = {KUMO_BUF_INIT};
        enum stg_err e =
            decode(&unsig, (const uint8_t *)cases[i].wire, strlen(cases[i].wire), 2, &s, NULL);
        if (e != cases[i].want)
            fail_msg("case %zu (%s): %d, want %d", i, cases[i].wire, e, cases[i].want);
        kumo_buf_free(&s.got);
    }
    /* Too many trailing headers; a line over the bound. */
    struct kumo_buf w = KUMO_BUF_INIT;
    kumo_buf_append_str(&w, "0\r\n");
    for (int i = 0; i <= STG_CHUNK_TRAILERS_MAX; i++)
        kumo_buf_appendf(&w, "h%d:v\r\n", i);
    kumo_buf_append_str(&w, "\r\n");
    struct sink s = {KUMO_BUF_INIT};
    assert_int_equal(decode(&unsig, w.data, w.len, 5, &s, NULL), STG_E_INVALID_REQUEST);
    w.len = 0;
    kumo_buf_append_str(&w, "0\r\na:");
    for (int i = 0; i < STG_CHUNK_TRAILER_MAX; i++)
        kumo_buf_append_byte(&w, 'v');
    kumo_buf_append_str(&w, "\r\n\r\n");
    assert_int_equal(decode(&unsig, w.data, w.len, 5, &s, NULL), STG_E_INVALID_REQUEST);
    /* Signed: a missing signature extension, or a trailer without its
     * signature. */
    struct stg_chunked_cfg sig = {.signed_chunks = 1, .trailer = 1};
    static const char nosig[] = "5\r\nhello\r\n";
    assert_int_equal(decode(&sig, (const uint8_t *)nosig, strlen(nosig), 4, &s, NULL),
                     STG_E_INVALID_REQUEST);
    kumo_buf_free(&s.got);
    kumo_buf_free(&w);
}

static int stop_sink(void *arg, const uint8_t *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return -1;
}

static void test_chunked_sink_failure(void **state)
{
    (void)state;
    struct stg_chunked_cfg cfg = {0};
    struct stg_chunked *c = stg_chunked_new(&cfg, stop_sink, NULL);
    const char *why = NULL;
    assert_int_equal(stg_chunked_feed(c, (const uint8_t *)"3\r\nabc\r\n", 8, &why), STG_E_INTERNAL);
    assert_non_null(why);
    assert_int_equal(stg_chunked_finish(c, NULL), STG_E_INTERNAL);
    stg_chunked_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_check_values),         cmocka_unit_test(test_crc_chaining),
        cmocka_unit_test(test_ck_values_and_names),      cmocka_unit_test(test_chunked_aws_example),
        cmocka_unit_test(test_chunked_unsigned_trailer), cmocka_unit_test(test_chunked_malformed),
        cmocka_unit_test(test_chunked_sink_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
