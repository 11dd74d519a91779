/* Status codes shared by Connect and gRPC, their names and HTTP mappings,
 * and kumo's internal negative error returns (curl style: 0 or KUMO_ERR_*). */
#ifndef KUMO_ERRORS_H
#define KUMO_ERRORS_H

/* RPC status codes: the numeric values are gRPC's; the names are Connect's. */
typedef enum kumo_code {
    KUMO_CODE_OK = 0,
    KUMO_CODE_CANCELED = 1,
    KUMO_CODE_UNKNOWN = 2,
    KUMO_CODE_INVALID_ARGUMENT = 3,
    KUMO_CODE_DEADLINE_EXCEEDED = 4,
    KUMO_CODE_NOT_FOUND = 5,
    KUMO_CODE_ALREADY_EXISTS = 6,
    KUMO_CODE_PERMISSION_DENIED = 7,
    KUMO_CODE_RESOURCE_EXHAUSTED = 8,
    KUMO_CODE_FAILED_PRECONDITION = 9,
    KUMO_CODE_ABORTED = 10,
    KUMO_CODE_OUT_OF_RANGE = 11,
    KUMO_CODE_UNIMPLEMENTED = 12,
    KUMO_CODE_INTERNAL = 13,
    KUMO_CODE_UNAVAILABLE = 14,
    KUMO_CODE_DATA_LOSS = 15,
    KUMO_CODE_UNAUTHENTICATED = 16,
} kumo_code;

#define KUMO_CODE_MAX KUMO_CODE_UNAUTHENTICATED

/* Internal error returns of kumo functions (always negative). */
#define KUMO_ERR_INVALID     (-1001) /* malformed input */
#define KUMO_ERR_TOO_LARGE   (-1002) /* a size limit was exceeded */
#define KUMO_ERR_AGAIN       (-1003) /* need more input */
#define KUMO_ERR_NOT_FOUND   (-1004)
#define KUMO_ERR_IO          (-1005)
#define KUMO_ERR_UNSUPPORTED (-1006)
#define KUMO_ERR_STATE       (-1007) /* call not valid in the current state */

/* Returns the Connect name of `code` ("not_found"), or "unknown" if out of
 * range. The string is static. */
const char *kumo_code_name(kumo_code code);

/* Parses a Connect code name. Returns 0 and sets *out, or KUMO_ERR_INVALID. */
int kumo_code_from_name(const char *name, kumo_code *out);

/* Returns the HTTP status the Connect protocol uses for an error `code`
 * (200 for OK). */
int kumo_code_http_status(kumo_code code);

/* Returns the code a client infers from an HTTP status when the response
 * carries no valid error body (the Connect/gRPC "HTTP to code" table). */
kumo_code kumo_code_from_http_status(int status);

/* Returns a static description of a KUMO_ERR_* or -errno value. */
const char *kumo_strerror(int err);

#endif
