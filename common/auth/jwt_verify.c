/* Verifying ES256 access tokens: every service, every request. The order of
 * checks is documented in jwt.h; the token never picks the algorithm or the
 * key material, and the payload is parsed only after its signature holds. */
#include "auth/jwt_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <strings.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "base/secret.h"

/* Same bound as the signer: keeps claim arithmetic far from overflow. */
#define TIME_MAX ((int64_t)1 << 40)
/* Base64url length of a 64-byte signature. */
#define SIG_B64_LEN 86
/* Longest DER encoding of a P-256 ECDSA signature (2 x (2 + 33) + 2). */
#define SIG_DER_MAX 72

struct kumo_jwt_verifier {
    char *issuer;
    size_t issuer_len;
    char *audience;
    size_t audience_len;
    int64_t leeway_s;
    int64_t max_ttl_s;
    pthread_mutex_t lock; /* guards `keys` (the pointer, not the set) */
    struct kumo_jwt_keyset *keys;
};

int kumo_jwt_verifier_new(struct kumo_jwt_verifier **out, const struct kumo_jwt_verify_opts *o,
                          struct kumo_jwt_keyset *keys)
{
    if (out == NULL || o == NULL || o->issuer == NULL || o->issuer[0] == '\0' ||
        o->audience == NULL || o->audience[0] == '\0' || o->leeway_s < 0 ||
        o->leeway_s > KUMO_JWT_LEEWAY_MAX || o->max_ttl_s < 1 ||
        o->max_ttl_s > KUMO_JWT_MAX_TTL_MAX) {
        kumo__jwt_keyset_release(keys);
        return KUMO_ERR_INVALID;
    }
    struct kumo_jwt_verifier *v = kumo_calloc(1, sizeof *v);
    v->issuer = kumo_strdup(o->issuer);
    v->issuer_len = strlen(o->issuer);
    v->audience = kumo_strdup(o->audience);
    v->audience_len = strlen(o->audience);
    v->leeway_s = o->leeway_s;
    v->max_ttl_s = o->max_ttl_s;
    pthread_mutex_init(&v->lock, NULL);
    v->keys = keys;
    *out = v;
    return 0;
}

void kumo_jwt_verifier_set_keys(struct kumo_jwt_verifier *v, struct kumo_jwt_keyset *keys)
{
    pthread_mutex_lock(&v->lock);
    struct kumo_jwt_keyset *old = v->keys;
    v->keys = keys;
    pthread_mutex_unlock(&v->lock);
    kumo__jwt_keyset_release(old);
}

/* Returns the current keyset with a reference held, or NULL. */
static struct kumo_jwt_keyset *acquire_keys(struct kumo_jwt_verifier *v)
{
    pthread_mutex_lock(&v->lock);
    struct kumo_jwt_keyset *ks = v->keys;
    kumo__jwt_keyset_retain(ks);
    pthread_mutex_unlock(&v->lock);
    return ks;
}

void kumo_jwt_verifier_free(struct kumo_jwt_verifier *v)
{
    if (v == NULL) {
        return;
    }
    kumo__jwt_keyset_release(v->keys);
    pthread_mutex_destroy(&v->lock);
    kumo_free(v->issuer);
    kumo_free(v->audience);
    kumo_free(v);
}

/* ---- parsing helpers ---------------------------------------------------------- */

/* The three segments of a compact JWS. */
struct segments {
    const char *h, *p, *s;
    size_t hl, pl, sl;
};

/* Splits on '.', requiring exactly three segments with non-empty header and
 * payload. The signature may be empty here: its length is checked after the
 * header, so "alg":"none" tokens are reported as an alg problem. */
static int split(const char *t, size_t len, struct segments *seg)
{
    const char *d1 = memchr(t, '.', len);
    if (d1 == NULL) {
        return KUMO_JWT_ERR_MALFORMED;
    }
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t));
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)) != NULL) {
        return KUMO_JWT_ERR_MALFORMED;
    }
    seg->h = t;
    seg->hl = (size_t)(d1 - t);
    seg->p = d1 + 1;
    seg->pl = (size_t)(d2 - seg->p);
    seg->s = d2 + 1;
    seg->sl = len - (size_t)(seg->s - t);
    return seg->hl == 0 || seg->pl == 0 ? KUMO_JWT_ERR_MALFORMED : 0;
}

/* Parses decoded bytes as a JSON object that has no duplicate member
 * names. Returns the object or NULL. */
