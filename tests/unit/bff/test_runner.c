/* bff/runner.c: request messages built from the mapping tables (path,
 * query, headers, If-Match, body; enum names, hex digests, page sizes,
 * metadata, update masks) and the 400/428 answers of bad input. No RPC is
 * made: bff_op_request only builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kumo/documents/v1/documents.pb-c.h"
#include "kumo/users/v1/users.pb-c.h"
#include "op.h"

struct fx {
    struct bff app;
    struct bff_request rq;
    struct bff_response rs;
    struct bff_ctx c;
};

/* A request for `pattern` at `path` ("?a=1&b=2" split into the query). */
static void fx_init(struct fx *x, const char *method, const char *pattern, const char *path,
                    const char *body)
{
    memset(x, 0, sizeof *x);
    x->app.s.page_size_max = 100;
    x->app.s.json_max_depth = 32;
    x->rq.method = method;
    static char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    char *q = strchr(buf, '?');
    if (q) {
        *q++ = '\0';
        while (q && *q && x->rq.n_query < BFF_MAX_QUERY) {
            char *amp = strchr(q, '&');
            if (amp)
                *amp = '\0';
            char *eq = strchr(q, '=');
            if (eq)
                *eq = '\0';
            x->rq.query[x->rq.n_query].name = q;
            x->rq.query[x->rq.n_query].value = eq ? eq + 1 : "";
            x->rq.n_query++;
            q = amp ? amp + 1 : NULL;
        }
    }
    x->rq.path = buf;
    x->rq.body = body ? body : "";
    x->rq.body_len = body ? strlen(body) : 0;
    x->c.app = &x->app;
    x->c.rq = &x->rq;
    x->c.rs = &x->rs;
    x->c.arena = kumo_arena_new();
    assert_true(kumo_web_route_match(pattern, buf, &x->c.params));
    /* The mapping layer is under test here, not the document's check of the
     * body (test_spec_check.c): bodies may lack members openapi.yaml requires. */
    if (body)
        assert_int_equal(bff_parse_body_only(&x->c), 0);
}

static void fx_header(struct fx *x, const char *name, const char *value)
{
    x->rq.headers[x->rq.n_headers].name = name;
    x->rq.headers[x->rq.n_headers].value = value;
    x->rq.n_headers++;
}

static void fx_free(struct fx *x)
{
    json_decref(x->c.body);
    bff_response_clear(&x->rs);
    kumo_arena_free(x->c.arena);
}

/* The error code of the answer written so far. */
static const char *fx_error_message(struct fx *x)
{
    static char msg[256];
    json_t *j = json_loadb((const char *)x->rs.body.data, x->rs.body.len, 0, NULL);
    snprintf(msg, sizeof msg, "%s",
             json_string_value(json_object_get(json_object_get(j, "error"), "message")));
    json_decref(j);
    return msg;
}

static void test_runner_list_query(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "GET", "/api/v1/documents",
            "/api/v1/documents?page_size=500&status=archived&order=title_asc&q=tax&tag=t1"
            "&created_after=2026-01-01T00:00:00Z",
            NULL);
    Kumo__Documents__V1__ListDocumentsRequest *m = (void *)bff_op_request(&x.c, &bff_op_docs_list);
    assert_non_null(m);
    assert_int_equal(m->page_size, 100); /* clamped */
    assert_int_equal(m->status, KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED);
    assert_int_equal(m->order_by, KUMO__DOCUMENTS__V1__DOCUMENT_ORDER__DOCUMENT_ORDER_TITLE_ASC);
    assert_string_equal(m->query, "tax");
    assert_string_equal(m->tag, "t1");
    assert_non_null(m->create_time_after);
    assert_int_equal(m->create_time_after->seconds, 1767225600);
    fx_free(&x);

    /* No page_size: KumoCMS's 100 (clamped to the maximum); one given wins. */
    fx_init(&x, "GET", "/api/v1/documents", "/api/v1/documents", NULL);
    x.app.s.page_size_max = 50;
    m = (void *)bff_op_request(&x.c, &bff_op_docs_list);
    assert_non_null(m);
    assert_int_equal(m->page_size, 50);
    fx_free(&x);
    fx_init(&x, "GET", "/api/v1/documents", "/api/v1/documents?page_size=7", NULL);
    m = (void *)bff_op_request(&x.c, &bff_op_docs_list);
    assert_non_null(m);
    assert_int_equal(m->page_size, 7);
    fx_free(&x);
}

