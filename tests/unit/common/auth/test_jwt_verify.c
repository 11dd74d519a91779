/* The JWT verifier and its attack suite: every forged, tampered, expired,
 * mis-addressed or malformed token is rejected, for the right reason. Attack
 * tokens are built here with OpenSSL, and again independently with PyJWT
 * (tests/unit/common/auth/jwt_interop.py) when /usr/bin/python3 has it. */
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

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/errors.h"
#include "auth/jwt.h"

#define ISS "https://users.kumo.test"
#define AUD "kumo"
#define KID "key-2026-01"

/* Shared by all tests (key generation is the slow part). */
static struct {
    int64_t now;
    struct kumo_buf priv_pem;
    struct kumo_buf pub_pem;
    struct kumo_buf jwks;
    EVP_PKEY *priv;  /* the signing key, for forging with OpenSSL */
    EVP_PKEY *other; /* an unrelated P-256 key */
    EVP_PKEY *p384;
    EVP_PKEY *rsa;
    struct kumo_jwt_signer *signer;
    struct kumo_jwt_verifier *v;
} F;

static EVP_PKEY *pem_to_pkey(const struct kumo_buf *pem)
{
    BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(k);
    return k;
}

static void pubkey_pem(EVP_PKEY *k, struct kumo_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    kumo_buf_append(out, data, (size_t)n);
    BIO_free(bio);
}

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    F.now = (int64_t)time(NULL);
    if (kumo_jwt_key_generate(&F.priv_pem) != 0) {
        return -1;
    }
    F.priv = pem_to_pkey(&F.priv_pem);
    pubkey_pem(F.priv, &F.pub_pem);
    F.other = EVP_EC_gen("prime256v1");
    F.p384 = EVP_EC_gen("secp384r1");
    F.rsa = EVP_RSA_gen(2048);
    if (kumo_jwt_signer_new(&F.signer, ISS, AUD) != 0 ||
        kumo_jwt_signer_add_key(F.signer, KID, (const char *)F.priv_pem.data, F.priv_pem.len) !=
            0 ||
        kumo_jwt_signer_jwks(F.signer, &F.jwks) != 0) {
        return -1;
    }
    struct kumo_jwt_keyset *ks = NULL;
    if (kumo_jwt_keyset_from_jwks(&ks, (const char *)F.jwks.data, F.jwks.len, NULL) != 0) {
        return -1;
    }
    struct kumo_jwt_verify_opts o = {ISS, AUD, KUMO_JWT_LEEWAY_DEFAULT, KUMO_JWT_MAX_TTL_DEFAULT};
    return kumo_jwt_verifier_new(&F.v, &o, ks);
}

static int teardown(void **state)
{
    (void)state;
    kumo_jwt_verifier_free(F.v);
    kumo_jwt_signer_free(F.signer);
    EVP_PKEY_free(F.priv);
    EVP_PKEY_free(F.other);
    EVP_PKEY_free(F.p384);
    EVP_PKEY_free(F.rsa);
    kumo_buf_free(&F.priv_pem);
    kumo_buf_free(&F.pub_pem);
    kumo_buf_free(&F.jwks);
    return 0;
}

/* ---- forging -------------------------------------------------------------------- */

enum sig_kind { SIG_NONE, SIG_ES256, SIG_ES384, SIG_RS256, SIG_HS256 };

struct sig {
    enum sig_kind kind;
    EVP_PKEY *key;      /* ES/RS */
    const void *secret; /* HS256 */
    size_t secret_len;
};

static void b64(struct kumo_buf *out, const void *data, size_t len)
{
    kumo_base64_encode(data, len, 1, 0, out);
}

/* ECDSA signature in JOSE form: r||s, each `size` bytes. */
static void es_sign(EVP_PKEY *k, const char *md, size_t size, const struct kumo_buf *si,
                    struct kumo_buf *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t der[160];
    size_t der_len = sizeof der;
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &der_len, si->data, si->len), 1);
    EVP_MD_CTX_free(ctx);
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(sig);
    uint8_t raw[132];
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, (int)size), (int)size);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + size, (int)size), (int)size);
    ECDSA_SIG_free(sig);
    b64(out, raw, 2 * size);
}

