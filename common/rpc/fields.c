/* Request field checks (rpc/fields.h). */
#include "rpc/fields.h"

#include <string.h>

kumo_code kumo_rpc_invalid(struct kumo_rpc_call *call, const char *field, const char *why)
{
    return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "%s %s", field, why);
}

int kumo_rpc_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KUMO_RPC_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

kumo_code kumo_rpc_check_id(struct kumo_rpc_call *call, const char *field, const char *s)
{
    if (s[0] == '\0')
        return kumo_rpc_invalid(call, field, "is required");
    if (!kumo_rpc_id_valid(s))
        return kumo_rpc_invalid(call, field, "is not a valid id");
    return KUMO_CODE_OK;
}
