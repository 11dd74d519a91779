/* Tests of common/base/alloc.c: copies, zeroing, and abort on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/alloc.h"

static void test_alloc_copies(void **state)
{
    (void)state;
    char *s = kumo_strdup("kumo");
    assert_string_equal(s, "kumo");
    char *t = kumo_strndup("kumo-cloud", 4);
    assert_string_equal(t, "kumo");
    unsigned char *z = kumo_calloc(10, 10);
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    z = kumo_realloc(z, 1000);
    z[999] = 1;
    void *zero = kumo_malloc(0);
    assert_non_null(zero);
    kumo_free(zero);
    kumo_free(z);
    kumo_free(s);
    kumo_free(t);
    kumo_free(NULL);
}

static void test_alloc_overflow_aborts(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        /* calloc overflow must not return a short block. */
        int fd = open("/dev/null", 1);
        dup2(fd, 2);
        void *p = kumo_calloc(SIZE_MAX / 2, 4);
        (void)p;
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_copies),
        cmocka_unit_test(test_alloc_overflow_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
