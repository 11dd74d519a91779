#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "base/secret.h"

static const char pepper[] = "0123456789abcdef0123456789abcdef"; /* 32 bytes */
#define PEPPER_LEN (sizeof pepper - 1)

static int is_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

static void test_secret_random_is_base64url_of_requested_size(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    assert_int_equal(kumo_secret_random(32, &a), 0);
    assert_int_equal(kumo_secret_random(32, &b), 0);
    assert_int_equal(strlen(a), 43); /* 256 bits */
    assert_true(is_b64url(a, strlen(a)));
    assert_string_not_equal(a, b);
    assert_int_equal(kumo_secret_token_check(a, strlen(a), 32), 0);
    kumo_free(a);
    kumo_free(b);
    assert_int_equal(kumo_secret_random(64, &a), 0);
    assert_int_equal(strlen(a), 86);
    kumo_free(a);
}

static void test_secret_random_rejects_short_and_huge(void **state)
{
    (void)state;
    char *a = (char *)"untouched";
    assert_int_equal(kumo_secret_random(31, &a), KUMO_ERR_INVALID);
    assert_int_equal(kumo_secret_random(0, &a), KUMO_ERR_INVALID);
    assert_int_equal(kumo_secret_random(KUMO_SECRET_MAX_BYTES + 1, &a), KUMO_ERR_INVALID);
    assert_string_equal(a, "untouched");
    assert_int_equal(kumo_secret_random(32, NULL), KUMO_ERR_INVALID);
}

static void test_secret_random_bytes_differ(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(kumo_secret_random_bytes(a, sizeof a), 0);
    assert_int_equal(kumo_secret_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(kumo_secret_random_bytes(NULL, 0), 0);
}

/* Expected values computed with Python's hmac module. */
static void test_secret_hash_matches_hmac_sha256(void **state)
{
    (void)state;
    char hex[KUMO_SECRET_HASH_HEX_LEN + 1];
    assert_int_equal(kumo_secret_hash_hex(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_REFRESH,
                                          "my-refresh-token", 16, hex),
                     0);
    assert_string_equal(hex, "5d06cc128bb97c6f5fbbaeb7aa7a3ad8892394032318edf00db3b4b25bededba");
    assert_int_equal(kumo_secret_hash_hex(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_API_KEY,
                                          "my-refresh-token", 16, hex),
                     0);
    assert_string_equal(hex, "d628cb9b576f39277c92cc569c106af9d0e96b320c7d7f66a28dab75a03209ef");
    assert_int_equal(
        kumo_secret_hash_hex(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_API_KEY, NULL, 0, hex), 0);
    assert_string_equal(hex, "63c737b7a58ee7e31432660a1ec6c62da40166e1731f5362652f4252fa31952d");
}

static void test_secret_hash_depends_on_pepper_and_purpose(void **state)
{
    (void)state;
    uint8_t a[32], b[32], c[32];
    char other[] = "0123456789abcdef0123456789abcdeX";
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, "p1", "s", 1, a), 0);
    assert_int_equal(kumo_secret_hash(other, PEPPER_LEN, "p1", "s", 1, b), 0);
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, "p2", "s", 1, c), 0);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(a, c, 32);
    /* The separator: ("p1", "2s") and ("p12", "s") differ. */
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, "p1", "2s", 2, b), 0);
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, "p12", "s", 1, c), 0);
    assert_memory_not_equal(b, c, 32);
}

static void test_secret_hash_rejects_bad_arguments(void **state)
{
    (void)state;
    uint8_t h[32];
    assert_int_equal(kumo_secret_hash(pepper, 31, "p", "s", 1, h), KUMO_SECRET_ERR_PEPPER);
    assert_int_equal(kumo_secret_hash(NULL, 0, "p", "s", 1, h), KUMO_SECRET_ERR_PEPPER);
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, "", "s", 1, h), KUMO_ERR_INVALID);
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, NULL, "s", 1, h), KUMO_ERR_INVALID);
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, "p", NULL, 1, h), KUMO_ERR_INVALID);
    char *big = kumo_calloc(1, 5000);
    assert_int_equal(kumo_secret_hash(pepper, PEPPER_LEN, "p", big, 5000, h), KUMO_ERR_INVALID);
    kumo_free(big);
    assert_string_equal(kumo_secret_strerror(KUMO_SECRET_ERR_PEPPER),
                        "secret: the pepper must be at least 32 bytes");
}

static void test_secret_verify_matches_only_the_same_secret(void **state)
{
    (void)state;
    uint8_t stored[32];
    assert_int_equal(
        kumo_secret_hash(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_REFRESH, "tok", 3, stored), 0);
    assert_int_equal(
        kumo_secret_verify(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_REFRESH, "tok", 3, stored), 1);
    assert_int_equal(
        kumo_secret_verify(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_REFRESH, "tol", 3, stored), 0);
    assert_int_equal(
        kumo_secret_verify(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_API_KEY, "tok", 3, stored), 0);
    assert_int_equal(
        kumo_secret_verify(pepper, PEPPER_LEN, KUMO_SECRET_PURPOSE_REFRESH, "tok", 3, NULL),
        KUMO_ERR_INVALID);
}

