/* Helpers every handler uses: leasing a DB connection for a call, turning
 * failures into answers, validating common fields, bounding argon2 work. */
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

kumo_code users_db_acquire(struct users_ctx *ctx, struct kumo_rpc_call *call,
                           struct kumo_db_conn **c)
{
    kumo_code rc = kumo_db_acquire(ctx->db, kumo_rpc_call_deadline(call), c);
    if (rc != KUMO_CODE_OK)
        return kumo_rpc_call_error(call, rc, "%s", kumo_db_last_error()->message);
    kumo_db_conn_set_request_id(*c, kumo_rpc_call_request_id(call));
    return KUMO_CODE_OK;
}

kumo_code users_db_fail(struct kumo_rpc_call *call, struct kumo_db_conn *c, kumo_code rc)
{
    char msg[sizeof kumo_db_last_error()->message];
    snprintf(msg, sizeof msg, "%s", kumo_db_last_error()->message);
    if (c) {
        if (kumo_db_in_transaction(c))
            kumo_db_rollback(c);
        kumo_db_release(c);
    }
    if (rc == KUMO_CODE_OK)
        rc = KUMO_CODE_INTERNAL;
    return kumo_rpc_call_error(call, rc, "%s", msg[0] ? msg : "database error");
}

kumo_code users_invalid(struct kumo_rpc_call *call, const char *field, const char *why)
{
    return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "%s %s", field, why);
}

kumo_code users_check_name(struct kumo_rpc_call *call, const char *field, const char *s,
                           int allow_empty)
{
    const char *why;
    if (kumo_text_check(s, strlen(s), USERS_NAME_MAX_CHARS, USERS_NAME_MAX_BYTES,
                        allow_empty ? KUMO_TEXT_ALLOW_EMPTY : 0, &why) != 0)
        return users_invalid(call, field, why);
    return KUMO_CODE_OK;
}

kumo_code users_check_id(struct kumo_rpc_call *call, const char *field, const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return users_invalid(call, field, "is required");
    if (n > USERS_ID_MAX)
        return users_invalid(call, field, "is not a valid id");
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
        if (!ok)
            return users_invalid(call, field, "is not a valid id");
    }
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
        return users_invalid(call, field, "must be at least 12 bytes long");
    if (n > KUMO_PASSWORD_MAX_LEN)
        return users_invalid(call, field, "must be at most 1024 bytes long");
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
