/* bff/routes.c and the mapping tables of documents.c and users.c: every
 * route is found with its parameters, flags say which routes need a token
 * and the sign-in limit, and every mapped field names a real proto field. */
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "op.h"
#include "rest_json.h"

static void test_routes_find(void **state)
{
    (void)state;
    struct kumo_web_params p;
    int known;
    const struct bff_route *r = bff_route_find("GET", "/api/v1/documents/d_1", &p, &known, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->fn, bff_h_docs_get);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.p[0].len, 3);
    assert_memory_equal(p.p[0].val, "d_1", 3);
    r = bff_route_find("POST", "/api/v1/documents/d_1/archive", &p, &known, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->op, &bff_op_docs_archive);
    struct kumo_buf allow = KUMO_BUF_INIT;
    assert_null(bff_route_find("POST", "/api/v1/users/u1", &p, &known, &allow));
    assert_int_equal(known, 1);
    assert_string_equal((char *)allow.data, "GET, PUT, PATCH, DELETE");
    kumo_buf_free(&allow);
    assert_null(bff_route_find("GET", "/api/v1/nothing", &p, &known, NULL));
    assert_int_equal(known, 0);
    assert_null(bff_route_find("GET", "/api/v1/documents/", &p, &known, NULL));
    /* KumoCMS's routes. */
    r = bff_route_find("POST", "/api/v1/auth", &p, &known, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->fn, bff_h_kumocms_auth);
    r = bff_route_find("PUT", "/api/v1/users/carol@demo.local", &p, &known, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->fn, bff_h_users_put);
    r = bff_route_find("PUT", "/api/v1/documents/d_1", &p, &known, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->fn, bff_h_docs_put);
}

/* Every row finds itself, has exactly one of a handler and an op, and
 * only sign-in carries the sign-in limit; only the session and public
 * routes go without a token. */
static void test_routes_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < bff_n_routes; i++) {
        const struct bff_route *r = &bff_routes[i];
        assert_true((r->fn != NULL) != (r->op != NULL));
        struct kumo_buf path = KUMO_BUF_INIT;
        for (const char *s = r->pattern; *s; s++) {
            if (*s == '{') {
                kumo_buf_append_str(&path, "x1");
                s = strchr(s, '}');
            } else {
                kumo_buf_append_byte(&path, (uint8_t)*s);
            }
        }
        struct kumo_web_params p;
        int known;
        assert_ptr_equal(bff_route_find(r->method, (char *)path.data, &p, &known, NULL), r);
        kumo_buf_free(&path);
        assert_int_equal(bff_route_index(r), i);
        /* POST /auth is KumoCMS's sign-in. */
        int login = strcmp(r->pattern, "/api/v1/auth/login") == 0 ||
                    strcmp(r->pattern, "/api/v1/auth") == 0;
        assert_int_equal(!!(r->flags & BFF_LOGIN), login);
        if (!(r->flags & BFF_TOKEN))
            assert_true(strncmp(r->pattern, "/api/v1/auth/", 13) == 0 ||
                        strcmp(r->pattern, "/api/v1/auth") == 0 ||
                        strcmp(r->pattern, "/api/v1/healthcheck") == 0 ||
                        strcmp(r->pattern, "/api/v1/openapi.json") == 0);
    }
}

/* bff_route_index: a row's own number, bff_n_routes for anything else. */
static void test_routes_index_of_other_routes(void **state)
{
    (void)state;
    struct bff_route copy = bff_routes[0];
    assert_int_equal(bff_route_index(NULL), bff_n_routes);
    assert_int_equal(bff_route_index(&copy), bff_n_routes);
    assert_int_equal(bff_route_index(&bff_routes[bff_n_routes - 1]), bff_n_routes - 1);
}

/* The full scan of the table that bff_route_find's index stands for: the
 * first route in table order that matches path and method, else the
 * methods of those matching the path. */
static const struct bff_route *scan(const char *method, const char *path,
                                    struct kumo_web_params *params, int *path_known,
                                    struct kumo_buf *allow)
{
    *path_known = 0;
    for (size_t i = 0; i < bff_n_routes; i++) {
        const struct bff_route *r = &bff_routes[i];
        if (!kumo_web_route_match(r->pattern, path, params))
            continue;
        if (strcmp(r->method, method) == 0)
            return r;
        kumo_buf_appendf(allow, "%s%s", *path_known ? ", " : "", r->method);
        *path_known = 1;
    }
    return NULL;
}

static void expect_as_scan(const char *path)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "get"};
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        struct kumo_web_params p1, p2;
        int known1, known2;
        struct kumo_buf allow1 = KUMO_BUF_INIT, allow2 = KUMO_BUF_INIT;
        const struct bff_route *want = scan(methods[m], path, &p1, &known1, &allow1);
        const struct bff_route *got = bff_route_find(methods[m], path, &p2, &known2, &allow2);
        if (got != want)
            fail_msg("%s %s: got %s, want %s", methods[m], path, got ? got->pattern : "none",
                     want ? want->pattern : "none");
        if (want) {
            assert_int_equal(p2.n, p1.n);
            for (int i = 0; i < p1.n; i++) {
                assert_ptr_equal(p2.p[i].val, p1.p[i].val);
                assert_int_equal(p2.p[i].len, p1.p[i].len);
                assert_ptr_equal(p2.p[i].name, p1.p[i].name);
            }
        } else {
            assert_int_equal(known2, known1);
            assert_int_equal(allow2.len, allow1.len);
            if (allow1.len)
                assert_memory_equal(allow2.data, allow1.data, allow1.len);
        }
        kumo_buf_free(&allow1);
        kumo_buf_free(&allow2);
    }
}

