/* The one JSON -> RPC -> JSON runner: every mapped route (op.h) goes
 * through bff_run. Request fields whose target is a top-level scalar
 * (string, integer, bool, enum) and whose value is not from the body are
 * set straight into the message; body members and structured targets
 * (Timestamps, Structs, lists, sub-messages) are gathered as proto3 JSON
 * and decoded by the codec, which validates them and names the offending
 * field. Responses are written by rest_json.c in one pass. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "op.h"
#include "rest_json.h"
#include "rpc/fields.h"
#include "spec.h"

#define MEMBER(m, off) ((char *)(m) + (off))

int bff_doc_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 4 && n <= 64 && strncmp(id, "doc_", 4) == 0 && kumo_rpc_id_valid(id);
}

int bff_doc_id_check(struct bff_ctx *c, const char *param)
{
    if (bff_doc_id_valid(bff_param(c, param)))
        return 0;
    bff_error(c, 404, "not_found", "document not found");
    return -1;
}

struct kumo_rpc_client *bff_op_client(struct bff_ctx *c, enum bff_service s)
{
    return s == BFF_USERS ? c->app->users : c->app->documents;
}

/* Whether field row `f` is set straight into the message. */
static const ProtobufCFieldDescriptor *direct_field(const ProtobufCMessageDescriptor *d,
                                                    const struct bff_field *f)
{
    if (f->src == BFF_BODY || f->conv == BFF_METADATA || f->conv == BFF_HEX256 ||
        strchr(f->to, '.'))
        return NULL;
    const ProtobufCFieldDescriptor *fd = bff_rest_find_field(d, f->to);
    if (!fd || fd->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_BOOL:
    case PROTOBUF_C_TYPE_ENUM:
        return fd;
    default:
        return NULL;
    }
}

/* The raw text of a non-body field, or NULL when absent. */
static const char *text_value(struct bff_ctx *c, const struct bff_field *f)
{
    switch (f->src) {
    case BFF_PATH:
        return bff_param(c, f->from);
    case BFF_QUERY:
        return bff_query(c->rq, f->from);
    case BFF_HEADER:
        return bff_header(c->rq, f->from);
    case BFF_IF_MATCH: {
        const char *e = bff_if_match(c);
        return e ? e : c->etag_default;
    }
    case BFF_CONST:
        return f->from;
    case BFF_BODY:
        break;
    }
    return NULL;
}

static int bad(struct bff_ctx *c, const char *message)
{
    bff_error(c, 400, "invalid_argument", message);
    return -1;
}

static int bad_integer(struct bff_ctx *c, const struct bff_field *f)
{
    struct kumo_buf m = KUMO_BUF_INIT;
    kumo_buf_appendf(&m, "%s must be a positive integer", f->from);
    bad(c, (const char *)m.data);
    kumo_buf_free(&m);
    return -1;
}

/* Parses a non-negative decimal integer for UINT (at most 1e9) or
 * PAGE_SIZE (clamped to KUMO_PAGE_SIZE_MAX). Returns 0 or answers 400. */
static int integer_value(struct bff_ctx *c, const struct bff_field *f, const char *s, int32_t *out)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*end || end == s || n < 0 || (f->conv == BFF_UINT && n > 1000000000))
        return bad_integer(c, f);
    if (f->conv == BFF_PAGE_SIZE && n > c->app->s.page_size_max)
        n = c->app->s.page_size_max;
    *out = (int32_t)n;
    return 0;
}

/* The proto enum name of short name `s` ("active" -> DOCUMENT_STATUS_ACTIVE)
 * into out[0..cap). Returns 0, or answers 400 when `s` is not accepted. */
static int enum_name(struct bff_ctx *c, const struct bff_field *f, const char *s, char *out,
                     size_t cap)
{
    const struct bff_enum *e = f->arg;
    int ok = e->names == NULL;
    for (const char *const *n = e->names; n && *n && !ok; n++)
        ok = e->ignore_case ? strcasecmp(*n, s) == 0 : strcmp(*n, s) == 0;
    size_t plen = strlen(e->prefix), slen = strlen(s);
    if (!ok || plen + slen >= cap) {
        if (e->error)
            return bad(c, e->error);
        struct kumo_buf m = KUMO_BUF_INIT;
        kumo_buf_appendf(&m, "%s: unknown value", f->from);
        bad(c, (const char *)m.data);
        kumo_buf_free(&m);
        return -1;
    }
    memcpy(out, e->prefix, plen);
    for (size_t i = 0; i < slen; i++)
        out[plen + i] = (char)toupper((unsigned char)s[i]);
    out[plen + slen] = '\0';
    return 0;
}

