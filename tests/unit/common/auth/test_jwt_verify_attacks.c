/* The JWT verifier's attack suite (jwt_verify_fixture.h): every forged,
 * tampered, expired, mis-addressed, malformed or oversized token is rejected,
 * for the right reason. Attack tokens are built with OpenSSL, and again
 * independently with PyJWT (tests/unit/common/auth/jwt_interop.py) when
 * /usr/bin/python3 has it. */
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

#include "jwt_verify_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
        cmocka_unit_test(test_jwt_verify_pyjwt_attack_suite),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
