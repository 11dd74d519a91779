/* The schema of kumo_documents, as numbered migrations embedded in the
 * binary, and the `migrate` subcommand applying them (kumo_db_migrate:
 * GET_LOCK, schema_migrations, refuses a newer schema).
 *
 * Conventions as kumo_users: InnoDB, utf8mb4 with binary collation, ASCII
 * ids, DATETIME(6) UTC, `seq` AUTO_INCREMENT for cursor pagination, every
 * tenant-owned row carries tenant_id and every query filters on it. The
 * shared contract is /work/notes/docs-schema.md; migration 2 (jobs) is the
 * jobs module's. Never edit an applied migration: add a new one. */
#include "documents.h"
#include "runtime/log.h"

#include "jobs/jobs.h"
#include "store/thumbnails.h"
#include "store/search.h"

#define ASCII_ID   "VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin"
#define ASCII(n)   "VARCHAR(" #n ") CHARACTER SET ascii COLLATE ascii_bin"
#define TABLE_OPTS " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

static const char m1_documents[] =
    "CREATE TABLE documents ("
    " seq BIGINT NOT NULL AUTO_INCREMENT,"
    " id " ASCII_ID " NOT NULL,"
    " tenant_id " ASCII_ID " NOT NULL,"
    " number " ASCII(
        20) " NOT NULL,"
            " title VARCHAR(300) NOT NULL,"
            " description TEXT NOT NULL,"
            " file_name VARCHAR(255) NOT NULL,"
            " content_type " ASCII(
                255) " NOT NULL,"
                     " size BIGINT NOT NULL DEFAULT 0,"
                     " sha256 BINARY(32) NULL,"
                     " tags_text TEXT NOT NULL DEFAULT '',"
                     " metadata MEDIUMTEXT NULL,"
                     " status TINYINT NOT NULL,"
                     " status_before_delete TINYINT NULL,"
                     " current_version INT NOT NULL DEFAULT 0,"
                     " pending_version INT NOT NULL DEFAULT 0,"
                     " owner_id " ASCII(
                         64) " NOT NULL,"
                             " version BIGINT NOT NULL DEFAULT 1,"
                             " create_time DATETIME(6) NOT NULL,"
                             " update_time DATETIME(6) NOT NULL,"
                             " archive_time DATETIME(6) NULL,"
                             " delete_time DATETIME(6) NULL,"
                             " purge_time DATETIME(6) NULL,"
                             " restore_state TINYINT NOT NULL DEFAULT 0,"
                             " restore_tier TINYINT NOT NULL DEFAULT 0,"
                             " restore_days INT NOT NULL DEFAULT 0,"
                             " restore_ready_time DATETIME(6) NULL,"
                             " restore_expire_time DATETIME(6) NULL,"
                             " detected_content_type " ASCII(
                                 255) " NOT NULL DEFAULT '',"
                                      " extraction_state TINYINT NOT NULL DEFAULT 0,"
                                      " extracted_text MEDIUMTEXT NULL,"
                                      " idempotency_key " ASCII(
                                          128) " NULL,"
                                               " idempotency_expire_time DATETIME(6) NULL,"
                                               " PRIMARY KEY (seq),"
                                               " UNIQUE KEY documents_id (id),"
                                               " UNIQUE KEY documents_number (tenant_id, number),"
                                               " UNIQUE KEY documents_idem (tenant_id, "
                                               "idempotency_key),"
                                               " KEY documents_status_create (tenant_id, status, "
                                               "create_time, seq),"
                                               " KEY documents_create (tenant_id, create_time, "
                                               "seq),"
                                               " KEY documents_update (tenant_id, update_time, "
                                               "seq),"
                                               " KEY documents_title (tenant_id, title, seq),"
                                               " KEY documents_owner (tenant_id, owner_id, seq),"
                                               " KEY documents_content_type (tenant_id, "
                                               "content_type, seq),"
                                               " KEY documents_purge (status, purge_time),"
                                               " FULLTEXT KEY documents_text (title, description, "
                                               "tags_text, extracted_text)"
                                               ")" TABLE_OPTS ";"
                                               "CREATE TABLE document_tags ("
                                               " tenant_id " ASCII_ID " NOT NULL,"
                                               " document_id " ASCII_ID " NOT NULL,"
                                               " tag VARCHAR(64) NOT NULL,"
                                               " PRIMARY KEY (tenant_id, tag, document_id),"
                                               " KEY document_tags_document (document_id)"
                                               ")" TABLE_OPTS ";"
                                               "CREATE TABLE document_versions ("
                                               " tenant_id " ASCII_ID " NOT NULL,"
                                               " document_id " ASCII_ID " NOT NULL,"
                                               " version INT NOT NULL,"
                                               " status TINYINT NOT NULL,"
                                               " file_name VARCHAR(255) NOT NULL,"
                                               " content_type " ASCII(
                                                   255) " NOT NULL,"
                                                        " size BIGINT NOT NULL,"
                                                        " sha256 BINARY(32) NULL,"
                                                        " detected_content_type " ASCII(
                                                            255) " NOT NULL DEFAULT '',"
                                                                 " creator_id " ASCII(
                                                                     64) " NOT NULL,"
                                                                         " object_key " ASCII(
                                                                             300) " NOT NULL,"
                                                                                  " upload_method "
                                                                                  "TINYINT NOT "
                                                                                  "NULL,"
                                                                                  " upload_"
                                                                                  "id " ASCII(
                                                                                      200) " NULL,"
                                                                                           " part_"
                                                                                           "size "
                                                                                           "BIGINT "
                                                                                           "NOT "
                                                                                           "NULL "
                                                                                           "DEFAULT"
                                                                                           " 0,"
                                                                                           " part_"
                                                                                           "count "
                                                                                           "INT "
                                                                                           "NOT "
                                                                                           "NULL "
                                                                                           "DEFAULT"
                                                                                           " 0,"
                                                                                           " create"
                                                                                           "_time "
                                                                                           "DATETIM"
                                                                                           "E(6) "
                                                                                           "NOT "
                                                                                           "NULL,"
                                                                                           " comple"
                                                                                           "te_"
                                                                                           "time "
                                                                                           "DATETIM"
                                                                                           "E(6) "
                                                                                           "NULL,"
                                                                                           " PRIMAR"
                                                                                           "Y KEY "
                                                                                           "(docume"
                                                                                           "nt_id, "
                                                                                           "version"
                                                                                           "),"
                                                                                           " KEY "
                                                                                           "documen"
                                                                                           "t_"
                                                                                           "version"
                                                                                           "s_"
                                                                                           "tenant "
                                                                                           "(tenant"
                                                                                           "_id, "
                                                                                           "documen"
                                                                                           "t_id, "
                                                                                           "version"
                                                                                           "),"
                                                                                           " KEY "
                                                                                           "documen"
                                                                                           "t_"
                                                                                           "version"
                                                                                           "s_"
                                                                                           "status "
                                                                                           "(status"
                                                                                           ", "
                                                                                           "create_"
                                                                                           "time)"
                                                                                           ")" TABLE_OPTS
                                                                                           ";"
                                                                                           "CREATE "
                                                                                           "TABLE "
                                                                                           "documen"
                                                                                           "t_"
                                                                                           "counter"
                                                                                           "s ("
                                                                                           " tenant"
                                                                                           "_id"
                                                                                           " " ASCII_ID
                                                                                           " NOT "
                                                                                           "NULL,"
                                                                                           " year "
                                                                                           "SMALLIN"
                                                                                           "T NOT "
                                                                                           "NULL,"
                                                                                           " last_"
                                                                                           "number "
                                                                                           "INT "
                                                                                           "NOT "
                                                                                           "NULL,"
                                                                                           " PRIMAR"
                                                                                           "Y KEY "
                                                                                           "(tenant"
                                                                                           "_id, "
                                                                                           "year)"
                                                                                           ")" TABLE_OPTS
                                                                                           ";"
                                                                                           "CREATE "
                                                                                           "TABLE "
                                                                                           "audit_"
                                                                                           "events "
                                                                                           "("
                                                                                           " seq "
                                                                                           "BIGINT "
                                                                                           "NOT "
                                                                                           "NULL "
                                                                                           "AUTO_"
                                                                                           "INCREME"
                                                                                           "NT,"
                                                                                           " id"
                                                                                           " " ASCII_ID
                                                                                           " NOT "
                                                                                           "NULL,"
                                                                                           " tenant"
                                                                                           "_id"
                                                                                           " " ASCII_ID
                                                                                           " NOT "
                                                                                           "NULL,"
                                                                                           " time "
                                                                                           "DATETIM"
                                                                                           "E(6) "
                                                                                           "NOT "
                                                                                           "NULL,"
                                                                                           " actor_"
                                                                                           "id"
                                                                                           " " ASCII(
                                                                                               64) " NOT NULL,"
                                                                                                   " actor_roles " ASCII(
                                                                                                       64) " NOT NULL,"
                                                                                                           " action " ASCII(
                                                                                                               64) " NOT NULL,"
                                                                                                                   " document_id " ASCII_ID
                                                                                                                   " NOT NULL DEFAULT '',"
                                                                                                                   " version INT NOT NULL DEFAULT 0,"
                                                                                                                   " request_id " ASCII(
                                                                                                                       128) " NOT NULL DEFAULT '',"
                                                                                                                            " details MEDIUMTEXT NULL,"
                                                                                                                            " PRIMARY KEY (seq),"
                                                                                                                            " UNIQUE KEY audit_events_id (id),"
                                                                                                                            " KEY audit_events_tenant (tenant_id, seq),"
                                                                                                                            " KEY audit_events_document (tenant_id, document_id, seq)"
                                                                                                                            ")" TABLE_OPTS;

