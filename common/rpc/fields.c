/* Request field checks (rpc/fields.h). */
#include "rpc/fields.h"

#include <string.h>

#include "base/buf.h"

kumo_code kumo_rpc_invalid(struct kumo_rpc_call *call, const char *field, const char *why)
{
    return kumo_rpc_call_error(call, KUMO_CODE_INVALID_ARGUMENT, "%s %s", field, why);
}

kumo_code kumo_rpc_update_mask(struct kumo_rpc_call *call, const Google__Protobuf__FieldMask *m,
                               const struct kumo_rpc_mask_path *paths, size_t n, unsigned *bits)
{
    *bits = 0;
    if (m == NULL || m->n_paths == 0)
        return kumo_rpc_invalid(call, "update_mask", "must name at least one field");
    for (size_t i = 0; i < m->n_paths; i++) {
        unsigned bit = 0;
        for (size_t k = 0; k < n && bit == 0; k++)
            if (strcmp(m->paths[i], paths[k].path) == 0)
                bit = paths[k].bit;
        if (bit == 0) {
            struct kumo_buf why = KUMO_BUF_INIT;
            kumo_buf_append_str(&why, "may only name ");
            for (size_t k = 0; k < n; k++)
                kumo_buf_appendf(&why, "%s%s",
                                 k == 0       ? ""
                                 : k + 1 == n ? " and "
                                              : ", ",
                                 paths[k].path);
            kumo_code rc = kumo_rpc_invalid(call, "update_mask", (const char *)why.data);
            kumo_buf_free(&why);
            return rc;
        }
        *bits |= bit;
    }
    return KUMO_CODE_OK;
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
