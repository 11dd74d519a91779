/* AWS Signature Version 4, the building blocks: URI and query encoding,
 * canonical headers and request, the signing key and signature (see
 * sigv4.h). The signer and the verifier both build on these; botocore
 * vectors pin them to AWS's definition. */
#include "base/hex.h"
#include "aws/sigv4.h"
#include "aws/sigv4_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/alloc.h"
#include "base/calendar.h"
#include "base/errors.h"
#include "base/pctenc.h"

/* ---- small string helpers ---- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int kumo__sigv4_is_hex64(const char *s, size_t len)
{
    if (len != 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* ---- building blocks ---- */

void kumo_sigv4_uri_encode(const char *in, size_t len, int keep_slash, struct kumo_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    kumo_buf_reserve(out, len * 3);
    uint8_t *p = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            *p++ = c;
        } else {
            *p++ = '%';
            *p++ = (uint8_t)hex[c >> 4];
            *p++ = (uint8_t)hex[c & 15];
        }
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
}

void kumo_sigv4_sha256_hex(const void *data, size_t len, char out[KUMO_SIGV4_HEX_SIZE])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    kumo_hex_encode(md, sizeof md, out);
}

int kumo_sigv4_format_date(time_t t, char out[KUMO_SIGV4_DATE_SIZE])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 0 || tm.tm_year > 8099)
        return KUMO_ERR_INVALID;
    if (strftime(out, KUMO_SIGV4_DATE_SIZE, "%Y%m%dT%H%M%SZ", &tm) != KUMO_SIGV4_DATE_SIZE - 1)
        return KUMO_ERR_INVALID;
    return 0;
}

int kumo__sigv4_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int kumo_sigv4_parse_date(const char *s, size_t len, time_t *out)
{
    int y, mo, d, h, mi, se;
    if (len != KUMO_SIGV4_DATE_SIZE - 1 || s[8] != 'T' || s[15] != 'Z')
        return KUMO_ERR_INVALID;
    if (kumo__sigv4_digits(s, 4, &y) || kumo__sigv4_digits(s + 4, 2, &mo) ||
        kumo__sigv4_digits(s + 6, 2, &d) || kumo__sigv4_digits(s + 9, 2, &h) ||
        kumo__sigv4_digits(s + 11, 2, &mi) || kumo__sigv4_digits(s + 13, 2, &se))
        return KUMO_ERR_INVALID;
    int64_t t;
    if (kumo_utc_seconds(y, mo, d, h, mi, se, &t) != 0)
        return KUMO_ERR_INVALID;
    *out = (time_t)t;
    return 0;
}

static void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n);
}

void kumo_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                            const char *service, uint8_t out[32])
{
    struct kumo_buf k = KUMO_BUF_INIT;
    uint8_t a[32], b[32];
    kumo_buf_append_str(&k, "AWS4");
    kumo_buf_append_str(&k, secret);
    hmac_sha256(k.data, k.len, date8, strlen(date8), a);
    hmac_sha256(a, 32, region, strlen(region), b);
    hmac_sha256(b, 32, service, strlen(service), a);
    hmac_sha256(a, 32, TERMINAL, strlen(TERMINAL), out);
    OPENSSL_cleanse(k.data, k.cap);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    kumo_buf_free(&k);
}

/* One path segment, for normalisation. */
struct seg {
    const char *p;
    size_t len;
};

/* RFC 3986 remove_dot_segments plus the removal of empty segments, as AWS
 * (and botocore) normalise paths for every service but S3. */
static void normalize_path(const char *p, size_t len, struct kumo_buf *out)
{
    struct seg *segs = kumo_malloc(sizeof *segs * (len / 2 + 1));
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (n > 0)
                n--;
        } else if (sl > 0 && !(sl == 1 && p[i] == '.')) {
            segs[n].p = p + i;
            segs[n++].len = sl;
        }
        i = j + 1;
    }
    if (p[0] == '/')
        kumo_buf_append_byte(out, '/');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            kumo_buf_append_byte(out, '/');
        kumo_buf_append(out, segs[i].p, segs[i].len);
    }
    if (p[len - 1] == '/' && n > 0)
        kumo_buf_append_byte(out, '/');
    kumo_free(segs);
}

