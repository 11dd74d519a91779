/* Tests of kumo-storage's object event journal (journal.c): the line format
 * round trip and its refusals, durability across a reopen, the torn tail
 * cut at open, compaction keeping the newest events, and the long-poll
 * read (immediate, timed out, woken by an append from another thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "journal.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kumo-journal-test.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/events.journal", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char tmp[160];
    unlink(path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    rmdir(dir);
    return 0;
}

static struct stg_event ev_of(const char *key, int64_t size)
{
    struct stg_event e;
    memset(&e, 0, sizeof e);
    e.type = STG_EV_CREATED_PUT;
    e.size = size;
    e.time_ms = 1765000000000LL + size;
    snprintf(e.etag, sizeof e.etag, "0123456789abcdef0123456789abcdef");
    for (int i = 0; i < 32; i++)
        e.sha256[i] = (uint8_t)(i * 7 + size);
    e.has_sha256 = 1;
    snprintf(e.key, sizeof e.key, "%s", key);
    return e;
}

static void test_format_round_trip(void **state)
{
    (void)state;
    struct stg_event e = ev_of("t/ten_1/d/doc_abc/v12 with space", 42), back;
    e.seq = 7;
    e.type = STG_EV_RESTORE_COMPLETED;
    e.expire_ms = 99;
    struct kumo_buf b = KUMO_BUF_INIT;
    stg_event_format(&e, &b);
    assert_true(b.len > 1 && b.data[b.len - 1] == '\n');
    assert_int_equal(stg_event_parse((const char *)b.data, b.len - 1, &back), 0);
    assert_int_equal(back.seq, 7);
    assert_int_equal(back.type, STG_EV_RESTORE_COMPLETED);
    assert_int_equal(back.size, 42);
    assert_int_equal(back.expire_ms, 99);
    assert_string_equal(back.key, e.key);
    assert_string_equal(back.etag, e.etag);
    assert_true(back.has_sha256 && memcmp(back.sha256, e.sha256, 32) == 0);

    /* Any changed byte breaks the checksum (or the syntax). */
    for (size_t i = 0; i + 1 < b.len; i++) {
        char *copy = kumo_strndup((const char *)b.data, b.len - 1);
        copy[i] = copy[i] == 'x' ? 'y' : 'x';
        assert_int_not_equal(stg_event_parse(copy, b.len - 1, &back), 0);
        kumo_free(copy);
    }
    /* A cut line is refused. */
    assert_int_not_equal(stg_event_parse((const char *)b.data, b.len - 5, &back), 0);
    kumo_buf_free(&b);

    /* No etag, no digest: "-". */
    struct stg_event bare = ev_of("t/a/b", 0);
    bare.seq = 1;
    bare.etag[0] = '\0';
    bare.has_sha256 = 0;
    stg_event_format(&bare, &b);
    assert_non_null(strstr((const char *)b.data, " - - t/a/b "));
    assert_int_equal(stg_event_parse((const char *)b.data, b.len - 1, &back), 0);
    assert_int_equal(back.has_sha256, 0);
    assert_string_equal(back.etag, "");
    kumo_buf_free(&b);
}

static void test_parse_refusals(void **state)
{
    (void)state;
    struct stg_event back;
    const char *bad[] = {"", "1 1 1 1 1 - - ", "x", "1 9 0 0 0 - - t/a/b 00000000",
                         "0 1 0 0 0 - - t/a/b 00000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(stg_event_parse(bad[i], strlen(bad[i]), &back), 0);
    /* One spelling per event: uppercase hex and leading zeros are refused
     * (found by fuzz_storage_journal: they did not format back the same). */
    {
        struct stg_event e0 = ev_of("t/a/b", 5);
        e0.seq = 3;
        struct kumo_buf l = KUMO_BUF_INIT;
        stg_event_format(&e0, &l);
        char *up = kumo_strndup((const char *)l.data, l.len - 1);
        for (char *p = up + l.len - 9; *p; p++)
            if (*p >= 'a' && *p <= 'f')
                *p = (char)(*p - 'a' + 'A');
        assert_int_equal(stg_event_parse((const char *)l.data, l.len - 1, &back), 0);
        if (strcmp(up, (const char *)l.data) != 0)
            assert_int_not_equal(stg_event_parse(up, l.len - 1, &back), 0);
        kumo_free(up);
        kumo_buf_free(&l);
        assert_int_not_equal(stg_event_parse("03 1 0 0 0 - - t/a/b 00000000", 29, &back), 0);
    }
    /* A key that stg_key_check refuses, with a valid checksum. */
    struct stg_event e = ev_of("t/a/../b", 1);
    e.seq = 1;
    struct kumo_buf b = KUMO_BUF_INIT;
    stg_event_format(&e, &b);
    assert_int_not_equal(stg_event_parse((const char *)b.data, b.len - 1, &back), 0);
    kumo_buf_free(&b);
}

static void test_durable_and_torn_tail(void **state)
{
    (void)state;
    struct stg_journal *j;
    assert_int_equal(stg_journal_open(&j, path, 1, 1000), 0);
    for (int i = 1; i <= 5; i++) {
        char key[64];
        snprintf(key, sizeof key, "t/ten/d/doc/v%d", i);
        struct stg_event e = ev_of(key, i);
        assert_int_equal(stg_journal_append(j, &e), 0);
        assert_int_equal(e.seq, i);
    }
    char id[STG_JOURNAL_ID_MAX];
    snprintf(id, sizeof id, "%s", stg_journal_id(j));
    assert_true(strncmp(id, "jrn_", 4) == 0);
    stg_journal_shutdown(j);
    stg_journal_close(j);

    /* A crash in the middle of an append: half a line at the end. */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "6 1 6 17650", 11), 11);
    close(fd);

    assert_int_equal(stg_journal_open(&j, path, 1, 1000), 0);
    assert_string_equal(stg_journal_id(j), id); /* the same journal */
    struct stg_event *out;
    size_t n;
    int64_t first, last;
    stg_journal_read(j, 0, 100, 0, NULL, NULL, &out, &n, &first, &last);
    assert_int_equal(n, 5);
    assert_int_equal(first, 1);
    assert_int_equal(last, 5);
    assert_string_equal(out[4].key, "t/ten/d/doc/v5");
    kumo_free(out);
    /* Appends go on after the cut, with the next seq. */
    struct stg_event e = ev_of("t/ten/d/doc/v6", 6);
    assert_int_equal(stg_journal_append(j, &e), 0);
    assert_int_equal(e.seq, 6);
    stg_journal_read(j, 4, 100, 0, NULL, NULL, &out, &n, &first, &last);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].seq, 5);
    assert_int_equal(out[1].seq, 6);
    kumo_free(out);
    stg_journal_close(j);

    assert_int_equal(stg_journal_open(&j, path, 0, 1000), 0);
    stg_journal_read(j, 0, 2, 0, NULL, NULL, &out, &n, &first, &last);
    assert_int_equal(n, 2); /* page size */
    assert_int_equal(last, 6);
    kumo_free(out);
    stg_journal_close(j);
}