/* Migration 3: each tag row carries its document's create_time and seq
 * (both never change), so ListDocuments with a tag walks the tag's rows
 * already in create-time order (list.c) instead of walking every document
 * and probing its tags. Written by every insert into document_tags
 * (DOCS_INSERT_TAG_SQL); existing rows are filled here. Each statement
 * can be re-run after a partial failure (IF NOT EXISTS; the fill is
 * idempotent); tag rows of no document (none are written) are dropped so
 * the columns can be NOT NULL, which makes a writer that forgets them
 * fail instead of hiding its document from tag listings. */
static const char m3_tag_order[] =
    "ALTER TABLE document_tags ADD COLUMN IF NOT EXISTS create_time DATETIME(6) NULL,"
    " ADD COLUMN IF NOT EXISTS seq BIGINT NULL;"
    "UPDATE document_tags t JOIN documents d ON d.id = t.document_id AND d.tenant_id = t.tenant_id"
    " SET t.create_time = d.create_time, t.seq = d.seq;"
    "DELETE FROM document_tags WHERE seq IS NULL OR create_time IS NULL;"
    "ALTER TABLE document_tags MODIFY create_time DATETIME(6) NOT NULL,"
    " MODIFY seq BIGINT NOT NULL,"
    " ADD KEY IF NOT EXISTS document_tags_create (tenant_id, tag, create_time, seq)";

