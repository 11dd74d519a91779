/* Issuing tokens: signer keys, claims, libjwt output checked by our
 * verifier and by PyJWT. */
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

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/errors.h"
#include "auth/jwt.h"

#define ISS "https://users.kumo.test"
#define AUD "kumo"

static struct {
    int64_t now;
    struct kumo_buf pem;
    struct kumo_jwt_signer *signer;
    struct kumo_jwt_verifier *v;
} F;

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    F.now = (int64_t)time(NULL);
    struct kumo_jwt_keyset *ks = NULL;
    struct kumo_jwt_verify_opts o = {ISS, AUD, KUMO_JWT_LEEWAY_DEFAULT, KUMO_JWT_MAX_TTL_DEFAULT};
    if (kumo_jwt_key_generate(&F.pem) != 0 || kumo_jwt_signer_new(&F.signer, ISS, AUD) != 0 ||
        kumo_jwt_signer_add_key(F.signer, "main", (const char *)F.pem.data, F.pem.len) != 0 ||
        kumo_jwt_signer_keyset(F.signer, &ks) != 0) {
        return -1;
    }
    return kumo_jwt_verifier_new(&F.v, &o, ks);
}

static int teardown(void **state)
{
    (void)state;
    kumo_jwt_verifier_free(F.v);
    kumo_jwt_signer_free(F.signer);
    kumo_buf_free(&F.pem);
    return 0;
}

/* Decodes segment `i` (0 = header, 1 = payload) of a token into JSON. */
static json_t *segment(const char *tok, int i)
{
    const char *s = tok;
    for (int k = 0; k < i; k++) {
        s = strchr(s, '.') + 1;
    }
    size_t n = strcspn(s, ".");
    struct kumo_buf b = KUMO_BUF_INIT;
    assert_int_equal(kumo_base64_decode(s, n, &b), 0);
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    kumo_buf_free(&b);
    assert_non_null(j);
    return j;
}

static void test_jwt_sign_header_and_claims(void **state)
{
    (void)state;
    struct kumo_jwt_claims c = {"user-1", "tenant-9", KUMO_ROLE_EDITOR | KUMO_ROLE_ADMIN, F.now,
                                900};
    char *tok = NULL;
    char jti[23];
    assert_int_equal(kumo_jwt_sign(F.signer, &c, &tok, jti), 0);
    json_t *h = segment(tok, 0);
    assert_int_equal(json_object_size(h), 3);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), "main");
    json_decref(h);
    json_t *p = segment(tok, 1);
    assert_int_equal(json_object_size(p), 9);
    assert_string_equal(json_string_value(json_object_get(p, "iss")), ISS);
    assert_string_equal(json_string_value(json_object_get(p, "aud")), AUD);
    assert_string_equal(json_string_value(json_object_get(p, "sub")), "user-1");
    assert_string_equal(json_string_value(json_object_get(p, "tid")), "tenant-9");
    json_t *roles = json_object_get(p, "roles");
    assert_int_equal(json_array_size(roles), 2);
    assert_string_equal(json_string_value(json_array_get(roles, 0)), "admin");
    assert_string_equal(json_string_value(json_array_get(roles, 1)), "editor");
    assert_int_equal(json_integer_value(json_object_get(p, "iat")), F.now);
    assert_int_equal(json_integer_value(json_object_get(p, "nbf")), F.now);
    assert_int_equal(json_integer_value(json_object_get(p, "exp")), F.now + 900);
    assert_string_equal(json_string_value(json_object_get(p, "jti")), jti);
    assert_int_equal(strlen(jti), 22);
    json_decref(p);
    /* Three segments, the last 86 characters (64 bytes r||s). */
    const char *sig = strrchr(tok, '.') + 1;
    assert_int_equal(strlen(sig), 86);
    kumo_free(tok);
}

static void test_jwt_sign_jti_is_random(void **state)
{
    (void)state;
    struct kumo_jwt_claims c = {"u", "t", KUMO_ROLE_VIEWER, F.now, 60};
    char j1[23], j2[23];
    char *t1 = NULL, *t2 = NULL;
    assert_int_equal(kumo_jwt_sign(F.signer, &c, &t1, j1), 0);
    assert_int_equal(kumo_jwt_sign(F.signer, &c, &t2, j2), 0);
    assert_string_not_equal(j1, j2);
    assert_string_not_equal(t1, t2);
    kumo_free(t1);
    kumo_free(t2);
}

/* libjwt converts OpenSSL's DER signature to r||s; r or s shorter than 32
 * bytes (1 in 128 signatures) must be zero-padded, or tokens fail at random. */
