/* CIDR address ranges; see cidr.h. inet_pton does the address parsing; the
 * prefix arithmetic is a few lines, so no library is worth it here. */
#include "auth/cidr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "runtime/config.h"
#include "runtime/log.h"

struct range {
    uint8_t addr[16]; /* IPv4 stored as ::ffff:a.b.c.d */
    unsigned bits;    /* prefix length over the 128-bit form */
};

struct kumo_cidr_list {
    size_t n;
    struct range r[KUMO_CIDR_MAX];
};

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses a numeric address into the 128-bit form. Returns 4 or 6 (the
 * family written), or 0. */
static int parse_addr(const char *s, size_t n, uint8_t out[16])
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (memchr(tmp, ':', n)) {
        return inet_pton(AF_INET6, tmp, out) == 1 ? 6 : 0;
    }
    uint8_t v4[4];
    if (inet_pton(AF_INET, tmp, v4) != 1)
        return 0;
    memcpy(out, v4_mapped, sizeof v4_mapped);
    memcpy(out + 12, v4, 4);
    return 4;
}

static int host_bits_clear(const uint8_t a[16], unsigned bits)
{
    for (unsigned i = bits; i < 128; i++)
        if (a[i / 8] & (0x80u >> (i % 8)))
            return 0;
    return 1;
}

static int in_range(const struct range *r, const uint8_t a[16])
{
    unsigned full = r->bits / 8, rest = r->bits % 8;
    if (memcmp(r->addr, a, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (r->addr[full] & mask) == (a[full] & mask);
}

static int parse_entry(const char *s, size_t n, struct range *r)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    int fam = parse_addr(s, alen, r->addr);
    if (fam == 0)
        return -1;
    unsigned max = fam == 4 ? 32 : 128, bits = max;
    if (slash) {
        const char *d = slash + 1, *end = s + n;
        if (d == end || end - d > 3)
            return -1;
        bits = 0;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            bits = bits * 10 + (unsigned)(*d - '0');
        }
        if (bits > max)
            return -1;
    }
    r->bits = fam == 4 ? bits + 96 : bits;
    return host_bits_clear(r->addr, r->bits) ? 0 : -1;
}

int kumo_cidr_list_parse(const char *text, struct kumo_cidr_list **out, char *err, size_t errlen)
{
    struct kumo_cidr_list *l = kumo_calloc(1, sizeof *l);
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0)
            continue;
        if (l->n == KUMO_CIDR_MAX || parse_entry(start, n, &l->r[l->n]) != 0) {
            if (err && errlen)
                snprintf(err, errlen, "%s: \"%.*s\"",
                         l->n == KUMO_CIDR_MAX ? "too many ranges" : "not a CIDR range",
                         (int)(n > 64 ? 64 : n), start);
            kumo_free(l);
            return KUMO_ERR_INVALID;
        }
        l->n++;
    }
    *out = l;
    return 0;
}

int kumo_cidr_list_contains(const struct kumo_cidr_list *l, const char *s, size_t n)
{
    uint8_t a[16];
    if (!l || l->n == 0 || parse_addr(s, n, a) == 0)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (in_range(&l->r[i], a))
            return 1;
    return 0;
}

size_t kumo_cidr_list_count(const struct kumo_cidr_list *l)
{
    return l ? l->n : 0;
}

void kumo_cidr_list_free(struct kumo_cidr_list *l)
{
    kumo_free(l);
}

int kumo_cidr_list_from_config(const struct kumo_config *c, const char *name,
                               struct kumo_cidr_list **out)
{
    char err[160];
    if (kumo_cidr_list_parse(kumo_config_string(c, name), out, err, sizeof err) == 0)
        return 0;
    kumo_log(KUMO_LOG_ERROR, NULL, "bad configuration", "variable", name, "error", err, NULL);
    return -1;
}
