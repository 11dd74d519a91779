/* The object event journal (journal.h): line format, recovery, appends,
 * compaction and the long-poll read.
 *
 * Written by hand because what it needs is small and exact: an append-only
 * file fsynced per record, cut at the first torn line on open, read from
 * memory. The kept lines stay in memory as text (about 150 bytes an event)
 * and are parsed again on read, so one parser (fuzzed) serves both. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/ids.h"
#include "runtime/log.h"

#define FIELDS     7 /* before the key */
#define CRC_HEX    8
#define NUM_MAX    19 /* digits of INT64_MAX */
#define WAIT_SLICE 250

struct stg_journal {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *path;
    int fd;
    int do_fsync;
    int closing;
    size_t keep;
    char **lines; /* lines[i] is seq first + i (no newline) */
    size_t n, cap;
    int64_t first;               /* seq of lines[0]; next seq = first + n */
    char id[STG_JOURNAL_ID_MAX]; /* this journal's identity (its header line) */
};

#define HEADER "#kumo-events v1 "

const char *stg_journal_id(const struct stg_journal *j)
{
    return j->id;
}

/* Reads the header line line[0..len) into j->id. 0, or -1 if it is none. */
static int parse_header(struct stg_journal *j, const char *line, size_t len)
{
    size_t h = sizeof HEADER - 1;
    if (len <= h || len - h >= sizeof j->id || memcmp(line, HEADER, h) != 0)
        return -1;
    for (size_t i = h; i < len; i++) {
        char c = line[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return -1;
    }
    memcpy(j->id, line + h, len - h);
    j->id[len - h] = '\0';
    return 0;
}

/* ---- the line format ---- */

void stg_event_format(const struct stg_event *ev, struct kumo_buf *out)
{
    size_t start = out->len;
    char sha[65] = "-";
    if (ev->has_sha256)
        kumo_hex_encode(ev->sha256, 32, sha);
    kumo_buf_appendf(out, "%" PRId64 " %d %" PRId64 " %" PRId64 " %" PRId64 " %s %s %s", ev->seq,
                     (int)ev->type, ev->size, ev->time_ms, ev->expire_ms,
                     ev->etag[0] ? ev->etag : "-", sha, ev->key);
    uint32_t crc = stg_crc32(0, out->data + start, out->len - start);
    kumo_buf_appendf(out, " %08" PRIx32 "\n", crc);
}

/* A decimal number of 1..NUM_MAX digits as the formatter writes it (no
 * sign, no leading zero): one spelling per value. */
static int parse_num(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > NUM_MAX || (len > 1 && s[0] == '0'))
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Lowercase hex only, as the formatter writes it. */
static int lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int etag_ok(const char *s, size_t len)
{
    if (len == 0 || len >= STG_ETAG_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
            return 0;
    }
    return 1;
}

int stg_event_parse(const char *line, size_t len, struct stg_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len < CRC_HEX + 2 || len > STG_JOURNAL_LINE_MAX || line[len - CRC_HEX - 1] != ' ')
        return -1;
    size_t body = len - CRC_HEX - 1;
    uint8_t crcb[4];
    if (!lower_hex(line + body + 1, CRC_HEX) ||
        kumo_hex_decode(line + body + 1, CRC_HEX, crcb, 4) != 0)
        return -1;
    uint32_t want = (uint32_t)crcb[0] << 24 | (uint32_t)crcb[1] << 16 | (uint32_t)crcb[2] << 8 |
                    (uint32_t)crcb[3];
    if (stg_crc32(0, line, body) != want)
        return -1;
    const char *f[FIELDS];
    size_t fl[FIELDS];
    size_t pos = 0;
    for (int i = 0; i < FIELDS; i++) {
        size_t s = pos;
        while (pos < body && line[pos] != ' ')
            pos++;
        if (pos >= body || pos == s)
            return -1; /* each field is followed by a space, the key at least */
        f[i] = line + s;
        fl[i] = pos - s;
        pos++;
    }
    int64_t type;
    if (parse_num(f[0], fl[0], &ev->seq) != 0 || ev->seq == 0 ||
        parse_num(f[1], fl[1], &type) != 0 || type < STG_EV_CREATED_PUT ||
        type > STG_EV_RESTORE_COMPLETED || parse_num(f[2], fl[2], &ev->size) != 0 ||
        parse_num(f[3], fl[3], &ev->time_ms) != 0 || parse_num(f[4], fl[4], &ev->expire_ms) != 0)
        return -1;
    ev->type = (enum stg_event_type)type;
    if (!(fl[5] == 1 && f[5][0] == '-')) {
        if (!etag_ok(f[5], fl[5]))
            return -1;
        memcpy(ev->etag, f[5], fl[5]);
    }
    if (!(fl[6] == 1 && f[6][0] == '-')) {
        if (fl[6] != 64 || !lower_hex(f[6], 64) || kumo_hex_decode(f[6], 64, ev->sha256, 32) != 0)
            return -1;
        ev->has_sha256 = 1;
    }
    size_t klen = body - pos;
    if (klen == 0 || klen > STG_KEY_MAX || stg_key_check(line + pos, klen, NULL) != STG_OK)
        return -1;
    memcpy(ev->key, line + pos, klen);
    ev->key[klen] = '\0';
    return 0;
}

