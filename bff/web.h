/* Pure helpers of a browser-facing HTTP API (the BFF): cookies, CSRF,
 * CORS origin lists, JSON nesting depth, request ids, client addresses
 * behind trusted proxies, path patterns, and the REST status of an RPC
 * code. No I/O, no allocation except into a caller's kumo_buf. */
#ifndef KUMO_WEB_H
#define KUMO_WEB_H

#include <stddef.h>

#include "base/buf.h"
#include "base/errors.h"

/* Finds cookie `name` in a Cookie header value ("a=1; b=2"). Returns 1 and
 * points *val / *len into `header` (quotes around the value stripped), or
 * 0 if absent (or header NULL). The first occurrence wins. */
int kumo_web_cookie_get(const char *header, const char *name, const char **val, size_t *len);

struct kumo_web_cookie {
    const char *name;
    const char *value;   /* must be cookie-octets only (no ;, space, quote...) */
    int http_only;       /* adds HttpOnly */
    int secure;          /* adds Secure */
    long long max_age_s; /* < 0: a session cookie; 0: delete it */
};

/* Appends a Set-Cookie header value for `c` with Path=/ and
 * SameSite=Strict. Returns 0, or KUMO_ERR_INVALID (name or value with
 * characters a cookie cannot hold) leaving `out` unchanged. */
int kumo_web_set_cookie(struct kumo_buf *out, const struct kumo_web_cookie *c);

/* Double-submit CSRF check: the header token equals the cookie token, both
 * non-empty, compared in constant time. Returns 1 if they match, else 0. */
int kumo_web_csrf_ok(const char *cookie_val, size_t cookie_len, const char *header_val);

/* Returns 1 if `origin` matches one entry of the comma-separated `list`
 * exactly (ASCII case-insensitive scheme/host, spaces around entries
 * ignored; "*" entries are never honoured), else 0. NULL/empty list or
 * origin: 0. */
int kumo_web_origin_allowed(const char *list, const char *origin);

/* Returns the deepest nesting of arrays and objects in JSON text
 * `s[0..len)` (strings, escapes included, are skipped), stopping early
 * once it passes `limit` (it then returns limit + 1). Malformed JSON is
 * left to the parser. */
int kumo_web_json_depth(const char *s, size_t len, int limit);

/* Returns 1 if `id` is a sane incoming request id: 1..128 characters of
 * A-Z a-z 0-9 and "-_.:". */
int kumo_web_request_id_ok(const char *id);

#define KUMO_WEB_MAX_PARAMS 4

struct kumo_web_params {
    int n;
    struct {
        const char *name; /* points into the pattern, not NUL-terminated */
        size_t name_len;
        const char *val; /* points into the path */
        size_t len;
    } p[KUMO_WEB_MAX_PARAMS];
};

/* Matches `path` against `pattern` segment by segment; a segment "{name}"
 * matches one non-empty path segment. No trailing-slash leniency. Returns 1
 * and fills *params (may be NULL), or 0. */
int kumo_web_route_match(const char *pattern, const char *path, struct kumo_web_params *params);

/* The REST status of an RPC error code: invalid_argument/out_of_range 400,
 * unauthenticated 401, permission_denied 403, not_found 404,
 * already_exists/aborted/failed_precondition 409, resource_exhausted 429,
 * canceled 499, unimplemented 501, unavailable 503, deadline_exceeded 504,
 * anything else 500; OK 200. */
int kumo_web_status_from_code(kumo_code code);

#endif
