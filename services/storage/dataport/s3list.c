/* The data port's listings: ListObjectsV2 within the caller's prefix
 * (delimiter, continuation tokens, start-after, url encoding) and ListParts
 * of a multipart upload. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "dataport.h"
#include "runtime/log.h"
#include "base/validate.h"

static int int_param(struct dp_req *r, const char *name, int64_t def, int64_t max, int64_t *out)
{
    const struct dp_param *p = stg__dp_param(r, name);
    *out = def;
    if (p == NULL)
        return 0;
    if (stg__dp_parse_uint(p->value, strlen(p->value), out) != 0 || *out > max)
        return -1;
    return 0;
}

static void parts_xml(struct dp_req *r, const struct stg_meta *m, int64_t marker, int64_t max,
                      const struct stg_part *parts, size_t n, int truncated, struct kumo_buf *b)
{
    kumo_buf_append_str(b, KUMO_DP_XML_HEAD "<ListPartsResult" KUMO_DP_S3_NS ">");
    stg__dp_xml_elem(b, "Bucket", r->ctx->s.bucket);
    stg__dp_xml_elem(b, "Key", r->key);
    stg__dp_xml_elem(b, "UploadId", r->upload_id);
    kumo_buf_appendf(b, "<PartNumberMarker>%lld</PartNumberMarker>", (long long)marker);
    if (n)
        kumo_buf_appendf(b, "<NextPartNumberMarker>%d</NextPartNumberMarker>", parts[n - 1].number);
    kumo_buf_appendf(b, "<MaxParts>%lld</MaxParts><IsTruncated>%s</IsTruncated>", (long long)max,
                     truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        char date[32];
        stg_iso_date(parts[i].mtime_ms, date);
        kumo_buf_appendf(b,
                         "<Part><PartNumber>%d</PartNumber><LastModified>%s</LastModified>"
                         "<ETag>&quot;%s&quot;</ETag><Size>%lld</Size></Part>",
                         parts[i].number, date, parts[i].etag, (long long)parts[i].size);
    }
    kumo_buf_appendf(b, "<StorageClass>%s</StorageClass></ListPartsResult>",
                     stg_class_name(m->storage_class));
}

enum MHD_Result stg__dp_list_parts(struct dp_req *r)
{
    int64_t max, marker;
    if (int_param(r, "max-parts", KUMO_DP_LIST_MAX, INT32_MAX, &max) != 0 ||
        int_param(r, "part-number-marker", 0, STG_PARTS_MAX, &marker) != 0)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "max-parts and part-number-marker must be non-negative integers",
                             NULL);
    if (max > KUMO_DP_LIST_MAX)
        max = KUMO_DP_LIST_MAX;
    struct stg_meta m;
    int ok;
    enum MHD_Result found = stg__dp_find_upload(r, &m, &ok);
    if (!ok)
        return found;
    struct stg_part *parts = NULL;
    size_t n = 0;
    int truncated = 0;
    enum stg_err e = stg_mpu_list(r->ctx->store, r->upload_id, r->key, (int)marker, (int)max,
                                  &parts, &n, &truncated);
    if (e != STG_OK) {
        stg_meta_clear(&m);
        return stg__dp_error(r, e, NULL, NULL);
    }
    struct kumo_buf b = KUMO_BUF_INIT;
    parts_xml(r, &m, marker, max, parts, n, truncated, &b);
    kumo_free(parts);
    stg_meta_clear(&m);
    enum MHD_Result out = stg__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}

/* ---- ListObjectsV2 ---- */

/* What one credential may list. The data port has one key pair, kumo's
 * own (kumo-documents signs every URL with it), which may read every
 * object of the bucket: its allowed prefix is the whole key space, whose
 * keys all lie under "t/<tenant>/". A listing never names anything else
 * (uploads in progress, the store's own files). */
static const char *allowed_prefix(const struct dp_req *r)
{
    (void)r;
    return "";
}

/* A continuation token: "k" + the last key returned, or "p" + the last
 * common prefix, base64url. */