/* 64 hex digits -> proto JSON bytes (base64). */
static int hex256_value(struct bff_ctx *c, json_t *hex, json_t **out)
{
    const char *s = json_is_string(hex) ? json_string_value(hex) : NULL;
    uint8_t raw[32];
    if (!s || strlen(s) != 64)
        return bad(c, "sha256 must be 64 hexadecimal digits");
    for (int i = 0; i < 32; i++) {
        char h[3] = {s[2 * i], s[2 * i + 1], 0};
        if (!isxdigit((unsigned char)h[0]) || !isxdigit((unsigned char)h[1]))
            return bad(c, "sha256 must be 64 hexadecimal digits");
        raw[i] = (uint8_t)strtoul(h, NULL, 16);
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_base64_encode(raw, sizeof raw, 0, 1, &b);
    *out = json_string((const char *)b.data);
    kumo_buf_free(&b);
    return 0;
}

/* meta_content: KumoCMS's base64 of a meta.json file (either alphabet,
 * padding optional), or, as before, the JSON text itself (a JSON object
 * starts with '{', which is no base64 character). Returns 0 with *out the
 * object, or answers 400. */
static int meta_content_value(struct bff_ctx *c, const char *s, size_t len, json_t **out)
{
    static const char msg[] = "meta_content must be the base64 of a JSON object (a meta.json file)";
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    struct kumo_buf raw = KUMO_BUF_INIT;
    if (i == len || s[i] != '{') {
        if (kumo_base64_decode(s, len, &raw) != 0 || raw.len == 0) {
            kumo_buf_free(&raw);
            return bad(c, msg);
        }
        s = (const char *)raw.data;
        len = raw.len;
    }
    if (kumo_web_json_depth(s, len, c->app->s.json_max_depth) > c->app->s.json_max_depth) {
        kumo_buf_free(&raw);
        return bad(c, "JSON nested too deeply");
    }
    json_t *m = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
    kumo_buf_free(&raw);
    if (!m || !json_is_object(m)) {
        json_decref(m);
        return bad(c, msg);
    }
    *out = m;
    return 0;
}

/* metadata from meta_json (an object), meta_content (the base64 of a
 * JSON object, or the JSON text) or metadata (an object): *out NULL when none is given. */
static int metadata_value(struct bff_ctx *c, json_t **out)
{
    json_t *mj = json_object_get(c->body, "meta_json");
    json_t *mc = json_object_get(c->body, "meta_content");
    json_t *md = json_object_get(c->body, "metadata");
    if ((mj != NULL) + (mc != NULL) + (md != NULL) > 1)
        return bad(c, "give only one of meta_json, meta_content, metadata");
    if (mj || md) {
        json_t *m = mj ? mj : md;
        if (!json_is_object(m))
            return bad(c, "meta_json must be a JSON object");
        *out = json_incref(m);
    } else if (mc) {
        if (!json_is_string(mc))
            return bad(c, "meta_content must be the base64 of a JSON object (a meta.json file)");
        return meta_content_value(c, json_string_value(mc), json_string_length(mc), out);
    }
    return 0;
}

/* The proto3 JSON value of a field that goes through the codec; *out NULL
 * when absent. Returns 0 or answers 400. */
static int json_value(struct bff_ctx *c, const struct bff_field *f, json_t **out)
{
    *out = NULL;
    if (f->conv == BFF_METADATA)
        return c->body ? metadata_value(c, out) : 0;
    json_t *bv = NULL;
    const char *s = NULL;
    if (f->src == BFF_BODY) {
        bv = c->body ? json_object_get(c->body, f->from) : NULL;
        if (!bv)
            return 0;
        s = json_is_string(bv) ? json_string_value(bv) : NULL;
    } else if (!(s = text_value(c, f))) {
        return 0;
    }
    switch (f->conv) {
    case BFF_HEX256:
        return bv ? hex256_value(c, bv, out) : 0;
    case BFF_ENUM: {
        char name[96];
        if (!s)
            return enum_name(c, f, "", name, 0);
        if (!*s && !bv)
            return 0;
        if (enum_name(c, f, s, name, sizeof name) != 0)
            return -1;
        *out = json_string(name);
        return 0;
    }
    case BFF_BOOL:
        *out = bv ? json_incref(bv) : json_boolean(strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
        return 0;
    case BFF_UINT:
    case BFF_PAGE_SIZE: {
        if (bv) {
            *out = json_incref(bv);
            return 0;
        }
        int32_t n;
        if (integer_value(c, f, s, &n) != 0)
            return -1;
        *out = json_integer(n);
        return 0;
    }
    default:
        *out = bv ? json_incref(bv) : json_string(s);
        return 0;
    }
}

/* Sets value `v` (stolen) at `to` ("a.b" goes into object a) of `root`. */
static void json_put(json_t *root, const char *to, json_t *v)
{
    const char *dot = strchr(to, '.');
    if (!dot) {
        json_object_set_new(root, to, v);
        return;
    }
    char head[64];
    size_t n = (size_t)(dot - to) < sizeof head - 1 ? (size_t)(dot - to) : sizeof head - 1;
    memcpy(head, to, n);
    head[n] = '\0';
    json_t *sub = json_object_get(root, head);
    if (!sub) {
        sub = json_object();
        json_object_set_new(root, head, sub);
    }
    json_put(sub, dot + 1, v);
}

/* Appends the lowerCamelCase name of the last segment of `to` to the
 * update mask (FieldMask paths are lowerCamelCase in proto3 JSON). */
static void mask_add(struct kumo_buf *mask, const char *to)
{
    const char *leaf = strrchr(to, '.');
    leaf = leaf ? leaf + 1 : to;
    if (mask->len)
        kumo_buf_append_byte(mask, ',');
    for (const char *p = leaf; *p; p++) {
        if (*p == '_' && p[1]) {
            kumo_buf_append_byte(mask, (uint8_t)toupper((unsigned char)p[1]));
            p++;
        } else {
            kumo_buf_append_byte(mask, (uint8_t)*p);
        }
    }
}

/* Sets a top-level scalar field from text `s`. Returns 0 or answers 400. */
static int set_direct(struct bff_ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                      const struct bff_field *f, const char *s)
{
    void *p = MEMBER(m, fd->offset);
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)MEMBER(m, fd->quantifier_offset) = 1;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        if ((f->flags & BFF_UNLESS) && **(char **)p)
            return 0;
        *(char **)p = kumo_arena_strdup(c->arena, s);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
        return 0;
    case PROTOBUF_C_TYPE_INT32:
        return integer_value(c, f, s, (int32_t *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        char name[96];
        if (f->conv != BFF_ENUM) {
            if (strlen(s) >= sizeof name)
                return bad(c, "invalid enum value");
            memcpy(name, s, strlen(s) + 1);
        } else if (enum_name(c, f, s, name, sizeof name) != 0) {
            return -1;
        }
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(fd->descriptor, name);
        if (!ev) {
            struct kumo_buf msg = KUMO_BUF_INIT;
            kumo_buf_appendf(&msg, "%s: unknown value", f->from);
            bad(c, (const char *)msg.data);
            kumo_buf_free(&msg);
            return -1;
        }
        *(int *)p = ev->value;
        return 0;
    }
    default:
        return bad(c, "invalid request");
    }
}

/* Checks the required fields first: a missing If-Match is 428 whatever
 * else is wrong with the request. */
static int check_required(struct bff_ctx *c, const struct bff_op *op)
{
    for (const struct bff_field *f = op->fields; f && f->to; f++) {
        if (!(f->flags & BFF_REQUIRED))
            continue;
        int present = f->src == BFF_BODY ? c->body && json_object_get(c->body, f->from)
                                         : text_value(c, f) != NULL;
        if (present)
            continue;
        if (f->src == BFF_IF_MATCH)
            bff_error(c, 428, "failed_precondition",
                      "If-Match with the document's etag is required");
        else
            bad(c, "a required field is missing");
        return -1;
    }
    return 0;
}

/* Gathers the codec-decoded fields (and the update mask) into *out
 * (NULL when there are none). Returns 0 or answers 400. */
static int gather_json(struct bff_ctx *c, const struct bff_op *op, json_t **out)
{
    json_t *j = NULL;
    struct kumo_buf mask = KUMO_BUF_INIT;
    for (const struct bff_field *f = op->fields; f && f->to; f++) {
        if (direct_field(op->req, f))
            continue;
        json_t *v;
        if (json_value(c, f, &v) != 0) {
            json_decref(j);
            kumo_buf_free(&mask);
            return -1;
        }
        if (!v)
            continue;
        if (!j)
            j = json_object();
        json_put(j, f->to, v);
        if (f->flags & BFF_MASKED)
            mask_add(&mask, f->to);
    }
    if (op->mask) {
        if (mask.len == 0) {
            json_decref(j);
            return bad(c, "nothing to change");
        }
        json_object_set_new(j, op->mask, json_stringn((const char *)mask.data, mask.len));
        kumo_buf_free(&mask);
    }
    *out = j;
    return 0;
}

ProtobufCMessage *bff_op_request(struct bff_ctx *c, const struct bff_op *op)
{
    if (check_required(c, op) != 0)
        return NULL;
    json_t *j;
    if (gather_json(c, op, &j) != 0)
        return NULL;
    ProtobufCMessage *m;
    if (j) {
        m = bff_proto_from_json(c, op->req, j);
        json_decref(j);
        if (!m)
            return NULL;
    } else {
        m = kumo_arena_calloc(c->arena, op->req->sizeof_message);
        protobuf_c_message_init(op->req, m);
    }
    for (const struct bff_field *f = op->fields; f && f->to; f++) {
        const ProtobufCFieldDescriptor *fd = direct_field(op->req, f);
        const char *s = fd ? text_value(c, f) : NULL;
        if (!s || (!*s && f->conv == BFF_ENUM))
            continue;
        if (set_direct(c, m, fd, f, s) != 0)
            return NULL;
    }
    return m;
}

void bff_op_headers(struct bff_ctx *c, const struct bff_op *op, const ProtobufCMessage *rs)
{
    if (!op->etag_of)
        return;
    const ProtobufCMessage *sub = bff_rest_sub(rs, op->etag_of);
    if (!sub)
        return;
    bff_etag_header(c, bff_rest_str(sub, "etag"));
    if (op->location) {
        struct kumo_buf loc = KUMO_BUF_INIT;
        const char *id = bff_rest_str(sub, "id");
        kumo_buf_appendf(&loc, "%s%s", op->location, id ? id : "");
        bff_resp_header(c->rs, "Location", (const char *)loc.data);
        kumo_buf_free(&loc);
    }
}

void bff_doc_answer(struct bff_ctx *c, int status, const char *message, const ProtobufCMessage *rs,
                    const char *id)
{
    const ProtobufCMessage *doc = bff_rest_sub(rs, "document");
    const char *doc_id = doc ? bff_rest_str(doc, "id") : NULL;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, "{\"document_id\":");
    bff_rest_string(&b, id ? id : doc_id);
    kumo_buf_append_str(&b, ",\"message\":");
    bff_rest_string(&b, message);
    kumo_buf_append_str(&b, ",\"document\":");
    if (doc)
        bff_rest_encode(&b, doc);
    else
        kumo_buf_append_str(&b, "null");
    kumo_buf_append_byte(&b, '}');
    bff_json_text(c, status, &b);
}