/* The index finds what the full scan finds (route, parameters, Allow) for
 * every route's path with every method, and for near misses of each. */
static void test_routes_index_agrees_with_scan(void **state)
{
    (void)state;
    static const char *const extra[] = {
        "",
        "/",
        "//",
        "/api",
        "/api/",
        "/api/v1",
        "/api/v1/",
        "/api/v1//",
        "/api/v2/documents",
        "/apix/v1/documents",
        "/api/v1/documents/",
        "/api/v1/documents//archive",
        "/api/v1/documents/d_1/",
        "/api/v1/documents/d_1/archive/",
        "/api/v1/documents/d_1/nothing",
        "/api/v1/documents/d_1/archive/x",
        "/api/v1/Documents/d_1",
        "/api/v1/document/d_1",
        "/api/v1/documentsx/d_1",
        "/api/v1/users/carol@demo.local",
        "/api/v1/auth/login/x",
        "api/v1/documents",
        "/api/v1/documents?x=1",
        "/api/v1/documents/{id}",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        expect_as_scan(extra[i]);
    for (size_t i = 0; i < bff_n_routes; i++) {
        const char *pat = bff_routes[i].pattern;
        struct kumo_buf path = KUMO_BUF_INIT;
        for (const char *s = pat; *s; s++) {
            if (*s == '{') {
                kumo_buf_append_str(&path, "x1");
                s = strchr(s, '}');
            } else {
                kumo_buf_append_byte(&path, (uint8_t)*s);
            }
        }
        const char *ps = (const char *)path.data;
        size_t n = path.len;
        expect_as_scan(ps);
        expect_as_scan(pat); /* the pattern itself is a path too */
        char near[256];
        assert_true(n + 4 < sizeof near);
        snprintf(near, sizeof near, "%s/", ps); /* trailing slash */
        expect_as_scan(near);
        snprintf(near, sizeof near, "%s/y", ps); /* one segment more */
        expect_as_scan(near);
        snprintf(near, sizeof near, "%sz", ps); /* last segment longer */
        expect_as_scan(near);
        snprintf(near, sizeof near, "%.*s", (int)(n - 1), ps); /* shorter */
        expect_as_scan(near);
        const char *last = strrchr(ps, '/');
        snprintf(near, sizeof near, "%.*s", (int)(last - ps), ps); /* one segment less */
        expect_as_scan(near);
        snprintf(near, sizeof near, "%.*s/", (int)(last - ps), ps); /* last segment empty */
        expect_as_scan(near);
        kumo_buf_free(&path);
    }
}

/* `to` of a row ("a.b" included) is a field of the request message. */
static int field_exists(const ProtobufCMessageDescriptor *d, const char *to)
{
    const char *dot = strchr(to, '.');
    char head[64];
    size_t n = dot ? (size_t)(dot - to) : strlen(to);
    if (n >= sizeof head)
        return 0;
    memcpy(head, to, n);
    head[n] = '\0';
    const ProtobufCFieldDescriptor *f = bff_rest_find_field(d, head);
    if (!f)
        return 0;
    if (!dot)
        return 1;
    return f->type == PROTOBUF_C_TYPE_MESSAGE && field_exists(f->descriptor, dot + 1);
}

static void test_routes_mappings_name_real_fields(void **state)
{
    (void)state;
    size_t ops = 0;
    for (size_t i = 0; i < bff_n_routes; i++) {
        const struct bff_op *op = bff_routes[i].op;
        if (!op && bff_routes[i].fn == bff_h_docs_get)
            op = &bff_op_docs_get;
        if (!op && bff_routes[i].fn == bff_h_docs_put)
            op = &bff_op_docs_put; /* without file_content */
        if (!op)
            continue;
        ops++;
        assert_non_null(op->rpc);
        assert_true(op->status == 0 || (op->status >= 200 && op->status < 300));
        assert_true(bff_op_status(op) >= 200 && bff_op_status(op) < 300);
        for (const struct bff_field *f = op->fields; f && f->to; f++) {
            if (!field_exists(op->req, f->to))
                fail_msg("%s: no request field %s", op->rpc, f->to);
            if (f->src == BFF_BODY && f->from) {
                int accepted = 0;
                for (const char *const *b = op->body; b && *b; b++)
                    accepted |= strcmp(*b, f->from) == 0;
                if (!accepted)
                    fail_msg("%s: body member %s is mapped but not accepted", op->rpc, f->from);
            }
            if (f->conv == BFF_ENUM)
                assert_non_null(f->arg);
        }
        if (op->mask)
            assert_non_null(bff_rest_find_field(op->req, op->mask));
        if (op->answer == BFF_ANS_PAGE) {
            assert_non_null(bff_rest_find_field(op->resp, op->key));
            assert_non_null(bff_rest_find_field(op->resp, "next_page_token"));
        }
        if (op->etag_of)
            assert_non_null(bff_rest_find_field(op->resp, op->etag_of));
        if (op->answer == BFF_ANS_HOOK && op != &bff_op_docs_get)
            assert_non_null(op->answer_fn);
    }
    /* 24 mapped RPCs: every route but the sessions, health and the spec
     * (the password change is one). */
    assert_int_equal(ops, 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_find),
        cmocka_unit_test(test_routes_table),
        cmocka_unit_test(test_routes_index_agrees_with_scan),
        cmocka_unit_test(test_routes_index_of_other_routes),
        cmocka_unit_test(test_routes_mappings_name_real_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