static json_t *parse_object(const struct kumo_buf *b)
{
    json_error_t err;
    json_t *o = json_loadb((const char *)b->data, b->len, JSON_REJECT_DUPLICATES, &err);
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Decodes a base64url segment strictly and parses it as above. */
static json_t *segment_json(const char *s, size_t len)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    json_t *o = NULL;
    if (kumo_secret_b64url_decode(s, len, &b) == 0 && b.len > 0) {
        o = parse_object(&b);
    }
    kumo_buf_free(&b);
    return o;
}

/* Returns 1 if `v` is a JSON string of exactly want[0..len). */
static int json_str_is(json_t *v, const char *want, size_t len)
{
    return json_is_string(v) && json_string_length(v) == len &&
           memcmp(json_string_value(v), want, len) == 0;
}

/* ---- header ----------------------------------------------------------------------- */

/* Checks the header and selects the key. */
static int check_header(json_t *hdr, const struct kumo_jwt_keyset *ks,
                        const struct kumo__jwt_pubkey **key)
{
    /* alg first and exactly: "none", "HS256", "ES384", "es256"... all stop
     * here whatever else the header says. */
    if (!json_str_is(json_object_get(hdr, "alg"), "ES256", 5)) {
        return KUMO_JWT_ERR_ALG;
    }
    const char *name;
    json_t *val;
    json_object_foreach(hdr, name, val)
    {
        /* jku, jwk, x5u, x5c (keys chosen by the token) and crit
         * (extensions we do not implement) are all refused. */
        if (strcmp(name, "alg") != 0 && strcmp(name, "typ") != 0 && strcmp(name, "kid") != 0) {
            return KUMO_JWT_ERR_HEADER;
        }
    }
    json_t *typ = json_object_get(hdr, "typ");
    if (typ != NULL && !json_str_is(typ, "JWT", 3)) {
        return KUMO_JWT_ERR_HEADER;
    }
    json_t *kid = json_object_get(hdr, "kid");
    if (!json_is_string(kid)) {
        return KUMO_JWT_ERR_KID;
    }
    /* A lookup by exact comparison among a handful of known ids: the value
     * is never a path, a query parameter or a log field. */
    *key = kumo__jwt_keyset_find(ks, json_string_value(kid), json_string_length(kid));
    return *key == NULL ? KUMO_JWT_ERR_KID : 0;
}

/* ---- signature ---------------------------------------------------------------------- */

/* Converts the JOSE r||s form to DER for OpenSSL. Returns the DER length
 * or 0. */
static size_t sig_to_der(const uint8_t raw[KUMO__JWT_SIG_LEN], uint8_t der[SIG_DER_MAX])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, KUMO__JWT_SIG_LEN / 2, NULL);
    BIGNUM *s = BN_bin2bn(raw + KUMO__JWT_SIG_LEN / 2, KUMO__JWT_SIG_LEN / 2, NULL);
    size_t n = 0;
    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig now */
        int len = i2d_ECDSA_SIG(sig, NULL);
        if (len > 0 && len <= SIG_DER_MAX) {
            uint8_t *p = der;
            n = i2d_ECDSA_SIG(sig, &p) == len ? (size_t)len : 0;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return n;
}

/* Verifies the ES256 signature segment over signing_input. */
static int check_signature(const struct kumo__jwt_pubkey *key, const char *signing_input,
                           size_t input_len, const char *sig_b64, size_t sig_len)
{
    if (sig_len != SIG_B64_LEN) {
        return KUMO_JWT_ERR_SIGNATURE;
    }
    struct kumo_buf raw = KUMO_BUF_INIT;
    uint8_t der[SIG_DER_MAX];
    size_t der_len = 0;
    if (kumo_secret_b64url_decode(sig_b64, sig_len, &raw) == 0 && raw.len == KUMO__JWT_SIG_LEN) {
        der_len = sig_to_der(raw.data, der);
    }
    kumo_buf_free(&raw);
    if (der_len == 0) {
        return KUMO_JWT_ERR_SIGNATURE;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        ctx != NULL &&
        EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, key->pkey, NULL) == 1 &&
        EVP_DigestVerify(ctx, der, der_len, (const unsigned char *)signing_input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : KUMO_JWT_ERR_SIGNATURE;
}

/* ---- claims -------------------------------------------------------------------------- */

/* Reads an integer time claim. Returns 0 (sets *out), 1 if absent, or
 * KUMO_JWT_ERR_CLAIMS (a string, a real such as 1e300, out of range). */
static int time_claim(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL) {
        return 1;
    }
    if (!json_is_integer(v)) {
        return KUMO_JWT_ERR_CLAIMS;
    }
    json_int_t t = json_integer_value(v);
    if (t < 0 || t > TIME_MAX) {
        return KUMO_JWT_ERR_CLAIMS;
    }
    *out = (int64_t)t;
    return 0;
}