/* Migration 4: an idempotency key names a document per principal, not per
 * tenant: another editor reusing a key gets a document of its own, never
 * the first one's (and its upload URL). One ALTER, so it applies whole. */
static const char m4_idem_per_owner[] =
    "ALTER TABLE documents DROP INDEX documents_idem,"
    " ADD UNIQUE KEY documents_idem (tenant_id, owner_id, idempotency_key)";

/* Migration 5 (event-driven completion, issue 15): why the last upload of
 * a document failed its checks when an object-created event completed it
 * (cleared when a version becomes current), and the cursor of the storage
 * event feed (one row per feed; not tenant-owned: the feed spans every
 * tenant, each event naming its tenant in its key) with the lease of the
 * one process consuming it (owner, lease_until). Re-runnable. */
static const char m5_upload_events[] =
    "ALTER TABLE documents ADD COLUMN IF NOT EXISTS upload_error VARCHAR(255) NULL,"
    " ADD COLUMN IF NOT EXISTS upload_error_time DATETIME(6) NULL;"
    "CREATE TABLE IF NOT EXISTS event_cursors ("
    " feed " ASCII(32) " NOT NULL,"
                       " seq BIGINT NOT NULL,"
                       " update_time DATETIME(6) NOT NULL,"
                       " journal_id " ASCII(64) " NULL,"
                                                " owner " ASCII(
                                                    128) " NULL,"
                                                         " lease_until DATETIME(6) NULL,"
                                                         " PRIMARY KEY (feed))" TABLE_OPTS;

