/* base/ascii: the eight-bytes-at-a-time check says what the byte-by-byte
 * rule says, for every byte value at every position and on random
 * strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/ascii.h"
#include "base/fastrand.h"

static int by_bytes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7E)
            return 0;
    }
    return 1;
}

static void test_ascii_each_byte_at_each_position(void **state)
{
    (void)state;
    char s[40];
    for (size_t len = 0; len <= sizeof s; len++) {
        memset(s, 'a', sizeof s);
        assert_int_equal(kumo_ascii_printable(s, len), 1);
        for (size_t at = 0; at < len; at++) {
            for (int c = 0; c < 256; c++) {
                s[at] = (char)c;
                assert_int_equal(kumo_ascii_printable(s, len), c >= 0x20 && c <= 0x7E);
            }
            s[at] = 'a';
        }
    }
    assert_int_equal(kumo_ascii_printable(" ~", 2), 1);
    assert_int_equal(kumo_ascii_printable("", 0), 1);
}

/* Random strings, mostly printable with a few bytes of every kind (a pure
 * random byte string is almost never printable). */
static void test_ascii_random_strings(void **state)
{
    (void)state;
    char s[400];
    int seen[2] = {0, 0};
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(kumo_fastrand_u64() % sizeof s);
        for (size_t i = 0; i < len; i++) {
            uint64_t r = kumo_fastrand_u64();
            s[i] = r % 512 == 0 ? (char)(r >> 16) : (char)(0x20 + (r >> 16) % 95);
        }
        int want = by_bytes(s, len);
        seen[want]++;
        assert_int_equal(kumo_ascii_printable(s, len), want);
    }
    assert_true(seen[0] > 1000 && seen[1] > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_each_byte_at_each_position),
        cmocka_unit_test(test_ascii_random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
