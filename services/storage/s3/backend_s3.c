/* The S3 backend behind the RPCs: each operation is one or two S3 calls
 * (s3client.c), answers parsed with libxml2 like the data port's bodies.
 * Bytes never pass through here: clients upload and download with URLs
 * presigned for S3 itself.
 *
 * What S3 cannot tell: an object's SHA-256 is known only when it was
 * uploaded with x-amz-checksum-sha256 as a whole (PresignUpload with
 * sha256); otherwise StatObject returns it empty. The restore expiry comes
 * from x-amz-restore; an ongoing restore has no known ready time. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "runtime/log.h"
#include "s3client.h"

/* ---- XML ---- */

static xmlDocPtr parse_xml(const struct kumo_buf *b)
{
    if (b->len == 0 || b->len > INT32_MAX)
        return NULL;
    xmlDocPtr doc = xmlReadMemory((const char *)b->data, (int)b->len, "s3.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc && (doc->intSubset || doc->extSubset)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static int is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* Copies the text of the first child element `name` of `parent` into
 * out[cap] (truncated to fit). Returns 0, or -1 if there is none. */
static int child_text(const xmlNode *parent, const char *name, char *out, size_t cap)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next) {
        if (!is_elem(c, name))
            continue;
        xmlChar *t = xmlNodeGetContent(c);
        size_t n = t ? strlen((const char *)t) : 0;
        if (n >= cap)
            n = cap - 1;
        memcpy(out, t ? (const char *)t : "", n);
        out[n] = '\0';
        xmlFree(t);
        return 0;
    }
    return -1;
}

/* ---- errors ---- */

static const struct {
    const char *code;
    enum stg_err err;
} codes[] = {
    {"NoSuchKey", STG_E_NO_SUCH_KEY},
    {"NoSuchUpload", STG_E_NO_SUCH_UPLOAD},
    {"InvalidObjectState", STG_E_INVALID_OBJECT_STATE},
    {"InvalidPart", STG_E_INVALID_PART},
    {"InvalidPartOrder", STG_E_INVALID_PART_ORDER},
    {"EntityTooSmall", STG_E_ENTITY_TOO_SMALL},
    {"EntityTooLarge", STG_E_ENTITY_TOO_LARGE},
    {"RestoreAlreadyInProgress", STG_E_RESTORE_IN_PROGRESS},
    {"InvalidStorageClass", STG_E_INVALID_STORAGE_CLASS},
    {"MalformedXML", STG_E_MALFORMED_XML},
    {"InvalidRequest", STG_E_INVALID_REQUEST},
    {"InvalidArgument", STG_E_INVALID_ARGUMENT},
    {"KeyTooLongError", STG_E_KEY_TOO_LONG},
    {"NotImplemented", STG_E_NOT_IMPLEMENTED},
    {"MethodNotAllowed", STG_E_NOT_IMPLEMENTED},
};

/* An S3 <Error> in the body (also inside a 200 answer, as CopyObject and
 * CompleteMultipartUpload may send), mapped; STG_OK if there is none. */
static enum stg_err body_error(const char *op, const struct s3_resp *r)
{
    xmlDocPtr doc = parse_xml(&r->body);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    enum stg_err e = STG_OK;
    if (root && is_elem(root, "Error")) {
        char code[64] = "", msg[256] = "";
        child_text(root, "Code", code, sizeof code);
        child_text(root, "Message", msg, sizeof msg);
        e = STG_E_UPSTREAM;
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
            if (strcmp(code, codes[i].code) == 0)
                e = codes[i].err;
        if (e == STG_E_UPSTREAM)
            kumo_log(KUMO_LOG_WARN, NULL, "S3 refused a call", "op", op, "code", code, "message",
                     msg, NULL);
    }
    if (doc)
        xmlFreeDoc(doc);
    return e;
}

