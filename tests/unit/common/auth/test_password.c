#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "auth/password.h"

/* The argon2 reference implementation's own argon2id test vector
 * (src/test.c: password "password", salt "somesalt", m=256 KiB, t=2, p=1):
 * an independent known answer, and a "legacy" hash with weak parameters. */
static const char ref_phc[] =
    "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
static const char ref_phc_p2[] =
    "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";

/* One hasher at the default parameters for the whole file: each argon2 run
 * at m=19 MiB is slow under valgrind. */
static struct kumo_password_hasher *H;

static int setup(void **state)
{
    (void)state;
    return kumo_password_hasher_new(&H, NULL);
}

static int teardown(void **state)
{
    (void)state;
    kumo_password_hasher_free(H);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_password_params_check_bounds(void **state)
{
    (void)state;
    struct kumo_password_params p = KUMO_PASSWORD_PARAMS_DEFAULT;
    assert_int_equal(p.m_kib, 19456);
    assert_int_equal(p.t_cost, 2);
    assert_int_equal(p.parallelism, 1);
    assert_int_equal(kumo_password_params_check(&p), 0);
    struct kumo_password_params weak[] = {
        {19455, 2, 1},    {19456, 1, 1},  {19456, 2, 0},
        {1u << 21, 2, 1}, {19456, 65, 1}, {19456, 2, 17},
    };
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        assert_int_equal(kumo_password_params_check(&weak[i]), KUMO_ERR_INVALID);
    }
    assert_int_equal(kumo_password_params_check(NULL), KUMO_ERR_INVALID);
    struct kumo_password_params strong = {65536, 3, 2};
    assert_int_equal(kumo_password_params_check(&strong), 0);
}

static void test_password_hasher_new_rejects_weak_params(void **state)
{
    (void)state;
    struct kumo_password_hasher *h = (struct kumo_password_hasher *)0x1;
    struct kumo_password_params p = {4096, 2, 1};
    assert_int_equal(kumo_password_hasher_new(&h, &p), KUMO_ERR_INVALID);
    assert_ptr_equal(h, (struct kumo_password_hasher *)0x1);
    assert_int_equal(kumo_password_hasher_new(NULL, NULL), KUMO_ERR_INVALID);
    struct kumo_password_params got = kumo_password_hasher_params(H);
    assert_int_equal(got.m_kib, 19456);
}

static void test_password_hash_is_phc_argon2id(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    assert_int_equal(kumo_password_hash(H, "correct horse", 13, &a), 0);
    assert_int_equal(kumo_password_hash(H, "correct horse", 13, &b), 0);
    const char prefix[] = "$argon2id$v=19$m=19456,t=2,p=1$";
    assert_memory_equal(a, prefix, sizeof prefix - 1);
    assert_string_not_equal(a, b); /* fresh salt each time */
    struct kumo_password_params p;
    size_t sl = 0, hl = 0;
    assert_int_equal(kumo_password_phc_parse(a, &p, &sl, &hl), 0);
    assert_int_equal(p.m_kib, 19456);
    assert_int_equal(sl, 16);
    assert_int_equal(hl, 32);
    assert_int_equal(kumo_password_verify(a, "correct horse", 13), 0);
    assert_int_equal(kumo_password_verify(b, "correct horsf", 13), KUMO_PASSWORD_ERR_MISMATCH);
    assert_int_equal(kumo_password_needs_rehash(H, a), 0);
    kumo_free(a);
    kumo_free(b);
}

static void test_password_verify_reference_vector(void **state)
{
    (void)state;
    assert_int_equal(kumo_password_verify(ref_phc, "password", 8), 0);
    assert_int_equal(kumo_password_verify(ref_phc, "passwore", 8), KUMO_PASSWORD_ERR_MISMATCH);
    assert_int_equal(kumo_password_verify(ref_phc, "password ", 9), KUMO_PASSWORD_ERR_MISMATCH);
    assert_int_equal(kumo_password_verify(ref_phc_p2, "password", 8), 0);
    /* One flipped hash character. */
    char bad[sizeof ref_phc];
    memcpy(bad, ref_phc, sizeof ref_phc);
    bad[sizeof ref_phc - 5] = bad[sizeof ref_phc - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(kumo_password_verify(bad, "password", 8), KUMO_PASSWORD_ERR_MISMATCH);
}

static void test_password_needs_rehash_when_weaker(void **state)
{
    (void)state;
    /* needs_rehash only parses: these strings need not be real hashes. */
    const char *tail = "$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    const struct {
        const char *params;
        int want;
    } cases[] = {
        {"m=19456,t=2,p=1", 0}, {"m=65536,t=3,p=2", 0}, {"m=19455,t=2,p=1", 1},
        {"m=19456,t=1,p=1", 1}, {"m=4096,t=3,p=1", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char phc[256];
        snprintf(phc, sizeof phc, "$argon2id$v=19$%s%s", cases[i].params, tail);
        assert_int_equal(kumo_password_needs_rehash(H, phc), cases[i].want);
    }
    /* The reference vector: 8-byte salt, m=256. */
    assert_int_equal(kumo_password_needs_rehash(H, ref_phc), 1);
    /* Short salt alone triggers a rehash. */
    assert_int_equal(kumo_password_needs_rehash(H, "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$"
                                                   "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"),
                     1);
    assert_int_equal(kumo_password_needs_rehash(H, "garbage"), KUMO_PASSWORD_ERR_FORMAT);
}

static void test_password_phc_parse_strict(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=19$m=0256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=19$t=2,m=256,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=19$m=256,t=0,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=19$m=256,t=2,p=0$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        /* 4 GiB of memory and 2^32 passes: refused before any work. */
        "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/"
        "4",
        "$argon2id$v=19$m=4294967296,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/"
        "4",
        "$argon2id$v=19$m=256,t=4294967295,p=1$c29tZXNhbHQ$nf65EOgLrQMR/"
        "uIPnA4rEsF5h7TKyQwu9U1bMCHGi/"
        "4",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", /* salt
                                                                                            */
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR", /* hash */
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4$",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4 ",
        "$argon2id$v=19$m=256,t=2,p=1,x=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$argon2id$v=19$m=+256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kumo_password_phc_parse(bad[i], NULL, NULL, NULL),
                         KUMO_PASSWORD_ERR_FORMAT);
        assert_int_equal(kumo_password_verify(bad[i], "password", 8), KUMO_PASSWORD_ERR_FORMAT);
    }
    assert_int_equal(kumo_password_phc_parse(NULL, NULL, NULL, NULL), KUMO_PASSWORD_ERR_FORMAT);
    char *huge = kumo_malloc(100000);
    memset(huge, 'A', 99999);
    huge[99999] = '\0';
    memcpy(huge, "$argon2id$v=19$m=256,t=2,p=1$", 29);
    assert_int_equal(kumo_password_phc_parse(huge, NULL, NULL, NULL), KUMO_PASSWORD_ERR_FORMAT);
    kumo_free(huge);
    assert_int_equal(kumo_password_phc_parse(ref_phc, NULL, NULL, NULL), 0);
}

