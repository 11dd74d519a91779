/* Tests of common/apikey_exchange against an in-process kumo RPC server
 * with a fake UserService.ExchangeApiKey that counts its calls. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "users/apikey_exchange.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "kumo/users/v1/users.pb-c.h"
#include "rpc/rpc.h"
#include "rpc_client/client.h"
#include "rpc/server.h"
#include "base/secret.h"

static struct kumo_rpc_server *srv;
static struct kumo_rpc_client *client;
static atomic_int calls;                   /* ExchangeApiKey calls the fake served */
static atomic_llong ttl_s;                 /* lifetime of the tokens it issues */
static char revoked[KUMO_API_KEY_LEN + 1]; /* a key the fake refuses */

static kumo_code fake_exchange(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response)
{
    const Kumo__Users__V1__ExchangeApiKeyRequest *req =
        (const Kumo__Users__V1__ExchangeApiKeyRequest *)request;
    int n = atomic_fetch_add(&calls, 1) + 1;
    struct kumo_api_key k;
    if (kumo_api_key_parse(req->api_key, strlen(req->api_key), &k) != 0)
        return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "fake: bad key reached me");
    if (strcmp(req->api_key, revoked) == 0)
        return kumo_rpc_call_error(call, KUMO_CODE_UNAUTHENTICATED, "invalid API key");
    Kumo__Users__V1__ExchangeApiKeyResponse *resp = kumo_rpc_call_alloc(call, sizeof *resp);
    kumo__users__v1__exchange_api_key_response__init(resp);
    Google__Protobuf__Timestamp *ts = kumo_rpc_call_alloc(call, sizeof *ts);
    google__protobuf__timestamp__init(ts);
    ts->seconds = (int64_t)time(NULL) + atomic_load(&ttl_s);
    resp->access_token_expire_time = ts;
    size_t cap = 128;
    resp->access_token = kumo_rpc_call_alloc(call, cap);
    snprintf(resp->access_token, cap, "tok.%s.%s.%d", k.id, req->tenant_id, n);
    *response = &resp->base;
    return KUMO_CODE_OK;
}

static const struct kumo_rpc_method methods[] = {
    {"ExchangeApiKey", fake_exchange, KUMO_RPC_BLOCKING}};
static const struct kumo_rpc_service users_service = {&kumo__users__v1__user_service__descriptor,
                                                      methods, 1, NULL};

static int setup(void **state)
{
    (void)state;
    struct kumo_rpc_server_config cfg = {.bind_addr = "127.0.0.1", .port = 0, .worker_threads = 4};
    if (kumo_rpc_server_new(&srv, &cfg) != 0 || kumo_rpc_server_add_service(srv, &users_service))
        return -1;
    if (kumo_rpc_server_start(srv) != 0)
        return -1;
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kumo_rpc_server_port(srv));
    struct kumo_rpc_client_config ccfg = {.target = target};
    if (kumo_rpc_client_new(&client, &ccfg) != 0)
        return -1;
    struct kumo_api_key k;
    return kumo_api_key_generate(&k, revoked);
}

static int teardown(void **state)
{
    (void)state;
    kumo_rpc_client_free(client);
    kumo_rpc_server_shutdown(srv);
    kumo_rpc_server_wait(srv);
    kumo_rpc_server_free(srv);
    return 0;
}

/* Per test: a fresh call count and long-lived tokens. */
static int reset(void **state)
{
    (void)state;
    atomic_store(&calls, 0);
    atomic_store(&ttl_s, 3600);
    return 0;
}

static void new_key(char text[KUMO_API_KEY_LEN + 1])
{
    struct kumo_api_key k;
    assert_int_equal(kumo_api_key_generate(&k, text), 0);
}

static struct kumo_apikey_exchange *make(size_t max, int64_t margin)
{
    struct kumo_apikey_exchange *x = NULL;
    struct kumo_apikey_exchange_config cfg = {client, max, margin};
    assert_int_equal(kumo_apikey_exchange_new(&x, &cfg), 0);
    assert_non_null(x);
    return x;
}

/* Exchanges and expects success; returns the token (caller frees). */
static char *get(struct kumo_apikey_exchange *x, const char *key, const char *tenant)
{
    char *tok = NULL;
    int64_t exp = 0;
    struct kumo_rpc_status st = {KUMO_CODE_OK, NULL};
    kumo_code rc = kumo_apikey_exchange_token(x, key, tenant, NULL, &tok, &exp, &st);
    if (rc != KUMO_CODE_OK)
        fail_msg("exchange: %s %s", kumo_code_name(rc), st.message ? st.message : "");
    assert_null(st.message);
    assert_non_null(tok);
    assert_true(exp > (int64_t)time(NULL));
    return tok;
}

