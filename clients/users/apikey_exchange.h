/* API keys traded for short-lived access tokens, with a cache.
 *
 * Machines hold API keys ("kumo_<id>_<secret>"); the services verify only
 * access JWTs. kumo-users' ExchangeApiKey trades one for the other. Both the
 * documents service (its own service principal key, for background jobs)
 * and the BFF (`Authorization: Bearer <api key>` from clients) need that
 * exchange on nearly every request, so tokens are cached until shortly
 * before they expire. The cache is keyed by the SHA-256 of the key (the key
 * itself is never stored) and bounded in size.
 *
 * Thread-safe: any number of threads may ask at once; concurrent misses for
 * the same key may each call kumo-users (harmless, the last answer wins). */
#ifndef KUMO_APIKEY_EXCHANGE_H
#define KUMO_APIKEY_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "rpc_client/client.h"

struct kumo_apikey_exchange_config {
    struct kumo_rpc_client *users; /* borrowed: must outlive the exchange */
    size_t max_entries;            /* cache bound; 0 = 1024 (oldest evicted) */
    int64_t refresh_margin_s;      /* a token is renewed once it has less than
                                      this left; 0 = 60 */
};

struct kumo_apikey_exchange;

/* Creates an exchange calling kumo-users through cfg->users. Returns 0 and
 * sets *out, or KUMO_ERR_INVALID (no client) leaving *out untouched. */
int kumo_apikey_exchange_new(struct kumo_apikey_exchange **out,
                             const struct kumo_apikey_exchange_config *cfg);

/* An access token for `api_key`: from the cache while it has more than the
 * refresh margin left, else from kumo-users' ExchangeApiKey (called with
 * opts' deadline and request id; opts may be NULL). `tenant_id` is NULL or
 * "" for a tenant's own key; a service principal's key names the tenant it
 * acts for (kumo-users requires it, and the cache is keyed by key and
 * tenant). A string that is not shaped like an API key is refused without a
 * call.
 *
 * Returns KUMO_CODE_OK and sets *token to a malloc'd NUL-terminated JWT
 * (the caller frees it with kumo_free) and, when exp is not NULL, *exp to
 * its expiry (seconds since the epoch); otherwise the code (UNAUTHENTICATED
 * for a bad, expired or revoked key; UNAVAILABLE when kumo-users cannot be
 * reached) with the message in *status when status is not NULL, and
 * *token untouched. Never logs the key or the token. */
kumo_code kumo_apikey_exchange_token(struct kumo_apikey_exchange *x, const char *api_key,
                                     const char *tenant_id,
                                     const struct kumo_rpc_call_options *opts, char **token,
                                     int64_t *exp, struct kumo_rpc_status *status);

/* As kumo_apikey_exchange_token, but always asks kumo-users (and refreshes
 * the cache with its answer): for a client whose address has had failures,
 * so kumo-users' throttling decides rather than a cached answer. */
kumo_code kumo_apikey_exchange_token_fresh(struct kumo_apikey_exchange *x, const char *api_key,
                                           const char *tenant_id,
                                           const struct kumo_rpc_call_options *opts, char **token,
                                           int64_t *exp, struct kumo_rpc_status *status);

/* Forgets the cached tokens of the key whose public id (the part between
 * "kumo_" and the secret) is `key_id`, for every tenant. Returns how many
 * were forgotten. */
int kumo_apikey_exchange_forget(struct kumo_apikey_exchange *x, const char *key_id);

/* Forgets every cached token. */
void kumo_apikey_exchange_flush(struct kumo_apikey_exchange *x);

/* Frees the exchange and wipes its cache. NULL is ignored. */
void kumo_apikey_exchange_free(struct kumo_apikey_exchange *x);

#endif
