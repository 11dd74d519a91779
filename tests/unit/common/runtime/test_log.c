#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "base/trace.h"
#include "runtime/log.h"

/* ---- helpers: capture lines through a pipe ---- */

static int pipe_fds[2];

static int setup(void **state)
{
    (void)state;
    if (pipe(pipe_fds) != 0)
        return -1;
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    kumo_log_set_fd(pipe_fds[1]);
    kumo_log_init("test", KUMO_LOG_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_log_set_fd(2);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}

/* Reads everything written so far (caller frees). */
static char *drain(void)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], chunk, sizeof chunk)) > 0)
        kumo_buf_append(&b, chunk, (size_t)n);
    return kumo_buf_steal(&b, NULL);
}

/* Reads exactly one line, checks it ends in '\n' and parses it. */
static json_t *one_line(void)
{
    char *text = drain();
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_null(memchr(text, '\n', len - 1)); /* exactly one line */
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", err.text, text);
    kumo_free(text);
    assert_true(json_is_object(j));
    return j;
}

static const char *str_field(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- tests ---- */

/* Counts the lines of `text` and checks each parses as JSON. */
static int count_json_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
        assert_non_null(j);
        json_decref(j);
        n++;
        p = nl + 1;
    }
    return n;
}

/* Held lines are written at the outermost release, whole and in order. */
static void test_log_hold_writes_at_outermost_release(void **state)
{
    (void)state;
    kumo_log_hold();
    kumo_log(KUMO_LOG_INFO, NULL, "one", NULL);
    kumo_log_hold(); /* nested */
    kumo_log(KUMO_LOG_INFO, NULL, "two", NULL);
    kumo_log_release();
    char *text = drain();
    assert_string_equal(text, ""); /* still held */
    kumo_free(text);
    kumo_log(KUMO_LOG_INFO, NULL, "three", NULL);
    kumo_log_release();
    text = drain();
    assert_int_equal(count_json_lines(text), 3);
    const char *one = strstr(text, "\"msg\":\"one\"");
    const char *two = strstr(text, "\"msg\":\"two\"");
    const char *three = strstr(text, "\"msg\":\"three\"");
    assert_true(one && two && three && one < two && two < three);
    kumo_free(text);
    /* Not holding: a line goes at once; a stray release does nothing. */
    kumo_log_release();
    kumo_log(KUMO_LOG_INFO, NULL, "four", NULL);
    text = drain();
    assert_int_equal(count_json_lines(text), 1);
    kumo_free(text);
}

static int first_held_calls;
static void count_first_held(void *arg)
{
    (void)arg;
    first_held_calls++;
}

/* A loop that holds for its life: the hook fires when the first line is
 * held (not for the lines after it), kumo_log_flush writes while the hold
 * goes on, and the next line fires the hook again. */
static void test_log_flush_and_first_held_hook(void **state)
{
    (void)state;
    first_held_calls = 0;
    kumo_log_hold();
    kumo_log_on_first_held(count_first_held, NULL);
    kumo_log(KUMO_LOG_INFO, NULL, "a", NULL);
    kumo_log(KUMO_LOG_INFO, NULL, "b", NULL);
    assert_int_equal(first_held_calls, 1);
    char *text = drain();
    assert_string_equal(text, "");
    kumo_free(text);
    kumo_log_flush();
    text = drain();
    assert_int_equal(count_json_lines(text), 2);
    kumo_free(text);
    kumo_log(KUMO_LOG_INFO, NULL, "c", NULL);
    assert_int_equal(first_held_calls, 2);
    kumo_log_on_first_held(NULL, NULL);
    kumo_log_release();
    text = drain();
    assert_int_equal(count_json_lines(text), 1);
    assert_non_null(strstr(text, "\"msg\":\"c\""));
    kumo_free(text);
    kumo_log_flush(); /* nothing held: nothing written */
    text = drain();
    assert_string_equal(text, "");
    kumo_free(text);
}

/* Held bytes never pass 4096 (PIPE_BUF) in one write, and every write is
 * whole lines; a line longer than that is written alone, after the lines
 * held before it. A SOCK_SEQPACKET pair keeps each write(2) one message. */
