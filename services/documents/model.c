/* Rows and messages: scanning documents and versions, building the
 * response messages, object keys, etags, and the metadata Struct <-> JSON
 * text. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "db/row.h"
#include "documents.h"
#include "google/protobuf/struct.pb-c.h"
#include "base/ids.h"
#include "codec/json_codec.h"

#define OUT_I64_N(p, n)  ((struct kumo_db_out){.type = KUMO_DB_T_I64, .i64 = (p), .is_null = (n)})
#define OUT_TIME_N(p, n) ((struct kumo_db_out){.type = KUMO_DB_T_TIME, .i64 = (p), .is_null = (n)})

static char *col(struct kumo_rpc_call *call, struct kumo_db_rows *rows, unsigned i)
{
    return kumo_db_row_str(kumo_rpc_call_allocator(call), rows, i);
}

static void col_sha(struct kumo_db_rows *rows, unsigned i, uint8_t out[32], size_t *len)
{
    size_t n = 0;
    const void *p = kumo_db_rows_bytes(rows, i, &n);
    *len = (p && n == 32) ? 32 : 0;
    if (*len)
        memcpy(out, p, 32);
}

kumo_code docs_scan_doc(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct docs_doc_row *d = out;
    int sbd_null = 0;
    kumo_code rc = kumo_db_rows_scan(
        rows,
        KUMO_DB_OUTS(
            KUMO_DB_OUT_I64(&d->seq), KUMO_DB_OUT_I64(&d->size), KUMO_DB_OUT_I64(&d->status),
            KUMO_DB_OUT_I64(&d->current_version), KUMO_DB_OUT_I64(&d->pending_version),
            KUMO_DB_OUT_I64(&d->version), KUMO_DB_OUT_TIME(&d->create_us),
            KUMO_DB_OUT_TIME(&d->update_us), OUT_TIME_N(&d->archive_us, &d->archive_null),
            OUT_TIME_N(&d->delete_us, &d->delete_null), OUT_TIME_N(&d->purge_us, &d->purge_null),
            KUMO_DB_OUT_I64(&d->restore_state), KUMO_DB_OUT_I64(&d->restore_tier),
            KUMO_DB_OUT_I64(&d->restore_days),
            OUT_TIME_N(&d->restore_ready_us, &d->restore_ready_null),
            OUT_TIME_N(&d->restore_expire_us, &d->restore_expire_null),
            KUMO_DB_OUT_I64(&d->extraction_state), OUT_I64_N(&d->status_before_delete, &sbd_null)));
    if (rc != KUMO_CODE_OK)
        return rc;
    d->id = col(call, rows, 18);
    d->number = col(call, rows, 19);
    d->title = col(call, rows, 20);
    d->description = col(call, rows, 21);
    d->file_name = col(call, rows, 22);
    d->content_type = col(call, rows, 23);
    col_sha(rows, 24, d->sha256, &d->sha256_len);
    d->tags_text = col(call, rows, 25);
    d->metadata = col(call, rows, 26);
    d->owner_id = col(call, rows, 27);
    d->detected_content_type = col(call, rows, 28);
    return KUMO_CODE_OK;
}

kumo_code docs_load_doc(struct kumo_db_conn *c, struct kumo_rpc_call *call, const char *tenant_id,
                        const char *id, int lock, struct docs_doc_row *d)
{
    const char *sql = lock ? "SELECT " DOCS_DOC_COLUMNS
                             " FROM documents d WHERE d.tenant_id = ? AND d.id = ? FOR UPDATE"
                           : "SELECT " DOCS_DOC_COLUMNS
                             " FROM documents d WHERE d.tenant_id = ? AND d.id = ?";
    return kumo_db_row_query_one(c, sql, KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(id)),
                                 docs_scan_doc, call, d);
}

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
    Kumo__Documents__V1__Restore *r = kumo_rpc_call_alloc(call, sizeof *r);
    kumo__documents__v1__restore__init(r);
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
    Kumo__Documents__V1__Document *m = kumo_rpc_call_alloc(call, sizeof *m);
    kumo__documents__v1__document__init(m);
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
    return m;
}

kumo_code docs_scan_version(struct kumo_rpc_call *call, struct kumo_db_rows *rows, void *out)
{
    struct docs_version_row *v = out;
    kumo_code rc = kumo_db_rows_scan(
        rows, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&v->version), KUMO_DB_OUT_I64(&v->status),
                           KUMO_DB_OUT_I64(&v->size), KUMO_DB_OUT_I64(&v->upload_method),
                           KUMO_DB_OUT_I64(&v->part_size), KUMO_DB_OUT_I64(&v->part_count),
                           KUMO_DB_OUT_TIME(&v->create_us),
                           OUT_TIME_N(&v->complete_us, &v->complete_null)));
    if (rc != KUMO_CODE_OK)
        return rc;
    v->file_name = col(call, rows, 8);
    v->content_type = col(call, rows, 9);
    col_sha(rows, 10, v->sha256, &v->sha256_len);
    v->detected_content_type = col(call, rows, 11);
    v->creator_id = col(call, rows, 12);
    v->object_key = col(call, rows, 13);
    v->upload_id = col(call, rows, 14);
    return KUMO_CODE_OK;
}

kumo_code docs_load_version(struct kumo_db_conn *c, struct kumo_rpc_call *call,
                            const char *tenant_id, const char *doc_id, int64_t version,
                            struct docs_version_row *v)
{
    return kumo_db_row_query_one(
        c,
        "SELECT " DOCS_VERSION_COLUMNS " FROM document_versions v"
        " WHERE v.tenant_id = ? AND v.document_id = ? AND v.version = ?",
        KUMO_DB_PARAMS(KUMO_DB_STRZ(tenant_id), KUMO_DB_STRZ(doc_id), KUMO_DB_I64(version)),
        docs_scan_version, call, v);
}

Kumo__Documents__V1__Version *docs_version_message(struct kumo_rpc_call *call,
                                                   const struct docs_version_row *v)
{
    Kumo__Documents__V1__Version *m = kumo_rpc_call_alloc(call, sizeof *m);
    kumo__documents__v1__version__init(m);
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

char *docs_object_key(struct kumo_rpc_call *call, const char *tenant_id, const char *doc_id,
                      int64_t version)
{
    size_t n = strlen(tenant_id) + strlen(doc_id) + 32;
    char *k = kumo_rpc_call_alloc(call, n);
    snprintf(k, n, "t/%s/d/%s/v%lld", tenant_id, doc_id, (long long)version);
    return k;
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
