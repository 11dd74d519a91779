#include "base/hex.h"
#include "base/pctenc.h"

#include "base/errors.h"

static const char hex_upper[] = "0123456789ABCDEF";

static int needs_escape(unsigned char c)
{
    return c < 0x20 || c > 0x7E || c == '%';
}

void kumo_pct_encode(const char *in, size_t len, struct kumo_buf *out)
{
    /* Worst case triples the size; reserving it up front keeps the loop
     * free of reallocation checks. Messages are short. */
    kumo_buf_reserve(out, len * 3);
    uint8_t *p = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (needs_escape(c)) {
            *p++ = '%';
            *p++ = (uint8_t)hex_upper[c >> 4];
            *p++ = (uint8_t)hex_upper[c & 15];
        } else {
            *p++ = c;
        }
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
}

/* Decodes the "%XX" at in[i] (in[i] == '%'); returns the byte or -1. */
static int escape_at(const char *in, size_t len, size_t i)
{
    if (len - i < 3)
        return -1;
    int hi = kumo_hex_digit((unsigned char)in[i + 1]);
    int lo = kumo_hex_digit((unsigned char)in[i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi << 4 | lo;
}

void kumo_pct_decode(const char *in, size_t len, struct kumo_buf *out)
{
    kumo_buf_reserve(out, len);
    uint8_t *p = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        int b = in[i] == '%' ? escape_at(in, len, i) : -1;
        if (b >= 0) {
            *p++ = (uint8_t)b;
            i += 2;
        } else {
            *p++ = (uint8_t)in[i];
        }
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
}

int kumo_url_query_decode(const char *in, size_t len, struct kumo_buf *out)
{
    kumo_buf_reserve(out, len);
    uint8_t *p = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            int b = escape_at(in, len, i);
            if (b < 0) {
                out->data[out->len] = '\0';
                return KUMO_ERR_INVALID;
            }
            *p++ = (uint8_t)b;
            i += 2;
        } else {
            *p++ = c == '+' ? ' ' : (uint8_t)c;
        }
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}
