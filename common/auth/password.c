/* argon2id password hashing in PHC string form. */
#include "base/hex.h"
#include "auth/password.h"

#include <string.h>

#include <argon2.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "base/secret.h"

/* Salt and hash lengths accepted in stored strings (bytes). */
#define PHC_SALT_MIN 8u
#define PHC_SALT_MAX 64u
#define PHC_HASH_MIN 16u
#define PHC_HASH_MAX 64u
/* Longest PHC string accepted: prefix, three 10-digit numbers, 64-byte salt
 * and hash in base64 (86 chars each), with room to spare. */
#define PHC_MAX_LEN 320u

struct kumo_password_hasher {
    struct kumo_password_params params;
    char *dummy_phc; /* hash of a random password made with `params` */
};

static int in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi;
}

int kumo_password_params_check(const struct kumo_password_params *p)
{
    if (p == NULL || !in_range(p->m_kib, KUMO_PASSWORD_MIN_M_KIB, KUMO_PASSWORD_MAX_M_KIB) ||
        !in_range(p->t_cost, KUMO_PASSWORD_MIN_T, KUMO_PASSWORD_MAX_T) ||
        !in_range(p->parallelism, KUMO_PASSWORD_MIN_P, KUMO_PASSWORD_MAX_P)) {
        return KUMO_ERR_INVALID;
    }
    return 0;
}

/* Rejects what no account may have as a password. Done before any argon2
 * work: the outcome depends only on the input, never on the account. */
static int check_password(const char *pw, size_t len)
{
    if (pw == NULL || len == 0 || len > KUMO_PASSWORD_MAX_LEN || memchr(pw, '\0', len) != NULL) {
        return KUMO_PASSWORD_ERR_INPUT;
    }
    return 0;
}

static int hash_with(const struct kumo_password_params *p, const char *pw, size_t len,
                     char **phc_out)
{
    uint8_t salt[KUMO_PASSWORD_SALT_LEN];
    int rc = kumo_secret_random_bytes(salt, sizeof salt);
    if (rc != 0) {
        return rc;
    }
    size_t enclen = argon2_encodedlen(p->t_cost, p->m_kib, p->parallelism, KUMO_PASSWORD_SALT_LEN,
                                      KUMO_PASSWORD_HASH_LEN, Argon2_id);
    char *enc = kumo_malloc(enclen);
    int arc = argon2id_hash_encoded(p->t_cost, p->m_kib, p->parallelism, pw, len, salt, sizeof salt,
                                    KUMO_PASSWORD_HASH_LEN, enc, enclen);
    if (arc != ARGON2_OK) {
        kumo_free(enc);
        return KUMO_PASSWORD_ERR_ARGON2;
    }
    *phc_out = enc;
    return 0;
}

int kumo_password_hasher_new(struct kumo_password_hasher **out,
                             const struct kumo_password_params *p)
{
    struct kumo_password_params def = KUMO_PASSWORD_PARAMS_DEFAULT;
    if (out == NULL) {
        return KUMO_ERR_INVALID;
    }
    if (p == NULL) {
        p = &def;
    }
    if (kumo_password_params_check(p) != 0) {
        return KUMO_ERR_INVALID;
    }
    /* The dummy password is random and discarded: nothing can match it. */
    uint8_t raw[32];
    char dummy_pw[2 * sizeof raw + 1];
    int rc = kumo_secret_random_bytes(raw, sizeof raw);
    if (rc != 0) {
        return rc;
    }
    kumo_hex_encode(raw, sizeof raw, dummy_pw);
    char *dummy = NULL;
    rc = hash_with(p, dummy_pw, 2 * sizeof raw, &dummy);
    kumo_secret_wipe(raw, sizeof raw);
    kumo_secret_wipe(dummy_pw, sizeof dummy_pw);
    if (rc != 0) {
        return rc;
    }
    struct kumo_password_hasher *h = kumo_calloc(1, sizeof *h);
    h->params = *p;
    h->dummy_phc = dummy;
    *out = h;
    return 0;
}

void kumo_password_hasher_free(struct kumo_password_hasher *h)
{
    if (h == NULL) {
        return;
    }
    kumo_free(h->dummy_phc);
    kumo_free(h);
}

struct kumo_password_params kumo_password_hasher_params(const struct kumo_password_hasher *h)
{
    return h->params;
}

int kumo_password_hash(const struct kumo_password_hasher *h, const char *pw, size_t len,
                       char **phc_out)
{
    if (h == NULL || phc_out == NULL) {
        return KUMO_ERR_INVALID;
    }
    int rc = check_password(pw, len);
    if (rc != 0) {
        return rc;
    }
    return hash_with(&h->params, pw, len, phc_out);
}

/* Parses a decimal uint32 without sign or leading zeros up to `stop`.
 * Advances *p past it. Returns 0 or -1. */