static void page_answer(struct bff_ctx *c, const struct bff_op *op, const ProtobufCMessage *rs)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_byte(&b, '{');
    bff_rest_string(&b, op->key);
    kumo_buf_append_byte(&b, ':');
    if (bff_rest_field(&b, rs, op->key) != 0)
        kumo_buf_append_str(&b, "[]");
    kumo_buf_append_str(&b, ",\"next_page_token\":");
    if (bff_rest_field(&b, rs, "next_page_token") != 0)
        kumo_buf_append_str(&b, "\"\"");
    kumo_buf_append_byte(&b, '}');
    bff_json_text(c, bff_op_status(op), &b);
}

/* The request of a mapped RPC, kept for its answer. */
struct run_state {
    const struct bff_op *op;
    ProtobufCMessage *rq;
};

/* The answer of a mapped RPC, from its outcome (bff_call_then). */
static void run_answer(struct bff_ctx *c, void *state, kumo_code code, ProtobufCMessage *rs,
                       struct kumo_rpc_status *st)
{
    const struct run_state *s = state;
    const struct bff_op *op = s->op;
    if (code == KUMO_CODE_ABORTED && op->aborted) {
        bff_error(c, 412, "aborted", op->aborted);
        return;
    }
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, st);
        return;
    }
    bff_op_headers(c, op, rs);
    switch (op->answer) {
    case BFF_ANS_MESSAGE: {
        struct kumo_buf b = KUMO_BUF_INIT;
        bff_rest_encode(&b, rs);
        bff_json_text(c, bff_op_status(op), &b);
        break;
    }
    case BFF_ANS_PAGE:
        page_answer(c, op, rs);
        break;
    case BFF_ANS_DOC:
        bff_doc_answer(c, bff_op_status(op), op->key, rs, NULL);
        break;
    case BFF_ANS_NONE:
        bff_json(c, bff_op_status(op), NULL);
        break;
    case BFF_ANS_HOOK:
        op->answer_fn(c, s->rq, rs);
        break;
    }
}

void bff_run(struct bff_ctx *c, const struct bff_op *op)
{
    if (op->doc_id && bff_doc_id_check(c, op->doc_id) != 0)
        return;
    if (op->roles && bff_require_role(c, op->roles) != 0)
        return;
    if (bff_spec_check_query(c) != 0)
        return;
    if (op->body && (bff_parse_body(c) != 0 || bff_only_fields(c, c->body, op->body) != 0))
        return;
    if (op->prepare && op->prepare(c) != 0)
        return;
    ProtobufCMessage *rq = bff_op_request(c, op);
    if (!rq)
        return;
    struct run_state *s = kumo_arena_alloc(c->arena, sizeof *s);
    s->op = op;
    s->rq = rq;
    bff_call_then(c, bff_op_client(c, op->service), op->rpc, rq, op->resp, run_answer, s);
}
