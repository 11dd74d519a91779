/* Connect unary GET requests (Connect protocol spec, "Unary-Get-Request"):
 * the request message and its codec travel in the URL query. */
#ifndef KUMO_CONNECT_GET_H
#define KUMO_CONNECT_GET_H

#include <stddef.h>

#include "base/buf.h"

struct kumo_connect_get {
    struct kumo_buf message; /* decoded message bytes (still compressed if
                                compression is set) */
    char encoding[16];       /* "proto" or "json" */
    char compression[16];    /* as sent ("gzip", "identity", ...); "" if absent */
    int has_connect_v1;      /* connect=v1 present */
};

/* Parses the query string of a Connect GET (the part after '?', without the
 * fragment). Parameters:
 *   message      required; URL-decoded, then base64-decoded if base64=1
 *                (URL-safe or standard alphabet, padding optional)
 *   encoding     required; "proto" or "json"
 *   base64       "1" means message is base64; any other value means raw
 *   compression  optional; copied to out->compression, not interpreted
 *   connect      optional; must be "v1" if present
 * Unknown parameters are ignored (their text is not even decoded); a known
 * one given twice is an error. Time is linear and memory bounded by `len`.
 * Returns 0 with *out filled, or a positive kumo_code with a static
 * explanation in *why: KUMO_CODE_INVALID_ARGUMENT for a missing, repeated or
 * malformed parameter, KUMO_CODE_UNIMPLEMENTED for an unsupported encoding
 * (or a compression name too long to be any supported one). *out needs no
 * initialization; on error it holds nothing to free (freeing is harmless).
 * On success the caller frees it with kumo_connect_get_free. */
int kumo_connect_get_parse(const char *query, size_t len, struct kumo_connect_get *out,
                           const char **why);

/* Frees what kumo_connect_get_parse stored; *g is left empty. */
void kumo_connect_get_free(struct kumo_connect_get *g);

#endif