static int check_times(const struct kumo_jwt_verifier *v, json_t *claims, int64_t now,
                       struct kumo_principal *p)
{
    int64_t exp = 0, iat = 0, nbf = 0;
    if (time_claim(claims, "exp", &exp) != 0 || time_claim(claims, "iat", &iat) != 0) {
        return KUMO_JWT_ERR_CLAIMS; /* both required */
    }
    int has_nbf = time_claim(claims, "nbf", &nbf);
    if (has_nbf < 0) {
        return has_nbf;
    }
    if (exp <= iat || exp - iat > v->max_ttl_s) {
        return KUMO_JWT_ERR_CLAIMS;
    }
    /* now and all times are within [0, 2^40]: no overflow. */
    if (now - v->leeway_s >= exp) {
        return KUMO_JWT_ERR_EXPIRED;
    }
    if (iat > now + v->leeway_s || (has_nbf == 0 && nbf > now + v->leeway_s)) {
        return KUMO_JWT_ERR_NOT_YET_VALID;
    }
    p->iat = iat;
    p->exp = exp;
    return 0;
}

/* Copies a string claim that must be a valid id. */
static int id_claim(json_t *claims, const char *name, char out[KUMO_JWT_ID_MAX + 1])
{
    json_t *v = json_object_get(claims, name);
    if (!json_is_string(v) || !kumo__jwt_id_valid(json_string_value(v), json_string_length(v))) {
        return KUMO_JWT_ERR_CLAIMS;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int roles_claim(json_t *claims, unsigned *out)
{
    json_t *arr = json_object_get(claims, "roles");
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0) {
        return KUMO_JWT_ERR_CLAIMS;
    }
    unsigned roles = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(arr, i);
        unsigned bit = json_is_string(r)
                           ? kumo_role_from_name(json_string_value(r), json_string_length(r))
                           : 0;
        if (bit == 0 || (roles & bit) != 0) {
            return KUMO_JWT_ERR_CLAIMS; /* unknown or repeated */
        }
        roles |= bit;
    }
    *out = roles;
    return 0;
}

static int check_claims(const struct kumo_jwt_verifier *v, json_t *claims, int64_t now,
                        struct kumo_principal *p)
{
    if (!json_str_is(json_object_get(claims, "iss"), v->issuer, v->issuer_len)) {
        return KUMO_JWT_ERR_ISSUER;
    }
    if (!json_str_is(json_object_get(claims, "aud"), v->audience, v->audience_len)) {
        return KUMO_JWT_ERR_AUDIENCE;
    }
    int rc = check_times(v, claims, now, p);
    if (rc == 0) {
        rc = id_claim(claims, "sub", p->sub);
    }
    if (rc == 0) {
        rc = id_claim(claims, "tid", p->tid);
    }
    if (rc == 0) {
        rc = id_claim(claims, "jti", p->jti);
    }
    if (rc == 0) {
        rc = roles_claim(claims, &p->roles);
    }
    p->service = (p->roles & KUMO_ROLE_SERVICE) != 0;
    return rc;
}

/* ---- the verifier ---------------------------------------------------------------------- */

/* Everything after the keyset is held: header, signature, claims. The
 * result goes to *tmp; the caller copies it out only on success. */
static int verify_with(const struct kumo_jwt_verifier *v, const struct kumo_jwt_keyset *ks,
                       const char *token, size_t len, int64_t now, struct kumo_principal *tmp)
{
    struct segments seg;
    int rc = split(token, len, &seg);
    if (rc != 0) {
        return rc;
    }
    json_t *hdr = segment_json(seg.h, seg.hl);
    if (hdr == NULL) {
        return KUMO_JWT_ERR_MALFORMED;
    }
    const struct kumo__jwt_pubkey *key = NULL;
    rc = check_header(hdr, ks, &key);
    json_decref(hdr);
    if (rc != 0) {
        return rc;
    }
    /* The payload's encoding is checked before the signature (a padded or
     * non-canonical segment is malformed whoever signed it), its JSON only
     * after: unauthenticated bytes never reach the JSON parser. */
    struct kumo_buf body = KUMO_BUF_INIT;
    if (kumo_secret_b64url_decode(seg.p, seg.pl, &body) != 0) {
        kumo_buf_free(&body);
        return KUMO_JWT_ERR_MALFORMED;
    }
    rc = check_signature(key, token, (size_t)(seg.s - 1 - token), seg.s, seg.sl);
    json_t *claims = rc == 0 ? parse_object(&body) : NULL;
    kumo_buf_free(&body);
    if (rc != 0) {
        return rc;
    }
    if (claims == NULL) {
        return KUMO_JWT_ERR_MALFORMED;
    }
    rc = check_claims(v, claims, now, tmp);
    json_decref(claims);
    if (rc == 0) {
        memcpy(tmp->kid, key->kid, key->kid_len + 1);
    }
    return rc;
}