/* Maps a non-2xx answer (or a 2xx one carrying an <Error>). */
static enum stg_err answer_error(const char *op, const struct s3_resp *r, enum stg_err not_found)
{
    enum stg_err e = body_error(op, r);
    if (e != STG_OK || (r->status >= 200 && r->status < 300))
        return e;
    if (r->status == 404)
        return not_found;
    char st[16];
    snprintf(st, sizeof st, "%ld", r->status);
    kumo_log(KUMO_LOG_WARN, NULL, "S3 answered an error", "op", op, "status", st, NULL);
    return STG_E_UPSTREAM;
}

/* ---- headers ---- */

static int header_copy(const struct s3_resp *r, const char *name, char *out, size_t cap)
{
    size_t n;
    const char *v = stg__s3_header(r, name, &n);
    if (v == NULL || n >= cap)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static int64_t http_date_ms(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return end ? (int64_t)timegm(&tm) * 1000 : 0;
}

/* x-amz-restore: ongoing-request="true" | ongoing-request="false",
 * expiry-date="<HTTP date>". */
static void parse_restore(const char *v, struct stg_meta *m)
{
    if (strstr(v, "ongoing-request=\"true\"")) {
        m->restore_ready_ms = STG_TIME_UNKNOWN;
        m->restore_expire_ms = STG_TIME_UNKNOWN;
        return;
    }
    const char *d = strstr(v, "expiry-date=\"");
    if (d == NULL)
        return;
    char date[64];
    d += 13;
    size_t n = strcspn(d, "\"");
    if (n >= sizeof date)
        return;
    memcpy(date, d, n);
    date[n] = '\0';
    m->restore_ready_ms = 1;
    m->restore_expire_ms = http_date_ms(date);
}

static void parse_etag(const char *v, struct stg_meta *m)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
    if (n >= sizeof m->etag)
        n = sizeof m->etag - 1;
    memcpy(m->etag, v, n);
    m->etag[n] = '\0';
    const char *dash = strchr(m->etag, '-');
    long parts = dash ? strtol(dash + 1, NULL, 10) : 0;
    m->parts = parts > 0 && parts <= STG_PARTS_MAX ? (int)parts : 0;
}

static void head_meta(const char *key, const struct s3_resp *r, struct stg_meta *m)
{
    char v[512];
    stg_meta_init(m);
    memcpy(m->key, key, strlen(key) + 1);
    if (header_copy(r, "content-length", v, sizeof v) == 0)
        m->size = strtoll(v, NULL, 10);
    if (header_copy(r, "etag", v, sizeof v) == 0)
        parse_etag(v, m);
    if (header_copy(r, "content-type", v, sizeof v) == 0 && strlen(v) < sizeof m->content_type)
        memcpy(m->content_type, v, strlen(v) + 1);
    if (header_copy(r, "last-modified", v, sizeof v) == 0)
        m->mtime_ms = http_date_ms(v);
    if (header_copy(r, "x-amz-storage-class", v, sizeof v) == 0) {
        m->storage_class = stg_class_parse(v, strlen(v));
        if (m->storage_class == STG_CLASS_UNSPECIFIED)
            m->storage_class = STG_CLASS_STANDARD; /* other S3 classes read like STANDARD */
    }
    if (header_copy(r, "x-amz-restore", v, sizeof v) == 0)
        parse_restore(v, m);
    struct kumo_buf sha = KUMO_BUF_INIT;
    if (header_copy(r, "x-amz-checksum-sha256", v, sizeof v) == 0 &&
        kumo_base64_decode(v, strlen(v), &sha) == 0 && sha.len == 32)
        memcpy(m->sha256, sha.data, 32);
    kumo_buf_free(&sha);
}

/* ---- operations ---- */

/* One S3 request of operation `op`, its answer read by answer_error
 * (`missing` for a 404). With `keep`, a successful response stays there for
 * the caller (to free); otherwise, and on any failure, it is freed. */
