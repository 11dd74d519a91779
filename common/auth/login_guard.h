/* Throttling of credential checks (sign-ins, API key exchanges) that no
 * one can turn against somebody else, after OWASP's authentication and
 * credential-stuffing guidance:
 *
 *  - failures from one client address block that address only
 *    (`per_address` failures within the window: it gets resource_exhausted
 *    for every credential, with the time to wait);
 *  - failures against one account from one address block that pair only
 *    (`per_account_address`): a correct credential presented from another
 *    address is never refused because of them;
 *  - failures against one account from many addresses (`per_account`, a
 *    distributed guess) do not lock the account: they slow it down. Past
 *    that count, attempts on the account are admitted at `account_rate`
 *    per second (one at a time), so a guesser gets a handful of tries a
 *    minute while the owner waits seconds at most; a success clears it.
 *
 * API keys pass no account (their secrets have 256 bits: no one guesses
 * them, so no per-key counter exists that a sprayer could fill to slow a
 * valid key down). Memory is bounded (throttle.h, ratelimit.h tables);
 * thread-safe; in-process (each replica counts on its own). */
#ifndef KUMO_LOGIN_GUARD_H
#define KUMO_LOGIN_GUARD_H

#include <stddef.h>
#include <stdint.h>

struct kumo_login_guard_config {
    uint32_t per_address;         /* failures from one address that block it (>= 1) */
    uint32_t per_account_address; /* failures of one account from one address (>= 1) */
    uint32_t per_account;         /* failures of one account before it slows down (>= 1) */
    int64_t window_ms;            /* sliding window of every counter (>= 1) */
    double account_rate;          /* admitted attempts per second on a slowed account (> 0) */
};

struct kumo_login_guard;

/* Creates a guard. Returns 0 and sets *out, or KUMO_ERR_INVALID for a zero
 * limit, window or rate (*out untouched). */
int kumo_login_guard_new(struct kumo_login_guard **out, const struct kumo_login_guard_config *cfg);

/* Frees the guard. NULL is ignored. */
void kumo_login_guard_free(struct kumo_login_guard *g);

/* Decides, before any expensive check, whether an attempt on `account`
 * (NULL for API keys) from client address `addr` may go on at `now_ms` (a
 * monotonic millisecond clock). Returns 1 if so; returns 0 if refused and
 * sets *retry_after_ms (>= 1) to the wait before trying again helps. */
int kumo_login_guard_admit(struct kumo_login_guard *g, const char *account, const char *addr,
                           int64_t now_ms, int64_t *retry_after_ms);

/* Counts a failed attempt (account NULL for API keys). */
void kumo_login_guard_failed(struct kumo_login_guard *g, const char *account, const char *addr,
                             int64_t now_ms);

/* A correct credential: forgets the account's failures (from every
 * address, and this address's against it). The address's own count stays:
 * a sprayer who knows one password must not launder its failures. */
void kumo_login_guard_succeeded(struct kumo_login_guard *g, const char *account, const char *addr);

#endif
