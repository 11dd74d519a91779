/* The JWT authenticator on a real server (loopback socket): an Echo
 * handler reports the principal it was given and the peer address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "auth/jwt.h"
#include "runtime/metrics.h"
#include "auth/rpc_auth.h"
#include "rpc_client/client.h"
#include "rpc/server.h"

#define ISS  "https://users.test"
#define AUD  "kumo"
#define PATH "/kumo.test.v1.EchoService/Echo"

static struct kumo_jwt_signer *signer;
static struct kumo_jwt_verifier *verifier;
static struct kumo_rpc_jwt_auth *auth;
static struct kumo_rpc_server *srv;
static struct kumo_rpc_client *client;

/* Echo answers "sub|tid|roles|service|peer". */
static kumo_code who(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response)
{
    (void)request;
    const struct kumo_principal *p = kumo_rpc_principal(call);
    Kumo__Test__V1__EchoResponse *r = kumo_rpc_call_alloc(call, sizeof *r);
    kumo__test__v1__echo_response__init(r);
    r->message = kumo_rpc_call_alloc(call, 512);
    snprintf(r->message, 512, "%s|%s|%u|%d|%s", p->sub, p->tid, p->roles, p->service,
             kumo_rpc_call_peer(call));
    *response = &r->base;
    return KUMO_CODE_OK;
}

static const struct kumo_rpc_method methods[] = {{"Echo", who, KUMO_RPC_BLOCKING}};
static const struct kumo_rpc_service who_service = {&kumo__test__v1__echo_service__descriptor,
                                                    methods, 1, NULL};

static int setup(void **state)
{
    (void)state;
    struct kumo_buf pem = KUMO_BUF_INIT;
    if (kumo_jwt_key_generate(&pem) != 0 || kumo_jwt_signer_new(&signer, ISS, AUD) != 0 ||
        kumo_jwt_signer_add_key(signer, "k1", (const char *)pem.data, pem.len) != 0)
        return -1;
    kumo_buf_free(&pem);
    struct kumo_jwt_keyset *ks;
    struct kumo_jwt_verify_opts o = {ISS, AUD, 30, 3600};
    if (kumo_jwt_signer_keyset(signer, &ks) != 0 || kumo_jwt_verifier_new(&verifier, &o, ks) != 0)
        return -1;
    if (kumo_rpc_jwt_auth_new(&auth, verifier, " documents , bff") != 0)
        return -1;
    struct kumo_rpc_server_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .worker_threads = 2};
    if (kumo_rpc_server_new(&srv, &cfg) != 0 || kumo_rpc_server_add_service(srv, &who_service))
        return -1;
    kumo_rpc_server_set_auth(srv, kumo_rpc_jwt_auth_fn, auth);
    if (kumo_rpc_server_start(srv) != 0)
        return -1;
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kumo_rpc_server_port(srv));
    struct kumo_rpc_client_config cc = {.target = target};
    return kumo_rpc_client_new(&client, &cc);
}

static int teardown(void **state)
{
    (void)state;
    kumo_rpc_client_free(client);
    kumo_rpc_server_shutdown(srv);
    kumo_rpc_server_shutdown(srv);
    kumo_rpc_server_wait(srv);
    kumo_rpc_server_free(srv);
    kumo_rpc_jwt_auth_free(auth);
    kumo_jwt_verifier_free(verifier);
    kumo_jwt_signer_free(signer);
    return 0;
}

/* Calls Echo with `authorization` (NULL: none); returns the code and, on
 * success, the answer in out. */
static kumo_code call(const char *authorization, char *out, size_t cap)
{
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    struct kumo_rpc_call_options o = {.authorization = authorization};
    ProtobufCMessage *resp = NULL;
    struct kumo_rpc_status st = {0};
    kumo_code rc = kumo_rpc_client_call(
        client, PATH, &req.base, &kumo__test__v1__echo_response__descriptor, NULL, &o, &resp, &st);
    if (rc == KUMO_CODE_OK) {
        snprintf(out, cap, "%s", ((Kumo__Test__V1__EchoResponse *)resp)->message);
        protobuf_c_message_free_unpacked(resp, NULL);
    } else if (out) {
        snprintf(out, cap, "%s", st.message ? st.message : "");
    }
    kumo_rpc_status_clear(&st);
    return rc;
}

static char *bearer(const char *sub, const char *tid, unsigned roles, int64_t now, int64_t ttl)
{
    struct kumo_jwt_claims c = {sub, tid, roles, now, ttl};
    char *tok = NULL;
    assert_int_equal(kumo_jwt_sign(signer, &c, &tok, NULL), 0);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b, "Bearer %s", tok);
    kumo_free(tok);
    return kumo_buf_steal(&b, NULL);
}

