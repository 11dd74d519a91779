/* Proto messages <-> the REST JSON of the API. Requests are built as
 * proto3 JSON (jansson) and decoded by common/json_codec, which validates
 * every field; responses are encoded by it and reshaped to the API's
 * conventions: snake_case keys, short lowercase enum names ("active"),
 * SHA-256 in hex, sizes as numbers. Free-form metadata is left untouched. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "bff.h"
#include "codec/json_codec.h"

ProtobufCMessage *bff_proto_from_json(struct bff_ctx *c, const ProtobufCMessageDescriptor *desc,
                                      json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s) {
        bff_error(c, 400, "invalid_argument", "invalid request");
        return NULL;
    }
    ProtobufCMessage *m = NULL;
    char *err = NULL;
    int rc = kumo_json_decode(desc, s, strlen(s), kumo_arena_allocator(c->arena), &m, &err);
    free(s);
    if (rc != 0) {
        bff_error(c, 400, "invalid_argument", err ? err : "invalid request");
        kumo_free(err);
        return NULL;
    }
    return m;
}

static const char *const enum_prefixes[] = {
    "DOCUMENT_STATUS_",
    "RESTORE_STATE_",
    "RESTORE_TIER_",
    "VERSION_STATUS_",
    "EXTRACTION_STATE_",
    "UPLOAD_METHOD_",
    "DOCUMENT_ORDER_",
    "ROLE_",
    NULL,
};

static json_t *short_enum(const char *s)
{
    for (const char *const *p = enum_prefixes; *p; p++) {
        size_t n = strlen(*p);
        if (strncmp(s, *p, n) != 0 || s[n] == '\0')
            continue;
        const char *rest = s + n;
        size_t len = strlen(rest);
        char *low = kumo_malloc(len + 1);
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)rest[i];
            if (!(isupper(ch) || isdigit(ch) || ch == '_')) {
                kumo_free(low);
                return NULL;
            }
            low[i] = (char)tolower(ch);
        }
        low[len] = '\0';
        json_t *v = json_string(low);
        kumo_free(low);
        return v;
    }
    return NULL;
}

static char *snake(const char *k)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    for (const char *p = k; *p; p++) {
        if (isupper((unsigned char)*p)) {
            kumo_buf_append_byte(&b, '_');
            kumo_buf_append_byte(&b, (uint8_t)tolower((unsigned char)*p));
        } else {
            kumo_buf_append_byte(&b, (uint8_t)*p);
        }
    }
    return kumo_buf_steal(&b, NULL);
}

static json_t *b64_to_hex(const char *s)
{
    struct kumo_buf raw = KUMO_BUF_INIT;
    if (kumo_base64_decode(s, strlen(s), &raw) != 0) {
        kumo_buf_free(&raw);
        return json_string(s);
    }
    struct kumo_buf hex = KUMO_BUF_INIT;
    for (size_t i = 0; i < raw.len; i++)
        kumo_buf_appendf(&hex, "%02x", raw.data[i]);
    json_t *v = json_string(hex.data ? (const char *)hex.data : "");
    kumo_buf_free(&raw);
    kumo_buf_free(&hex);
    return v;
}

static int is_digits(const char *s)
{
    if (!*s || strlen(s) > 18)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static json_t *reshape(json_t *v);

static json_t *reshape_value(const char *key, json_t *v)
{
    if (strcmp(key, "metadata") == 0 || strcmp(key, "details") == 0)
        return json_incref(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(key, "sha256") == 0)
            return b64_to_hex(s);
        if ((strcmp(key, "size") == 0 || strcmp(key, "partSize") == 0) && is_digits(s))
            return json_integer(strtoll(s, NULL, 10));
        static const char *const enum_keys[] = {"status",          "state", "tier", "method",
                                                "extractionState", "role",  NULL};
        for (const char *const *k = enum_keys; *k; k++) {
            if (strcmp(key, *k) == 0) {
                json_t *e = short_enum(s);
                return e ? e : json_incref(v);
            }
        }
        return json_incref(v);
    }
    return reshape(v);
}

static json_t *reshape(json_t *v)
{
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val)
        {
            char *k = snake(key);
            json_object_set_new(out, k, reshape_value(key, val));
            kumo_free(k);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *val;
        json_array_foreach(v, i, val)
        {
            json_array_append_new(out, reshape(val));
        }
        return out;
    }
    return json_incref(v);
}

json_t *bff_proto_to_json(const ProtobufCMessage *m)
{
    if (!m)
        return json_object();
    struct kumo_buf b = KUMO_BUF_INIT;
    if (kumo_json_encode(m, &b) != 0) {
        kumo_buf_free(&b);
        return json_object();
    }
    json_t *raw = json_loadb((const char *)b.data, b.len, 0, NULL);
    kumo_buf_free(&b);
    if (!raw)
        return json_object();
    json_t *out = reshape(raw);
    json_decref(raw);
    return out;
}
