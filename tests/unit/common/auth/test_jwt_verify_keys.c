/* The JWT verifier's accepted tokens and keys (jwt_verify_fixture.h): issued
 * and valid forged tokens, the tenant taken from the token, verifying without
 * keys, verifier options, key rotation and keys swapped while other threads
 * verify; and the rest of the API (bearer parsing, error names). */
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

#include <pthread.h>

#include "jwt_verify_fixture.h"

/* ---- accepted tokens ------------------------------------------------------------ */

static void test_jwt_verify_accepts_issued_token(void **state)
{
    (void)state;
    struct kumo_jwt_claims c = {"user-42", "tenant-a", KUMO_ROLE_ADMIN | KUMO_ROLE_VIEWER, F.now,
                                900};
    char *tok = NULL;
    char jti[23];
    assert_int_equal(kumo_jwt_sign(F.signer, &c, &tok, jti), 0);
    struct kumo_principal p;
    assert_int_equal(verify_str(tok, &p), 0);
    assert_string_equal(p.sub, "user-42");
    assert_string_equal(p.tid, "tenant-a");
    assert_string_equal(p.jti, jti);
    assert_string_equal(p.kid, KID);
    assert_int_equal(p.roles, KUMO_ROLE_ADMIN | KUMO_ROLE_VIEWER);
    assert_int_equal(p.service, 0);
    assert_int_equal(p.iat, F.now);
    assert_int_equal(p.exp, F.now + 900);
    kumo_free(tok);
}

static void test_jwt_verify_accepts_forged_valid_variants(void **state)
{
    (void)state;
    /* Our OpenSSL-signed token in the canonical shape. */
    expect(hdr_ok(), claims_ok(), es256(), 0);
    /* typ is optional; member order free. */
    expect("{\"kid\":\"" KID "\",\"alg\":\"ES256\"}", claims_ok(), es256(), 0);
    /* nbf is optional. */
    expect(hdr_ok(), claims_with("nbf", NULL), es256(), 0);
    /* Within the leeway: expired 10 s ago, nbf and iat 20 s ahead. */
    expect(hdr_ok(), claims_t(F.now - 600, F.now - 600, F.now - 10), es256(), 0);
    expect(hdr_ok(), claims_t(F.now + 20, F.now + 20, F.now + 600), es256(), 0);
    /* Unknown payload claims are ignored (forward compatibility). */
    expect(hdr_ok(),
           "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"u\",\"tid\":\"t\","
           "\"roles\":[\"service\"],\"iat\":1,\"exp\":2,\"jti\":\"j\",\"x\":{\"y\":[1]}}",
           es256(), KUMO_JWT_ERR_EXPIRED);
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"svc-documents\","
             "\"tid\":\"t\",\"roles\":[\"service\"],\"iat\":%lld,\"exp\":%lld,\"jti\":\"j\","
             "\"x\":{\"y\":[1]}}",
             (long long)F.now, (long long)F.now + 60);
    char *tok = forge(hdr_ok(), payload, es256());
    struct kumo_principal p;
    assert_int_equal(verify_str(tok, &p), 0);
    assert_int_equal(p.service, 1);
    assert_int_equal(p.roles, KUMO_ROLE_SERVICE);
    assert_string_equal(p.sub, "svc-documents");
    kumo_free(tok);
}

/* A token of tenant B verifies as tenant B: the tenant comes only from the
 * signed payload, and the service compares it with the object's tenant. */
static void test_jwt_verify_tenant_comes_from_token(void **state)
{
    (void)state;
    struct kumo_jwt_claims c = {"user-7", "tenant-b", KUMO_ROLE_ADMIN, F.now, 900};
    char *tok = NULL;
    assert_int_equal(kumo_jwt_sign(F.signer, &c, &tok, NULL), 0);
    struct kumo_principal p;
    assert_int_equal(verify_str(tok, &p), 0);
    assert_string_equal(p.tid, "tenant-b");
    assert_string_not_equal(p.tid, "tenant-a");
    kumo_free(tok);
}

/* ---- keys: absent, rotated, swapped concurrently -------------------------------- */

static void test_jwt_verify_without_keys(void **state)
{
    (void)state;
    struct kumo_jwt_verifier *v = NULL;
    struct kumo_jwt_verify_opts o = {ISS, AUD, 30, 900};
    assert_int_equal(kumo_jwt_verifier_new(&v, &o, NULL), 0);
    char *tok = good_token();
    struct kumo_principal p;
    assert_int_equal(kumo_jwt_verify(v, tok, strlen(tok), F.now, &p), KUMO_JWT_ERR_NO_KEYS);
    kumo_jwt_verifier_free(v);
    kumo_free(tok);
}