static void test_password_rejects_bad_input(void **state)
{
    (void)state;
    char *out = (char *)"untouched";
    char big[KUMO_PASSWORD_MAX_LEN + 1];
    memset(big, 'x', sizeof big);
    assert_int_equal(kumo_password_hash(H, "", 0, &out), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_hash(H, NULL, 3, &out), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_hash(H, "a\0b", 3, &out), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_hash(H, big, sizeof big, &out), KUMO_PASSWORD_ERR_INPUT);
    assert_string_equal(out, "untouched");
    assert_int_equal(kumo_password_verify(ref_phc, "pass\0word", 9), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_verify(ref_phc, big, sizeof big), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_verify(ref_phc, "", 0), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_verify_dummy(H, "a\0b", 3), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_verify_dummy(H, big, sizeof big), KUMO_PASSWORD_ERR_INPUT);
    assert_int_equal(kumo_password_hash(NULL, "pw", 2, &out), KUMO_ERR_INVALID);
}

static void test_password_max_length_accepted(void **state)
{
    (void)state;
    char pw[KUMO_PASSWORD_MAX_LEN];
    for (size_t i = 0; i < sizeof pw; i++) {
        pw[i] = (char)(0x20 + i % 90);
    }
    char *phc = NULL;
    assert_int_equal(kumo_password_hash(H, pw, sizeof pw, &phc), 0);
    assert_int_equal(kumo_password_verify(phc, pw, sizeof pw), 0);
    kumo_free(phc);
}

/* Unknown accounts cost the same argon2 work as known ones: the dummy
 * verify runs at the hasher's parameters and always mismatches. */
static void test_password_dummy_verify_costs_like_real(void **state)
{
    (void)state;
    char *phc = NULL;
    assert_int_equal(kumo_password_hash(H, "hunter2!", 8, &phc), 0);
    double best_real = 1e9, best_dummy = 1e9;
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();
        assert_int_equal(kumo_password_verify(phc, "wrong-pw", 8), KUMO_PASSWORD_ERR_MISMATCH);
        double t1 = now_s();
        assert_int_equal(kumo_password_verify_dummy(H, "hunter2!", 8), KUMO_PASSWORD_ERR_MISMATCH);
        double t2 = now_s();
        best_real = t1 - t0 < best_real ? t1 - t0 : best_real;
        best_dummy = t2 - t1 < best_dummy ? t2 - t1 : best_dummy;
    }
    /* Same work, so within a generous factor even on a noisy machine. */
    assert_true(best_dummy > best_real / 3);
    assert_true(best_dummy < best_real * 3);
    assert_int_equal(kumo_password_verify_dummy(NULL, "x", 1), KUMO_ERR_INVALID);
    kumo_free(phc);
}

static void test_password_strerror(void **state)
{
    (void)state;
    assert_string_equal(kumo_password_strerror(KUMO_PASSWORD_ERR_MISMATCH),
                        "password: does not match");
    assert_non_null(strstr(kumo_password_strerror(KUMO_PASSWORD_ERR_INPUT), "1024"));
    assert_non_null(kumo_password_strerror(KUMO_ERR_INVALID));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_params_check_bounds),
        cmocka_unit_test(test_password_hasher_new_rejects_weak_params),
        cmocka_unit_test(test_password_hash_is_phc_argon2id),
        cmocka_unit_test(test_password_verify_reference_vector),
        cmocka_unit_test(test_password_needs_rehash_when_weaker),
        cmocka_unit_test(test_password_phc_parse_strict),
        cmocka_unit_test(test_password_rejects_bad_input),
        cmocka_unit_test(test_password_max_length_accepted),
        cmocka_unit_test(test_password_dummy_verify_costs_like_real),
        cmocka_unit_test(test_password_strerror),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
