/* The client's address behind trusted proxies; see client_addr.h. */
#include "auth/client_addr.h"

#include <ctype.h>
#include <string.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int addr_plausible(const char *s, size_t n)
{
    if (n == 0 || n > 45)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isxdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == ':'))
            return 0;
    return 1;
}

static void copy_out(char *out, size_t cap, const char *s, size_t n)
{
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void kumo_client_addr(const char *peer, const char *xff, const struct kumo_cidr_list *trusted,
                      char *out, size_t cap)
{
    if (!peer)
        peer = "";
    copy_out(out, cap, peer, strlen(peer));
    if (!xff || !*xff || !kumo_cidr_list_contains(trusted, peer, strlen(peer)))
        return;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *e = end;
        while (e > xff && is_space(e[-1]))
            e--;
        const char *b = e;
        while (b > xff && b[-1] != ',')
            b--;
        const char *next = b > xff ? b - 1 : xff;
        while (b < e && is_space(*b))
            b++;
        size_t n = (size_t)(e - b);
        if (!addr_plausible(b, n))
            return;
        if (!kumo_cidr_list_contains(trusted, b, n)) {
            copy_out(out, cap, b, n);
            return;
        }
        end = next;
    }
}
