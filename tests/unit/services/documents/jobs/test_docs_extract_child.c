/* jobs/extract_child.c (kumo-documents): the parent side of the sandboxed
 * extractor, against stand-in extractors (small shell scripts named by
 * KUMO_EXTRACT_BIN) that answer well, fail, crash, hang, flood or lie:
 * each run ends within its bounds with the right code and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs/extract_child.h"

static char dir[64];
static int input_fd = -1;

static const char *script(const char *name, const char *body)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
    return path;
}

static struct docs_settings settings(const char *bin)
{
    struct docs_settings s;
    memset(&s, 0, sizeof s);
    s.extract_bin = bin;
    s.extract_ocr_langs = "off";
    s.extract_timeout_ms = 1500;
    s.extract_memory = 1LL << 30;
    s.extract_text_max = 1000;
    s.extract_max_pages = 10;
    s.extract_max_pixels = 1000000;
    s.extract_zip_max = 1 << 20;
    s.thumbnail_size = 64;
    return s;
}

struct run {
    kumo_code rc;
    struct kumo_xf_result r;
    struct kumo_buf err;
    double secs;
};

static void run(const char *bin, struct run *out)
{
    static const volatile int stopping = 0;
    struct docs_settings s = settings(bin);
    memset(out, 0, sizeof *out);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    out->rc = docs__extract_child(&s, "pdf", input_fd, &stopping, &out->r, &out->err, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    out->secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void done(struct run *r)
{
    kumo_xf_result_free(&r->r);
    kumo_buf_free(&r->err);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kumo-xchild.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/input", dir);
    FILE *f = fopen(path, "w");
    fputs("%PDF-1.4 the input", f);
    fclose(f);
    input_fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(input_fd >= 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(input_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_answer(void **state)
{
    (void)state;
    /* Reads its stdin (the file, from the start) and answers in frames;
     * the arguments carry the bounds. */
    const char *bin =
        script("ok", "in=$(cat)\n"
                     "case \"$*\" in *'--text-max 1003'*'--cpu 2'*) ;; *) exit 9;; esac\n"
                     "printf 'T\\000\\000\\000\\022%s' \"$in\"\n"
                     "printf 'P\\000\\000\\000\\004\\000\\000\\000\\002Z\\000\\000\\000\\000'");
    struct run r;
    run(bin, &r);
    assert_int_equal(r.rc, KUMO_CODE_OK);
    assert_int_equal(r.r.text.len, 18);
    assert_memory_equal(r.r.text.data, "%PDF-1.4 the input", 18);
    assert_int_equal(r.r.pages, 2);
    done(&r);
}

static void expect_fail(const char *name, const char *body, kumo_code code, const char *reason,
                        double max_secs)
{
    struct run r;
    run(script(name, body), &r);
    assert_int_equal(r.rc, code);
    assert_non_null(r.err.data);
    if (!strstr((const char *)r.err.data, reason))
        fail_msg("%s: %s lacks %s", name, (const char *)r.err.data, reason);
    if (r.secs > max_secs)
        fail_msg("%s took %.1fs", name, r.secs);
    done(&r);
}

static void test_failures(void **state)
{
    (void)state;
    expect_fail("says", "printf 'E\\000\\000\\000\\010zip bombZ\\000\\000\\000\\000'; exit 1",
                KUMO_CODE_INVALID_ARGUMENT, "extractor: zip bomb", 1.0);
    expect_fail("crash", "echo parser noise >&2; kill -SEGV $$", KUMO_CODE_INTERNAL,
                "crashed (signal 11)", 1.0);
    expect_fail("abort", "kill -ABRT $$", KUMO_CODE_RESOURCE_EXHAUSTED, "out of memory", 1.0);
    expect_fail("cpu", "kill -XCPU $$", KUMO_CODE_RESOURCE_EXHAUSTED, "CPU time limit", 1.0);
    expect_fail("hang", "exec sleep 30", KUMO_CODE_DEADLINE_EXCEEDED, "timed out after 1s", 2.5);
    expect_fail("flood", "exec cat /dev/zero", KUMO_CODE_RESOURCE_EXHAUSTED,
                "wrote more than its limit", 2.5);
    expect_fail("garbage", "printf 'hello'", KUMO_CODE_INTERNAL, "output unreadable", 1.0);
    expect_fail("noend", "printf 'T\\000\\000\\000\\001x'", KUMO_CODE_INTERNAL, "exit status 0",
                1.0);
    expect_fail("toolong", "printf 'T\\000\\000\\017\\377'; head -c 4095 /dev/zero",
                KUMO_CODE_INTERNAL, "text over its limit", 1.0);
    expect_fail("lingers", "exec 1>&-; exec sleep 30", KUMO_CODE_RESOURCE_EXHAUSTED,
                "did not exit after its output", 3.5);
    struct run r;
    run("/nonexistent/kumo-extract", &r);
    assert_int_equal(r.rc, KUMO_CODE_INTERNAL);
    assert_non_null(strstr((const char *)r.err.data, "cannot start the extractor"));
    done(&r);
}

static void test_kinds(void **state)
{
    (void)state;
    assert_string_equal(docs__extract_kind("application/pdf"), "pdf");
    assert_string_equal(docs__extract_kind("application/zip"), "ooxml");
    assert_string_equal(docs__extract_kind("image/png"), "image");
    assert_null(docs__extract_kind("text/plain"));
    assert_null(docs__extract_kind("application/x-executable"));
    struct docs_settings s = settings("off");
    assert_null(docs__extract_bin(&s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_kinds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
