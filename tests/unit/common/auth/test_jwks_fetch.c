/* JWKS loading from a URL (served by an admin port route, as kumo-users
 * does) and from a file, and the background refresher. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "runtime/admin_http.h"
#include "base/alloc.h"
#include "base/errors.h"
#include "auth/jwks_fetch.h"
#include "auth/jwt.h"
#include "runtime/log.h"

static struct event_base *base;
static struct kumo_admin *admin;
static struct event *stop_ev;
static pthread_t loop_thread;
static struct kumo_jwt_signer *signer;
static struct kumo_buf jwks = KUMO_BUF_INIT;
static char url[128], tmpdir[64];

static int serve_jwks(void *ud, struct kumo_buf *body, const char **ctype)
{
    (void)ud;
    (void)ctype;
    kumo_buf_append(body, jwks.data, jwks.len);
    return 200;
}

static int serve_garbage(void *ud, struct kumo_buf *body, const char **ctype)
{
    (void)ud;
    (void)ctype;
    kumo_buf_append_str(body, "{\"keys\":[{\"kty\":\"RSA\"}]}");
    return 200;
}

static int serve_huge(void *ud, struct kumo_buf *body, const char **ctype)
{
    (void)ud;
    (void)ctype;
    for (int i = 0; i < KUMO_JWT_MAX_JWKS_LEN / 8 + 10; i++)
        kumo_buf_append_str(body, "        ");
    return 200;
}

static int serve_503(void *ud, struct kumo_buf *body, const char **ctype)
{
    (void)ud;
    (void)ctype;
    kumo_buf_append_str(body, "{}");
    return 503;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void *loop_main(void *arg)
{
    (void)arg;
    event_base_dispatch(base);
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    kumo_log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (evthread_use_pthreads() != 0)
        return -1;
    struct kumo_buf pem = KUMO_BUF_INIT;
    if (kumo_jwt_key_generate(&pem) != 0 || kumo_jwt_signer_new(&signer, "iss", "aud") != 0 ||
        kumo_jwt_signer_add_key(signer, "k1", (const char *)pem.data, pem.len) != 0 ||
        kumo_jwt_signer_jwks(signer, &jwks) != 0)
        return -1;
    kumo_buf_free(&pem);
    base = event_base_new();
    if (kumo_admin_new(&admin, base, "127.0.0.1", 0) != 0)
        return -1;
    kumo_admin_add_route(admin, "/.well-known/jwks.json", serve_jwks, NULL);
    kumo_admin_add_route(admin, "/garbage", serve_garbage, NULL);
    kumo_admin_add_route(admin, "/huge", serve_huge, NULL);
    kumo_admin_add_route(admin, "/down", serve_503, NULL);
    stop_ev = event_new(base, -1, 0, stop_cb, base);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/.well-known/jwks.json", kumo_admin_port(admin));
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kumo-jwks-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    return pthread_create(&loop_thread, NULL, loop_main, NULL);
}

static int teardown(void **state)
{
    (void)state;
    event_active(stop_ev, EV_TIMEOUT, 0);
    pthread_join(loop_thread, NULL);
    kumo_admin_free(admin);
    event_free(stop_ev);
    event_base_free(base);
    kumo_jwt_signer_free(signer);
    kumo_buf_free(&jwks);
    char path[128];
    snprintf(path, sizeof path, "%s/jwks.json", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return 0;
}

static char *url_for(const char *path)
{
    static char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d%s", kumo_admin_port(admin), path);
    return u;
}

static void test_jwks_fetch_from_url(void **state)
{
    (void)state;
    struct kumo_jwt_keyset *ks = NULL;
    struct kumo_buf err = KUMO_BUF_INIT;
    assert_int_equal(kumo_jwks_load(url, NULL, &ks, &err), 0);
    assert_int_equal(kumo_jwt_keyset_count(ks), 1);
    struct kumo_buf again = KUMO_BUF_INIT;
    kumo_jwt_keyset_to_jwks(ks, &again);
    assert_int_equal(again.len, jwks.len);
    assert_memory_equal(again.data, jwks.data, jwks.len);
    kumo_buf_free(&again);
    kumo_jwt_keyset_free(ks);
    kumo_buf_free(&err);
}

static void test_jwks_fetch_from_file(void **state)
{
    (void)state;
    char path[128], src[160];
    snprintf(path, sizeof path, "%s/jwks.json", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fwrite(jwks.data, 1, jwks.len, f);
    fclose(f);
    struct kumo_jwt_keyset *ks = NULL;
    assert_int_equal(kumo_jwks_load(path, NULL, &ks, NULL), 0);
    kumo_jwt_keyset_free(ks);
    snprintf(src, sizeof src, "file:%s", path);
    assert_int_equal(kumo_jwks_load(src, NULL, &ks, NULL), 0);
    kumo_jwt_keyset_free(ks);
}

static void test_jwks_fetch_failures(void **state)
{
    (void)state;
    struct kumo_jwt_keyset *ks = (struct kumo_jwt_keyset *)&ks;
    struct kumo_buf err = KUMO_BUF_INIT;
    assert_int_equal(kumo_jwks_load(url_for("/nope"), NULL, &ks, &err), KUMO_ERR_IO);
    assert_non_null(strstr((char *)err.data, "HTTP 404"));
    kumo_buf_reset(&err);
    assert_int_equal(kumo_jwks_load(url_for("/down"), NULL, &ks, &err), KUMO_ERR_IO);
    assert_int_equal(kumo_jwks_load(url_for("/garbage"), NULL, &ks, &err), KUMO_JWT_ERR_KEY);
    assert_int_equal(kumo_jwks_load(url_for("/huge"), NULL, &ks, &err), KUMO_ERR_TOO_LARGE);
    assert_int_equal(kumo_jwks_load("http://127.0.0.1:1/jwks", NULL, &ks, &err), KUMO_ERR_IO);
    assert_int_equal(kumo_jwks_load("/no/such/file", NULL, &ks, &err), KUMO_ERR_IO);
    assert_int_equal(kumo_jwks_load("", NULL, &ks, NULL), KUMO_ERR_INVALID);
    /* No other scheme goes through curl. */
    assert_int_equal(kumo_jwks_load("ftp://127.0.0.1/jwks", NULL, &ks, NULL), KUMO_ERR_IO);
    assert_ptr_equal(ks, (struct kumo_jwt_keyset *)&ks);
    kumo_buf_free(&err);
}

