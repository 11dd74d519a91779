/* P-256 keys for ES256: PEM loading, generation, thumbprints, keysets and
 * their JWKS form. */
#include "auth/jwt_internal.h"

#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/errors.h"
#include "base/secret.h"

/* Longest PEM accepted for a key. */
#define PEM_MAX_LEN 16384

static const char *const role_names[] = {"admin", "editor", "viewer", "service"};
#define N_ROLES (sizeof role_names / sizeof role_names[0])

unsigned kumo_role_from_name(const char *name, size_t len)
{
    if (name == NULL) {
        return 0;
    }
    for (size_t i = 0; i < N_ROLES; i++) {
        if (strlen(role_names[i]) == len && memcmp(role_names[i], name, len) == 0) {
            return 1u << i;
        }
    }
    return 0;
}

const char *kumo_role_name(unsigned role)
{
    for (size_t i = 0; i < N_ROLES; i++) {
        if (role == 1u << i) {
            return role_names[i];
        }
    }
    return NULL;
}

static int kid_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int kumo_jwt_kid_valid(const char *kid)
{
    if (kid == NULL) {
        return 0;
    }
    size_t n = strnlen(kid, KUMO_JWT_KID_MAX + 1);
    if (n == 0 || n > KUMO_JWT_KID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!kid_char((unsigned char)kid[i])) {
            return 0;
        }
    }
    return 1;
}

int kumo__jwt_id_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > KUMO_JWT_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Refuses to prompt for a passphrase: OpenSSL's default callback would read
 * the terminal. Encrypted keys are simply not supported. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t glen = 0;
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) != 1) {
        return 0;
    }
    return strcmp(group, SN_X9_62_prime256v1) == 0;
}

