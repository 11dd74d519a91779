/* base/hex.c: lowercase out, either case in, exact lengths only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"

static void test_hex_round_trip(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char text[2 * sizeof in + 1];
    kumo_hex_encode(in, sizeof in, text);
    assert_string_equal(text, "00017f80abff");
    uint8_t back[sizeof in];
    assert_int_equal(kumo_hex_decode(text, strlen(text), back, sizeof back), 0);
    assert_memory_equal(back, in, sizeof in);
    assert_int_equal(kumo_hex_decode("00017F80ABFF", 12, back, sizeof back), 0); /* upper case */
    assert_memory_equal(back, in, sizeof in);
    kumo_hex_encode(in, 0, text);
    assert_string_equal(text, "");
}

static void test_hex_refuses_bad_input(void **state)
{
    (void)state;
    uint8_t out[2];
    assert_int_equal(kumo_hex_decode("abc", 3, out, 2), -1);    /* odd length */
    assert_int_equal(kumo_hex_decode("abcdef", 6, out, 2), -1); /* too long */
    assert_int_equal(kumo_hex_decode("ag00", 4, out, 2), -1);   /* not a digit */
    assert_int_equal(kumo_hex_decode("a 00", 4, out, 2), -1);
    assert_int_equal(kumo_hex_digit('g'), -1);
    assert_int_equal(kumo_hex_digit('F'), 15);
    assert_int_equal(kumo_hex_digit('0'), 0);
    assert_int_equal(kumo_hex_digit(0xe9), -1); /* a Latin-1 byte */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_round_trip),
        cmocka_unit_test(test_hex_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
