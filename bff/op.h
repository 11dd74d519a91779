/* A mapped RPC: how one REST route becomes one RPC and back, as data. The
 * runner (runner.c) reads it: role check, body fields accepted, request
 * fields from the path, query, body and headers (converted: enum names,
 * hex digests, page sizes, metadata), the update mask, the call, error
 * statuses, ETag and Location, and the REST answer. Route-specific steps
 * that are not mappings (a second RPC, a reshaped answer) are hooks. */
#ifndef KUMO_BFF_OP_H
#define KUMO_BFF_OP_H

#include "bff.h"

/* Where a request field comes from. */
enum bff_src {
    BFF_PATH,     /* a path parameter "{from}" */
    BFF_QUERY,    /* a query parameter (absent: not set) */
    BFF_BODY,     /* a member of the JSON body (absent: not set) */
    BFF_HEADER,   /* a request header (absent: not set) */
    BFF_IF_MATCH, /* the If-Match etag, else c->etag_default (absent: not set) */
    BFF_CONST,    /* the literal `from` */
};

/* How the value is converted. */
enum bff_conv {
    BFF_COPY,      /* as it is */
    BFF_ENUM,      /* a short name -> the proto enum name (arg: struct bff_enum) */
    BFF_HEX256,    /* 64 hex digits -> 32 bytes (400 otherwise) */
    BFF_BOOL,      /* "true" or "1" -> true, anything else false */
    BFF_UINT,      /* a decimal integer 0..1e9 (400 otherwise) */
    BFF_PAGE_SIZE, /* a decimal integer, clamped to KUMO_PAGE_SIZE_MAX */
    BFF_METADATA,  /* body meta_json | meta_content (JSON text) | metadata -> Struct */
};

/* Field flags. */
#define BFF_MASKED   1u /* named in the update mask when present */
#define BFF_REQUIRED 2u /* absent: 428 (If-Match) or 400 */
#define BFF_UNLESS   4u /* only when the target is still empty (string) */

struct bff_enum {
    const char *prefix;       /* "DOCUMENT_STATUS_" */
    const char *const *names; /* the accepted short names, NULL-terminated; NULL: any */
    const char *error;        /* the 400 message for another name */
    int ignore_case;          /* "Standard" is "standard" */
};

struct bff_field {
    enum bff_src src;
    const char *from; /* the REST name (path, query, body member, header) */
    const char *to;   /* the proto field, proto spelling; "a.b": field b of message a */
    enum bff_conv conv;
    const void *arg;
    unsigned flags;
};

/* The end of a route's field table, and a listing page's query
 * (?page_size=&page_token=) as rows of one. */
// clang-format off
#define BFF_FIELDS_END {0, NULL, NULL, 0, NULL, 0}
#define BFF_PAGE_FIELDS                                                 \
    {BFF_QUERY, "page_size", "page_size", BFF_PAGE_SIZE, NULL, 0},      \
    {BFF_QUERY, "page_token", "page_token", BFF_COPY, NULL, 0}
// clang-format on

/* The REST answer. */
enum bff_answer {
    BFF_ANS_MESSAGE, /* the response message */
    BFF_ANS_PAGE,    /* {<key>: [...], next_page_token} */
    BFF_ANS_DOC,     /* {document_id, message: <key>, document} */
    BFF_ANS_NONE,    /* no body (204) */
    BFF_ANS_HOOK,    /* op->answer_fn */
};

enum bff_service { BFF_USERS, BFF_DOCUMENTS };

struct bff_op {
    enum bff_service service;
    const char *rpc; /* "/pkg.Service/Method" */
    const ProtobufCMessageDescriptor *req, *resp;
    unsigned roles;                 /* one of these roles is required; 0: any caller */
    const char *const *body;        /* body members accepted (NULL-terminated); NULL: no body */
    const struct bff_field *fields; /* terminated by a row with `to` NULL */
    const char *mask; /* proto field of the update mask (400 when nothing is masked) */
    /* Runs after the body is read and before the request is built (e.g.
     * fetches the current etag); returns 0, or answers and returns -1. */
    int (*prepare)(struct bff_ctx *c);
    const char *aborted;  /* aborted (etag mismatch) answers 412 with this message */
    int status;           /* on success; 0 = 200 */
    const char *etag_of;  /* response field (a message with an etag) for ETag */
    const char *location; /* Location: this prefix + etag_of's id */
    /* A path parameter that must name a document ("doc_" id): anything
     * else is 404, as an unknown id (KumoCMS), before any call. */
    const char *doc_id;
    enum bff_answer answer;
    const char *key; /* BFF_ANS_PAGE: the list; BFF_ANS_DOC: the message */
    void (*answer_fn)(struct bff_ctx *c, const ProtobufCMessage *rq, const ProtobufCMessage *rs);
};

/* The status a route answers on success (its row's, or 200). */
static inline int bff_op_status(const struct bff_op *op)
{
    return op->status ? op->status : 200;
}

/* Builds the request message of `op` from the request (into the arena):
 * returns it, or answers (400, 428) and returns NULL. The body must be
 * parsed already when op->body is set. */
ProtobufCMessage *bff_op_request(struct bff_ctx *c, const struct bff_op *op);

/* The client of a service. */
struct kumo_rpc_client *bff_op_client(struct bff_ctx *c, enum bff_service s);

/* Adds the ETag (and Location) headers of op from response `rs`. */
void bff_op_headers(struct bff_ctx *c, const struct bff_op *op, const ProtobufCMessage *rs);

/* Answers {document_id, message, document} from a response with a
 * `document`. */
void bff_doc_answer(struct bff_ctx *c, int status, const char *message, const ProtobufCMessage *rs,
                    const char *id);

/* 1 if `id` can be a document id ("doc_" and id characters). */
int bff_doc_id_valid(const char *id);
/* Answers 404 "document not found" and returns -1 unless path parameter
 * `param` is a possible document id; returns 0 then. */
int bff_doc_id_check(struct bff_ctx *c, const char *param);

/* The mapped RPCs (documents.c, users.c). */
extern const struct bff_op bff_op_docs_list, bff_op_docs_create, bff_op_docs_get, bff_op_docs_put,
    bff_op_docs_patch, bff_op_docs_delete, bff_op_docs_upload_parts, bff_op_docs_complete,
    bff_op_docs_archive, bff_op_docs_restore, bff_op_docs_undelete, bff_op_docs_versions,
    bff_op_audit, bff_op_dead_letters, bff_op_redrive;
extern const struct bff_op bff_op_users_list, bff_op_users_create, bff_op_users_get,
    bff_op_users_update, bff_op_users_delete, bff_op_keys_list, bff_op_keys_create,
    bff_op_keys_delete, bff_op_password;

#endif
