/* Tests of common/base/arena.c: alignment, big blocks, reset, the protobuf-c
 * allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdalign.h>
#include <string.h>

#include "base/arena.h"
#include "kumo/test/v1/echo.pb-c.h"

static void test_arena_alignment_and_isolation(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    char *prev = NULL;
    for (size_t i = 1; i < 200; i++) {
        char *p = kumo_arena_alloc(a, i);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, (int)i, i);
        if (prev)
            assert_int_equal((unsigned char)prev[0], (unsigned char)(i - 1));
        prev = p;
    }
    assert_true(kumo_arena_used(a) >= 199 * 200 / 2);
    kumo_arena_free(a);
}

static void test_arena_big_allocations(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    char *small = kumo_arena_alloc(a, 16);
    memset(small, 'x', 16);
    char *big = kumo_arena_alloc(a, 1 << 20);
    memset(big, 'y', 1 << 20);
    char *small2 = kumo_arena_alloc(a, 16);
    memset(small2, 'z', 16);
    assert_int_equal(small[15], 'x');
    assert_int_equal(big[(1 << 20) - 1], 'y');
    kumo_arena_free(a);
}

static void test_arena_calloc_strdup(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    unsigned char *z = kumo_arena_calloc(a, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    assert_string_equal(kumo_arena_strdup(a, "hello"), "hello");
    assert_string_equal(kumo_arena_strndup(a, "hello", 3), "hel");
    kumo_arena_free(a);
}

static void test_arena_reset_reuses(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    for (int i = 0; i < 100; i++)
        kumo_arena_alloc(a, 1000);
    kumo_arena_alloc(a, 100000);
    kumo_arena_reset(a);
    assert_int_equal(kumo_arena_used(a), 0);
    char *p = kumo_arena_alloc(a, 10);
    memcpy(p, "ok", 3);
    assert_string_equal(p, "ok");
    kumo_arena_free(a);
    kumo_arena_free(NULL);
}

#if defined(__SANITIZE_ADDRESS__)
#define RECYCLES 0 /* sanitizer builds keep no block cache (arena.c) */
#else
#define RECYCLES 1
#endif

/* A block freed with one arena comes back to the thread's next arena,
 * empty: its whole 4 KiB is handed out again, nothing overlaps and the
 * bytes written through the new arena are the ones read back. */
static void test_arena_recycled_block_is_empty_and_whole(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    unsigned char *first = kumo_arena_alloc(a, 64);
    memset(first, 0xAB, 64);
    kumo_arena_free(a);

    struct kumo_arena *b = kumo_arena_new();
    unsigned char *p[60];
    for (int i = 0; i < 60; i++) {
        p[i] = kumo_arena_alloc(b, 64);
        memset(p[i], i, 64);
    }
    if (RECYCLES)
        assert_ptr_equal(p[0], first);
    assert_int_equal(kumo_arena_used(b), 60 * 64);
    for (int i = 0; i < 60; i++) {
        for (int k = 0; k < 64; k++)
            assert_int_equal(p[i][k], i);
    }
    kumo_arena_free(b);
}

/* More arenas freed at once than the cache keeps: the rest go back to
 * the allocator (valgrind and LSan see no leak), and each thread's cache
 * is freed when the thread ends. */
static void *arena_churn(void *arg)
{
    (void)arg;
    struct kumo_arena *many[40];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 40; i++) {
            many[i] = kumo_arena_new();
            for (int k = 0; k < 10; k++) /* two or three blocks each */
                memset(kumo_arena_alloc(many[i], 1000), k, 1000);
        }
        for (int i = 0; i < 40; i++)
            kumo_arena_free(many[i]);
    }
    return NULL;
}

static void test_arena_cache_is_bounded_and_freed_with_its_thread(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, arena_churn, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    arena_churn(NULL);
}

static void test_arena_protobuf_allocator(void **state)
{
    (void)state;
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "arena";
    char *hdrs[] = {"a", "b"};
    req.echo_headers = hdrs;
    req.n_echo_headers = 2;
    uint8_t buf[64];
    size_t len = kumo__test__v1__echo_request__pack(&req, buf);
    struct kumo_arena *a = kumo_arena_new();
    Kumo__Test__V1__EchoRequest *out =
        kumo__test__v1__echo_request__unpack(kumo_arena_allocator(a), len, buf);
    assert_non_null(out);
    assert_string_equal(out->message, "arena");
    assert_int_equal(out->n_echo_headers, 2);
    assert_string_equal(out->echo_headers[1], "b");
    /* Freed with the arena, not with free_unpacked: no leak under ASan. */
    kumo_arena_free(a);
}

static void test_arena_grow_keeps_elements(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    int *arr = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        if (n == cap)
            arr = kumo_arena_grow(a, arr, n, &cap, sizeof(*arr), 4);
        arr[n++] = i * 3;
    }
    assert_int_equal(cap, 1024);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(arr[i], i * 3);
    kumo_arena_free(a);
}

static char *arena_fmt(struct kumo_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = kumo_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

/* Formatted text of any length lands whole in the arena. */
static void test_arena_vsprintf(void **state)
{
    (void)state;
    struct kumo_arena *a = kumo_arena_new();
    assert_string_equal(arena_fmt(a, "%s=%d", "x", 42), "x=42");
    assert_string_equal(arena_fmt(a, "%s", ""), "");
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *s = arena_fmt(a, "<%s>", big);
    assert_int_equal(strlen(s), sizeof big + 1);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[sizeof big], '>');
    kumo_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alignment_and_isolation),
        cmocka_unit_test(test_arena_vsprintf),
        cmocka_unit_test(test_arena_big_allocations),
        cmocka_unit_test(test_arena_calloc_strdup),
        cmocka_unit_test(test_arena_reset_reuses),
        cmocka_unit_test(test_arena_recycled_block_is_empty_and_whole),
        cmocka_unit_test(test_arena_cache_is_bounded_and_freed_with_its_thread),
        cmocka_unit_test(test_arena_protobuf_allocator),
        cmocka_unit_test(test_arena_grow_keeps_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
