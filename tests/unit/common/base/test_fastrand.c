#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fastrand.h"

#define N 4096

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_fastrand_hex_format(void **state)
{
    (void)state;
    char out[34];
    memset(out, 'X', sizeof out);
    kumo_fastrand_hex(out, 16);
    assert_int_equal(strlen(out), 32);
    assert_int_equal(out[33], 'X'); /* nothing past the NUL */
    for (int i = 0; i < 32; i++)
        assert_non_null(strchr("0123456789abcdef", out[i]));
    char odd[12];
    kumo_fastrand_hex(odd, 5); /* not a multiple of 8 bytes */
    assert_int_equal(strlen(odd), 10);
    /* Every digit turns up, about equally often (16000 digits: ~1000 each). */
    int count[16] = {0};
    for (int k = 0; k < 500; k++) {
        kumo_fastrand_hex(out, 16);
        for (int i = 0; i < 32; i++)
            count[strchr("0123456789abcdef", out[i]) - "0123456789abcdef"]++;
    }
    for (int d = 0; d < 16; d++)
        assert_true(count[d] > 800 && count[d] < 1200);
}

static void test_fastrand_hex_nonzero(void **state)
{
    (void)state;
    char out[34], prev[34] = "";
    for (int k = 0; k < 200; k++) {
        memset(out, 'X', sizeof out);
        kumo_fastrand_hex_nonzero(out, 16);
        assert_int_equal(strlen(out), 32);
        assert_int_equal(out[33], 'X');
        assert_int_not_equal(strspn(out, "0"), 32);
        assert_int_equal(strspn(out, "0123456789abcdef"), 32);
        assert_string_not_equal(out, prev);
        memcpy(prev, out, sizeof out);
    }
    /* A part word: one byte, so all zeros turns up ~1 in 256 draws of
     * kumo_fastrand_hex; never here. */
    int zeros = 0;
    for (int k = 0; k < 4096; k++) {
        char one[3];
        kumo_fastrand_hex(one, 1);
        zeros += strcmp(one, "00") == 0;
        kumo_fastrand_hex_nonzero(one, 1);
        assert_int_equal(strlen(one), 2);
        assert_string_not_equal(one, "00");
    }
    assert_true(zeros > 0);
    char none[1] = {'X'};
    kumo_fastrand_hex_nonzero(none, 0);
    assert_int_equal(none[0], '\0');
}

static void test_fastrand_values_differ_and_spread(void **state)
{
    (void)state;
    static uint64_t v[N];
    int ones = 0;
    for (int i = 0; i < N; i++) {
        v[i] = kumo_fastrand_u64();
        ones += __builtin_popcountll(v[i]);
    }
    qsort(v, N, sizeof v[0], cmp_u64);
    for (int i = 1; i < N; i++)
        assert_true(v[i] != v[i - 1]);
    /* Half the bits set, give or take far more than chance allows. */
    assert_in_range(ones, N * 32 - 2000, N * 32 + 2000);
    unsigned char b[13];
    memset(b, 0, sizeof b);
    kumo_fastrand_bytes(b, sizeof b);
    int nz = 0;
    for (size_t i = 0; i < sizeof b; i++)
        nz += b[i] != 0;
    assert_true(nz > 0);
}

static void *draw(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < 64; i++)
        out[i] = kumo_fastrand_u64();
    return NULL;
}

static void test_fastrand_threads_get_their_own_stream(void **state)
{
    (void)state;
    static uint64_t v[4 * 64];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw, v + 64 * i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    qsort(v, 4 * 64, sizeof v[0], cmp_u64);
    for (int i = 1; i < 4 * 64; i++)
        assert_true(v[i] != v[i - 1]);
}

static void test_fastrand_fork_child_reseeds(void **state)
{
    (void)state;
    (void)kumo_fastrand_u64(); /* this thread is seeded */
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t c = kumo_fastrand_u64();
        _exit(write(p[1], &c, sizeof c) == sizeof c ? 0 : 1);
    }
    uint64_t parent = kumo_fastrand_u64(), child = 0;
    assert_int_equal(read(p[0], &child, sizeof child), sizeof child);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(parent != child); /* without the reseed both draw the same next value */
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fastrand_hex_format),
        cmocka_unit_test(test_fastrand_hex_nonzero),
        cmocka_unit_test(test_fastrand_values_differ_and_spread),
        cmocka_unit_test(test_fastrand_threads_get_their_own_stream),
        cmocka_unit_test(test_fastrand_fork_child_reseeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