static void rs_sign(EVP_PKEY *k, const struct kumo_buf *si, struct kumo_buf *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t sig[512];
    size_t len = sizeof sig;
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, si->data, si->len), 1);
    EVP_MD_CTX_free(ctx);
    b64(out, sig, len);
}

/* Returns header.payload.signature (caller frees with kumo_free). The
 * header and payload are raw JSON text, so duplicates and odd numbers can
 * be written exactly. */
static char *forge(const char *header, const char *payload, struct sig s)
{
    struct kumo_buf t = KUMO_BUF_INIT;
    b64(&t, header, strlen(header));
    kumo_buf_append_byte(&t, '.');
    b64(&t, payload, strlen(payload));
    struct kumo_buf si = KUMO_BUF_INIT;
    kumo_buf_append(&si, t.data, t.len);
    kumo_buf_append_byte(&t, '.');
    switch (s.kind) {
    case SIG_NONE:
        break;
    case SIG_ES256:
        es_sign(s.key, "SHA256", 32, &si, &t);
        break;
    case SIG_ES384:
        es_sign(s.key, "SHA384", 48, &si, &t);
        break;
    case SIG_RS256:
        rs_sign(s.key, &si, &t);
        break;
    case SIG_HS256: {
        uint8_t mac[32];
        unsigned int n = 0;
        HMAC(EVP_sha256(), s.secret, (int)s.secret_len, si.data, si.len, mac, &n);
        b64(&t, mac, n);
        break;
    }
    }
    kumo_buf_free(&si);
    return kumo_buf_steal(&t, NULL);
}

static struct sig es256(void)
{
    struct sig s = {SIG_ES256, F.priv, NULL, 0};
    return s;
}

static const char *hdr_ok(void)
{
    return "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}";
}

/* Claims with the given times; `extra` replaces the default sub..jti tail
 * when not NULL. */
static const char *claims_t(int64_t iat, int64_t nbf, int64_t exp)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"user-1\",\"tid\":\"tenant-a\","
             "\"roles\":[\"editor\",\"viewer\"],\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"jti\":\"jti-1\"}",
             (long long)iat, (long long)nbf, (long long)exp);
    return buf;
}

static const char *claims_ok(void)
{
    return claims_t(F.now, F.now, F.now + 900);
}

/* Claims with one member's raw JSON value replaced (or removed when
 * value is NULL). */
static const char *claims_with(const char *name, const char *value)
{
    static char buf[2048];
    const char *names[] = {"iss", "aud", "sub", "tid", "roles", "iat", "nbf", "exp", "jti"};
    char vals[9][64];
    snprintf(vals[0], 64, "\"%s\"", ISS);
    snprintf(vals[1], 64, "\"%s\"", AUD);
    snprintf(vals[2], 64, "\"user-1\"");
    snprintf(vals[3], 64, "\"tenant-a\"");
    snprintf(vals[4], 64, "[\"editor\"]");
    snprintf(vals[5], 64, "%lld", (long long)F.now);
    snprintf(vals[6], 64, "%lld", (long long)F.now);
    snprintf(vals[7], 64, "%lld", (long long)F.now + 900);
    snprintf(vals[8], 64, "\"jti-1\"");
    size_t o = 0;
    buf[o++] = '{';
    for (size_t i = 0; i < 9; i++) {
        const char *v = vals[i];
        if (strcmp(names[i], name) == 0) {
            if (value == NULL) {
                continue;
            }
            v = value;
        }
        o +=
            (size_t)snprintf(buf + o, sizeof buf - o, "%s\"%s\":%s", o > 1 ? "," : "", names[i], v);
    }
    snprintf(buf + o, sizeof buf - o, "}");
    return buf;
}

static int verify_str(const char *tok, struct kumo_principal *p)
{
    return kumo_jwt_verify(F.v, tok, strlen(tok), F.now, p);
}

/* Forges, verifies, and asserts the outcome; the principal must stay
 * untouched on failure. */
