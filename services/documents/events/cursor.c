/* The event feed's cursor in kumo_documents.event_cursors (migration 5),
 * and the tenant whose service token reads the feed. These statements are
 * not tenant-scoped on purpose: the feed and its cursor span every tenant
 * (each event names its tenant in its key, and every statement that acts
 * on a document is scoped by that). */
#include <string.h>

#include "base/ids.h"
#include "db/db.h"
#include "events.h"

#define FEED "storage"

kumo_code docs__events_cursor_load(struct docs_ctx *ctx, int64_t *seq,
                                   char journal[DOCS_JOURNAL_ID_MAX])
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_acquire(ctx->db, kumo_now_ns() + 10LL * 1000000000, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    *seq = 0;
    journal[0] = '\0';
    struct kumo_db_rows *rows = NULL;
    rc = kumo_db_query(c, "SELECT seq, journal_id FROM event_cursors WHERE feed = ?",
                       KUMO_DB_PARAMS(KUMO_DB_STRZ(FEED)), &rows);
    int has = 0;
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_rows_next(rows, &has);
    if (rc == KUMO_CODE_OK && has)
        rc = kumo_db_rows_scan(rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(seq)));
    if (rc == KUMO_CODE_OK && has) {
        size_t len = 0;
        const void *p = kumo_db_rows_bytes(rows, 1, &len);
        if (p && len < DOCS_JOURNAL_ID_MAX) {
            memcpy(journal, p, len);
            journal[len] = '\0';
        }
    }
    if (rows)
        kumo_db_rows_close(rows);
    kumo_db_release(c);
    return rc;
}

kumo_code docs__events_cursor_journal(struct docs_ctx *ctx, const char *journal, int reset)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_acquire(ctx->db, kumo_now_ns() + 10LL * 1000000000, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = kumo_db_exec(c,
                      "UPDATE event_cursors SET journal_id = ?, seq = IF(?, 0, seq),"
                      " update_time = ? WHERE feed = ?",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(journal), KUMO_DB_I64(reset ? 1 : 0),
                                     KUMO_DB_TIME(kumo_now_us()), KUMO_DB_STRZ(FEED)),
                      NULL);
    kumo_db_release(c);
    return rc;
}

kumo_code docs__events_cursor_store(struct docs_ctx *ctx, int64_t seq)
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_acquire(ctx->db, kumo_now_ns() + 10LL * 1000000000, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    rc = kumo_db_exec(
        c,
        "INSERT INTO event_cursors (feed, seq, update_time) VALUES (?, ?, ?)"
        " ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq)),"
        " update_time = VALUES(update_time)",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(FEED), KUMO_DB_I64(seq), KUMO_DB_TIME(kumo_now_us())), NULL);
    kumo_db_release(c);
    return rc;
}

kumo_code docs__events_token_tenant(struct docs_ctx *ctx, int64_t skip, char out[DOCS_ID_MAX])
{
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_acquire(ctx->db, kumo_now_ns() + 10LL * 1000000000, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    struct kumo_db_rows *rows = NULL;
    rc = kumo_db_query(c,
                       "SELECT tenant_id FROM documents GROUP BY tenant_id"
                       " ORDER BY MAX(seq) DESC LIMIT 1 OFFSET ?",
                       KUMO_DB_PARAMS(KUMO_DB_I64(skip)), &rows);
    int has = 0;
    if (rc == KUMO_CODE_OK)
        rc = kumo_db_rows_next(rows, &has);
    if (rc == KUMO_CODE_OK && !has)
        rc = KUMO_CODE_NOT_FOUND;
    if (rc == KUMO_CODE_OK) {
        size_t len = 0;
        const void *p = kumo_db_rows_bytes(rows, 0, &len);
        if (p == NULL || len == 0 || len >= DOCS_ID_MAX)
            rc = KUMO_CODE_NOT_FOUND;
        else {
            memcpy(out, p, len);
            out[len] = '\0';
        }
    }
    if (rows)
        kumo_db_rows_close(rows);
    kumo_db_release(c);
    return rc;
}

kumo_code docs__events_lease(struct docs_ctx *ctx, const char *owner, int64_t lease_ms, int *owned)
{
    *owned = 0;
    struct kumo_db_conn *c;
    kumo_code rc = kumo_db_acquire(ctx->db, kumo_now_ns() + 10LL * 1000000000, &c);
    if (rc != KUMO_CODE_OK)
        return rc;
    int64_t now = kumo_now_us();
    rc = kumo_db_exec(c,
                      "INSERT IGNORE INTO event_cursors (feed, seq, update_time) VALUES (?, 0, ?)",
                      KUMO_DB_PARAMS(KUMO_DB_STRZ(FEED), KUMO_DB_TIME(now)), NULL);
    uint64_t n = 0;
    if (rc == KUMO_CODE_OK)
        rc =
            kumo_db_exec(c,
                         "UPDATE event_cursors SET owner = ?, lease_until = ? WHERE feed = ?"
                         " AND (owner = ? OR owner IS NULL OR lease_until IS NULL"
                         " OR lease_until < ?)",
                         KUMO_DB_PARAMS(KUMO_DB_STRZ(owner), KUMO_DB_TIME(now + lease_ms * 1000),
                                        KUMO_DB_STRZ(FEED), KUMO_DB_STRZ(owner), KUMO_DB_TIME(now)),
                         &n);
    kumo_db_release(c);
    *owned = rc == KUMO_CODE_OK && n == 1;
    return rc;
}

void docs__events_lease_release(struct docs_ctx *ctx, const char *owner)
{
    struct kumo_db_conn *c;
    if (kumo_db_acquire(ctx->db, kumo_now_ns() + 5LL * 1000000000, &c) != KUMO_CODE_OK)
        return;
    kumo_db_exec(c,
                 "UPDATE event_cursors SET owner = NULL, lease_until = NULL WHERE feed = ? AND"
                 " owner = ?",
                 KUMO_DB_PARAMS(KUMO_DB_STRZ(FEED), KUMO_DB_STRZ(owner)), NULL);
    kumo_db_release(c);
}
