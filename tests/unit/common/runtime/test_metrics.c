#include <math.h>
#include <pthread.h>
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
#include "base/buf.h"
#include "base/errors.h"
#include "runtime/metrics.h"

static int reset(void **state)
{
    (void)state;
    kumo_metrics_reset();
    return 0;
}

static char *render(void)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_metrics_render(&b);
    return kumo_buf_steal(&b, NULL);
}

/* The value of the sample line starting with `series` + ' ', or NAN. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NAN;
}

static size_t count_lines_with(const char *text, const char *prefix)
{
    size_t count = 0, n = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, n) == 0)
            count++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return count;
}

static int is_name_char(char c, int first)
{
    return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (!first && c >= '0' && c <= '9');
}

/* Checks one sample line "name{l="v",...} value" and that a TYPE line for
 * its family came before (histogram samples carry _bucket/_sum/_count). */
static void check_sample_line(const char *line, const char *declared)
{
    const char *p = line;
    while (is_name_char(*p, p == line))
        p++;
    assert_true(p > line);
    char name[256];
    size_t nlen = (size_t)(p - line);
    assert_true(nlen < sizeof name);
    memcpy(name, line, nlen);
    name[nlen] = '\0';
    if (*p == '{') {
        p++;
        while (*p != '}') {
            while (is_name_char(*p, 0))
                p++;
            assert_int_equal(*p++, '=');
            assert_int_equal(*p++, '"');
            while (*p != '"') {
                assert_true(*p != '\0' && *p != '\n');
                if (*p == '\\') {
                    p++;
                    assert_true(*p == '\\' || *p == '"' || *p == 'n');
                }
                p++;
            }
            p++;
            if (*p == ',')
                p++;
        }
        p++;
    }
    assert_int_equal(*p++, ' ');
    char *end;
    strtod(p, &end);
    assert_true(end > p);
    assert_true(*end == '\0');
    /* Family declared? */
    char fam[300];
    snprintf(fam, sizeof fam, "# TYPE %s ", name);
    if (strstr(declared, fam))
        return;
    static const char *suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(suffixes[i]);
        if (nlen > sl && strcmp(name + nlen - sl, suffixes[i]) == 0) {
            snprintf(fam, sizeof fam, "# TYPE %.*s histogram", (int)(nlen - sl), name);
            if (strstr(declared, fam))
                return;
        }
    }
    fail_msg("sample %s has no TYPE line before it", name);
}

/* A small checker for the text exposition format 0.0.4. */
static void check_exposition(char *text)
{
    struct kumo_buf declared = KUMO_BUF_INIT;
    kumo_buf_append_str(&declared, "");
    assert_true(strlen(text) > 0);
    assert_int_equal(text[strlen(text) - 1], '\n');
    char *copy = kumo_strdup(text);
    char *line = copy;
    while (*line) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (strncmp(line, "# HELP ", 7) == 0) {
            /* ok: text is free-form, escaped */
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            const char *t = strrchr(line, ' ') + 1;
            assert_true(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 ||
                        strcmp(t, "histogram") == 0);
            kumo_buf_appendf(&declared, "%s\n", line);
        } else {
            check_sample_line(line, (const char *)declared.data);
        }
        line = nl + 1;
    }
    kumo_free(copy);
    kumo_buf_free(&declared);
}

/* ---- tests ---- */

static void test_metrics_rpc_counts_by_method_and_code(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        kumo_metrics_rpc_started();
    kumo_metrics_rpc_finished("/kumo.users.v1.UserService/GetUser", KUMO_CODE_OK, 0.001);
    kumo_metrics_rpc_finished("/kumo.users.v1.UserService/GetUser", KUMO_CODE_OK, 0.002);
    kumo_metrics_rpc_finished("/kumo.users.v1.UserService/GetUser", KUMO_CODE_NOT_FOUND, 0.003);
    char *t = render();
    check_exposition(t);
    assert_non_null(strstr(t, "# TYPE kumo_rpc_requests_total counter\n"));
    assert_non_null(strstr(t, "# TYPE kumo_rpc_duration_seconds histogram\n"));
    assert_non_null(strstr(t, "# TYPE kumo_rpc_requests_in_flight gauge\n"));
    assert_true(sample(t, "kumo_rpc_requests_in_flight") == 1);
    assert_true(sample(t, "kumo_rpc_requests_total{method=\"/kumo.users.v1.UserService/"
                          "GetUser\",code=\"ok\"}") == 2);
    assert_true(sample(t, "kumo_rpc_requests_total{method=\"/kumo.users.v1.UserService/"
                          "GetUser\",code=\"not_found\"}") == 1);
    /* Codes never seen have no series. */
    assert_null(strstr(t, "code=\"internal\""));
    kumo_free(t);
}