static int parse_u32(const char **p, char stop, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        v = v * 10 + (uint64_t)(s[n] - '0');
        if (v > UINT32_MAX) {
            return -1;
        }
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0') || s[n] != stop) {
        return -1;
    }
    *out = (uint32_t)v;
    *p = s + n + 1;
    return 0;
}

/* Checks an unpadded standard base64 field ending at '$' or NUL (`last`
 * says which) and returns its decoded length, or 0 if malformed. */
static size_t b64_field(const char **p, int last)
{
    const char *s = *p;
    size_t n = 0;
    for (;; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
        if (!ok) {
            break;
        }
    }
    if (n == 0 || n % 4 == 1 || s[n] != (last ? '\0' : '$')) {
        return 0;
    }
    *p = s + n + (last ? 0 : 1);
    return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

int kumo_password_phc_parse(const char *phc, struct kumo_password_params *params, size_t *salt_len,
                            size_t *hash_len)
{
    static const char prefix[] = "$argon2id$v=19$m=";
    struct kumo_password_params pp;
    if (phc == NULL || strnlen(phc, PHC_MAX_LEN + 1) > PHC_MAX_LEN ||
        strncmp(phc, prefix, sizeof prefix - 1) != 0) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    const char *p = phc + sizeof prefix - 1;
    if (parse_u32(&p, ',', &pp.m_kib) || strncmp(p, "t=", 2) != 0) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    p += 2;
    if (parse_u32(&p, ',', &pp.t_cost) || strncmp(p, "p=", 2) != 0) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    p += 2;
    if (parse_u32(&p, '$', &pp.parallelism)) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    /* argon2's own lower bounds (it needs 8 blocks per lane); our upper
     * bounds, so a stored string cannot make verification arbitrarily
     * expensive. */
    if (!in_range(pp.parallelism, 1, KUMO_PASSWORD_MAX_P) ||
        !in_range(pp.t_cost, 1, KUMO_PASSWORD_MAX_T) ||
        !in_range(pp.m_kib, 8 * pp.parallelism, KUMO_PASSWORD_MAX_M_KIB)) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    size_t sl = b64_field(&p, 0);
    if (!in_range((uint32_t)sl, PHC_SALT_MIN, PHC_SALT_MAX)) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    size_t hl = b64_field(&p, 1);
    if (!in_range((uint32_t)hl, PHC_HASH_MIN, PHC_HASH_MAX)) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    if (params != NULL) {
        *params = pp;
    }
    if (salt_len != NULL) {
        *salt_len = sl;
    }
    if (hash_len != NULL) {
        *hash_len = hl;
    }
    return 0;
}

int kumo_password_verify(const char *phc, const char *pw, size_t len)
{
    int rc = check_password(pw, len);
    if (rc != 0) {
        return rc;
    }
    if (kumo_password_phc_parse(phc, NULL, NULL, NULL) != 0) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    /* argon2id_verify recomputes the hash with the string's parameters and
     * compares with its constant-time argon2_compare. */
    switch (argon2id_verify(phc, pw, len)) {
    case ARGON2_OK:
        return 0;
    case ARGON2_VERIFY_MISMATCH:
        return KUMO_PASSWORD_ERR_MISMATCH;
    case ARGON2_DECODING_FAIL:
    case ARGON2_INCORRECT_TYPE:
        return KUMO_PASSWORD_ERR_FORMAT;
    default:
        return KUMO_PASSWORD_ERR_ARGON2;
    }
}

int kumo_password_verify_dummy(const struct kumo_password_hasher *h, const char *pw, size_t len)
{
    if (h == NULL) {
        return KUMO_ERR_INVALID;
    }
    int rc = kumo_password_verify(h->dummy_phc, pw, len);
    if (rc == KUMO_PASSWORD_ERR_INPUT) {
        return rc;
    }
    return KUMO_PASSWORD_ERR_MISMATCH;
}

int kumo_password_needs_rehash(const struct kumo_password_hasher *h, const char *phc)
{
    struct kumo_password_params pp;
    size_t sl = 0, hl = 0;
    if (h == NULL || kumo_password_phc_parse(phc, &pp, &sl, &hl) != 0) {
        return KUMO_PASSWORD_ERR_FORMAT;
    }
    return pp.m_kib < h->params.m_kib || pp.t_cost < h->params.t_cost ||
           pp.parallelism < h->params.parallelism || sl < KUMO_PASSWORD_SALT_LEN ||
           hl < KUMO_PASSWORD_HASH_LEN;
}

const char *kumo_password_strerror(int err)
{
    switch (err) {
    case KUMO_PASSWORD_ERR_MISMATCH:
        return "password: does not match";
    case KUMO_PASSWORD_ERR_FORMAT:
        return "password: stored hash is not an accepted argon2id PHC string";
    case KUMO_PASSWORD_ERR_INPUT:
        return "password: empty, longer than 1024 bytes, or contains a NUL byte";
    case KUMO_PASSWORD_ERR_ARGON2:
        return "password: argon2 failed";
    default:
        return kumo_secret_strerror(err);
    }
}