static enum stg_err s3_op(struct stg_ctx *c, const char *op, const char *method, const char *key,
                          const struct kumo_sigv4_kv *q, size_t nq, const char *const *h, size_t nh,
                          const void *body, size_t len, enum stg_err missing, struct s3_resp *keep)
{
    struct s3_resp own, *r = keep ? keep : &own;
    enum stg_err e = stg__s3_call(c->s3, method, key, q, nq, h, nh, body, len, r);
    if (e != STG_OK)
        return e;
    e = answer_error(op, r, missing);
    if (e != STG_OK || keep == NULL)
        stg__s3_resp_free(r);
    return e;
}

static enum stg_err stat_(struct stg_ctx *c, const char *key, struct stg_meta *m)
{
    struct s3_resp r;
    const char *h[] = {"x-amz-checksum-mode: ENABLED"};
    enum stg_err e =
        s3_op(c, "HeadObject", "HEAD", key, NULL, 0, h, 1, NULL, 0, STG_E_NO_SUCH_KEY, &r);
    if (e != STG_OK)
        return e;
    head_meta(key, &r, m);
    stg__s3_resp_free(&r);
    return STG_OK;
}

static enum stg_err remove_(struct stg_ctx *c, const char *key)
{
    return s3_op(c, "DeleteObject", "DELETE", key, NULL, 0, NULL, 0, NULL, 0, STG_OK, NULL);
}

static enum stg_err copy_call(struct stg_ctx *c, const char *src, const char *dst,
                              enum stg_class cls)
{
    struct kumo_buf source = KUMO_BUF_INIT, hsrc = KUMO_BUF_INIT, hcls = KUMO_BUF_INIT;
    kumo_buf_appendf(&source, "/%s/", stg__s3_bucket(c->s3));
    kumo_sigv4_uri_encode(src, strlen(src), 1, &source);
    kumo_buf_appendf(&hsrc, "x-amz-copy-source: %s", (const char *)source.data);
    kumo_buf_appendf(&hcls, "x-amz-storage-class: %s",
                     stg_class_name(cls == STG_CLASS_UNSPECIFIED ? STG_CLASS_STANDARD : cls));
    const char *h[] = {(const char *)hsrc.data, (const char *)hcls.data,
                       "x-amz-metadata-directive: COPY"};
    enum stg_err e =
        s3_op(c, "CopyObject", "PUT", dst, NULL, 0, h, 3, NULL, 0, STG_E_NO_SUCH_KEY, NULL);
    kumo_buf_free(&source);
    kumo_buf_free(&hsrc);
    kumo_buf_free(&hcls);
    return e;
}

static enum stg_err copy(struct stg_ctx *c, const char *src, const char *dst, enum stg_class cls,
                         struct stg_meta *out)
{
    enum stg_err e = copy_call(c, src, dst, cls);
    return e == STG_OK ? stat_(c, dst, out) : e;
}

static enum stg_err set_class(struct stg_ctx *c, const char *key, enum stg_class cls,
                              struct stg_meta *out)
{
    struct stg_meta m;
    enum stg_err e = stat_(c, key, &m);
    if (e != STG_OK)
        return e;
    if (m.storage_class == cls) { /* S3 refuses a copy onto itself that changes nothing */
        *out = m;
        return STG_OK;
    }
    stg_meta_clear(&m);
    e = copy_call(c, key, key, cls);
    return e == STG_OK ? stat_(c, key, out) : e;
}

static enum stg_err restore(struct stg_ctx *c, const char *key, int days, enum stg_tier tier,
                            struct stg_meta *out, enum stg_restore_state *before)
{
    struct kumo_buf xml = KUMO_BUF_INIT;
    kumo_buf_appendf(&xml,
                     "<RestoreRequest xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     "<Days>%d</Days><GlacierJobParameters><Tier>%s</Tier>"
                     "</GlacierJobParameters></RestoreRequest>",
                     days, stg_tier_name(tier));
    const struct kumo_sigv4_kv q[] = {kumo_sigv4_kv_str("restore", "")};
    const char *h[] = {"Content-Type: application/xml"};
    struct s3_resp r;
    enum stg_err e = stg__s3_call(c->s3, "POST", key, q, 1, h, 1, xml.data, xml.len, &r);
    kumo_buf_free(&xml);
    if (e != STG_OK)
        return e;
    e = answer_error("RestoreObject", &r, STG_E_NO_SUCH_KEY);
    *before = r.status == 200 ? STG_RESTORE_RESTORED : STG_RESTORE_ARCHIVED;
    if (e == STG_E_RESTORE_IN_PROGRESS) {
        *before = STG_RESTORE_IN_PROGRESS; /* as asked already: not an error here */
        e = STG_OK;
    }
    stg__s3_resp_free(&r);
    return e == STG_OK ? stat_(c, key, out) : e;
}

