/* The JWT verifier on arbitrary bytes: it must never crash, leak or accept
 * anything it did not sign. The first byte picks what the rest is:
 *   0..127  a whole token, given to kumo_jwt_verify as is (a fuzzer cannot
 *           forge ES256, so this exercises splitting, base64url, the header
 *           JSON and the algorithm/kid checks);
 *   128..191 a payload: it is signed here with the verifier's own key under
 *           a fixed valid header, so the claim checks behind the signature
 *           get fuzzed too;
 *   192..255 a JWKS document for kumo_jwt_keyset_from_jwks. */
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/errors.h"
#include "auth/jwt.h"

#define ISS "https://users.kumo.test"
#define AUD "kumo"
#define NOW 1800000000

static struct kumo_jwt_verifier *V;
static EVP_PKEY *KEY;

static void init(void)
{
    struct kumo_buf pem = KUMO_BUF_INIT;
    struct kumo_jwt_signer *s = NULL;
    struct kumo_jwt_keyset *ks = NULL;
    struct kumo_jwt_verify_opts o = {ISS, AUD, KUMO_JWT_LEEWAY_DEFAULT, KUMO_JWT_MAX_TTL_DEFAULT};
    if (kumo_jwt_key_generate(&pem) != 0 || kumo_jwt_signer_new(&s, ISS, AUD) != 0 ||
        kumo_jwt_signer_add_key(s, "fuzz", (const char *)pem.data, pem.len) != 0 ||
        kumo_jwt_signer_keyset(s, &ks) != 0 || kumo_jwt_verifier_new(&V, &o, ks) != 0) {
        __builtin_trap();
    }
    BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
    KEY = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    kumo_jwt_signer_free(s);
    kumo_buf_free(&pem);
    if (KEY == NULL) {
        __builtin_trap();
    }
}

/* Appends the ES256 signature (r||s, base64url) of t[0..len). */
static void sign_into(struct kumo_buf *t, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t der[80], raw[64];
    size_t der_len = sizeof der;
    if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, KEY, NULL) != 1 ||
        EVP_DigestSign(ctx, der, &der_len, t->data, len) != 1) {
        __builtin_trap();
    }
    EVP_MD_CTX_free(ctx);
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    kumo_base64_encode(raw, sizeof raw, 1, 0, t);
}

static void fuzz_token(const uint8_t *data, size_t size)
{
    struct kumo_principal p;
    int rc = kumo_jwt_verify(V, (const char *)data, size, NOW, &p);
    /* Nothing unsigned by KEY can pass. */
    if (rc == 0) {
        __builtin_trap();
    }
}

static void fuzz_payload(const uint8_t *data, size_t size)
{
    static const char hdr[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"fuzz\"}";
    struct kumo_buf t = KUMO_BUF_INIT;
    kumo_base64_encode((const uint8_t *)hdr, sizeof hdr - 1, 1, 0, &t);
    kumo_buf_append_byte(&t, '.');
    kumo_base64_encode(data, size, 1, 0, &t);
    size_t si_len = t.len;
    kumo_buf_append_byte(&t, '.');
    sign_into(&t, si_len);
    struct kumo_principal p;
    memset(&p, 0, sizeof p);
    if (kumo_jwt_verify(V, (const char *)t.data, t.len, NOW, &p) == 0) {
        /* Whatever passed must satisfy the documented invariants. */
        if (p.roles == 0 || (p.roles & ~(unsigned)KUMO_ROLE_ALL) != 0 || p.sub[0] == '\0' ||
            p.tid[0] == '\0' || p.jti[0] == '\0' || p.exp <= NOW - KUMO_JWT_LEEWAY_DEFAULT ||
            strlen(p.sub) > KUMO_JWT_ID_MAX) {
            __builtin_trap();
        }
    }
    kumo_buf_free(&t);
}

static void fuzz_jwks(const uint8_t *data, size_t size)
{
    struct kumo_jwt_keyset *ks = NULL;
    if (kumo_jwt_keyset_from_jwks(&ks, (const char *)data, size, NULL) == 0) {
        struct kumo_buf out = KUMO_BUF_INIT;
        kumo_jwt_keyset_to_jwks(ks, &out);
        /* Re-exported JWKS parses again to the same number of keys. */
        struct kumo_jwt_keyset *again = NULL;
        if (kumo_jwt_keyset_from_jwks(&again, (const char *)out.data, out.len, NULL) != 0 ||
            kumo_jwt_keyset_count(again) != kumo_jwt_keyset_count(ks)) {
            __builtin_trap();
        }
        kumo_jwt_keyset_free(again);
        kumo_buf_free(&out);
        kumo_jwt_keyset_free(ks);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (V == NULL) {
        init();
    }
    if (size == 0) {
        return 0;
    }
    if (data[0] < 128) {
        fuzz_token(data + 1, size - 1);
    } else if (data[0] < 192) {
        fuzz_payload(data + 1, size - 1);
    } else {
        fuzz_jwks(data + 1, size - 1);
    }
    return 0;
}
