#include "base/base64.h"

#include "base/errors.h"

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t kumo_base64_encoded_len(size_t len, int pad)
{
    size_t full = len / 3 * 4;
    size_t rest = len % 3;
    if (rest == 0)
        return full;
    return full + (pad ? 4 : rest + 1);
}

int kumo_base64_encode(const uint8_t *in, size_t len, int url, int pad, struct kumo_buf *out)
{
    const char *abc = url ? url_alphabet : std_alphabet;
    size_t n = kumo_base64_encoded_len(len, pad);
    kumo_buf_reserve(out, n);
    char *p = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *p++ = abc[v >> 18];
        *p++ = abc[(v >> 12) & 63];
        *p++ = abc[(v >> 6) & 63];
        *p++ = abc[v & 63];
    }
    size_t rest = len - i;
    if (rest) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (rest == 2)
            v |= (uint32_t)in[i + 1] << 8;
        *p++ = abc[v >> 18];
        *p++ = abc[(v >> 12) & 63];
        if (rest == 2)
            *p++ = abc[(v >> 6) & 63];
        else if (pad)
            *p++ = '=';
        if (pad)
            *p++ = '=';
    }
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

/* Value of a base64 character in either alphabet, or -1. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Strips correct padding: returns the number of data characters, or
 * (size_t)-1 if the padding is malformed. */
static size_t unpadded_len(const char *in, size_t len)
{
    size_t pads = 0;
    while (pads < len && pads < 3 && in[len - 1 - pads] == '=')
        pads++;
    if (pads == 0)
        return len;
    /* Padded input is whole quanta, and '=' only stands for 1 or 2 missing
     * characters of the last one. */
    if (len % 4 != 0 || pads > 2)
        return (size_t)-1;
    return len - pads;
}

int kumo_base64_decode(const char *in, size_t len, struct kumo_buf *out)
{
    size_t n = unpadded_len(in, len);
    if (n == (size_t)-1 || n % 4 == 1)
        return KUMO_ERR_INVALID;
    size_t out_len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    kumo_buf_reserve(out, out_len);
    uint8_t *p = out->data + out->len;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = sextet((unsigned char)in[i]);
        if (v < 0) {
            out->data[out->len] = '\0';
            return KUMO_ERR_INVALID;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *p++ = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    out->len += out_len;
    out->data[out->len] = '\0';
    return 0;
}
