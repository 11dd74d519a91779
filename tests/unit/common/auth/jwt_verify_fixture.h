/* Fixture shared by test_jwt_verify_attacks.c and test_jwt_verify_keys.c:
 * the signing key, an unrelated P-256 key, a P-384 and an RSA key, the signer
 * and the verifier (made once per binary: key generation is the slow part),
 * and the forging helpers that build tokens with OpenSSL from raw JSON.
 * Static (inline) definitions: each binary includes it once, after cmocka.h. */
#ifndef KUMO_JWT_VERIFY_FIXTURE_H
#define KUMO_JWT_VERIFY_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/jwt.h"
#include "base/alloc.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/errors.h"

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

static inline EVP_PKEY *pem_to_pkey(const struct kumo_buf *pem)
{
    BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(k);
    return k;
}

static inline void pubkey_pem(EVP_PKEY *k, struct kumo_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    kumo_buf_append(out, data, (size_t)n);
    BIO_free(bio);
}

static inline int setup(void **state)
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

static inline int teardown(void **state)
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

static inline void b64(struct kumo_buf *out, const void *data, size_t len)
{
    kumo_base64_encode(data, len, 1, 0, out);
}

/* ECDSA signature in JOSE form: r||s, each `size` bytes. */
static inline void es_sign(EVP_PKEY *k, const char *md, size_t size, const struct kumo_buf *si,
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

static inline void rs_sign(EVP_PKEY *k, const struct kumo_buf *si, struct kumo_buf *out)
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
static inline char *forge(const char *header, const char *payload, struct sig s)
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

static inline struct sig es256(void)
{
    struct sig s = {SIG_ES256, F.priv, NULL, 0};
    return s;
}

static inline const char *hdr_ok(void)
{
    return "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}";
}

/* Claims with the given times; `extra` replaces the default sub..jti tail
 * when not NULL. */
static inline const char *claims_t(int64_t iat, int64_t nbf, int64_t exp)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"user-1\",\"tid\":\"tenant-a\","
             "\"roles\":[\"editor\",\"viewer\"],\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"jti\":\"jti-1\"}",
             (long long)iat, (long long)nbf, (long long)exp);
    return buf;
}

static inline const char *claims_ok(void)
{
    return claims_t(F.now, F.now, F.now + 900);
}

/* Claims with one member's raw JSON value replaced (or removed when
 * value is NULL). */
static inline const char *claims_with(const char *name, const char *value)
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

static inline int verify_str(const char *tok, struct kumo_principal *p)
{
    return kumo_jwt_verify(F.v, tok, strlen(tok), F.now, p);
}

/* Forges, verifies, and asserts the outcome; the principal must stay
 * untouched on failure. */
static inline void expect(const char *header, const char *payload, struct sig s, int want)
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

/* Returns a freshly signed valid token (kumo_free). */
static inline char *good_token(void)
{
    return forge(hdr_ok(), claims_ok(), es256());
}

static inline void check_str(const char *tok, int want)
{
    struct kumo_principal p;
    int rc = verify_str(tok, &p);
    if (rc != want) {
        print_error("token %s: got %d (%s), want %d\n", tok, rc, kumo_jwt_strerror(rc), want);
    }
    assert_int_equal(rc, want);
}

#endif