static void test_jwt_verifier_new_rejects_bad_options(void **state)
{
    (void)state;
    struct kumo_jwt_verifier *v = (struct kumo_jwt_verifier *)0x1;
    struct kumo_jwt_verify_opts bad[] = {
        {NULL, AUD, 30, 900}, {ISS, "", 30, 900}, {ISS, AUD, -1, 900},
        {ISS, AUD, 301, 900}, {ISS, AUD, 30, 0},  {ISS, AUD, 30, 8 * 86400},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kumo_jwt_keyset *ks = NULL;
        assert_int_equal(
            kumo_jwt_keyset_from_jwks(&ks, (const char *)F.jwks.data, F.jwks.len, NULL), 0);
        /* The keyset is consumed even on failure: no leak under ASan. */
        assert_int_equal(kumo_jwt_verifier_new(&v, &bad[i], ks), KUMO_ERR_INVALID);
        assert_ptr_equal(v, (struct kumo_jwt_verifier *)0x1);
    }
}

static void test_jwt_verify_rotation(void **state)
{
    (void)state;
    struct kumo_buf pem2 = KUMO_BUF_INIT;
    assert_int_equal(kumo_jwt_key_generate(&pem2), 0);
    struct kumo_jwt_signer *s = NULL;
    assert_int_equal(kumo_jwt_signer_new(&s, ISS, AUD), 0);
    assert_int_equal(
        kumo_jwt_signer_add_key(s, "k1", (const char *)F.priv_pem.data, F.priv_pem.len), 0);
    assert_int_equal(kumo_jwt_signer_add_key(s, "k2", (const char *)pem2.data, pem2.len), 0);
    struct kumo_jwt_claims c = {"u", "t", KUMO_ROLE_VIEWER, F.now, 600};
    char *t1 = NULL, *t2 = NULL;
    assert_string_equal(kumo_jwt_signer_active_kid(s), "k1");
    assert_int_equal(kumo_jwt_sign(s, &c, &t1, NULL), 0);
    assert_int_equal(kumo_jwt_signer_set_active(s, "k2"), 0);
    assert_int_equal(kumo_jwt_sign(s, &c, &t2, NULL), 0);
    struct kumo_jwt_keyset *both = NULL;
    assert_int_equal(kumo_jwt_signer_keyset(s, &both), 0);
    struct kumo_jwt_verifier *v = NULL;
    struct kumo_jwt_verify_opts o = {ISS, AUD, 30, 900};
    assert_int_equal(kumo_jwt_verifier_new(&v, &o, both), 0);
    struct kumo_principal p;
    assert_int_equal(kumo_jwt_verify(v, t1, strlen(t1), F.now, &p), 0);
    assert_string_equal(p.kid, "k1");
    assert_int_equal(kumo_jwt_verify(v, t2, strlen(t2), F.now, &p), 0);
    assert_string_equal(p.kid, "k2");
    /* Retire k1: publish a JWKS with k2 only. */
    const char *err = NULL;
    struct kumo_buf jwks = KUMO_BUF_INIT;
    struct kumo_jwt_signer *s2 = NULL;
    assert_int_equal(kumo_jwt_signer_new(&s2, ISS, AUD), 0);
    assert_int_equal(kumo_jwt_signer_add_key(s2, "k2", (const char *)pem2.data, pem2.len), 0);
    assert_int_equal(kumo_jwt_signer_jwks(s2, &jwks), 0);
    struct kumo_jwt_keyset *only2 = NULL;
    assert_int_equal(kumo_jwt_keyset_from_jwks(&only2, (const char *)jwks.data, jwks.len, &err), 0);
    kumo_jwt_verifier_set_keys(v, only2);
    assert_int_equal(kumo_jwt_verify(v, t1, strlen(t1), F.now, &p), KUMO_JWT_ERR_KID);
    assert_int_equal(kumo_jwt_verify(v, t2, strlen(t2), F.now, &p), 0);
    kumo_jwt_verifier_free(v);
    kumo_jwt_signer_free(s);
    kumo_jwt_signer_free(s2);
    kumo_buf_free(&jwks);
    kumo_buf_free(&pem2);
    kumo_free(t1);
    kumo_free(t2);
}

