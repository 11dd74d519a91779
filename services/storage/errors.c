/* One table maps kumo-storage's errors to S3's (data port) and to RPC codes,
 * so both faces report the same failure the same way. */
#include "storage.h"

struct err_info {
    const char *s3;
    int http;
    kumo_code rpc;
    const char *msg;
};

#define ROW(name, s3, http, rpc, msg) [name] = {s3, http, rpc, msg},
static const struct err_info table[STG_E__COUNT] = {STG_ERRORS(ROW)};
#undef ROW

static const struct err_info *info(enum stg_err e)
{
    if ((int)e < 0 || e >= STG_E__COUNT || table[e].s3 == NULL)
        return &table[STG_E_INTERNAL];
    return &table[e];
}

const char *stg_err_s3_code(enum stg_err e)
{
    return info(e)->s3;
}

int stg_err_http_status(enum stg_err e)
{
    return info(e)->http;
}

kumo_code stg_err_rpc_code(enum stg_err e)
{
    return info(e)->rpc;
}

const char *stg_err_message(enum stg_err e)
{
    return info(e)->msg;
}