static void test_metrics_histogram_is_cumulative(void **state)
{
    (void)state;
    const char *m = "/a.B/C";
    double obs[] = {0.0003, 0.001 /* inclusive upper bound */, 0.002, 0.02, 3, 100};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        kumo_metrics_rpc_finished(m, KUMO_CODE_OK, obs[i]);
    char *t = render();
    check_exposition(t);
    static const struct {
        const char *le;
        double want;
    } b[] = {{"0.0005", 1}, {"0.001", 2}, {"0.0025", 3}, {"0.005", 3}, {"0.01", 3},
             {"0.025", 4},  {"0.05", 4},  {"0.1", 4},    {"0.25", 4},  {"0.5", 4},
             {"1", 4},      {"2.5", 4},   {"5", 5},      {"10", 5},    {"+Inf", 6}};
    char series[128];
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        snprintf(series, sizeof series,
                 "kumo_rpc_duration_seconds_bucket{method=\"/a.B/C\",le=\"%s\"}", b[i].le);
        double v = sample(t, series);
        if (v != b[i].want)
            fail_msg("%s = %g, want %g", series, v, b[i].want);
    }
    assert_true(sample(t, "kumo_rpc_duration_seconds_count{method=\"/a.B/C\"}") == 6);
    assert_non_null(strstr(t, "kumo_rpc_duration_seconds_sum{method=\"/a.B/C\"} 103.023300000\n"));
    /* Buckets appear in ascending order, +Inf last. */
    const char *p0 = strstr(t, "le=\"0.0005\"");
    const char *p1 = strstr(t, "le=\"10\"");
    const char *p2 = strstr(t, "le=\"+Inf\"");
    assert_true(p0 && p1 && p2 && p0 < p1 && p1 < p2);
    kumo_free(t);
}

static void test_metrics_odd_durations_and_codes(void **state)
{
    (void)state;
    kumo_metrics_rpc_finished("/x.Y/Z", KUMO_CODE_OK, -5);
    kumo_metrics_rpc_finished("/x.Y/Z", KUMO_CODE_OK, NAN);
    kumo_metrics_rpc_finished("/x.Y/Z", (kumo_code)99, INFINITY);
    kumo_metrics_rpc_finished("/x.Y/Z", (kumo_code)-1, 0.0);
    char *t = render();
    check_exposition(t);
    assert_true(sample(t, "kumo_rpc_duration_seconds_bucket{method=\"/x.Y/Z\",le=\"0.0005\"}") ==
                3);
    assert_true(sample(t, "kumo_rpc_duration_seconds_bucket{method=\"/x.Y/Z\",le=\"+Inf\"}") == 4);
    assert_true(sample(t, "kumo_rpc_requests_total{method=\"/x.Y/Z\",code=\"unknown\"}") == 2);
    assert_true(isfinite(sample(t, "kumo_rpc_duration_seconds_sum{method=\"/x.Y/Z\"}")));
    kumo_free(t);
}