int kumo_jwt_verify(struct kumo_jwt_verifier *v, const char *token, size_t len, int64_t now,
                    struct kumo_principal *p)
{
    if (v == NULL || p == NULL || token == NULL || len == 0) {
        return KUMO_JWT_ERR_MALFORMED;
    }
    if (len > KUMO_JWT_MAX_TOKEN_LEN) {
        return KUMO_JWT_ERR_TOO_LARGE;
    }
    if (now < 0 || now > TIME_MAX) {
        return KUMO_ERR_INVALID;
    }
    struct kumo_jwt_keyset *ks = acquire_keys(v);
    if (ks == NULL || ks->n == 0) {
        kumo__jwt_keyset_release(ks);
        return KUMO_JWT_ERR_NO_KEYS;
    }
    struct kumo_principal tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = verify_with(v, ks, token, len, now, &tmp);
    kumo__jwt_keyset_release(ks);
    if (rc == 0) {
        *p = tmp;
    }
    return rc;
}

/* RFC 6750 b64token characters (plus nothing else). */
/* The token68 characters (RFC 9110 11.2) as a bitmap: every request's
 * bearer token is checked byte by byte, one load and mask each. */
static const uint64_t token68_set[4] = {
    /* '+' 0x2B, '-' 0x2D, '.' 0x2E, '/' 0x2F, '0'-'9', '=' 0x3D */
    (1ull << 0x2B) | (1ull << 0x2D) | (1ull << 0x2E) | (1ull << 0x2F) | (0x3FFull << 0x30) |
        (1ull << 0x3D),
    /* 'A'-'Z' (0x41-0x5A), '_' 0x5F, 'a'-'z' (0x61-0x7A), '~' 0x7E */
    (0x3FFFFFFull << (0x41 - 64)) | (1ull << (0x5F - 64)) | (0x3FFFFFFull << (0x61 - 64)) |
        (1ull << (0x7E - 64)),
    0, 0};

static int token68_char(unsigned char c)
{
    return (int)((token68_set[c >> 6] >> (c & 63)) & 1);
}

int kumo_jwt_bearer(const char *value, size_t len, const char **tok, size_t *tok_len)
{
    static const char scheme[] = "bearer";
    const size_t sl = sizeof scheme - 1;
    if (value == NULL || tok == NULL || tok_len == NULL || len <= sl + 1 ||
        strncasecmp(value, scheme, sl) != 0 || value[sl] != ' ') {
        return KUMO_ERR_INVALID;
    }
    size_t i = sl;
    while (i < len && value[i] == ' ') {
        i++;
    }
    if (i == len) {
        return KUMO_ERR_INVALID;
    }
    for (size_t j = i; j < len; j++) {
        if (!token68_char((unsigned char)value[j])) {
            return KUMO_ERR_INVALID;
        }
    }
    *tok = value + i;
    *tok_len = len - i;
    return 0;
}

const char *kumo_jwt_strerror(int err)
{
    switch (err) {
    case KUMO_JWT_ERR_TOO_LARGE:
        return "jwt: token too large";
    case KUMO_JWT_ERR_MALFORMED:
        return "jwt: malformed token";
    case KUMO_JWT_ERR_HEADER:
        return "jwt: unexpected header";
    case KUMO_JWT_ERR_ALG:
        return "jwt: algorithm is not ES256";
    case KUMO_JWT_ERR_KID:
        return "jwt: missing or unknown key id";
    case KUMO_JWT_ERR_SIGNATURE:
        return "jwt: bad signature";
    case KUMO_JWT_ERR_EXPIRED:
        return "jwt: token expired";
    case KUMO_JWT_ERR_NOT_YET_VALID:
        return "jwt: token not yet valid";
    case KUMO_JWT_ERR_CLAIMS:
        return "jwt: missing or invalid claims";
    case KUMO_JWT_ERR_ISSUER:
        return "jwt: wrong issuer";
    case KUMO_JWT_ERR_AUDIENCE:
        return "jwt: wrong audience";
    case KUMO_JWT_ERR_NO_KEYS:
        return "jwt: no verification keys loaded";
    case KUMO_JWT_ERR_KEY:
        return "jwt: unusable key or key set";
    default:
        return kumo_strerror(err);
    }
}
