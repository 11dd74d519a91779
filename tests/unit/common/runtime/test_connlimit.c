/* common/runtime/connlimit.c: the total and per-address limits, idle-first
 * eviction (the longest idle goes, and its socket is shut down), refusal
 * when nothing is idle, and release. Real sockets (socketpairs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/connlimit.h"

struct pair {
    int srv, cli;
};

static void open_pair(struct pair *p)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->srv = sv[0];
    p->cli = sv[1];
}

static void close_pair(struct pair *p)
{
    close(p->srv);
    close(p->cli);
}

/* 1 when the server side was shut down: the client reads end of file. */
static int was_evicted(struct pair *p)
{
    char b;
    return recv(p->cli, &b, 1, MSG_DONTWAIT) == 0;
}

static void test_per_address_limit_evicts_that_address_idle_first(void **state)
{
    (void)state;
    struct kumo_connlimit *l;
    assert_int_equal(kumo_connlimit_new(&l, 10, 2), 0);
    struct pair a1, a2, a3, b1;
    open_pair(&a1);
    open_pair(&a2);
    open_pair(&a3);
    open_pair(&b1);
    struct kumo_connlimit_slot *s1 = kumo_connlimit_admit(l, "10.0.0.1", a1.srv);
    usleep(1000);
    struct kumo_connlimit_slot *s2 = kumo_connlimit_admit(l, "10.0.0.1", a2.srv);
    struct kumo_connlimit_slot *sb = kumo_connlimit_admit(l, "10.0.0.2", b1.srv);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_non_null(sb);
    assert_int_equal(kumo_connlimit_count(l, "10.0.0.1"), 2);
    /* Both idle: the third from 10.0.0.1 evicts the longest idle (s1). */
    struct kumo_connlimit_slot *s3 = kumo_connlimit_admit(l, "10.0.0.1", a3.srv);
    assert_non_null(s3);
    assert_true(was_evicted(&a1));
    assert_false(was_evicted(&a2));
    assert_false(was_evicted(&b1));
    assert_int_equal(kumo_connlimit_count(l, "10.0.0.1"), 2);
    assert_int_equal(kumo_connlimit_evicted(l), 1);
    /* Busy ones are not evicted: a fourth is refused. */
    kumo_connlimit_set_idle(l, s2, 0);
    kumo_connlimit_set_idle(l, s3, 0);
    struct pair a4;
    open_pair(&a4);
    assert_null(kumo_connlimit_admit(l, "10.0.0.1", a4.srv));
    assert_int_equal(kumo_connlimit_refused(l), 1);
    /* Another address is unaffected. */
    assert_int_equal(kumo_connlimit_count(l, "10.0.0.2"), 1);
    kumo_connlimit_release(l, s1);
    kumo_connlimit_release(l, s2);
    kumo_connlimit_release(l, s3);
    kumo_connlimit_release(l, sb);
    assert_int_equal(kumo_connlimit_count(l, NULL), 0);
    kumo_connlimit_free(l);
    close_pair(&a1);
    close_pair(&a2);
    close_pair(&a3);
    close_pair(&a4);
    close_pair(&b1);
}

static void test_total_limit_evicts_longest_idle_of_anyone(void **state)
{
    (void)state;
    struct kumo_connlimit *l;
    assert_int_equal(kumo_connlimit_new(&l, 2, 0), 0);
    struct pair p[3];
    struct kumo_connlimit_slot *s[3];
    for (int i = 0; i < 3; i++)
        open_pair(&p[i]);
    s[0] = kumo_connlimit_admit(l, "10.0.0.1", p[0].srv);
    s[1] = kumo_connlimit_admit(l, "10.0.0.2", p[1].srv);
    kumo_connlimit_set_idle(l, s[0], 0);
    kumo_connlimit_set_idle(l, s[1], 0);
    kumo_connlimit_set_idle(l, s[1], 1); /* idle again: the only idle one */
    s[2] = kumo_connlimit_admit(l, "", p[2].srv);
    assert_non_null(s[2]);
    assert_true(was_evicted(&p[1]));
    assert_false(was_evicted(&p[0]));
    assert_int_equal(kumo_connlimit_count(l, NULL), 2);
    for (int i = 0; i < 3; i++) {
        kumo_connlimit_release(l, s[i]);
        close_pair(&p[i]);
    }
    assert_int_equal(kumo_connlimit_count(l, NULL), 0);
    kumo_connlimit_free(l);
}