static void test_jwt_sign_many_tokens_all_verify(void **state)
{
    (void)state;
    struct kumo_jwt_claims c = {"user-1", "tenant-1", KUMO_ROLE_VIEWER, F.now, 300};
    for (int i = 0; i < 400; i++) {
        char *tok = NULL;
        assert_int_equal(kumo_jwt_sign(F.signer, &c, &tok, NULL), 0);
        struct kumo_principal p;
        int rc = kumo_jwt_verify(F.v, tok, strlen(tok), F.now, &p);
        if (rc != 0) {
            print_error("token %d failed: %s: %s\n", i, kumo_jwt_strerror(rc), tok);
        }
        assert_int_equal(rc, 0);
        kumo_free(tok);
    }
}

static void test_jwt_sign_rejects_bad_claims(void **state)
{
    (void)state;
    char long_id[140];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    const struct kumo_jwt_claims bad[] = {
        {NULL, "t", KUMO_ROLE_VIEWER, F.now, 60},
        {"", "t", KUMO_ROLE_VIEWER, F.now, 60},
        {"a b", "t", KUMO_ROLE_VIEWER, F.now, 60},
        {long_id, "t", KUMO_ROLE_VIEWER, F.now, 60},
        {"u", NULL, KUMO_ROLE_VIEWER, F.now, 60},
        {"u", "t\n", KUMO_ROLE_VIEWER, F.now, 60},
        {"u", "t", 0, F.now, 60},
        {"u", "t", 1u << 7, F.now, 60},
        {"u", "t", KUMO_ROLE_VIEWER, F.now, 0},
        {"u", "t", KUMO_ROLE_VIEWER, F.now, KUMO_JWT_MAX_TTL_MAX + 1},
        {"u", "t", KUMO_ROLE_VIEWER, -1, 60},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *tok = (char *)"untouched";
        assert_int_equal(kumo_jwt_sign(F.signer, &bad[i], &tok, NULL), KUMO_ERR_INVALID);
        assert_string_equal(tok, "untouched");
    }
    char *tok = NULL;
    assert_int_equal(kumo_jwt_sign(F.signer, NULL, &tok, NULL), KUMO_ERR_INVALID);
    struct kumo_jwt_signer *empty = NULL;
    assert_int_equal(kumo_jwt_signer_new(&empty, ISS, AUD), 0);
    struct kumo_jwt_claims ok = {"u", "t", KUMO_ROLE_VIEWER, F.now, 60};
    assert_int_equal(kumo_jwt_sign(empty, &ok, &tok, NULL), KUMO_JWT_ERR_NO_KEYS);
    assert_null(kumo_jwt_signer_active_kid(empty));
    struct kumo_buf jwks = KUMO_BUF_INIT;
    assert_int_equal(kumo_jwt_signer_jwks(empty, &jwks), KUMO_JWT_ERR_NO_KEYS);
    kumo_jwt_signer_free(empty);
}

static void test_jwt_signer_new_rejects_bad_arguments(void **state)
{
    (void)state;
    struct kumo_jwt_signer *s = (struct kumo_jwt_signer *)0x1;
    assert_int_equal(kumo_jwt_signer_new(&s, "", AUD), KUMO_ERR_INVALID);
    assert_int_equal(kumo_jwt_signer_new(&s, ISS, NULL), KUMO_ERR_INVALID);
    assert_int_equal(kumo_jwt_signer_new(&s, "iss\xff", AUD), KUMO_ERR_INVALID);
    assert_ptr_equal(s, (struct kumo_jwt_signer *)0x1);
    kumo_jwt_signer_free(NULL);
}

/* Writes `k` as PEM with the given writer into `out`. */
static void pem_of(EVP_PKEY *k, int kind, struct kumo_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    switch (kind) {
    case 0: /* public */
        PEM_write_bio_PUBKEY(bio, k);
        break;
    case 1: /* encrypted PKCS#8 */
        PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"pass");
        break;
    case 2: /* traditional SEC1 "EC PRIVATE KEY" */
        PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL);
        break;
    default: /* plain PKCS#8 */
        PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    }
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    kumo_buf_append(out, data, (size_t)n);
    BIO_free(bio);
}