void kumo_sigv4_canonical_uri(const char *wire_path, size_t len, enum kumo_sigv4_flavor flavor,
                              struct kumo_buf *out)
{
    if (len == 0) {
        kumo_buf_append_byte(out, '/');
        return;
    }
    if (flavor == KUMO_SIGV4_S3) {
        kumo_buf_append(out, wire_path, len);
        return;
    }
    struct kumo_buf norm = KUMO_BUF_INIT;
    normalize_path(wire_path, len, &norm);
    if (norm.len == 0)
        kumo_buf_append_byte(&norm, '/');
    kumo_sigv4_uri_encode((const char *)norm.data, norm.len, 1, out);
    kumo_buf_free(&norm);
}

/* ---- canonical query ---- */

void kumo__sigv4_qlist_push_encoded(struct qlist *l, const char *k, size_t kl, const char *v,
                                    size_t vl)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = kumo_realloc(l->v, l->cap * sizeof *l->v);
    }
    struct qpair *q = &l->v[l->n++];
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_sigv4_uri_encode(k, kl, 0, &b);
    q->k = kumo_buf_steal(&b, &q->kl);
    kumo_sigv4_uri_encode(v, vl, 0, &b);
    q->v = kumo_buf_steal(&b, &q->vl);
}

void kumo__sigv4_qlist_free(struct qlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        kumo_free(l->v[i].k);
        /* values can hold a session token */
        OPENSSL_cleanse(l->v[i].v, l->v[i].vl);
        kumo_free(l->v[i].v);
    }
    kumo_free(l->v);
    memset(l, 0, sizeof *l);
}

int kumo__sigv4_bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c;
    return al < bl ? -1 : (al > bl ? 1 : 0);
}

static int qpair_cmp(const void *pa, const void *pb)
{
    const struct qpair *a = pa, *b = pb;
    int c = kumo__sigv4_bytes_cmp(a->k, a->kl, b->k, b->kl);
    return c != 0 ? c : kumo__sigv4_bytes_cmp(a->v, a->vl, b->v, b->vl);
}

static void append_pair(struct kumo_buf *out, const struct qpair *q, int first)
{
    if (!first)
        kumo_buf_append_byte(out, '&');
    kumo_buf_append(out, q->k, q->kl);
    kumo_buf_append_byte(out, '=');
    kumo_buf_append(out, q->v, q->vl);
}

/* Appends the pairs in their current order ("k=v&k=v"). */
void kumo__sigv4_qlist_join(const struct qlist *l, struct kumo_buf *out)
{
    for (size_t i = 0; i < l->n; i++)
        append_pair(out, &l->v[i], i == 0);
}

/* Appends the canonical (sorted) query; does not reorder `l`. */
void kumo__sigv4_qlist_canonical(const struct qlist *l, struct kumo_buf *out)
{
    if (l->n == 0)
        return;
    struct qpair *sorted = kumo_malloc(l->n * sizeof *sorted);
    memcpy(sorted, l->v, l->n * sizeof *sorted);
    qsort(sorted, l->n, sizeof *sorted, qpair_cmp);
    for (size_t i = 0; i < l->n; i++)
        append_pair(out, &sorted[i], i == 0);
    kumo_free(sorted);
}

/* ---- canonical headers ---- */

/* Appends a header value trimmed, with runs of spaces and tabs folded. */
void kumo__sigv4_append_folded(struct kumo_buf *out, const char *v, size_t len)
{
    size_t i = 0;
    while (i < len && is_space_tab(v[i]))
        i++;
    while (len > i && is_space_tab(v[len - 1]))
        len--;
    int in_space = 0;
    for (; i < len; i++) {
        if (is_space_tab(v[i])) {
            in_space = 1;
            continue;
        }
        if (in_space)
            kumo_buf_append_byte(out, ' ');
        in_space = 0;
        kumo_buf_append_byte(out, (uint8_t)v[i]);
    }
}

void kumo__sigv4_hlist_push(struct hlist *l, const char *name, size_t nl, const char *value,
                            size_t vl)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = kumo_realloc(l->v, l->cap * sizeof *l->v);
    }
    struct hdr *h = &l->v[l->n];
    h->name = kumo_malloc(nl + 1);
    for (size_t i = 0; i < nl; i++)
        h->name[i] = (char)lower((unsigned char)name[i]);
    h->name[nl] = '\0';
    h->name_len = nl;
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo__sigv4_append_folded(&b, value, vl);
    h->value = kumo_buf_steal(&b, &h->value_len);
    h->order = l->n++;
}

