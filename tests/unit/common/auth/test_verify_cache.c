/* auth/verify_cache: a token verifies once and is then answered from the
 * cache, at most KUMO_VERIFY_CACHE_TTL_S and never past its exp; failures
 * are never remembered; a hit needs the very same token bytes, even when
 * two tokens share a hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "auth/jwt.h"
#include "auth/verify_cache.h"
#include "auth/verify_cache_internal.h"
#include "base/alloc.h"

#define ISS "https://users.test"
#define AUD "kumo"

static struct kumo_jwt_signer *signer;
static struct kumo_jwt_verifier *verifier;

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
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_jwt_verifier_free(verifier);
    kumo_jwt_signer_free(signer);
    return 0;
}

static char *token_of(const char *sub, int64_t now, int64_t ttl)
{
    struct kumo_jwt_claims c = {sub, "tn_1", KUMO_ROLE_VIEWER, now, ttl};
    char *tok = NULL;
    assert_int_equal(kumo_jwt_sign(signer, &c, &tok, NULL), 0);
    return tok;
}

static char *token(int64_t now, int64_t ttl)
{
    return token_of("us_1", now, ttl);
}

static void test_verify_cache_hits_after_one_verification(void **state)
{
    (void)state;
    struct kumo_verify_cache *c;
    assert_int_equal(kumo_verify_cache_new(&c, 0), 0);
    int64_t now = (int64_t)time(NULL);
    char *tok = token(now, 900);
    struct kumo_principal p;
    int hit = -1;
    assert_int_equal(kumo_verify_cache_verify(c, verifier, tok, strlen(tok), now, &p, &hit), 0);
    assert_int_equal(hit, 0);
    memset(&p, 0, sizeof p);
    assert_int_equal(kumo_verify_cache_verify(c, verifier, tok, strlen(tok), now + 1, &p, &hit), 0);
    assert_int_equal(hit, 1);
    assert_string_equal(p.sub, "us_1");
    assert_string_equal(p.tid, "tn_1");
    /* Past the TTL the token is verified again. */
    assert_int_equal(kumo_verify_cache_verify(c, verifier, tok, strlen(tok),
                                              now + KUMO_VERIFY_CACHE_TTL_S + 1, &p, &hit),
                     0);
    assert_int_equal(hit, 0);
    kumo_free(tok);
    kumo_verify_cache_free(c);
}

static void test_verify_cache_never_past_exp_nor_failures(void **state)
{
    (void)state;
    struct kumo_verify_cache *c;
    assert_int_equal(kumo_verify_cache_new(&c, 8), 0);
    int64_t now = (int64_t)time(NULL);
    char *tok = token(now, 5);
    struct kumo_principal p;
    int hit;
    assert_int_equal(kumo_verify_cache_verify(c, verifier, tok, strlen(tok), now, &p, &hit), 0);
    /* After exp (and the leeway) the cache does not answer: the verifier
     * refuses. */
    assert_int_not_equal(
        kumo_verify_cache_verify(c, verifier, tok, strlen(tok), now + 40, &p, &hit), 0);
    assert_int_equal(hit, 0);
    /* A tampered token fails every time. */
    tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
    for (int i = 0; i < 2; i++) {
        assert_int_not_equal(kumo_verify_cache_verify(c, verifier, tok, strlen(tok), now, &p, &hit),
                             0);
        assert_int_equal(hit, 0);
    }
    kumo_free(tok);
    kumo_verify_cache_free(c);
    kumo_verify_cache_free(NULL);
}

/* Every token hashes alike (the test hook) into a one-slot cache: only the
 * byte comparison tells tokens apart. */
static void test_verify_cache_same_hash_needs_same_bytes(void **state)
{
    (void)state;
    struct kumo_verify_cache *c;
    assert_int_equal(kumo_verify_cache_new(&c, 1), 0);
    kumo__verify_cache_collide_all(c);
    int64_t now = (int64_t)time(NULL);
    char *a = token_of("us_1", now, 900);
    char *b = token_of("us_2", now, 900);
    size_t alen = strlen(a);
    struct kumo_principal p;
    int hit = -1;
    assert_int_equal(kumo_verify_cache_verify(c, verifier, a, alen, now, &p, &hit), 0);
    assert_int_equal(hit, 0);
    assert_int_equal(kumo_verify_cache_verify(c, verifier, a, alen, now, &p, &hit), 0);
    assert_int_equal(hit, 1);
    assert_string_equal(p.sub, "us_1");

    /* Same hash, same length, one byte different (a forged signature): not
     * answered from the cache, refused by the verifier, and a's entry stays. */
    char *forged = kumo_strdup(a);
    forged[alen - 2] = forged[alen - 2] == 'A' ? 'B' : 'A';
    assert_int_not_equal(kumo_verify_cache_verify(c, verifier, forged, alen, now, &p, &hit), 0);
    assert_int_equal(hit, 0);
    /* A prefix of a (same hash, shorter) is no hit either. */
    assert_int_not_equal(kumo_verify_cache_verify(c, verifier, a, alen - 1, now, &p, &hit), 0);
    assert_int_equal(hit, 0);
    assert_int_equal(kumo_verify_cache_verify(c, verifier, a, alen, now, &p, &hit), 0);
    assert_int_equal(hit, 1);

    /* Another valid token with the same hash: verified as itself, never
     * given a's principal; it then takes the slot. */
    memset(&p, 0, sizeof p);
    assert_int_equal(kumo_verify_cache_verify(c, verifier, b, strlen(b), now, &p, &hit), 0);
    assert_int_equal(hit, 0);
    assert_string_equal(p.sub, "us_2");
    assert_int_equal(kumo_verify_cache_verify(c, verifier, b, strlen(b), now, &p, &hit), 0);
    assert_int_equal(hit, 1);
    assert_string_equal(p.sub, "us_2");
    assert_int_equal(kumo_verify_cache_verify(c, verifier, a, alen, now, &p, &hit), 0);
    assert_int_equal(hit, 0);
    assert_string_equal(p.sub, "us_1");
    kumo_free(forged);
    kumo_free(a);
    kumo_free(b);
    kumo_verify_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_cache_hits_after_one_verification),
        cmocka_unit_test(test_verify_cache_never_past_exp_nor_failures),
        cmocka_unit_test(test_verify_cache_same_hash_needs_same_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