static int id_valid(const char *id, size_t len)
{
    if (len == 0 || len > STG_UPLOAD_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '~'))
            return 0;
    }
    return 1;
}

static enum stg_err mpu_create(struct stg_ctx *c, const struct stg_meta *init,
                               char id_out[STG_UPLOAD_ID_MAX + 1])
{
    struct kumo_buf ct = KUMO_BUF_INIT, cls = KUMO_BUF_INIT;
    kumo_buf_appendf(&ct, "Content-Type: %s", init->content_type);
    kumo_buf_appendf(&cls, "x-amz-storage-class: %s", stg_class_name(init->storage_class));
    /* Part checksums asked for (only SHA256, COMPOSITE, is ever asked). */
    const char *h[] = {(const char *)ct.data, (const char *)cls.data,
                       "x-amz-checksum-algorithm: SHA256"};
    size_t nh = init->ck_alg == STG_CK_SHA256 ? 3 : 2;
    const struct kumo_sigv4_kv q[] = {kumo_sigv4_kv_str("uploads", "")};
    struct s3_resp r;
    enum stg_err e = stg__s3_call(c->s3, "POST", init->key, q, 1, h, nh, NULL, 0, &r);
    kumo_buf_free(&ct);
    kumo_buf_free(&cls);
    if (e != STG_OK)
        return e;
    e = answer_error("CreateMultipartUpload", &r, STG_E_UPSTREAM);
    if (e == STG_OK) {
        xmlDocPtr doc = parse_xml(&r.body);
        char id[STG_UPLOAD_ID_MAX + 2] = "";
        if (doc == NULL || child_text(xmlDocGetRootElement(doc), "UploadId", id, sizeof id) != 0 ||
            !id_valid(id, strlen(id))) {
            kumo_log(KUMO_LOG_WARN, NULL,
                     "S3 answered CreateMultipartUpload without a usable "
                     "UploadId",
                     NULL);
            e = STG_E_UPSTREAM;
        } else {
            memcpy(id_out, id, strlen(id) + 1);
        }
        if (doc)
            xmlFreeDoc(doc);
    }
    stg__s3_resp_free(&r);
    return e;
}

static enum stg_err list_call(struct stg_ctx *c, const char *id, const char *key, int after,
                              int max, struct s3_resp *r)
{
    char smax[16], safter[16];
    snprintf(smax, sizeof smax, "%d", max);
    snprintf(safter, sizeof safter, "%d", after);
    const struct kumo_sigv4_kv q[] = {kumo_sigv4_kv_str("uploadId", id),
                                      kumo_sigv4_kv_str("max-parts", smax),
                                      kumo_sigv4_kv_str("part-number-marker", safter)};
    return s3_op(c, "ListParts", "GET", key, q, after > 0 ? 3 : 2, NULL, 0, NULL, 0,
                 STG_E_NO_SUCH_UPLOAD, r);
}

/* Whether an upload exists, asked with ListParts. A store without
 * ListParts (s3rver) cannot tell: the check is then skipped, and a part PUT
 * for a missing upload fails at the store instead. */
static enum stg_err mpu_check(struct stg_ctx *c, const char *id, const char *key)
{
    struct s3_resp r;
    enum stg_err e = list_call(c, id, key, 0, 1, &r);
    if (e == STG_OK)
        stg__s3_resp_free(&r);
    return e == STG_E_NOT_IMPLEMENTED ? STG_OK : e;
}

