/* Tests of common/base/buf.c. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void test_buf_append_and_terminate(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append(&b, "ab", 2);
    kumo_buf_append_str(&b, "cd");
    kumo_buf_append_byte(&b, 'e');
    assert_int_equal(b.len, 5);
    assert_string_equal((char *)b.data, "abcde");
    kumo_buf_appendf(&b, "-%d-%s", 42, "x");
    assert_string_equal((char *)b.data, "abcde-42-x");
    kumo_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal((char *)b.data, "");
    kumo_buf_free(&b);
    assert_null(b.data);
}

static void test_buf_grows_large(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    char chunk[1000];
    memset(chunk, 'q', sizeof(chunk));
    for (int i = 0; i < 5000; i++)
        kumo_buf_append(&b, chunk, sizeof(chunk));
    assert_int_equal(b.len, 5000000);
    assert_int_equal(b.data[4999999], 'q');
    assert_int_equal(b.data[5000000], 0);
    kumo_buf_appendf(&b, "%0*d", 3000, 7);
    assert_int_equal(b.len, 5003000);
    kumo_buf_free(&b);
}

static void test_buf_steal(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    size_t len = 99;
    char *empty = kumo_buf_steal(&b, &len);
    assert_string_equal(empty, "");
    assert_int_equal(len, 0);
    kumo_free(empty);
    kumo_buf_append_str(&b, "mine");
    char *s = kumo_buf_steal(&b, &len);
    assert_string_equal(s, "mine");
    assert_int_equal(len, 4);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    kumo_free(s);
}

static void test_buf_error(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    assert_int_equal(kumo_buf_error(NULL, -5, "what", "detail"), -5);
    assert_int_equal(kumo_buf_error(&b, -1005, "cannot open", "No such file"), -1005);
    kumo_buf_append_byte(&b, 0);
    assert_string_equal((const char *)b.data, "cannot open: No such file");
    kumo_buf_reset(&b);
    assert_int_equal(kumo_buf_error(&b, 7, "plain", ""), 7);
    assert_int_equal(kumo_buf_error(&b, 7, "; again", NULL), 7);
    kumo_buf_append_byte(&b, 0);
    assert_string_equal((const char *)b.data, "plain; again");
    kumo_buf_free(&b);
}

/* A temporary file holding n bytes of 'x'; its path into path[64]. */
static void temp_file(char path[64], size_t n)
{
    snprintf(path, 64, "/tmp/kumo-test-buf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *data = malloc(n ? n : 1);
    memset(data, 'x', n);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    free(data);
    close(fd);
}

static void test_buf_read_file_bounded(void **state)
{
    (void)state;
    char path[64];
    temp_file(path, 10000); /* more than one read's worth */
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "ab");
    assert_int_equal(kumo_buf_read_file(&b, path, 10002), 0); /* exactly at the bound */
    assert_int_equal(b.len, 10002);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data, "abxx", 4);
    kumo_buf_reset(&b);
    assert_int_equal(kumo_buf_read_file(&b, path, 9999), KUMO_ERR_TOO_LARGE);
    assert_true(b.len <= 10000);
    kumo_buf_free(&b);
    /* reserved first: read in place, never reallocated */
    kumo_buf_reserve(&b, 10001);
    unsigned char *before = b.data;
    assert_int_equal(kumo_buf_read_file(&b, path, 10000), 0);
    assert_ptr_equal(b.data, before);
    kumo_buf_free(&b);
    unlink(path);
    assert_int_equal(kumo_buf_read_file(&b, path, 10), -ENOENT);
    temp_file(path, 0);
    assert_int_equal(kumo_buf_read_file(&b, path, 10), 0);
    assert_int_equal(b.len, 0);
    kumo_buf_free(&b);
    unlink(path);
}

static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = kumo_vstrdupf(fmt, ap);
    va_end(ap);
    return s;
}

/* A formatted string of its own, "" for an empty result. */
static void test_vstrdupf(void **state)
{
    (void)state;
    char *s = dupf("%s %d%%", "code", 7);
    assert_string_equal(s, "code 7%");
    kumo_free(s);
    s = dupf("%s", "");
    assert_non_null(s);
    assert_string_equal(s, "");
    kumo_free(s);
}

/* Decimal appends write what printf writes, quoted or not. */
static void test_buf_append_decimal_as_printf(void **state)
{
    (void)state;
    static const int64_t values[] = {0,         1,         -1,        9,         10,       -10,
                                     123456789, INT32_MIN, INT32_MAX, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char want[48];
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_buf_append_str(&b, "x");
        kumo_buf_append_i64(&b, values[i], 0);
        kumo_buf_append_i64(&b, values[i], 1);
        snprintf(want, sizeof want, "x%" PRId64 "\"%" PRId64 "\"", values[i], values[i]);
        assert_string_equal((const char *)b.data, want);
        kumo_buf_free(&b);
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_decimal(&b, UINT64_MAX, 0, 1);
    kumo_buf_append_decimal(&b, 5, 1, 0);
    assert_string_equal((const char *)b.data, "\"18446744073709551615\"-5");
    kumo_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_decimal_as_printf),
        cmocka_unit_test(test_buf_append_and_terminate),
        cmocka_unit_test(test_buf_grows_large),
        cmocka_unit_test(test_buf_steal),
        cmocka_unit_test(test_vstrdupf),
        cmocka_unit_test(test_buf_error),
        cmocka_unit_test(test_buf_read_file_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