static void make_token(char kind, const char *s, struct kumo_buf *out)
{
    struct kumo_buf raw = KUMO_BUF_INIT;
    kumo_buf_append_byte(&raw, (uint8_t)kind);
    kumo_buf_append_str(&raw, s);
    kumo_base64_encode(raw.data, raw.len, 1, 0, out);
    kumo_buf_free(&raw);
}

static int parse_token(const char *tok, char *kind, struct kumo_buf *out)
{
    if (kumo_base64_decode(tok, strlen(tok), out) != 0 || out->len < 1 ||
        out->len > STG_KEY_MAX + 1 || (out->data[0] != 'k' && out->data[0] != 'p') ||
        memchr(out->data, '\0', out->len) != NULL)
        return -1;
    *kind = (char)out->data[0];
    kumo_buf_append_byte(out, 0);
    return 0;
}

static void list_text(struct kumo_buf *b, const char *name, const char *text, int url)
{
    if (!url) {
        stg__dp_xml_elem(b, name, text);
        return;
    }
    struct kumo_buf e = KUMO_BUF_INIT;
    kumo_sigv4_uri_encode(text, strlen(text), 1, &e);
    kumo_buf_append_str(&e, "");
    stg__dp_xml_elem(b, name, (const char *)e.data);
    kumo_buf_free(&e);
}

struct list_params {
    const char *prefix, *delim, *start_after, *token;
    int64_t max;
    int url;
};

static enum MHD_Result list_params(struct dp_req *r, struct list_params *lp, int *ok)
{
    *ok = 0;
    const struct dp_param *p;
    lp->prefix = (p = stg__dp_param(r, "prefix")) ? p->value : "";
    lp->delim = (p = stg__dp_param(r, "delimiter")) ? p->value : "";
    lp->start_after = (p = stg__dp_param(r, "start-after")) ? p->value : "";
    lp->token = (p = stg__dp_param(r, "continuation-token")) ? p->value : NULL;
    p = stg__dp_param(r, "encoding-type");
    if (p && strcmp(p->value, "url") != 0)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "Invalid Encoding Method specified in Request", NULL);
    lp->url = p != NULL;
    if (int_param(r, "max-keys", KUMO_DP_LIST_MAX, INT32_MAX, &lp->max) != 0)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "Provided max-keys not an integer or within integer range", NULL);
    if (lp->max > KUMO_DP_LIST_MAX)
        lp->max = KUMO_DP_LIST_MAX;
    if (strlen(lp->prefix) > STG_KEY_MAX || strlen(lp->delim) > STG_KEY_MAX ||
        strlen(lp->start_after) > STG_KEY_MAX)
        return stg__dp_error(r, STG_E_KEY_TOO_LONG, NULL, NULL);
    *ok = 1;
    return MHD_YES;
}

/* The common prefix of key under lp (prefix + up to the first delimiter
 * after it, inclusive) into cp; 0 if the key has none. */
static int common_prefix(const struct list_params *lp, const char *key, struct kumo_buf *cp)
{
    size_t plen = strlen(lp->prefix), dlen = strlen(lp->delim);
    if (dlen == 0)
        return 0;
    const char *d = strstr(key + plen, lp->delim);
    if (d == NULL)
        return 0;
    cp->len = 0;
    kumo_buf_append(cp, key, (size_t)(d - key) + dlen);
    kumo_buf_append_byte(cp, 0);
    return 1;
}

