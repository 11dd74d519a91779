/* The JSON mapping's scalar parsers, exact and without a detour through
 * double: integral numbers written as strings, doubles, floats, RFC 3339
 * Timestamps and Durations. */
#include "codec/json_codec.h"
#include "codec/json_internal.h"

#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/calendar.h"
#include "base/errors.h"

/* ------------------------------------------------------------------------ */
/* Numbers and time                                                         */

/* Converts to float as the JSON mapping does: values that round to a finite
 * float are accepted (even a hair above FLT_MAX), larger ones are out of
 * range. Non-finite values pass through. Returns 0 or -1. */
int kumo__json_double_to_float(double d, float *out)
{
    /* FLT_MAX plus half an ulp (2^103): anything below rounds to FLT_MAX. */
    const double limit = 0x1.ffffffp127;
    if (isfinite(d) && fabs(d) > FLT_MAX) {
        if (fabs(d) >= limit)
            return -1;
        *out = d < 0 ? -FLT_MAX : FLT_MAX;
        return 0;
    }
    *out = (float)d;
    return 0;
}

/* Whether s[0..len) is a JSON number (RFC 8259 grammar, nothing around). On
 * success sets the digit ranges and the exponent (saturated). */
struct numparts {
    const char *ip, *fp; /* integer and fraction digits */
    size_t ni, nf;
    long long exp;
    int neg;
};

int kumo__json_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(const char *s, size_t len, struct numparts *np)
{
    size_t i = 0;
    memset(np, 0, sizeof(*np));
    if (i < len && s[i] == '-') {
        np->neg = 1;
        i++;
    }
    if (i >= len || !kumo__json_is_digit(s[i]))
        return -1;
    np->ip = s + i;
    if (s[i] == '0')
        i++;
    else
        while (i < len && kumo__json_is_digit(s[i]))
            i++;
    np->ni = (size_t)(s + i - np->ip);
    if (i < len && s[i] == '.') {
        i++;
        np->fp = s + i;
        while (i < len && kumo__json_is_digit(s[i]))
            i++;
        np->nf = (size_t)(s + i - np->fp);
        if (np->nf == 0)
            return -1;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= len || !kumo__json_is_digit(s[i]))
            return -1;
        for (; i < len && kumo__json_is_digit(s[i]); i++)
            if (np->exp < 1000000000LL)
                np->exp = np->exp * 10 + (s[i] - '0');
        if (eneg)
            np->exp = -np->exp;
    }
    return i == len ? 0 : -1;
}

/* Digit k of the concatenated integer and fraction digits. */
static int np_digit(const struct numparts *np, size_t k)
{
    return k < np->ni ? np->ip[k] - '0' : np->fp[k - np->ni] - '0';
}

/* Parses a JSON number written as a string exactly (no detour through
 * double), requiring an integral value: "12", "-3", "1e3", "1.50e1" all work.
 * Sets the sign and magnitude. */
int kumo__json_parse_integral(const char *s, size_t len, int *neg, uint64_t *mag)
{
    struct numparts np;
    if (scan_number(s, len, &np) != 0)
        return NUM_SYNTAX;
    size_t nd = np.ni + np.nf, first = nd, last = 0;
    for (size_t k = 0; k < nd; k++)
        if (np_digit(&np, k) != 0) {
            if (first == nd)
                first = k;
            last = k;
        }
    *neg = np.neg;
    *mag = 0;
    if (first == nd) /* zero, whatever the exponent */
        return NUM_OK;
    /* value = digits[first..last] * 10^scale */
    long long scale = np.exp - (long long)np.nf + (long long)(nd - 1 - last);
    if (scale < 0)
        return NUM_FRACTION;
    if ((long long)(last - first + 1) + scale > 20)
        return NUM_RANGE;
    uint64_t v = 0;
    for (long long k = (long long)first; k <= (long long)last + scale; k++) {
        unsigned dgt = k <= (long long)last ? (unsigned)np_digit(&np, (size_t)k) : 0;
        if (v > (UINT64_MAX - dgt) / 10)
            return NUM_RANGE;
        v = v * 10 + dgt;
    }
    *mag = v;
    return NUM_OK;
}

/* Parses a JSON number written as a string as a double; "NaN", "Infinity"
 * and "-Infinity" too. */
