/* Keyed slot tables (slots_internal.h). */
#include "slots_internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "base/secret.h"

int kumo__slots_init(struct kumo__slots *t, uint32_t want, uint32_t def, uint32_t min, uint32_t max,
                     size_t slot_size)
{
    memset(t, 0, sizeof *t);
    if (want > max)
        return KUMO_ERR_INVALID;
    if (want == 0)
        want = def;
    uint32_t n = 1;
    while (n < want || n < min)
        n <<= 1;
    if (kumo_secret_random_bytes(t->hash_key, sizeof t->hash_key) != 0)
        return KUMO_ERR_INVALID;
    t->mask = n - 1;
    t->slots = kumo_calloc(n, slot_size);
    return 0;
}

void kumo__slots_free(struct kumo__slots *t)
{
    kumo_free(t->slots);
    t->slots = NULL;
    kumo_secret_wipe(t->hash_key, sizeof t->hash_key);
}

void kumo__slots_hash(const struct kumo__slots *t, const void *key, size_t len, uint8_t *out,
                      size_t n)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    static const uint8_t empty = 0;
    HMAC(EVP_sha256(), t->hash_key, sizeof t->hash_key, len ? key : &empty, len, mac, &mac_len);
    memcpy(out, mac, n < mac_len ? n : mac_len);
}
