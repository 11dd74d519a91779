/* bff/spec_check.c: request bodies and query parameters held to the table
 * generated from bff/openapi.yaml (bff/openapi_spec.c): required members,
 * types, enums (also ignoring case where the document says so), minimum
 * and maximum, array items, members not listed; messages name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spec.h"

static const struct bff_spec_op *op(const char *method, const char *path)
{
    const struct bff_spec_op *o = bff_spec_find(method, path);
    assert_non_null(o);
    return o;
}

/* Checks body text `body` against `o`: returns the message, "" when valid. */
static const char *body_msg(const struct bff_spec_op *o, const char *body)
{
    static char msg[320];
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    msg[0] = '\0';
    int rc = bff_spec_body_errors(o, j, msg, sizeof msg);
    json_decref(j);
    assert_int_equal(rc == 0, msg[0] == '\0');
    return msg;
}

static void test_spec_every_route_has_an_operation(void **state)
{
    (void)state;
    for (size_t i = 0; i < bff_n_routes; i++)
        assert_non_null(bff_spec_find(bff_routes[i].method, bff_routes[i].pattern));
    assert_null(bff_spec_find("GET", "/api/v1/no-such-route"));
}

/* The operation kept per route is the one bff_spec_find gives; a request's
 * is its kept route's when the core found one, else found by its path. */
static void test_spec_of_route_and_request(void **state)
{
    (void)state;
    for (size_t i = 0; i < bff_n_routes; i++)
        for (int again = 0; again < 2; again++)
            assert_ptr_equal(bff_spec_of_route(&bff_routes[i]),
                             bff_spec_find(bff_routes[i].method, bff_routes[i].pattern));
    assert_null(bff_spec_of_route(NULL));
    struct bff_route other = {"GET", "/api/v1/documents", 0, NULL, NULL};
    assert_ptr_equal(bff_spec_of_route(&other), bff_spec_find("GET", "/api/v1/documents"));
    other.pattern = "/api/v1/no-such-route";
    assert_null(bff_spec_of_route(&other));

    struct bff_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = "POST";
    rq.path = "/api/v1/documents/d_1/archive";
    struct bff_ctx c;
    memset(&c, 0, sizeof c);
    c.rq = &rq;
    assert_ptr_equal(bff_spec_of(&c), bff_spec_find("POST", "/api/v1/documents/{id}/archive"));
    rq.path = "/api/v1/nothing";
    assert_null(bff_spec_of(&c));
    struct bff_async a;
    memset(&a, 0, sizeof a);
    c.async = &a;
    assert_null(bff_spec_of(&c)); /* no kept route: found by path (none) */
    int known;
    struct kumo_web_params params;
    a.route = bff_route_find("GET", "/api/v1/documents", &params, &known, NULL);
    assert_non_null(a.route);
    /* The kept route answers, without looking at the path again. */
    assert_ptr_equal(bff_spec_of(&c), bff_spec_find("GET", "/api/v1/documents"));
}

static void test_spec_create_document(void **state)
{
    (void)state;
    const struct bff_spec_op *o = op("POST", "/api/v1/documents");
    assert_string_equal(body_msg(o, "{\"file_name\":\"a.txt\",\"file_size\":3}"), "");
    /* The case: file_size is required. */
    assert_string_equal(body_msg(o, "{\"file_name\":\"a.txt\"}"), "file_size is required");
    assert_string_equal(body_msg(o, "{}"), "file_name is required");
    assert_string_equal(body_msg(o, "{\"file_name\":\"a\",\"file_size\":\"3\"}"),
                        "file_size must be an integer");
    assert_string_equal(body_msg(o, "{\"file_name\":\"a\",\"file_size\":3.5}"),
                        "file_size must be an integer");
    assert_string_equal(body_msg(o, "{\"file_name\":\"a\",\"file_size\":-1}"),
                        "file_size must be at least 0");
    assert_string_equal(body_msg(o, "{\"file_name\":\"a\",\"file_size\":1,\"tags\":[1]}"),
                        "tags: every item must be a string");
    assert_string_equal(body_msg(o, "{\"file_name\":\"a\",\"file_size\":1,\"meta_json\":[]}"),
                        "meta_json must be an object");
    assert_string_equal(body_msg(o, "{\"file_name\":\"a\",\"file_size\":1,\"is_admin\":true}"),
                        "field not accepted here: is_admin");
    assert_string_equal(body_msg(o, "{\"file_name\":null,\"file_size\":1}"),
                        "file_name must be a string");
}

