#include "base/errors.h"

#include <string.h>

static const char *const code_names[] = {
    "ok",
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
};

/* Connect protocol spec, "Error Codes" table. */
static const int code_http_status[] = {
    200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
};

const char *kumo_code_name(kumo_code code)
{
    if ((unsigned)code > KUMO_CODE_MAX)
        return "unknown";
    return code_names[code];
}

int kumo_code_from_name(const char *name, kumo_code *out)
{
    for (int i = 0; i <= KUMO_CODE_MAX; i++) {
        if (strcmp(name, code_names[i]) == 0) {
            *out = (kumo_code)i;
            return 0;
        }
    }
    return KUMO_ERR_INVALID;
}

int kumo_code_http_status(kumo_code code)
{
    if ((unsigned)code > KUMO_CODE_MAX)
        return 500;
    return code_http_status[code];
}

kumo_code kumo_code_from_http_status(int status)
{
    switch (status) {
    case 400:
        return KUMO_CODE_INTERNAL;
    case 401:
        return KUMO_CODE_UNAUTHENTICATED;
    case 403:
        return KUMO_CODE_PERMISSION_DENIED;
    case 404:
        return KUMO_CODE_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return KUMO_CODE_UNAVAILABLE;
    default:
        return KUMO_CODE_UNKNOWN;
    }
}

const char *kumo_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case KUMO_ERR_INVALID:
        return "invalid input";
    case KUMO_ERR_TOO_LARGE:
        return "size limit exceeded";
    case KUMO_ERR_AGAIN:
        return "more input needed";
    case KUMO_ERR_NOT_FOUND:
        return "not found";
    case KUMO_ERR_IO:
        return "I/O error";
    case KUMO_ERR_UNSUPPORTED:
        return "unsupported";
    case KUMO_ERR_STATE:
        return "invalid state";
    default:
        return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
    }
}