static void test_log_hold_writes_whole_lines_in_pipe_sized_writes(void **state)
{
    (void)state;
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
    int size = 1 << 20;
    setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    fcntl(sp[0], F_SETFL, O_NONBLOCK);
    kumo_log_set_fd(sp[1]);
    char value[300];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    char big[6000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    kumo_log_hold();
    for (int i = 0; i < 40; i++)
        kumo_log(KUMO_LOG_INFO, NULL, "held", "v", value, NULL);
    kumo_log(KUMO_LOG_INFO, NULL, "big", "v", big, NULL);
    kumo_log(KUMO_LOG_INFO, NULL, "last", NULL);
    kumo_log_release();
    kumo_log_set_fd(pipe_fds[1]);

    struct kumo_buf all = KUMO_BUF_INIT;
    static char msg[16384];
    ssize_t n;
    int writes = 0, big_writes = 0;
    while ((n = recv(sp[0], msg, sizeof msg, 0)) > 0) {
        writes++;
        assert_int_equal(msg[n - 1], '\n');
        if (n > 4096) {
            big_writes++;
            assert_non_null(memmem(msg, (size_t)n, "\"msg\":\"big\"", 11));
            assert_null(memchr(msg, '\n', (size_t)n - 1)); /* alone */
        }
        kumo_buf_append(&all, msg, (size_t)n);
    }
    close(sp[0]);
    close(sp[1]);
    kumo_buf_append_byte(&all, '\0');
    assert_int_equal(count_json_lines((const char *)all.data), 42);
    assert_int_equal(big_writes, 1);
    assert_true(writes >= 5 && writes < 42); /* batched, within the cap */
    const char *b = strstr((const char *)all.data, "\"msg\":\"big\"");
    const char *l = strstr((const char *)all.data, "\"msg\":\"last\"");
    const char *h = strstr((const char *)all.data, "\"msg\":\"held\"");
    assert_true(h && b && l && h < b && b < l);
    kumo_buf_free(&all);
}

static void test_log_defaults_before_init(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    kumo_log_set_fd(fds[1]);
    kumo_log(KUMO_LOG_DEBUG, NULL, "hidden", NULL); /* default level is info */
    kumo_log(KUMO_LOG_INFO, NULL, "shown", NULL);
    kumo_log_set_fd(2);
    close(fds[1]);
    char buf[1024];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str_field(j, "svc"), "kumo");
    assert_string_equal(str_field(j, "msg"), "shown");
    json_decref(j);
}

static void test_log_line_has_fixed_fields_in_order(void **state)
{
    (void)state;
    kumo_log_init("users", KUMO_LOG_INFO);
    kumo_log(KUMO_LOG_INFO, "req-1", "started", "port", "7101", "mode", "h2c", NULL);
    char *text = drain();
    /* The fixed keys come first, in this order, then the extra fields. */
    assert_non_null(strstr(text, "{\"ts\":\""));
    const char *lv = strstr(text, "\"level\":\"info\"");
    const char *svc = strstr(text, "\"svc\":\"users\"");
    const char *msg = strstr(text, "\"msg\":\"started\"");
    const char *rid = strstr(text, "\"request_id\":\"req-1\"");
    const char *port = strstr(text, "\"port\":\"7101\"");
    assert_true(lv && svc && msg && rid && port);
    assert_true(lv < svc && svc < msg && msg < rid && rid < port);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str_field(j, "mode"), "h2c");
    assert_int_equal(json_object_size(j), 7);
    json_decref(j);
    kumo_free(text);
}

static void test_log_timestamp_is_rfc3339_utc_millis(void **state)
{
    (void)state;
    kumo_log(KUMO_LOG_INFO, NULL, "t", NULL);
    json_t *j = one_line();
    const char *ts = str_field(j, "ts");
    assert_non_null(ts);
    /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(strlen(ts), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < 24; i++) {
        if (shape[i] == 'd')
            assert_true(ts[i] >= '0' && ts[i] <= '9');
        else
            assert_int_equal(ts[i], shape[i]);
    }
    json_decref(j);
}