static void test_spec_enums_and_bounds(void **state)
{
    (void)state;
    const struct bff_spec_op *o = op("POST", "/api/v1/documents/{id}/restore");
    assert_string_equal(body_msg(o, "{}"), "");
    assert_string_equal(body_msg(o, "{\"days\":1,\"tier\":\"Expedited\"}"), ""); /* any case */
    assert_string_equal(body_msg(o, "{\"tier\":\"glacial\"}"),
                        "tier must be expedited, standard or bulk");
    assert_string_equal(body_msg(o, "{\"days\":0}"), "days must be at least 1");
    assert_string_equal(body_msg(o, "{\"days\":366}"), "days must be at most 365");
    o = op("PATCH", "/api/v1/documents/{id}");
    char big[400];
    snprintf(big, sizeof big, "{\"title\":\"%0301d\"}", 0);
    assert_string_equal(body_msg(o, big), "title must have at most 300 characters");
    /* 300 characters of 3 bytes each are still 300. */
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "{\"title\":\"");
    for (int i = 0; i < 300; i++)
        kumo_buf_append_str(&b, "\xe6\x96\x87");
    kumo_buf_append_str(&b, "\"}");
    assert_string_equal(body_msg(o, (const char *)b.data), "");
    kumo_buf_free(&b);
    snprintf(big, sizeof big, "{\"tags\":[\"%065d\"]}", 0);
    assert_string_equal(body_msg(o, big), "tags: every item must have at most 64 characters");
    o = op("POST", "/api/v1/api-keys");
    assert_string_equal(body_msg(o, "{\"name\":\"k\",\"role\":\"Admin\"}"),
                        "role must be admin, editor or viewer"); /* case matters here */
    o = op("POST", "/api/v1/documents/{id}/upload-parts");
    assert_string_equal(body_msg(o, "{\"part_numbers\":[1,0]}"),
                        "part_numbers: every item must be at least 1");
}

static void test_spec_query(void **state)
{
    (void)state;
    char msg[320];
    const struct bff_spec_op *o = op("GET", "/api/v1/documents");
    assert_int_equal(bff_spec_query_error(o, "page_size", "10", msg, sizeof msg), 0);
    assert_int_equal(bff_spec_query_error(o, "page_size", "ten", msg, sizeof msg), -1);
    assert_string_equal(msg, "page_size must be an integer");
    assert_int_equal(bff_spec_query_error(o, "page_size", "-1", msg, sizeof msg), -1);
    assert_string_equal(msg, "page_size must be at least 0");
    assert_int_equal(bff_spec_query_error(o, "page_size", "99999999999999999999", msg, sizeof msg),
                     -1);
    assert_int_equal(bff_spec_query_error(o, "status", "active", msg, sizeof msg), 0);
    assert_int_equal(bff_spec_query_error(o, "status", "lost", msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "status must be pending_upload"));
    assert_int_equal(bff_spec_query_error(o, "not_listed", "x", msg, sizeof msg), 0);
    o = op("GET", "/api/v1/documents/{id}");
    assert_int_equal(bff_spec_query_error(o, "download", "false", msg, sizeof msg), 0);
    assert_int_equal(bff_spec_query_error(o, "download", "maybe", msg, sizeof msg), -1);
    assert_string_equal(msg, "download must be true or false");
    assert_int_equal(bff_spec_query_error(o, "version", "0", msg, sizeof msg), -1);
    assert_string_equal(msg, "version must be at least 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_every_route_has_an_operation),
        cmocka_unit_test(test_spec_of_route_and_request),
        cmocka_unit_test(test_spec_create_document),
        cmocka_unit_test(test_spec_enums_and_bounds),
        cmocka_unit_test(test_spec_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
