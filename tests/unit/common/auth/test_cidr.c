#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/cidr.h"
#include "base/errors.h"

static int has(const struct kumo_cidr_list *l, const char *a)
{
    return kumo_cidr_list_contains(l, a, strlen(a));
}

static void test_cidr_ranges_match(void **state)
{
    (void)state;
    struct kumo_cidr_list *l = NULL;
    assert_int_equal(
        kumo_cidr_list_parse(" 10.0.0.0/8, fd00::/8 192.0.2.7,172.16.0.0/12", &l, NULL, 0), 0);
    assert_int_equal(kumo_cidr_list_count(l), 4);
    assert_true(has(l, "10.0.0.1"));
    assert_true(has(l, "10.255.255.255"));
    assert_false(has(l, "11.0.0.0"));
    assert_false(has(l, "9.255.255.255"));
    assert_true(has(l, "192.0.2.7"));
    assert_false(has(l, "192.0.2.8"));
    assert_true(has(l, "172.31.1.1"));
    assert_false(has(l, "172.32.0.1"));
    assert_true(has(l, "fd00::1"));
    assert_true(has(l, "fdff:ffff::1"));
    assert_false(has(l, "fe80::1"));
    /* Dual-stack sockets report IPv4 peers as IPv4-mapped IPv6. */
    assert_true(has(l, "::ffff:10.1.2.3"));
    assert_false(has(l, "::ffff:11.1.2.3"));
    /* Not addresses. */
    assert_false(has(l, ""));
    assert_false(has(l, "10.0.0.1/8"));
    assert_false(has(l, "localhost"));
    assert_false(kumo_cidr_list_contains(l, "10.0.0.1", 4)); /* "10.0" is not an address */
    kumo_cidr_list_free(l);
}

static void test_cidr_edges(void **state)
{
    (void)state;
    struct kumo_cidr_list *l = NULL;
    assert_int_equal(kumo_cidr_list_parse("0.0.0.0/0", &l, NULL, 0), 0);
    assert_true(has(l, "1.2.3.4"));
    assert_false(has(l, "2001:db8::1")); /* an IPv4 range never matches real IPv6 */
    kumo_cidr_list_free(l);
    assert_int_equal(kumo_cidr_list_parse("::/0", &l, NULL, 0), 0);
    assert_true(has(l, "2001:db8::1"));
    kumo_cidr_list_free(l);
    assert_int_equal(kumo_cidr_list_parse("10.1.2.3/31", &l, NULL, 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_cidr_list_parse("10.1.2.2/31, 2001:db8::/127", &l, NULL, 0), 0);
    assert_true(has(l, "10.1.2.3"));
    assert_false(has(l, "10.1.2.4"));
    assert_true(has(l, "2001:db8::1"));
    assert_false(has(l, "2001:db8::2"));
    kumo_cidr_list_free(l);
    /* Empty lists match nothing. */
    assert_int_equal(kumo_cidr_list_parse(NULL, &l, NULL, 0), 0);
    assert_false(has(l, "10.0.0.1"));
    kumo_cidr_list_free(l);
    assert_false(kumo_cidr_list_contains(NULL, "10.0.0.1", 8));
}

static void test_cidr_refuses_mistakes(void **state)
{
    (void)state;
    struct kumo_cidr_list *l = (void *)0x1;
    char err[128];
    /* Host bits set below the prefix: a typo, not a range. */
    assert_int_equal(kumo_cidr_list_parse("10.0.0.1/8", &l, err, sizeof err), KUMO_ERR_INVALID);
    assert_ptr_equal(l, (void *)0x1);
    assert_non_null(strstr(err, "10.0.0.1/8"));
    assert_int_equal(kumo_cidr_list_parse("10.0.0.0/33", &l, NULL, 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_cidr_list_parse("fd00::/129", &l, NULL, 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_cidr_list_parse("10.0.0.0/", &l, NULL, 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_cidr_list_parse("10.0.0.0/x", &l, NULL, 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_cidr_list_parse("example.com", &l, NULL, 0), KUMO_ERR_INVALID);
    assert_int_equal(kumo_cidr_list_parse("1.2.3.4/8/8", &l, NULL, 0), KUMO_ERR_INVALID);
    char many[64 * 12 + 32] = "";
    size_t off = 0;
    for (int i = 0; i <= KUMO_CIDR_MAX; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "10.0.%d.%d,", i / 250, i % 250);
    assert_int_equal(kumo_cidr_list_parse(many, &l, err, sizeof err), KUMO_ERR_INVALID);
    assert_ptr_equal(l, (void *)0x1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_ranges_match),
        cmocka_unit_test(test_cidr_edges),
        cmocka_unit_test(test_cidr_refuses_mistakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