static void expect(const char *header, const char *payload, struct sig s, int want)
{
    char *tok = forge(header, payload, s);
    struct kumo_principal p;
    memset(&p, 0x5a, sizeof p);
    int rc = verify_str(tok, &p);
    if (rc != want) {
        print_error("token %s: got %d (%s), want %d\n", tok, rc, kumo_jwt_strerror(rc), want);
    }
    assert_int_equal(rc, want);
    if (want != 0) {
        assert_int_equal(((unsigned char *)&p)[0], 0x5a);
    }
    kumo_free(tok);
}

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

/* ---- the attack suite ------------------------------------------------------------ */

static void test_jwt_verify_rejects_alg_none(void **state)
{
    (void)state;
    struct sig none = {SIG_NONE, NULL, NULL, 0};
    const char *algs[] = {"none", "None", "NONE", "nOnE", ""};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}", algs[i]);
        expect(h, claims_ok(), none, KUMO_JWT_ERR_ALG);
        /* ...even carrying a real ES256 signature. */
        expect(h, claims_ok(), es256(), KUMO_JWT_ERR_ALG);
    }
    expect("{\"alg\":\"none\"}", claims_ok(), none, KUMO_JWT_ERR_ALG);
    expect("{\"typ\":\"JWT\",\"kid\":\"" KID "\"}", claims_ok(), es256(), KUMO_JWT_ERR_ALG);
    expect("{\"alg\":null,\"kid\":\"" KID "\"}", claims_ok(), es256(), KUMO_JWT_ERR_ALG);
    expect("{\"alg\":[\"ES256\"],\"kid\":\"" KID "\"}", claims_ok(), es256(), KUMO_JWT_ERR_ALG);
    expect("{\"alg\":\"es256\",\"kid\":\"" KID "\"}", claims_ok(), es256(), KUMO_JWT_ERR_ALG);
    expect("{\"alg\":\"ES256 \",\"kid\":\"" KID "\"}", claims_ok(), es256(), KUMO_JWT_ERR_ALG);
}

static void test_jwt_verify_rejects_hs256_key_confusion(void **state)
{
    (void)state;
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}";
    struct sig pem = {SIG_HS256, NULL, F.pub_pem.data, F.pub_pem.len};
    struct sig jwks = {SIG_HS256, NULL, F.jwks.data, F.jwks.len};
    struct sig pem_nonl = {SIG_HS256, NULL, F.pub_pem.data, F.pub_pem.len - 1};
    expect(h, claims_ok(), pem, KUMO_JWT_ERR_ALG);
    expect(h, claims_ok(), jwks, KUMO_JWT_ERR_ALG);
    expect(h, claims_ok(), pem_nonl, KUMO_JWT_ERR_ALG);
    /* HS256 bytes under an ES256 header: wrong length, and not ECDSA. */
    expect(hdr_ok(), claims_ok(), pem, KUMO_JWT_ERR_SIGNATURE);
}

static void test_jwt_verify_rejects_other_algorithms(void **state)
{
    (void)state;
    struct sig rs = {SIG_RS256, F.rsa, NULL, 0};
    struct sig es384 = {SIG_ES384, F.p384, NULL, 0};
    expect("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}", claims_ok(), rs,
           KUMO_JWT_ERR_ALG);
    expect("{\"alg\":\"ES384\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}", claims_ok(), es384,
           KUMO_JWT_ERR_ALG);
    /* Lying about alg does not help either: the ES256 check fails. */
    expect(hdr_ok(), claims_ok(), rs, KUMO_JWT_ERR_SIGNATURE);
    expect(hdr_ok(), claims_ok(), es384, KUMO_JWT_ERR_SIGNATURE);
}

static void test_jwt_verify_rejects_bad_kid(void **state)
{
    (void)state;
    const char *kids[] = {
        "\"nope\"",
        "\"../../etc/passwd\"",
        "\"' OR 1=1 --\"",
        "\"\"",
        "\"" KID " \"",
        "\"key-2026-01\\/\"",
        "\"https://evil.example/jwks.json\"",
        "1",
        "null",
        "[\"" KID "\"]",
        "{\"kid\":\"" KID "\"}",
    };
    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
        char h[256];
        snprintf(h, sizeof h, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":%s}", kids[i]);
        expect(h, claims_ok(), es256(), KUMO_JWT_ERR_KID);
    }
    expect("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", claims_ok(), es256(), KUMO_JWT_ERR_KID);
    /* A NUL inside the kid never reaches the lookup: JSON refuses it. */
    expect("{\"alg\":\"ES256\",\"kid\":\"" KID "\\u0000x\"}", claims_ok(), es256(),
           KUMO_JWT_ERR_MALFORMED);
}