static void test_log_request_id_omitted_when_null_or_empty(void **state)
{
    (void)state;
    kumo_log(KUMO_LOG_INFO, NULL, "a", NULL);
    json_t *j = one_line();
    assert_null(json_object_get(j, "request_id"));
    json_decref(j);
    kumo_log(KUMO_LOG_INFO, "", "b", NULL);
    j = one_line();
    assert_null(json_object_get(j, "request_id"));
    json_decref(j);
}

static void test_log_filters_below_min_level(void **state)
{
    (void)state;
    kumo_log_init("test", KUMO_LOG_WARN);
    assert_false(kumo_log_enabled(KUMO_LOG_INFO));
    assert_true(kumo_log_enabled(KUMO_LOG_ERROR));
    kumo_log(KUMO_LOG_DEBUG, NULL, "d", NULL);
    kumo_log(KUMO_LOG_INFO, NULL, "i", NULL);
    kumo_logf(KUMO_LOG_INFO, NULL, "i%d", 2);
    kumo_log(KUMO_LOG_WARN, NULL, "w", NULL);
    json_t *j = one_line();
    assert_string_equal(str_field(j, "level"), "warn");
    assert_string_equal(str_field(j, "msg"), "w");
    json_decref(j);
    /* An out-of-range level is treated as an error, never dropped. */
    kumo_log((enum kumo_log_level)42, NULL, "odd", NULL);
    j = one_line();
    assert_string_equal(str_field(j, "level"), "error");
    json_decref(j);
}

static void test_log_escapes_quotes_backslash_controls(void **state)
{
    (void)state;
    const char *nasty = "a\"b\\c\nd\re\tf\x01g\x1fh\x7f";
    kumo_log(KUMO_LOG_INFO, "r\"id", nasty, "k\"ey", nasty, NULL);
    char *text = drain();
    assert_non_null(strstr(text, "\\u0001"));
    assert_non_null(strstr(text, "\\u001f"));
    assert_non_null(strstr(text, "\\n"));
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str_field(j, "msg"), nasty);
    assert_string_equal(str_field(j, "request_id"), "r\"id");
    assert_string_equal(str_field(j, "k\"ey"), nasty);
    json_decref(j);
    kumo_free(text);
}

static void test_log_replaces_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"a\xff"
         "b",
         "a\xef\xbf\xbd"
         "b"},
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                                 /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                 /* surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"x\xe2\x82", "x\xef\xbf\xbd"},           /* truncated at the end: one replacement */
        {"\xe2\x82x", "\xef\xbf\xbdx"},           /* truncated before ASCII */
        {"\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd"}, /* stray continuations */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kumo_log(KUMO_LOG_INFO, NULL, cases[i].in, "v", cases[i].in, NULL);
        json_t *j = one_line(); /* jansson rejects invalid UTF-8: parsing proves validity */
        assert_string_equal(str_field(j, "msg"), cases[i].want);
        assert_string_equal(str_field(j, "v"), cases[i].want);
        json_decref(j);
    }
}

static void test_log_redacts_secret_fields(void **state)
{
    (void)state;
    kumo_log(KUMO_LOG_INFO, NULL, "login", "password", "hunter2", "X-Auth-Token", "abc",
             "Authorization", "Bearer xyz", "db_SECRET", "s", "Cookie", "c=1", "api_key", "k",
             "refresh_token", NULL, "user", "alice",
             /* past the 63 bytes lowercased in one go (log.c) */
             "a_field_name_longer_than_sixty_four_bytes_for_the_slow_path_PassWord_x", "pw2", NULL);
    char *text = drain();
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "Bearer"));
    assert_null(strstr(text, "c=1"));
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    const char *keys[] = {
        "password",      "X-Auth-Token",
        "Authorization", "db_SECRET",
        "Cookie",        "api_key",
        "refresh_token", "a_field_name_longer_than_sixty_four_bytes_for_the_slow_path_PassWord_x"};
    assert_null(strstr(text, "pw2"));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_string_equal(str_field(j, keys[i]), "[redacted]");
    assert_string_equal(str_field(j, "user"), "alice");
    json_decref(j);
    kumo_free(text);
}

