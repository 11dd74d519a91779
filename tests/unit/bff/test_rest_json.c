/* bff/rest_json.c: response messages -> the API's REST JSON in one pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kumo/documents/v1/documents.pb-c.h"
#include "rest_json.h"

static void test_rest_json_enum_short(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(bff_rest_enum_short("DOCUMENT_STATUS_ACTIVE", out, sizeof out), 0);
    assert_string_equal(out, "active");
    assert_int_equal(bff_rest_enum_short("UPLOAD_METHOD_SINGLE_PUT", out, sizeof out), 0);
    assert_string_equal(out, "single_put");
    assert_int_equal(bff_rest_enum_short("ROLE_", out, sizeof out), -1);
    assert_int_equal(bff_rest_enum_short("OTHER_THING", out, sizeof out), -1);
    assert_int_equal(bff_rest_enum_short("ROLE_ADMIN", out, 3), -1);
}

static void test_rest_json_string(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    bff_rest_string(&b, "a\"b\\c\n\x01 \xc3\xa9");
    assert_string_equal((char *)b.data, "\"a\\\"b\\\\c\\n\\u0001 \xc3\xa9\"");
    kumo_buf_reset(&b);
    bff_rest_string(&b, "x\xff");
    assert_string_equal((char *)b.data, "\"x\\ufffd\"");
    kumo_buf_reset(&b);
    bff_rest_string(&b, NULL);
    assert_string_equal((char *)b.data, "\"\"");
    kumo_buf_free(&b);
}

/* The API's conventions on a document: proto names, short enums, hex
 * sha256, size as a number, Timestamp and Struct in proto3 JSON form,
 * defaults left out, field-number order. */
static void test_rest_json_document(void **state)
{
    (void)state;
    Kumo__Documents__V1__Document d = KUMO__DOCUMENTS__V1__DOCUMENT__INIT;
    d.id = "d1";
    d.file_name = "a.pdf";
    d.size = 123;
    uint8_t sha[2] = {0xab, 0x01};
    d.sha256.data = sha;
    d.sha256.len = 2;
    char *tags[] = {"x", "y"};
    d.tags = tags;
    d.n_tags = 2;
    d.status = KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ACTIVE;
    Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    t.seconds = 1767225600; /* 2026-01-01 */
    d.create_time = &t;
    Google__Protobuf__Struct md = GOOGLE__PROTOBUF__STRUCT__INIT;
    d.metadata = &md;
    struct kumo_buf b = KUMO_BUF_INIT;
    bff_rest_encode(&b, &d.base);
    assert_string_equal((char *)b.data,
                        "{\"id\":\"d1\",\"file_name\":\"a.pdf\",\"size\":123,\"sha256\":\"ab01\","
                        "\"tags\":[\"x\",\"y\"],\"metadata\":{},\"status\":\"active\","
                        "\"create_time\":\"2026-01-01T00:00:00Z\"}");
    kumo_buf_reset(&b);
    int first = 1;
    bff_rest_members(&b, NULL, &first);
    assert_int_equal(first, 1);
    bff_rest_encode(&b, NULL);
    assert_string_equal((char *)b.data, "{}");
    kumo_buf_free(&b);
}

/* A list answer names its list and token even when they are empty. */
static void test_rest_json_field_defaults(void **state)
{
    (void)state;
    Kumo__Documents__V1__ListDocumentsResponse r =
        KUMO__DOCUMENTS__V1__LIST_DOCUMENTS_RESPONSE__INIT;
    struct kumo_buf b = KUMO_BUF_INIT;
    assert_int_equal(bff_rest_field(&b, &r.base, "documents"), 0);
    assert_int_equal(bff_rest_field(&b, &r.base, "next_page_token"), 0);
    assert_int_equal(bff_rest_field(&b, &r.base, "nope"), -1);
    assert_string_equal((char *)b.data, "[]\"\"");
    kumo_buf_free(&b);
    Kumo__Documents__V1__GetDocumentResponse g = KUMO__DOCUMENTS__V1__GET_DOCUMENT_RESPONSE__INIT;
    assert_null(bff_rest_sub(&g.base, "document"));
    Kumo__Documents__V1__Document d = KUMO__DOCUMENTS__V1__DOCUMENT__INIT;
    d.etag = "e7";
    g.document = &d;
    assert_ptr_equal(bff_rest_sub(&g.base, "document"), &d.base);
    assert_string_equal(bff_rest_str(bff_rest_sub(&g.base, "document"), "etag"), "e7");
    assert_null(bff_rest_str(&g.base, "document"));
}

static void test_rest_json_to_json(void **state)
{
    (void)state;
    Kumo__Documents__V1__UploadTarget u = KUMO__DOCUMENTS__V1__UPLOAD_TARGET__INIT;
    u.method = KUMO__DOCUMENTS__V1__UPLOAD_METHOD__UPLOAD_METHOD_MULTIPART;
    u.part_size = 5242880;
    u.part_count = 3;
    json_t *j = bff_rest_to_json(&u.base);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "multipart");
    assert_int_equal(json_integer_value(json_object_get(j, "part_size")), 5242880);
    assert_int_equal(json_integer_value(json_object_get(j, "part_count")), 3);
    assert_null(json_object_get(j, "url"));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_json_enum_short),
        cmocka_unit_test(test_rest_json_string),
        cmocka_unit_test(test_rest_json_document),
        cmocka_unit_test(test_rest_json_field_defaults),
        cmocka_unit_test(test_rest_json_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