static void test_jwt_verify_rejects_unknown_key_same_kid(void **state)
{
    (void)state;
    struct sig other = {SIG_ES256, F.other, NULL, 0};
    expect(hdr_ok(), claims_ok(), other, KUMO_JWT_ERR_SIGNATURE);
}

static void test_jwt_verify_rejects_header_extras(void **state)
{
    (void)state;
    const char *hs[] = {
        "{\"alg\":\"ES256\",\"typ\":\"jwt\",\"kid\":\"" KID "\"}",
        "{\"alg\":\"ES256\",\"typ\":\"JWS\",\"kid\":\"" KID "\"}",
        "{\"alg\":\"ES256\",\"typ\":1,\"kid\":\"" KID "\"}",
        "{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"jku\":\"https://evil.example/k\"}",
        "{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"x5u\":\"https://evil.example/c\"}",
        "{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"jwk\":{\"kty\":\"EC\"}}",
        "{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"enc\":\"A256GCM\"}",
    };
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        expect(hs[i], claims_ok(), es256(), KUMO_JWT_ERR_HEADER);
    }
}

static void test_jwt_verify_rejects_bad_times(void **state)
{
    (void)state;
    int64_t n = F.now;
    expect(hdr_ok(), claims_t(n - 1000, n - 1000, n - 31), es256(), KUMO_JWT_ERR_EXPIRED);
    expect(hdr_ok(), claims_t(n - 1000, n - 1000, n - 30), es256(), KUMO_JWT_ERR_EXPIRED);
    expect(hdr_ok(), claims_t(n, n + 31, n + 900), es256(), KUMO_JWT_ERR_NOT_YET_VALID);
    expect(hdr_ok(), claims_t(n + 31, n, n + 900), es256(), KUMO_JWT_ERR_NOT_YET_VALID);
    /* exp must follow iat, by at most max_ttl (24 h by default). */
    expect(hdr_ok(), claims_t(n, n, n), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_t(n, n, n + 86401), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_t(n - 10, n, n + 86390), es256(), 0);
}

static void test_jwt_verify_rejects_bad_exp(void **state)
{
    (void)state;
    char s[64];
    snprintf(s, sizeof s, "\"%lld\"", (long long)F.now + 900);
    expect(hdr_ok(), claims_with("exp", NULL), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", s), es256(), KUMO_JWT_ERR_CLAIMS);
    snprintf(s, sizeof s, "%lld.0", (long long)F.now + 900);
    expect(hdr_ok(), claims_with("exp", s), es256(), KUMO_JWT_ERR_CLAIMS);
    snprintf(s, sizeof s, "%lld.5", (long long)F.now + 900);
    expect(hdr_ok(), claims_with("exp", s), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", "1e300"), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", "1e10"), es256(), KUMO_JWT_ERR_CLAIMS);
    /* 2^63 does not fit json_int_t: the JSON parser itself refuses it. */
    expect(hdr_ok(), claims_with("exp", "9223372036854775808"), es256(), KUMO_JWT_ERR_MALFORMED);
    expect(hdr_ok(), claims_with("exp", "9223372036854775807"), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", "-9223372036854775808"), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", "-1"), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", "true"), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", "null"), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("exp", "[1]"), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("iat", NULL), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("iat", "\"0\""), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("nbf", "\"0\""), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("nbf", "1e300"), es256(), KUMO_JWT_ERR_CLAIMS);
}

