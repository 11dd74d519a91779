/* Token revocations that reach every process within about a second.
 *
 * Access tokens are verified locally (and cached) by every service, so
 * revoking an API key, disabling or deleting a user, or signing a user out
 * everywhere must be pushed to them. kumo-users records each revocation as
 * a row (tenant, subject, not_before, a growing sequence number) and serves
 * the recent ones at GET /revocations?after=<seq> on its admin port; every
 * other process follows that feed (kumo_revocations_follow_start) into a
 * kumo_revocations set, and the authenticators refuse a token whose
 * (tid, sub) has a revocation with not_before >= its iat.
 *
 * Subjects are a user id, an API key's token subject ("ak_<key id>"), or
 * a service principal's name.
 *
 * Sequence numbers come from an AUTO_INCREMENT column, so a row can become
 * visible after a higher one (transactions commit out of order). Nothing
 * is lost for that: entries are kept and served by seq, duplicates are
 * ignored, and every feed page also repeats the entries created within the
 * last `window` seconds, whatever the cursor. Entries are kept for
 * `keep_s` after not_before (the longest token lifetime accepted): by then
 * every token they could refuse has expired anyway.
 *
 * Granularity: iat is in seconds, so a token issued in the same second as
 * the revocation is refused too (a client that signed in again within that
 * second refreshes once). Thread-safe: any number of readers check while
 * the follower adds (a read-write lock; an empty set costs one atomic load). */
#ifndef KUMO_REVOCATIONS_H
#define KUMO_REVOCATIONS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Longest tenant id and subject (bytes), as KUMO_JWT_ID_MAX. */
#define KUMO_REVOCATION_ID_MAX 128
/* Most entries one feed page carries. */
#define KUMO_REVOCATIONS_PAGE 500
/* Seconds of recent entries every feed page repeats (see above). */
#define KUMO_REVOCATIONS_WINDOW_S 30

struct kumo_revocations;

/* Creates an empty set keeping entries keep_s (>= 1) past their
 * not_before. Returns 0 and sets *out, or KUMO_ERR_INVALID. */
int kumo_revocations_new(struct kumo_revocations **out, int64_t keep_s);

/* Frees the set. NULL is ignored. */
void kumo_revocations_free(struct kumo_revocations *r);

/* Adds revocation number `seq` (> 0; a seq already held is ignored:
 * entries arrive at least once, in any order) of every token of (tid, sub)
 * issued at or before not_before (seconds since the epoch), recorded at
 * `created` (seconds). `now_s` drops expired entries. Returns 1 if added,
 * 0 if ignored (held already, or expired), KUMO_ERR_INVALID for a bad seq
 * or an empty, too long or unprintable id (printable ASCII without '"' and
 * '\\'). */
int kumo_revocations_add(struct kumo_revocations *r, int64_t seq, const char *tid, const char *sub,
                         int64_t not_before, int64_t created, int64_t now_s);

/* Returns 1 if a token of (tid, sub) issued at `iat` is revoked, else 0.
 * NULL set: 0. */
int kumo_revocations_revoked(struct kumo_revocations *r, const char *tid, const char *sub,
                             int64_t iat);

/* The highest sequence number added (0 for none). */
int64_t kumo_revocations_cursor(struct kumo_revocations *r);

/* Number of entries held (for metrics and tests). */
size_t kumo_revocations_count(struct kumo_revocations *r);

/* Appends the feed page after `after` as JSON:
 * {"cursor":N,"more":bool,"revocations":[{"seq":..,"tenant_id":"..",
 * "subject":"..","not_before":..,"created":..},...]}: the entries with
 * seq > after or created >= recent_s, in sequence order, at most
 * KUMO_REVOCATIONS_PAGE; cursor is the last one's seq when "more", else the
 * higher of `after` and the set's cursor. */
void kumo_revocations_feed_json(struct kumo_revocations *r, int64_t after, int64_t recent_s,
                                struct kumo_buf *out);

/* Applies a feed page (the JSON above, parsed strictly: every field typed,
 * nothing else at the top). Returns the number of entries added (>= 0) and
 * sets *more to the page's "more", or KUMO_ERR_INVALID for a malformed page
 * (nothing of it applied). */
int kumo_revocations_apply_json(struct kumo_revocations *r, const char *json, size_t len,
                                int64_t now_s, int *more);

/* ---- following kumo-users' feed ---------------------------------------- */

/* Called by the follower thread for each entry it adds (e.g. the BFF forgets
 * the exchanged tokens of a revoked API key). Must not block for long. */
typedef void (*kumo_revocation_fn)(void *ud, const char *tid, const char *sub);

struct kumo_revocations_follower;

/* Starts a thread that GETs `url`?after=<cursor>&window=30 at once, then every
 * `interval_ms` (>= 50), and applies each page to `r` (borrowed: it must
 * outlive the follower), calling `fn` (may be NULL) for each new entry. A
 * failed fetch keeps the set as it is, is logged (once per outage) and
 * counted in kumo_revocations_fetch_failures_total. Returns 0 and sets
 * *out, or KUMO_ERR_INVALID / -errno. */
int kumo_revocations_follow_start(struct kumo_revocations_follower **out,
                                  struct kumo_revocations *r, const char *url, int64_t interval_ms,
                                  kumo_revocation_fn fn, void *ud);

/* Number of successful fetches so far (readiness: the first one). */
unsigned long kumo_revocations_follower_loads(struct kumo_revocations_follower *f);

/* Stops the thread and frees the follower. NULL is ignored. */
void kumo_revocations_follow_stop(struct kumo_revocations_follower *f);

/* ---- in a daemon that verifies tokens ------------------------------------ */

/* The two settings every such daemon reads, for its kumo_config_var table. */
#define KUMO_REVOCATIONS_CONFIG_VARS                                                               \
    {"KUMO_REVOCATIONS_URL", KUMO_CONFIG_STRING, "http://127.0.0.1:9101/revocations",              \
     "kumo-users' revocation feed (its admin port): revoked keys, disabled users; empty = none"},  \
    {                                                                                              \
        "KUMO_REVOCATIONS_POLL", KUMO_CONFIG_DURATION_MS, "500ms",                                 \
            "how often the revocation feed is read", 0, 50, 60000                                  \
    }

struct kumo_config;

/* A daemon's revocations: the set and its follower. */
struct kumo_revocations_client {
    struct kumo_revocations *set;
    struct kumo_revocations_follower *follower;
};

/* From KUMO_REVOCATIONS_URL / _POLL in `c`: creates the set (keeping
 * entries `keep_s`, the longest token lifetime the daemon accepts) and
 * starts the follower with `fn` (may be NULL). An empty URL leaves *out
 * zeroed (no revocations). Returns 0, or -1 (logged).
 *
 * The feed does not gate readiness: while kumo-users' admin port cannot be
 * reached the daemon serves with what it knows (a revoked token then lives
 * until its expiry, as it would without the feed), logs it once and counts
 * kumo_revocations_fetch_failures_total, which an alert watches. */
int kumo_revocations_client_start(struct kumo_revocations_client *out, const struct kumo_config *c,
                                  int64_t keep_s, kumo_revocation_fn fn, void *ud);

/* Stops the follower and frees the set; *rc is zeroed. */
void kumo_revocations_client_stop(struct kumo_revocations_client *rc);

#endif
