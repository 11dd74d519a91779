/* Rows to messages: the Document and Version messages of store/ rows,
 * timestamps, etags, and the metadata Struct <-> JSON text. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "db/row.h"
#include "documents.h"
#include "store/documents.h"
#include "store/versions.h"
#include "google/protobuf/struct.pb-c.h"
#include "base/ids.h"
#include "codec/json_codec.h"

#define RS_STATE(s) KUMO__DOCUMENTS__V1__RESTORE_STATE__RESTORE_STATE_##s

Google__Protobuf__Timestamp *docs_ts(struct kumo_rpc_call *call, int64_t us)
{
    return kumo_pb_timestamp(kumo_rpc_call_allocator(call), us);
}

char *docs_etag(struct kumo_rpc_call *call, int64_t version)
{
    return kumo_pb_etag(kumo_rpc_call_allocator(call), version);
}

static ProtobufCBinaryData sha_bytes(struct kumo_rpc_call *call, const uint8_t *sha, size_t len)
{
    ProtobufCBinaryData b = {0, NULL};
    if (len) {
        b.data = kumo_rpc_call_alloc(call, len);
        memcpy(b.data, sha, len);
        b.len = len;
    }
    return b;
}

/* Tags are stored joined by single spaces (they hold no blanks). */
static void split_tags(struct kumo_rpc_call *call, char *text, char ***tags, size_t *n)
{
    size_t count = 0;
    for (const char *p = text; *p; p++)
        if (*p != ' ' && (p == text || p[-1] == ' '))
            count++;
    *tags = kumo_rpc_call_alloc(call, (count ? count : 1) * sizeof **tags);
    *n = 0;
    char *p = text;
    while (*p) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        (*tags)[(*n)++] = p;
        while (*p && *p != ' ')
            p++;
    }
}

static Kumo__Documents__V1__Restore *restore_message(struct kumo_rpc_call *call,
                                                     const struct docs_doc_row *d)
{
    Kumo__Documents__V1__Restore *r =
        kumo_rpc_call_new(call, &kumo__documents__v1__restore__descriptor);
    r->state = (Kumo__Documents__V1__RestoreState)d->restore_state;
    r->tier = (Kumo__Documents__V1__RestoreTier)d->restore_tier;
    r->days = (int32_t)d->restore_days;
    if (!d->restore_ready_null)
        r->ready_time = docs_ts(call, d->restore_ready_us);
    if (!d->restore_expire_null)
        r->expire_time = docs_ts(call, d->restore_expire_us);
    return r;
}

Kumo__Documents__V1__Document *docs_doc_message(struct kumo_rpc_call *call,
                                                const struct docs_doc_row *d)
{
    Kumo__Documents__V1__Document *m =
        kumo_rpc_call_new(call, &kumo__documents__v1__document__descriptor);
    m->id = d->id;
    m->number = d->number;
    m->title = d->title;
    m->description = d->description;
    m->file_name = d->file_name;
    m->content_type = d->content_type;
    m->size = d->size;
    m->sha256 = sha_bytes(call, d->sha256, d->sha256_len);
    char *tags = kumo_rpc_call_alloc(call, strlen(d->tags_text) + 1);
    memcpy(tags, d->tags_text, strlen(d->tags_text) + 1);
    split_tags(call, tags, &m->tags, &m->n_tags);
    m->metadata = docs_struct_parse(call, d->metadata);
    m->status = (Kumo__Documents__V1__DocumentStatus)d->status;
    m->current_version = (int32_t)d->current_version;
    m->owner_id = d->owner_id;
    m->etag = docs_etag(call, d->version);
    m->create_time = docs_ts(call, d->create_us);
    m->update_time = docs_ts(call, d->update_us);
    if (d->status == KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED) {
        if (!d->archive_null)
            m->archive_time = docs_ts(call, d->archive_us);
        m->restore = restore_message(call, d);
    }
    if (d->status == KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_DELETED) {
        if (!d->delete_null)
            m->delete_time = docs_ts(call, d->delete_us);
        if (!d->purge_null)
            m->purge_time = docs_ts(call, d->purge_us);
    }
    m->detected_content_type = d->detected_content_type;
    m->extraction_state = (Kumo__Documents__V1__ExtractionState)d->extraction_state;
    /* KumoCMS's names for the same facts (archives go to GLACIER). */
    m->document_id = d->id;
    int archived = d->status == KUMO__DOCUMENTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_ARCHIVED;
    m->storage_class = archived ? "GLACIER" : "STANDARD";
    m->restore_status = !archived                                   ? ""
                        : d->restore_state == RS_STATE(IN_PROGRESS) ? "in_progress"
                        : d->restore_state == RS_STATE(RESTORED)    ? "restored"
                                                                    : "";
    if (d->upload_error && d->upload_error[0])
        m->upload_failure_reason = d->upload_error;
    return m;
}

Kumo__Documents__V1__Version *docs_version_message(struct kumo_rpc_call *call,
                                                   const struct docs_version_row *v)
{
    Kumo__Documents__V1__Version *m =
        kumo_rpc_call_new(call, &kumo__documents__v1__version__descriptor);
    m->version = (int32_t)v->version;
    m->status = (Kumo__Documents__V1__VersionStatus)v->status;
    m->file_name = v->file_name;
    m->content_type = v->content_type;
    m->size = v->size;
    m->sha256 = sha_bytes(call, v->sha256, v->sha256_len);
    m->detected_content_type = v->detected_content_type;
    m->creator_id = v->creator_id;
    m->create_time = docs_ts(call, v->create_us);
    if (!v->complete_null)
        m->complete_time = docs_ts(call, v->complete_us);
    return m;
}

int docs_metadata_json(const Google__Protobuf__Struct *s, struct kumo_buf *out)
{
    if (s == NULL)
        return 0;
    return kumo_json_encode(&s->base, out) == 0 ? 0 : -1;
}

Google__Protobuf__Struct *docs_struct_parse(struct kumo_rpc_call *call, const char *json)
{
    if (json == NULL || *json == '\0')
        return NULL;
    ProtobufCMessage *m = NULL;
    if (kumo_json_decode(&google__protobuf__struct__descriptor, json, strlen(json),
                         kumo_rpc_call_allocator(call), &m, NULL) != 0)
        return NULL;
    return (Google__Protobuf__Struct *)m;
}

int64_t docs_ts_us(const Google__Protobuf__Timestamp *t)
{
    return t ? t->seconds * 1000000 + t->nanos / 1000 : 0;
}
