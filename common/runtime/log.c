#include "runtime/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "base/trace.h"

/* A value longer than this is cut (and marked): one runaway string must not
 * turn a log line into megabytes, and long lines lose write(2) atomicity on
 * pipes anyway. */
#define MAX_VALUE_BYTES 16384
#define TRUNCATED_MARK  "...[truncated]"

static pthread_mutex_t svc_lock = PTHREAD_MUTEX_INITIALIZER;
static char svc_name[64] = "kumo";
static atomic_int min_level = KUMO_LOG_INFO;
static atomic_int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Substrings that mark a field as secret; matched case-insensitively. */
static const char *const secret_markers[] = {
    "password", "secret", "token",      "authorization", "cookie",
    "api_key",  "apikey", "credential", "private_key",
};

/* Keys every line has; extra fields may not reuse them. */
static const char *const fixed_keys[] = {"ts",         "level",    "svc",    "msg",
                                         "request_id", "trace_id", "span_id"};

void kumo_log_init(const char *svc, enum kumo_log_level lvl)
{
    pthread_mutex_lock(&svc_lock);
    snprintf(svc_name, sizeof svc_name, "%s", svc ? svc : "kumo");
    pthread_mutex_unlock(&svc_lock);
    atomic_store(&min_level, (int)lvl);
}

int kumo_log_level_parse(const char *s, enum kumo_log_level *out)
{
    if (s == NULL)
        return KUMO_ERR_INVALID;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum kumo_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = KUMO_LOG_WARN;
        return 0;
    }
    return KUMO_ERR_INVALID;
}

const char *kumo_log_level_name(enum kumo_log_level lvl)
{
    if ((unsigned)lvl > KUMO_LOG_ERROR)
        return "error";
    return level_names[lvl];
}

int kumo_log_enabled(enum kumo_log_level lvl)
{
    /* Out-of-range levels are treated as errors: never silently dropped. */
    int l = (unsigned)lvl > KUMO_LOG_ERROR ? KUMO_LOG_ERROR : (int)lvl;
    return l >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

void kumo_log_set_fd(int fd)
{
    atomic_store(&out_fd, fd);
}

/* ---- JSON string escaping ---- */

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if invalid; on
 * failure *bad is set to the number of bytes to replace by one U+FFFD (the
 * maximal ill-formed prefix, as Unicode recommends). */
static size_t utf8_seq_len(const unsigned char *s, size_t len, size_t *bad)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        unsigned char b = i < len ? s[i] : 0;
        int ok = i < len && (i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF));
        if (!ok) {
            *bad = i;
            return 0;
        }
    }
    return need;
}

