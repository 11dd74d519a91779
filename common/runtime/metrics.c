#include "runtime/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"

/* ---- series tables ----
 * Open addressing, never shrinking (except kumo_metrics_reset): readers probe
 * without a lock, a writer inserts under `lock` and publishes the slot with a
 * release store after the entry is complete. */

#define N_BUCKETS    14
#define METHOD_SLOTS 1024 /* power of two, > 2 * (KUMO_METRICS_MAX_METHODS + 1) */
#define NAMED_SLOTS  512  /* power of two, >= 2 * KUMO_METRICS_MAX_NAMED */
#define MAX_NAME_LEN 200
#define MAX_HELP_LEN 1024
#define OTHER_METHOD "other"

static const double bucket_bounds[N_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
static const char *const bucket_labels[N_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10",
};

struct method_series {
    char *name;
    uint64_t hash;
    _Atomic uint64_t codes[KUMO_CODE_MAX + 1];
    _Atomic uint64_t buckets[N_BUCKETS + 1]; /* not cumulative; the last is +Inf */
    _Atomic uint64_t sum_ns;
};

enum named_kind { NAMED_COUNTER, NAMED_GAUGE };

struct named_metric {
    char *name;
    char *help;
    uint64_t hash;
    enum named_kind kind;
    _Atomic uint64_t value; /* gauges keep an int64 in two's complement */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic(struct method_series *) method_slots[METHOD_SLOTS];
static struct method_series *method_order[KUMO_METRICS_MAX_METHODS + 1];
static atomic_size_t method_count;
static size_t regular_methods; /* methods other than "other"; under `lock` */

static _Atomic(struct named_metric *) named_slots[NAMED_SLOTS];
static struct named_metric *named_order[KUMO_METRICS_MAX_NAMED];
static atomic_size_t named_count;

static _Atomic int64_t rpc_in_flight;
static _Atomic int64_t conns_open;
static _Atomic uint64_t conns_total;

static const char *const builtin_names[] = {
    "kumo_rpc_requests_in_flight",   "kumo_rpc_requests_total",
    "kumo_rpc_duration_seconds",     "kumo_rpc_duration_seconds_bucket",
    "kumo_rpc_duration_seconds_sum", "kumo_rpc_duration_seconds_count",
    "kumo_connections_open",         "kumo_connections_total",
    "process_resident_memory_bytes", "process_start_time_seconds",
    "process_cpu_seconds_total",
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- RPC methods ---- */

static struct method_series *probe_method(const char *name, uint64_t h)
{
    for (size_t i = 0; i < METHOD_SLOTS; i++) {
        struct method_series *m =
            atomic_load_explicit(&method_slots[(h + i) & (METHOD_SLOTS - 1)], memory_order_acquire);
        if (m == NULL)
            return NULL;
        if (m->hash == h && strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

/* Inserts `name` (caller holds `lock` and checked it is absent). */
static struct method_series *insert_method_locked(const char *name, uint64_t h)
{
    struct method_series *m = kumo_calloc(1, sizeof *m);
    m->name = kumo_strdup(name);
    m->hash = h;
    size_t slot = h & (METHOD_SLOTS - 1);
    while (atomic_load_explicit(&method_slots[slot], memory_order_relaxed) != NULL)
        slot = (slot + 1) & (METHOD_SLOTS - 1);
    size_t n = atomic_load_explicit(&method_count, memory_order_relaxed);
    method_order[n] = m;
    atomic_store_explicit(&method_slots[slot], m, memory_order_release);
    atomic_store_explicit(&method_count, n + 1, memory_order_release);
    return m;
}

static struct method_series *other_method(void);

static struct method_series *find_or_add_method(const char *name, int is_other)
{
    uint64_t h = hash_str(name);
    struct method_series *m = probe_method(name, h);
    if (m)
        return m;
    pthread_mutex_lock(&lock);
    m = probe_method(name, h);
    /* "other" itself may always be added: the table has room for it. */
    if (m == NULL && (is_other || regular_methods < KUMO_METRICS_MAX_METHODS)) {
        m = insert_method_locked(name, h);
        regular_methods += !is_other;
    }
    pthread_mutex_unlock(&lock);
    return m ? m : other_method();
}

static struct method_series *other_method(void)
{
    return find_or_add_method(OTHER_METHOD, 1);
}

/* Only printable ASCII method names of sane length get their own series: a
 * label value must be valid UTF-8, and garbage from clients belongs in
 * "other" anyway. */
static int method_label_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= KUMO_METRICS_MAX_METHOD_LEN || c < 0x20 || c > 0x7e)
            return 0;
    }
    return n > 0;
}

void kumo_metrics_rpc_started(void)
{
    atomic_fetch_add_explicit(&rpc_in_flight, 1, memory_order_relaxed);
}

static size_t bucket_index(double seconds)
{
    for (size_t i = 0; i < N_BUCKETS; i++) {
        if (seconds <= bucket_bounds[i])
            return i;
    }
    return N_BUCKETS;
}

struct kumo_metrics_method *kumo_metrics_method(const char *method)
{
    struct method_series *m =
        method && method_label_ok(method) ? find_or_add_method(method, 0) : other_method();
    return (struct kumo_metrics_method *)m;
}

void kumo_metrics_rpc_finished_at(struct kumo_metrics_method *handle, kumo_code code,
                                  double seconds)
{
    struct method_series *m = (struct method_series *)handle;
    atomic_fetch_sub_explicit(&rpc_in_flight, 1, memory_order_relaxed);
    unsigned c = (unsigned)code > KUMO_CODE_MAX ? KUMO_CODE_UNKNOWN : (unsigned)code;
    if (!(seconds > 0)) /* negative or NaN */
        seconds = 0;
    if (seconds > 1e7)
        seconds = 1e7;
    atomic_fetch_add_explicit(&m->codes[c], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->buckets[bucket_index(seconds)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns, (uint64_t)(seconds * 1e9 + 0.5), memory_order_relaxed);
}

void kumo_metrics_rpc_finished(const char *method, kumo_code code, double seconds)
{
    kumo_metrics_rpc_finished_at(kumo_metrics_method(method), code, seconds);
}

void kumo_metrics_connection_opened(void)
{
    atomic_fetch_add_explicit(&conns_open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&conns_total, 1, memory_order_relaxed);
}

void kumo_metrics_connection_closed(void)
{
    atomic_fetch_sub_explicit(&conns_open, 1, memory_order_relaxed);
}

/* ---- named counters and gauges ---- */

static int metric_name_ok(const char *s)
{
    if (s == NULL ||
        !(*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
        if (!ok || n >= MAX_NAME_LEN)
            return 0;
    }
    for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++) {
        if (strcmp(s, builtin_names[i]) == 0)
            return 0;
    }
    return 1;
}

static struct named_metric *probe_named(const char *name, uint64_t h)
{
    for (size_t i = 0; i < NAMED_SLOTS; i++) {
        struct named_metric *m =
            atomic_load_explicit(&named_slots[(h + i) & (NAMED_SLOTS - 1)], memory_order_acquire);
        if (m == NULL)
            return NULL;
        if (m->hash == h && strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

static struct named_metric *insert_named_locked(const char *name, const char *help, uint64_t h,
                                                enum named_kind kind)
{
    struct named_metric *m = kumo_calloc(1, sizeof *m);
    m->name = kumo_strdup(name);
    help = help ? help : "";
    m->help = kumo_strndup(help, strnlen(help, MAX_HELP_LEN)); /* strndup copies n bytes */
    m->hash = h;
    m->kind = kind;
    size_t slot = h & (NAMED_SLOTS - 1);
    while (atomic_load_explicit(&named_slots[slot], memory_order_relaxed) != NULL)
        slot = (slot + 1) & (NAMED_SLOTS - 1);
    size_t n = atomic_load_explicit(&named_count, memory_order_relaxed);
    named_order[n] = m;
    atomic_store_explicit(&named_slots[slot], m, memory_order_release);
    atomic_store_explicit(&named_count, n + 1, memory_order_release);
    return m;
}

/* Returns the metric `name` of `kind`, creating it; NULL if the name is
 * invalid, taken by the other kind, or the table is full. */
static struct named_metric *find_or_add_named(const char *name, const char *help,
                                              enum named_kind kind)
{
    if (!metric_name_ok(name))
        return NULL;
    uint64_t h = hash_str(name);
    struct named_metric *m = probe_named(name, h);
    if (m == NULL) {
        pthread_mutex_lock(&lock);
        m = probe_named(name, h);
        if (m == NULL &&
            atomic_load_explicit(&named_count, memory_order_relaxed) < KUMO_METRICS_MAX_NAMED)
            m = insert_named_locked(name, help, h, kind);
        pthread_mutex_unlock(&lock);
    }
    return m && m->kind == kind ? m : NULL;
}

void kumo_metrics_counter_add(const char *name, const char *help, uint64_t v)
{
    struct named_metric *m = find_or_add_named(name, help, NAMED_COUNTER);
    if (m)
        atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}

void kumo_metrics_gauge_set(const char *name, const char *help, int64_t v)
{
    struct named_metric *m = find_or_add_named(name, help, NAMED_GAUGE);
    if (m)
        atomic_store_explicit(&m->value, (uint64_t)v, memory_order_relaxed);
}

void kumo_metrics_gauge_add(const char *name, const char *help, int64_t delta)
{
    struct named_metric *m = find_or_add_named(name, help, NAMED_GAUGE);
    if (m)
        atomic_fetch_add_explicit(&m->value, (uint64_t)delta, memory_order_relaxed);
}

/* ---- process metrics (Linux /proc) ---- */

static long read_small_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

static int resident_bytes(uint64_t *out)
{
    char buf[256];
    unsigned long long size, resident;
    if (read_small_file("/proc/self/statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return -1;
    *out = resident * (uint64_t)sysconf(_SC_PAGESIZE);
    return 0;
}

/* Field `idx` (0 = the state field, the 3rd of proc(5)) of /proc/self/stat,
 * counted after the command name, which may itself hold spaces and ')'. */
static int self_stat_field(int idx, unsigned long long *out)
{
    char buf[1024];
    if (read_small_file("/proc/self/stat", buf, sizeof buf) <= 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    p++;
    for (int i = 0; i <= idx; i++) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return -1;
        if (i == idx)
            return sscanf(p, "%llu", out) == 1 ? 0 : -1;
        while (*p && *p != ' ')
            p++;
    }
    return -1;
}

static int boot_time(unsigned long long *out)
{
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return -1;
    char line[512];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "btime %llu", out) == 1) {
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int cpu_seconds(double *out)
{
    unsigned long long utime, stime;
    if (self_stat_field(11, &utime) || self_stat_field(12, &stime))
        return -1;
    *out = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static double start_time = -1;

static void compute_start_time(void)
{
    unsigned long long ticks, btime;
    if (self_stat_field(19, &ticks) == 0 && boot_time(&btime) == 0)
        start_time = (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* ---- rendering ---- */

static void append_escaped_label(struct kumo_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            kumo_buf_append(out, "\\\\", 2);
        else if (*s == '"')
            kumo_buf_append(out, "\\\"", 2);
        else if (*s == '\n')
            kumo_buf_append(out, "\\n", 2);
        else
            kumo_buf_append_byte(out, (uint8_t)*s);
    }
}

static void append_help(struct kumo_buf *out, const char *name, const char *help, const char *type)
{
    kumo_buf_appendf(out, "# HELP %s ", name);
    for (; *help; help++) {
        if (*help == '\\')
            kumo_buf_append(out, "\\\\", 2);
        else if (*help == '\n')
            kumo_buf_append(out, "\\n", 2);
        else
            kumo_buf_append_byte(out, (uint8_t)*help);
    }
    kumo_buf_appendf(out, "\n# TYPE %s %s\n", name, type);
}

static void render_requests(struct kumo_buf *out, size_t n)
{
    append_help(out, "kumo_rpc_requests_total", "RPCs finished, by method and Connect code.",
                "counter");
    for (size_t i = 0; i < n; i++) {
        struct method_series *m = method_order[i];
        for (int c = 0; c <= KUMO_CODE_MAX; c++) {
            uint64_t v = atomic_load_explicit(&m->codes[c], memory_order_relaxed);
            if (v == 0)
                continue;
            kumo_buf_append_str(out, "kumo_rpc_requests_total{method=\"");
            append_escaped_label(out, m->name);
            kumo_buf_appendf(out, "\",code=\"%s\"} %llu\n", kumo_code_name((kumo_code)c),
                             (unsigned long long)v);
        }
    }
}

static void render_histogram(struct kumo_buf *out, const struct method_series *m)
{
    uint64_t cum = 0;
    for (int b = 0; b <= N_BUCKETS; b++) {
        cum += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        kumo_buf_append_str(out, "kumo_rpc_duration_seconds_bucket{method=\"");
        append_escaped_label(out, m->name);
        kumo_buf_appendf(out, "\",le=\"%s\"} %llu\n", b < N_BUCKETS ? bucket_labels[b] : "+Inf",
                         (unsigned long long)cum);
    }
    uint64_t ns = atomic_load_explicit(&m->sum_ns, memory_order_relaxed);
    kumo_buf_append_str(out, "kumo_rpc_duration_seconds_sum{method=\"");
    append_escaped_label(out, m->name);
    kumo_buf_appendf(out, "\"} %llu.%09llu\n", (unsigned long long)(ns / 1000000000u),
                     (unsigned long long)(ns % 1000000000u));
    /* _count is the +Inf bucket as read, so the two always agree. */
    kumo_buf_append_str(out, "kumo_rpc_duration_seconds_count{method=\"");
    append_escaped_label(out, m->name);
    kumo_buf_appendf(out, "\"} %llu\n", (unsigned long long)cum);
}

static void render_rpc(struct kumo_buf *out)
{
    size_t n = atomic_load_explicit(&method_count, memory_order_acquire);
    append_help(out, "kumo_rpc_requests_in_flight", "RPCs being served.", "gauge");
    kumo_buf_appendf(out, "kumo_rpc_requests_in_flight %lld\n",
                     (long long)atomic_load_explicit(&rpc_in_flight, memory_order_relaxed));
    render_requests(out, n);
    append_help(out, "kumo_rpc_duration_seconds",
                "RPC duration from request headers to the end of the response, by method.",
                "histogram");
    for (size_t i = 0; i < n; i++)
        render_histogram(out, method_order[i]);
}

static void render_connections(struct kumo_buf *out)
{
    append_help(out, "kumo_connections_open", "Client connections open.", "gauge");
    kumo_buf_appendf(out, "kumo_connections_open %lld\n",
                     (long long)atomic_load_explicit(&conns_open, memory_order_relaxed));
    append_help(out, "kumo_connections_total", "Client connections accepted.", "counter");
    kumo_buf_appendf(out, "kumo_connections_total %llu\n",
                     (unsigned long long)atomic_load_explicit(&conns_total, memory_order_relaxed));
}

static void render_named(struct kumo_buf *out)
{
    size_t n = atomic_load_explicit(&named_count, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        const struct named_metric *m = named_order[i];
        uint64_t v = atomic_load_explicit(&m->value, memory_order_relaxed);
        if (m->kind == NAMED_COUNTER) {
            append_help(out, m->name, m->help, "counter");
            kumo_buf_appendf(out, "%s %llu\n", m->name, (unsigned long long)v);
        } else {
            append_help(out, m->name, m->help, "gauge");
            kumo_buf_appendf(out, "%s %lld\n", m->name, (long long)(int64_t)v);
        }
    }
}

static void render_process(struct kumo_buf *out)
{
    uint64_t rss;
    double cpu;
    if (resident_bytes(&rss) == 0) {
        append_help(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                    "gauge");
        kumo_buf_appendf(out, "process_resident_memory_bytes %llu\n", (unsigned long long)rss);
    }
    pthread_once(&start_once, compute_start_time);
    if (start_time >= 0) {
        append_help(out, "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.", "gauge");
        kumo_buf_appendf(out, "process_start_time_seconds %.2f\n", start_time);
    }
    if (cpu_seconds(&cpu) == 0) {
        append_help(out, "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.", "counter");
        kumo_buf_appendf(out, "process_cpu_seconds_total %.2f\n", cpu);
    }
}

void kumo_metrics_render(struct kumo_buf *out)
{
    render_rpc(out);
    render_connections(out);
    render_named(out);
    render_process(out);
}

void kumo_metrics_reset(void)
{
    pthread_mutex_lock(&lock);
    size_t n = atomic_load(&method_count);
    for (size_t i = 0; i < n; i++) {
        kumo_free(method_order[i]->name);
        kumo_free(method_order[i]);
        method_order[i] = NULL;
    }
    for (size_t i = 0; i < METHOD_SLOTS; i++)
        atomic_store(&method_slots[i], NULL);
    atomic_store(&method_count, 0);
    regular_methods = 0;
    n = atomic_load(&named_count);
    for (size_t i = 0; i < n; i++) {
        kumo_free(named_order[i]->name);
        kumo_free(named_order[i]->help);
        kumo_free(named_order[i]);
        named_order[i] = NULL;
    }
    for (size_t i = 0; i < NAMED_SLOTS; i++)
        atomic_store(&named_slots[i], NULL);
    atomic_store(&named_count, 0);
    atomic_store(&rpc_in_flight, 0);
    atomic_store(&conns_open, 0);
    atomic_store(&conns_total, 0);
    pthread_mutex_unlock(&lock);
}
