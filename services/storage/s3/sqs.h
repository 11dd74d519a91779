/* The S3 backend's event source: S3 Event Notifications delivered through
 * an SQS queue (KUMO_STORAGE_SQS_QUEUE_URL), appended to the same event
 * journal (journal.h) the local data port writes, so kumo-documents reads
 * one feed whatever the backend. */
#ifndef KUMO_STORAGE_SQS_H
#define KUMO_STORAGE_SQS_H

#include <stddef.h>

#include "../journal.h"
#include "../storage.h"

#define STG_SQS_RECORDS_MAX 100 /* S3 records in one message (S3 sends one) */

/* Turns the body of one SQS message into journal events (seq unset):
 * an S3 event notification ({"Records":[{"eventSource":"aws:s3",
 * "eventName":"ObjectCreated:Put", "eventTime":..., "s3":{"bucket":
 * {"name":...},"object":{"key":<URL-encoded>,"size":...,"eTag":...}},
 * "glacierEventData":...}]}). ObjectCreated:Put and :Post become
 * CREATED_PUT, :CompleteMultipartUpload CREATED_MULTIPART,
 * ObjectRestore:Completed RESTORE_COMPLETED (with the restored copy's
 * expiry); other event names, other buckets than `bucket` and keys that
 * fail stg_key_check are left out (so is S3's s3:TestEvent: 0 events).
 * Returns 0 with evs[0..*n), or -1 with a static *why when the body is not
 * JSON, has no Records array, or more than `max` records. */
int stg_s3_event_parse(const char *body, size_t len, const char *bucket, struct stg_event *evs,
                       size_t max, size_t *n, const char **why);

/* Decodes an S3 event key (form encoding: %XX and '+' for a space) into
 * out[cap]. Returns the length, or -1 if malformed or too long (cap - 1
 * bytes at most, no NUL byte). */
long stg_s3_event_key(const char *in, size_t len, char *out, size_t cap);

/* Parses an ISO 8601 time as S3 writes it ("2026-12-07T05:00:00.123Z")
 * into ms since the epoch (whole seconds). Returns 0 or -1. */
int stg_s3_event_time(const char *s, int64_t *ms);

struct stg_sqs;

/* Starts the poller thread (credentials from the AWS provider chain).
 * Returns 0 with *out, or -1 (logged). */
int stg_sqs_start(struct stg_ctx *ctx, struct stg_sqs **out);
/* Stops it (within the long poll's wait) and frees it. NULL is ignored. */
void stg_sqs_stop(struct stg_sqs *q);
/* Deletes one message by its receipt handle. 0 or -1 (logged). */
int stg_sqs_delete(struct stg_sqs *q, const char *receipt);

#endif
