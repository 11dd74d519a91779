/* Object keys of versions' uploads back to (tenant, document, version):
 * the inverse of docs_version_key, for object events. Written by hand: a
 * fixed, small grammar (fuzzed: tests/fuzz/fuzz_documents_event_key.c). */
#include <string.h>

#include "events.h"

static int id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Reads an id from key[*pos..len) up to the next '/', into out. */
static int take_id(const char *key, size_t len, size_t *pos, char out[DOCS_ID_MAX])
{
    size_t s = *pos;
    while (*pos < len && key[*pos] != '/') {
        if (!id_char(key[*pos]))
            return -1;
        (*pos)++;
    }
    size_t n = *pos - s;
    if (n == 0 || n >= DOCS_ID_MAX || *pos >= len)
        return -1;
    memcpy(out, key + s, n);
    out[n] = '\0';
    (*pos)++; /* the '/' */
    return 0;
}

/* Reads "t/<tenant>/d/<document>/" and sets *pos just past it. */
static int doc_prefix(const char *key, size_t len, char tenant[DOCS_ID_MAX], char doc[DOCS_ID_MAX],
                      size_t *pos)
{
    *pos = 2;
    if (len < 2 || key[0] != 't' || key[1] != '/' || take_id(key, len, pos, tenant) != 0)
        return -1;
    if (*pos + 2 > len || key[*pos] != 'd' || key[*pos + 1] != '/')
        return -1;
    *pos += 2;
    return take_id(key, len, pos, doc);
}

int docs_event_key_doc(const char *key, size_t len, char tenant[DOCS_ID_MAX], char doc[DOCS_ID_MAX])
{
    size_t pos;
    return doc_prefix(key, len, tenant, doc, &pos);
}

int docs_event_key_parse(const char *key, size_t len, char tenant[DOCS_ID_MAX],
                         char doc[DOCS_ID_MAX], int64_t *version)
{
    size_t pos;
    if (doc_prefix(key, len, tenant, doc, &pos) != 0 || pos >= len || key[pos] != 'v')
        return -1;
    pos++;
    size_t digits = len - pos;
    if (digits == 0 || digits > 10 || key[pos] == '0')
        return -1;
    int64_t v = 0;
    for (; pos < len; pos++) {
        if (key[pos] < '0' || key[pos] > '9')
            return -1;
        v = v * 10 + (key[pos] - '0');
    }
    if (v > INT32_MAX)
        return -1;
    *version = v;
    return 0;
}