/* Migration 6: search in every language (issue 19; store/search.h). The
 * n-gram columns hold the CJK bigram tokens kumo writes (common/text/
 * ngram.h: ASCII, so one FULLTEXT index over the five works the same on
 * MariaDB, which has no n-gram parser, and on Aurora MySQL); NULL when a
 * field has none (TEXT columns take no literal default on MySQL 8).
 * search_version 0 marks the rows written before: `migrate` re-indexes
 * them right after applying this (docs_search_reindex_all), and every run
 * of it finishes what a previous one left. One ALTER, so it applies
 * whole. */
#define NGRAM_COL "MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NULL"
static const char m6_search_ngrams[] =
    "ALTER TABLE documents ADD COLUMN search_title " NGRAM_COL ","
    " ADD COLUMN search_description " NGRAM_COL ", ADD COLUMN search_tags " NGRAM_COL ","
    " ADD COLUMN search_metadata " NGRAM_COL ", ADD COLUMN search_content " NGRAM_COL ","
    " ADD COLUMN search_version TINYINT NOT NULL DEFAULT 0,"
    " ADD KEY documents_search_version (search_version, seq),"
    " ADD FULLTEXT KEY documents_ngrams (search_title, search_description, search_tags,"
    " search_metadata, search_content)";

static const struct kumo_db_migration migrations[] = {
    {1, "documents", m1_documents, 0},
    {2, "jobs", docs_jobs_migration_sql, 0},
    {3, "tag_order", m3_tag_order, 0},
    {4, "idempotency_per_owner", m4_idem_per_owner, 0},
    {5, "upload_events", m5_upload_events, 0},
    {6, "search_ngrams", m6_search_ngrams, 0},
    {7, "thumbnails", docs_thumbnails_migration_sql, 0},
};

const struct kumo_db_migration *docs_migrations(size_t *n)
{
    *n = sizeof migrations / sizeof migrations[0];
    return migrations;
}

int docs_cmd_migrate(const struct kumo_config *c, int argc, char **argv, void *ud)
{
    (void)argc;
    (void)argv;
    (void)ud;
    struct docs_ctx ctx = {0};
    if (docs_ctx_open_db(&ctx, c) != 0)
        return 1;
    struct kumo_db_migrate_result res = {0};
    size_t n;
    const struct kumo_db_migration *m = docs_migrations(&n);
    kumo_code rc =
        kumo_db_migrate(ctx.db, m, n, kumo_config_int(c, "KUMO_MIGRATE_LOCK_TIMEOUT"), &res);
    size_t reindexed = 0;
    if (rc == KUMO_CODE_OK)
        rc = docs_search_reindex_all(ctx.db, &reindexed);
    if (rc != KUMO_CODE_OK) {
        kumo_log(KUMO_LOG_ERROR, NULL, "migrate failed", "code", kumo_code_name(rc), "error",
                 kumo_db_last_error()->message, NULL);
        docs_ctx_free(&ctx);
        return 1;
    }
    docs_ctx_free(&ctx);
    kumo_logf(KUMO_LOG_INFO, NULL, "migrate: schema at version %lld (was %lld, applied %zu)",
              (long long)res.to_version, (long long)res.from_version, res.applied);
    return 0;
}
