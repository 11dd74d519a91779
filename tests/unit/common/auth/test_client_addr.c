#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/client_addr.h"

/* kumo_client_addr over a parsed list (NULL-safe). */
static void client_addr(const char *peer, const char *xff, const char *trusted, char *out,
                        size_t cap)
{
    struct kumo_cidr_list *l = NULL;
    assert_int_equal(kumo_cidr_list_parse(trusted, &l, NULL, 0), 0);
    kumo_client_addr(peer, xff, l, out, cap);
    kumo_cidr_list_free(l);
}

static void test_client_addr_behind_proxies(void **state)
{
    (void)state;
    char out[64];
    client_addr("10.0.0.1", "1.2.3.4", "", out, sizeof out);
    assert_string_equal(out, "10.0.0.1");
    client_addr("10.0.0.1", "1.2.3.4, 10.0.0.2", "10.0.0.1,10.0.0.2", out, sizeof out);
    assert_string_equal(out, "1.2.3.4");
    /* A client-forged left part is ignored: the right-most untrusted wins. */
    client_addr("10.0.0.1", "6.6.6.6, 5.5.5.5", "10.0.0.1", out, sizeof out);
    assert_string_equal(out, "5.5.5.5");
    client_addr("10.0.0.1", "<script>", "10.0.0.1", out, sizeof out);
    assert_string_equal(out, "10.0.0.1");
    client_addr("10.0.0.1", "::1", "10.0.0.1", out, sizeof out);
    assert_string_equal(out, "::1");
    /* Ranges: a chain of proxies inside 10.0.0.0/8 is skipped. */
    client_addr("10.9.8.7", "203.0.113.5, 10.1.1.1, 10.2.2.2", "10.0.0.0/8, fd00::/8", out,
                sizeof out);
    assert_string_equal(out, "203.0.113.5");
    client_addr("fd12::1", "2001:db8::7", "10.0.0.0/8, fd00::/8", out, sizeof out);
    assert_string_equal(out, "2001:db8::7");
    /* A peer outside every range is believed about nothing. */
    client_addr("11.0.0.1", "203.0.113.5", "10.0.0.0/8", out, sizeof out);
    assert_string_equal(out, "11.0.0.1");
    kumo_client_addr("10.0.0.1", "203.0.113.5", NULL, out, sizeof out);
    assert_string_equal(out, "10.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_addr_behind_proxies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