/* ---- the file ---- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? kumo_strdup(".")
                : slash == path ? kumo_strdup("/")
                                : kumo_strndup(path, (size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    kumo_free(dir);
}

static void push_line(struct stg_journal *j, const char *s, size_t len)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 1024;
        j->lines = kumo_realloc(j->lines, j->cap * sizeof *j->lines);
    }
    j->lines[j->n++] = kumo_strndup(s, len);
}

/* Drops the oldest lines, keeping the newest j->keep in memory. */
static void drop_old(struct stg_journal *j)
{
    if (j->n <= j->keep)
        return;
    size_t drop = j->n - j->keep;
    for (size_t i = 0; i < drop; i++)
        kumo_free(j->lines[i]);
    memmove(j->lines, j->lines + drop, j->keep * sizeof *j->lines);
    j->n = j->keep;
    j->first += (int64_t)drop;
}

/* Reads the file into memory; returns the offset of the first byte that
 * is not a whole valid line (the file is cut there), or -1. */
static off_t load(struct stg_journal *j)
{
    struct stat st;
    if (fstat(j->fd, &st) != 0)
        return -1;
    size_t size = (size_t)st.st_size;
    char *buf = kumo_malloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(j->fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    size_t pos = 0;
    char *hl = got ? memchr(buf, '\n', got) : NULL;
    if (got && buf[0] == '#') {
        /* The header; a torn one means a journal that never had events. */
        if (hl == NULL || parse_header(j, buf, (size_t)(hl - buf)) != 0)
            got = 0;
        else
            pos = (size_t)(hl - buf) + 1;
    }
    while (pos < got) {
        char *nl = memchr(buf + pos, '\n', got - pos);
        if (nl == NULL)
            break;
        size_t len = (size_t)(nl - (buf + pos));
        struct stg_event ev;
        if (stg_event_parse(buf + pos, len, &ev) != 0)
            break;
        if (j->n == 0 && j->first == 0)
            j->first = ev.seq;
        if (ev.seq != j->first + (int64_t)j->n)
            break; /* out of order: treated as the torn tail */
        push_line(j, buf + pos, len);
        pos += len + 1;
    }
    kumo_free(buf);
    if (j->first == 0)
        j->first = 1;
    return (off_t)pos;
}

static int compact(struct stg_journal *j);

/* A journal without a header (new, or whose header was torn) gets a new
 * identity: readers' cursors from any other journal do not apply to it.
 * The file is rewritten with the header and the events it has. */
static int new_identity(struct stg_journal *j)
{
    if (kumo_id_new("jrn", j->id, sizeof j->id) != 0)
        return -1;
    return compact(j);
}

int stg_journal_open(struct stg_journal **out, const char *path, int do_fsync, size_t keep)
{
    struct stg_journal *j = kumo_calloc(1, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->path = kumo_strdup(path);
    j->do_fsync = do_fsync;
    j->keep = keep < STG_JOURNAL_KEEP_MIN ? STG_JOURNAL_KEEP_MIN : keep;
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot open the event journal", "path", path, "error",
                 strerror(errno), NULL);
        stg_journal_close(j);
        return -1;
    }
    off_t good = load(j);
    struct stat st;
    if (good < 0 || fstat(j->fd, &st) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot read the event journal", "path", path, NULL);
        stg_journal_close(j);
        return -1;
    }
    if (good < st.st_size) {
        char cut[24];
        snprintf(cut, sizeof cut, "%lld", (long long)(st.st_size - good));
        kumo_log(KUMO_LOG_WARN, NULL, "event journal: torn tail cut off", "path", path, "bytes",
                 cut, NULL);
        if (ftruncate(j->fd, good) != 0 || (do_fsync && fsync(j->fd) != 0)) {
            kumo_log(KUMO_LOG_ERROR, NULL, "cannot cut the event journal", "path", path, NULL);
            stg_journal_close(j);
            return -1;
        }
    }
    if (lseek(j->fd, 0, SEEK_END) < 0) {
        stg_journal_close(j);
        return -1;
    }
    if (do_fsync)
        fsync_dir_of(path);
    drop_old(j);
    if (j->id[0] == '\0' && new_identity(j) != 0) {
        stg_journal_close(j);
        return -1;
    }
    char n[24], last[24];
    snprintf(n, sizeof n, "%zu", j->n);
    snprintf(last, sizeof last, "%lld", (long long)(j->first + (int64_t)j->n - 1));
    kumo_log(KUMO_LOG_INFO, NULL, "event journal open", "path", path, "id", j->id, "events", n,
             "last_seq", j->n ? last : "0", NULL);
    *out = j;
    return 0;
}

