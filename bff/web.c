/* Browser-facing HTTP helpers; see web.h. */
#include "web.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/secret.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int kumo_web_cookie_get(const char *header, const char *name, const char **val, size_t *len)
{
    if (!header || !name)
        return 0;
    size_t nlen = strlen(name);
    const char *p = header;
    while (*p) {
        while (is_space(*p) || *p == ';')
            p++;
        const char *start = p;
        while (*p && *p != ';')
            p++;
        const char *end = p;
        const char *eq = memchr(start, '=', (size_t)(end - start));
        if (!eq)
            continue;
        const char *ne = eq;
        while (ne > start && is_space(ne[-1]))
            ne--;
        if ((size_t)(ne - start) != nlen || memcmp(start, name, nlen) != 0)
            continue;
        const char *v = eq + 1;
        while (v < end && is_space(*v))
            v++;
        while (end > v && is_space(end[-1]))
            end--;
        if (end - v >= 2 && *v == '"' && end[-1] == '"') {
            v++;
            end--;
        }
        if (val)
            *val = v;
        if (len)
            *len = (size_t)(end - v);
        return 1;
    }
    return 0;
}

static int cookie_octets_ok(const char *s, int allow_empty)
{
    if (!s || (!*s && !allow_empty))
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return 0;
    }
    return 1;
}

static int token_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

int kumo_web_set_cookie(struct kumo_buf *out, const struct kumo_web_cookie *c)
{
    if (!out || !c || !token_ok(c->name) || !cookie_octets_ok(c->value, 1))
        return KUMO_ERR_INVALID;
    kumo_buf_appendf(out, "%s=%s; Path=/; SameSite=Strict", c->name, c->value);
    if (c->max_age_s >= 0)
        kumo_buf_appendf(out, "; Max-Age=%lld", c->max_age_s);
    if (c->secure)
        kumo_buf_append_str(out, "; Secure");
    if (c->http_only)
        kumo_buf_append_str(out, "; HttpOnly");
    return 0;
}

int kumo_web_csrf_ok(const char *cookie_val, size_t cookie_len, const char *header_val)
{
    if (!cookie_val || !header_val || cookie_len == 0)
        return 0;
    if (strlen(header_val) != cookie_len)
        return 0;
    return kumo_secret_equal(cookie_val, header_val, cookie_len);
}

int kumo_web_origin_allowed(const char *list, const char *origin)
{
    if (!list || !origin || !*origin)
        return 0;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        while (is_space(*p) || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && is_space(end[-1]))
            end--;
        size_t n = (size_t)(end - start);
        if (n == 0 || (n == 1 && *start == '*'))
            continue;
        if (n == olen && strncasecmp(start, origin, n) == 0)
            return 1;
    }
    return 0;
}

int kumo_web_json_depth(const char *s, size_t len, int limit)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return limit + 1;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return max;
}

int kumo_web_request_id_ok(const char *id)
{
    if (!id || !*id)
        return 0;
    size_t n = 0;
    for (; *id; id++, n++) {
        unsigned char c = (unsigned char)*id;
        if (n >= 128 || !(isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return 1;
}

/* 1 if s[0..n) is one of the comma-separated entries of `list`. */
int kumo_web_route_match(const char *pattern, const char *path, struct kumo_web_params *params)
{
    struct kumo_web_params tmp;
    struct kumo_web_params *pp = params ? params : &tmp;
    pp->n = 0;
    const char *a = pattern, *b = path;
    while (*a && *b) {
        if (*a == '{') {
            const char *close = strchr(a, '}');
            if (!close || pp->n >= KUMO_WEB_MAX_PARAMS)
                return 0;
            const char *seg = b;
            while (*b && *b != '/')
                b++;
            if (b == seg)
                return 0;
            pp->p[pp->n].name = a + 1;
            pp->p[pp->n].name_len = (size_t)(close - a - 1);
            pp->p[pp->n].val = seg;
            pp->p[pp->n].len = (size_t)(b - seg);
            pp->n++;
            a = close + 1;
            continue;
        }
        if (*a != *b)
            return 0;
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

int kumo_web_status_from_code(kumo_code code)
{
    switch (code) {
    case KUMO_CODE_OK:
        return 200;
    case KUMO_CODE_CANCELED:
        return 499;
    case KUMO_CODE_INVALID_ARGUMENT:
    case KUMO_CODE_OUT_OF_RANGE:
        return 400;
    case KUMO_CODE_DEADLINE_EXCEEDED:
        return 504;
    case KUMO_CODE_NOT_FOUND:
        return 404;
    case KUMO_CODE_ALREADY_EXISTS:
    case KUMO_CODE_ABORTED:
    case KUMO_CODE_FAILED_PRECONDITION:
        return 409;
    case KUMO_CODE_PERMISSION_DENIED:
        return 403;
    case KUMO_CODE_RESOURCE_EXHAUSTED:
        return 429;
    case KUMO_CODE_UNIMPLEMENTED:
        return 501;
    case KUMO_CODE_UNAVAILABLE:
        return 503;
    case KUMO_CODE_UNAUTHENTICATED:
        return 401;
    default:
        return 500;
    }
}