static void test_runner_bad_query(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"/api/v1/documents?order=sideways",
         "order must be create_time_desc, create_time_asc, update_time_desc or title_asc"},
        {"/api/v1/documents?status=bogus", "status: unknown value"},
        {"/api/v1/documents?page_size=-1", "page_size must be a positive integer"},
        {"/api/v1/documents?page_size=7x", "page_size must be a positive integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fx x;
        fx_init(&x, "GET", "/api/v1/documents", cases[i][0], NULL);
        assert_null(bff_op_request(&x.c, &bff_op_docs_list));
        assert_int_equal(x.rs.status, 400);
        assert_string_equal(fx_error_message(&x), cases[i][1]);
        fx_free(&x);
    }
    struct fx x;
    fx_init(&x, "GET", "/api/v1/documents", "/api/v1/documents?created_after=yesterday", NULL);
    assert_null(bff_op_request(&x.c, &bff_op_docs_list));
    assert_int_equal(x.rs.status, 400);
    fx_free(&x);
}

static void test_runner_get_document(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "GET", "/api/v1/documents/{id}", "/api/v1/documents/d_9?version=3", NULL);
    Kumo__Documents__V1__GetDocumentRequest *m = (void *)bff_op_request(&x.c, &bff_op_docs_get);
    assert_non_null(m);
    assert_string_equal(m->id, "d_9");
    assert_int_equal(m->version, 3);
    assert_true(m->include_download_url);
    fx_free(&x);
    fx_init(&x, "GET", "/api/v1/documents/{id}", "/api/v1/documents/d_9?version=2000000000", NULL);
    assert_null(bff_op_request(&x.c, &bff_op_docs_get));
    assert_string_equal(fx_error_message(&x), "version must be a positive integer");
    fx_free(&x);
}

/* PATCH: If-Match is required (428 before anything else); the mask names
 * the members given, metadata from meta_json included. */
static void test_runner_patch(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "PATCH", "/api/v1/documents/{id}", "/api/v1/documents/d1", "{}");
    assert_null(bff_op_request(&x.c, &bff_op_docs_patch));
    assert_int_equal(x.rs.status, 428);
    fx_free(&x);

    fx_init(&x, "PATCH", "/api/v1/documents/{id}", "/api/v1/documents/d1", "{}");
    fx_header(&x, "If-Match", "\"e1\"");
    assert_null(bff_op_request(&x.c, &bff_op_docs_patch));
    assert_int_equal(x.rs.status, 400);
    assert_string_equal(fx_error_message(&x), "nothing to change");
    fx_free(&x);

    fx_init(&x, "PATCH", "/api/v1/documents/{id}", "/api/v1/documents/d1",
            "{\"file_name\":\"b.pdf\",\"title\":\"T\",\"meta_json\":{\"k\":1}}");
    fx_header(&x, "If-Match", "W/\"e1\"");
    Kumo__Documents__V1__UpdateDocumentRequest *m =
        (void *)bff_op_request(&x.c, &bff_op_docs_patch);
    assert_non_null(m);
    assert_string_equal(m->etag, "e1");
    assert_string_equal(m->document->id, "d1");
    assert_string_equal(m->document->title, "T");
    assert_string_equal(m->document->file_name, "b.pdf");
    assert_non_null(m->document->metadata);
    assert_int_equal(m->update_mask->n_paths, 3);
    assert_string_equal(m->update_mask->paths[0], "title");
    assert_string_equal(m->update_mask->paths[1], "file_name");
    assert_string_equal(m->update_mask->paths[2], "metadata");
    fx_free(&x);
}