static void test_apikey_exchange_new_invalid(void **state)
{
    (void)state;
    struct kumo_apikey_exchange *x = (void *)0x1;
    struct kumo_apikey_exchange_config cfg = {NULL, 0, 0};
    assert_int_equal(kumo_apikey_exchange_new(&x, &cfg), KUMO_ERR_INVALID);
    assert_int_equal(kumo_apikey_exchange_new(&x, NULL), KUMO_ERR_INVALID);
    assert_ptr_equal(x, (void *)0x1);
    kumo_apikey_exchange_free(NULL);
    kumo_apikey_exchange_flush(NULL);
}

static void test_apikey_exchange_cache_hit(void **state)
{
    (void)state;
    char key[KUMO_API_KEY_LEN + 1];
    new_key(key);
    struct kumo_apikey_exchange *x = make(0, 0);
    char *a = get(x, key, NULL);
    char *b = get(x, key, "");
    assert_string_equal(a, b);
    assert_int_equal(atomic_load(&calls), 1);
    kumo_free(a);
    kumo_free(b);
    kumo_apikey_exchange_free(x);
}

static void test_apikey_exchange_refresh_inside_margin(void **state)
{
    (void)state;
    char key[KUMO_API_KEY_LEN + 1];
    new_key(key);
    /* A token expiring within the margin is never served from the cache. */
    atomic_store(&ttl_s, 30);
    struct kumo_apikey_exchange *x = make(0, 60);
    kumo_free(get(x, key, "t1"));
    kumo_free(get(x, key, "t1"));
    assert_int_equal(atomic_load(&calls), 2);
    kumo_apikey_exchange_free(x);

    /* A cached token is renewed once it enters the margin. */
    atomic_store(&calls, 0);
    atomic_store(&ttl_s, 3);
    x = make(0, 1);
    char *a = get(x, key, "t1");
    char *b = get(x, key, "t1");
    assert_string_equal(a, b);
    assert_int_equal(atomic_load(&calls), 1);
    usleep(2200 * 1000); /* now at most ~1 s left: inside the margin */
    char *c = get(x, key, "t1");
    assert_string_not_equal(a, c);
    assert_int_equal(atomic_load(&calls), 2);
    kumo_free(a);
    kumo_free(b);
    kumo_free(c);
    kumo_apikey_exchange_free(x);
}

static void test_apikey_exchange_keyed_by_key_and_tenant(void **state)
{
    (void)state;
    char k1[KUMO_API_KEY_LEN + 1], k2[KUMO_API_KEY_LEN + 1];
    new_key(k1);
    new_key(k2);
    struct kumo_apikey_exchange *x = make(0, 0);
    char *a = get(x, k1, "ten_a");
    char *b = get(x, k1, "ten_b");
    char *c = get(x, k2, "ten_a");
    assert_int_equal(atomic_load(&calls), 3);
    assert_non_null(strstr(a, ".ten_a."));
    assert_non_null(strstr(b, ".ten_b."));
    assert_string_not_equal(a, c);
    char *a2 = get(x, k1, "ten_a");
    char *b2 = get(x, k1, "ten_b");
    char *c2 = get(x, k2, "ten_a");
    assert_int_equal(atomic_load(&calls), 3);
    assert_string_equal(a, a2);
    assert_string_equal(b, b2);
    assert_string_equal(c, c2);
    char *t[] = {a, b, c, a2, b2, c2};
    for (size_t i = 0; i < 6; i++)
        kumo_free(t[i]);
    kumo_apikey_exchange_free(x);
}

/* forget drops one key's tokens (every tenant) and no other key's; fresh
 * always asks kumo-users and refreshes the cache. */
static void test_apikey_exchange_forget_one_key(void **state)
{
    (void)state;
    char k1[KUMO_API_KEY_LEN + 1], k2[KUMO_API_KEY_LEN + 1];
    new_key(k1);
    new_key(k2);
    struct kumo_apikey_exchange *x = make(0, 0);
    kumo_free(get(x, k1, NULL));
    kumo_free(get(x, k1, "ten_b"));
    kumo_free(get(x, k2, NULL));
    assert_int_equal(atomic_load(&calls), 3);
    char id1[KUMO_API_KEY_ID_LEN + 1];
    memcpy(id1, k1 + KUMO_API_KEY_PREFIX_LEN, KUMO_API_KEY_ID_LEN);
    id1[KUMO_API_KEY_ID_LEN] = '\0';
    assert_int_equal(kumo_apikey_exchange_forget(x, id1), 2);
    assert_int_equal(kumo_apikey_exchange_forget(x, id1), 0);
    kumo_free(get(x, k2, NULL)); /* still cached */
    assert_int_equal(atomic_load(&calls), 3);
    kumo_free(get(x, k1, NULL)); /* asked again */
    assert_int_equal(atomic_load(&calls), 4);
    char *tok = NULL;
    assert_int_equal(kumo_apikey_exchange_token_fresh(x, k2, NULL, NULL, &tok, NULL, NULL),
                     KUMO_CODE_OK);
    kumo_free(tok);
    assert_int_equal(atomic_load(&calls), 5);
    kumo_free(get(x, k2, NULL)); /* the fresh answer is cached */
    assert_int_equal(atomic_load(&calls), 5);
    assert_int_equal(kumo_apikey_exchange_forget(NULL, id1), 0);
    kumo_apikey_exchange_free(x);
}

