/* Private to common/aws/: what the SigV4 signer (sigv4_sign.c) and verifier
 * (sigv4_verify.c) share with the canonical-request code
 * (sigv4_canonical.c), so that what kumo signs is by construction what it
 * verifies. Not for use outside this folder. */
#ifndef KUMO_AWS_SIGV4_INTERNAL_H
#define KUMO_AWS_SIGV4_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"

#define TERMINAL "aws4_request"

/* RFC 7230 tchar: what a header name may hold. */
static inline int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive (ASCII) equality of a[0..alen) and the string b. */
static inline int ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

static inline int eq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

static inline int is_space_tab(char c)
{
    return c == ' ' || c == '\t';
}

static inline const char *buf_cstr(const struct kumo_buf *b)
{
    return b->data ? (const char *)b->data : "";
}

/* An encoded query pair, owned. */
struct qpair {
    char *k;
    size_t kl;
    char *v;
    size_t vl;
};

struct qlist {
    struct qpair *v;
    size_t n, cap;
};

/* A header to sign: lowercased name, folded value, original position. */
struct hdr {
    char *name;
    size_t name_len;
    char *value;
    size_t value_len;
    size_t order;
};

struct hlist {
    struct hdr *v;
    size_t n, cap;
};

struct canon_parts {
    const char *method;
    size_t method_len;
    const struct kumo_buf *uri;
    const struct kumo_buf *query;
    const struct kumo_buf *headers; /* "name:value\n" lines */
    const char *signed_headers;
    const char *payload_hash;
};

/* Whether s[0..len) is 64 hex digits (either case). */
int kumo__sigv4_is_hex64(const char *s, size_t len);

/* Parses exactly n ASCII digits at s into *out; 0, or -1 on anything else. */
int kumo__sigv4_digits(const char *s, size_t n, int *out);

/* Appends a copy of the already-encoded pair k=v to `l`. */
void kumo__sigv4_qlist_push_encoded(struct qlist *l, const char *k, size_t kl, const char *v,
                                    size_t vl);

/* Frees the pairs of `l` and its array. */
void kumo__sigv4_qlist_free(struct qlist *l);

/* Byte-wise comparison of a[0..al) and b[0..bl), shorter first on a tie. */
int kumo__sigv4_bytes_cmp(const char *a, size_t al, const char *b, size_t bl);

/* Appends the pairs in their current order ("k=v&k=v"). */
void kumo__sigv4_qlist_join(const struct qlist *l, struct kumo_buf *out);

/* Appends the canonical (sorted) query; does not reorder `l`. */
void kumo__sigv4_qlist_canonical(const struct qlist *l, struct kumo_buf *out);

/* Appends a header value trimmed, with runs of spaces and tabs folded. */
void kumo__sigv4_append_folded(struct kumo_buf *out, const char *v, size_t len);

/* Appends a copy of the header name: value to `l` (order kept for ties). */
void kumo__sigv4_hlist_push(struct hlist *l, const char *name, size_t nl, const char *value,
                            size_t vl);

/* Frees the headers of `l` and its array. */
void kumo__sigv4_hlist_free(struct hlist *l);

/* Sorts `l` and appends "name:v1,v2\n" per distinct name to `canon` and the
 * names joined by ';' to `signed_names`. */
void kumo__sigv4_hlist_canonical(struct hlist *l, struct kumo_buf *canon,
                                 struct kumo_buf *signed_names);

/* Writes SigV4's canonical request of `c`. */
void kumo__sigv4_canonical_request(const struct canon_parts *c, struct kumo_buf *out);

/* Writes the credential scope date8/region/service/aws4_request. */
void kumo__sigv4_scope_string(const char *amz_date, const char *region, const char *service,
                              struct kumo_buf *out);

/* Computes string to sign (appended to `sts`), signing key and hex
 * signature of a canonical request. */
void kumo__sigv4_sign_canonical(const char *secret, const char *amz_date, const char *region,
                                const char *service, const struct kumo_buf *canonical,
                                struct kumo_buf *sts, uint8_t key[32],
                                char sig[KUMO_SIGV4_HEX_SIZE]);

#endif
