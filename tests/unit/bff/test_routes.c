/* bff/routes.c and the mapping tables of documents.c and users.c: every
 * route is found with its parameters, flags say which routes need a token
 * and the sign-in limit, and every mapped field names a real proto field. */
#include <setjmp.h>
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
        cmocka_unit_test(test_routes_mappings_name_real_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