int kumo__jwt_private_from_pem(const char *pem, size_t len, EVP_PKEY **out)
{
    if (pem == NULL || len == 0 || len > PEM_MAX_LEN) {
        return KUMO_JWT_ERR_KEY;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return KUMO_JWT_ERR_KEY;
    }
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (pkey == NULL) {
        return KUMO_JWT_ERR_KEY;
    }
    int ok = is_p256(pkey);
    if (ok) {
        /* Pairwise check: the public point matches the private scalar. */
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        ok = ctx != NULL && EVP_PKEY_pairwise_check(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    if (!ok) {
        EVP_PKEY_free(pkey);
        return KUMO_JWT_ERR_KEY;
    }
    *out = pkey;
    return 0;
}

/* Parses a public or private P-256 key from PEM (for thumbprints). */
static int any_from_pem(const char *pem, size_t len, EVP_PKEY **out)
{
    if (kumo__jwt_private_from_pem(pem, len, out) == 0) {
        return 0;
    }
    if (pem == NULL || len == 0 || len > PEM_MAX_LEN) {
        return KUMO_JWT_ERR_KEY;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return KUMO_JWT_ERR_KEY;
    }
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (pkey == NULL || !is_p256(pkey)) {
        EVP_PKEY_free(pkey);
        return KUMO_JWT_ERR_KEY;
    }
    *out = pkey;
    return 0;
}

int kumo__jwt_key_xy(EVP_PKEY *pkey, uint8_t x[KUMO__JWT_COORD_LEN], uint8_t y[KUMO__JWT_COORD_LEN])
{
    BIGNUM *bx = NULL, *by = NULL;
    int ok = is_p256(pkey) && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
             EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
             BN_bn2binpad(bx, x, KUMO__JWT_COORD_LEN) == KUMO__JWT_COORD_LEN &&
             BN_bn2binpad(by, y, KUMO__JWT_COORD_LEN) == KUMO__JWT_COORD_LEN;
    BN_free(bx);
    BN_free(by);
    return ok ? 0 : KUMO_JWT_ERR_KEY;
}

/* Builds a public P-256 key from its coordinates, refusing points not on
 * the curve. */
static int public_from_xy(const uint8_t x[KUMO__JWT_COORD_LEN],
                          const uint8_t y[KUMO__JWT_COORD_LEN], EVP_PKEY **out)
{
    uint8_t point[1 + 2 * KUMO__JWT_COORD_LEN];
    point[0] = 0x04; /* uncompressed */
    memcpy(point + 1, x, KUMO__JWT_COORD_LEN);
    memcpy(point + 1 + KUMO__JWT_COORD_LEN, y, KUMO__JWT_COORD_LEN);
    char group[] = SN_X9_62_prime256v1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int ok = ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (ok) {
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    if (!ok) {
        EVP_PKEY_free(pkey);
        return KUMO_JWT_ERR_KEY;
    }
    *out = pkey;
    return 0;
}

/* ---- keysets ---------------------------------------------------------------- */

struct kumo_jwt_keyset *kumo__jwt_keyset_new(void)
{
    struct kumo_jwt_keyset *ks = kumo_calloc(1, sizeof *ks);
    atomic_init(&ks->refs, 1);
    return ks;
}

const struct kumo__jwt_pubkey *kumo__jwt_keyset_find(const struct kumo_jwt_keyset *ks,
                                                     const char *kid, size_t len)
{
    for (size_t i = 0; ks != NULL && i < ks->n; i++) {
        if (ks->keys[i].kid_len == len && memcmp(ks->keys[i].kid, kid, len) == 0) {
            return &ks->keys[i];
        }
    }
    return NULL;
}

/* Adds a key given by its coordinates. */
static int keyset_add_xy(struct kumo_jwt_keyset *ks, const char *kid, const uint8_t *x,
                         const uint8_t *y)
{
    if (!kumo_jwt_kid_valid(kid) || ks->n >= KUMO_JWT_MAX_KEYS ||
        kumo__jwt_keyset_find(ks, kid, strlen(kid)) != NULL) {
        return KUMO_ERR_INVALID;
    }
    struct kumo__jwt_pubkey *k = &ks->keys[ks->n];
    if (public_from_xy(x, y, &k->pkey) != 0) {
        return KUMO_JWT_ERR_KEY;
    }
    k->kid_len = strlen(kid);
    memcpy(k->kid, kid, k->kid_len + 1);
    memcpy(k->x, x, KUMO__JWT_COORD_LEN);
    memcpy(k->y, y, KUMO__JWT_COORD_LEN);
    ks->n++;
    return 0;
}

int kumo__jwt_keyset_add(struct kumo_jwt_keyset *ks, const char *kid, EVP_PKEY *pkey)
{
    uint8_t x[KUMO__JWT_COORD_LEN], y[KUMO__JWT_COORD_LEN];
    /* Only the public point is kept: a verifier never holds private keys. */
    if (kumo__jwt_key_xy(pkey, x, y) != 0) {
        return KUMO_JWT_ERR_KEY;
    }
    return keyset_add_xy(ks, kid, x, y);
}

void kumo__jwt_keyset_retain(struct kumo_jwt_keyset *ks)
{
    if (ks != NULL) {
        atomic_fetch_add(&ks->refs, 1);
    }
}

void kumo__jwt_keyset_release(struct kumo_jwt_keyset *ks)
{
    if (ks == NULL || atomic_fetch_sub(&ks->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < ks->n; i++) {
        EVP_PKEY_free(ks->keys[i].pkey);
    }
    kumo_free(ks);
}

void kumo_jwt_keyset_free(struct kumo_jwt_keyset *ks)
{
    kumo__jwt_keyset_release(ks);
}

size_t kumo_jwt_keyset_count(const struct kumo_jwt_keyset *ks)
{
    return ks == NULL ? 0 : ks->n;
}

static json_t *b64url_json(const uint8_t *in, size_t len)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_base64_encode(in, len, 1, 0, &b);
    json_t *s = json_stringn((const char *)b.data, b.len);
    kumo_buf_free(&b);
    return s;
}

/* json_dump_callback sink: appends to a kumo_buf (which aborts rather than
 * fail, so the document is always complete). */
static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    kumo_buf_append(data, buffer, size);
    return 0;
}

int kumo_jwt_keyset_to_jwks(const struct kumo_jwt_keyset *ks, struct kumo_buf *out)
{
    json_t *keys = json_array();
    for (size_t i = 0; ks != NULL && i < ks->n; i++) {
        const struct kumo__jwt_pubkey *k = &ks->keys[i];
        json_t *o = json_object();
        json_object_set_new(o, "kty", json_string("EC"));
        json_object_set_new(o, "crv", json_string("P-256"));
        json_object_set_new(o, "x", b64url_json(k->x, KUMO__JWT_COORD_LEN));
        json_object_set_new(o, "y", b64url_json(k->y, KUMO__JWT_COORD_LEN));
        json_object_set_new(o, "kid", json_string(k->kid));
        json_object_set_new(o, "alg", json_string("ES256"));
        json_object_set_new(o, "use", json_string("sig"));
        json_array_append_new(keys, o);
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "keys", keys);
    json_dump_callback(doc, dump_to_buf, out, JSON_COMPACT);
    json_decref(doc);
    return 0;
}

/* ---- JWKS parsing ------------------------------------------------------------ */

/* Returns the string value of member `name` if it is a string, else NULL. */
static const char *member_string(json_t *o, const char *name, size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) {
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

static int member_equals(json_t *o, const char *name, const char *want)
{
    size_t len = 0;
    const char *s = member_string(o, name, &len);
    return s != NULL && len == strlen(want) && memcmp(s, want, len) == 0;
}

/* Decodes a JWK coordinate: strict base64url of exactly 32 bytes. */
static int jwk_coord(json_t *o, const char *name, uint8_t out[KUMO__JWT_COORD_LEN])
{
    size_t len = 0;
    const char *s = member_string(o, name, &len);
    struct kumo_buf b = KUMO_BUF_INIT;
    int ok =
        s != NULL && kumo_secret_b64url_decode(s, len, &b) == 0 && b.len == KUMO__JWT_COORD_LEN;
    if (ok) {
        memcpy(out, b.data, KUMO__JWT_COORD_LEN);
    }
    kumo_buf_free(&b);
    return ok ? 0 : -1;
}

/* Checks and adds one JWK object. */
static int jwk_add(struct kumo_jwt_keyset *ks, json_t *jwk, const char **err)
{
    static const char *const allowed[] = {"kty", "crv", "x", "y", "kid", "alg", "use"};
    const char *name;
    json_t *val;
    if (!json_is_object(jwk)) {
        *err = "jwks: a key is not an object";
        return KUMO_JWT_ERR_KEY;
    }
    json_object_foreach(jwk, name, val)
    {
        size_t i = 0;
        while (i < sizeof allowed / sizeof allowed[0] && strcmp(allowed[i], name) != 0) {
            i++;
        }
        if (i == sizeof allowed / sizeof allowed[0]) {
            *err = strcmp(name, "d") == 0 ? "jwks: a key contains private material (d)"
                                          : "jwks: a key has an unexpected member";
            return KUMO_JWT_ERR_KEY;
        }
    }
    if (!member_equals(jwk, "kty", "EC") || !member_equals(jwk, "crv", "P-256")) {
        *err = "jwks: a key is not kty EC with crv P-256";
        return KUMO_JWT_ERR_KEY;
    }
    if ((json_object_get(jwk, "alg") != NULL && !member_equals(jwk, "alg", "ES256")) ||
        (json_object_get(jwk, "use") != NULL && !member_equals(jwk, "use", "sig"))) {
        *err = "jwks: a key has alg other than ES256 or use other than sig";
        return KUMO_JWT_ERR_KEY;
    }
    size_t kid_len = 0;
    const char *kid = member_string(jwk, "kid", &kid_len);
    if (kid == NULL || kid_len != strlen(kid) || !kumo_jwt_kid_valid(kid)) {
        *err = "jwks: a key has a missing or invalid kid";
        return KUMO_JWT_ERR_KEY;
    }
    if (kumo__jwt_keyset_find(ks, kid, kid_len) != NULL) {
        *err = "jwks: duplicate kid";
        return KUMO_JWT_ERR_KEY;
    }
    uint8_t x[KUMO__JWT_COORD_LEN], y[KUMO__JWT_COORD_LEN];
    if (jwk_coord(jwk, "x", x) != 0 || jwk_coord(jwk, "y", y) != 0) {
        *err = "jwks: x or y is not base64url of 32 bytes";
        return KUMO_JWT_ERR_KEY;
    }
    if (keyset_add_xy(ks, kid, x, y) != 0) {
        *err = "jwks: a key is not a valid P-256 public point";
        return KUMO_JWT_ERR_KEY;
    }
    return 0;
}

/* Parses the document into `ks`; sets *err on failure. */
static int jwks_fill(struct kumo_jwt_keyset *ks, const char *json, size_t len, const char **err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(doc, "keys");
    int rc = KUMO_JWT_ERR_KEY;
    if (!json_is_object(doc)) {
        *err = "jwks: not a JSON object (or duplicate keys)";
    } else if (json_object_size(doc) != 1 || !json_is_array(keys)) {
        *err = "jwks: the only member must be the array \"keys\"";
    } else if (json_array_size(keys) == 0 || json_array_size(keys) > KUMO_JWT_MAX_KEYS) {
        *err = "jwks: \"keys\" must hold 1 to 4 keys";
    } else {
        rc = 0;
        for (size_t i = 0; rc == 0 && i < json_array_size(keys); i++) {
            rc = jwk_add(ks, json_array_get(keys, i), err);
        }
    }
    json_decref(doc);
    return rc;
}

int kumo_jwt_keyset_from_jwks(struct kumo_jwt_keyset **out, const char *json, size_t len,
                              const char **err)
{
    const char *dummy;
    if (err == NULL) {
        err = &dummy;
    }
    if (out == NULL || json == NULL) {
        *err = "jwks: no document";
        return KUMO_JWT_ERR_KEY;
    }
    if (len > KUMO_JWT_MAX_JWKS_LEN) {
        *err = "jwks: document too large";
        return KUMO_JWT_ERR_TOO_LARGE;
    }
    struct kumo_jwt_keyset *ks = kumo__jwt_keyset_new();
    int rc = jwks_fill(ks, json, len, err);
    if (rc != 0) {
        kumo__jwt_keyset_release(ks);
        return rc;
    }
    *out = ks;
    return 0;
}

/* ---- generation and thumbprints ---------------------------------------------- */

int kumo__jwt_private_to_pem(EVP_PKEY *pkey, struct kumo_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return KUMO_JWT_ERR_KEY;
    }
    int rc = KUMO_JWT_ERR_KEY;
    if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1) {
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0) {
            kumo_buf_append(out, data, (size_t)n);
            OPENSSL_cleanse(data, (size_t)n);
            rc = 0;
        }
    }
    BIO_free(bio);
    return rc;
}

