/* Rows into messages by column name (db/message_scan.h). protobuf-c has
 * reflection (descriptors, field offsets) but nothing that reads a SQL
 * row, and libmariadb knows nothing of protobuf: this is the glue. Numbers
 * and times are read through kumo_db_rows_scan (its conversions and NULL
 * rules); text is copied from the column's buffer. */
#include "db/message_scan.h"

#include <stdio.h>
#include <string.h>

#include "codec/json_codec.h"
#include "db/internal.h"
#include "db/row.h"

static kumo_code bad_column(struct kumo_db_rows *r, unsigned i, const ProtobufCMessage *m,
                            const char *why)
{
    char detail[224];
    const char *name = r->stmt->cols[i].name;
    snprintf(detail, sizeof detail, "column %u (%s) of %s: %s", i, name ? name : "?",
             m->descriptor->name, why);
    return kumo__db_error(r->conn, KUMO_CODE_INTERNAL, "internal database error", detail);
}

static int is_timestamp(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_MESSAGE &&
           f->descriptor == &google__protobuf__timestamp__descriptor;
}

/* How column i is read for field f: into the number/time pass, or later
 * from its text (KUMO_DB_T_NULL: skipped by the first pass). */
static struct kumo_db_out out_for(const ProtobufCFieldDescriptor *f, int64_t *i64, double *d,
                                  int *is_null)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return (struct kumo_db_out){.type = KUMO_DB_T_DOUBLE, .d = d, .is_null = is_null};
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
        return KUMO_DB_OUT_SKIP;
    case PROTOBUF_C_TYPE_MESSAGE:
        return is_timestamp(f) ? KUMO_DB_OUT_TIME_N(i64, is_null) : KUMO_DB_OUT_SKIP;
    default: /* integers, bool, enum */
        return KUMO_DB_OUT_I64_N(i64, is_null);
    }
}

/* Stores integer v into field f of m, if it fits. */
static int put_int(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int64_t v)
{
    void *p = (char *)m + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        if (v < INT32_MIN || v > INT32_MAX)
            return -1;
        *(int32_t *)p = (int32_t)v;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (v < 0 || v > (int64_t)UINT32_MAX)
            return -1;
        *(uint32_t *)p = (uint32_t)v;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (v < 0)
            return -1;
        *(uint64_t *)p = (uint64_t)v;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = v != 0;
        return 0;
    default: /* int64, sint64, sfixed64 */
        *(int64_t *)p = v;
        return 0;
    }
}

/* Stores the text column i (not NULL) into string, bytes or JSON message
 * field f. */
static kumo_code put_text(struct kumo_db_rows *r, unsigned i, ProtobufCAllocator *a,
                          ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    size_t len = 0;
    const char *s = kumo_db_rows_bytes(r, i, &len);
    void *p = (char *)m + f->offset;
    if (r->stmt->cols[i].kind != KUMO__DB_COL_BYTES || s == NULL)
        return bad_column(r, i, m, "is not text");
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        *(char **)p = kumo_db_row_str(a, r, i);
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
        ProtobufCBinaryData *b = p;
        b->len = len;
        b->data = NULL;
        if (len) {
            b->data = a->alloc(a->allocator_data, len);
            memcpy(b->data, s, len);
        }
    } else {
        ProtobufCMessage *sub = NULL;
        if (len && kumo_json_decode(f->descriptor, s, len, a, &sub, NULL) == 0)
            *(ProtobufCMessage **)p = sub;
    }
    return KUMO_CODE_OK;
}

/* Marks field f present (oneof case, proto3 optional has_). */
static void mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
        void *q = (char *)m + f->quantifier_offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)q = f->id;
        else if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            *(protobuf_c_boolean *)q = 1;
    }
}

