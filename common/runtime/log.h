/* Structured logging: one JSON object per line on stderr.
 *
 * Every line is {"ts":"2026-01-02T03:04:05.678Z","level":"info","svc":"users",
 * "msg":"...","request_id":"...","trace_id":"...","span_id":"..."} followed by
 * the caller's extra string fields; trace_id and span_id are those of the
 * calling thread's current span (base/trace.h), omitted when there is none.
 * A line is built in memory and handed to a single write(2) (or held with
 * others of its thread and written with them, see kumo_log_hold), so lines
 * from concurrent threads never interleave. All strings are JSON-escaped; bytes that
 * are not valid UTF-8 become U+FFFD, so every line is valid JSON whatever the
 * input (request ids and paths come from clients).
 *
 * Secret hygiene: the value of an extra field whose key contains "password",
 * "secret", "token", "authorization", "cookie", "api_key", "apikey",
 * "credential" or "private_key" (any case) is replaced by "[redacted]". The
 * message itself is not inspected: never format secrets into it. */
#ifndef KUMO_LOG_H
#define KUMO_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "base/buf.h"

enum kumo_log_level { KUMO_LOG_DEBUG, KUMO_LOG_INFO, KUMO_LOG_WARN, KUMO_LOG_ERROR };

/* Sets the service name (copied; NULL means "kumo"; at most 63 bytes are
 * kept) and the minimum level logged, for the whole process. Before the first
 * call, svc is "kumo" and the level is info. Safe to call from any thread. */
void kumo_log_init(const char *svc, enum kumo_log_level min_level);

/* Parses "debug", "info", "warn" or "error" (any case; "warning" is accepted
 * too). Returns 0 and sets *out, or KUMO_ERR_INVALID (NULL or anything else)
 * leaving *out untouched. */
int kumo_log_level_parse(const char *s, enum kumo_log_level *out);

/* Returns the static lowercase name of `lvl` ("info"); "error" if out of
 * range. */
const char *kumo_log_level_name(enum kumo_log_level lvl);

/* Returns nonzero if a line at `lvl` would be written: lets a caller skip
 * expensive formatting. */
int kumo_log_enabled(enum kumo_log_level lvl);

/* Logs `msg` at `lvl` with an optional request id (NULL or "" = omitted) and
 * extra string fields given as key, value pairs ending with a NULL key:
 *   kumo_log(KUMO_LOG_INFO, rid, "started", "port", "7101", NULL);
 * A NULL value is logged as JSON null. An extra key equal to one of the fixed
 * keys (ts, level, svc, msg, request_id, trace_id, span_id) is prefixed with "field_" so the
 * object never has duplicate keys. Nothing is retained after the call. */
void kumo_log(enum kumo_log_level lvl, const char *request_id, const char *msg, ...);

/* kumo_log with the key, value pairs in a va_list (for wrappers). */
void kumo_logv(enum kumo_log_level lvl, const char *request_id, const char *msg, va_list fields);

/* Logs a printf-formatted message, without extra fields. */
void kumo_logf(enum kumo_log_level lvl, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Holds the calling thread's lines in memory until the matching
 * kumo_log_release, so that the lines of several requests finished in one
 * pass of an event loop leave in one write(2) instead of one each. Held
 * lines are whole lines in order; they are written before the held bytes
 * would pass 4096 (PIPE_BUF: such a write to a pipe is never interleaved
 * with another writer's) and at the outermost release. Calls nest. Hold
 * only around work that ends soon: a held line is not on disk yet. */
void kumo_log_hold(void);
/* Ends one kumo_log_hold; the outermost one writes what is held. A release
 * without a hold does nothing. */
void kumo_log_release(void);
/* Writes what the calling thread holds now; its holds go on. */
void kumo_log_flush(void);
/* Calls fn(arg) on the calling thread each time a line is held while
 * nothing else is (held lines went from none to one): an event loop that
 * holds for its whole life arms a short timer there that calls
 * kumo_log_flush, so that a held line waits at most that long. NULL stops
 * it. Per thread. */
void kumo_log_on_first_held(void (*fn)(void *arg), void *arg);

/* Sends every later line to `fd` instead of 2 (for tests). The fd stays the
 * caller's: it is never closed. */
void kumo_log_set_fd(int fd);

/* Internal, shared with other common/ modules that emit JSON by hand:
 * appends `s` (`len` bytes, not NUL-terminated) to `b` as a JSON string with
 * its quotes, escaping quotes, backslashes and control characters and
 * replacing each invalid UTF-8 sequence by U+FFFD. */
void kumo__json_append_string(struct kumo_buf *b, const char *s, size_t len);

#endif
