/* storage keys: whatever stg_key_check accepts is a key every consumer can
 * take literally (no NUL, no leading '/', no empty, "." or ".." segment, no
 * backslash, "t/<tenant>/<name>" with a printable tenant), and the tenant
 * helpers agree with it. The other small validators of keys.c (upload ids,
 * bucket names, content types) are checked against their contracts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

static void check_segments(const char *k, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && k[i] != '/')
            continue;
        size_t n = i - start;
        if (n == 0)
            abort();
        if (n == 1 && k[start] == '.')
            abort();
        if (n == 2 && k[start] == '.' && k[start + 1] == '.')
            abort();
        start = i + 1;
    }
}

static void check_key(const char *data, size_t size)
{
    const char *why = NULL;
    enum stg_err e = stg_key_check(data, size, &why);
    if (e != STG_OK) {
        if (why == NULL || (e != STG_E_INVALID_ARGUMENT && e != STG_E_KEY_TOO_LONG))
            abort();
        if (e == STG_E_KEY_TOO_LONG && size <= STG_KEY_MAX)
            abort();
        return;
    }
    if (size == 0 || size > STG_KEY_MAX || memchr(data, '\0', size) || data[0] == '/' ||
        memchr(data, '\\', size))
        abort();
    for (size_t i = 0; i < size; i++)
        if ((unsigned char)data[i] < 0x20 || (unsigned char)data[i] == 0x7f)
            abort();
    check_segments(data, size);
    if (size < 4 || memcmp(data, "t/", 2) != 0)
        abort();

    /* The helpers take the NUL-terminated form the service keeps. */
    char key[STG_KEY_MAX + 1];
    memcpy(key, data, size);
    key[size] = '\0';
    const char *tid;
    size_t tid_len;
    stg_key_tenant(key, &tid, &tid_len);
    if (tid != key + 2 || tid_len == 0 || tid_len > STG_TENANT_MAX || 2 + tid_len >= size ||
        key[2 + tid_len] != '/')
        abort();
    for (size_t i = 0; i < tid_len; i++)
        if ((unsigned char)tid[i] <= 0x20 || (unsigned char)tid[i] >= 0x7f)
            abort();
    char t[STG_TENANT_MAX + 2];
    memcpy(t, tid, tid_len);
    t[tid_len] = '\0';
    if (stg_key_in_tenant(key, t) != 1)
        abort();
    /* A tenant that is a prefix of the real one does not own the key. */
    if (tid_len > 1) {
        t[tid_len - 1] = '\0';
        if (stg_key_in_tenant(key, t) != 0)
            abort();
    }
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void check_small(const char *data, size_t size)
{
    if (stg_upload_id_valid(data, size)) {
        if (size != STG_UPLOAD_ID_LEN)
            abort();
        for (size_t i = 0; i < size; i++)
            if (!is_lower_hex(data[i]))
                abort();
    }
    if (stg_content_type_valid(data, size)) {
        if (size == 0 || size > STG_CONTENT_TYPE_MAX)
            abort();
        for (size_t i = 0; i < size; i++)
            if ((unsigned char)data[i] < 0x20 || (unsigned char)data[i] >= 0x7f)
                abort();
    }
    if (size < 128) {
        char name[128];
        memcpy(name, data, size);
        name[size] = '\0';
        if (stg_bucket_name_valid(name)) {
            size_t n = strlen(name);
            if (n < 3 || n > 63 || strstr(name, "..") != NULL)
                abort();
            for (size_t i = 0; i < n; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
                      name[i] == '.' || name[i] == '-'))
                    abort();
        }
    }
    enum stg_class c = stg_class_parse(data, size);
    if (c != STG_CLASS_UNSPECIFIED) {
        const char *n = stg_class_name(c);
        if (n == NULL || strlen(n) != size || memcmp(n, data, size) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_key((const char *)data, size);
    check_small((const char *)data, size);
    return 0;
}
