#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/errors.h"
#include "base/pctenc.h"

static void expect_encode(const char *in, size_t len, const char *want)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_pct_encode(in, len, &out);
    assert_int_equal(out.len, strlen(want));
    assert_string_equal((char *)out.data, want);
    kumo_buf_free(&out);
}

#define ENC(in, want) expect_encode(in, sizeof(in) - 1, want)

static void test_pctenc_encode_leaves_printable_ascii(void **state)
{
    (void)state;
    ENC("", "");
    ENC("hello world", "hello world");
    ENC(" !\"#$&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", " !\"#$&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~");
}

static void test_pctenc_encode_escapes_percent_controls_and_non_ascii(void **state)
{
    (void)state;
    ENC("%", "%25");
    ENC("100%", "100%25");
    ENC("a\nb", "a%0Ab");
    ENC("\x1f", "%1F");
    ENC("\x7f", "%7F");
    ENC("\0", "%00");
    ENC("\xff", "%FF");
    ENC("caf\xc3\xa9 \xe2\x82\xac", "caf%C3%A9 %E2%82%AC");
}

static void test_pctenc_encode_every_byte(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        kumo_buf_reset(&out);
        kumo_pct_encode(&in, 1, &out);
        if (c >= 0x20 && c <= 0x7e && c != '%') {
            assert_int_equal(out.len, 1);
            assert_int_equal(out.data[0], c);
        } else {
            char want[4];
            snprintf(want, sizeof want, "%%%02X", c);
            assert_string_equal((char *)out.data, want);
        }
    }
    kumo_buf_free(&out);
}

static void test_pctenc_encode_appends(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append_str(&out, "msg=");
    kumo_pct_encode("50%", 3, &out);
    assert_string_equal((char *)out.data, "msg=50%25");
    kumo_buf_free(&out);
}

static void expect_decode(const char *in, size_t len, const char *want, size_t want_len)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_pct_decode(in, len, &out);
    assert_int_equal(out.len, want_len);
    if (want_len)
        assert_memory_equal(out.data, want, want_len);
    kumo_buf_free(&out);
}

#define DEC(in, want) expect_decode(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_pctenc_decode_valid(void **state)
{
    (void)state;
    DEC("", "");
    DEC("plain", "plain");
    DEC("%41", "A");
    DEC("%4a%4A", "JJ");
    DEC("caf%C3%A9", "caf\xc3\xa9");
    DEC("%00x", "\0x");
    DEC("%25", "%");
    DEC("%2541", "%41"); /* decoded once, not twice */
    DEC("a+b", "a+b");   /* '+' means itself in grpc-message */
}

static void test_pctenc_decode_passes_invalid_sequences(void **state)
{
    (void)state;
    DEC("%", "%");
    DEC("%4", "%4");
    DEC("abc%", "abc%");
    DEC("abc%4", "abc%4");
    DEC("%zz", "%zz");
    DEC("%4g", "%4g");
    DEC("%g4", "%g4");
    DEC("%%41", "%A");
    DEC("100% sure", "100% sure");
    DEC("%\xff\xfe", "%\xff\xfe");
}

static void test_pctenc_round_trip_random(void **state)
{
    (void)state;
    char in[512];
    struct kumo_buf enc = KUMO_BUF_INIT, dec = KUMO_BUF_INIT;
    srand(7);
    for (int iter = 0; iter < 200; iter++) {
        size_t len = (size_t)rand() % sizeof in;
        for (size_t i = 0; i < len; i++)
            in[i] = (char)rand();
        kumo_buf_reset(&enc);
        kumo_buf_reset(&dec);
        kumo_pct_encode(in, len, &enc);
        for (size_t i = 0; i < enc.len; i++)
            assert_true(enc.data[i] >= 0x20 && enc.data[i] <= 0x7e);
        kumo_pct_decode((char *)enc.data, enc.len, &dec);
        assert_int_equal(dec.len, len);
        if (len)
            assert_memory_equal(dec.data, in, len);
    }
    kumo_buf_free(&enc);
    kumo_buf_free(&dec);
}

static void test_pctenc_url_query_decode_valid(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_url_query_decode("", 0, &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(kumo_url_query_decode("a+b%2Bc%2b%20d", 14, &out), 0);
    assert_string_equal((char *)out.data, "a b+c+ d");
    kumo_buf_reset(&out);
    assert_int_equal(kumo_url_query_decode("%7B%22a%22%3A1%7D", 17, &out), 0);
    assert_string_equal((char *)out.data, "{\"a\":1}");
    kumo_buf_reset(&out);
    assert_int_equal(kumo_url_query_decode("%00%ff", 6, &out), 0);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "\0\xff", 2);
    kumo_buf_reset(&out);
    /* Other bytes are taken as they come, even ones a URL should not have. */
    assert_int_equal(kumo_url_query_decode("=?/\xc3\xa9", 5, &out), 0);
    assert_string_equal((char *)out.data, "=?/\xc3\xa9");
    kumo_buf_free(&out);
}

static void expect_query_invalid(const char *in)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append_str(&out, "keep");
    assert_int_equal(kumo_url_query_decode(in, strlen(in), &out), KUMO_ERR_INVALID);
    assert_int_equal(out.len, 4);
    assert_string_equal((char *)out.data, "keep");
    kumo_buf_free(&out);
}

static void test_pctenc_url_query_decode_rejects_bad_escapes(void **state)
{
    (void)state;
    expect_query_invalid("%");
    expect_query_invalid("%4");
    expect_query_invalid("abc%");
    expect_query_invalid("abc%2");
    expect_query_invalid("%zz");
    expect_query_invalid("%G0");
    expect_query_invalid("%0G");
    expect_query_invalid("ok%41then%");
    expect_query_invalid("%%41");
}

static void test_pctenc_url_query_decode_appends(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append_str(&out, "[");
    assert_int_equal(kumo_url_query_decode("x+y", 3, &out), 0);
    assert_string_equal((char *)out.data, "[x y");
    kumo_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pctenc_encode_leaves_printable_ascii),
        cmocka_unit_test(test_pctenc_encode_escapes_percent_controls_and_non_ascii),
        cmocka_unit_test(test_pctenc_encode_every_byte),
        cmocka_unit_test(test_pctenc_encode_appends),
        cmocka_unit_test(test_pctenc_decode_valid),
        cmocka_unit_test(test_pctenc_decode_passes_invalid_sequences),
        cmocka_unit_test(test_pctenc_round_trip_random),
        cmocka_unit_test(test_pctenc_url_query_decode_valid),
        cmocka_unit_test(test_pctenc_url_query_decode_rejects_bad_escapes),
        cmocka_unit_test(test_pctenc_url_query_decode_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