int kumo_jwt_key_generate(struct kumo_buf *pem_out)
{
    if (pem_out == NULL) {
        return KUMO_JWT_ERR_KEY;
    }
    EVP_PKEY *pkey = EVP_EC_gen(SN_X9_62_prime256v1);
    if (pkey == NULL) {
        return KUMO_JWT_ERR_KEY;
    }
    int rc = kumo__jwt_private_to_pem(pkey, pem_out);
    EVP_PKEY_free(pkey);
    return rc;
}

int kumo_jwt_key_thumbprint(const char *pem, size_t len, char out[44])
{
    EVP_PKEY *pkey = NULL;
    uint8_t x[KUMO__JWT_COORD_LEN], y[KUMO__JWT_COORD_LEN];
    if (out == NULL || any_from_pem(pem, len, &pkey) != 0) {
        return KUMO_JWT_ERR_KEY;
    }
    int rc = kumo__jwt_key_xy(pkey, x, y);
    EVP_PKEY_free(pkey);
    if (rc != 0) {
        return rc;
    }
    /* RFC 7638: the required members in lexicographic order, no spaces. */
    struct kumo_buf j = KUMO_BUF_INIT;
    kumo_buf_append_str(&j, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"");
    kumo_base64_encode(x, sizeof x, 1, 0, &j);
    kumo_buf_append_str(&j, "\",\"y\":\"");
    kumo_base64_encode(y, sizeof y, 1, 0, &j);
    kumo_buf_append_str(&j, "\"}");
    uint8_t digest[32];
    unsigned int dlen = 0;
    int ok = EVP_Digest(j.data, j.len, digest, &dlen, EVP_sha256(), NULL) == 1 && dlen == 32;
    kumo_buf_free(&j);
    if (!ok) {
        return KUMO_JWT_ERR_KEY;
    }
    struct kumo_buf t = KUMO_BUF_INIT;
    kumo_base64_encode(digest, sizeof digest, 1, 0, &t);
    memcpy(out, t.data, 44); /* 43 characters and the NUL */
    kumo_buf_free(&t);
    return 0;
}
