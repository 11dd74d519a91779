/* common/text: n-gram tokens, query splitting and snippets never crash,
 * leak or read out of bounds on any bytes; tokens are whole ("c" + 10 hex
 * digits or the break), the boolean text holds only tokens, quotes, '+'
 * and spaces, and snippet marks lie inside the snippet, in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/validate.h"
#include "text/ngram.h"
#include "text/snippet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte splits the input: a query, then a text. */
    if (size == 0)
        return 0;
    size_t qlen = data[0] % 64;
    if (qlen > size - 1)
        qlen = size - 1;
    const char *qs = (const char *)data + 1, *text = qs + qlen;
    size_t tlen = size - 1 - qlen;

    struct kumo_buf b = KUMO_BUF_INIT;
    size_t n = kumo_text_ngrams(text, tlen, 4096, &b);
    if (b.len > 4096 || (n == 0 && b.len != 0))
        abort();
    for (size_t i = 0; i < b.len; i++) {
        char c = (char)b.data[i];
        if (!(c == ' ' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
            abort();
    }
    kumo_buf_free(&b);

    struct kumo_text_query q;
    kumo_text_query_parse(qs, qlen, &q);
    for (size_t i = 0; i < q.ngram.len; i++) {
        char c = (char)q.ngram.data[i];
        if (!(c == ' ' || c == '+' || c == '"' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
            abort();
    }
    if (!kumo_utf8_valid((const char *)q.words.data, q.words.len))
        abort();
    struct kumo_buf out = KUMO_BUF_INIT;
    struct kumo_text_mark m[8];
    size_t nm;
    if (kumo_text_snippet(text, tlen, &q, 40, &out, m, 8, &nm)) {
        if (!kumo_utf8_valid((const char *)out.data, out.len))
            abort();
        size_t chars = kumo_utf8_count((const char *)out.data, out.len);
        for (size_t i = 0; i < nm; i++)
            if (m[i].start >= m[i].end || m[i].end > chars || (i && m[i].start < m[i - 1].end))
                abort();
    } else if (out.len != 0 || nm != 0) {
        abort();
    }
    kumo_buf_free(&out);
    kumo_text_query_free(&q);
    return 0;
}
