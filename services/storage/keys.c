/* Object keys, upload ids and bucket names: what is accepted and why.
 *
 * Keys never become file names in the local backend (objects are stored
 * under the SHA-256 of their key), so these rules are not what keeps writes
 * inside the data root; they keep keys unambiguous for every consumer (S3,
 * browsers, URL normalisers that would fold "a/../b") and give clients a
 * clear error instead of a surprising object. */
#include <arpa/inet.h>
#include <string.h>

#include "storage.h"
#include "base/validate.h"

/* The segment "t" then the tenant then at least one more segment. */
#define KEY_PREFIX     "t/"
#define KEY_PREFIX_LEN 2

static int segment_ok(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "must not contain empty segments (\"//\", or a leading or trailing '/')";
        return 0;
    }
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
        *why = "must not contain \".\" or \"..\" segments";
        return 0;
    }
    return 1;
}

static int tenant_ok(const char *s, size_t len)
{
    if (len == 0 || len > STG_TENANT_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static enum stg_err check_segments(const char *key, size_t len, const char **why)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && key[i] != '/')
            continue;
        if (!segment_ok(key + start, i - start, why))
            return STG_E_INVALID_ARGUMENT;
        start = i + 1;
    }
    return STG_OK;
}

enum stg_err stg_key_check(const char *key, size_t len, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    if (key == NULL || len == 0) {
        *why = "must not be empty";
        return STG_E_INVALID_ARGUMENT;
    }
    if (len > STG_KEY_MAX) {
        *why = "is longer than 1024 bytes";
        return STG_E_KEY_TOO_LONG;
    }
    if (memchr(key, '\0', len) != NULL) {
        *why = "must not contain NUL";
        return STG_E_INVALID_ARGUMENT;
    }
    const char *text_why = NULL;
    if (kumo_text_check(key, len, STG_KEY_MAX, STG_KEY_MAX, 0, &text_why) != 0) {
        *why = text_why ? text_why : "is not valid UTF-8 text";
        return STG_E_INVALID_ARGUMENT;
    }
    if (key[0] == '/') {
        *why = "must not start with '/'";
        return STG_E_INVALID_ARGUMENT;
    }
    if (memchr(key, '\\', len) != NULL) {
        *why = "must not contain '\\'";
        return STG_E_INVALID_ARGUMENT;
    }
    if (check_segments(key, len, why) != STG_OK)
        return STG_E_INVALID_ARGUMENT;
    if (len <= KEY_PREFIX_LEN || memcmp(key, KEY_PREFIX, KEY_PREFIX_LEN) != 0) {
        *why = "must have the form t/<tenant id>/<name>";
        return STG_E_INVALID_ARGUMENT;
    }
    const char *tid = key + KEY_PREFIX_LEN;
    const char *slash = memchr(tid, '/', len - KEY_PREFIX_LEN);
    if (slash == NULL || !tenant_ok(tid, (size_t)(slash - tid))) {
        *why = "must have the form t/<tenant id>/<name>";
        return STG_E_INVALID_ARGUMENT;
    }
    return STG_OK;
}

void stg_key_tenant(const char *key, const char **tid, size_t *tid_len)
{
    const char *p = key + KEY_PREFIX_LEN;
    const char *slash = strchr(p, '/');
    *tid = p;
    *tid_len = slash ? (size_t)(slash - p) : strlen(p);
}

int stg_key_in_tenant(const char *key, const char *tid)
{
    const char *k_tid;
    size_t k_len;
    if (key == NULL || tid == NULL || strncmp(key, KEY_PREFIX, KEY_PREFIX_LEN) != 0)
        return 0;
    stg_key_tenant(key, &k_tid, &k_len);
    return k_len == strlen(tid) && memcmp(k_tid, tid, k_len) == 0;
}

int stg_upload_id_valid(const char *id, size_t len)
{
    if (id == NULL || len != STG_UPLOAD_ID_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

static int bucket_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static int alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int stg_bucket_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 3 || n > 63 || !alnum_lower(name[0]) || !alnum_lower(name[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!bucket_char(name[i]) || (name[i] == '.' && name[i + 1] == '.'))
            return 0;
    unsigned char addr[4];
    return inet_pton(AF_INET, name, addr) != 1;
}

int stg_content_type_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > STG_CONTENT_TYPE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}
