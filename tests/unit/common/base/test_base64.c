#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base64.h"
#include "base/errors.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
    const char *plain;
    const char *padded;
    const char *raw;
} rfc_vectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

#define N_VECTORS (sizeof rfc_vectors / sizeof rfc_vectors[0])

static void encode_str(const void *in, size_t len, int url, int pad, struct kumo_buf *out)
{
    kumo_buf_reset(out);
    assert_int_equal(kumo_base64_encode(in, len, url, pad, out), 0);
}

static void test_base64_encode_rfc_vectors(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    for (size_t i = 0; i < N_VECTORS; i++) {
        const char *p = rfc_vectors[i].plain;
        encode_str(p, strlen(p), 0, 1, &out);
        assert_int_equal(out.len, strlen(rfc_vectors[i].padded));
        assert_memory_equal(out.data, rfc_vectors[i].padded, out.len);
        assert_int_equal(out.data[out.len], '\0');
        assert_int_equal(kumo_base64_encoded_len(strlen(p), 1), out.len);
        encode_str(p, strlen(p), 1, 0, &out);
        assert_int_equal(out.len, strlen(rfc_vectors[i].raw));
        assert_memory_equal(out.data, rfc_vectors[i].raw, out.len);
        assert_int_equal(kumo_base64_encoded_len(strlen(p), 0), out.len);
    }
    kumo_buf_free(&out);
}

static void test_base64_encode_alphabets(void **state)
{
    (void)state;
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    struct kumo_buf out = KUMO_BUF_INIT;
    encode_str(in, 3, 0, 1, &out);
    assert_string_equal((char *)out.data, "+/+/");
    encode_str(in, 3, 1, 1, &out);
    assert_string_equal((char *)out.data, "-_-_");
    encode_str(in, 2, 1, 1, &out);
    assert_string_equal((char *)out.data, "-_8=");
    encode_str(in, 2, 0, 0, &out);
    assert_string_equal((char *)out.data, "+/8");
    kumo_buf_free(&out);
}

static void test_base64_encode_appends(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append_str(&out, "x:");
    assert_int_equal(kumo_base64_encode((const uint8_t *)"foo", 3, 0, 1, &out), 0);
    assert_string_equal((char *)out.data, "x:Zm9v");
    assert_int_equal(kumo_base64_encode(NULL, 0, 0, 1, &out), 0);
    assert_string_equal((char *)out.data, "x:Zm9v");
    kumo_buf_free(&out);
}

static void expect_decode(const char *in, const char *want)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_base64_decode(in, strlen(in), &out), 0);
    assert_int_equal(out.len, strlen(want));
    if (out.len)
        assert_memory_equal(out.data, want, out.len);
    kumo_buf_free(&out);
}

static void test_base64_decode_rfc_vectors_padded_and_raw(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        expect_decode(rfc_vectors[i].padded, rfc_vectors[i].plain);
        expect_decode(rfc_vectors[i].raw, rfc_vectors[i].plain);
    }
}

static void test_base64_decode_both_alphabets(void **state)
{
    (void)state;
    expect_decode("+/+/", "\xfb\xff\xbf");
    expect_decode("-_-_", "\xfb\xff\xbf");
    expect_decode("+_-/", "\xfb\xff\xbf"); /* mixed */
    expect_decode("-_8", "\xfb\xff");
    expect_decode("-_8=", "\xfb\xff");
    expect_decode("_w", "\xff");
    expect_decode("_w==", "\xff");
}

static void test_base64_decode_ignores_leftover_bits(void **state)
{
    (void)state;
    /* "Zh" carries the same byte as "Zg" with nonzero unused bits. */
    expect_decode("Zh", "f");
    expect_decode("Zm9=", "fo");
}

static void expect_invalid(const char *in, size_t len)
{
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append_str(&out, "keep");
    assert_int_equal(kumo_base64_decode(in, len, &out), KUMO_ERR_INVALID);
    assert_int_equal(out.len, 4);
    assert_string_equal((char *)out.data, "keep");
    kumo_buf_free(&out);
}

