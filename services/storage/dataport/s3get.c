/* GetObject and HeadObject of the data port: Range, conditional requests
 * (If-Match, If-None-Match, If-Modified-Since...), response-* overrides,
 * the stored headers and checksums, and the restore state of an archived
 * object. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "dataport.h"
#include "runtime/log.h"
#include "base/validate.h"

/* ---- GET / HEAD ---- */

/* 1: a satisfiable single range in [*first, *last]; 0: serve the whole
 * object (no header, or one S3 ignores: malformed or several ranges);
 * -1: unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *first, int64_t *last)
{
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return 0;
    const char *p = h + 6, *dash = strchr(p, '-');
    if (dash == NULL)
        return 0;
    int64_t a, b;
    if (dash == p) {
        if (stg__dp_parse_uint(dash + 1, strlen(dash + 1), &b) != 0)
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (stg__dp_parse_uint(p, (size_t)(dash - p), &a) != 0)
        return 0;
    if (dash[1] == '\0') {
        b = INT64_MAX;
    } else if (stg__dp_parse_uint(dash + 1, strlen(dash + 1), &b) != 0 || b < a) {
        return 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

/* 1 if `etag` (unquoted) is in the If-Match / If-None-Match list `h`. */
static int etag_listed(const char *h, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        const char *t = p;
        size_t tn = n;
        while (tn && t[tn - 1] == ' ')
            tn--;
        if (tn == 1 && *t == '*')
            return 1;
        if (tn >= 2 && t[0] == 'W' && t[1] == '/')
            t += 2, tn -= 2;
        if (tn >= 2 && t[0] == '"' && t[tn - 1] == '"')
            t++, tn -= 2;
        if (tn == elen && memcmp(t, etag, elen) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static void restore_header(struct MHD_Response *resp, const struct stg_meta *m)
{
    char v[96], date[32];
    switch (stg_meta_restore_state(m, stg_now_ms())) {
    case STG_RESTORE_IN_PROGRESS:
        MHD_add_response_header(resp, "x-amz-restore", "ongoing-request=\"true\"");
        break;
    case STG_RESTORE_RESTORED:
        stg_http_date(m->restore_expire_ms, date);
        snprintf(v, sizeof v, "ongoing-request=\"false\", expiry-date=\"%s\"", date);
        MHD_add_response_header(resp, "x-amz-restore", v);
        break;
    default:
        break;
    }
}

static const char *const overrides[][2] = {
    {"response-content-type", "Content-Type"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
};

static const char *override_for(struct dp_req *r, const char *header)
{
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        if (strcasecmp(overrides[i][1], header) != 0)
            continue;
        const struct dp_param *p = stg__dp_param(r, overrides[i][0]);
        return p ? p->value : NULL;
    }
    return NULL;
}

static int header_value_ok(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 0;
    return 1;
}

/* The stored header `name` of m, or NULL. */
static const char *stored_header(const struct stg_meta *m, const char *name)
{
    for (size_t i = 0; i < m->n_hdrs; i++)
        if (strcasecmp(m->hdrs[i].name, name) == 0)
            return m->hdrs[i].value;
    return NULL;
}

/* What a browser does with the bytes: render inline only the types
 * stg_inline_safe allows (others are attachments whatever was asked), and
 * sandbox what it renders (no script, no same-origin access to the data
 * port), as S3 behind a response headers policy would. (nosniff is on
 * every answer of the data port: add_common_headers.) */
static void browser_headers(struct dp_req *r, struct MHD_Response *resp, const char *ct,
                            const struct stg_meta *m)
{
    const char *want = override_for(r, "Content-Disposition");
    if (want == NULL)
        want = stored_header(m, "content-disposition");
    struct kumo_buf d = KUMO_BUF_INIT;
    stg_serve_disposition(ct, want, &d);
    if (d.len)
        MHD_add_response_header(resp, "Content-Disposition", (const char *)d.data);
    kumo_buf_free(&d);
    MHD_add_response_header(resp, "Content-Security-Policy", "sandbox");
}

static void object_headers(struct dp_req *r, struct MHD_Response *resp, const struct stg_meta *m)
{
    char etag[STG_ETAG_MAX + 2], date[32];
    snprintf(etag, sizeof etag, "\"%s\"", m->etag);
    stg_http_date(m->mtime_ms, date);
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Last-Modified", date);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    const char *ct = override_for(r, "Content-Type");
    if (ct == NULL)
        ct = m->content_type;
    MHD_add_response_header(resp, "Content-Type", ct);
    for (size_t i = 0; i < m->n_hdrs; i++)
        if (override_for(r, m->hdrs[i].name) == NULL &&
            strcasecmp(m->hdrs[i].name, "content-disposition") != 0)
            MHD_add_response_header(resp, m->hdrs[i].name, m->hdrs[i].value);
    for (size_t i = 1; i < sizeof overrides / sizeof overrides[0]; i++) {
        const struct dp_param *p = stg__dp_param(r, overrides[i][0]);
        if (p && strcasecmp(overrides[i][1], "Content-Disposition") != 0)
            MHD_add_response_header(resp, overrides[i][1], p->value);
    }
    browser_headers(r, resp, ct, m);
    if (m->storage_class != STG_CLASS_STANDARD)
        MHD_add_response_header(resp, "x-amz-storage-class", stg_class_name(m->storage_class));
    restore_header(resp, m);
}

static enum MHD_Result not_modified(struct dp_req *r, const struct stg_meta *m)
{
    char etag[STG_ETAG_MAX + 2];
    snprintf(etag, sizeof etag, "\"%s\"", m->etag);
    return stg__dp_empty(r, 304, etag);
}

/* Answers a precondition or range problem; returns 0 if there is none. */
static int preconditions(struct dp_req *r, const struct stg_meta *m, enum MHD_Result *out)
{
    const char *im = stg__dp_header(r, "If-Match");
    const char *inm = stg__dp_header(r, "If-None-Match");
    if (im && !etag_listed(im, m->etag)) {
        *out = stg__dp_error(r, STG_E_PRECONDITION_FAILED, NULL, "<Condition>If-Match</Condition>");
        return 1;
    }
    if (inm && etag_listed(inm, m->etag)) {
        *out = not_modified(r, m);
        return 1;
    }
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const struct dp_param *p = stg__dp_param(r, overrides[i][0]);
        if (p && (strlen(p->value) > STG_HEADER_VALUE_MAX || !header_value_ok(p->value))) {
            *out = stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                                 "A response-* override is not a valid header value.", NULL);
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result serve_range(struct dp_req *r, int fd, const struct stg_meta *m)
{
    int64_t first = 0, last = m->size - 1;
    int rng = parse_range(stg__dp_header(r, "Range"), m->size, &first, &last);
    if (rng < 0) {
        close(fd);
        char extra[64];
        snprintf(extra, sizeof extra, "<ActualObjectSize>%lld</ActualObjectSize>",
                 (long long)m->size);
        return stg__dp_error(r, STG_E_INVALID_RANGE, NULL, extra);
    }
    int64_t len = rng ? last - first + 1 : m->size;
    struct MHD_Response *resp;
    if (len == 0) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, (uint64_t)first);
        if (resp == NULL)
            close(fd);
    }
    if (resp == NULL)
        return MHD_NO;
    object_headers(r, resp, m);
    const char *mode = stg__dp_header(r, "x-amz-checksum-mode");
    if (!rng && mode && strcasecmp(mode, "ENABLED") == 0) {
        if (m->ck_alg != STG_CK_NONE) {
            MHD_add_response_header(resp, stg_ck_header(m->ck_alg), m->ck_value);
            MHD_add_response_header(resp, "x-amz-checksum-type",
                                    m->ck_type == STG_CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
        } else {
            /* Without a checksum the client chose: the SHA-256 every
             * object has. */
            struct kumo_buf b = KUMO_BUF_INIT;
            kumo_base64_encode(m->sha256, 32, 0, 1, &b);
            MHD_add_response_header(resp, "x-amz-checksum-sha256", (const char *)b.data);
            MHD_add_response_header(resp, "x-amz-checksum-type", "FULL_OBJECT");
            kumo_buf_free(&b);
        }
    }
    if (rng) {
        char cr[80];
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                 (long long)m->size);
        MHD_add_response_header(resp, "Content-Range", cr);
    }
    if (strcmp(r->method, "HEAD") != 0)
        r->bytes_out += len;
    return stg__dp_queue(r, rng ? 206 : 200, resp);
}

enum MHD_Result stg__dp_get_object(struct dp_req *r)
{
    struct stg_meta m;
    int fd = -1;
    enum stg_err e = stg_object_open(r->ctx->store, r->key, &m, &fd);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    enum MHD_Result out;
    if (r->op == DP_OP_GET_OBJECT && !stg_meta_readable(&m, stg_now_ms())) {
        char extra[64];
        snprintf(extra, sizeof extra, "<StorageClass>%s</StorageClass>",
                 stg_class_name(m.storage_class));
        out = stg__dp_error(r, STG_E_INVALID_OBJECT_STATE, NULL, extra);
    } else if (preconditions(r, &m, &out)) {
        /* answered */
    } else {
        out = serve_range(r, fd, &m);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    stg_meta_clear(&m);
    return out;
}