static void test_log_fixed_key_collision_is_prefixed(void **state)
{
    (void)state;
    kumo_log(KUMO_LOG_INFO, "rid", "m", "msg", "other", "level", "x", NULL);
    json_t *j = one_line();
    assert_string_equal(str_field(j, "msg"), "m");
    assert_string_equal(str_field(j, "level"), "info");
    assert_string_equal(str_field(j, "field_msg"), "other");
    assert_string_equal(str_field(j, "field_level"), "x");
    json_decref(j);
}

static void test_log_null_value_and_null_msg(void **state)
{
    (void)state;
    kumo_log(KUMO_LOG_INFO, NULL, NULL, "peer", NULL, NULL);
    json_t *j = one_line();
    assert_string_equal(str_field(j, "msg"), "");
    assert_true(json_is_null(json_object_get(j, "peer")));
    json_decref(j);
}

static void test_logf_formats_message(void **state)
{
    (void)state;
    kumo_logf(KUMO_LOG_ERROR, "r9", "listen on %s:%d failed: %s", "0.0.0.0", 7101, "in \"use\"");
    json_t *j = one_line();
    assert_string_equal(str_field(j, "level"), "error");
    assert_string_equal(str_field(j, "msg"), "listen on 0.0.0.0:7101 failed: in \"use\"");
    assert_string_equal(str_field(j, "request_id"), "r9");
    json_decref(j);
}

static void logv_wrapper(const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    kumo_logv(KUMO_LOG_WARN, NULL, msg, ap);
    va_end(ap);
}

static void test_logv_takes_fields_from_va_list(void **state)
{
    (void)state;
    logv_wrapper("wrapped", "a", "1", "b", "2", NULL);
    json_t *j = one_line();
    assert_string_equal(str_field(j, "a"), "1");
    assert_string_equal(str_field(j, "b"), "2");
    json_decref(j);
}

static void test_log_truncates_huge_values(void **state)
{
    (void)state;
    size_t n = 100000;
    char *big = kumo_malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    kumo_log(KUMO_LOG_INFO, NULL, big, NULL);
    json_t *j = one_line();
    const char *msg = str_field(j, "msg");
    assert_non_null(msg);
    assert_true(strlen(msg) < 17000);
    assert_non_null(strstr(msg, "[truncated]"));
    json_decref(j);
    kumo_free(big);
}

