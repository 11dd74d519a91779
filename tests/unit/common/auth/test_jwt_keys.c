/* P-256 keys, thumbprints, keysets and strict JWKS parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static struct {
    struct kumo_buf pem;  /* a generated private key */
    struct kumo_buf jwks; /* its JWKS, kid "k1" */
    char x[64], y[64];    /* its coordinates, base64url */
} F;

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    struct kumo_jwt_signer *s = NULL;
    if (kumo_jwt_key_generate(&F.pem) != 0 || kumo_jwt_signer_new(&s, "i", "a") != 0 ||
        kumo_jwt_signer_add_key(s, "k1", (const char *)F.pem.data, F.pem.len) != 0 ||
        kumo_jwt_signer_jwks(s, &F.jwks) != 0) {
        return -1;
    }
    kumo_jwt_signer_free(s);
    json_t *doc = json_loadb((const char *)F.jwks.data, F.jwks.len, 0, NULL);
    json_t *k = json_array_get(json_object_get(doc, "keys"), 0);
    snprintf(F.x, sizeof F.x, "%s", json_string_value(json_object_get(k, "x")));
    snprintf(F.y, sizeof F.y, "%s", json_string_value(json_object_get(k, "y")));
    json_decref(doc);
    return strlen(F.x) == 43 && strlen(F.y) == 43 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kumo_buf_free(&F.pem);
    kumo_buf_free(&F.jwks);
    return 0;
}

static void test_jwt_keys_role_names(void **state)
{
    (void)state;
    assert_int_equal(kumo_role_from_name("admin", 5), KUMO_ROLE_ADMIN);
    assert_int_equal(kumo_role_from_name("editor", 6), KUMO_ROLE_EDITOR);
    assert_int_equal(kumo_role_from_name("viewer", 6), KUMO_ROLE_VIEWER);
    assert_int_equal(kumo_role_from_name("service", 7), KUMO_ROLE_SERVICE);
    assert_int_equal(kumo_role_from_name("Admin", 5), 0);
    assert_int_equal(kumo_role_from_name("admin", 4), 0);
    assert_int_equal(kumo_role_from_name("admins", 6), 0);
    assert_int_equal(kumo_role_from_name(NULL, 0), 0);
    assert_string_equal(kumo_role_name(KUMO_ROLE_EDITOR), "editor");
    assert_null(kumo_role_name(KUMO_ROLE_EDITOR | KUMO_ROLE_ADMIN));
    assert_null(kumo_role_name(0));
}

static void test_jwt_keys_kid_valid(void **state)
{
    (void)state;
    assert_true(kumo_jwt_kid_valid("k1"));
    assert_true(kumo_jwt_kid_valid("key-2026_01.a"));
    char long_kid[80];
    memset(long_kid, 'a', 64);
    long_kid[64] = '\0';
    assert_true(kumo_jwt_kid_valid(long_kid));
    long_kid[64] = 'a';
    long_kid[65] = '\0';
    assert_false(kumo_jwt_kid_valid(long_kid));
    const char *bad[] = {"", "../../etc/passwd", "' OR 1=1 --", "a b", "a/b", "k\n", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(kumo_jwt_kid_valid(bad[i]));
    }
    assert_false(kumo_jwt_kid_valid(NULL));
}

static void test_jwt_keys_generate_pkcs8_p256(void **state)
{
    (void)state;
    const char begin[] = "-----BEGIN PRIVATE KEY-----\n";
    assert_memory_equal(F.pem.data, begin, sizeof begin - 1);
    BIO *bio = BIO_new_mem_buf(F.pem.data, (int)F.pem.len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(k);
    char group[64];
    assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof group, NULL), 1);
    assert_string_equal(group, "prime256v1");
    EVP_PKEY_free(k);
    /* Two keys differ. */
    struct kumo_buf other = KUMO_BUF_INIT;
    assert_int_equal(kumo_jwt_key_generate(&other), 0);
    assert_true(other.len != F.pem.len || memcmp(other.data, F.pem.data, other.len) != 0);
    kumo_buf_free(&other);
    assert_int_equal(kumo_jwt_key_generate(NULL), KUMO_JWT_ERR_KEY);
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

