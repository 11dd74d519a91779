/* Fuzzes bff/spec_check.c, the check of request bodies and query
 * parameters against the table generated from bff/openapi.yaml: the first
 * byte picks an operation, the second whether the rest is a JSON body or a
 * query parameter "name=value". Invariants: an answer is 0 with no
 * message or -1 with one (NUL-terminated within the buffer). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || bff_spec_n_ops == 0)
        return 0;
    const struct bff_spec_op *op = &bff_spec_ops[data[0] % bff_spec_n_ops];
    char *s = malloc(size - 1);
    memcpy(s, data + 2, size - 2);
    s[size - 2] = '\0';
    char msg[64]; /* small on purpose: messages are cut, never overflow */
    msg[0] = '\0';
    int rc = 0;
    if (data[1] & 1) {
        json_t *body = json_loadb(s, size - 2, JSON_REJECT_DUPLICATES, NULL);
        if (body && json_is_object(body))
            rc = bff_spec_body_errors(op, body, msg, sizeof msg);
        json_decref(body);
    } else {
        char *eq = strchr(s, '=');
        if (eq) {
            *eq = '\0';
            rc = bff_spec_query_error(op, s, eq + 1, msg, sizeof msg);
        }
    }
    if ((rc == 0) != (msg[0] == '\0') || memchr(msg, '\0', sizeof msg) == NULL)
        abort();
    free(s);
    return 0;
}