static void test_metrics_method_cardinality_is_bounded(void **state)
{
    (void)state;
    char name[64];
    for (int i = 0; i < KUMO_METRICS_MAX_METHODS + 88; i++) {
        snprintf(name, sizeof name, "/p.S/M%d", i);
        kumo_metrics_rpc_finished(name, KUMO_CODE_OK, 0.01);
    }
    /* A method already known keeps its own series after the cap. */
    kumo_metrics_rpc_finished("/p.S/M0", KUMO_CODE_OK, 0.01);
    char *t = render();
    check_exposition(t);
    assert_int_equal(count_lines_with(t, "kumo_rpc_duration_seconds_count{"),
                     KUMO_METRICS_MAX_METHODS + 1);
    assert_true(sample(t, "kumo_rpc_requests_total{method=\"other\",code=\"ok\"}") == 88);
    assert_true(sample(t, "kumo_rpc_requests_total{method=\"/p.S/M0\",code=\"ok\"}") == 2);
    assert_true(sample(t, "kumo_rpc_requests_total{method=\"/p.S/M511\",code=\"ok\"}") == 1);
    assert_true(isnan(sample(t, "kumo_rpc_requests_total{method=\"/p.S/M512\",code=\"ok\"}")));
    kumo_free(t);
}

static void test_metrics_garbage_methods_go_to_other(void **state)
{
    (void)state;
    char longname[KUMO_METRICS_MAX_METHOD_LEN + 10];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"", "/a\nb", "/caf\xc3\xa9", "/\xff", longname};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        kumo_metrics_rpc_finished(bad[i], KUMO_CODE_UNIMPLEMENTED, 0);
    kumo_metrics_rpc_finished(NULL, KUMO_CODE_UNIMPLEMENTED, 0);
    char *t = render();
    check_exposition(t);
    assert_true(sample(t, "kumo_rpc_requests_total{method=\"other\",code=\"unimplemented\"}") == 6);
    assert_int_equal(count_lines_with(t, "kumo_rpc_duration_seconds_count{"), 1);
    kumo_free(t);
}

static void test_metrics_label_values_are_escaped(void **state)
{
    (void)state;
    kumo_metrics_rpc_finished("/a\"b\\c", KUMO_CODE_OK, 0);
    char *t = render();
    check_exposition(t);
    assert_non_null(strstr(t, "kumo_rpc_requests_total{method=\"/a\\\"b\\\\c\",code=\"ok\"} 1\n"));
    kumo_free(t);
}

static void test_metrics_connections(void **state)
{
    (void)state;
    kumo_metrics_connection_opened();
    kumo_metrics_connection_opened();
    kumo_metrics_connection_opened();
    kumo_metrics_connection_closed();
    char *t = render();
    check_exposition(t);
    assert_true(sample(t, "kumo_connections_open") == 2);
    assert_true(sample(t, "kumo_connections_total") == 3);
    assert_non_null(strstr(t, "# TYPE kumo_connections_total counter\n"));
    kumo_free(t);
}

static void test_metrics_named_counters_and_gauges(void **state)
{
    (void)state;
    kumo_metrics_counter_add("kumo_h2_rst_flood_total", "Connections closed for RST floods.", 1);
    kumo_metrics_counter_add("kumo_h2_rst_flood_total", "ignored later help", 4);
    kumo_metrics_counter_add("kumo_weird_help_total", "line1\nback\\slash", 1);
    kumo_metrics_gauge_set("kumo_db_pool_idle", "Idle DB connections.", 7);
    kumo_metrics_gauge_add("kumo_db_pool_idle", NULL, -10);
    char *t = render();
    check_exposition(t);
    assert_non_null(strstr(t,
                           "# HELP kumo_h2_rst_flood_total Connections closed for RST floods.\n"
                           "# TYPE kumo_h2_rst_flood_total counter\nkumo_h2_rst_flood_total 5\n"));
    assert_non_null(strstr(t, "# HELP kumo_weird_help_total line1\\nback\\\\slash\n"));
    assert_non_null(strstr(t, "# TYPE kumo_db_pool_idle gauge\nkumo_db_pool_idle -3\n"));
    assert_null(strstr(t, "ignored later help"));
    kumo_free(t);
}

static void test_metrics_long_help_is_cut(void **state)
{
    (void)state;
    char help[3000];
    memset(help, 'h', sizeof help - 1);
    help[sizeof help - 1] = '\0';
    kumo_metrics_counter_add("kumo_long_help_total", help, 1);
    char *t = render();
    check_exposition(t);
    const char *p = strstr(t, "# HELP kumo_long_help_total ");
    assert_non_null(p);
    p += strlen("# HELP kumo_long_help_total ");
    assert_int_equal(strcspn(p, "\n"), 1024);
    kumo_free(t);
}