static void test_jwt_keys_thumbprint(void **state)
{
    (void)state;
    char t1[44], t2[44];
    assert_int_equal(kumo_jwt_key_thumbprint((const char *)F.pem.data, F.pem.len, t1), 0);
    assert_int_equal(strlen(t1), 43);
    /* Same from the public key PEM. */
    BIO *bio = BIO_new_mem_buf(F.pem.data, (int)F.pem.len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, k);
    char *pub = NULL;
    long n = BIO_get_mem_data(bio, &pub);
    assert_int_equal(kumo_jwt_key_thumbprint(pub, (size_t)n, t2), 0);
    assert_string_equal(t1, t2);
    BIO_free(bio);
    EVP_PKEY_free(k);
    assert_int_equal(kumo_jwt_key_thumbprint("garbage", 7, t2), KUMO_JWT_ERR_KEY);
    /* Independent computation (Python cryptography). */
    if (!python_jwt_available()) {
        skip();
    }
    char path[] = "/tmp/kumo-thumb-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, F.pem.data, F.pem.len), (ssize_t)F.pem.len);
    close(fd);
    char cmd[4096], line[128] = {0};
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s thumbprint --pem %s", script, path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_int_equal(pclose(f), 0);
    unlink(path);
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(line, t1);
}

static void test_jwt_keys_jwks_roundtrip(void **state)
{
    (void)state;
    struct kumo_jwt_keyset *ks = NULL;
    const char *err = NULL;
    assert_int_equal(kumo_jwt_keyset_from_jwks(&ks, (const char *)F.jwks.data, F.jwks.len, &err),
                     0);
    assert_int_equal(kumo_jwt_keyset_count(ks), 1);
    struct kumo_buf again = KUMO_BUF_INIT;
    assert_int_equal(kumo_jwt_keyset_to_jwks(ks, &again), 0);
    assert_int_equal(again.len, F.jwks.len);
    assert_memory_equal(again.data, F.jwks.data, again.len);
    /* The published members, exactly. */
    json_t *doc = json_loadb((const char *)again.data, again.len, 0, NULL);
    json_t *k = json_array_get(json_object_get(doc, "keys"), 0);
    assert_int_equal(json_object_size(k), 7);
    assert_string_equal(json_string_value(json_object_get(k, "kty")), "EC");
    assert_string_equal(json_string_value(json_object_get(k, "crv")), "P-256");
    assert_string_equal(json_string_value(json_object_get(k, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
    assert_string_equal(json_string_value(json_object_get(k, "kid")), "k1");
    assert_null(json_object_get(k, "d"));
    json_decref(doc);
    kumo_buf_free(&again);
    kumo_jwt_keyset_free(ks);
    kumo_jwt_keyset_free(NULL);
    assert_int_equal(kumo_jwt_keyset_count(NULL), 0);
}

/* Builds a one-key JWKS from member text (each "name":value, comma
 * separated). */
static char *jwks_of(const char *members)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b, "{\"keys\":[{%s}]}", members);
    return kumo_buf_steal(&b, NULL);
}

static void expect_jwks(const char *doc, int want)
{
    struct kumo_jwt_keyset *ks = (struct kumo_jwt_keyset *)0x1;
    const char *err = NULL;
    int rc = kumo_jwt_keyset_from_jwks(&ks, doc, strlen(doc), &err);
    if (rc != want) {
        print_error("jwks %s: got %d (%s), want %d\n", doc, rc, err ? err : "-", want);
    }
    assert_int_equal(rc, want);
    if (want == 0) {
        kumo_jwt_keyset_free(ks);
    } else {
        assert_ptr_equal(ks, (struct kumo_jwt_keyset *)0x1);
        assert_non_null(err);
        assert_memory_equal(err, "jwks: ", 6);
    }
}

static void test_jwt_keys_jwks_accepts_minimal_key(void **state)
{
    (void)state;
    char m[512];
    snprintf(m, sizeof m,
             "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\"", F.x, F.y);
    char *doc = jwks_of(m);
    expect_jwks(doc, 0);
    kumo_free(doc);
    /* Two keys, members in any order. */
    char two[1024];
    snprintf(
        two, sizeof two,
        "{\"keys\":[{\"kid\":\"a\",\"y\":\"%s\",\"x\":\"%s\",\"crv\":\"P-256\",\"kty\":\"EC\"},"
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"b\","
        "\"use\":\"sig\",\"alg\":\"ES256\"}]}",
        F.y, F.x, F.x, F.y);
    expect_jwks(two, 0);
}

static void test_jwt_keys_jwks_rejects_bad_documents(void **state)
{
    (void)state;
    const char *docs[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"keys\":[]}",
        "{\"keys\":{}}",
        "{\"keys\":[1]}",
        "{\"keys\":[{}]}",
        "{\"keys\":null}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        expect_jwks(docs[i], KUMO_JWT_ERR_KEY);
    }
    char m[1024];
    const char *fmts[] = {
        /* private material */
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\",\"d\":\"AAAA\"",
        /* wrong kty / crv / alg / use */
        "\"kty\":\"RSA\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\"",
        "\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\"",
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\",\"alg\":"
        "\"HS256\"",
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\",\"use\":\"enc\"",
        /* unexpected members */
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\",\"x5c\":[]",
        /* duplicate member */
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\",\"kid\":\"b\"",
        /* kid missing, invalid, not a string */
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"",
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"../../etc/passwd\"",
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":7",
        /* coordinates: padded, truncated, standard alphabet, not strings */
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s=\",\"y\":\"%s\",\"kid\":\"a\"",
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%.42s\",\"y\":\"%s\",\"kid\":\"a\"",
        "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%.40sAAAA\",\"y\":\"%s\",\"kid\":\"a\"",
    };
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(m, sizeof m, fmts[i], F.x, F.y);
        char *doc = jwks_of(m);
        expect_jwks(doc, KUMO_JWT_ERR_KEY);
        kumo_free(doc);
    }
    /* A point not on the curve: y changed in its last byte. */
    struct kumo_buf y = KUMO_BUF_INIT;
    assert_int_equal(kumo_base64_decode(F.y, 43, &y), 0);
    y.data[31] ^= 1;
    struct kumo_buf y64 = KUMO_BUF_INIT;
    kumo_base64_encode(y.data, 32, 1, 0, &y64);
    snprintf(m, sizeof m,
             "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\"", F.x,
             (const char *)y64.data);
    char *doc = jwks_of(m);
    expect_jwks(doc, KUMO_JWT_ERR_KEY);
    kumo_free(doc);
    kumo_buf_free(&y);
    kumo_buf_free(&y64);
    /* Extra top-level member, duplicate kid, five keys. */
    snprintf(m, sizeof m,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
             "\"kid\":\"a\"}],\"extra\":1}",
             F.x, F.y);
    expect_jwks(m, KUMO_JWT_ERR_KEY);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "{\"keys\":[");
    for (int i = 0; i < 5; i++) {
        kumo_buf_appendf(&b,
                         "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
                         "\"kid\":\"k%d\"}",
                         i ? "," : "", F.x, F.y, i < 2 ? 0 : i);
    }
    kumo_buf_append_str(&b, "]}");
    expect_jwks((const char *)b.data, KUMO_JWT_ERR_KEY); /* duplicate k0 */
    kumo_buf_reset(&b);
    kumo_buf_append_str(&b, "{\"keys\":[");
    for (int i = 0; i < 5; i++) {
        kumo_buf_appendf(&b,
                         "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
                         "\"kid\":\"k%d\"}",
                         i ? "," : "", F.x, F.y, i);
    }
    kumo_buf_append_str(&b, "]}");
    expect_jwks((const char *)b.data, KUMO_JWT_ERR_KEY); /* five keys */
    kumo_buf_free(&b);
    /* Too large, before parsing. */
    char *big = kumo_malloc(KUMO_JWT_MAX_JWKS_LEN + 2);
    memset(big, ' ', KUMO_JWT_MAX_JWKS_LEN + 1);
    big[KUMO_JWT_MAX_JWKS_LEN + 1] = '\0';
    expect_jwks(big, KUMO_JWT_ERR_TOO_LARGE);
    kumo_free(big);
    struct kumo_jwt_keyset *ks = NULL;
    assert_int_equal(kumo_jwt_keyset_from_jwks(&ks, NULL, 0, NULL), KUMO_JWT_ERR_KEY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_keys_role_names),
        cmocka_unit_test(test_jwt_keys_kid_valid),
        cmocka_unit_test(test_jwt_keys_generate_pkcs8_p256),
        cmocka_unit_test(test_jwt_keys_thumbprint),
        cmocka_unit_test(test_jwt_keys_jwks_roundtrip),
        cmocka_unit_test(test_jwt_keys_jwks_accepts_minimal_key),
        cmocka_unit_test(test_jwt_keys_jwks_rejects_bad_documents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
