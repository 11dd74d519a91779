#include "base/validate.h"

#include <stdint.h>

#include "base/buf.h"
#include "base/errors.h"

/* Length of the well-formed sequence at s[0..len), or 0 (RFC 3629, table 3-7
 * of the Unicode standard: second-byte ranges exclude overlongs,
 * surrogates and code points above U+10FFFF). */
static size_t seq_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    unsigned lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

void kumo_utf8_clean(const char *in, size_t len, size_t max, struct kumo_buf *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t added = 0, i = 0;
    kumo_buf_reserve(out, len < max ? len : max);
    while (i < len) {
        if (s[i] == 0) {
            i++;
            continue;
        }
        size_t n = seq_len(s + i, len - i);
        if (n == 0) {
            i++; /* drop the invalid byte */
            continue;
        }
        if (added + n > max)
            break;
        kumo_buf_append(out, s + i, n);
        added += n;
        i += n;
    }
}

int kumo_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case. */
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = seq_len(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

size_t kumo_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return KUMO_ERR_INVALID;
}

/* 1 if the code point starting at p (valid UTF-8) is a control character. */
static int is_control(const unsigned char *p, unsigned flags)
{
    if (p[0] < 0x20) {
        if (flags & KUMO_TEXT_MULTILINE)
            return !(p[0] == '\t' || p[0] == '\n' || p[0] == '\r');
        return 1;
    }
    if (p[0] == 0x7F)
        return 1;
    /* C1 controls U+0080..U+009F are C2 80..C2 9F. */
    return p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;
}

int kumo_text_check(const char *s, size_t len, size_t max_chars, size_t max_bytes, unsigned flags,
                    const char **why)
{
    if (s == NULL && len != 0)
        return fail(why, "is missing");
    if (len == 0)
        return (flags & KUMO_TEXT_ALLOW_EMPTY) ? 0 : fail(why, "must not be empty");
    if (len > max_bytes)
        return fail(why, "is too long");
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        if (p[i] == 0)
            return fail(why, "contains a NUL byte");
        size_t n = seq_len(p + i, len - i);
        if (n == 0)
            return fail(why, "is not valid UTF-8");
        if (is_control(p + i, flags))
            return fail(why, "contains a control character");
        i += n;
        if (++chars > max_chars)
            return fail(why, "is too long");
    }
    return 0;
}

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext (without the dot, handled separately). */
static int is_atext(unsigned char c)
{
    if (is_alnum(c))
        return 1;
    for (const char *q = "!#$%&'*+/=?^_`{|}~-"; *q; q++)
        if ((unsigned char)*q == c)
            return 1;
    return 0;
}

static int check_local(const char *s, size_t len, const char **why)
{
    if (len == 0)
        return fail(why, "has an empty local part");
    if (len > 64)
        return fail(why, "has a local part longer than 64 characters");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (i == 0 || i == len - 1 || s[i - 1] == '.')
                return fail(why, "has a misplaced dot in the local part");
        } else if (!is_atext(c)) {
            return fail(why, "has a character not allowed in the local part");
        }
    }
    return 0;
}

static int check_domain(const char *s, size_t len, const char **why)
{
    size_t labels = 0, start = 0;
    int all_digits = 1;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t n = i - start;
            if (n == 0 || n > 63)
                return fail(why, "has an empty or too long domain label");
            if (s[start] == '-' || s[i - 1] == '-')
                return fail(why, "has a domain label starting or ending with a hyphen");
            labels++;
            if (i == len && all_digits)
                return fail(why, "has a numeric top-level domain");
            start = i + 1;
            all_digits = 1;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '-')
            return fail(why, "has a character not allowed in the domain");
        if (!(c >= '0' && c <= '9'))
            all_digits = 0;
    }
    if (labels < 2)
        return fail(why, "needs a domain with a dot");
    return 0;
}

int kumo_email_check(const char *s, size_t len, char *norm, const char **why)
{
    if (s == NULL || len == 0)
        return fail(why, "must not be empty");
    if (len > KUMO_EMAIL_MAX)
        return fail(why, "is too long");
    size_t at = len;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '@') {
            if (at != len)
                return fail(why, "must contain exactly one @");
            at = i;
        }
    }
    if (at == len)
        return fail(why, "must contain exactly one @");
    int rc = check_local(s, at, why);
    if (rc == 0)
        rc = check_domain(s + at + 1, len - at - 1, why);
    if (rc != 0)
        return rc;
    if (norm) {
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            norm[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        norm[len] = '\0';
    }
    return 0;
}

int kumo_slug_check(const char *s, size_t len, size_t min, size_t max, const char **why)
{
    if (s == NULL || len < min || len > max)
        return fail(why, "has the wrong length");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok)
            return fail(why, "may only contain a-z, 0-9 and '-'");
    }
    if (s[0] == '-' || s[len - 1] == '-')
        return fail(why, "must start and end with a letter or digit");
    return 0;
}