static void test_apikey_exchange_bad_shape_refused(void **state)
{
    (void)state;
    char key[KUMO_API_KEY_LEN + 1];
    new_key(key);
    char bad1[KUMO_API_KEY_LEN + 1];
    memcpy(bad1, key, sizeof bad1);
    bad1[KUMO_API_KEY_PREFIX_LEN + 2] = '!'; /* not base32 */
    char bad2[KUMO_API_KEY_LEN + 2];
    snprintf(bad2, sizeof bad2, "%sA", key); /* one byte too long */
    const char *bad[] = {"", "not-a-key", "kumo_", bad1, bad2, NULL};
    struct kumo_apikey_exchange *x = make(0, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *tok = (char *)"untouched";
        struct kumo_rpc_status st = {KUMO_CODE_OK, NULL};
        assert_int_equal(kumo_apikey_exchange_token(x, bad[i], NULL, NULL, &tok, NULL, &st),
                         KUMO_CODE_UNAUTHENTICATED);
        assert_int_equal(st.code, KUMO_CODE_UNAUTHENTICATED);
        assert_non_null(st.message);
        /* The message never echoes the key. */
        if (bad[i] && strlen(bad[i]) > 8)
            assert_null(strstr(st.message, bad[i] + KUMO_API_KEY_PREFIX_LEN));
        assert_string_equal(tok, "untouched");
        kumo_rpc_status_clear(&st);
    }
    /* A tenant id with control characters is refused too. */
    char *tok = NULL;
    assert_int_equal(kumo_apikey_exchange_token(x, key, "a\nb", NULL, &tok, NULL, NULL),
                     KUMO_CODE_INVALID_ARGUMENT);
    assert_null(tok);
    assert_int_equal(atomic_load(&calls), 0);
    kumo_apikey_exchange_free(x);
}

static void test_apikey_exchange_unauthenticated_passed_through(void **state)
{
    (void)state;
    struct kumo_apikey_exchange *x = make(0, 0);
    for (int i = 1; i <= 2; i++) {
        char *tok = NULL;
        int64_t exp = -7;
        struct kumo_rpc_status st = {KUMO_CODE_OK, NULL};
        assert_int_equal(kumo_apikey_exchange_token(x, revoked, "t", NULL, &tok, &exp, &st),
                         KUMO_CODE_UNAUTHENTICATED);
        assert_int_equal(st.code, KUMO_CODE_UNAUTHENTICATED);
        assert_string_equal(st.message, "invalid API key");
        assert_null(tok);
        assert_int_equal(exp, -7);
        /* Failures are not cached: each try asks again. */
        assert_int_equal(atomic_load(&calls), i);
        kumo_rpc_status_clear(&st);
    }
    kumo_apikey_exchange_free(x);
}

static void test_apikey_exchange_eviction_bound(void **state)
{
    (void)state;
    char k[3][KUMO_API_KEY_LEN + 1];
    for (int i = 0; i < 3; i++)
        new_key(k[i]);
    struct kumo_apikey_exchange *x = make(2, 0);
    for (int i = 0; i < 3; i++)
        kumo_free(get(x, k[i], NULL));
    assert_int_equal(atomic_load(&calls), 3);
    kumo_free(get(x, k[2], NULL)); /* newest two still cached */
    kumo_free(get(x, k[1], NULL));
    assert_int_equal(atomic_load(&calls), 3);
    kumo_free(get(x, k[0], NULL)); /* the oldest was evicted */
    assert_int_equal(atomic_load(&calls), 4);
    /* ...and taking its place evicted k[1], the oldest then. */
    kumo_free(get(x, k[2], NULL));
    assert_int_equal(atomic_load(&calls), 4);
    kumo_free(get(x, k[1], NULL));
    assert_int_equal(atomic_load(&calls), 5);
    kumo_apikey_exchange_free(x);
}