void stg_journal_shutdown(struct stg_journal *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->mu);
    j->closing = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void stg_journal_close(struct stg_journal *j)
{
    if (j == NULL)
        return;
    if (j->fd >= 0)
        close(j->fd);
    for (size_t i = 0; i < j->n; i++)
        kumo_free(j->lines[i]);
    kumo_free(j->lines);
    kumo_free(j->path);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    kumo_free(j);
}

/* Rewrites the file with the kept lines only (past 2 * keep lines on
 * disk). Under j->mu. A failure leaves the old file as it was. */
static int compact(struct stg_journal *j)
{
    drop_old(j);
    struct kumo_buf tmp = KUMO_BUF_INIT;
    kumo_buf_appendf(&tmp, "%s.tmp", j->path);
    const char *tpath = (const char *)tmp.data;
    int fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write_all(fd, HEADER, sizeof HEADER - 1) == 0 &&
             write_all(fd, j->id, strlen(j->id)) == 0 && write_all(fd, "\n", 1) == 0;
    for (size_t i = 0; ok && i < j->n; i++)
        ok = write_all(fd, j->lines[i], strlen(j->lines[i])) == 0 && write_all(fd, "\n", 1) == 0;
    if (ok && j->do_fsync)
        ok = fsync(fd) == 0;
    if (ok)
        ok = rename(tpath, j->path) == 0;
    if (!ok) {
        kumo_log(KUMO_LOG_WARN, NULL, "event journal: compaction failed", "path", j->path, NULL);
        if (fd >= 0)
            close(fd);
        unlink(tpath);
    } else {
        if (j->do_fsync)
            fsync_dir_of(j->path);
        close(j->fd);
        j->fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (j->fd < 0)
            kumo_log(KUMO_LOG_ERROR, NULL, "event journal: cannot reopen", "path", j->path, NULL);
        close(fd);
    }
    kumo_buf_free(&tmp);
    return ok && j->fd >= 0 ? 0 : -1;
}

int stg_journal_append(struct stg_journal *j, struct stg_event *ev)
{
    struct kumo_buf line = KUMO_BUF_INIT;
    pthread_mutex_lock(&j->mu);
    ev->seq = j->first + (int64_t)j->n;
    stg_event_format(ev, &line);
    off_t end = j->fd >= 0 ? lseek(j->fd, 0, SEEK_END) : -1;
    int ok = end >= 0 && write_all(j->fd, line.data, line.len) == 0 &&
             (!j->do_fsync || fdatasync(j->fd) == 0);
    if (!ok) {
        /* Nothing half-written stays: the next open would cut it anyway. */
        if (end >= 0 && ftruncate(j->fd, end) != 0)
            end = -1;
        pthread_mutex_unlock(&j->mu);
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot append to the event journal", "path", j->path, "key",
                 ev->key, "error", strerror(errno), NULL);
        kumo_buf_free(&line);
        return -1;
    }
    push_line(j, (const char *)line.data, line.len - 1);
    /* The file holds every line since the last compaction; in memory, the
     * newest `keep` (plus what arrived since). */
    static const size_t slack = 2;
    if (j->n >= slack * j->keep)
        compact(j);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    kumo_buf_free(&line);
    return 0;
}

void stg_journal_read(struct stg_journal *j, int64_t after, size_t max, int64_t wait_ms,
                      stg_journal_cancelled_fn cancelled, void *arg, struct stg_event **out,
                      size_t *n, int64_t *first, int64_t *last)
{
    *out = NULL;
    *n = 0;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    int64_t end_ns = (int64_t)end.tv_sec * 1000000000LL + end.tv_nsec + wait_ms * 1000000LL;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        int64_t next = j->first + (int64_t)j->n;
        if (after + 1 < next || j->closing || wait_ms <= 0)
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t now_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
        if (now_ns >= end_ns || (cancelled && cancelled(arg)))
            break;
        int64_t until = now_ns + WAIT_SLICE * 1000000LL;
        if (until > end_ns)
            until = end_ns;
        /* The condition variable waits on CLOCK_REALTIME: wait a slice. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t rt = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + (until - now_ns);
        ts.tv_sec = rt / 1000000000LL;
        ts.tv_nsec = rt % 1000000000LL;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    *first = j->n ? j->first : 0;
    *last = j->n ? j->first + (int64_t)j->n - 1 : 0;
    size_t from = after < j->first ? 0 : (size_t)(after - j->first + 1);
    if (from < j->n && max > 0) {
        size_t count = j->n - from < max ? j->n - from : max;
        *out = kumo_malloc(count * sizeof **out);
        for (size_t i = 0; i < count; i++)
            if (stg_event_parse(j->lines[from + i], strlen(j->lines[from + i]), &(*out)[*n]) == 0)
                (*n)++;
    }
    pthread_mutex_unlock(&j->mu);
}