static void test_jwt_verify_rejects_wrong_iss_aud(void **state)
{
    (void)state;
    expect(hdr_ok(), claims_with("iss", "\"https://evil.example\""), es256(), KUMO_JWT_ERR_ISSUER);
    expect(hdr_ok(), claims_with("iss", "\"" ISS "/\""), es256(), KUMO_JWT_ERR_ISSUER);
    expect(hdr_ok(), claims_with("iss", NULL), es256(), KUMO_JWT_ERR_ISSUER);
    expect(hdr_ok(), claims_with("iss", "1"), es256(), KUMO_JWT_ERR_ISSUER);
    expect(hdr_ok(), claims_with("aud", "\"kumo-other\""), es256(), KUMO_JWT_ERR_AUDIENCE);
    expect(hdr_ok(), claims_with("aud", "\"KUMO\""), es256(), KUMO_JWT_ERR_AUDIENCE);
    expect(hdr_ok(), claims_with("aud", "[\"kumo\"]"), es256(), KUMO_JWT_ERR_AUDIENCE);
    expect(hdr_ok(), claims_with("aud", NULL), es256(), KUMO_JWT_ERR_AUDIENCE);
}

static void test_jwt_verify_rejects_bad_subject_claims(void **state)
{
    (void)state;
    const struct {
        const char *name, *value;
    } cases[] = {
        {"sub", NULL},
        {"sub", "\"\""},
        {"sub", "\"user 1\""},
        {"sub", "\"user\\n1\""},
        {"sub", "\"\\u00e9t\\u00e9\""},
        {"sub", "1"},
        {"tid", NULL},
        {"tid", "\"\""},
        {"tid", "[\"a\"]"},
        {"jti", NULL},
        {"jti", "7"},
        {"roles", NULL},
        {"roles", "[]"},
        {"roles", "\"admin\""},
        {"roles", "[\"superuser\"]"},
        {"roles", "[\"Admin\"]"},
        {"roles", "[\"admin\",\"admin\"]"},
        {"roles", "[\"admin\",1]"},
        {"roles", "[\"admin\\u0000\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *payload = claims_with(cases[i].name, cases[i].value);
        int want =
            strstr(payload, "\\u0000") != NULL ? KUMO_JWT_ERR_MALFORMED : KUMO_JWT_ERR_CLAIMS;
        expect(hdr_ok(), payload, es256(), want);
    }
    /* 128 characters is the limit, inclusive. */
    char v[140];
    v[0] = '"';
    memset(v + 1, 'b', 128);
    v[129] = '"';
    v[130] = '\0';
    expect(hdr_ok(), claims_with("sub", v), es256(), 0);
    expect(hdr_ok(), claims_with("tid", v), es256(), 0);
    v[129] = 'b';
    v[130] = '"';
    v[131] = '\0';
    expect(hdr_ok(), claims_with("sub", v), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("tid", v), es256(), KUMO_JWT_ERR_CLAIMS);
    expect(hdr_ok(), claims_with("jti", v), es256(), KUMO_JWT_ERR_CLAIMS);
}

static void test_jwt_verify_rejects_duplicate_keys(void **state)
{
    (void)state;
    expect("{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"alg\":\"none\"}", claims_ok(), es256(),
           KUMO_JWT_ERR_MALFORMED);
    expect("{\"alg\":\"ES256\",\"kid\":\"" KID "\",\"kid\":\"" KID "\"}", claims_ok(), es256(),
           KUMO_JWT_ERR_MALFORMED);
    /* A second tid, validly signed: the parser refuses the whole payload
     * instead of picking one of them. */
    char payload[1024];
    const char *base = claims_ok();
    size_t n = strlen(base);
    memcpy(payload, base, n - 1);
    snprintf(payload + n - 1, sizeof payload - (n - 1), ",\"tid\":\"tenant-b\"}");
    expect(hdr_ok(), payload, es256(), KUMO_JWT_ERR_MALFORMED);
    memcpy(payload, base, n - 1);
    snprintf(payload + n - 1, sizeof payload - (n - 1), ",\"roles\":[\"admin\"]}");
    expect(hdr_ok(), payload, es256(), KUMO_JWT_ERR_MALFORMED);
}

/* Returns a freshly signed valid token (kumo_free). */
static char *good_token(void)
{
    return forge(hdr_ok(), claims_ok(), es256());
}

static void check_str(const char *tok, int want)
{
    struct kumo_principal p;
    int rc = verify_str(tok, &p);
    if (rc != want) {
        print_error("token %s: got %d (%s), want %d\n", tok, rc, kumo_jwt_strerror(rc), want);
    }
    assert_int_equal(rc, want);
}

static void test_jwt_verify_rejects_tampered_signature(void **state)
{
    (void)state;
    char *tok = good_token();
    check_str(tok, 0);
    char *sig = strrchr(tok, '.') + 1;
    assert_int_equal(strlen(sig), 86);
    /* Flip every bit of the signature, one at a time. */
    struct kumo_buf raw = KUMO_BUF_INIT;
    assert_int_equal(kumo_base64_decode(sig, 86, &raw), 0);
    assert_int_equal(raw.len, 64);
    for (size_t bit = 0; bit < 512; bit++) {
        raw.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct kumo_buf t = KUMO_BUF_INIT;
        kumo_buf_append(&t, tok, (size_t)(sig - tok));
        kumo_base64_encode(raw.data, raw.len, 1, 0, &t);
        check_str((const char *)t.data, KUMO_JWT_ERR_SIGNATURE);
        kumo_buf_free(&t);
        raw.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    kumo_buf_free(&raw);
    /* The last character's unused bits: a non-canonical spelling of the
     * same signature is refused too. */
    char saved = sig[85];
    sig[85] = (char)(saved == 'A' ? 'B' : saved + 1);
    check_str(tok, KUMO_JWT_ERR_SIGNATURE);
    sig[85] = saved;
    /* Truncated: one character, four, half, all. */
    size_t full = strlen(tok);
    const size_t cuts[] = {1, 2, 4, 43, 86};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char *t = kumo_strndup(tok, full - cuts[i]);
        check_str(t, KUMO_JWT_ERR_SIGNATURE);
        kumo_free(t);
    }
    /* Longer than 64 bytes. */
    struct kumo_buf t = KUMO_BUF_INIT;
    kumo_buf_append_str(&t, tok);
    kumo_buf_append_str(&t, "AAAA");
    check_str((const char *)t.data, KUMO_JWT_ERR_SIGNATURE);
    kumo_buf_free(&t);
    /* r = 0 and s = 0. */
    kumo_buf_append(&t, tok, (size_t)(sig - tok));
    uint8_t zero[64] = {0};
    kumo_base64_encode(zero, 64, 1, 0, &t);
    check_str((const char *)t.data, KUMO_JWT_ERR_SIGNATURE);
    kumo_buf_free(&t);
    kumo_free(tok);
}

static void test_jwt_verify_rejects_tampered_payload(void **state)
{
    (void)state;
    /* Re-encode the payload with another tenant, keep the signature. */
    char *tok = good_token();
    char *d1 = strchr(tok, '.');
    char *d2 = strchr(d1 + 1, '.');
    struct kumo_buf t = KUMO_BUF_INIT;
    kumo_buf_append(&t, tok, (size_t)(d1 + 1 - tok));
    const char *evil = claims_ok();
    char swapped[1024];
    snprintf(swapped, sizeof swapped, "%s", evil);
    memcpy(strstr(swapped, "tenant-a"), "tenant-b", 8);
    kumo_base64_encode((const uint8_t *)swapped, strlen(swapped), 1, 0, &t);
    kumo_buf_append_str(&t, d2);
    check_str((const char *)t.data, KUMO_JWT_ERR_SIGNATURE);
    kumo_buf_free(&t);
    /* Swap the header for an equivalent one: the signature covers the
     * bytes, not the meaning. */
    kumo_buf_append_str(&t, "eyJraWQiOiJrZXktMjAyNi0wMSIsImFsZyI6IkVTMjU2In0");
    kumo_buf_append_str(&t, d1);
    check_str((const char *)t.data, KUMO_JWT_ERR_SIGNATURE);
    kumo_buf_free(&t);
    kumo_free(tok);
}

static void test_jwt_verify_rejects_bad_segments(void **state)
{
    (void)state;
    char *tok = good_token();
    char *d1 = strchr(tok, '.');
    char *d2 = strchr(d1 + 1, '.');
    char buf[4096];
    /* 1, 2, 4 and 5 segments. */
    snprintf(buf, sizeof buf, "%.*s", (int)(d1 - tok), tok);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s", (int)(d2 - tok), tok);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%s.%s", tok, d2 + 1);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%s.AAAA.AAAA", tok);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%s.", tok);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    /* Empty header or payload; nothing at all; only dots. */
    snprintf(buf, sizeof buf, "%s", d1);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s.%s", (int)(d1 - tok), tok, d2);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    check_str("..", KUMO_JWT_ERR_MALFORMED);
    check_str(".", KUMO_JWT_ERR_MALFORMED);
    struct kumo_principal p;
    assert_int_equal(kumo_jwt_verify(F.v, "", 0, F.now, &p), KUMO_JWT_ERR_MALFORMED);
    assert_int_equal(kumo_jwt_verify(F.v, NULL, 5, F.now, &p), KUMO_JWT_ERR_MALFORMED);
    /* Padding, standard alphabet, whitespace in a segment. */
    snprintf(buf, sizeof buf, "%.*s=%s", (int)(d1 - tok), tok, d1);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s==%s", (int)(d2 - tok), tok, d2);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, " %s", tok);
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%s", tok);
    buf[d1 - tok + 3] = '+';
    check_str(buf, KUMO_JWT_ERR_MALFORMED);
    /* A NUL inside the token (length says it is there). */
    snprintf(buf, sizeof buf, "%s", tok);
    buf[5] = '\0';
    assert_int_equal(kumo_jwt_verify(F.v, buf, strlen(tok), F.now, &p), KUMO_JWT_ERR_MALFORMED);
    /* Header that is JSON but not an object, or not JSON. */
    expect("[\"ES256\"]", claims_ok(), es256(), KUMO_JWT_ERR_MALFORMED);
    expect("\"ES256\"", claims_ok(), es256(), KUMO_JWT_ERR_MALFORMED);
    expect("{\"alg\":\"ES256\",", claims_ok(), es256(), KUMO_JWT_ERR_MALFORMED);
    /* Payload not an object, validly signed. */
    expect(hdr_ok(), "[1,2]", es256(), KUMO_JWT_ERR_MALFORMED);
    expect(hdr_ok(), "{\"iss\":", es256(), KUMO_JWT_ERR_MALFORMED);
    kumo_free(tok);
}

