/* CopyObject of the data port: x-amz-copy-source within the caller's
 * prefix, the metadata directive, the storage class of the copy. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "dataport.h"
#include "runtime/log.h"

/* Decodes x-amz-copy-source ("[/]bucket/key", URL-encoded) into src. */
static enum MHD_Result copy_source(struct dp_req *r, char *src, size_t cap, int *ok)
{
    *ok = 0;
    const char *h = stg__dp_header(r, "x-amz-copy-source");
    if (*h == '/')
        h++;
    if (strchr(h, '?'))
        return stg__dp_error(r, STG_E_NOT_IMPLEMENTED, "Object versions are not supported.", NULL);
    size_t blen = strlen(r->ctx->s.bucket);
    if (strncmp(h, r->ctx->s.bucket, blen) != 0 || h[blen] != '/')
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "The copy source must be an object of this bucket.", NULL);
    long n = stg__dp_decode_path(h + blen + 1, strlen(h + blen + 1), src, cap);
    const char *why = NULL;
    if (n < 0 || (size_t)n != strlen(src) || stg_key_check(src, (size_t)n, &why) != STG_OK)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT, "The copy source key is not valid.", NULL);
    *ok = 1;
    return MHD_YES;
}

static const char *const copy_conditions[] = {
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-copy-source-range",
};

enum MHD_Result stg__dp_copy_object(struct dp_req *r)
{
    for (size_t i = 0; i < sizeof copy_conditions / sizeof copy_conditions[0]; i++)
        if (stg__dp_header(r, copy_conditions[i]))
            return stg__dp_error(r, STG_E_NOT_IMPLEMENTED,
                                 "Conditional and ranged copies are not supported.", NULL);
    char src[STG_KEY_MAX + 1];
    int ok;
    enum MHD_Result out = copy_source(r, src, sizeof src, &ok);
    if (!ok)
        return out;
    const char *dir = stg__dp_header(r, "x-amz-metadata-directive");
    int replace = dir && strcmp(dir, "REPLACE") == 0;
    if (dir && !replace && strcmp(dir, "COPY") != 0)
        return stg__dp_error(r, STG_E_INVALID_ARGUMENT,
                             "x-amz-metadata-directive must be COPY or REPLACE.", NULL);
    if (strcmp(src, r->key) == 0 && !replace && !stg__dp_header(r, "x-amz-storage-class"))
        return stg__dp_error(r, STG_E_INVALID_REQUEST,
                             "This copy request is illegal because it is trying to copy an "
                             "object to itself without changing the object's metadata, storage "
                             "class, website redirect location or encryption attributes.",
                             NULL);
    out = stg__dp_object_settings(r, &ok); /* class, and the REPLACE settings */
    if (!ok)
        return out;
    struct stg_meta m;
    enum stg_err e = stg_object_copy(r->ctx->store, src, r->key, r->meta.storage_class,
                                     replace ? &r->meta : NULL, stg_now_ms(), &m);
    if (e != STG_OK)
        return stg__dp_error(r, e, NULL, NULL);
    char date[32];
    stg_iso_date(m.mtime_ms, date);
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_appendf(&b,
                     KUMO_DP_XML_HEAD "<CopyObjectResult" KUMO_DP_S3_NS
                                      "><LastModified>%s</LastModified>"
                                      "<ETag>&quot;%s&quot;</ETag></CopyObjectResult>",
                     date, m.etag);
    stg_meta_clear(&m);
    out = stg__dp_xml(r, 200, &b);
    kumo_buf_free(&b);
    return out;
}
