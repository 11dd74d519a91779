/* Helpers many handlers use: checking name fields and bounding argon2
 * work. (Leasing a DB connection and answering its failures:
 * common/db/call.h; ids: common/rpc/fields.h.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "users.h"
#include "base/validate.h"

#define ARGON2_WAIT_MS 2000

kumo_code users_check_name(struct kumo_rpc_call *call, const char *field, const char *s,
                           int allow_empty)
{
    const char *why;
    if (kumo_text_check(s, strlen(s), USERS_NAME_MAX_CHARS, USERS_NAME_MAX_BYTES,
                        allow_empty ? KUMO_TEXT_ALLOW_EMPTY : 0, &why) != 0)
        return kumo_rpc_invalid(call, field, why);
    return KUMO_CODE_OK;
}

kumo_code users_argon2_enter(struct users_ctx *ctx, struct kumo_rpc_call *call)
{
    int64_t wait_ms = ARGON2_WAIT_MS;
    int64_t left = kumo_rpc_call_remaining(call);
    if (left >= 0 && left / 1000000 < wait_ms)
        wait_ms = left / 1000000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    for (;;) {
        if (sem_timedwait(&ctx->argon2_slots, &ts) == 0)
            return KUMO_CODE_OK;
        if (errno != EINTR)
            break;
    }
    kumo_metrics_counter_add("kumo_users_password_busy_total",
                             "password hashing refused because every slot was busy", 1);
    return kumo_rpc_call_error(call, KUMO_CODE_RESOURCE_EXHAUSTED,
                               "too many sign-ins in progress; retry shortly");
}

void users_argon2_leave(struct users_ctx *ctx)
{
    sem_post(&ctx->argon2_slots);
}

kumo_code users_hash_password(struct users_ctx *ctx, struct kumo_rpc_call *call, const char *field,
                              const char *pw, char **phc)
{
    size_t n = strlen(pw);
    if (n < USERS_PASSWORD_MIN)
        return kumo_rpc_invalid(call, field, "must be at least 12 bytes long");
    if (n > KUMO_PASSWORD_MAX_LEN)
        return kumo_rpc_invalid(call, field, "must be at most 1024 bytes long");
    kumo_code rc = users_argon2_enter(ctx, call);
    if (rc != KUMO_CODE_OK)
        return rc;
    int err = kumo_password_hash(ctx->hasher, pw, n, phc);
    users_argon2_leave(ctx);
    if (err != 0) {
        kumo_log(KUMO_LOG_ERROR, kumo_rpc_call_request_id(call), "password hashing failed", "error",
                 kumo_password_strerror(err), NULL);
        return kumo_rpc_call_error(call, KUMO_CODE_INTERNAL, "internal error");
    }
    return KUMO_CODE_OK;
}
