#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/errors.h"

void kumo_buf_reserve(struct kumo_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = kumo_realloc(b->data, cap);
    b->cap = cap;
}

int kumo_buf_read_fd(struct kumo_buf *b, int fd, size_t max)
{
    for (;;) {
        if (b->len > max)
            return KUMO_ERR_TOO_LARGE;
        if (b->cap < b->len + 2)
            kumo_buf_reserve(b, 4096);
        size_t want = b->cap - b->len - 1; /* the spare room, NUL kept */
        if (want > max + 1 - b->len)
            want = max + 1 - b->len;
        ssize_t n = read(fd, b->data + b->len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        if (n == 0)
            return 0;
    }
}

int kumo_buf_read_file(struct kumo_buf *b, const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = kumo_buf_read_fd(b, fd, max);
    close(fd);
    return rc;
}

void kumo_buf_append(struct kumo_buf *b, const void *data, size_t len)
{
    kumo_buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void kumo_buf_append_str(struct kumo_buf *b, const char *s)
{
    kumo_buf_append(b, s, strlen(s));
}

void kumo_buf_append_byte(struct kumo_buf *b, uint8_t c)
{
    kumo_buf_append(b, &c, 1);
}

void kumo_buf_append_decimal(struct kumo_buf *b, uint64_t magnitude, int negative, int quoted)
{
    char tmp[24];
    size_t n = sizeof tmp;
    if (quoted)
        tmp[--n] = '"';
    do {
        tmp[--n] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (negative)
        tmp[--n] = '-';
    if (quoted)
        tmp[--n] = '"';
    kumo_buf_append(b, tmp + n, sizeof tmp - n);
}

void kumo_buf_append_i64(struct kumo_buf *b, int64_t v, int quoted)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    kumo_buf_append_decimal(b, mag, v < 0, quoted);
}

void kumo_buf_vappendf(struct kumo_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    kumo_buf_reserve(b, (size_t)n);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

char *kumo_vstrdupf(const char *fmt, va_list ap)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_vappendf(&b, fmt, ap);
    return kumo_buf_steal(&b, NULL);
}

void kumo_buf_appendf(struct kumo_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kumo_buf_vappendf(b, fmt, ap);
    va_end(ap);
}

void kumo_buf_reset(struct kumo_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void kumo_buf_free(struct kumo_buf *b)
{
    kumo_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *kumo_buf_steal(struct kumo_buf *b, size_t *len_out)
{
    if (b->data == NULL)
        kumo_buf_reserve(b, 0), b->data[0] = '\0';
    char *p = (char *)b->data;
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int kumo_buf_error(struct kumo_buf *err, int rc, const char *what, const char *detail)
{
    if (err) {
        kumo_buf_append_str(err, what);
        if (detail && *detail) {
            kumo_buf_append_str(err, ": ");
            kumo_buf_append_str(err, detail);
        }
    }
    return rc;
}