static void test_jwt_signer_add_key_checks_keys(void **state)
{
    (void)state;
    struct kumo_jwt_signer *s = NULL;
    assert_int_equal(kumo_jwt_signer_new(&s, ISS, AUD), 0);
    EVP_PKEY *p256 = EVP_EC_gen("prime256v1");
    EVP_PKEY *p384 = EVP_EC_gen("secp384r1");
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    struct kumo_buf b = KUMO_BUF_INIT;
    pem_of(p256, 0, &b); /* public only */
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", (const char *)b.data, b.len),
                     KUMO_JWT_ERR_KEY);
    kumo_buf_reset(&b);
    pem_of(p256, 1, &b); /* encrypted: refused, never prompts */
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", (const char *)b.data, b.len),
                     KUMO_JWT_ERR_KEY);
    kumo_buf_reset(&b);
    pem_of(p384, 3, &b);
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", (const char *)b.data, b.len),
                     KUMO_JWT_ERR_KEY);
    kumo_buf_reset(&b);
    pem_of(rsa, 3, &b);
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", (const char *)b.data, b.len),
                     KUMO_JWT_ERR_KEY);
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", "garbage", 7), KUMO_JWT_ERR_KEY);
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", NULL, 0), KUMO_JWT_ERR_KEY);
    /* SEC1 is accepted, and signs verifiable tokens. */
    kumo_buf_reset(&b);
    pem_of(p256, 2, &b);
    const char sec1[] = "-----BEGIN EC PRIVATE KEY-----";
    assert_memory_equal(b.data, sec1, sizeof sec1 - 1);
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", (const char *)b.data, b.len), 0);
    /* kid rules, duplicates, capacity. */
    assert_int_equal(kumo_jwt_signer_add_key(s, "a", (const char *)F.pem.data, F.pem.len),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_jwt_signer_add_key(s, "../b", (const char *)F.pem.data, F.pem.len),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_jwt_signer_add_key(s, "b", (const char *)F.pem.data, F.pem.len), 0);
    assert_int_equal(kumo_jwt_signer_add_key(s, "c", (const char *)F.pem.data, F.pem.len),
                     KUMO_ERR_INVALID);
    assert_int_equal(kumo_jwt_signer_set_active(s, "zzz"), KUMO_ERR_NOT_FOUND);
    assert_string_equal(kumo_jwt_signer_active_kid(s), "a");
    struct kumo_jwt_keyset *ks = NULL;
    assert_int_equal(kumo_jwt_signer_keyset(s, &ks), 0);
    assert_int_equal(kumo_jwt_keyset_count(ks), 2);
    kumo_jwt_keyset_free(ks);
    struct kumo_jwt_claims c = {"u", "t", KUMO_ROLE_VIEWER, F.now, 60};
    char *tok = NULL;
    assert_int_equal(kumo_jwt_sign(s, &c, &tok, NULL), 0);
    assert_int_equal(kumo_jwt_signer_keyset(s, &ks), 0);
    struct kumo_jwt_verifier *v = NULL;
    struct kumo_jwt_verify_opts o = {ISS, AUD, 30, 900};
    assert_int_equal(kumo_jwt_verifier_new(&v, &o, ks), 0);
    struct kumo_principal p;
    assert_int_equal(kumo_jwt_verify(v, tok, strlen(tok), F.now, &p), 0);
    assert_string_equal(p.kid, "a");
    kumo_jwt_verifier_free(v);
    kumo_free(tok);
    kumo_buf_free(&b);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa);
    kumo_jwt_signer_free(s);
}

static char script[2048];

static int python_jwt_available(void)
{
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    int dir_len = slash ? (int)(slash - src) : 1;
    snprintf(script, sizeof script, "%.*s/jwt_interop.py", dir_len, slash ? src : ".");
    return access("/usr/bin/python3", X_OK) == 0 && access(script, R_OK) == 0 &&
           system("/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null") == 0;
}

/* PyJWT, reading the key from our JWKS, accepts our tokens (ES256 pinned,
 * iss/aud/exp/iat/nbf/jti required). */
static void test_jwt_sign_tokens_verify_with_pyjwt(void **state)
{
    (void)state;
    if (!python_jwt_available()) {
        skip();
    }
    struct kumo_buf jwks = KUMO_BUF_INIT;
    assert_int_equal(kumo_jwt_signer_jwks(F.signer, &jwks), 0);
    char path[] = "/tmp/kumo-jwks-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, jwks.data, jwks.len), (ssize_t)jwks.len);
    close(fd);
    kumo_buf_free(&jwks);
    struct kumo_jwt_claims c = {"user-5", "tenant-5", KUMO_ROLE_ADMIN | KUMO_ROLE_SERVICE,
                                (int64_t)time(NULL), 600};
    for (int i = 0; i < 3; i++) {
        char *tok = NULL;
        assert_int_equal(kumo_jwt_sign(F.signer, &c, &tok, NULL), 0);
        char cmd[4096], line[256] = {0};
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 %s verify --jwks %s --iss %s --aud %s --token %s", script, path,
                 ISS, AUD, tok);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        assert_int_equal(pclose(f), 0);
        assert_string_equal(line, "ok user-5 tenant-5 admin,service\n");
        /* The independent verifier is not a rubber stamp. */
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 %s verify --jwks %s --iss %s --aud other --token %s", script,
                 path, ISS, tok);
        f = popen(cmd, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        assert_int_equal(pclose(f), 0);
        assert_string_equal(line, "error InvalidAudienceError\n");
        kumo_free(tok);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_sign_header_and_claims),
        cmocka_unit_test(test_jwt_sign_jti_is_random),
        cmocka_unit_test(test_jwt_sign_many_tokens_all_verify),
        cmocka_unit_test(test_jwt_sign_rejects_bad_claims),
        cmocka_unit_test(test_jwt_signer_new_rejects_bad_arguments),
        cmocka_unit_test(test_jwt_signer_add_key_checks_keys),
        cmocka_unit_test(test_jwt_sign_tokens_verify_with_pyjwt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