static void test_secret_equal_compares_all_bytes(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0};
    assert_int_equal(kumo_secret_equal(a, b, 32), 1);
    b[31] = 1;
    assert_int_equal(kumo_secret_equal(a, b, 32), 0);
    assert_int_equal(kumo_secret_equal(a, b, 31), 1);
    b[0] = 0x80;
    assert_int_equal(kumo_secret_equal(a, b, 1), 0);
}

/* Word-at-a-time comparison: a one-bit difference at every position of
 * every length up to 40 (the word part, the tail, unaligned starts) is
 * found, and equal spans compare equal. */
static void test_secret_equal_each_position_each_length(void **state)
{
    (void)state;
    uint8_t a[48], b[48];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (uint8_t)(i * 37 + 11);
    for (size_t off = 0; off < 3; off++) {
        for (size_t len = 0; len <= 40; len++) {
            memcpy(b, a, sizeof a);
            assert_int_equal(kumo_secret_equal(a + off, b + off, len), 1);
            for (size_t pos = 0; pos < len; pos++) {
                for (int bit = 0; bit < 8; bit += 7) {
                    memcpy(b, a, sizeof a);
                    b[off + pos] ^= (uint8_t)(1u << bit);
                    assert_int_equal(kumo_secret_equal(a + off, b + off, len), 0);
                }
            }
            /* A difference just past the span is not looked at. */
            memcpy(b, a, sizeof a);
            b[off + len] ^= 1;
            assert_int_equal(kumo_secret_equal(a + off, b + off, len), 1);
        }
    }
}

static void test_secret_wipe_zeroes(void **state)
{
    (void)state;
    char s[] = "sensitive";
    kumo_secret_wipe(s, sizeof s);
    for (size_t i = 0; i < sizeof s; i++) {
        assert_int_equal(s[i], 0);
    }
    kumo_secret_wipe(NULL, 10); /* ignored */
}

static void test_secret_b64url_decode_strict(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    assert_int_equal(kumo_secret_b64url_decode("Zm9vYmFy", 8, &b), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "foobar", 6);
    kumo_buf_reset(&b);
    assert_int_equal(kumo_secret_b64url_decode("-_8", 3, &b), 0);
    assert_int_equal(b.len, 2);
    assert_int_equal(b.data[0], 0xfb);
    assert_int_equal(b.data[1], 0xff);
    kumo_buf_reset(&b);
    assert_int_equal(kumo_secret_b64url_decode("", 0, &b), 0);
    assert_int_equal(b.len, 0);
    static const char *bad[] = {
        "Zg==",                                 /* padding */
        "Zm9v+mFy",                             /* standard alphabet */
        "Zm9v/mFy", "Zm9v YmFy", "Zm9vY", "Zh", /* unused bits set: 'h' = 33 has low bits 0001 */
        "Zm9",                                  /* 'Zm9' -> last char '9' (61) has low bits 01 */
        "Zm9\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kumo_secret_b64url_decode(bad[i], strlen(bad[i]), &b), KUMO_ERR_INVALID);
        assert_int_equal(b.len, 0);
    }
    assert_int_equal(kumo_secret_b64url_decode("Zm\0v", 4, &b), KUMO_ERR_INVALID);
    kumo_buf_free(&b);
}

static void test_secret_token_check_exact_form(void **state)
{
    (void)state;
    char *t = NULL;
    assert_int_equal(kumo_secret_random(32, &t), 0);
    assert_int_equal(kumo_secret_token_check(t, 43, 32), 0);
    assert_int_equal(kumo_secret_token_check(t, 42, 32), KUMO_ERR_INVALID);
    assert_int_equal(kumo_secret_token_check(t, 43, 33), KUMO_ERR_INVALID);
    t[42] = '='; /* never valid */
    assert_int_equal(kumo_secret_token_check(t, 43, 32), KUMO_ERR_INVALID);
    kumo_free(t);
    assert_int_equal(kumo_secret_token_check(NULL, 43, 32), KUMO_ERR_INVALID);
}