int kumo__json_parse_double_string(const char *s, size_t len, double *out)
{
    if (len == 3 && memcmp(s, "NaN", 3) == 0) {
        *out = NAN;
        return NUM_OK;
    }
    if (len == 8 && memcmp(s, "Infinity", 8) == 0) {
        *out = INFINITY;
        return NUM_OK;
    }
    if (len == 9 && memcmp(s, "-Infinity", 9) == 0) {
        *out = -INFINITY;
        return NUM_OK;
    }
    struct numparts np;
    if (scan_number(s, len, &np) != 0)
        return NUM_SYNTAX;
    char tmp[64];
    char *buf = len < sizeof(tmp) ? tmp : kumo_malloc(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    double d = strtod(buf, NULL);
    if (buf != tmp)
        kumo_free(buf);
    if (isinf(d))
        return NUM_RANGE;
    *out = d;
    return NUM_OK;
}

/* Reads exactly `n` digits at s[*i]; returns the value or -1. */
static long read_digits(const char *s, size_t len, size_t *i, size_t n)
{
    long v = 0;
    if (*i + n > len)
        return -1;
    for (size_t k = 0; k < n; k++) {
        char c = s[*i + k];
        if (!kumo__json_is_digit(c))
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += n;
    return v;
}

/* Reads ".d{1,9}" if present, as nanoseconds. Returns 0 or -1. */
static int read_fraction(const char *s, size_t len, size_t *i, int32_t *nanos)
{
    *nanos = 0;
    if (*i >= len || s[*i] != '.')
        return 0;
    (*i)++;
    size_t n = 0;
    int32_t v = 0;
    while (*i < len && kumo__json_is_digit(s[*i])) {
        if (++n > 9)
            return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    if (n == 0)
        return -1;
    while (n++ < 9)
        v *= 10;
    *nanos = v;
    return 0;
}

/* Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|+HH:MM|-HH:MM)" within
 * the Timestamp range. Returns 0 or -1. */
int kumo__json_parse_timestamp(const char *s, size_t len, int64_t *secs, int32_t *nanos)
{
    size_t i = 0;
    long y = read_digits(s, len, &i, 4);
    if (y < 0 || i >= len || s[i++] != '-')
        return -1;
    long mo = read_digits(s, len, &i, 2);
    if (mo < 1 || mo > 12 || i >= len || s[i++] != '-')
        return -1;
    long d = read_digits(s, len, &i, 2);
    if (d < 1 || d > kumo_days_in_month(y, (unsigned)mo) || i >= len || s[i++] != 'T')
        return -1;
    long h = read_digits(s, len, &i, 2);
    if (h < 0 || h > 23 || i >= len || s[i++] != ':')
        return -1;
    long mi = read_digits(s, len, &i, 2);
    if (mi < 0 || mi > 59 || i >= len || s[i++] != ':')
        return -1;
    long se = read_digits(s, len, &i, 2);
    if (se < 0 || se > 59 || read_fraction(s, len, &i, nanos) != 0 || i >= len)
        return -1;
    long off = 0;
    if (s[i] == 'Z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i++] == '-' ? -1 : 1;
        long oh = read_digits(s, len, &i, 2);
        if (oh < 0 || oh > 23 || i >= len || s[i++] != ':')
            return -1;
        long om = read_digits(s, len, &i, 2);
        if (om < 0 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    int64_t t =
        kumo_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    t -= off;
    if (t < TS_MIN_SECONDS || t > TS_MAX_SECONDS)
        return -1;
    *secs = t;
    return 0;
}

/* Parses "-?\d+(\.\d{1,9})?s" within the Duration range. */
int kumo__json_parse_duration(const char *s, size_t len, int64_t *secs, int32_t *nanos)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    size_t start = i;
    int64_t v = 0;
    while (i < len && kumo__json_is_digit(s[i])) {
        v = v * 10 + (s[i++] - '0');
        if (v > DUR_MAX_SECONDS)
            return -1;
    }
    if (i == start || read_fraction(s, len, &i, nanos) != 0)
        return -1;
    if (i + 1 != len || s[i] != 's')
        return -1;
    *secs = neg ? -v : v;
    if (neg)
        *nanos = -*nanos;
    return 0;
}
