/* Issuing ES256 access tokens (kumo-users) through libjwt. */
#include "auth/jwt_internal.h"

#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>

#include "base/alloc.h"
#include "runtime/metrics.h"
#include "base/base64.h"
#include "base/errors.h"
#include "base/secret.h"

/* Largest time value accepted anywhere (about the year 36812): keeps all
 * arithmetic on claims far from overflow. */
#define TIME_MAX ((int64_t)1 << 40)
/* Random bytes in a jti (128 bits -> 22 base64url characters). */
#define JTI_BYTES 16

struct signer_key {
    char kid[KUMO_JWT_KID_MAX + 1];
    char *pem; /* normalized PKCS#8 PEM, wiped on free */
    size_t pem_len;
    EVP_PKEY *pkey;
};

struct kumo_jwt_signer {
    char *issuer;
    char *audience;
    size_t n;
    size_t active;
    struct signer_key keys[KUMO_JWT_SIGNER_MAX_KEYS];
};

/* Returns 1 if `s` can be a JSON string (valid UTF-8), as every claim the
 * signer writes must survive jansson. */
static int utf8_valid(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

int kumo_jwt_signer_new(struct kumo_jwt_signer **out, const char *issuer, const char *audience)
{
    if (out == NULL || issuer == NULL || audience == NULL || issuer[0] == '\0' ||
        audience[0] == '\0' || !utf8_valid(issuer) || !utf8_valid(audience)) {
        return KUMO_ERR_INVALID;
    }
    struct kumo_jwt_signer *s = kumo_calloc(1, sizeof *s);
    s->issuer = kumo_strdup(issuer);
    s->audience = kumo_strdup(audience);
    *out = s;
    return 0;
}

static const struct signer_key *find_key(const struct kumo_jwt_signer *s, const char *kid,
                                         size_t *index)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->keys[i].kid, kid) == 0) {
            if (index != NULL) {
                *index = i;
            }
            return &s->keys[i];
        }
    }
    return NULL;
}

int kumo_jwt_signer_add_key(struct kumo_jwt_signer *s, const char *kid, const char *pem, size_t len)
{
    if (s == NULL || !kumo_jwt_kid_valid(kid) || s->n >= KUMO_JWT_SIGNER_MAX_KEYS ||
        find_key(s, kid, NULL) != NULL) {
        return KUMO_ERR_INVALID;
    }
    EVP_PKEY *pkey = NULL;
    int rc = kumo__jwt_private_from_pem(pem, len, &pkey);
    if (rc != 0) {
        return rc;
    }
    /* libjwt gets a re-encoded PKCS#8 PEM of exactly this key, not the
     * caller's text (which may hold several blocks or trailing data). */
    struct kumo_buf norm = KUMO_BUF_INIT;
    rc = kumo__jwt_private_to_pem(pkey, &norm);
    if (rc != 0) {
        EVP_PKEY_free(pkey);
        OPENSSL_cleanse(norm.data, norm.cap);
        kumo_buf_free(&norm);
        return rc;
    }
    struct signer_key *k = &s->keys[s->n];
    memcpy(k->kid, kid, strlen(kid) + 1);
    k->pkey = pkey;
    k->pem = kumo_buf_steal(&norm, &k->pem_len);
    s->n++;
    return 0;
}

int kumo_jwt_signer_set_active(struct kumo_jwt_signer *s, const char *kid)
{
    size_t i = 0;
    if (s == NULL || kid == NULL || find_key(s, kid, &i) == NULL) {
        return KUMO_ERR_NOT_FOUND;
    }
    s->active = i;
    return 0;
}

const char *kumo_jwt_signer_active_kid(const struct kumo_jwt_signer *s)
{
    return s == NULL || s->n == 0 ? NULL : s->keys[s->active].kid;
}

int kumo_jwt_signer_keyset(const struct kumo_jwt_signer *s, struct kumo_jwt_keyset **out)
{
    if (s == NULL || out == NULL || s->n == 0) {
        return KUMO_JWT_ERR_NO_KEYS;
    }
    struct kumo_jwt_keyset *ks = kumo__jwt_keyset_new();
    for (size_t i = 0; i < s->n; i++) {
        int rc = kumo__jwt_keyset_add(ks, s->keys[i].kid, s->keys[i].pkey);
        if (rc != 0) {
            kumo__jwt_keyset_release(ks);
            return rc;
        }
    }
    *out = ks;
    return 0;
}

int kumo_jwt_signer_jwks(const struct kumo_jwt_signer *s, struct kumo_buf *out)
{
    struct kumo_jwt_keyset *ks = NULL;
    int rc = kumo_jwt_signer_keyset(s, &ks);
    if (rc != 0) {
        return rc;
    }
    kumo_jwt_keyset_to_jwks(ks, out);
    kumo__jwt_keyset_release(ks);
    return 0;
}