static void test_identity(void **state)
{
    (void)state;
    /* A torn header: a journal that never had events, made anew. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, "#kumo-ev", 8), 8);
    close(fd);
    struct stg_journal *j;
    assert_int_equal(stg_journal_open(&j, path, 0, 1000), 0);
    char id[STG_JOURNAL_ID_MAX];
    snprintf(id, sizeof id, "%s", stg_journal_id(j));
    assert_true(strlen(id) > 4);
    struct stg_event e = ev_of("t/a/b", 1);
    assert_int_equal(stg_journal_append(j, &e), 0);
    assert_int_equal(e.seq, 1);
    stg_journal_close(j);
    /* Another file: another identity, seqs from 1 again. */
    unlink(path);
    assert_int_equal(stg_journal_open(&j, path, 0, 1000), 0);
    assert_string_not_equal(stg_journal_id(j), id);
    e = ev_of("t/a/b", 2);
    assert_int_equal(stg_journal_append(j, &e), 0);
    assert_int_equal(e.seq, 1);
    stg_journal_close(j);
}

static void test_compaction(void **state)
{
    (void)state;
    struct stg_journal *j;
    assert_int_equal(stg_journal_open(&j, path, 0, STG_JOURNAL_KEEP_MIN), 0);
    for (int i = 1; i <= 3 * STG_JOURNAL_KEEP_MIN; i++) {
        struct stg_event e = ev_of("t/ten/d/doc/v1", i);
        assert_int_equal(stg_journal_append(j, &e), 0);
    }
    struct stg_event *out;
    size_t n;
    int64_t first, last;
    stg_journal_read(j, 0, 1000, 0, NULL, NULL, &out, &n, &first, &last);
    assert_int_equal(last, 3 * STG_JOURNAL_KEEP_MIN);
    assert_true(first > 1 && n == (size_t)(last - first + 1) && n <= 2 * STG_JOURNAL_KEEP_MIN);
    assert_int_equal(out[0].seq, first);
    kumo_free(out);
    char id[STG_JOURNAL_ID_MAX];
    snprintf(id, sizeof id, "%s", stg_journal_id(j));
    stg_journal_close(j);
    /* Reopened: the same journal (compaction kept its header), the same
     * range, seqs go on. */
    assert_int_equal(stg_journal_open(&j, path, 0, STG_JOURNAL_KEEP_MIN), 0);
    assert_string_equal(stg_journal_id(j), id);
    int64_t first2, last2;
    stg_journal_read(j, 0, 1000, 0, NULL, NULL, &out, &n, &first2, &last2);
    assert_int_equal(last2, last);
    assert_true(first2 >= first);
    kumo_free(out);
    struct stg_event e = ev_of("t/ten/d/doc/v2", 1);
    assert_int_equal(stg_journal_append(j, &e), 0);
    assert_int_equal(e.seq, last + 1);
    stg_journal_close(j);
}

struct appender {
    struct stg_journal *j;
};

static void *append_later(void *arg)
{
    struct appender *a = arg;
    usleep(200 * 1000);
    struct stg_event e = ev_of("t/ten/d/doc/v9", 9);
    stg_journal_append(a->j, &e);
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_long_poll(void **state)
{
    (void)state;
    struct stg_journal *j;
    assert_int_equal(stg_journal_open(&j, path, 0, 1000), 0);
    struct stg_event *out;
    size_t n;
    int64_t first, last;
    /* Nothing there: waits the whole wait. */
    int64_t t0 = now_ms();
    stg_journal_read(j, 0, 10, 300, NULL, NULL, &out, &n, &first, &last);
    assert_int_equal(n, 0);
    assert_int_equal(last, 0);
    assert_true(now_ms() - t0 >= 290);
    /* Woken by an append long before the wait ends. */
    struct appender a = {j};
    pthread_t th;
    pthread_create(&th, NULL, append_later, &a);
    t0 = now_ms();
    stg_journal_read(j, 0, 10, 10000, NULL, NULL, &out, &n, &first, &last);
    int64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].seq, 1);
    assert_true(took < 2000);
    kumo_free(out);
    /* After shutdown, waits end at once. */
    stg_journal_shutdown(j);
    t0 = now_ms();
    stg_journal_read(j, 1, 10, 10000, NULL, NULL, &out, &n, &first, &last);
    assert_int_equal(n, 0);
    assert_true(now_ms() - t0 < 1000);
    stg_journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test_setup_teardown(test_durable_and_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