static void test_apikey_exchange_flush(void **state)
{
    (void)state;
    char key[KUMO_API_KEY_LEN + 1];
    new_key(key);
    struct kumo_apikey_exchange *x = make(0, 0);
    kumo_free(get(x, key, NULL));
    kumo_apikey_exchange_flush(x);
    kumo_free(get(x, key, NULL));
    assert_int_equal(atomic_load(&calls), 2);
    kumo_apikey_exchange_free(x);
}

static void test_apikey_exchange_unavailable(void **state)
{
    (void)state;
    /* A port nothing listens on: bind one, note it, close it. */
    struct kumo_rpc_server *tmp;
    struct kumo_rpc_server_config cfg = {.bind_addr = "127.0.0.1", .port = 0};
    assert_int_equal(kumo_rpc_server_new(&tmp, &cfg), 0);
    assert_int_equal(kumo_rpc_server_start(tmp), 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kumo_rpc_server_port(tmp));
    kumo_rpc_server_shutdown(tmp);
    kumo_rpc_server_shutdown(tmp);
    kumo_rpc_server_wait(tmp);
    kumo_rpc_server_free(tmp);

    struct kumo_rpc_client *c = NULL;
    struct kumo_rpc_client_config ccfg = {.target = target};
    assert_int_equal(kumo_rpc_client_new(&c, &ccfg), 0);
    struct kumo_apikey_exchange *x = NULL;
    struct kumo_apikey_exchange_config xcfg = {c, 0, 0};
    assert_int_equal(kumo_apikey_exchange_new(&x, &xcfg), 0);
    char key[KUMO_API_KEY_LEN + 1];
    new_key(key);
    char *tok = NULL;
    struct kumo_rpc_status st = {KUMO_CODE_OK, NULL};
    assert_int_equal(kumo_apikey_exchange_token(x, key, NULL, NULL, &tok, NULL, &st),
                     KUMO_CODE_UNAVAILABLE);
    assert_null(tok);
    kumo_rpc_status_clear(&st);
    kumo_apikey_exchange_free(x);
    kumo_rpc_client_free(c);
}

#define N_THREADS 4
#define N_ROUNDS  60

struct worker_arg {
    struct kumo_apikey_exchange *x;
    char (*keys)[KUMO_API_KEY_LEN + 1];
    int failures;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    static const char *tenants[] = {"ta", "tb"};
    for (int i = 0; i < N_ROUNDS; i++) {
        int k = i % 3;
        const char *t = tenants[(i / 3) % 2];
        char *tok = NULL;
        struct kumo_api_key parsed;
        if (kumo_apikey_exchange_token(a->x, a->keys[k], t, NULL, &tok, NULL, NULL) !=
            KUMO_CODE_OK) {
            a->failures++;
            continue;
        }
        /* The token must be the one issued for this key and tenant. */
        kumo_api_key_parse(a->keys[k], KUMO_API_KEY_LEN, &parsed);
        char want[64];
        snprintf(want, sizeof want, "tok.%s.%s.", parsed.id, t);
        if (strncmp(tok, want, strlen(want)) != 0)
            a->failures++;
        kumo_free(tok);
        /* Flush now and then so misses race with hits. */
        if (i % 25 == 24)
            kumo_apikey_exchange_flush(a->x);
    }
    return NULL;
}

static void test_apikey_exchange_threads(void **state)
{
    (void)state;
    char keys[3][KUMO_API_KEY_LEN + 1];
    for (int i = 0; i < 3; i++)
        new_key(keys[i]);
    /* A bound smaller than the working set (6 key/tenant pairs) forces
     * evictions under contention too. */
    struct kumo_apikey_exchange *x = make(4, 0);
    pthread_t th[N_THREADS];
    struct worker_arg args[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = (struct worker_arg){x, keys, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    int n = atomic_load(&calls);
    assert_true(n >= 6);
    assert_true(n < N_THREADS * N_ROUNDS);
    kumo_apikey_exchange_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_apikey_exchange_new_invalid, reset),
        cmocka_unit_test_setup(test_apikey_exchange_cache_hit, reset),
        cmocka_unit_test_setup(test_apikey_exchange_refresh_inside_margin, reset),
        cmocka_unit_test_setup(test_apikey_exchange_keyed_by_key_and_tenant, reset),
        cmocka_unit_test_setup(test_apikey_exchange_forget_one_key, reset),
        cmocka_unit_test_setup(test_apikey_exchange_bad_shape_refused, reset),
        cmocka_unit_test_setup(test_apikey_exchange_unauthenticated_passed_through, reset),
        cmocka_unit_test_setup(test_apikey_exchange_eviction_bound, reset),
        cmocka_unit_test_setup(test_apikey_exchange_flush, reset),
        cmocka_unit_test_setup(test_apikey_exchange_unavailable, reset),
        cmocka_unit_test_setup(test_apikey_exchange_threads, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
