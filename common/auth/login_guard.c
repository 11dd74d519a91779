/* Credential-check throttling; see login_guard.h. */
#include "auth/login_guard.h"

#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/errors.h"
#include "auth/ratelimit.h"
#include "auth/throttle.h"

struct kumo_login_guard {
    struct kumo_throttle *address, *pair, *account;
    struct kumo_ratelimit *slowed; /* admission of accounts past per_account */
};

int kumo_login_guard_new(struct kumo_login_guard **out, const struct kumo_login_guard_config *cfg)
{
    if (!cfg || !cfg->per_address || !cfg->per_account_address || !cfg->per_account ||
        cfg->window_ms <= 0 || !(cfg->account_rate > 0))
        return KUMO_ERR_INVALID;
    struct kumo_login_guard *g = kumo_calloc(1, sizeof *g);
    struct kumo_throttle_config a = {cfg->per_address, cfg->window_ms, 0};
    struct kumo_throttle_config p = {cfg->per_account_address, cfg->window_ms, 0};
    struct kumo_throttle_config c = {cfg->per_account, cfg->window_ms, 0};
    struct kumo_ratelimit_config r = {cfg->account_rate, 1, 0};
    if (kumo_throttle_new(&g->address, &a) != 0 || kumo_throttle_new(&g->pair, &p) != 0 ||
        kumo_throttle_new(&g->account, &c) != 0 || kumo_ratelimit_new(&g->slowed, &r) != 0) {
        kumo_login_guard_free(g);
        return KUMO_ERR_INVALID;
    }
    *out = g;
    return 0;
}

void kumo_login_guard_free(struct kumo_login_guard *g)
{
    if (!g)
        return;
    kumo_throttle_free(g->address);
    kumo_throttle_free(g->pair);
    kumo_throttle_free(g->account);
    kumo_ratelimit_free(g->slowed);
    kumo_free(g);
}

/* "account\0addr": a NUL cannot occur in either, so pairs never collide. */
static void pair_key(struct kumo_buf *b, const char *account, const char *addr)
{
    kumo_buf_append(b, account, strlen(account) + 1);
    kumo_buf_append_str(b, addr);
}

int kumo_login_guard_admit(struct kumo_login_guard *g, const char *account, const char *addr,
                           int64_t now_ms, int64_t *retry_after_ms)
{
    int64_t wait = kumo_throttle_retry_after_ms(g->address, addr, strlen(addr), now_ms);
    if (wait == 0 && account) {
        struct kumo_buf k = KUMO_BUF_INIT;
        pair_key(&k, account, addr);
        wait = kumo_throttle_retry_after_ms(g->pair, k.data, k.len, now_ms);
        kumo_buf_free(&k);
        if (wait == 0 && kumo_throttle_blocked(g->account, account, strlen(account), now_ms) &&
            !kumo_ratelimit_take(g->slowed, account, strlen(account), now_ms, &wait))
            wait = wait > 0 ? wait : 1;
    }
    if (wait > 0 && retry_after_ms)
        *retry_after_ms = wait;
    return wait == 0;
}

void kumo_login_guard_failed(struct kumo_login_guard *g, const char *account, const char *addr,
                             int64_t now_ms)
{
    kumo_throttle_hit(g->address, addr, strlen(addr), now_ms);
    if (!account)
        return;
    struct kumo_buf k = KUMO_BUF_INIT;
    pair_key(&k, account, addr);
    kumo_throttle_hit(g->pair, k.data, k.len, now_ms);
    kumo_buf_free(&k);
    kumo_throttle_hit(g->account, account, strlen(account), now_ms);
}

void kumo_login_guard_succeeded(struct kumo_login_guard *g, const char *account, const char *addr)
{
    if (!account)
        return;
    struct kumo_buf k = KUMO_BUF_INIT;
    pair_key(&k, account, addr);
    kumo_throttle_reset(g->pair, k.data, k.len);
    kumo_buf_free(&k);
    kumo_throttle_reset(g->account, account, strlen(account));
}