static void append_escaped_ascii(struct kumo_buf *b, unsigned char c)
{
    switch (c) {
    case '"':
        kumo_buf_append(b, "\\\"", 2);
        break;
    case '\\':
        kumo_buf_append(b, "\\\\", 2);
        break;
    case '\n':
        kumo_buf_append(b, "\\n", 2);
        break;
    case '\r':
        kumo_buf_append(b, "\\r", 2);
        break;
    case '\t':
        kumo_buf_append(b, "\\t", 2);
        break;
    case '\b':
        kumo_buf_append(b, "\\b", 2);
        break;
    case '\f':
        kumo_buf_append(b, "\\f", 2);
        break;
    default:
        if (c < 0x20 || c == 0x7F)
            kumo_buf_appendf(b, "\\u%04x", c);
        else
            kumo_buf_append_byte(b, c);
    }
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether some byte of w is zero (exact: a borrow only reaches bytes above
 * a zero one). */
static uint64_t has_zero_byte(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

/* Whether all 8 bytes at s are printable ASCII other than '"' and '\\'
 * (0x20..0x7E): what append_escaped copies as it is. */
static int word_is_plain(const unsigned char *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
    uint64_t bad = w & HIGHS;                /* >= 0x80 */
    bad |= (w - ONES * 0x20) & ~w & HIGHS;   /* < 0x20 */
    bad |= has_zero_byte(w ^ (ONES * 0x7F)); /* DEL */
    bad |= has_zero_byte(w ^ (ONES * '"'));
    bad |= has_zero_byte(w ^ (ONES * '\\'));
    return bad == 0;
}

/* Appends the escaped body of a JSON string (no quotes). */
static void append_escaped(struct kumo_buf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    kumo_buf_reserve(b, len + 2);
    while (i < len) {
        size_t run = i;
        while (run + 8 <= len && word_is_plain(s + run))
            run += 8;
        while (run < len && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) { /* the common case: plain printable ASCII, copied in one go */
            kumo_buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        if (s[i] < 0x80) {
            append_escaped_ascii(b, s[i]);
            i++;
            continue;
        }
        size_t bad = 0;
        size_t n = utf8_seq_len(s + i, len - i, &bad);
        if (n) {
            kumo_buf_append(b, s + i, n);
            i += n;
        } else {
            kumo_buf_append(b, "\\ufffd", 6);
            i += bad;
        }
    }
}

void kumo__json_append_string(struct kumo_buf *b, const char *s, size_t len)
{
    kumo_buf_append_byte(b, '"');
    append_escaped(b, s, len);
    kumo_buf_append_byte(b, '"');
}

/* A JSON string value, cut at MAX_VALUE_BYTES. */
static void append_value(struct kumo_buf *b, const char *s)
{
    size_t len = strlen(s);
    kumo_buf_append_byte(b, '"');
    if (len > MAX_VALUE_BYTES) {
        append_escaped(b, s, MAX_VALUE_BYTES);
        kumo_buf_append_str(b, TRUNCATED_MARK);
    } else {
        append_escaped(b, s, len);
    }
    kumo_buf_append_byte(b, '"');
}

/* ---- line assembly ---- */

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    }
    return 0;
}

static int is_secret_key(const char *key)
{
    /* Every line checks every key: a short key is lowercased once and
     * searched with strstr (the markers are lowercase), instead of a
     * strncasecmp at each of its positions for each marker. */
    char low[64];
    size_t n = strlen(key);
    if (n < sizeof low) {
        for (size_t i = 0; i <= n; i++) {
            unsigned char c = (unsigned char)key[i];
            low[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        for (size_t i = 0; i < sizeof secret_markers / sizeof secret_markers[0]; i++) {
            if (strstr(low, secret_markers[i]))
                return 1;
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof secret_markers / sizeof secret_markers[0]; i++) {
        if (ci_contains(key, secret_markers[i]))
            return 1;
    }
    return 0;
}

static int is_fixed_key(const char *key)
{
    for (size_t i = 0; i < sizeof fixed_keys / sizeof fixed_keys[0]; i++) {
        if (strcmp(key, fixed_keys[i]) == 0)
            return 1;
    }
    return 0;
}

/* gmtime_r takes glibc's timezone lock: format each second once per thread. */
static _Thread_local time_t cached_sec = (time_t)-1;
static _Thread_local char cached_date[32];

static void append_timestamp(struct kumo_buf *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached_date, sizeof cached_date, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000L;
    char frac[6] = {
        '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', '"'};
    kumo_buf_append_str(b, "{\"ts\":\"");
    kumo_buf_append_str(b, cached_date);
    kumo_buf_append(b, frac, sizeof frac);
}

static void append_header(struct kumo_buf *b, enum kumo_log_level lvl, const char *request_id,
                          const char *msg)
{
    char svc[sizeof svc_name];
    pthread_mutex_lock(&svc_lock);
    memcpy(svc, svc_name, sizeof svc);
    pthread_mutex_unlock(&svc_lock);

    kumo_buf_reserve(b, 256); /* one allocation for a typical line */
    append_timestamp(b);
    kumo_buf_append_str(b, ",\"level\":\"");
    kumo_buf_append_str(b, kumo_log_level_name(lvl));
    kumo_buf_append_str(b, "\",\"svc\":");
    append_value(b, svc);
    kumo_buf_append_str(b, ",\"msg\":");
    append_value(b, msg ? msg : "");
    if (request_id && *request_id) {
        kumo_buf_append_str(b, ",\"request_id\":");
        append_value(b, request_id);
    }
    /* The thread's current span (base/trace.h): set by the RPC server around
     * a handler, by the BFF around a request, by a job runner around a job,
     * so every line of one request's work carries its trace without each
     * call site passing it. Ids are lowercase hex: no escaping needed. */
    const struct kumo_trace *t = kumo_trace_current();
    if (t && t->trace_id[0]) {
        kumo_buf_append_str(b, ",\"trace_id\":\"");
        kumo_buf_append_str(b, t->trace_id);
        kumo_buf_append_str(b, "\",\"span_id\":\"");
        kumo_buf_append_str(b, t->span_id);
        kumo_buf_append_byte(b, '"');
    }
}

/* What a line must know of a field's key: whether it names a secret
 * (redacted) and whether it is one of the fixed keys (prefixed). Daemons
 * log the same few keys on every line, so each thread remembers the answer
 * for short keys, found by the key's text (never by its address: a key
 * may be a reused buffer). */
#define KEY_SECRET     1u
#define KEY_FIXED      2u
#define KEY_CACHE_LEN  32  /* keys shorter than this are remembered */
#define KEY_CACHE_SLOT 128 /* a power of two */
#define KEY_PROBES     4   /* slots a key may take from its own on */

struct key_class {
    uint8_t known; /* the slot holds text[0..len) */
    uint8_t len;
    uint8_t flags; /* KEY_SECRET | KEY_FIXED */
    char text[KEY_CACHE_LEN];
};

static _Thread_local struct key_class key_cache[KEY_CACHE_SLOT];

static unsigned classify_key(const char *key)
{
    return (is_secret_key(key) ? KEY_SECRET : 0) | (is_fixed_key(key) ? KEY_FIXED : 0);
}

static unsigned key_flags(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a of the text, to pick the slot */
    size_t len = 0;
    for (; key[len] && len < KEY_CACHE_LEN; len++)
        h = (h ^ (unsigned char)key[len]) * 16777619u;
    if (len == KEY_CACHE_LEN)
        return classify_key(key);
    /* A line's keys must not evict each other: a key takes the first free
     * of KEY_PROBES slots, or its own slot when all are taken. */
    struct key_class *k = NULL;
    for (size_t i = 0; i < KEY_PROBES; i++) {
        struct key_class *at = &key_cache[(h + i) & (KEY_CACHE_SLOT - 1)];
        if (!at->known) {
            k = at;
            break;
        }
        if (at->len == len && memcmp(at->text, key, len) == 0)
            return at->flags;
    }
    if (k == NULL)
        k = &key_cache[h & (KEY_CACHE_SLOT - 1)];
    unsigned flags = classify_key(key);
    k->known = 1;
    k->len = (uint8_t)len;
    k->flags = (uint8_t)flags;
    memcpy(k->text, key, len);
    return flags;
}

static void append_field(struct kumo_buf *b, const char *key, const char *value)
{
    unsigned flags = key_flags(key);
    kumo_buf_append_byte(b, ',');
    if (flags & KEY_FIXED) {
        kumo_buf_append_str(b, "\"field_");
        append_escaped(b, key, strlen(key));
        kumo_buf_append_byte(b, '"');
    } else {
        append_value(b, key);
    }
    kumo_buf_append_byte(b, ':');
    if (flags & KEY_SECRET)
        kumo_buf_append_str(b, "\"[redacted]\"");
    else if (value == NULL)
        kumo_buf_append_str(b, "null");
    else
        append_value(b, value);
}

/* One write(2) per line, so concurrent lines never interleave; a short
 * write (full pipe, signal) is finished rather than dropped. */
static void write_line(const struct kumo_buf *b)
{
    int fd = atomic_load_explicit(&out_fd, memory_order_relaxed);
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        off += (size_t)n;
    }
}

/* Lines held by this thread (kumo_log_hold): whole lines only, written
 * before they would pass HELD_MAX bytes and at the outermost release.
 * HELD_MAX is PIPE_BUF, so one write of held lines to a pipe is never
 * split among another writer's bytes. */
#define HELD_MAX 4096
/* Room reserved for a line before it is built: an access line is ~450
 * bytes, and growing from the buffer's default took four reallocs. */
#define LINE_RESERVE 767
static _Thread_local struct kumo_buf held;
static _Thread_local int hold_depth;
static _Thread_local void (*first_held_fn)(void *arg); /* kumo_log_on_first_held */
static _Thread_local void *first_held_arg;

/* Writes the held lines; the buffer is kept for the next ones (a thread
 * that holds for its life, flushing every few ms, would otherwise malloc
 * 8 KiB per flush) and freed at the outermost release. */
static void write_held(void)
{
    if (held.len)
        write_line(&held);
    kumo_buf_reset(&held);
}

void kumo_log_hold(void)
{
    hold_depth++;
}

void kumo_log_release(void)
{
    if (hold_depth > 0 && --hold_depth == 0) {
        write_held();
        kumo_buf_free(&held);
    }
}

void kumo_log_flush(void)
{
    write_held();
}

void kumo_log_on_first_held(void (*fn)(void *arg), void *arg)
{
    first_held_fn = fn;
    first_held_arg = arg;
}

static void finish_and_write(struct kumo_buf *b)
{
    kumo_buf_append(b, "}\n", 2);
    if (hold_depth > 0 && b->len <= HELD_MAX) {
        if (held.len + b->len > HELD_MAX)
            write_held();
        if (held.cap == 0)
            kumo_buf_reserve(&held, HELD_MAX);
        int first = held.len == 0;
        kumo_buf_append(&held, b->data, b->len);
        if (first && first_held_fn)
            first_held_fn(first_held_arg);
    } else {
        if (held.len)
            write_held(); /* keep this thread's lines in order */
        write_line(b);
    }
    kumo_buf_free(b);
}

void kumo_logv(enum kumo_log_level lvl, const char *request_id, const char *msg, va_list fields)
{
    if (!kumo_log_enabled(lvl))
        return;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_reserve(&b, LINE_RESERVE); /* an access line in one malloc */
    append_header(&b, lvl, request_id, msg);
    const char *key;
    while ((key = va_arg(fields, const char *)) != NULL) {
        const char *value = va_arg(fields, const char *);
        append_field(&b, key, value);
    }
    finish_and_write(&b);
}

void kumo_log(enum kumo_log_level lvl, const char *request_id, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    kumo_logv(lvl, request_id, msg, ap);
    va_end(ap);
}

void kumo_logf(enum kumo_log_level lvl, const char *request_id, const char *fmt, ...)
{
    if (!kumo_log_enabled(lvl))
        return;
    struct kumo_buf text = KUMO_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kumo_buf_vappendf(&text, fmt, ap);
    va_end(ap);

    struct kumo_buf b = KUMO_BUF_INIT;
    append_header(&b, lvl, request_id, text.data ? (const char *)text.data : "");
    kumo_buf_free(&text);
    finish_and_write(&b);
}
