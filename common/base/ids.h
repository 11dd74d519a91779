/* Identifiers, etags and wall-clock time as the services store them: ids
 * "<prefix>_<20 base32 characters>" from the CSPRNG, etags that are a row's
 * version in decimal, timestamps in microseconds since the epoch (what the
 * DB layer binds as KUMO_DB_TIME). Pure helpers shared by every service. */
#ifndef KUMO_IDS_H
#define KUMO_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Characters of the random part of an id (5 bits each: 100 bits). */
#define KUMO_ID_RANDOM_CHARS 20

/* Room for an etag and its NUL. */
#define KUMO_ETAG_MAX 24

/* Writes a new random id "<prefix>_<20 chars of a-z2-7>" and a NUL to
 * out[0..cap). Returns 0, KUMO_ERR_INVALID when it does not fit in `cap`
 * (out untouched), or KUMO_ERR_IO when the CSPRNG fails. */
int kumo_id_new(const char *prefix, char *out, size_t cap);

/* Wall clock (CLOCK_REALTIME) in microseconds since the epoch. */
int64_t kumo_now_us(void);

/* Parses an etag: a row version in canonical decimal (1..18 digits, no
 * sign, no leading zero, >= 1). Returns 0 and sets *version, or
 * KUMO_ERR_INVALID (NULL, empty, anything else) leaving it untouched. */
int kumo_etag_parse(const char *etag, int64_t *version);

/* Writes the etag of `version` to out[KUMO_ETAG_MAX]. */
void kumo_etag_format(int64_t version, char out[KUMO_ETAG_MAX]);

#endif