static void test_log_init_svc_null_and_long(void **state)
{
    (void)state;
    kumo_log_init(NULL, KUMO_LOG_DEBUG);
    kumo_log(KUMO_LOG_DEBUG, NULL, "x", NULL);
    json_t *j = one_line();
    assert_string_equal(str_field(j, "svc"), "kumo");
    assert_string_equal(str_field(j, "level"), "debug");
    json_decref(j);
    char longname[200];
    memset(longname, 's', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    kumo_log_init(longname, KUMO_LOG_DEBUG);
    kumo_log(KUMO_LOG_DEBUG, NULL, "x", NULL);
    j = one_line();
    assert_int_equal(strlen(str_field(j, "svc")), 63);
    json_decref(j);
    kumo_log_init("test", KUMO_LOG_DEBUG);
}

static void test_log_level_parse_accepts_names_only(void **state)
{
    (void)state;
    enum kumo_log_level l = KUMO_LOG_ERROR;
    assert_int_equal(kumo_log_level_parse("debug", &l), 0);
    assert_int_equal(l, KUMO_LOG_DEBUG);
    assert_int_equal(kumo_log_level_parse("INFO", &l), 0);
    assert_int_equal(l, KUMO_LOG_INFO);
    assert_int_equal(kumo_log_level_parse("warn", &l), 0);
    assert_int_equal(l, KUMO_LOG_WARN);
    assert_int_equal(kumo_log_level_parse("warning", &l), 0);
    assert_int_equal(kumo_log_level_parse("error", &l), 0);
    assert_int_equal(l, KUMO_LOG_ERROR);
    l = KUMO_LOG_INFO;
    const char *bad[] = {"", "verbose", "debug ", "1", "err"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kumo_log_level_parse(bad[i], &l), KUMO_ERR_INVALID);
    assert_int_equal(kumo_log_level_parse(NULL, &l), KUMO_ERR_INVALID);
    assert_int_equal(l, KUMO_LOG_INFO); /* untouched on failure */
    assert_string_equal(kumo_log_level_name(KUMO_LOG_WARN), "warn");
    assert_string_equal(kumo_log_level_name((enum kumo_log_level) - 1), "error");
}

/* ---- concurrency: lines from many threads never interleave ---- */

#define N_THREADS 4
#define N_LINES   400

static void *log_thread(void *arg)
{
    char id[16];
    snprintf(id, sizeof id, "t%d", (int)(intptr_t)arg);
    for (int i = 0; i < N_LINES; i++)
        kumo_log(KUMO_LOG_INFO, id, "concurrent line with some padding to make it longer", "i",
                 "0123456789012345678901234567890123456789", NULL);
    return NULL;
}

struct reader {
    int fd;
    struct kumo_buf out;
};

static void *read_thread(void *arg)
{
    struct reader *r = arg;
    char chunk[8192];
    ssize_t n;
    while ((n = read(r->fd, chunk, sizeof chunk)) > 0)
        kumo_buf_append(&r->out, chunk, (size_t)n);
    return NULL;
}

static void test_log_concurrent_lines_do_not_interleave(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct reader r = {fds[0], KUMO_BUF_INIT};
    pthread_t rt, wt[N_THREADS];
    assert_int_equal(pthread_create(&rt, NULL, read_thread, &r), 0);
    kumo_log_set_fd(fds[1]);
    for (intptr_t i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&wt[i], NULL, log_thread, (void *)i), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(wt[i], NULL);
    kumo_log_set_fd(pipe_fds[1]);
    close(fds[1]);
    pthread_join(rt, NULL);
    close(fds[0]);

    int lines = 0;
    char *save = (char *)r.out.data;
    for (char *line = save; line && *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        if (j == NULL)
            fail_msg("interleaved line: %s", line);
        json_decref(j);
        lines++;
        line = nl + 1;
    }
    assert_int_equal(lines, N_THREADS * N_LINES);
    kumo_buf_free(&r.out);
}

static void test_json_append_string_escapes(void **state)
{
    (void)state;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo__json_append_string(&b, "a\0b\"", 4); /* explicit length: NUL is escaped too */
    assert_string_equal((char *)b.data, "\"a\\u0000b\\\"\"");
    kumo_buf_free(&b);
}

/* Every byte value at every position of a 24-byte run of plain text (the
 * 8-byte fast path and the byte loop at each alignment) is escaped as the
 * byte-by-byte rule says; a byte >= 0x80 alone is invalid UTF-8. */
static void test_json_append_string_escapes_each_byte_anywhere(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char esc[8];
        switch (c) {
        case '"':
            snprintf(esc, sizeof esc, "\\\"");
            break;
        case '\\':
            snprintf(esc, sizeof esc, "\\\\");
            break;
        case '\n':
            snprintf(esc, sizeof esc, "\\n");
            break;
        case '\r':
            snprintf(esc, sizeof esc, "\\r");
            break;
        case '\t':
            snprintf(esc, sizeof esc, "\\t");
            break;
        case '\b':
            snprintf(esc, sizeof esc, "\\b");
            break;
        case '\f':
            snprintf(esc, sizeof esc, "\\f");
            break;
        default:
            if (c >= 0x80)
                snprintf(esc, sizeof esc, "\\ufffd");
            else if (c < 0x20 || c == 0x7F)
                snprintf(esc, sizeof esc, "\\u%04x", c);
            else
                snprintf(esc, sizeof esc, "%c", c);
        }
        for (size_t at = 0; at < 24; at++) {
            char in[24], want[64];
            memset(in, 'a', sizeof in);
            in[at] = (char)c;
            snprintf(want, sizeof want, "\"%.*s%s%.*s\"", (int)at, in, esc, (int)(23 - at),
                     in + at + 1);
            struct kumo_buf b = KUMO_BUF_INIT;
            kumo__json_append_string(&b, in, sizeof in);
            kumo_buf_append_byte(&b, 0);
            if (strcmp((char *)b.data, want) != 0)
                fail_msg("byte 0x%02x at %zu: %s, want %s", c, at, (char *)b.data, want);
            kumo_buf_free(&b);
        }
    }
}

