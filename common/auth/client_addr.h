/* The address of the client a request comes from, behind trusted proxies:
 * what rate limits and sign-in throttling count (kumo-bff for browsers,
 * kumo-users for the address the BFF forwards). */
#ifndef KUMO_CLIENT_ADDR_H
#define KUMO_CLIENT_ADDR_H

#include <stddef.h>

#include "auth/cidr.h"

/* The client's address: `peer` (the socket's address), or, when `peer` is
 * inside one of the `trusted` proxy ranges (cidr.h; NULL = none), the
 * right-most address of the X-Forwarded-For value `xff` that is not itself
 * a trusted proxy (each proxy appends the address it saw). Writes it
 * NUL-terminated to out[0..cap); an entry that is not a plausible address
 * (characters other than hex digits, '.', ':') falls back to `peer`. */
void kumo_client_addr(const char *peer, const char *xff, const struct kumo_cidr_list *trusted,
                      char *out, size_t cap);

#endif
