/* The proleptic Gregorian calendar in UTC, without the C library's time
 * zone machinery (gmtime_r takes a lock; timegm is not standard): days
 * since the epoch <-> dates, as the JSON codec (Timestamp text) and the
 * MySQL binding (DATETIME) need them. */
#ifndef KUMO_BASE_CALENDAR_H
#define KUMO_BASE_CALENDAR_H

#include <stdint.h>

/* Days since 1970-01-01 of year y, month m (1..12), day d (1..31) (H.
 * Hinnant's days_from_civil; any year, negative before 1970). */
int64_t kumo_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The date of day z since 1970-01-01 (the inverse of
 * kumo_days_from_civil). */
void kumo_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Days in month m (1..12) of year y (leap years counted). */
int kumo_days_in_month(int64_t y, unsigned m);

/* Seconds since the epoch of the UTC date and time y-mo-d h:mi:se, checked
 * without normalising: 1970 <= y <= 9999, a month and day that exist,
 * h <= 23, mi <= 59, se <= 59 (no leap second). Returns 0, or -1 for a time
 * that does not exist (20150231, 24:00:00) and *out is left alone. */
int kumo_utc_seconds(int y, int mo, int d, int h, int mi, int se, int64_t *out);

/* The UTC year of a time in microseconds since the epoch. */
int64_t kumo_utc_year_us(int64_t us);

#endif