static void test_runner_create(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "POST", "/api/v1/documents", "/api/v1/documents",
            "{\"file_name\":\"a.txt\",\"file_size\":12,\"sha256\":"
            "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
            "\"meta_content\":\"{\\\"a\\\":[1]}\",\"tags\":[\"x\"]}");
    fx_header(&x, "Idempotency-Key", "k-1");
    Kumo__Documents__V1__CreateDocumentRequest *m =
        (void *)bff_op_request(&x.c, &bff_op_docs_create);
    assert_non_null(m);
    assert_int_equal(m->size, 12);
    assert_int_equal(m->sha256.len, 32);
    assert_int_equal(m->sha256.data[1], 0x11);
    assert_string_equal(m->idempotency_key, "k-1");
    assert_int_equal(m->n_tags, 1);
    assert_non_null(m->metadata);
    fx_free(&x);

    /* The body's idempotency key wins over the header. */
    fx_init(&x, "POST", "/api/v1/documents", "/api/v1/documents",
            "{\"file_name\":\"a.txt\",\"idempotency_key\":\"body\"}");
    fx_header(&x, "Idempotency-Key", "header");
    m = (void *)bff_op_request(&x.c, &bff_op_docs_create);
    assert_non_null(m);
    assert_string_equal(m->idempotency_key, "body");
    fx_free(&x);

    static const char *const bad[][2] = {
        {"{\"sha256\":\"xyz\"}", "sha256 must be 64 hexadecimal digits"},
        {"{\"meta_json\":{},\"metadata\":{}}",
         "give only one of meta_json, meta_content, metadata"},
        {"{\"meta_content\":\"[1]\"}",
         "meta_content must be the base64 of a JSON object (a meta.json file)"},
        /* base64 of [1,2], of "x", of text, not base64, empty */
        {"{\"meta_content\":\"WzEsMl0=\"}",
         "meta_content must be the base64 of a JSON object (a meta.json file)"},
        {"{\"meta_content\":\"Ingi\"}",
         "meta_content must be the base64 of a JSON object (a meta.json file)"},
        {"{\"meta_content\":\"aGVsbG8=\"}",
         "meta_content must be the base64 of a JSON object (a meta.json file)"},
        {"{\"meta_content\":\"%%%\"}",
         "meta_content must be the base64 of a JSON object (a meta.json file)"},
        {"{\"meta_content\":\"\"}",
         "meta_content must be the base64 of a JSON object (a meta.json file)"},
        {"{\"meta_content\":7}",
         "meta_content must be the base64 of a JSON object (a meta.json file)"},
        {"{\"meta_json\":3}", "meta_json must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_init(&x, "POST", "/api/v1/documents", "/api/v1/documents", bad[i][0]);
        assert_null(bff_op_request(&x.c, &bff_op_docs_create));
        assert_int_equal(x.rs.status, 400);
        assert_string_equal(fx_error_message(&x), bad[i][1]);
        fx_free(&x);
    }
}

/* KumoCMS's meta_content: the base64 of a meta.json file, either
 * alphabet, padded or not. */
static void test_runner_meta_content_base64(void **state)
{
    (void)state;
    static const char *const good[] = {
        "eyJhIjpbMV0sImIiOiJ+fj8/PiJ9", /* {"a":[1],"b":"~~??>"}, standard */
        "eyJhIjpbMV0sImIiOiJ-fj8_PiJ9", /* the same, URL-safe */
        "{\\\"a\\\":1,\\\"b\\\":2}",    /* the JSON text itself, as before */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct fx x;
        char body[160];
        snprintf(body, sizeof body, "{\"file_name\":\"a.txt\",\"meta_content\":\"%s\"}", good[i]);
        fx_init(&x, "POST", "/api/v1/documents", "/api/v1/documents", body);
        Kumo__Documents__V1__CreateDocumentRequest *m =
            (void *)bff_op_request(&x.c, &bff_op_docs_create);
        assert_non_null(m);
        assert_non_null(m->metadata);
        assert_int_equal(m->metadata->n_fields, 2);
        fx_free(&x);
    }
}

/* Document ids: what can be one; anything else is 404 before any call. */
static void test_runner_doc_ids(void **state)
{
    (void)state;
    assert_true(bff_doc_id_valid("doc_abcdefghij0123456789"));
    assert_false(bff_doc_id_valid("01HV5Z3K8Q9R2S4T6V8W0XYZAB"));
    assert_false(bff_doc_id_valid("doc_"));
    assert_false(bff_doc_id_valid("doc_ABC"));
    assert_false(bff_doc_id_valid("doc_a/b"));
    assert_false(bff_doc_id_valid(""));
    assert_false(bff_doc_id_valid(NULL));
    struct fx x;
    fx_init(&x, "DELETE", "/api/v1/documents/{id}", "/api/v1/documents/not-an-id", NULL);
    assert_int_equal(bff_doc_id_check(&x.c, "id"), -1);
    assert_int_equal(x.rs.status, 404);
    fx_free(&x);
}

