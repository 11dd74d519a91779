#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/trace.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void test_trace_parse_valid(void **state)
{
    (void)state;
    struct kumo_trace t;
    assert_int_equal(kumo_trace_parse(TP, "congo=t61rcWkgMzE", &t), 0);
    assert_string_equal(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(t.span_id, "00f067aa0ba902b7");
    assert_int_equal(t.flags, 1);
    assert_string_equal(t.tracestate, "congo=t61rcWkgMzE");
    /* A later version may append fields; it is read as version 00. */
    assert_int_equal(
        kumo_trace_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what", NULL, &t),
        0);
    assert_int_equal(t.flags, 0);
}

static void test_trace_parse_rejects_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        NULL,
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* uppercase */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero span */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 with extra */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    };
    struct kumo_trace t;
    memset(&t, 0x7f, sizeof t);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kumo_trace_parse(bad[i], NULL, &t), -1);
    assert_int_equal((unsigned char)t.trace_id[0], 0x7f); /* untouched */
}

static void test_trace_drops_bad_tracestate(void **state)
{
    (void)state;
    struct kumo_trace t;
    char big[KUMO_TRACE_STATE_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(kumo_trace_parse(TP, big, &t), 0);
    assert_string_equal(t.tracestate, "");
    assert_int_equal(kumo_trace_parse(TP, "a=b\r\nx: y", &t), 0);
    assert_string_equal(t.tracestate, "");
}

static void test_trace_child_keeps_trace_new_span(void **state)
{
    (void)state;
    struct kumo_trace parent, child, root;
    kumo_trace_start_from_headers(&child, TP, "k=v");
    assert_string_equal(child.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(child.parent_span_id, "00f067aa0ba902b7");
    assert_int_equal(strlen(child.span_id), 16);
    assert_string_not_equal(child.span_id, "00f067aa0ba902b7");
    assert_string_equal(child.tracestate, "k=v");
    char tp[KUMO_TRACE_PARENT_LEN + 1];
    kumo_trace_format(&child, tp, sizeof tp);
    assert_int_equal(kumo_trace_parse(tp, NULL, &parent), 0);
    assert_string_equal(parent.span_id, child.span_id);
    assert_string_equal(parent.trace_id, child.trace_id);
    /* No or a bad header: a new root. */
    kumo_trace_start_from_headers(&root, "garbage", NULL);
    assert_int_equal(strlen(root.trace_id), 32);
    assert_string_equal(root.parent_span_id, "");
    assert_string_not_equal(root.trace_id, child.trace_id);
    assert_int_equal(root.flags, 1);
}

static void test_trace_current_is_per_thread_and_restorable(void **state)
{
    (void)state;
    struct kumo_trace a, b;
    kumo_trace_start(&a, NULL);
    kumo_trace_start(&b, &a);
    assert_null(kumo_trace_current());
    assert_null(kumo_trace_set_current(&a));
    const struct kumo_trace *prev = kumo_trace_set_current(&b);
    assert_ptr_equal(prev, &a);
    assert_ptr_equal(kumo_trace_current(), &b);
    kumo_trace_set_current(prev);
    assert_ptr_equal(kumo_trace_current(), &a);
    kumo_trace_set_current(NULL);
}

static int exported;

static void count_span(const struct kumo_span_end *e)
{
    assert_string_equal(e->name, "job extract");
    exported++;
}

static void test_trace_end_reaches_the_exporter(void **state)
{
    (void)state;
    struct kumo_trace t;
    kumo_trace_start(&t, NULL);
    struct kumo_span_end e = {&t, "internal", "job extract", "ok", 1, 2};
    kumo_trace_end(&e); /* no exporter: nothing */
    kumo_trace_set_exporter(count_span);
    kumo_trace_end(&e);
    e.span = NULL;
    kumo_trace_end(&e);
    kumo_trace_set_exporter(NULL);
    kumo_trace_end(&e);
    assert_int_equal(exported, 1);
}

/* The exact traceparent text, flags as two hex digits, and truncation
 * to the room given as snprintf would. */
static void test_trace_format_text(void **state)
{
    (void)state;
    struct kumo_trace t;
    memset(&t, 0, sizeof t);
    memcpy(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", 33);
    memcpy(t.span_id, "00f067aa0ba902b7", 17);
    t.flags = 0x01;
    char tp[KUMO_TRACE_PARENT_LEN + 1];
    kumo_trace_format(&t, tp, sizeof tp);
    assert_string_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    t.flags = 0xa0;
    kumo_trace_format(&t, tp, sizeof tp);
    assert_string_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-a0");
    char small[10];
    kumo_trace_format(&t, small, sizeof small);
    assert_string_equal(small, "00-4bf92f");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_format_text),
        cmocka_unit_test(test_trace_parse_valid),
        cmocka_unit_test(test_trace_parse_rejects_malformed),
        cmocka_unit_test(test_trace_drops_bad_tracestate),
        cmocka_unit_test(test_trace_child_keeps_trace_new_span),
        cmocka_unit_test(test_trace_current_is_per_thread_and_restorable),
        cmocka_unit_test(test_trace_end_reaches_the_exporter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