static void test_jwks_fetch_refresher_installs_keys(void **state)
{
    (void)state;
    struct kumo_jwt_verify_opts o = {"iss", "aud", 30, 3600};
    struct kumo_jwt_verifier *v = NULL;
    assert_int_equal(kumo_jwt_verifier_new(&v, &o, NULL), 0);
    struct kumo_jwt_claims c = {"us_1", "tn_1", KUMO_ROLE_VIEWER, (int64_t)time(NULL), 600};
    char *tok = NULL;
    assert_int_equal(kumo_jwt_sign(signer, &c, &tok, NULL), 0);
    struct kumo_principal p;
    assert_int_equal(kumo_jwt_verify(v, tok, strlen(tok), time(NULL), &p), KUMO_JWT_ERR_NO_KEYS);
    struct kumo_jwks_refresher *r = NULL;
    assert_int_equal(kumo_jwks_refresher_start(&r, v, url, 60000, NULL), 0);
    for (int i = 0; i < 500 && kumo_jwks_refresher_loads(r) == 0; i++)
        usleep(10000);
    assert_true(kumo_jwks_refresher_loads(r) >= 1);
    assert_int_equal(kumo_jwt_verify(v, tok, strlen(tok), time(NULL), &p), 0);
    assert_string_equal(p.sub, "us_1");
    kumo_jwks_refresher_stop(r); /* wakes the 60 s sleep at once */
    kumo_free(tok);
    kumo_jwt_verifier_free(v);
    assert_int_equal(kumo_jwks_refresher_start(&r, NULL, url, 60000, NULL), KUMO_ERR_INVALID);
    kumo_jwks_refresher_stop(NULL);
}

static void test_jwks_fetch_refresher_retries(void **state)
{
    (void)state;
    struct kumo_jwt_verify_opts o = {"iss", "aud", 30, 3600};
    struct kumo_jwt_verifier *v = NULL;
    assert_int_equal(kumo_jwt_verifier_new(&v, &o, NULL), 0);
    struct kumo_jwks_refresher *r = NULL;
    assert_int_equal(kumo_jwks_refresher_start(&r, v, url_for("/down"), 1000, NULL), 0);
    usleep(700000); /* first try, one 0.5 s retry */
    assert_int_equal(kumo_jwks_refresher_loads(r), 0);
    kumo_jwks_refresher_stop(r);
    kumo_jwt_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwks_fetch_from_url),
        cmocka_unit_test(test_jwks_fetch_from_file),
        cmocka_unit_test(test_jwks_fetch_failures),
        cmocka_unit_test(test_jwks_fetch_refresher_installs_keys),
        cmocka_unit_test(test_jwks_fetch_refresher_retries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