#define INVALID(s) expect_invalid(s, sizeof(s) - 1)

static void test_base64_decode_rejects_bad_length_and_padding(void **state)
{
    (void)state;
    INVALID("Z");
    INVALID("Zm9vY");
    INVALID("=");
    INVALID("==");
    INVALID("===");
    INVALID("====");
    INVALID("Z===");
    INVALID("Zg=");   /* padded but not a multiple of 4 */
    INVALID("Zg==="); /* too much padding */
    INVALID("Zm9vZ===");
    INVALID("Zm8==");    /* padding for the wrong remainder */
    INVALID("Zg==Zg=="); /* padding in the middle */
    INVALID("Zm=v");
    INVALID("=Zm9");
}

static void test_base64_decode_rejects_other_characters(void **state)
{
    (void)state;
    INVALID("Zm9v\n");
    INVALID(" Zm9v");
    INVALID("Zm 9v");
    INVALID("Zm9v\r\n");
    INVALID("Zm.v");
    INVALID("Zm*v");
    INVALID("Zm9v\0Zg");
    INVALID("Zm\xc3\xa9v");
    INVALID("Zg%3D");
    for (int c = 0; c < 256; c++) {
        char s[4] = {'Z', 'm', '9', (char)c};
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/' || c == '-' || c == '_' || c == '=';
        struct kumo_buf out = KUMO_BUF_INIT;
        assert_int_equal(kumo_base64_decode(s, 4, &out), ok ? 0 : KUMO_ERR_INVALID);
        kumo_buf_free(&out);
    }
}

static void test_base64_decode_empty(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    assert_int_equal(kumo_base64_decode("", 0, &out), 0);
    assert_int_equal(out.len, 0);
    kumo_buf_append_str(&out, "ab");
    assert_int_equal(kumo_base64_decode("", 0, &out), 0);
    assert_string_equal((char *)out.data, "ab");
    kumo_buf_free(&out);
}

static void test_base64_decode_appends(void **state)
{
    (void)state;
    struct kumo_buf out = KUMO_BUF_INIT;
    kumo_buf_append_str(&out, "x:");
    assert_int_equal(kumo_base64_decode("Zm9vYmFy", 8, &out), 0);
    assert_int_equal(out.len, 8);
    assert_string_equal((char *)out.data, "x:foobar");
    kumo_buf_free(&out);
}

static void test_base64_round_trip_all_lengths(void **state)
{
    (void)state;
    uint8_t in[300];
    srand(42);
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)rand();
    struct kumo_buf enc = KUMO_BUF_INIT, dec = KUMO_BUF_INIT;
    for (size_t len = 0; len <= sizeof in; len++) {
        for (int mode = 0; mode < 4; mode++) {
            kumo_buf_reset(&enc);
            kumo_buf_reset(&dec);
            assert_int_equal(kumo_base64_encode(in, len, mode & 1, mode & 2, &enc), 0);
            assert_int_equal(enc.len, kumo_base64_encoded_len(len, mode & 2));
            assert_int_equal(kumo_base64_decode((char *)enc.data, enc.len, &dec), 0);
            assert_int_equal(dec.len, len);
            if (len)
                assert_memory_equal(dec.data, in, len);
        }
    }
    kumo_buf_free(&enc);
    kumo_buf_free(&dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_encode_rfc_vectors),
        cmocka_unit_test(test_base64_encode_alphabets),
        cmocka_unit_test(test_base64_encode_appends),
        cmocka_unit_test(test_base64_decode_rfc_vectors_padded_and_raw),
        cmocka_unit_test(test_base64_decode_both_alphabets),
        cmocka_unit_test(test_base64_decode_ignores_leftover_bits),
        cmocka_unit_test(test_base64_decode_rejects_bad_length_and_padding),
        cmocka_unit_test(test_base64_decode_rejects_other_characters),
        cmocka_unit_test(test_base64_decode_empty),
        cmocka_unit_test(test_base64_decode_appends),
        cmocka_unit_test(test_base64_round_trip_all_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