/* Checks claims so the signer never issues what verifiers refuse. */
static int claims_valid(const struct kumo_jwt_claims *c)
{
    return c != NULL && c->sub != NULL && c->tid != NULL &&
           kumo__jwt_id_valid(c->sub, strlen(c->sub)) &&
           kumo__jwt_id_valid(c->tid, strlen(c->tid)) && c->roles != 0 &&
           (c->roles & ~(unsigned)KUMO_ROLE_ALL) == 0 && c->ttl_s >= 1 &&
           c->ttl_s <= KUMO_JWT_MAX_TTL_MAX && c->now >= 0 && c->now <= TIME_MAX - c->ttl_s;
}

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    kumo_buf_append(data, buffer, size);
    return 0;
}

/* Builds the claims JSON text into `out`. */
static void claims_json(const struct kumo_jwt_signer *s, const struct kumo_jwt_claims *c,
                        const char *jti, struct kumo_buf *out)
{
    json_t *roles = json_array();
    for (unsigned bit = 1; bit <= KUMO_ROLE_ALL; bit <<= 1) {
        if (c->roles & bit) {
            json_array_append_new(roles, json_string(kumo_role_name(bit)));
        }
    }
    json_t *o = json_object();
    json_object_set_new(o, "iss", json_string(s->issuer));
    json_object_set_new(o, "aud", json_string(s->audience));
    json_object_set_new(o, "sub", json_string(c->sub));
    json_object_set_new(o, "tid", json_string(c->tid));
    json_object_set_new(o, "roles", roles);
    json_object_set_new(o, "iat", json_integer(c->now));
    json_object_set_new(o, "nbf", json_integer(c->now));
    json_object_set_new(o, "exp", json_integer(c->now + c->ttl_s));
    json_object_set_new(o, "jti", json_string(jti));
    json_dump_callback(o, dump_to_buf, out, JSON_COMPACT);
    json_decref(o);
}

/* Encodes and signs with libjwt; returns a malloc'd (libc) token or NULL. */
static char *libjwt_encode(const struct signer_key *k, const char *claims)
{
    jwt_t *j = NULL;
    if (jwt_new(&j) != 0) {
        return NULL;
    }
    char *tok = NULL;
    if (jwt_add_grants_json(j, claims) == 0 && jwt_add_header(j, "kid", k->kid) == 0 &&
        jwt_set_alg(j, JWT_ALG_ES256, (const unsigned char *)k->pem, (int)k->pem_len) == 0) {
        tok = jwt_encode_str(j);
    }
    jwt_free(j); /* scrubs its copy of the key */
    return tok;
}

/* Token minting is what every sign-in and API key exchange needs: its
 * failures page (KumoTokenMintingFailing). */
static void count_sign(const char *outcome)
{
    kumo_metrics_counter_addl("kumo_jwt_sign_total", "Access tokens signed, by outcome.",
                              (const char *[]){"outcome", outcome, NULL}, 1);
}

int kumo_jwt_sign(const struct kumo_jwt_signer *s, const struct kumo_jwt_claims *c,
                  char **token_out, char jti_out[23])
{
    if (s == NULL || token_out == NULL || !claims_valid(c)) {
        return KUMO_ERR_INVALID;
    }
    if (s->n == 0) {
        count_sign("no_keys");
        return KUMO_JWT_ERR_NO_KEYS;
    }
    uint8_t raw[JTI_BYTES];
    int rc = kumo_secret_random_bytes(raw, sizeof raw);
    if (rc != 0) {
        return rc;
    }
    struct kumo_buf jti = KUMO_BUF_INIT;
    kumo_base64_encode(raw, sizeof raw, 1, 0, &jti);
    struct kumo_buf claims = KUMO_BUF_INIT;
    claims_json(s, c, (const char *)jti.data, &claims);
    char *tok = libjwt_encode(&s->keys[s->active], (const char *)claims.data);
    kumo_buf_free(&claims);
    if (tok == NULL) {
        kumo_buf_free(&jti);
        count_sign("error");
        return KUMO_JWT_ERR_KEY;
    }
    count_sign("ok");
    *token_out = kumo_strdup(tok);
    free(tok);
    if (jti_out != NULL) {
        memcpy(jti_out, jti.data, jti.len + 1);
    }
    kumo_buf_free(&jti);
    return 0;
}

void kumo_jwt_signer_free(struct kumo_jwt_signer *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        OPENSSL_cleanse(s->keys[i].pem, s->keys[i].pem_len);
        kumo_free(s->keys[i].pem);
        EVP_PKEY_free(s->keys[i].pkey);
    }
    kumo_free(s->issuer);
    kumo_free(s->audience);
    kumo_free(s);
}