static void test_metrics_bad_named_metrics_are_ignored(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "1abc",
                         "a-b",
                         "a b",
                         "caf\xc3\xa9",
                         "kumo_rpc_requests_total",
                         "kumo_rpc_duration_seconds_bucket",
                         "process_start_time_seconds"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        kumo_metrics_counter_add(bad[i], "bad", 1000);
    kumo_metrics_counter_add(NULL, "bad", 1000);
    /* One name, two kinds: the second kind is ignored. */
    kumo_metrics_counter_add("kumo_dual", "first a counter", 2);
    kumo_metrics_gauge_set("kumo_dual", "then a gauge", 99);
    char *t = render();
    check_exposition(t);
    assert_null(strstr(t, " 1000\n"));
    assert_null(strstr(t, "HELP kumo_rpc_requests_total bad"));
    assert_true(sample(t, "kumo_dual") == 2);
    assert_int_equal(count_lines_with(t, "# TYPE kumo_dual "), 1);
    kumo_free(t);
}

static void test_metrics_named_metrics_are_bounded(void **state)
{
    (void)state;
    char name[64];
    for (int i = 0; i < KUMO_METRICS_MAX_NAMED + 50; i++) {
        snprintf(name, sizeof name, "kumo_cap%d_total", i);
        kumo_metrics_counter_add(name, "c", 1);
    }
    char *t = render();
    check_exposition(t);
    assert_int_equal(count_lines_with(t, "kumo_cap"), KUMO_METRICS_MAX_NAMED);
    kumo_free(t);
}

static void test_metrics_process_metrics(void **state)
{
    (void)state;
    char *t = render();
    check_exposition(t);
    assert_true(sample(t, "process_resident_memory_bytes") > 1024 * 1024);
    double start = sample(t, "process_start_time_seconds");
    double now = (double)time(NULL);
    assert_true(start > now - 600 && start <= now + 2);
    assert_true(sample(t, "process_cpu_seconds_total") >= 0);
    kumo_free(t);
}

static void test_metrics_reset_forgets_everything(void **state)
{
    (void)state;
    kumo_metrics_rpc_finished("/a.B/C", KUMO_CODE_OK, 0);
    kumo_metrics_counter_add("kumo_x_total", "x", 1);
    kumo_metrics_connection_opened();
    kumo_metrics_reset();
    char *t = render();
    assert_null(strstr(t, "/a.B/C"));
    assert_null(strstr(t, "kumo_x_total"));
    assert_true(sample(t, "kumo_connections_total") == 0);
    kumo_free(t);
}

/* ---- concurrency ---- */

#define N_THREADS 4
#define N_CALLS   20000

static void *hammer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[64];
    for (int i = 0; i < N_CALLS; i++) {
        /* Mostly hot series, with a stream of new ones racing to be created. */
        if (i % 10 == 0)
            snprintf(name, sizeof name, "/new.S/M%d", (i / 10 + id * 7) % 700);
        else
            snprintf(name, sizeof name, "/hot.S/M%d", i % 8);
        kumo_metrics_rpc_started();
        kumo_metrics_rpc_finished(name, (kumo_code)(i % 3), 0.001 * (i % 50));
        kumo_metrics_counter_add("kumo_hammer_total", "h", 1);
        if (i % 1000 == 0) {
            char *t = render();
            kumo_free(t);
        }
    }
    return NULL;
}