kumo_code kumo_db_msg_scan(struct kumo_db_rows *rows, ProtobufCAllocator *a, ProtobufCMessage *m,
                           int64_t *key)
{
    unsigned n = kumo_db_rows_columns(rows);
    if (!rows->has_row)
        return kumo__db_error(rows->conn, KUMO_CODE_INTERNAL, "internal database error",
                              "message scan without a current row");
    if (n > KUMO_DB_MSG_MAX_COLS)
        return kumo__db_error(rows->conn, KUMO_CODE_INTERNAL, "internal database error",
                              "message scan of too many columns");
    const ProtobufCFieldDescriptor *fields[KUMO_DB_MSG_MAX_COLS];
    struct kumo_db_out outs[KUMO_DB_MSG_MAX_COLS];
    int64_t i64[KUMO_DB_MSG_MAX_COLS];
    double d[KUMO_DB_MSG_MAX_COLS];
    int is_null[KUMO_DB_MSG_MAX_COLS];
    for (unsigned i = 0; i < n; i++) {
        const char *name = rows->stmt->cols[i].name;
        is_null[i] = 1;
        fields[i] = NULL;
        if (name && strcmp(name, KUMO_DB_MSG_KEY) == 0) {
            outs[i] = KUMO_DB_OUT_I64(&i64[i]);
            continue;
        }
        fields[i] =
            name ? protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name) : NULL;
        if (fields[i] == NULL)
            return bad_column(rows, i, m, "names no field");
        if (fields[i]->label == PROTOBUF_C_LABEL_REPEATED)
            return bad_column(rows, i, m, "names a repeated field");
        outs[i] = out_for(fields[i], &i64[i], &d[i], &is_null[i]);
    }
    kumo_code rc = kumo_db_rows_scan(rows, outs, n);
    for (unsigned i = 0; rc == KUMO_CODE_OK && i < n; i++) {
        const ProtobufCFieldDescriptor *f = fields[i];
        void *p = f ? (char *)m + f->offset : NULL;
        if (f == NULL) {
            if (key)
                *key = i64[i];
            continue;
        }
        if (outs[i].type == KUMO_DB_T_NULL) {
            is_null[i] = rows->stmt->cols[i].is_null;
            if (!is_null[i])
                rc = put_text(rows, i, a, m, f);
        } else if (is_null[i]) {
            continue;
        } else if (outs[i].type == KUMO_DB_T_TIME) {
            *(Google__Protobuf__Timestamp **)p = kumo_pb_timestamp(a, i64[i]);
        } else if (outs[i].type == KUMO_DB_T_DOUBLE) {
            if (f->type == PROTOBUF_C_TYPE_FLOAT)
                *(float *)p = (float)d[i];
            else
                *(double *)p = d[i];
        } else if (put_int(m, f, i64[i]) != 0) {
            char detail[160];
            snprintf(detail, sizeof detail, "column %u (%s): %lld does not fit the field", i,
                     f->name, (long long)i64[i]);
            rc = kumo__db_error(rows->conn, KUMO_CODE_OUT_OF_RANGE, "value out of range", detail);
        }
        if (rc == KUMO_CODE_OK && !is_null[i])
            mark_present(m, f);
    }
    return rc;
}

static ProtobufCMessage *new_message(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a)
{
    ProtobufCMessage *m = a->alloc(a->allocator_data, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

kumo_code kumo_db_msg_query_one(struct kumo_db_conn *c, const char *sql,
                                const struct kumo_db_param *params, size_t n_params,
                                const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a,
                                void **out)
{
    void **all = NULL;
    size_t n = 0;
    *out = NULL;
    kumo_code rc = kumo_db_msg_query_all(c, sql, params, n_params, d, a, 1, &all, NULL, &n);
    if (rc == KUMO_CODE_OK && n == 0) {
        kumo__db_set_last(KUMO_CODE_NOT_FOUND, 0, "not found");
        return KUMO_CODE_NOT_FOUND;
    }
    if (rc == KUMO_CODE_OK)
        *out = all[0];
    return rc;
}

struct msg_rows {
    const ProtobufCMessageDescriptor *d;
    ProtobufCAllocator *a;
    void **out;
    int64_t *keys;
};

/* kumo_db_row_fn: the i-th row as a new message. */
static kumo_code msg_row(void *ud, struct kumo_db_rows *rows, size_t i)
{
    struct msg_rows *s = ud;
    ProtobufCMessage *m = new_message(s->d, s->a);
    s->out[i] = m;
    return kumo_db_msg_scan(rows, s->a, m, s->keys ? &s->keys[i] : NULL);
}

kumo_code kumo_db_msg_query_all(struct kumo_db_conn *c, const char *sql,
                                const struct kumo_db_param *params, size_t n_params,
                                const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a,
                                size_t max, void ***out, int64_t **keys, size_t *n)
{
    size_t room = max ? max : 1;
    struct msg_rows s = {d, a, a->alloc(a->allocator_data, room * sizeof *s.out), NULL};
    if (keys) {
        s.keys = *keys = a->alloc(a->allocator_data, room * sizeof **keys);
        memset(s.keys, 0, room * sizeof **keys);
    }
    *out = s.out;
    *n = 0;
    if (max == 0) /* not "every row": there is no room */
        return KUMO_CODE_OK;
    return kumo_db_query_each(c, sql, params, n_params, max, msg_row, &s, n);
}
