/* One blocking HTTP(S) PUT of a body held in memory, with libcurl: for a
 * daemon that stores content through a presigned URL itself (kumo-bff's
 * direct upload). No redirects, http and https only, a whole-request
 * timeout, the answer body ignored, 2xx only. */
#ifndef KUMO_HTTP_PUT_H
#define KUMO_HTTP_PUT_H

#include <stddef.h>

#include "base/buf.h"

struct kumo_http_header {
    const char *name;
    const char *value;
};

/* What a PUT answered. */
struct kumo_http_put_answer {
    long status;   /* 0 when none came */
    char etag[96]; /* the ETag header as sent (quotes kept), "" when none or longer */
};

/* One PUT. */
struct kumo_http_put_req {
    const char *url;
    const struct kumo_http_header *headers; /* sent exactly as given */
    size_t n_headers;
    const void *body;
    size_t len;
    long timeout_ms; /* whole request; 0 = 30 s */
    /* "host:port" to connect to instead of the URL's (the Host header and
     * the TLS name stay the URL's, so a signature over them holds); NULL or
     * "": the URL's. */
    const char *connect_to;
    const char *what; /* names the PUT in errors; NULL: "http PUT" */
};

/* PUTs rq->body to rq->url (curl adds no Content-Type or Expect). Returns 0
 * on a 2xx answer; KUMO_ERR_IO for a connection failure, timeout or another
 * status, with the reason ("what: detail") appended to `err` (may be NULL).
 * *ans (may be NULL) gets the status and ETag. Thread-safe. */
int kumo_http_put(const struct kumo_http_put_req *rq, struct kumo_http_put_answer *ans,
                  struct kumo_buf *err);

#endif
