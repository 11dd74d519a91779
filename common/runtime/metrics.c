#include "runtime/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/alloc.h"

/* ---- series tables ----
 * Open addressing, never shrinking (except kumo_metrics_reset): readers probe
 * without a lock, a writer inserts under `lock` and publishes the slot with a
 * release store after the entry is complete. */

#define N_BUCKETS    14
#define METHOD_SLOTS 1024 /* power of two, > 2 * (KUMO_METRICS_MAX_METHODS + 1) */
#define FAMILY_SLOTS 512  /* power of two, >= 2 * KUMO_METRICS_MAX_NAMED */
#define SERIES_SLOTS 8192 /* power of two, >= 2 * KUMO_METRICS_MAX_SERIES */
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

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic(struct method_series *) method_slots[METHOD_SLOTS];
static struct method_series *method_order[KUMO_METRICS_MAX_METHODS + 1];
static atomic_size_t method_count;
static size_t regular_methods; /* methods other than "other"; under `lock` */

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

/* ---- named families: counters, gauges, histograms, with labels ----
 * A family (one metric name, one HELP and TYPE) holds series, one per label
 * set. Series are found by their full key "name{k="v",...}" in an
 * open-addressing table like the methods; a family's series form a list
 * appended under `lock` and published with a release store, so rendering
 * walks them without the lock. */

enum named_kind { NAMED_COUNTER, NAMED_GAUGE, NAMED_HISTOGRAM };

struct named_family;

struct named_series {
    struct named_family *fam;
    char *key;    /* name{labels}: the table key */
    char *labels; /* k="v",k2="v2" (escaped), or "" */
    uint64_t hash;
    _Atomic uint64_t value;                  /* gauges keep an int64 in two's complement */
    _Atomic uint64_t buckets[N_BUCKETS + 1]; /* histograms only; the last is +Inf */
    _Atomic uint64_t sum_ns;
    _Atomic(struct named_series *) next;
};

struct named_family {
    char *name;
    char *help;
    uint64_t hash;
    enum named_kind kind;
    size_t n_series; /* under `lock` */
    _Atomic(struct named_series *) head;
    struct named_series *tail; /* under `lock` */
};

static _Atomic(struct named_family *) family_slots[FAMILY_SLOTS];
static struct named_family *family_order[KUMO_METRICS_MAX_NAMED];
static atomic_size_t family_count;

static _Atomic(struct named_series *) series_slots[SERIES_SLOTS];
static struct named_series *series_order[KUMO_METRICS_MAX_SERIES];
static atomic_size_t series_count;

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

/* Label names: [a-zA-Z_][a-zA-Z0-9_]*, not reserved ("__..." and "le",
 * which histograms use). */
static int label_name_ok(const char *s)
{
    if (s == NULL || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    if (strncmp(s, "__", 2) == 0 || strcmp(s, "le") == 0)
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')) ||
            n >= 64)
            return 0;
    }
    return 1;
}

/* Label values: printable ASCII of bounded length. They come from code
 * (a route template, a job kind), never from a client; a value that fails
 * this is a bug in the caller and the sample is dropped. */
static int label_value_ok(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c < 0x20 || c > 0x7e || n >= KUMO_METRICS_MAX_LABEL_LEN)
            return 0;
    }
    return n > 0;
}

static void append_escaped_label(struct kumo_buf *out, const char *s);

/* Renders `labels` (name, value pairs ending with NULL; NULL = none) as
 * k="v",... into `out`; returns 0, or -1 if a pair is invalid. */
static int render_labels(struct kumo_buf *out, const char *const *labels)
{
    if (labels == NULL)
        return 0;
    size_t i = 0;
    for (; labels[i]; i += 2) {
        if (i / 2 >= KUMO_METRICS_MAX_LABELS || !label_name_ok(labels[i]) ||
            !label_value_ok(labels[i + 1]))
            return -1;
        if (i > 0)
            kumo_buf_append_byte(out, ',');
        kumo_buf_append_str(out, labels[i]);
        kumo_buf_append(out, "=\"", 2);
        append_escaped_label(out, labels[i + 1]);
        kumo_buf_append_byte(out, '"');
    }
    return 0;
}

