#include "wire/timeout.h"

#include <string.h>

#include "base/errors.h"

#define NS_PER_US                  1000LL
#define NS_PER_MS                  1000000LL
#define NS_PER_S                   1000000000LL
#define NS_PER_M                   (60 * NS_PER_S)
#define NS_PER_H                   (3600 * NS_PER_S)
#define GRPC_TIMEOUT_MAX_DIGITS    8
#define GRPC_TIMEOUT_MAX_VALUE     99999999LL
#define CONNECT_TIMEOUT_MAX_DIGITS 10

/* Units from finest to coarsest: the formatter takes the first that fits. */
static const struct {
    char unit;
    int64_t ns;
} units[] = {
    {'n', 1}, {'u', NS_PER_US}, {'m', NS_PER_MS}, {'S', NS_PER_S}, {'M', NS_PER_M}, {'H', NS_PER_H},
};

#define N_UNITS (sizeof units / sizeof units[0])

/* Parses 1..max_digits ASCII digits (the whole of s[0..len)). */
static int parse_digits(const char *s, size_t len, size_t max_digits, int64_t *out)
{
    if (len == 0 || len > max_digits)
        return KUMO_ERR_INVALID;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return KUMO_ERR_INVALID;
        v = v * 10 + (s[i] - '0'); /* at most 10 digits: no overflow */
    }
    *out = v;
    return 0;
}

int kumo_grpc_timeout_parse(const char *s, size_t len, int64_t *ns_out)
{
    if (len < 2)
        return KUMO_ERR_INVALID;
    int64_t v;
    if (parse_digits(s, len - 1, GRPC_TIMEOUT_MAX_DIGITS, &v) != 0)
        return KUMO_ERR_INVALID;
    for (size_t i = 0; i < N_UNITS; i++) {
        if (units[i].unit != s[len - 1])
            continue;
        *ns_out = v > INT64_MAX / units[i].ns ? INT64_MAX : v * units[i].ns;
        return 0;
    }
    return KUMO_ERR_INVALID;
}

void kumo_grpc_timeout_format(int64_t ns, char out[KUMO_GRPC_TIMEOUT_MAX])
{
    if (ns <= 0)
        ns = 1;
    for (size_t i = 0; i < N_UNITS; i++) {
        int64_t u = units[i].ns;
        int64_t v = ns / u + (ns % u != 0);
        if (v <= GRPC_TIMEOUT_MAX_VALUE) {
            char digits[24];
            size_t n = 0;
            do {
                digits[n++] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            for (size_t k = 0; k < n; k++)
                out[k] = digits[n - 1 - k];
            out[n] = units[i].unit;
            out[n + 1] = '\0';
            return;
        }
    }
    /* Unreachable: INT64_MAX ns is about 2.6 million hours. */
    memcpy(out, "99999999H", sizeof "99999999H");
}

int kumo_connect_timeout_parse(const char *s, size_t len, int64_t *ns_out)
{
    int64_t ms;
    if (parse_digits(s, len, CONNECT_TIMEOUT_MAX_DIGITS, &ms) != 0)
        return KUMO_ERR_INVALID;
    *ns_out = ms * NS_PER_MS; /* < 10^10 ms = 10^16 ns: fits */
    return 0;
}
