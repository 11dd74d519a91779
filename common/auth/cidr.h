/* Address ranges in CIDR notation ("10.0.0.0/8, fd00::/8, 192.0.2.7"),
 * parsed once and matched against numeric client addresses: the trusted
 * proxies whose X-Forwarded-For a daemon believes.
 *
 * An entry without a prefix length is one address (/32 or /128). An
 * IPv4-mapped IPv6 address ("::ffff:10.1.2.3") matches the IPv4 ranges, as
 * a dual-stack socket reports IPv4 peers that way. No I/O; the list is
 * immutable once parsed, so any number of threads may match at once. */
#ifndef KUMO_CIDR_H
#define KUMO_CIDR_H

#include <stddef.h>

/* Most ranges in one list. */
#define KUMO_CIDR_MAX 64

struct kumo_cidr_list;

/* Parses a comma- (or space-) separated list of ranges. NULL or "" gives an
 * empty list (matching nothing). Returns 0 and sets *out (free with
 * kumo_cidr_list_free), or KUMO_ERR_INVALID for an entry that is not an
 * address, a prefix length out of range, host bits set below the prefix
 * ("10.0.0.1/8" is a mistake, refused rather than guessed), or more than
 * KUMO_CIDR_MAX entries; *out is then untouched and, when err is not NULL,
 * err[0..errlen) names the offending entry. */
int kumo_cidr_list_parse(const char *text, struct kumo_cidr_list **out, char *err, size_t errlen);

struct kumo_config;

/* kumo_cidr_list_parse of the configuration variable `name` (e.g.
 * KUMO_TRUSTED_PROXIES). Returns 0, or -1 after logging "bad
 * configuration" with the variable and what is wrong. */
int kumo_cidr_list_from_config(const struct kumo_config *c, const char *name,
                               struct kumo_cidr_list **out);

/* Returns 1 if the numeric address s[0..n) (IPv4 dotted or IPv6 text, not
 * NUL-terminated) is inside one of the list's ranges, else 0 (also for
 * text that is not an address, or a NULL list). */
int kumo_cidr_list_contains(const struct kumo_cidr_list *l, const char *s, size_t n);

/* Number of ranges in the list (0 for NULL). */
size_t kumo_cidr_list_count(const struct kumo_cidr_list *l);

/* Frees the list. NULL is ignored. */
void kumo_cidr_list_free(struct kumo_cidr_list *l);

#endif