/* A valid, signed token whose payload carries `pad` extra bytes. */
static char *padded_token(size_t pad)
{
    struct kumo_buf c = KUMO_BUF_INIT;
    kumo_buf_append_str(&c, "{\"pad\":\"");
    for (size_t i = 0; i < pad; i++) {
        kumo_buf_append_byte(&c, 'x');
    }
    kumo_buf_append_str(&c, "\",");
    kumo_buf_append_str(&c, claims_ok() + 1);
    char *tok = forge(hdr_ok(), (const char *)c.data, es256());
    kumo_buf_free(&c);
    return tok;
}

static void test_jwt_verify_rejects_oversized_tokens(void **state)
{
    (void)state;
    size_t n = 1024 * 1024;
    char *big = kumo_malloc(n + 1);
    memset(big, 'A', n);
    big[100] = '.';
    big[200] = '.';
    big[n] = '\0';
    struct kumo_principal p;
    assert_int_equal(kumo_jwt_verify(F.v, big, n, F.now, &p), KUMO_JWT_ERR_TOO_LARGE);
    assert_int_equal(kumo_jwt_verify(F.v, big, KUMO_JWT_MAX_TOKEN_LEN + 1, F.now, &p),
                     KUMO_JWT_ERR_TOO_LARGE);
    kumo_free(big);
    /* A validly signed token with a 1 MB claim is refused by size alone. */
    char *tok = padded_token(n);
    check_str(tok, KUMO_JWT_ERR_TOO_LARGE);
    kumo_free(tok);
    /* Just under the limit, validly signed and valid: accepted. */
    tok = padded_token((KUMO_JWT_MAX_TOKEN_LEN - 600) / 4 * 3);
    assert_true(strlen(tok) <= KUMO_JWT_MAX_TOKEN_LEN);
    check_str(tok, 0);
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

/* ---- PyJWT-built tokens ------------------------------------------------------------ */

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

static void write_file(const char *path, const struct kumo_buf *b)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
}