enum MHD_Result stg__dp_list_objects(struct dp_req *r)
{
    struct list_params lp;
    int ok;
    enum MHD_Result out = list_params(r, &lp, &ok);
    if (!ok)
        return out;
    char kind = 'k';
    struct kumo_buf tok = KUMO_BUF_INIT;
    if (lp.token && parse_token(lp.token, &kind, &tok) != 0) {
        kumo_buf_free(&tok);
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "The continuation token provided is incorrect", NULL);
    }
    const char *marker = lp.token ? (const char *)tok.data + 1 : lp.start_after;
    const char *allowed = allowed_prefix(r);
    /* Never more than the credential may see: the listing's prefix is the
     * longer of the two when one extends the other, else nothing. */
    int visible = strncmp(lp.prefix, allowed, strlen(allowed)) == 0 ||
                  strncmp(allowed, lp.prefix, strlen(lp.prefix)) == 0;
    const char *scan = strlen(allowed) > strlen(lp.prefix) ? allowed : lp.prefix;
    struct stg_list_entry *all = NULL;
    size_t n = 0;
    enum stg_err e = visible ? stg_object_list(r->ctx->store, scan, &all, &n) : STG_OK;
    if (e != STG_OK) {
        kumo_buf_free(&tok);
        return stg__dp_error(r, e, NULL, NULL);
    }
    struct kumo_buf items = KUMO_BUF_INIT, cp = KUMO_BUF_INIT, last_cp = KUMO_BUF_INIT,
                    next = KUMO_BUF_INIT;
    int64_t count = 0;
    int truncated = 0;
    size_t mlen = strlen(marker);
    for (size_t i = 0; i < n; i++) {
        const char *key = all[i].key;
        if (strcmp(key, marker) <= 0 || (kind == 'p' && strncmp(key, marker, mlen) == 0))
            continue;
        int has_cp = common_prefix(&lp, key, &cp);
        if (has_cp && last_cp.len && strcmp((const char *)cp.data, (const char *)last_cp.data) == 0)
            continue;
        if (count == lp.max) {
            truncated = 1;
            break;
        }
        count++;
        next.len = 0;
        if (has_cp) {
            kumo_buf_append_str(&items, "<CommonPrefixes>");
            list_text(&items, "Prefix", (const char *)cp.data, lp.url);
            kumo_buf_append_str(&items, "</CommonPrefixes>");
            last_cp.len = 0;
            kumo_buf_append(&last_cp, cp.data, cp.len);
            make_token('p', (const char *)cp.data, &next);
            continue;
        }
        char date[32];
        stg_iso_date(all[i].mtime_ms, date);
        kumo_buf_append_str(&items, "<Contents>");
        list_text(&items, "Key", key, lp.url);
        kumo_buf_appendf(&items,
                         "<LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                         "<Size>%lld</Size><StorageClass>%s</StorageClass>",
                         date, all[i].etag, (long long)all[i].size,
                         stg_class_name(all[i].storage_class));
        if (all[i].ck_alg != STG_CK_NONE)
            kumo_buf_appendf(&items, "<ChecksumAlgorithm>%s</ChecksumAlgorithm>",
                             stg_ck_name(all[i].ck_alg));
        kumo_buf_append_str(&items, "</Contents>");
        make_token('k', key, &next);
    }
    stg_list_free(all, n);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_append_str(&b, KUMO_DP_XML_HEAD "<ListBucketResult" KUMO_DP_S3_NS ">");
    stg__dp_xml_elem(&b, "Name", r->ctx->s.bucket);
    list_text(&b, "Prefix", lp.prefix, lp.url);
    if (lp.delim[0])
        list_text(&b, "Delimiter", lp.delim, lp.url);
    if (lp.url)
        stg__dp_xml_elem(&b, "EncodingType", "url");
    if (lp.start_after[0])
        list_text(&b, "StartAfter", lp.start_after, lp.url);
    if (lp.token)
        stg__dp_xml_elem(&b, "ContinuationToken", lp.token);
    kumo_buf_appendf(&b, "<KeyCount>%lld</KeyCount><MaxKeys>%lld</MaxKeys>", (long long)count,
                     (long long)lp.max);
    kumo_buf_appendf(&b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (truncated) {
        kumo_buf_append_str(&next, "");
        stg__dp_xml_elem(&b, "NextContinuationToken", (const char *)next.data);
    }
    if (items.len)
        kumo_buf_append(&b, items.data, items.len);
    kumo_buf_append_str(&b, "</ListBucketResult>");
    out = stg__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    kumo_buf_free(&items);
    kumo_buf_free(&cp);
    kumo_buf_free(&last_cp);
    kumo_buf_free(&next);
    kumo_buf_free(&tok);
    return out;
}
