/* storage path: the data port's hand-written decoders reachable without
 * starting it. stg__dp_decode_path (the key in the request target) must
 * match a straightforward reference decoder, never write past `cap` and
 * always NUL-terminate; stg_etag_parse (part ETags from XML) accepts
 * exactly 32 hex digits, optionally quoted; stg_unhex inverts stg_hex.
 * Input: byte 0 picks the output capacity, the rest is the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "dataport/dataport.h"
#include "storage.h"

static int ref_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes without a capacity: the length, or -1 for a bad escape. */
static long ref_decode(const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        if (len - i < 3 || ref_hex(in[i + 1]) < 0 || ref_hex(in[i + 2]) < 0)
            return -1;
        out[o++] = (char)(ref_hex(in[i + 1]) << 4 | ref_hex(in[i + 2]));
        i += 2;
    }
    return (long)o;
}

static void check_decode(const char *in, size_t len, size_t cap)
{
    /* Exact-size heap buffers so ASan sees any write past cap. */
    char *out = kumo_malloc(cap);
    char *ref = kumo_malloc(len + 1);
    long n = stg__dp_decode_path(in, len, out, cap);
    long want = ref_decode(in, len, ref);
    if (n >= 0) {
        if (n != want || (size_t)n >= cap || out[n] != '\0' || memcmp(out, ref, (size_t)n) != 0)
            abort();
    } else if (n == -2) {
        /* Too long is only said of text that decodes (as far as it goes)
         * to cap bytes or more; a bad escape later may not be seen. */
        if (want >= 0 && (size_t)want < cap)
            abort();
    } else if (n == -1) {
        if (want != -1)
            abort();
    } else {
        abort();
    }
    kumo_free(out);
    kumo_free(ref);
}

static void check_etag(const char *in, size_t len)
{
    char s[128];
    if (len >= sizeof s)
        return;
    memcpy(s, in, len);
    s[len] = '\0';
    size_t sl = strlen(s);
    char out[33];
    if (stg_etag_parse(s, out) != 0)
        return;
    const char *hex = s;
    if (sl == 34) {
        if (s[0] != '"' || s[33] != '"')
            abort();
        hex = s + 1;
    } else if (sl != 32) {
        abort();
    }
    if (out[32] != '\0')
        abort();
    for (size_t i = 0; i < 32; i++) {
        char c = hex[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (out[i] != c || ref_hex(out[i]) < 0 || (out[i] >= 'A' && out[i] <= 'F'))
            abort();
    }
}

static void check_unhex(const char *in, size_t len)
{
    uint8_t bin[64];
    if (len % 2 != 0 || len / 2 > sizeof bin)
        return;
    if (kumo_hex_decode(in, len, bin, len / 2) != 0)
        return;
    char back[129];
    kumo_hex_encode(bin, len / 2, back);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (back[i] != c)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    /* Capacities around the key limit matter most; small ones hit -2. */
    size_t cap = data[0] < 200 ? (size_t)data[0] + 1 : STG_KEY_MAX + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    check_decode(in, len, cap);
    check_etag(in, len);
    check_unhex(in, len);
    return 0;
}
