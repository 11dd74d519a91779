#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "web.h"

static void test_web_cookie_get(void **state)
{
    (void)state;
    const char *v;
    size_t n;
    assert_true(kumo_web_cookie_get("a=1; kumo_csrf=xyz; b=2", "kumo_csrf", &v, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(v, "xyz", 3);
    assert_true(kumo_web_cookie_get("x=\"quoted\"", "x", &v, &n));
    assert_int_equal(n, 6);
    assert_memory_equal(v, "quoted", 6);
    /* A name that is a suffix or prefix of another does not match. */
    assert_false(kumo_web_cookie_get("xkumo_csrf=1; kumo_csrfx=2", "kumo_csrf", &v, &n));
    assert_false(kumo_web_cookie_get(NULL, "a", &v, &n));
    assert_false(kumo_web_cookie_get("garbage;;; =", "a", &v, &n));
    assert_true(kumo_web_cookie_get("a=", "a", &v, &n));
    assert_int_equal(n, 0);
}

static void test_web_set_cookie(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    struct kumo_web_cookie c = {"__Host-kumo_refresh", "abc", 1, 1, 60};
    assert_int_equal(kumo_web_set_cookie(&b, &c), 0);
    assert_string_equal((char *)b.data,
                        "__Host-kumo_refresh=abc; Path=/; SameSite=Strict; Max-Age=60; Secure; "
                        "HttpOnly");
    kumo_buf_reset(&b);
    struct kumo_web_cookie bad = {"a", "x;y", 0, 0, -1};
    assert_int_equal(kumo_web_set_cookie(&b, &bad), KUMO_ERR_INVALID);
    struct kumo_web_cookie badname = {"a b", "x", 0, 0, -1};
    assert_int_equal(kumo_web_set_cookie(&b, &badname), KUMO_ERR_INVALID);
    assert_int_equal(b.len, 0);
    struct kumo_web_cookie session = {"k", "", 0, 0, -1};
    assert_int_equal(kumo_web_set_cookie(&b, &session), 0);
    assert_string_equal((char *)b.data, "k=; Path=/; SameSite=Strict");
    kumo_buf_free(&b);
}

static void test_web_csrf(void **state)
{
    (void)state;
    assert_true(kumo_web_csrf_ok("tok", 3, "tok"));
    assert_false(kumo_web_csrf_ok("tok", 3, "tok2"));
    assert_false(kumo_web_csrf_ok("tok", 3, "to"));
    assert_false(kumo_web_csrf_ok("tok", 3, NULL));
    assert_false(kumo_web_csrf_ok("", 0, ""));
}

static void test_web_origin_allowed(void **state)
{
    (void)state;
    const char *list = "https://app.example.com, http://localhost:5173";
    assert_true(kumo_web_origin_allowed(list, "https://app.example.com"));
    assert_true(kumo_web_origin_allowed(list, "http://localhost:5173"));
    assert_false(kumo_web_origin_allowed(list, "https://app.example.com.evil.com"));
    assert_false(kumo_web_origin_allowed(list, "https://evil.com"));
    assert_false(kumo_web_origin_allowed("*", "https://evil.com"));
    assert_false(kumo_web_origin_allowed("", "https://app.example.com"));
    assert_false(kumo_web_origin_allowed(list, "null"));
}

static void test_web_json_depth(void **state)
{
    (void)state;
    const char *s = "{\"a\":[1,{\"b\":\"[[[[\"}]}";
    assert_int_equal(kumo_web_json_depth(s, strlen(s), 32), 3);
    char deep[200];
    memset(deep, '[', 100);
    deep[100] = '\0';
    assert_int_equal(kumo_web_json_depth(deep, 100, 32), 33);
    const char *esc = "{\"a\":\"\\\"[[[\"}";
    assert_int_equal(kumo_web_json_depth(esc, strlen(esc), 32), 1);
}

static void test_web_request_id(void **state)
{
    (void)state;
    assert_true(kumo_web_request_id_ok("abc-123_x.y:z"));
    assert_false(kumo_web_request_id_ok(""));
    assert_false(kumo_web_request_id_ok("has space"));
    assert_false(kumo_web_request_id_ok("line\nbreak"));
    char longid[200];
    memset(longid, 'a', 129);
    longid[129] = '\0';
    assert_false(kumo_web_request_id_ok(longid));
}

static void test_web_route_match(void **state)
{
    (void)state;
    struct kumo_web_params p;
    assert_true(kumo_web_route_match("/api/v1/documents/{id}/archive",
                                     "/api/v1/documents/doc_abc/archive", &p));
    assert_int_equal(p.n, 1);
    assert_int_equal(p.p[0].len, 7);
    assert_memory_equal(p.p[0].val, "doc_abc", 7);
    assert_memory_equal(p.p[0].name, "id", 2);
    assert_false(kumo_web_route_match("/api/v1/documents/{id}", "/api/v1/documents/", &p));
    assert_false(kumo_web_route_match("/api/v1/documents/{id}", "/api/v1/documents/a/b", &p));
    assert_false(kumo_web_route_match("/api/v1/documents", "/api/v1/documents/", NULL));
    assert_true(kumo_web_route_match("/api/v1/documents", "/api/v1/documents", NULL));
    assert_false(kumo_web_route_match("/api/v1/me", "/api/v1/meX", NULL));
}

static void test_web_status_from_code(void **state)
{
    (void)state;
    assert_int_equal(kumo_web_status_from_code(KUMO_CODE_NOT_FOUND), 404);
    assert_int_equal(kumo_web_status_from_code(KUMO_CODE_FAILED_PRECONDITION), 409);
    assert_int_equal(kumo_web_status_from_code(KUMO_CODE_UNAUTHENTICATED), 401);
    assert_int_equal(kumo_web_status_from_code(KUMO_CODE_PERMISSION_DENIED), 403);
    assert_int_equal(kumo_web_status_from_code(KUMO_CODE_RESOURCE_EXHAUSTED), 429);
    assert_int_equal(kumo_web_status_from_code(KUMO_CODE_UNAVAILABLE), 503);
    assert_int_equal(kumo_web_status_from_code(KUMO_CODE_INTERNAL), 500);
    assert_int_equal(kumo_web_status_from_code((kumo_code)99), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web_cookie_get),  cmocka_unit_test(test_web_set_cookie),
        cmocka_unit_test(test_web_csrf),        cmocka_unit_test(test_web_origin_allowed),
        cmocka_unit_test(test_web_json_depth),  cmocka_unit_test(test_web_request_id),
        cmocka_unit_test(test_web_route_match), cmocka_unit_test(test_web_status_from_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