static void test_close_idle_spares_busy_and_recently_idle(void **state)
{
    (void)state;
    struct kumo_connlimit *l;
    assert_int_equal(kumo_connlimit_new(&l, 10, 0), 0);
    struct pair p[3];
    struct kumo_connlimit_slot *s[3];
    for (int i = 0; i < 3; i++) {
        open_pair(&p[i]);
        s[i] = kumo_connlimit_admit(l, "10.0.0.1", p[i].srv);
    }
    kumo_connlimit_set_idle(l, s[1], 0); /* busy */
    usleep(20 * 1000);
    kumo_connlimit_set_idle(l, s[2], 0);
    kumo_connlimit_set_idle(l, s[2], 1); /* idle again just now */
    assert_int_equal(kumo_connlimit_close_idle(l, 10 * 1000000LL), 1);
    assert_true(was_evicted(&p[0]));
    assert_false(was_evicted(&p[1]));
    assert_false(was_evicted(&p[2]));
    assert_int_equal(kumo_connlimit_count(l, NULL), 2);
    for (int i = 0; i < 3; i++) {
        kumo_connlimit_release(l, s[i]);
        close_pair(&p[i]);
    }
    kumo_connlimit_free(l);
}

/* After a flood (64 or more connections alive at once) falls to a quarter
 * of its mark, the arenas' free memory is returned once; a small listener
 * never trims. */
static void test_trim_after_a_flood(void **state)
{
    (void)state;
    struct kumo_connlimit *l;
    assert_int_equal(kumo_connlimit_new(&l, 1000, 0), 0);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    struct kumo_connlimit_slot *s[100];
    for (int i = 0; i < 10; i++)
        s[i] = kumo_connlimit_admit(l, "10.0.0.1", fds[0]);
    for (int i = 0; i < 10; i++)
        kumo_connlimit_release(l, s[i]);
    assert_int_equal(kumo_connlimit_trims(l), 0); /* 10: no flood */
    for (int i = 0; i < 100; i++)
        s[i] = kumo_connlimit_admit(l, "10.0.0.1", fds[0]);
    for (int i = 0; i < 74; i++)
        kumo_connlimit_release(l, s[i]);
    assert_int_equal(kumo_connlimit_trims(l), 0); /* 26 alive: above a quarter of 100 */
    kumo_connlimit_release(l, s[74]);
    assert_int_equal(kumo_connlimit_trims(l), 1); /* 25 alive: trimmed, the mark restarts */
    for (int i = 75; i < 100; i++)
        kumo_connlimit_release(l, s[i]);
    assert_int_equal(kumo_connlimit_trims(l), 1); /* the mark was 25: no second trim */
    assert_int_equal(kumo_connlimit_count(l, NULL), 0);
    close(fds[0]);
    close(fds[1]);
    kumo_connlimit_free(l);
}

static void test_bad_size(void **state)
{
    (void)state;
    struct kumo_connlimit *l = NULL;
    assert_int_equal(kumo_connlimit_new(&l, 0, 0), -1);
    assert_null(l);
    kumo_connlimit_free(NULL);
    kumo_connlimit_release(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_address_limit_evicts_that_address_idle_first),
        cmocka_unit_test(test_total_limit_evicts_longest_idle_of_anyone),
        cmocka_unit_test(test_close_idle_spares_busy_and_recently_idle),
        cmocka_unit_test(test_trim_after_a_flood),
        cmocka_unit_test(test_bad_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
