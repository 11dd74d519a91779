/* kumo-documents' consumer of kumo-storage's object events: uploads complete
 * without the client calling CompleteUpload, and restores reach the
 * document without polling.
 *
 * One thread long-polls kumo-storage's ListObjectEvents (the same feed for
 * both backends: the local data port journals its own events, the S3
 * backend journals what S3 Event Notifications deliver through SQS) from
 * the cursor kept in the event_cursors table, handles each event
 * idempotently and only then advances the cursor: delivery is at least
 * once, and an event delivered twice finds its version complete (a no-op).
 * Events that landed while kumo-documents was down are read when it comes
 * back, from the cursor on. */
#ifndef KUMO_DOCUMENTS_EVENTS_H
#define KUMO_DOCUMENTS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "../documents.h"
#include "kumo/storage/v1/storage.pb-c.h"

/* Starts the consumer thread unless KUMO_UPLOAD_EVENTS is off or there is
 * no service API key / storage client (then logs why and starts nothing).
 * Returns 0, or -1 when the thread could not be started. `ctx` must
 * outlive docs_events_stop. */
int docs_events_start(struct docs_ctx *ctx);

/* Stops the consumer (its long poll ends within KUMO_UPLOAD_EVENTS_WAIT)
 * and joins it. Safe when nothing was started, and idempotent. */
void docs_events_stop(void);

/* The version an object key names: "t/<tenant>/d/<document>/v<version>",
 * as docs_version_key writes them (tenant and document ids of
 * 1..DOCS_ID_MAX-1 characters of [A-Za-z0-9_-], version 1..2^31-1 without
 * leading zeros). Copies the ids into tenant[DOCS_ID_MAX] and
 * doc[DOCS_ID_MAX]. Returns 0, or -1 for any other key (never reads past
 * len). */
int docs_event_key_parse(const char *key, size_t len, char tenant[DOCS_ID_MAX],
                         char doc[DOCS_ID_MAX], int64_t *version);

/* The tenant and document of any key under "t/<tenant>/d/<document>/"
 * (a version's upload or content key). Returns 0, or -1. */
int docs_event_key_doc(const char *key, size_t len, char tenant[DOCS_ID_MAX],
                       char doc[DOCS_ID_MAX]);

/* ---- cursor.c (shared by the events files only) ---- */

#define DOCS_JOURNAL_ID_MAX 65

/* The feed's cursor (0 when never stored) and the identity of the journal
 * it counts in ("" when none yet). OK or the DB error. */
kumo_code docs__events_cursor_load(struct docs_ctx *ctx, int64_t *seq,
                                   char journal[DOCS_JOURNAL_ID_MAX]);
/* Records the journal the cursor counts in; with `reset`, the cursor goes
 * back to 0 (a journal other than the one it came from). OK or the DB error. */
kumo_code docs__events_cursor_journal(struct docs_ctx *ctx, const char *journal, int reset);
/* Stores the cursor (never moving it back). OK or the DB error. */
kumo_code docs__events_cursor_store(struct docs_ctx *ctx, int64_t seq);
/* A tenant to get the service token for (the feed spans every tenant, but
 * a service token names one): the tenants having documents, newest
 * document first, `skip` of them skipped (after the token of one could not
 * be had), into out[DOCS_ID_MAX]. NOT_FOUND when there are no more. */
kumo_code docs__events_token_tenant(struct docs_ctx *ctx, int64_t skip, char out[DOCS_ID_MAX]);

/* Takes or renews the lease on the feed for `owner` ("<host>:<pid>") for
 * lease_ms: *owned = 1 when this process is the one consuming (the lease
 * was free, expired or its own). Replicas of kumo-documents take turns
 * instead of all handling every event. OK or the DB error. */
kumo_code docs__events_lease(struct docs_ctx *ctx, const char *owner, int64_t lease_ms, int *owned);
/* Gives the lease up (at shutdown), so another replica takes over at once. */
void docs__events_lease_release(struct docs_ctx *ctx, const char *owner);

/* ---- restored.c ---- */

/* A restore-completed event: the archived document whose current content
 * ev->key is gets its restore state RESTORED. 0 when done (*outcome
 * "restored", "duplicate" or "unknown": counted), -1 to retry. */
int docs__events_restored(struct docs_ctx *ctx, const Kumo__Storage__V1__ObjectEvent *ev,
                          const char **outcome);

#endif
