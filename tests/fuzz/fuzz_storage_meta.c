/* storage meta: the sidecar parser must take any corrupted file without
 * crashing or leaking, and whatever it accepts must survive a round trip:
 * encode then decode gives the same values, and encoding is stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

static void same_meta(const struct stg_meta *a, const struct stg_meta *b)
{
    if (strcmp(a->key, b->key) != 0 || strcmp(a->gen, b->gen) != 0 || a->size != b->size ||
        strcmp(a->etag, b->etag) != 0 || memcmp(a->sha256, b->sha256, 32) != 0 ||
        strcmp(a->content_type, b->content_type) != 0 || a->storage_class != b->storage_class ||
        a->parts != b->parts || a->mtime_ms != b->mtime_ms ||
        a->restore_ready_ms != b->restore_ready_ms || a->n_hdrs != b->n_hdrs)
        abort();
    /* The restore block is only written when a restore was ever asked. */
    if (a->restore_ready_ms != 0 &&
        (a->restore_tier != b->restore_tier || a->restore_expire_ms != b->restore_expire_ms))
        abort();
    for (size_t i = 0; i < a->n_hdrs; i++)
        if (strcmp(a->hdrs[i].name, b->hdrs[i].name) != 0 ||
            strcmp(a->hdrs[i].value, b->hdrs[i].value) != 0)
            abort();
}

static void check_decoded(const struct stg_meta *m)
{
    if (strlen(m->key) > STG_KEY_MAX || strlen(m->gen) > STG_GEN_LEN ||
        strlen(m->etag) >= STG_ETAG_MAX || strlen(m->content_type) > STG_CONTENT_TYPE_MAX)
        abort();
    if (stg_class_name(m->storage_class) == NULL)
        abort();
    /* Negative counts and times are refused on decode, so none may come
     * out of it (a wrapped "parts" would, and would not re-decode). */
    if (m->size < 0 || m->parts < 0 || m->mtime_ms < 0 || m->restore_ready_ms < 0 ||
        m->restore_expire_ms < 0)
        abort();
    if (m->n_hdrs > STG_MAX_STORED_HDRS)
        abort();
    for (size_t i = 0; i < m->n_hdrs; i++)
        for (const char *p = m->hdrs[i].name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort();
    /* The state machine takes any decoded timestamps. */
    int64_t probes[] = {0, m->restore_ready_ms, m->restore_expire_ms, INT64_MAX};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        enum stg_restore_state s = stg_meta_restore_state(m, probes[i]);
        if (s > STG_RESTORE_RESTORED)
            abort();
        if (stg_meta_readable(m, probes[i]) != (s == STG_RESTORE_NONE || s == STG_RESTORE_RESTORED))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > STG_META_FILE_MAX)
        return 0; /* the store refuses larger sidecars before parsing */
    struct stg_meta m;
    if (stg_meta_decode((const char *)data, size, &m) != 0) {
        if (m.hdrs != NULL || m.n_hdrs != 0)
            abort();
        return 0;
    }
    check_decoded(&m);

    struct kumo_buf enc = KUMO_BUF_INIT;
    stg_meta_encode(&m, &enc);
    struct stg_meta again;
    if (stg_meta_decode((const char *)enc.data, enc.len, &again) != 0)
        abort();
    same_meta(&m, &again);

    struct kumo_buf enc2 = KUMO_BUF_INIT;
    stg_meta_encode(&again, &enc2);
    if (enc.len != enc2.len || memcmp(enc.data, enc2.data, enc.len) != 0)
        abort();

    struct stg_meta copy;
    stg_meta_copy(&copy, &m);
    same_meta(&m, &copy);

    stg_meta_clear(&copy);
    stg_meta_clear(&again);
    stg_meta_clear(&m);
    kumo_buf_free(&enc);
    kumo_buf_free(&enc2);
    return 0;
}
