/* Object metadata: the sidecar JSON the local backend keeps next to each
 * object (and each multipart upload), the archive/restore state machine
 * (computed from timestamps, so no background job is needed), and the time
 * and hex helpers shared by the service. */
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "../storage.h"

#define META_VERSION 1

void stg_meta_init(struct stg_meta *m)
{
    memset(m, 0, sizeof *m);
    m->storage_class = STG_CLASS_STANDARD;
}

void stg_meta_clear(struct stg_meta *m)
{
    for (size_t i = 0; i < m->n_hdrs; i++) {
        kumo_free(m->hdrs[i].name);
        kumo_free(m->hdrs[i].value);
    }
    kumo_free(m->hdrs);
    m->hdrs = NULL;
    m->n_hdrs = 0;
}

void stg_meta_add_hdr(struct stg_meta *m, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    m->hdrs = kumo_realloc(m->hdrs, (m->n_hdrs + 1) * sizeof *m->hdrs);
    char *n = kumo_strndup(name, nlen);
    for (char *p = n; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    m->hdrs[m->n_hdrs].name = n;
    m->hdrs[m->n_hdrs].value = kumo_strndup(value, vlen);
    m->n_hdrs++;
}

void stg_meta_copy(struct stg_meta *dst, const struct stg_meta *src)
{
    memcpy(dst, src, sizeof *dst);
    dst->hdrs = NULL;
    dst->n_hdrs = 0;
    for (size_t i = 0; i < src->n_hdrs; i++)
        stg_meta_add_hdr(dst, src->hdrs[i].name, strlen(src->hdrs[i].name), src->hdrs[i].value,
                         strlen(src->hdrs[i].value));
}

/* ---- names ---- */

const char *stg_class_name(enum stg_class c)
{
    switch (c) {
    case STG_CLASS_STANDARD:
        return "STANDARD";
    case STG_CLASS_GLACIER:
        return "GLACIER";
    case STG_CLASS_DEEP_ARCHIVE:
        return "DEEP_ARCHIVE";
    default:
        return NULL;
    }
}

enum stg_class stg_class_parse(const char *s, size_t len)
{
    for (int c = STG_CLASS_STANDARD; c <= STG_CLASS_DEEP_ARCHIVE; c++) {
        const char *n = stg_class_name((enum stg_class)c);
        if (strlen(n) == len && memcmp(n, s, len) == 0)
            return (enum stg_class)c;
    }
    return STG_CLASS_UNSPECIFIED;
}

const char *stg_tier_name(enum stg_tier t)
{
    switch (t) {
    case STG_TIER_EXPEDITED:
        return "Expedited";
    case STG_TIER_BULK:
        return "Bulk";
    default:
        return "Standard";
    }
}

static enum stg_tier tier_parse(const char *s)
{
    if (s && strcmp(s, "Expedited") == 0)
        return STG_TIER_EXPEDITED;
    if (s && strcmp(s, "Bulk") == 0)
        return STG_TIER_BULK;
    return STG_TIER_STANDARD;
}

/* ---- restore state ---- */

static int archived(enum stg_class c)
{
    return c == STG_CLASS_GLACIER || c == STG_CLASS_DEEP_ARCHIVE;
}

enum stg_restore_state stg_meta_restore_state(const struct stg_meta *m, int64_t now_ms)
{
    if (!archived(m->storage_class))
        return STG_RESTORE_NONE;
    if (m->restore_ready_ms == 0)
        return STG_RESTORE_ARCHIVED;
    if (now_ms < m->restore_ready_ms)
        return STG_RESTORE_IN_PROGRESS;
    if (now_ms < m->restore_expire_ms)
        return STG_RESTORE_RESTORED;
    return STG_RESTORE_ARCHIVED;
}

int stg_meta_readable(const struct stg_meta *m, int64_t now_ms)
{
    enum stg_restore_state r = stg_meta_restore_state(m, now_ms);
    return r == STG_RESTORE_NONE || r == STG_RESTORE_RESTORED;
}

/* ---- time ---- */

int64_t stg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies at most 31 bytes and a NUL: the dates here are 24-29 bytes for
 * any year the clock can hold in four digits. */
static void copy_bounded(char out[32], const char *s)
{
    size_t n = strlen(s);
    if (n > 31)
        n = 31;
    memcpy(out, s, n);
    out[n] = '\0';
}

void stg_http_date(int64_t ms, char out[32])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    copy_bounded(out, tmp);
}

void stg_iso_date(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    copy_bounded(out, tmp);
}

/* ---- sidecar JSON ---- */