void kumo__sigv4_hlist_free(struct hlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        kumo_free(l->v[i].name);
        OPENSSL_cleanse(l->v[i].value, l->v[i].value_len);
        kumo_free(l->v[i].value);
    }
    kumo_free(l->v);
    memset(l, 0, sizeof *l);
}

static int hdr_cmp(const void *pa, const void *pb)
{
    const struct hdr *a = pa, *b = pb;
    int c = kumo__sigv4_bytes_cmp(a->name, a->name_len, b->name, b->name_len);
    if (c != 0)
        return c;
    return a->order < b->order ? -1 : (a->order > b->order ? 1 : 0);
}

/* Sorts `l` and appends "name:v1,v2\n" per distinct name to `canon` and the
 * names joined by ';' to `signed_names`. */
void kumo__sigv4_hlist_canonical(struct hlist *l, struct kumo_buf *canon,
                                 struct kumo_buf *signed_names)
{
    qsort(l->v, l->n, sizeof *l->v, hdr_cmp);
    for (size_t i = 0; i < l->n; i++) {
        const struct hdr *h = &l->v[i];
        int same = i > 0 && kumo__sigv4_bytes_cmp(h->name, h->name_len, l->v[i - 1].name,
                                                  l->v[i - 1].name_len) == 0;
        if (same) {
            kumo_buf_append_byte(canon, ',');
        } else {
            if (i > 0)
                kumo_buf_append_byte(canon, '\n');
            kumo_buf_append(canon, h->name, h->name_len);
            kumo_buf_append_byte(canon, ':');
            if (signed_names->len > 0)
                kumo_buf_append_byte(signed_names, ';');
            kumo_buf_append(signed_names, h->name, h->name_len);
        }
        kumo_buf_append(canon, h->value, h->value_len);
    }
    if (l->n > 0)
        kumo_buf_append_byte(canon, '\n');
}

/* ---- canonical request, string to sign, signature ---- */

void kumo__sigv4_canonical_request(const struct canon_parts *c, struct kumo_buf *out)
{
    kumo_buf_append(out, c->method, c->method_len);
    kumo_buf_append_byte(out, '\n');
    kumo_buf_append_str(out, buf_cstr(c->uri));
    kumo_buf_append_byte(out, '\n');
    kumo_buf_append_str(out, buf_cstr(c->query));
    kumo_buf_append_byte(out, '\n');
    kumo_buf_append_str(out, buf_cstr(c->headers));
    kumo_buf_append_byte(out, '\n');
    kumo_buf_append_str(out, c->signed_headers);
    kumo_buf_append_byte(out, '\n');
    kumo_buf_append_str(out, c->payload_hash);
}

void kumo__sigv4_scope_string(const char *amz_date, const char *region, const char *service,
                              struct kumo_buf *out)
{
    kumo_buf_appendf(out, "%.8s/%s/%s/" TERMINAL, amz_date, region, service);
}

/* Computes string to sign (appended to `sts`), signing key and hex
 * signature of a canonical request. */
void kumo__sigv4_sign_canonical(const char *secret, const char *amz_date, const char *region,
                                const char *service, const struct kumo_buf *canonical,
                                struct kumo_buf *sts, uint8_t key[32],
                                char sig[KUMO_SIGV4_HEX_SIZE])
{
    char date8[9], hash[KUMO_SIGV4_HEX_SIZE];
    uint8_t mac[32];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    kumo_sigv4_sha256_hex(buf_cstr(canonical), canonical->len, hash);
    kumo_buf_append_str(sts, KUMO_SIGV4_ALGORITHM "\n");
    kumo_buf_append_str(sts, amz_date);
    kumo_buf_append_byte(sts, '\n');
    kumo__sigv4_scope_string(amz_date, region, service, sts);
    kumo_buf_append_byte(sts, '\n');
    kumo_buf_append_str(sts, hash);
    kumo_sigv4_signing_key(secret, date8, region, service, key);
    hmac_sha256(key, 32, sts->data, sts->len, mac);
    kumo_hex_encode(mac, sizeof mac, sig);
}