/* Keys are classified once per thread by their text: a reused key buffer
 * with other text is classified again, and more distinct keys than the
 * cache holds (slots shared) keep their own answers. */
static void test_log_key_classes_follow_the_text(void **state)
{
    (void)state;
    char key[16];
    for (int round = 0; round < 3; round++) {
        snprintf(key, sizeof key, "my_token");
        kumo_log(KUMO_LOG_INFO, NULL, "m", key, "v1", NULL);
        json_t *j = one_line();
        assert_string_equal(str_field(j, "my_token"), "[redacted]");
        json_decref(j);
        snprintf(key, sizeof key, "my_tokex"); /* same address, same length */
        kumo_log(KUMO_LOG_INFO, NULL, "m", key, "v2", NULL);
        j = one_line();
        assert_string_equal(str_field(j, "my_tokex"), "v2");
        json_decref(j);
        snprintf(key, sizeof key, "msg"); /* a fixed key now */
        kumo_log(KUMO_LOG_INFO, NULL, "m", key, "v3", NULL);
        j = one_line();
        assert_string_equal(str_field(j, "field_msg"), "v3");
        json_decref(j);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++) {
            char k[32];
            snprintf(k, sizeof k, i % 2 ? "k%d_secret" : "k%d_public", i);
            kumo_log(KUMO_LOG_INFO, NULL, "m", k, "v", NULL);
            json_t *j = one_line();
            assert_string_equal(str_field(j, k), i % 2 ? "[redacted]" : "v");
            json_decref(j);
        }
    }
}

static void test_log_carries_the_current_span(void **state)
{
    (void)state;
    kumo_log(KUMO_LOG_INFO, "r1", "no span", NULL);
    json_t *j = one_line();
    assert_null(json_object_get(j, "trace_id"));
    json_decref(j);
    struct kumo_trace t;
    assert_int_equal(
        kumo_trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL, &t), 0);
    assert_null(kumo_trace_set_current(&t));
    kumo_log(KUMO_LOG_INFO, "r1", "in span", "trace_id", "spoofed", NULL);
    j = one_line();
    assert_string_equal(json_string_value(json_object_get(j, "trace_id")),
                        "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(json_string_value(json_object_get(j, "span_id")), "00f067aa0ba902b7");
    assert_string_equal(json_string_value(json_object_get(j, "field_trace_id")), "spoofed");
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "r1");
    json_decref(j);
    assert_ptr_equal(kumo_trace_set_current(NULL), &t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_defaults_before_init),
        cmocka_unit_test_setup_teardown(test_log_line_has_fixed_fields_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_timestamp_is_rfc3339_utc_millis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_request_id_omitted_when_null_or_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_filters_below_min_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_escapes_quotes_backslash_controls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_replaces_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_redacts_secret_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_fixed_key_collision_is_prefixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_null_value_and_null_msg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logf_formats_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logv_takes_fields_from_va_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_truncates_huge_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_init_svc_null_and_long, setup, teardown),
        cmocka_unit_test(test_log_level_parse_accepts_names_only),
        cmocka_unit_test_setup_teardown(test_log_concurrent_lines_do_not_interleave, setup,
                                        teardown),
        cmocka_unit_test(test_json_append_string_escapes),
        cmocka_unit_test(test_json_append_string_escapes_each_byte_anywhere),
        cmocka_unit_test_setup_teardown(test_log_key_classes_follow_the_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_carries_the_current_span, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_hold_writes_at_outermost_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_flush_and_first_held_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_hold_writes_whole_lines_in_pipe_sized_writes,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