static void test_metrics_concurrent_updates_are_exact(void **state)
{
    (void)state;
    pthread_t th[N_THREADS];
    for (intptr_t i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    char *t = render();
    check_exposition(t);
    assert_true(sample(t, "kumo_rpc_requests_in_flight") == 0);
    assert_true(sample(t, "kumo_hammer_total") == N_THREADS * N_CALLS);
    /* Sum every _count: no observation lost. */
    double total = 0;
    for (const char *p = strstr(t, "kumo_rpc_duration_seconds_count{"); p;
         p = strstr(p + 1, "kumo_rpc_duration_seconds_count{"))
        total += strtod(strchr(p, ' ') + 1, NULL);
    assert_true(total == N_THREADS * N_CALLS);
    assert_true(count_lines_with(t, "kumo_rpc_duration_seconds_count{") <=
                KUMO_METRICS_MAX_METHODS + 1);
    kumo_free(t);
}

static void test_metrics_labelled_counters_share_one_family(void **state)
{
    (void)state;
    const char *ok[] = {"kind", "extract", "outcome", "ok", NULL};
    const char *failed[] = {"kind", "extract", "outcome", "retry", NULL};
    kumo_metrics_counter_addl("kumo_jobs_total", "Jobs.", ok, 2);
    kumo_metrics_counter_addl("kumo_jobs_total", "Jobs.", failed, 1);
    kumo_metrics_counter_addl("kumo_jobs_total", "Jobs.", ok, 3);
    kumo_metrics_gauge_setl("kumo_pool", "Pool.", (const char *[]){"state", "a\"b\\c", NULL}, -4);
    char *t = render();
    check_exposition(t);
    assert_non_null(strstr(t, "# HELP kumo_jobs_total Jobs.\n# TYPE kumo_jobs_total counter\n"
                              "kumo_jobs_total{kind=\"extract\",outcome=\"ok\"} 5\n"
                              "kumo_jobs_total{kind=\"extract\",outcome=\"retry\"} 1\n"));
    assert_non_null(strstr(t, "kumo_pool{state=\"a\\\"b\\\\c\"} -4\n"));
    /* One HELP per family however many series. */
    const char *first = strstr(t, "# HELP kumo_jobs_total");
    assert_null(strstr(first + 1, "# HELP kumo_jobs_total"));
    kumo_free(t);
}

static void test_metrics_labelled_histogram(void **state)
{
    (void)state;
    const char *l[] = {"route", "/api/v1/documents/{id}", NULL};
    kumo_metrics_observe("kumo_req_seconds", "Latency.", l, 0.003);
    kumo_metrics_observe("kumo_req_seconds", "Latency.", l, 20);
    kumo_metrics_observe("kumo_plain_seconds", NULL, NULL, 0.5);
    char *t = render();
    check_exposition(t);
    assert_non_null(strstr(t, "# TYPE kumo_req_seconds histogram\n"));
    assert_true(
        sample(t, "kumo_req_seconds_bucket{route=\"/api/v1/documents/{id}\",le=\"0.0025\"}") == 0);
    assert_true(
        sample(t, "kumo_req_seconds_bucket{route=\"/api/v1/documents/{id}\",le=\"0.005\"}") == 1);
    assert_true(
        sample(t, "kumo_req_seconds_bucket{route=\"/api/v1/documents/{id}\",le=\"+Inf\"}") == 2);
    assert_true(sample(t, "kumo_req_seconds_count{route=\"/api/v1/documents/{id}\"}") == 2);
    assert_true(fabs(sample(t, "kumo_req_seconds_sum{route=\"/api/v1/documents/{id}\"}") - 20.003) <
                1e-6);
    assert_true(sample(t, "kumo_plain_seconds_bucket{le=\"0.5\"}") == 1);
    assert_true(sample(t, "kumo_plain_seconds_count") == 1);
    /* promtool insists on HELP text: an empty one gets a default. */
    assert_non_null(strstr(t, "# HELP kumo_plain_seconds kumo metric\n"));
    kumo_free(t);
}

static void test_metrics_bad_labels_are_dropped(void **state)
{
    (void)state;
    char longv[KUMO_METRICS_MAX_LABEL_LEN + 2];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    const char *const bad[][3] = {
        {"le", "x", NULL}, {"__x", "x", NULL}, {"1a", "x", NULL},       {"a-b", "x", NULL},
        {"a", "", NULL},   {"a", "\n", NULL},  {"a", "\xc3\xa9", NULL}, {"a", longv, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        kumo_metrics_counter_addl("kumo_bad_total", "b", bad[i], 1);
    const char *five[] = {"a", "1", "b", "2", "c", "3", "d", "4", "e", "5", NULL};
    kumo_metrics_counter_addl("kumo_bad_total", "b", five, 1);
    /* Same family, another type: ignored. */
    kumo_metrics_counter_addl("kumo_typed", "t", (const char *[]){"a", "1", NULL}, 1);
    kumo_metrics_gauge_setl("kumo_typed", "t", (const char *[]){"a", "2", NULL}, 9);
    kumo_metrics_observe("kumo_typed", "t", (const char *[]){"a", "3", NULL}, 1);
    char *t = render();
    check_exposition(t);
    assert_null(strstr(t, "kumo_bad_total"));
    assert_non_null(strstr(t, "kumo_typed{a=\"1\"} 1\n"));
    assert_null(strstr(t, "kumo_typed{a=\"2\"}"));
    assert_null(strstr(t, "kumo_typed_bucket"));
    kumo_free(t);
}

static void test_metrics_series_per_family_are_bounded(void **state)
{
    (void)state;
    char v[16];
    for (int i = 0; i < KUMO_METRICS_MAX_FAMILY_SERIES + 50; i++) {
        snprintf(v, sizeof v, "v%d", i);
        kumo_metrics_counter_addl("kumo_wide_total", "w", (const char *[]){"k", v, NULL}, 1);
    }
    char *t = render();
    size_t n = 0;
    for (const char *p = t; (p = strstr(p, "\nkumo_wide_total{")) != NULL; p++)
        n++;
    assert_int_equal(n, KUMO_METRICS_MAX_FAMILY_SERIES);
    kumo_free(t);
}

static int collected;

static void collect(void *ud)
{
    collected++;
    kumo_metrics_gauge_set("kumo_sampled", "Sampled at render.", *(int *)ud);
}

static void test_metrics_collectors_run_at_render(void **state)
{
    (void)state;
    int value = 42;
    collected = 0;
    assert_int_equal(kumo_metrics_collector_add(collect, &value), 0);
    char *t = render();
    assert_int_equal(collected, 1);
    assert_non_null(strstr(t, "kumo_sampled 42\n"));
    kumo_free(t);
    value = 7;
    t = render();
    assert_non_null(strstr(t, "kumo_sampled 7\n"));
    kumo_free(t);
    kumo_metrics_collector_remove(collect, &value);
    t = render();
    assert_int_equal(collected, 2);
    kumo_free(t);
    assert_int_equal(kumo_metrics_collector_add(NULL, NULL), KUMO_ERR_INVALID);
}

static void test_metrics_watch_filesystem(void **state)
{
    (void)state;
    assert_int_equal(kumo_metrics_watch_filesystem("bad\nname", "/"), KUMO_ERR_INVALID);
    assert_int_equal(kumo_metrics_watch_filesystem("tmp", "/tmp"), 0);
    char *t = render();
    check_exposition(t);
    assert_true(sample(t, "kumo_filesystem_size_bytes{volume=\"tmp\"}") > 0);
    assert_true(sample(t, "kumo_filesystem_avail_bytes{volume=\"tmp\"}") >= 0);
    kumo_free(t);
}

/* The lines of `text` that mention "kumo_h_" (caller frees). */
static char *handle_lines(const char *text)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (strstr(line, "kumo_h_"))
            kumo_buf_append(&b, p, n);
        p += n;
    }
    kumo_buf_append_byte(&b, 0);
    return kumo_buf_steal(&b, NULL);
}

static const char *const h_ok[] = {"route",        "/r/{id}", "method", "GET",
                                   "status_class", "2xx",     NULL};
static const char *const h_bad[] = {"route",        "/r/{id}", "method", "GET",
                                    "status_class", "4xx",     NULL};
static const char *const h_route[] = {"route", "/r/{id}", "method", "GET", NULL};

/* The samples both ways record, in the same order. */
static const struct {
    int bad;
    double secs;
} h_samples[] = {{0, 0.003}, {0, 0.2}, {1, 0.0001}, {0, 20}, {1, -1}};

/* Records h_samples by name and labels; returns the kumo_h_ lines. */
static char *record_by_name(void)
{
    kumo_metrics_reset();
    for (size_t i = 0; i < sizeof h_samples / sizeof h_samples[0]; i++) {
        kumo_metrics_counter_addl("kumo_h_total", "Requests.", h_samples[i].bad ? h_bad : h_ok, 1);
        kumo_metrics_observe("kumo_h_seconds", "Latency.", h_route, h_samples[i].secs);
    }
    char *t = render();
    char *lines = handle_lines(t);
    kumo_free(t);
    return lines;
}

/* The same through handles, each looked up on its first sample. */
static char *record_by_handle(void)
{
    kumo_metrics_reset();
    struct kumo_metrics_series *total[2] = {NULL, NULL}, *seconds = NULL;
    for (size_t i = 0; i < sizeof h_samples / sizeof h_samples[0]; i++) {
        int bad = h_samples[i].bad;
        if (!total[bad])
            total[bad] =
                kumo_metrics_counter_series("kumo_h_total", "Requests.", bad ? h_bad : h_ok);
        assert_non_null(total[bad]);
        kumo_metrics_series_add(total[bad], 1);
        if (!seconds)
            seconds = kumo_metrics_histogram_series("kumo_h_seconds", "Latency.", h_route);
        assert_non_null(seconds);
        kumo_metrics_series_observe(seconds, h_samples[i].secs);
    }
    /* A handle of the other kind, or none, records nothing. */
    kumo_metrics_series_observe(total[0], 1);
    kumo_metrics_series_add(seconds, 1);
    kumo_metrics_series_add(NULL, 1);
    kumo_metrics_series_observe(NULL, 1);
    char *t = render();
    char *lines = handle_lines(t);
    kumo_free(t);
    return lines;
}

/* Recording through handles renders exactly what recording by name does;
 * a handle is NULL where the named call would ignore the sample. */
static void test_metrics_series_handles_render_the_same(void **state)
{
    (void)state;
    char *by_name = record_by_name();
    char *by_handle = record_by_handle();
    assert_non_null(strstr(by_name, "kumo_h_total{route=\"/r/{id}\",method=\"GET\","
                                    "status_class=\"2xx\"} 3\n"));
    assert_non_null(strstr(by_name, "kumo_h_seconds_count{route=\"/r/{id}\",method=\"GET\"} 5\n"));
    assert_string_equal(by_handle, by_name);
    kumo_free(by_name);
    kumo_free(by_handle);

    kumo_metrics_gauge_set("kumo_h_gauge", "A gauge.", 1);
    assert_null(kumo_metrics_counter_series("kumo_h_gauge", "Not a counter.", NULL));
    assert_null(kumo_metrics_histogram_series("kumo_h_total", "Not a histogram.", h_ok));
    assert_null(kumo_metrics_counter_series("bad name", "x", NULL));
    assert_null(
        kumo_metrics_counter_series("kumo_h_total", "x", (const char *[]){"le", "1", NULL}));
    /* Looking up again gives the same series. */
    assert_ptr_equal(kumo_metrics_counter_series("kumo_h_total", "Requests.", h_ok),
                     kumo_metrics_counter_series("kumo_h_total", "Requests.", h_ok));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_metrics_rpc_counts_by_method_and_code),
        T(test_metrics_histogram_is_cumulative),
        T(test_metrics_odd_durations_and_codes),
        T(test_metrics_method_cardinality_is_bounded),
        T(test_metrics_garbage_methods_go_to_other),
        T(test_metrics_label_values_are_escaped),
        T(test_metrics_connections),
        T(test_metrics_named_counters_and_gauges),
        T(test_metrics_long_help_is_cut),
        T(test_metrics_bad_named_metrics_are_ignored),
        T(test_metrics_named_metrics_are_bounded),
        T(test_metrics_process_metrics),
        T(test_metrics_reset_forgets_everything),
        T(test_metrics_concurrent_updates_are_exact),
        T(test_metrics_labelled_counters_share_one_family),
        T(test_metrics_labelled_histogram),
        T(test_metrics_bad_labels_are_dropped),
        T(test_metrics_series_per_family_are_bounded),
        T(test_metrics_collectors_run_at_render),
        T(test_metrics_watch_filesystem),
        T(test_metrics_series_handles_render_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
