/* kumo-storage's object event journal: what happened to objects (created by
 * a PUT or a multipart completion on the data port, a restore completed;
 * with the S3 backend, what S3 Event Notifications delivered through SQS),
 * recorded durably and in order, read by kumo-documents through the
 * ListObjectEvents long poll.
 *
 * One append-only file of text lines: a header "#kumo-events v1 <id>",
 * then one event a line:
 *   "<seq> <type> <size> <time ms> <expire ms> <etag|-> <sha256 hex|-> <key> <crc32 hex>\n"
 * (the key may hold spaces but no control characters: it is the last field
 * but the checksum, which is the fixed-width CRC-32 of everything before its
 * separating space). An event is written and fsynced before
 * stg_journal_append returns, so before the data port answers the request
 * that made it. At open, a torn or corrupt tail (a crash while appending)
 * is cut off. The newest KUMO_STORAGE_EVENTS_KEEP events are kept: past
 * twice that, the file is rewritten with the newest ones (written aside,
 * fsynced, renamed over). The whole kept range also lives in memory, so
 * reads never touch the disk. */
#ifndef KUMO_STORAGE_JOURNAL_H
#define KUMO_STORAGE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "storage.h"

/* Event types; the values are those of kumo.storage.v1.ObjectEventType. */
enum stg_event_type {
    STG_EV_CREATED_PUT = 1,
    STG_EV_CREATED_MULTIPART = 2,
    STG_EV_RESTORE_COMPLETED = 3,
};

#define STG_JOURNAL_LINE_MAX (STG_KEY_MAX + 256) /* longest valid line, with room */
#define STG_JOURNAL_KEEP_MIN 100
#define STG_JOURNAL_ID_MAX   48 /* identity text and NUL */

/* One event. `key` points into the event's own storage (stg_event_copy /
 * the journal's), never freed by the caller unless it made it. */
struct stg_event {
    int64_t seq;
    enum stg_event_type type;
    int64_t size;
    int64_t time_ms;
    int64_t expire_ms; /* restore: when the copy goes away; else 0 */
    char etag[STG_ETAG_MAX];
    uint8_t sha256[32];
    int has_sha256;
    char key[STG_KEY_MAX + 1];
};

/* Appends the journal line of `ev` (newline included) to `out`. */
void stg_event_format(const struct stg_event *ev, struct kumo_buf *out);

/* Parses one journal line line[0..len) (without its newline). Returns 0
 * with *ev filled, or -1 if the line is malformed: wrong field count or
 * syntax, a number out of range, an unknown type, a key that fails
 * stg_key_check, or a checksum that does not match. Never reads past len. */
int stg_event_parse(const char *line, size_t len, struct stg_event *ev);

struct stg_journal;

/* Opens (creating it and its directory's entry if needed) the journal at
 * `path`, keeping the newest `keep` (>= STG_JOURNAL_KEEP_MIN) events; a torn
 * tail is cut off and logged. Returns 0 with *out, or -1 (logged). */
int stg_journal_open(struct stg_journal **out, const char *path, int do_fsync, size_t keep);

/* The journal's identity ("jrn_" and random characters), kept in its
 * header line "#kumo-events v1 <id>" and made when a journal is created:
 * sequence numbers compare only within one identity, so a reader seeing
 * another one (storage root replaced, another instance) starts over. */
const char *stg_journal_id(const struct stg_journal *j);

/* Wakes every waiting reader for good (they return what they have) and
 * frees the journal. NULL is ignored. Readers must be gone before the
 * memory goes: call stg_journal_shutdown first and let them return. */
void stg_journal_close(struct stg_journal *j);

/* Wakes every waiting reader, and makes later waits return at once. */
void stg_journal_shutdown(struct stg_journal *j);

/* Records `ev` (its seq is assigned: the previous one + 1, written back to
 * ev->seq), durably (written and, with do_fsync, fdatasync'd) before it
 * returns, and wakes the readers. Thread-safe. Returns 0 or -1 (logged;
 * nothing recorded). */
int stg_journal_append(struct stg_journal *j, struct stg_event *ev);

/* Tells a waiting reader to stop early (a cancelled call); may be NULL. */
typedef int (*stg_journal_cancelled_fn)(void *arg);

/* Copies up to `max` events with seq > after into out[0..*n) (malloc'd,
 * the caller's to kumo_free; NULL when *n = 0). When there are none, waits
 * up to wait_ms for one (checking `cancelled` at least every 250 ms).
 * Sets *first / *last to the oldest kept and newest seq (0 when empty).
 * Thread-safe. */
void stg_journal_read(struct stg_journal *j, int64_t after, size_t max, int64_t wait_ms,
                      stg_journal_cancelled_fn cancelled, void *arg, struct stg_event **out,
                      size_t *n, int64_t *first, int64_t *last);

#endif
