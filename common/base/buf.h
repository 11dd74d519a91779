/* A growable byte buffer. Always NUL-terminated past `len` (so text can be
 * used as a C string) once anything has been appended. */
#ifndef KUMO_BUF_H
#define KUMO_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct kumo_buf {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
};

#define KUMO_BUF_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Makes room for `extra` more bytes (plus the terminating NUL). */
void kumo_buf_reserve(struct kumo_buf *b, size_t extra);
/* Appends `len` bytes. */
void kumo_buf_append(struct kumo_buf *b, const void *data, size_t len);
/* Appends a NUL-terminated string (without its NUL). */
void kumo_buf_append_str(struct kumo_buf *b, const char *s);
/* Appends one byte. */
void kumo_buf_append_byte(struct kumo_buf *b, uint8_t c);
/* Appends `magnitude` in decimal, after a '-' when `negative`, inside
 * double quotes when `quoted` (JSON's 64-bit integers): what printf's
 * "%" PRIu64 writes, without parsing a format on every number. */
void kumo_buf_append_decimal(struct kumo_buf *b, uint64_t magnitude, int negative, int quoted);
/* kumo_buf_append_decimal of a signed value. */
void kumo_buf_append_i64(struct kumo_buf *b, int64_t v, int quoted);
/* Appends printf-formatted text. */
void kumo_buf_appendf(struct kumo_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kumo_buf_vappendf(struct kumo_buf *b, const char *fmt, va_list ap);
/* printf-formatted text in a new malloc'd string (kumo_free it). */
char *kumo_vstrdupf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Empties the buffer, keeping its memory. */
void kumo_buf_reset(struct kumo_buf *b);
/* Appends the rest of file `fd` to b, reading straight into b's spare
 * room: after kumo_buf_reserve(b, max + 1) nothing is reallocated (no
 * stray copies of a secret in freed memory). Returns 0 at the end of the
 * file, -errno on a read error, or KUMO_ERR_TOO_LARGE as soon as b would
 * hold more than `max` bytes (it then holds at most max + 1). b stays
 * NUL-terminated. */
int kumo_buf_read_fd(struct kumo_buf *b, int fd, size_t max);

/* kumo_buf_read_fd on the file at `path` (opened close-on-exec, closed
 * again); -errno when it cannot be opened. */
int kumo_buf_read_file(struct kumo_buf *b, const char *path, size_t max);

/* Frees the memory; the buffer is empty and reusable afterwards. */
void kumo_buf_free(struct kumo_buf *b);
/* Hands the data to the caller (who frees it with kumo_free) and empties the
 * buffer. Never NULL: an empty buffer yields "". */
char *kumo_buf_steal(struct kumo_buf *b, size_t *len_out);

/* The error-message convention of functions that take an optional `err`
 * buffer: appends "what: detail" ("what" alone when detail is NULL or
 * empty) to err unless err is NULL, and returns rc, so a failure path reads
 * `return kumo_buf_error(err, KUMO_ERR_IO, "cannot open", strerror(e));`. */
int kumo_buf_error(struct kumo_buf *err, int rc, const char *what, const char *detail);

#endif
