/* Fuzzes the parsers of bff/web.c that read client input: Cookie
 * headers, X-Forwarded-For, JSON nesting depth, request ids, origins and
 * route patterns. The first byte picks the parser; the rest is the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/client_addr.h"
#include "web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    const char *v;
    size_t n;
    char out[64];
    struct kumo_web_params p;
    switch (data[0] % 6) {
    case 0:
        if (kumo_web_cookie_get(s, "kumo_csrf", &v, &n) && n > 0)
            (void)kumo_web_csrf_ok(v, n, "x");
        break;
    case 1: {
        static struct kumo_cidr_list *trusted;
        if (!trusted && kumo_cidr_list_parse("10.0.0.1,10.0.0.2,fd00::/8", &trusted, NULL, 0) != 0)
            abort();
        kumo_client_addr("10.0.0.1", s, trusted, out, sizeof out);
    }
        if (strlen(out) >= sizeof out)
            abort();
        break;
    case 2:
        if (kumo_web_json_depth(s, size - 1, 32) > 33)
            abort();
        break;
    case 3:
        (void)kumo_web_request_id_ok(s);
        break;
    case 4:
        (void)kumo_web_origin_allowed(s, "https://app.example.com");
        break;
    default:
        if (kumo_web_route_match("/api/v1/documents/{id}/archive", s, &p) && p.n != 1)
            abort();
        break;
    }
    free(s);
    return 0;
}