void stg_meta_encode(const struct stg_meta *m, struct kumo_buf *out)
{
    char sha[65];
    kumo_hex_encode(m->sha256, 32, sha);
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(META_VERSION));
    json_object_set_new(o, "key", json_string(m->key));
    json_object_set_new(o, "gen", json_string(m->gen));
    json_object_set_new(o, "size", json_integer(m->size));
    json_object_set_new(o, "etag", json_string(m->etag));
    json_object_set_new(o, "sha256", json_string(sha));
    json_object_set_new(o, "content_type", json_string(m->content_type));
    const char *cls = stg_class_name(m->storage_class);
    json_object_set_new(o, "class", json_string(cls ? cls : "STANDARD"));
    json_object_set_new(o, "parts", json_integer(m->parts));
    json_object_set_new(o, "mtime_ms", json_integer(m->mtime_ms));
    if (m->restore_ready_ms) {
        json_t *r = json_object();
        json_object_set_new(r, "tier", json_string(stg_tier_name(m->restore_tier)));
        json_object_set_new(r, "ready_ms", json_integer(m->restore_ready_ms));
        json_object_set_new(r, "expire_ms", json_integer(m->restore_expire_ms));
        json_object_set_new(o, "restore", r);
    }
    if (m->ck_alg != STG_CK_NONE) {
        json_t *c = json_object();
        json_object_set_new(c, "alg", json_string(stg_ck_name(m->ck_alg)));
        json_object_set_new(
            c, "type", json_string(m->ck_type == STG_CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT"));
        json_object_set_new(c, "value", json_string(m->ck_value));
        json_object_set_new(o, "checksum", c);
    }
    json_t *h = json_array();
    for (size_t i = 0; i < m->n_hdrs; i++)
        json_array_append_new(h, json_pack("[ss]", m->hdrs[i].name, m->hdrs[i].value));
    json_object_set_new(o, "headers", h);
    char *text = json_dumps(o, JSON_COMPACT);
    kumo_buf_append_str(out, text);
    free(text);
    json_decref(o);
}

static int copy_str(json_t *o, const char *name, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (s == NULL || strlen(s) >= cap)
        return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int64_t get_int(json_t *o, const char *name, int *ok)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        *ok = 0;
        return 0;
    }
    return json_integer_value(v);
}

static int decode_restore(json_t *o, struct stg_meta *m)
{
    json_t *r = json_object_get(o, "restore");
    if (r == NULL)
        return 0;
    int ok = 1;
    m->restore_tier = tier_parse(json_string_value(json_object_get(r, "tier")));
    m->restore_ready_ms = get_int(r, "ready_ms", &ok);
    m->restore_expire_ms = get_int(r, "expire_ms", &ok);
    return ok ? 0 : -1;
}

/* The optional "checksum" object: {"alg", "type", "value"}. */
static int decode_checksum(json_t *o, struct stg_meta *m)
{
    json_t *c = json_object_get(o, "checksum");
    if (c == NULL)
        return 0;
    const char *alg = json_string_value(json_object_get(c, "alg"));
    const char *type = json_string_value(json_object_get(c, "type"));
    if (alg == NULL || type == NULL)
        return -1;
    m->ck_alg = stg_ck_parse(alg, strlen(alg));
    if (m->ck_alg == STG_CK_NONE)
        return -1;
    if (strcmp(type, "COMPOSITE") == 0)
        m->ck_type = STG_CK_COMPOSITE;
    else if (strcmp(type, "FULL_OBJECT") == 0)
        m->ck_type = STG_CK_FULL_OBJECT;
    else
        return -1;
    return copy_str(c, "value", m->ck_value, sizeof m->ck_value);
}

static int decode_headers(json_t *o, struct stg_meta *m)
{
    json_t *h = json_object_get(o, "headers");
    size_t i;
    json_t *pair;
    if (h == NULL)
        return 0;
    if (!json_is_array(h) || json_array_size(h) > STG_MAX_STORED_HDRS)
        return -1;
    json_array_foreach(h, i, pair)
    {
        const char *n = json_string_value(json_array_get(pair, 0));
        const char *v = json_string_value(json_array_get(pair, 1));
        if (n == NULL || v == NULL)
            return -1;
        stg_meta_add_hdr(m, n, strlen(n), v, strlen(v));
    }
    return 0;
}

static int decode_fields(json_t *o, struct stg_meta *m)
{
    char sha[65], cls[32];
    int ok = 1;
    if (json_integer_value(json_object_get(o, "v")) != META_VERSION)
        return -1;
    if (copy_str(o, "key", m->key, sizeof m->key) || copy_str(o, "gen", m->gen, sizeof m->gen) ||
        copy_str(o, "etag", m->etag, sizeof m->etag) || copy_str(o, "sha256", sha, sizeof sha) ||
        copy_str(o, "content_type", m->content_type, sizeof m->content_type) ||
        copy_str(o, "class", cls, sizeof cls))
        return -1;
    if (kumo_hex_decode(sha, strlen(sha), m->sha256, 32) != 0)
        return -1;
    m->storage_class = stg_class_parse(cls, strlen(cls));
    if (m->storage_class == STG_CLASS_UNSPECIFIED)
        return -1;
    m->size = get_int(o, "size", &ok);
    int64_t parts = get_int(o, "parts", &ok);
    if (parts < 0 || parts > STG_PARTS_MAX)
        return -1; /* checked before the cast: a corrupted count must not wrap */
    m->parts = (int)parts;
    m->mtime_ms = get_int(o, "mtime_ms", &ok);
    if (!ok || decode_restore(o, m) != 0 || decode_checksum(o, m) != 0 || decode_headers(o, m) != 0)
        return -1;
    return 0;
}

int stg_meta_decode(const char *json, size_t len, struct stg_meta *m)
{
    json_error_t err;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    stg_meta_init(m);
    int rc = json_is_object(o) ? decode_fields(o, m) : -1;
    json_decref(o);
    if (rc != 0) {
        stg_meta_clear(m);
        return KUMO_ERR_INVALID;
    }
    return 0;
}