static void test_secret_api_key_generate_format(void **state)
{
    (void)state;
    struct kumo_api_key k1, k2;
    char text[KUMO_API_KEY_LEN + 1];
    assert_int_equal(kumo_api_key_generate(&k1, text), 0);
    assert_int_equal(strlen(text), KUMO_API_KEY_LEN);
    assert_int_equal(KUMO_API_KEY_LEN, 65);
    assert_memory_equal(text, "kumo_", 5);
    assert_int_equal(strlen(k1.id), 16);
    assert_int_equal(strlen(k1.secret), 43);
    assert_memory_equal(text + 5, k1.id, 16);
    assert_int_equal(text[21], '_');
    assert_string_equal(text + 22, k1.secret);
    for (size_t i = 0; i < 16; i++) {
        char c = k1.id[i];
        assert_true((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'));
    }
    assert_int_equal(kumo_api_key_generate(&k2, NULL), 0);
    assert_string_not_equal(k1.id, k2.id);
    assert_string_not_equal(k1.secret, k2.secret);
}

static void test_secret_api_key_parse_roundtrip(void **state)
{
    (void)state;
    struct kumo_api_key k, p;
    char text[KUMO_API_KEY_LEN + 1];
    /* Many keys: secrets containing '_' and '-' must parse too. */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(kumo_api_key_generate(&k, text), 0);
        assert_int_equal(kumo_api_key_parse(text, strlen(text), &p), 0);
        assert_string_equal(p.id, k.id);
        assert_string_equal(p.secret, k.secret);
    }
    kumo_secret_wipe(&p, sizeof p);
}

static void test_secret_api_key_parse_errors(void **state)
{
    (void)state;
    struct kumo_api_key k, out;
    char good[KUMO_API_KEY_LEN + 1], t[KUMO_API_KEY_LEN + 8];
    assert_int_equal(kumo_api_key_generate(&k, good), 0);
    memset(&out, 'X', sizeof out);

    assert_int_equal(kumo_api_key_parse("Bearer abc", 10, &out), KUMO_SECRET_ERR_KEY_PREFIX);
    assert_int_equal(kumo_api_key_parse("KUMO_", 5, &out), KUMO_SECRET_ERR_KEY_PREFIX);
    assert_int_equal(kumo_api_key_parse("kum", 3, &out), KUMO_SECRET_ERR_KEY_PREFIX);
    assert_int_equal(kumo_api_key_parse(good, 64, &out), KUMO_SECRET_ERR_KEY_LENGTH);
    memcpy(t, good, 65);
    t[65] = 'A';
    assert_int_equal(kumo_api_key_parse(t, 66, &out), KUMO_SECRET_ERR_KEY_LENGTH);

    const struct {
        size_t pos;
        char c;
        int want;
    } edits[] = {
        {5, 'A', KUMO_SECRET_ERR_KEY_ID},  /* uppercase */
        {9, '1', KUMO_SECRET_ERR_KEY_ID},  /* not in base32 */
        {20, '_', KUMO_SECRET_ERR_KEY_ID}, /* id too short: separator early */
        {21, 'a', KUMO_SECRET_ERR_KEY_SEP},    {30, '+', KUMO_SECRET_ERR_KEY_SECRET},
        {64, '=', KUMO_SECRET_ERR_KEY_SECRET}, {40, '\0', KUMO_SECRET_ERR_KEY_SECRET},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(t, good, 66);
        t[edits[i].pos] = edits[i].c;
        assert_int_equal(kumo_api_key_parse(t, 65, &out), edits[i].want);
    }
    /* Last secret char carries 2 unused bits: a non-canonical variant is
     * refused (otherwise two strings would be the same key). */
    memcpy(t, good, 66);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alphabet, t[64]) - alphabet);
    t[64] = alphabet[v | 1];
    assert_int_equal(kumo_api_key_parse(t, 65, &out), KUMO_SECRET_ERR_KEY_SECRET);
    /* Nothing was written on failure. */
    assert_int_equal(out.id[0], 'X');
    assert_int_equal(kumo_api_key_parse(NULL, 65, &out), KUMO_ERR_INVALID);
}

static void test_secret_strerror_never_echoes_input(void **state)
{
    (void)state;
    const int codes[] = {KUMO_SECRET_ERR_KEY_PREFIX, KUMO_SECRET_ERR_KEY_ID,
                         KUMO_SECRET_ERR_KEY_SEP,    KUMO_SECRET_ERR_KEY_SECRET,
                         KUMO_SECRET_ERR_KEY_LENGTH, KUMO_SECRET_ERR_RANDOM};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *m = kumo_secret_strerror(codes[i]);
        assert_non_null(m);
        assert_true(strncmp(m, "api key", 7) == 0 || strncmp(m, "secret", 6) == 0);
    }
    assert_string_equal(kumo_secret_strerror(KUMO_ERR_INVALID),
                        "secret: invalid argument or malformed input");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_random_is_base64url_of_requested_size),
        cmocka_unit_test(test_secret_equal_each_position_each_length),
        cmocka_unit_test(test_secret_random_rejects_short_and_huge),
        cmocka_unit_test(test_secret_random_bytes_differ),
        cmocka_unit_test(test_secret_hash_matches_hmac_sha256),
        cmocka_unit_test(test_secret_hash_depends_on_pepper_and_purpose),
        cmocka_unit_test(test_secret_hash_rejects_bad_arguments),
        cmocka_unit_test(test_secret_verify_matches_only_the_same_secret),
        cmocka_unit_test(test_secret_equal_compares_all_bytes),
        cmocka_unit_test(test_secret_wipe_zeroes),
        cmocka_unit_test(test_secret_b64url_decode_strict),
        cmocka_unit_test(test_secret_token_check_exact_form),
        cmocka_unit_test(test_secret_api_key_generate_format),
        cmocka_unit_test(test_secret_api_key_parse_roundtrip),
        cmocka_unit_test(test_secret_api_key_parse_errors),
        cmocka_unit_test(test_secret_strerror_never_echoes_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