static int error_by_name(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } map[] = {
        {"ok", 0},
        {"MALFORMED", KUMO_JWT_ERR_MALFORMED},
        {"HEADER", KUMO_JWT_ERR_HEADER},
        {"ALG", KUMO_JWT_ERR_ALG},
        {"KID", KUMO_JWT_ERR_KID},
        {"SIGNATURE", KUMO_JWT_ERR_SIGNATURE},
        {"EXPIRED", KUMO_JWT_ERR_EXPIRED},
        {"NOT_YET_VALID", KUMO_JWT_ERR_NOT_YET_VALID},
        {"CLAIMS", KUMO_JWT_ERR_CLAIMS},
        {"ISSUER", KUMO_JWT_ERR_ISSUER},
        {"AUDIENCE", KUMO_JWT_ERR_AUDIENCE},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].name, name) == 0) {
            return map[i].code;
        }
    }
    fail_msg("unknown expectation %s", name);
    return 1;
}

static void test_jwt_verify_pyjwt_attack_suite(void **state)
{
    (void)state;
    if (!python_jwt_available()) {
        skip();
    }
    char dir[] = "/tmp/kumo-jwt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char priv[256], pub[256], jwks[256], cmd[8192];
    snprintf(priv, sizeof priv, "%s/priv.pem", dir);
    snprintf(pub, sizeof pub, "%s/pub.pem", dir);
    snprintf(jwks, sizeof jwks, "%s/jwks.json", dir);
    write_file(priv, &F.priv_pem);
    write_file(pub, &F.pub_pem);
    write_file(jwks, &F.jwks);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s forge --priv %s --pub %s --jwks %s --kid=%s --iss %s --aud %s "
             "--now %lld",
             script, priv, pub, jwks, KID, ISS, AUD, (long long)F.now);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[16384];
    int n = 0, accepted = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *name = strchr(line, '\t');
        assert_non_null(name);
        *name++ = '\0';
        char *tok = strchr(name, '\t');
        assert_non_null(tok);
        *tok++ = '\0';
        int want = error_by_name(line);
        struct kumo_principal p;
        int rc = verify_str(tok, &p);
        if (rc != want) {
            print_error("pyjwt case %s: got %d (%s), want %s\n", name, rc, kumo_jwt_strerror(rc),
                        line);
        }
        assert_int_equal(rc, want);
        accepted += rc == 0;
        n++;
    }
    assert_int_equal(pclose(f), 0);
    assert_true(n >= 40);
    assert_int_equal(accepted, 3);
    unlink(priv);
    unlink(pub);
    unlink(jwks);
    rmdir(dir);
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
        cmocka_unit_test(test_jwt_verify_rejects_alg_none),
        cmocka_unit_test(test_jwt_verify_rejects_hs256_key_confusion),
        cmocka_unit_test(test_jwt_verify_rejects_other_algorithms),
        cmocka_unit_test(test_jwt_verify_rejects_bad_kid),
        cmocka_unit_test(test_jwt_verify_rejects_unknown_key_same_kid),
        cmocka_unit_test(test_jwt_verify_rejects_header_extras),
        cmocka_unit_test(test_jwt_verify_rejects_bad_times),
        cmocka_unit_test(test_jwt_verify_rejects_bad_exp),
        cmocka_unit_test(test_jwt_verify_rejects_wrong_iss_aud),
        cmocka_unit_test(test_jwt_verify_rejects_bad_subject_claims),
        cmocka_unit_test(test_jwt_verify_rejects_duplicate_keys),
        cmocka_unit_test(test_jwt_verify_rejects_tampered_signature),
        cmocka_unit_test(test_jwt_verify_rejects_tampered_payload),
        cmocka_unit_test(test_jwt_verify_rejects_bad_segments),
        cmocka_unit_test(test_jwt_verify_rejects_oversized_tokens),
        cmocka_unit_test(test_jwt_verify_tenant_comes_from_token),
        cmocka_unit_test(test_jwt_verify_without_keys),
        cmocka_unit_test(test_jwt_verifier_new_rejects_bad_options),
        cmocka_unit_test(test_jwt_verify_rotation),
        cmocka_unit_test(test_jwt_verify_concurrent_key_swap),
        cmocka_unit_test(test_jwt_verify_pyjwt_attack_suite),
        cmocka_unit_test(test_jwt_bearer_parsing),
        cmocka_unit_test(test_jwt_strerror_names_every_code),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
