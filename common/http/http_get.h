/* One blocking HTTP(S) GET with libcurl, for the small documents daemons
 * fetch from each other's admin ports (JWKS, the revocation feed): no
 * redirects, http and https only, a size bound, a whole-request timeout,
 * 2xx only. */
#ifndef KUMO_HTTP_GET_H
#define KUMO_HTTP_GET_H

#include <stddef.h>

#include "base/buf.h"

struct kumo_http_get_opts {
    const char *ca_file; /* PEM bundle for https; NULL: the system's */
    long timeout_ms;     /* whole request; 0 = 5000 */
    size_t max_len;      /* largest body accepted; 0 = 1 MiB */
};

/* GETs `url` and appends the body to `body`. Returns 0; KUMO_ERR_TOO_LARGE
 * for a body above the bound; KUMO_ERR_IO for a connection failure,
 * timeout or non-2xx status, with the reason ("what: detail") appended to
 * `err` (may be NULL). `o` may be NULL. Thread-safe. */
int kumo_http_get(const char *url, const struct kumo_http_get_opts *o, struct kumo_buf *body,
                  const char *what, struct kumo_buf *err);

#endif