static int parse_part(const xmlNode *n, struct stg_part *p)
{
    char num[16], etag[80], size[32], date[64];
    if (child_text(n, "PartNumber", num, sizeof num) != 0 ||
        child_text(n, "ETag", etag, sizeof etag) != 0 ||
        child_text(n, "Size", size, sizeof size) != 0)
        return -1;
    p->number = (int)strtol(num, NULL, 10);
    p->size = strtoll(size, NULL, 10);
    if (stg_etag_parse(etag, p->etag) != 0)
        return -1;
    time_t t = 0;
    if (child_text(n, "LastModified", date, sizeof date) == 0)
        kumo__aws_parse_iso8601(date, strlen(date), &t);
    p->mtime_ms = (int64_t)t * 1000;
    return 0;
}

static enum stg_err mpu_list(struct stg_ctx *c, const char *id, const char *key, int after, int max,
                             struct stg_part **parts, size_t *n, int *truncated)
{
    struct s3_resp r;
    enum stg_err e = list_call(c, id, key, after, max, &r);
    if (e != STG_OK)
        return e;
    xmlDocPtr doc = parse_xml(&r.body);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    char trunc[16] = "";
    *parts = kumo_calloc((size_t)max + 1, sizeof **parts);
    *n = 0;
    for (xmlNode *ch = root ? root->children : NULL; ch && *n < (size_t)max; ch = ch->next)
        if (is_elem(ch, "Part") && parse_part(ch, &(*parts)[*n]) == 0)
            (*n)++;
    child_text(root, "IsTruncated", trunc, sizeof trunc);
    *truncated = strcmp(trunc, "true") == 0;
    if (root == NULL) {
        kumo_free(*parts);
        e = STG_E_UPSTREAM;
    }
    if (doc)
        xmlFreeDoc(doc);
    stg__s3_resp_free(&r);
    return e;
}

static enum stg_err mpu_complete(struct stg_ctx *c, const char *id, const char *key,
                                 const struct stg_part *want, size_t n, struct stg_meta *out,
                                 const char **why)
{
    struct kumo_buf xml = KUMO_BUF_INIT;
    kumo_buf_append_str(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n; i++) {
        kumo_buf_appendf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag>",
                         want[i].number, want[i].etag);
        if (want[i].ck_alg != STG_CK_NONE) /* base64: nothing to escape */
            kumo_buf_appendf(&xml, "<%s>%s</%s>", stg_ck_xml(want[i].ck_alg), want[i].ck,
                             stg_ck_xml(want[i].ck_alg));
        kumo_buf_append_str(&xml, "</Part>");
    }
    kumo_buf_append_str(&xml, "</CompleteMultipartUpload>");
    const struct kumo_sigv4_kv q[] = {kumo_sigv4_kv_str("uploadId", id)};
    const char *h[] = {"Content-Type: application/xml"};
    enum stg_err e = s3_op(c, "CompleteMultipartUpload", "POST", key, q, 1, h, 1, xml.data, xml.len,
                           STG_E_NO_SUCH_UPLOAD, NULL);
    kumo_buf_free(&xml);
    *why = NULL;
    return e == STG_OK ? stat_(c, key, out) : e;
}

static enum stg_err mpu_abort(struct stg_ctx *c, const char *id, const char *key)
{
    const struct kumo_sigv4_kv q[] = {kumo_sigv4_kv_str("uploadId", id)};
    return s3_op(c, "AbortMultipartUpload", "DELETE", key, q, 1, NULL, 0, NULL, 0,
                 STG_E_NO_SUCH_UPLOAD, NULL);
}

static int sign_creds(struct stg_ctx *c, struct kumo_aws_credentials *out)
{
    return stg__s3_creds(c->s3, out);
}

const struct stg_backend_ops stg_backend_s3 = {
    "s3",       id_valid,  stat_,    remove_,      copy,      set_class,  restore,
    mpu_create, mpu_check, mpu_list, mpu_complete, mpu_abort, sign_creds,
};