static struct named_family *probe_family(const char *name, uint64_t h)
{
    for (size_t i = 0; i < FAMILY_SLOTS; i++) {
        struct named_family *f =
            atomic_load_explicit(&family_slots[(h + i) & (FAMILY_SLOTS - 1)], memory_order_acquire);
        if (f == NULL)
            return NULL;
        if (f->hash == h && strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

static struct named_series *probe_series(const char *key, uint64_t h)
{
    for (size_t i = 0; i < SERIES_SLOTS; i++) {
        struct named_series *s =
            atomic_load_explicit(&series_slots[(h + i) & (SERIES_SLOTS - 1)], memory_order_acquire);
        if (s == NULL)
            return NULL;
        if (s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
    return NULL;
}

/* Caller holds `lock`; returns the family `name` of `kind`, creating it,
 * or NULL (other kind, table full). */
static struct named_family *family_locked(const char *name, const char *help, enum named_kind kind)
{
    uint64_t h = hash_str(name);
    struct named_family *f = probe_family(name, h);
    if (f)
        return f->kind == kind ? f : NULL;
    size_t n = atomic_load_explicit(&family_count, memory_order_relaxed);
    if (n >= KUMO_METRICS_MAX_NAMED)
        return NULL;
    f = kumo_calloc(1, sizeof *f);
    f->name = kumo_strdup(name);
    /* promtool wants HELP text on every family. */
    help = help && *help ? help : "kumo metric";
    f->help = kumo_strndup(help, strnlen(help, MAX_HELP_LEN)); /* strndup copies n bytes */
    f->hash = h;
    f->kind = kind;
    size_t slot = h & (FAMILY_SLOTS - 1);
    while (atomic_load_explicit(&family_slots[slot], memory_order_relaxed) != NULL)
        slot = (slot + 1) & (FAMILY_SLOTS - 1);
    family_order[n] = f;
    atomic_store_explicit(&family_slots[slot], f, memory_order_release);
    atomic_store_explicit(&family_count, n + 1, memory_order_release);
    return f;
}

static struct named_series *insert_series_locked(struct named_family *f, const char *key,
                                                 uint64_t h, size_t name_len)
{
    size_t n = atomic_load_explicit(&series_count, memory_order_relaxed);
    if (n >= KUMO_METRICS_MAX_SERIES || f->n_series >= KUMO_METRICS_MAX_FAMILY_SERIES)
        return NULL;
    struct named_series *s = kumo_calloc(1, sizeof *s);
    s->fam = f;
    s->key = kumo_strdup(key);
    s->hash = h;
    /* key is name{labels} or name alone */
    s->labels = key[name_len] == '{' ? kumo_strndup(key + name_len + 1, strlen(key) - name_len - 2)
                                     : kumo_strdup("");
    size_t slot = h & (SERIES_SLOTS - 1);
    while (atomic_load_explicit(&series_slots[slot], memory_order_relaxed) != NULL)
        slot = (slot + 1) & (SERIES_SLOTS - 1);
    series_order[n] = s;
    if (f->tail)
        atomic_store_explicit(&f->tail->next, s, memory_order_release);
    else
        atomic_store_explicit(&f->head, s, memory_order_release);
    f->tail = s;
    f->n_series++;
    atomic_store_explicit(&series_slots[slot], s, memory_order_release);
    atomic_store_explicit(&series_count, n + 1, memory_order_release);
    return s;
}

/* Returns the series of `name` with `labels`, creating family and series;
 * NULL when anything is invalid or a bound is reached. */
static struct named_series *find_or_add_series(const char *name, const char *help,
                                               const char *const *labels, enum named_kind kind)
{
    if (!metric_name_ok(name))
        return NULL;
    struct kumo_buf key = KUMO_BUF_INIT;
    size_t name_len = strlen(name);
    kumo_buf_append(&key, name, name_len);
    if (labels && labels[0]) {
        kumo_buf_append_byte(&key, '{');
        if (render_labels(&key, labels) != 0) {
            kumo_buf_free(&key);
            return NULL;
        }
        kumo_buf_append_byte(&key, '}');
    }
    kumo_buf_append_byte(&key, '\0');
    const char *k = (const char *)key.data;
    uint64_t h = hash_str(k);
    struct named_series *s = probe_series(k, h);
    if (s == NULL) {
        pthread_mutex_lock(&lock);
        s = probe_series(k, h);
        if (s == NULL) {
            struct named_family *f = family_locked(name, help, kind);
            if (f)
                s = insert_series_locked(f, k, h, name_len);
        }
        pthread_mutex_unlock(&lock);
    }
    kumo_buf_free(&key);
    return s && s->fam->kind == kind ? s : NULL;
}

void kumo_metrics_counter_addl(const char *name, const char *help, const char *const *labels,
                               uint64_t v)
{
    struct named_series *s = find_or_add_series(name, help, labels, NAMED_COUNTER);
    if (s)
        atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
}

void kumo_metrics_gauge_setl(const char *name, const char *help, const char *const *labels,
                             int64_t v)
{
    struct named_series *s = find_or_add_series(name, help, labels, NAMED_GAUGE);
    if (s)
        atomic_store_explicit(&s->value, (uint64_t)v, memory_order_relaxed);
}

void kumo_metrics_gauge_addl(const char *name, const char *help, const char *const *labels,
                             int64_t delta)
{
    struct named_series *s = find_or_add_series(name, help, labels, NAMED_GAUGE);
    if (s)
        atomic_fetch_add_explicit(&s->value, (uint64_t)delta, memory_order_relaxed);
}

static void observe_series(struct named_series *s, double seconds)
{
    if (!(seconds > 0))
        seconds = 0;
    if (seconds > 1e7)
        seconds = 1e7;
    atomic_fetch_add_explicit(&s->buckets[bucket_index(seconds)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)(seconds * 1e9 + 0.5), memory_order_relaxed);
}

void kumo_metrics_observe(const char *name, const char *help, const char *const *labels,
                          double seconds)
{
    struct named_series *s = find_or_add_series(name, help, labels, NAMED_HISTOGRAM);
    if (s)
        observe_series(s, seconds);
}

struct kumo_metrics_series *kumo_metrics_counter_series(const char *name, const char *help,
                                                        const char *const *labels)
{
    return (struct kumo_metrics_series *)find_or_add_series(name, help, labels, NAMED_COUNTER);
}

struct kumo_metrics_series *kumo_metrics_histogram_series(const char *name, const char *help,
                                                          const char *const *labels)
{
    return (struct kumo_metrics_series *)find_or_add_series(name, help, labels, NAMED_HISTOGRAM);
}

void kumo_metrics_series_add(struct kumo_metrics_series *handle, uint64_t v)
{
    struct named_series *s = (struct named_series *)handle;
    if (s && s->fam->kind == NAMED_COUNTER)
        atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
}

void kumo_metrics_series_observe(struct kumo_metrics_series *handle, double seconds)
{
    struct named_series *s = (struct named_series *)handle;
    if (s && s->fam->kind == NAMED_HISTOGRAM)
        observe_series(s, seconds);
}

void kumo_metrics_counter_add(const char *name, const char *help, uint64_t v)
{
    kumo_metrics_counter_addl(name, help, NULL, v);
}

void kumo_metrics_gauge_set(const char *name, const char *help, int64_t v)
{
    kumo_metrics_gauge_setl(name, help, NULL, v);
}

void kumo_metrics_gauge_add(const char *name, const char *help, int64_t delta)
{
    kumo_metrics_gauge_addl(name, help, NULL, delta);
}

/* ---- collectors: state sampled at render time ---- */

struct collector {
    kumo_metrics_collector_fn fn;
    void *ud;
};

static pthread_mutex_t collectors_lock = PTHREAD_MUTEX_INITIALIZER;
static struct collector collectors[KUMO_METRICS_MAX_COLLECTORS];
static size_t n_collectors;

int kumo_metrics_collector_add(kumo_metrics_collector_fn fn, void *ud)
{
    int rc = KUMO_ERR_INVALID;
    pthread_mutex_lock(&collectors_lock);
    if (fn && n_collectors < KUMO_METRICS_MAX_COLLECTORS) {
        collectors[n_collectors++] = (struct collector){fn, ud};
        rc = 0;
    }
    pthread_mutex_unlock(&collectors_lock);
    return rc;
}

void kumo_metrics_collector_remove(kumo_metrics_collector_fn fn, void *ud)
{
    pthread_mutex_lock(&collectors_lock);
    for (size_t i = 0; i < n_collectors; i++) {
        if (collectors[i].fn == fn && collectors[i].ud == ud) {
            memmove(&collectors[i], &collectors[i + 1],
                    (n_collectors - i - 1) * sizeof collectors[0]);
            n_collectors--;
            break;
        }
    }
    pthread_mutex_unlock(&collectors_lock);
}

/* Collectors run under collectors_lock (so a pool being freed waits for a
 * render in progress), never under `lock`, which their gauge calls take. */
static void run_collectors(void)
{
    pthread_mutex_lock(&collectors_lock);
    for (size_t i = 0; i < n_collectors; i++)
        collectors[i].fn(collectors[i].ud);
    pthread_mutex_unlock(&collectors_lock);
}

struct fs_watch {
    char *volume;
    char *path;
};

static void fs_collect(void *ud)
{
    const struct fs_watch *w = ud;
    struct statvfs st;
    if (statvfs(w->path, &st) != 0)
        return;
    const char *labels[] = {"volume", w->volume, NULL};
    kumo_metrics_gauge_setl("kumo_filesystem_size_bytes", "Size of a filesystem the daemon writes.",
                            labels, (int64_t)((uint64_t)st.f_blocks * st.f_frsize));
    kumo_metrics_gauge_setl("kumo_filesystem_avail_bytes",
                            "Bytes available to the daemon on a filesystem it writes.", labels,
                            (int64_t)((uint64_t)st.f_bavail * st.f_frsize));
}

int kumo_metrics_watch_filesystem(const char *volume, const char *path)
{
    if (!label_value_ok(volume) || path == NULL)
        return KUMO_ERR_INVALID;
    struct fs_watch *w = kumo_calloc(1, sizeof *w);
    w->volume = kumo_strdup(volume);
    w->path = kumo_strdup(path);
    int rc = kumo_metrics_collector_add(fs_collect, w);
    if (rc != 0) {
        kumo_free(w->volume);
        kumo_free(w->path);
        kumo_free(w);
    }
    /* On success the watch lives as long as the process. */
    return rc;
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

static void render_named_histogram(struct kumo_buf *out, const struct named_series *s)
{
    const char *name = s->fam->name;
    const char *sep = *s->labels ? "," : "";
    uint64_t cum = 0;
    for (int b = 0; b <= N_BUCKETS; b++) {
        cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
        kumo_buf_appendf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, s->labels, sep,
                         b < N_BUCKETS ? bucket_labels[b] : "+Inf", (unsigned long long)cum);
    }
    uint64_t ns = atomic_load_explicit(&s->sum_ns, memory_order_relaxed);
    const char *lb = *s->labels ? "{" : "", *rb = *s->labels ? "}" : "";
    kumo_buf_appendf(out, "%s_sum%s%s%s %llu.%09llu\n", name, lb, s->labels, rb,
                     (unsigned long long)(ns / 1000000000u),
                     (unsigned long long)(ns % 1000000000u));
    kumo_buf_appendf(out, "%s_count%s%s%s %llu\n", name, lb, s->labels, rb,
                     (unsigned long long)cum);
}

static void render_named(struct kumo_buf *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    size_t n = atomic_load_explicit(&family_count, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        const struct named_family *f = family_order[i];
        append_help(out, f->name, f->help, types[f->kind]);
        for (const struct named_series *s = atomic_load_explicit(&f->head, memory_order_acquire); s;
             s = atomic_load_explicit(&s->next, memory_order_acquire)) {
            if (f->kind == NAMED_HISTOGRAM) {
                render_named_histogram(out, s);
                continue;
            }
            uint64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
            kumo_buf_append_str(out, s->key);
            if (f->kind == NAMED_COUNTER)
                kumo_buf_appendf(out, " %llu\n", (unsigned long long)v);
            else
                kumo_buf_appendf(out, " %lld\n", (long long)(int64_t)v);
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
    run_collectors();
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
    n = atomic_load(&series_count);
    for (size_t i = 0; i < n; i++) {
        kumo_free(series_order[i]->key);
        kumo_free(series_order[i]->labels);
        kumo_free(series_order[i]);
        series_order[i] = NULL;
    }
    for (size_t i = 0; i < SERIES_SLOTS; i++)
        atomic_store(&series_slots[i], NULL);
    atomic_store(&series_count, 0);
    n = atomic_load(&family_count);
    for (size_t i = 0; i < n; i++) {
        kumo_free(family_order[i]->name);
        kumo_free(family_order[i]->help);
        kumo_free(family_order[i]);
        family_order[i] = NULL;
    }
    for (size_t i = 0; i < FAMILY_SLOTS; i++)
        atomic_store(&family_slots[i], NULL);
    atomic_store(&family_count, 0);
    atomic_store(&rpc_in_flight, 0);
    atomic_store(&conns_open, 0);
    atomic_store(&conns_total, 0);
    pthread_mutex_unlock(&lock);
}
