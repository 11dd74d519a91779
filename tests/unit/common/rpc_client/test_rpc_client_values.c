/* rpc_client/client.c's check of header values (authorization, request id,
 * metadata): accepted exactly when the byte-by-byte rule accepts them (at
 * most 8192 bytes of 0x20..0x7E), on random strings and at every position
 * of a bearer-sized value. Calls carry a deadline already passed, so a
 * value that passes ends in DEADLINE_EXCEEDED before any I/O and one that
 * fails in INVALID_ARGUMENT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/fastrand.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "rpc_client/client.h"

#define ECHO_PATH "/kumo.test.v1.EchoService/Echo"
#define VALUE_MAX 8192

static int by_bytes(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7E)
            return 0;
    return n <= VALUE_MAX;
}

/* The code of an Echo call with authorization `auth`, request id `rid`
 * and metadata value `md` (each NULL for none). */
static kumo_code code_with(struct kumo_rpc_client *c, const char *auth, const char *rid,
                           const char *md)
{
    struct kumo_rpc_metadata m = {"x-value", md};
    struct kumo_rpc_call_options o = {.authorization = auth,
                                      .request_id = rid,
                                      .metadata = md ? &m : NULL,
                                      .n_metadata = md ? 1 : 0,
                                      .deadline = kumo_now_ns() - 1};
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    struct kumo_rpc_status st;
    kumo_code code = kumo_rpc_client_call(
        c, ECHO_PATH, &req.base, &kumo__test__v1__echo_response__descriptor, NULL, &o, &out, &st);
    assert_null(out);
    kumo_rpc_status_clear(&st);
    return code;
}

static kumo_code expected(int ok)
{
    return ok ? KUMO_CODE_DEADLINE_EXCEEDED : KUMO_CODE_INVALID_ARGUMENT;
}

static struct kumo_rpc_client *client(void)
{
    struct kumo_rpc_client_config cfg = {.target = "127.0.0.1:1"};
    struct kumo_rpc_client *c = NULL;
    assert_int_equal(kumo_rpc_client_new(&c, &cfg), 0);
    return c;
}

static void test_values_each_byte_at_each_position(void **state)
{
    (void)state;
    struct kumo_rpc_client *c = client();
    char v[301];
    for (size_t at = 0; at < 300; at += (at < 20 || at > 280) ? 1 : 7) {
        for (int b = 1; b < 256; b++) {
            memset(v, 'A', 300);
            v[300] = '\0';
            v[at] = (char)b;
            kumo_code want = expected(b >= 0x20 && b <= 0x7E);
            assert_int_equal(code_with(c, v, NULL, NULL), want);
            if (b % 16 == 0) { /* the other values, less often */
                assert_int_equal(code_with(c, NULL, v, NULL), want);
                assert_int_equal(code_with(c, NULL, NULL, v), want);
            }
        }
    }
    kumo_rpc_client_free(c);
}

static void test_values_length_bound(void **state)
{
    (void)state;
    struct kumo_rpc_client *c = client();
    static char v[VALUE_MAX + 2];
    memset(v, 'x', VALUE_MAX + 1);
    v[VALUE_MAX + 1] = '\0';
    assert_int_equal(code_with(c, v, NULL, NULL), KUMO_CODE_INVALID_ARGUMENT);
    v[VALUE_MAX] = '\0';
    assert_int_equal(code_with(c, v, NULL, NULL), KUMO_CODE_DEADLINE_EXCEEDED);
    assert_int_equal(code_with(c, "", NULL, NULL), KUMO_CODE_DEADLINE_EXCEEDED);
    kumo_rpc_client_free(c);
}

static void test_values_random_strings(void **state)
{
    (void)state;
    struct kumo_rpc_client *c = client();
    char v[600];
    int seen[2] = {0, 0};
    for (int round = 0; round < 5000; round++) {
        size_t len = (size_t)(kumo_fastrand_u64() % (sizeof v - 1));
        for (size_t i = 0; i < len; i++) {
            uint64_t r = kumo_fastrand_u64();
            v[i] = r % 700 == 0 ? (char)(1 + (r >> 16) % 255) : (char)(0x20 + (r >> 16) % 95);
        }
        v[len] = '\0';
        int ok = by_bytes(v);
        seen[ok]++;
        assert_int_equal(code_with(c, v, NULL, NULL), expected(ok));
    }
    assert_true(seen[0] > 500 && seen[1] > 500);
    kumo_rpc_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_each_byte_at_each_position),
        cmocka_unit_test(test_values_length_bound),
        cmocka_unit_test(test_values_random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