struct race {
    struct kumo_jwt_verifier *v;
    const char *tok;
    int ok;
};

static void *race_verify(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 150; i++) {
        struct kumo_principal p;
        if (kumo_jwt_verify(r->v, r->tok, strlen(r->tok), F.now, &p) == 0) {
            r->ok++;
        }
    }
    return NULL;
}

/* Verifying threads never see a freed keyset while another thread swaps
 * it (ASan/valgrind would report a use after free). */
static void test_jwt_verify_concurrent_key_swap(void **state)
{
    (void)state;
    struct kumo_jwt_keyset *ks = NULL;
    assert_int_equal(kumo_jwt_keyset_from_jwks(&ks, (const char *)F.jwks.data, F.jwks.len, NULL),
                     0);
    struct kumo_jwt_verifier *v = NULL;
    struct kumo_jwt_verify_opts o = {ISS, AUD, 30, 900};
    assert_int_equal(kumo_jwt_verifier_new(&v, &o, ks), 0);
    char *tok = good_token();
    struct race r[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        r[i].v = v;
        r[i].tok = tok;
        r[i].ok = 0;
        assert_int_equal(pthread_create(&th[i], NULL, race_verify, &r[i]), 0);
    }
    for (int i = 0; i < 100; i++) {
        struct kumo_jwt_keyset *n = NULL;
        assert_int_equal(kumo_jwt_keyset_from_jwks(&n, (const char *)F.jwks.data, F.jwks.len, NULL),
                         0);
        kumo_jwt_verifier_set_keys(v, n);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].ok, 150); /* every set holds the key */
    }
    kumo_jwt_verifier_free(v);
    kumo_free(tok);
}

/* ---- the rest of the API ---------------------------------------------------------- */

static void test_jwt_bearer_parsing(void **state)
{
    (void)state;
    const char *tok = NULL;
    size_t len = 0;
    const char *h = "Bearer abc.def.ghi";
    assert_int_equal(kumo_jwt_bearer(h, strlen(h), &tok, &len), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(tok, "abc.def.ghi", 11);
    h = "bearer   kumo_abcdefghijklmnop_x-y";
    assert_int_equal(kumo_jwt_bearer(h, strlen(h), &tok, &len), 0);
    assert_memory_equal(tok, "kumo_abcdefghijklmnop_x-y", len);
    const char *bad[] = {"Bearer",      "Bearer ",       "Bearerabc",   "Basic abc",
                         "Bearer a b",  "Bearer abc\t",  "Bearer a\"b", "Bearer\tabc",
                         " Bearer abc", "Bearer abc\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kumo_jwt_bearer(bad[i], strlen(bad[i]), &tok, &len), KUMO_ERR_INVALID);
    }
    assert_int_equal(kumo_jwt_bearer(NULL, 0, &tok, &len), KUMO_ERR_INVALID);
    /* Every byte value: exactly the token68 characters are accepted. */
    for (int c = 1; c < 256; c++) {
        char one[] = {'B', 'e', 'a', 'r', 'e', 'r', ' ', 'a', (char)c, 'z', '\0'};
        int want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   strchr("-._~+/=", c) != NULL;
        assert_int_equal(kumo_jwt_bearer(one, 10, &tok, &len), want ? 0 : KUMO_ERR_INVALID);
    }
}

static void test_jwt_strerror_names_every_code(void **state)
{
    (void)state;
    for (int c = KUMO_JWT_ERR_KEY; c <= KUMO_JWT_ERR_TOO_LARGE; c++) {
        const char *m = kumo_jwt_strerror(c);
        assert_non_null(m);
        assert_memory_equal(m, "jwt: ", 5);
    }
    assert_string_equal(kumo_jwt_strerror(KUMO_JWT_ERR_ALG), "jwt: algorithm is not ES256");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_verify_accepts_issued_token),
        cmocka_unit_test(test_jwt_verify_accepts_forged_valid_variants),
        cmocka_unit_test(test_jwt_verify_tenant_comes_from_token),
        cmocka_unit_test(test_jwt_verify_without_keys),
        cmocka_unit_test(test_jwt_verifier_new_rejects_bad_options),
        cmocka_unit_test(test_jwt_verify_rotation),
        cmocka_unit_test(test_jwt_verify_concurrent_key_swap),
        cmocka_unit_test(test_jwt_bearer_parsing),
        cmocka_unit_test(test_jwt_strerror_names_every_code),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