/* The raised body limit is PUT /documents/{id}'s alone. */
static void test_runner_body_limit(void **state)
{
    (void)state;
    struct bff app;
    memset(&app, 0, sizeof app);
    app.s.body_max = 1024 * 1024;
    assert_true(bff_body_limit(&app, "PUT", "/api/v1/documents/doc_x", 1) == BFF_DIRECT_BODY_MAX);
    assert_true(bff_body_limit(&app, "PUT", "/api/v1/documents/doc_x?a=b", 1) ==
                BFF_DIRECT_BODY_MAX);
    assert_true(bff_body_limit(&app, "POST", "/api/v1/documents/doc_x", 1) == app.s.body_max);
    assert_true(bff_body_limit(&app, "PUT", "/api/v1/documents/doc_x/complete", 1) ==
                app.s.body_max);
    assert_true(bff_body_limit(&app, "PUT", "/api/v1/users/u", 1) == app.s.body_max);
    assert_true(bff_body_limit(&app, NULL, NULL, 1) == app.s.body_max);
    /* Anonymous requests never get the larger limit. */
    assert_true(bff_body_limit(&app, "PUT", "/api/v1/documents/doc_x", 0) == app.s.body_max);
    app.s.body_max = 32LL * 1024 * 1024; /* a larger global limit stays */
    assert_true(bff_body_limit(&app, "PUT", "/api/v1/documents/doc_x", 1) == app.s.body_max);
}

static void test_runner_restore_and_archive(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "POST", "/api/v1/documents/{id}/restore", "/api/v1/documents/d2/restore",
            "{\"days\":2,\"tier\":\"Standard\"}");
    Kumo__Documents__V1__RestoreDocumentRequest *r =
        (void *)bff_op_request(&x.c, &bff_op_docs_restore);
    assert_non_null(r);
    assert_string_equal(r->id, "d2");
    assert_int_equal(r->tier, KUMO__DOCUMENTS__V1__RESTORE_TIER__RESTORE_TIER_STANDARD);
    fx_free(&x);
    fx_init(&x, "POST", "/api/v1/documents/{id}/restore", "/api/v1/documents/d2/restore",
            "{\"tier\":\"glacial\"}");
    assert_null(bff_op_request(&x.c, &bff_op_docs_restore));
    assert_string_equal(fx_error_message(&x), "tier must be expedited, standard or bulk");
    fx_free(&x);

    /* If-Match wins over the body's etag. */
    fx_init(&x, "POST", "/api/v1/documents/{id}/archive", "/api/v1/documents/d2/archive",
            "{\"etag\":\"body\"}");
    fx_header(&x, "If-Match", "\"hdr\"");
    Kumo__Documents__V1__ArchiveDocumentRequest *a =
        (void *)bff_op_request(&x.c, &bff_op_docs_archive);
    assert_non_null(a);
    assert_string_equal(a->etag, "hdr");
    fx_free(&x);
}

/* Users: role names, display_name in the mask as proto3 JSON spells it,
 * the etag from prepare when If-Match is absent. */
static void test_runner_users(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, "PATCH", "/api/v1/users/{id}", "/api/v1/users/u1",
            "{\"display_name\":\"Ann\",\"role\":\"editor\"}");
    x.c.etag_default = "cur";
    Kumo__Users__V1__UpdateUserRequest *u = (void *)bff_op_request(&x.c, &bff_op_users_update);
    assert_non_null(u);
    assert_string_equal(u->etag, "cur");
    assert_string_equal(u->user->id, "u1");
    assert_int_equal(u->user->role, KUMO__USERS__V1__ROLE__ROLE_EDITOR);
    assert_int_equal(u->update_mask->n_paths, 2);
    assert_string_equal(u->update_mask->paths[0], "display_name");
    assert_string_equal(u->update_mask->paths[1], "role");
    fx_free(&x);

    fx_init(&x, "GET", "/api/v1/users", "/api/v1/users?role=root", NULL);
    assert_null(bff_op_request(&x.c, &bff_op_users_list));
    assert_string_equal(fx_error_message(&x), "role must be admin, editor or viewer");
    fx_free(&x);

    fx_init(&x, "POST", "/api/v1/api-keys", "/api/v1/api-keys",
            "{\"name\":\"ci\",\"role\":\"viewer\",\"expires_at\":\"2027-01-01T00:00:00Z\"}");
    Kumo__Users__V1__CreateApiKeyRequest *k = (void *)bff_op_request(&x.c, &bff_op_keys_create);
    assert_non_null(k);
    assert_int_equal(k->role, KUMO__USERS__V1__ROLE__ROLE_VIEWER);
    assert_non_null(k->expire_time);
    fx_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runner_list_query),
        cmocka_unit_test(test_runner_bad_query),
        cmocka_unit_test(test_runner_get_document),
        cmocka_unit_test(test_runner_patch),
        cmocka_unit_test(test_runner_create),
        cmocka_unit_test(test_runner_meta_content_base64),
        cmocka_unit_test(test_runner_doc_ids),
        cmocka_unit_test(test_runner_body_limit),
        cmocka_unit_test(test_runner_restore_and_archive),
        cmocka_unit_test(test_runner_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
