/* One table maps kumo-storage's errors to S3's (data port) and to RPC codes,
 * so both faces report the same failure the same way. */
#include "storage.h"

struct err_info {
    const char *s3;
    int http;
    kumo_code rpc;
    const char *msg;
};

static const struct err_info table[STG_E__COUNT] = {
    [STG_OK] = {"OK", 200, KUMO_CODE_OK, "OK"},
    [STG_E_NO_SUCH_KEY] = {"NoSuchKey", 404, KUMO_CODE_NOT_FOUND,
                           "The specified key does not exist."},
    [STG_E_NO_SUCH_UPLOAD] = {"NoSuchUpload", 404, KUMO_CODE_NOT_FOUND,
                              "The specified multipart upload does not exist. The upload ID "
                              "may be invalid, or the upload may have been aborted or "
                              "completed."},
    [STG_E_INVALID_OBJECT_STATE] = {"InvalidObjectState", 403, KUMO_CODE_FAILED_PRECONDITION,
                                    "The operation is not valid for the object's storage "
                                    "class."},
    [STG_E_INVALID_PART] = {"InvalidPart", 400, KUMO_CODE_FAILED_PRECONDITION,
                            "One or more of the specified parts could not be found. The part "
                            "may not have been uploaded, or the specified entity tag may not "
                            "match the part's entity tag."},
    [STG_E_INVALID_PART_ORDER] = {"InvalidPartOrder", 400, KUMO_CODE_INVALID_ARGUMENT,
                                  "The list of parts was not in ascending order. Parts must be "
                                  "ordered by part number."},
    [STG_E_ENTITY_TOO_SMALL] = {"EntityTooSmall", 400, KUMO_CODE_FAILED_PRECONDITION,
                                "Your proposed upload is smaller than the minimum allowed "
                                "object size."},
    [STG_E_ENTITY_TOO_LARGE] = {"EntityTooLarge", 400, KUMO_CODE_INVALID_ARGUMENT,
                                "Your proposed upload exceeds the maximum allowed object size."},
    [STG_E_BAD_DIGEST] = {"BadDigest", 400, KUMO_CODE_INVALID_ARGUMENT,
                          "The Content-MD5 or checksum value that you specified did not match "
                          "what the server received."},
    [STG_E_SHA256_MISMATCH] = {"XAmzContentSHA256Mismatch", 400, KUMO_CODE_INVALID_ARGUMENT,
                               "The provided 'x-amz-content-sha256' header does not match what "
                               "was computed."},
    [STG_E_INVALID_DIGEST] = {"InvalidDigest", 400, KUMO_CODE_INVALID_ARGUMENT,
                              "The Content-MD5 or checksum value that you specified is not "
                              "valid."},
    [STG_E_INVALID_ARGUMENT] = {"InvalidArgument", 400, KUMO_CODE_INVALID_ARGUMENT,
                                "Invalid Argument"},
    [STG_E_KEY_TOO_LONG] = {"KeyTooLongError", 400, KUMO_CODE_INVALID_ARGUMENT,
                            "Your key is too long"},
    [STG_E_INVALID_STORAGE_CLASS] = {"InvalidStorageClass", 400, KUMO_CODE_INVALID_ARGUMENT,
                                     "The storage class you specified is not valid"},
    [STG_E_METADATA_TOO_LARGE] = {"MetadataTooLarge", 400, KUMO_CODE_INVALID_ARGUMENT,
                                  "Your metadata headers exceed the maximum allowed metadata "
                                  "size"},
    [STG_E_MALFORMED_XML] = {"MalformedXML", 400, KUMO_CODE_INVALID_ARGUMENT,
                             "The XML you provided was not well-formed or did not validate "
                             "against our published schema"},
    [STG_E_INCOMPLETE_BODY] = {"IncompleteBody", 400, KUMO_CODE_INVALID_ARGUMENT,
                               "You did not provide the number of bytes specified by the "
                               "Content-Length HTTP header"},
    [STG_E_MISSING_CONTENT_LENGTH] = {"MissingContentLength", 411, KUMO_CODE_INVALID_ARGUMENT,
                                      "You must provide the Content-Length HTTP header."},
    [STG_E_NOT_IMPLEMENTED] = {"NotImplemented", 501, KUMO_CODE_UNIMPLEMENTED,
                               "A header or operation you provided implies functionality that "
                               "is not implemented"},
    [STG_E_PRECONDITION_FAILED] = {"PreconditionFailed", 412, KUMO_CODE_FAILED_PRECONDITION,
                                   "At least one of the preconditions you specified did not "
                                   "hold"},
    [STG_E_INVALID_RANGE] = {"InvalidRange", 416, KUMO_CODE_OUT_OF_RANGE,
                             "The requested range is not satisfiable"},
    [STG_E_MAX_MESSAGE_LENGTH] = {"MaxMessageLengthExceeded", 400, KUMO_CODE_INVALID_ARGUMENT,
                                  "Your request was too big."},
    [STG_E_RESTORE_IN_PROGRESS] = {"RestoreAlreadyInProgress", 409, KUMO_CODE_FAILED_PRECONDITION,
                                   "Object restore is already in progress"},
    [STG_E_INVALID_REQUEST] = {"InvalidRequest", 400, KUMO_CODE_INVALID_ARGUMENT,
                               "Invalid Request"},
    [STG_E_SIGNATURE_MISMATCH] = {"SignatureDoesNotMatch", 403, KUMO_CODE_PERMISSION_DENIED,
                                  "The request signature we calculated does not match the "
                                  "signature you provided."},
    [STG_E_UPSTREAM] = {"ServiceUnavailable", 503, KUMO_CODE_UNAVAILABLE,
                        "The object store could not be reached or failed."},
    [STG_E_STORAGE_FULL] = {"InsufficientStorage", 507, KUMO_CODE_RESOURCE_EXHAUSTED,
                            "The storage volume is full (no space left on device): nothing was "
                            "stored. Retry once space is freed."},
    [STG_E_INTERNAL] = {"InternalError", 500, KUMO_CODE_INTERNAL,
                        "We encountered an internal error. Please try again."},
};

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