static void test_rpc_auth_valid_token_gives_the_principal(void **state)
{
    (void)state;
    char out[512];
    char *h = bearer("us_1", "tn_a", KUMO_ROLE_EDITOR, time(NULL), 600);
    assert_int_equal(call(h, out, sizeof out), KUMO_CODE_OK);
    char want[128];
    snprintf(want, sizeof want, "us_1|tn_a|%u|0|127.0.0.1", (unsigned)KUMO_ROLE_EDITOR);
    assert_string_equal(out, want);
    kumo_free(h);
}

static void test_rpc_auth_cache_serves_repeats_not_forgeries(void **state)
{
    (void)state;
    char out[512];
    char *h = bearer("us_9", "tn_c", KUMO_ROLE_VIEWER, time(NULL), 600);
    unsigned long before = kumo_rpc_jwt_auth_cache_hits(auth);
    for (int i = 0; i < 5; i++)
        assert_int_equal(call(h, out, sizeof out), KUMO_CODE_OK);
    assert_int_equal(kumo_rpc_jwt_auth_cache_hits(auth) - before, 4);
    char want[128];
    snprintf(want, sizeof want, "us_9|tn_c|%u|0|127.0.0.1", (unsigned)KUMO_ROLE_VIEWER);
    assert_string_equal(out, want);
    /* A token differing in one signature character is not a cache hit. */
    size_t n = strlen(h);
    h[n - 2] = h[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(call(h, out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    kumo_free(h);
    /* A cached service token is still held to the allow-list. */
    char *svc = bearer("reports", "tn_c", KUMO_ROLE_SERVICE, time(NULL), 600);
    assert_int_equal(call(svc, out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    assert_int_equal(call(svc, out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    kumo_free(svc);
}

static void test_rpc_auth_refuses_missing_and_bad_tokens(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(call(NULL, out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    assert_string_equal(out, "missing or invalid access token");
    assert_int_equal(call("Basic dXNlcjpwYXNz", out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    assert_int_equal(call("Bearer", out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    assert_int_equal(call("Bearer a.b.c", out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    char *expired = bearer("us_1", "tn_a", KUMO_ROLE_ADMIN, time(NULL) - 7200, 600);
    assert_int_equal(call(expired, out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    /* The reason is never told to the client. */
    assert_string_equal(out, "missing or invalid access token");
    kumo_free(expired);
    struct kumo_buf m = KUMO_BUF_INIT;
    kumo_metrics_render(&m);
    assert_non_null(strstr((char *)m.data, "kumo_auth_failures_total"));
    kumo_buf_free(&m);
}

static void test_rpc_auth_service_allowlist(void **state)
{
    (void)state;
    char out[512];
    char *docs = bearer("documents", "tn_a", KUMO_ROLE_SERVICE, time(NULL), 300);
    char *storage = bearer("storage", "tn_a", KUMO_ROLE_SERVICE, time(NULL), 300);
    assert_int_equal(call(docs, out, sizeof out), KUMO_CODE_OK);
    assert_non_null(strstr(out, "documents|tn_a|"));
    assert_non_null(strstr(out, "|1|127.0.0.1"));
    assert_int_equal(call(storage, out, sizeof out), KUMO_CODE_UNAUTHENTICATED);
    assert_true(kumo_rpc_jwt_auth_service_allowed(auth, "bff"));
    assert_false(kumo_rpc_jwt_auth_service_allowed(auth, "storage"));
    kumo_free(docs);
    kumo_free(storage);
}

static void test_rpc_auth_new_validates_the_list(void **state)
{
    (void)state;
    struct kumo_rpc_jwt_auth *a = (struct kumo_rpc_jwt_auth *)&a;
    assert_int_equal(kumo_rpc_jwt_auth_new(&a, verifier, "a,,b"), KUMO_ERR_INVALID);
    assert_int_equal(kumo_rpc_jwt_auth_new(&a, verifier, "Documents"), KUMO_ERR_INVALID);
    assert_int_equal(kumo_rpc_jwt_auth_new(&a, verifier, "a b"), KUMO_ERR_INVALID);
    assert_int_equal(kumo_rpc_jwt_auth_new(&a, NULL, "a"), KUMO_ERR_INVALID);
    assert_ptr_equal(a, (struct kumo_rpc_jwt_auth *)&a);
    assert_int_equal(kumo_rpc_jwt_auth_new(&a, verifier, NULL), 0);
    assert_false(kumo_rpc_jwt_auth_service_allowed(a, "documents"));
    kumo_rpc_jwt_auth_free(a);
    assert_int_equal(kumo_rpc_jwt_auth_new(&a, verifier, "x,"), 0);
    assert_true(kumo_rpc_jwt_auth_service_allowed(a, "x"));
    kumo_rpc_jwt_auth_free(a);
    kumo_rpc_jwt_auth_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_auth_valid_token_gives_the_principal),
        cmocka_unit_test(test_rpc_auth_cache_serves_repeats_not_forgeries),
        cmocka_unit_test(test_rpc_auth_refuses_missing_and_bad_tokens),
        cmocka_unit_test(test_rpc_auth_service_allowlist),
        cmocka_unit_test(test_rpc_auth_new_validates_the_list),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
