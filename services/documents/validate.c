/* Validation of request fields. Each docs_check_* answers invalid_argument
 * naming the field; the docs_*_valid functions are the pure rules (fuzzed
 * by tests/fuzz/fuzz_documents_validate.c). */
#include <string.h>

#include "base/validate.h"
#include "documents.h"
#include "http/token.h"

#define MAX_BYTES(chars) ((chars)*4)

int docs_content_type_valid(const char *s, size_t len, const char **why)
{
    *why = "must be type/subtype with optional ;name=value parameters";
    if (len > DOCS_CONTENT_TYPE_MAX) {
        *why = "is longer than 255 characters";
        return -1;
    }
    size_t i = kumo_http_token_len(s, len);
    if (i == 0 || i >= len || s[i] != '/')
        return -1;
    size_t j = kumo_http_token_len(s + i + 1, len - i - 1);
    if (j == 0)
        return -1;
    i += 1 + j;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= len || s[i] != ';')
            return -1;
        i++;
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t n = kumo_http_token_len(s + i, len - i);
        if (n == 0 || i + n >= len || s[i + n] != '=')
            return -1;
        i += n + 1;
        size_t v = kumo_http_token_len(s + i, len - i);
        if (v == 0)
            v = kumo_http_quoted_len(s + i, len - i, 0); /* no obs-text */
        if (v == 0)
            return -1;
        i += v;
    }
    return 0;
}

int docs_file_name_valid(const char *s, size_t len, const char **why)
{
    if (kumo_text_check(s, len, DOCS_FILE_NAME_MAX_CHARS, MAX_BYTES(DOCS_FILE_NAME_MAX_CHARS), 0,
                        why) != 0)
        return -1;
    if (memchr(s, '/', len) || memchr(s, '\\', len)) {
        *why = "must not contain '/' or '\\'";
        return -1;
    }
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
        *why = "must not be \".\" or \"..\"";
        return -1;
    }
    return 0;
}

int docs_tag_valid(const char *s, size_t len, const char **why)
{
    if (kumo_text_check(s, len, DOCS_TAG_MAX_CHARS, MAX_BYTES(DOCS_TAG_MAX_CHARS), 0, why) != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ' || s[i] == '\t') {
            *why = "must not contain blanks";
            return -1;
        }
    }
    return 0;
}

kumo_code docs_check_file_name(struct kumo_rpc_call *call, const char *field, const char *s)
{
    const char *why;
    if (docs_file_name_valid(s, strlen(s), &why) != 0)
        return kumo_rpc_invalid(call, field, why);
    return KUMO_CODE_OK;
}

kumo_code docs_check_title(struct kumo_rpc_call *call, const char *field, const char *s)
{
    const char *why;
    if (kumo_text_check(s, strlen(s), DOCS_TITLE_MAX_CHARS, MAX_BYTES(DOCS_TITLE_MAX_CHARS), 0,
                        &why) != 0)
        return kumo_rpc_invalid(call, field, why);
    return KUMO_CODE_OK;
}

kumo_code docs_check_description(struct kumo_rpc_call *call, const char *field, const char *s)
{
    const char *why;
    if (kumo_text_check(s, strlen(s), DOCS_DESCRIPTION_MAX_CHARS,
                        MAX_BYTES(DOCS_DESCRIPTION_MAX_CHARS),
                        KUMO_TEXT_ALLOW_EMPTY | KUMO_TEXT_MULTILINE, &why) != 0)
        return kumo_rpc_invalid(call, field, why);
    return KUMO_CODE_OK;
}

kumo_code docs_check_content_type(struct kumo_rpc_call *call, const char *field, const char *s)
{
    const char *why;
    if (docs_content_type_valid(s, strlen(s), &why) != 0)
        return kumo_rpc_invalid(call, field, why);
    return KUMO_CODE_OK;
}

kumo_code docs_check_sha256(struct kumo_rpc_call *call, const char *field, ProtobufCBinaryData b)
{
    if (b.len != 0 && b.len != 32)
        return kumo_rpc_invalid(call, field, "must be empty or 32 bytes");
    return KUMO_CODE_OK;
}

kumo_code docs_check_size(struct kumo_rpc_call *call, const struct docs_settings *s,
                          const char *field, int64_t size)
{
    if (size < 0)
        return kumo_rpc_invalid(call, field, "must not be negative");
    if (size > s->max_document_size)
        return kumo_rpc_invalid(call, field, "exceeds the largest document size");
    return KUMO_CODE_OK;
}

kumo_code docs_check_tags(struct kumo_rpc_call *call, const char *field, char **tags, size_t n,
                          struct kumo_buf *text)
{
    if (n > DOCS_TAGS_MAX)
        return kumo_rpc_invalid(call, field, "holds more than 50 tags");
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (docs_tag_valid(tags[i], strlen(tags[i]), &why) != 0)
            return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "%s[%zu] %s", field, i,
                                       why);
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[i], tags[j]) == 0)
                return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT,
                                           "%s[%zu] repeats a tag", field, i);
        if (i)
            kumo_buf_append_byte(text, ' ');
        kumo_buf_append_str(text, tags[i]);
    }
    return KUMO_CODE_OK;
}

kumo_code docs_check_metadata(struct kumo_rpc_call *call, const char *field,
                              const Google__Protobuf__Struct *m, struct kumo_buf *json)
{
    if (docs_metadata_json(m, json) != 0)
        return kumo_rpc_invalid(call, field, "cannot be represented as JSON");
    if (json->len > DOCS_METADATA_MAX)
        return kumo_rpc_invalid(call, field, "is larger than 64 KiB as JSON");
    if (json->len && !kumo_utf8_valid((const char *)json->data, json->len))
        return kumo_rpc_invalid(call, field, "is not valid UTF-8");
    return KUMO_CODE_OK;
}
