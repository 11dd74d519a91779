/* Users and API keys of the caller's tenant (admin), as mapped RPCs
 * (op.h). The BFF checks the role for an early 403; kumo-users checks it
 * again. */
#include <string.h>

#include "kumo/users/v1/users.pb-c.h"
#include "op.h"
#include "rest_json.h"

#define USERS(m) "/kumo.users.v1.UserService/" m
#define RQ(m)    &kumo__users__v1__##m##_request__descriptor
#define RS(m)    &kumo__users__v1__##m##_response__descriptor
#define ADMIN    KUMO_ROLE_ADMIN
#define END                                                                                        \
    {                                                                                              \
        0, NULL, NULL, 0, NULL, 0                                                                  \
    }

static const char *const role_names[] = {"admin", "editor", "viewer", NULL};
static const struct bff_enum role_enum = {"ROLE_", role_names,
                                          "role must be admin, editor or viewer", 0};

static const struct bff_field list_fields[] = {
    {BFF_QUERY, "page_size", "page_size", BFF_PAGE_SIZE, NULL, 0},
    {BFF_QUERY, "page_token", "page_token", BFF_COPY, NULL, 0},
    {BFF_QUERY, "q", "query", BFF_COPY, NULL, 0},
    {BFF_QUERY, "role", "role", BFF_ENUM, &role_enum, 0},
    END,
};
const struct bff_op bff_op_users_list = {.service = BFF_USERS,
                                         .rpc = USERS("ListUsers"),
                                         .req = RQ(list_users),
                                         .resp = RS(list_users),
                                         .roles = ADMIN,
                                         .fields = list_fields,
                                         .status = 200,
                                         .answer = BFF_ANS_PAGE,
                                         .key = "users"};

static const char *const create_body[] = {"email", "display_name", "role", "password", NULL};
static const struct bff_field create_fields[] = {
    {BFF_BODY, "email", "email", BFF_COPY, NULL, 0},
    {BFF_BODY, "display_name", "display_name", BFF_COPY, NULL, 0},
    {BFF_BODY, "role", "role", BFF_ENUM, &role_enum, 0},
    {BFF_BODY, "password", "password", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_users_create = {.service = BFF_USERS,
                                           .rpc = USERS("CreateUser"),
                                           .req = RQ(create_user),
                                           .resp = RS(create_user),
                                           .roles = ADMIN,
                                           .body = create_body,
                                           .fields = create_fields,
                                           .status = 201,
                                           .etag_of = "user",
                                           .location = "/api/v1/users/",
                                           .answer = BFF_ANS_MESSAGE};

static const struct bff_field id_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_users_get = {.service = BFF_USERS,
                                        .rpc = USERS("GetUser"),
                                        .req = RQ(get_user),
                                        .resp = RS(get_user),
                                        .roles = ADMIN,
                                        .fields = id_fields,
                                        .status = 200,
                                        .etag_of = "user",
                                        .answer = BFF_ANS_MESSAGE};

/* Without If-Match the last writer wins: the update uses the current etag. */
static int current_etag(struct bff_ctx *c)
{
    if (bff_if_match(c))
        return 0;
    Kumo__Users__V1__GetUserRequest rq = KUMO__USERS__V1__GET_USER_REQUEST__INIT;
    rq.id = (char *)bff_param(c, "id");
    Kumo__Users__V1__GetUserResponse *rs;
    if (bff_call_or_error(c, c->app->users, USERS("GetUser"), &rq.base, RS(get_user),
                          (ProtobufCMessage **)&rs) != 0)
        return -1;
    c->etag_default = rs->user ? rs->user->etag : "";
    return 0;
}

static const char *const update_body[] = {"email", "display_name", "role", "disabled", NULL};
static const struct bff_field update_fields[] = {
    {BFF_PATH, "id", "user.id", BFF_COPY, NULL, 0},
    {BFF_BODY, "email", "user.email", BFF_COPY, NULL, BFF_MASKED},
    {BFF_BODY, "display_name", "user.display_name", BFF_COPY, NULL, BFF_MASKED},
    {BFF_BODY, "role", "user.role", BFF_ENUM, &role_enum, BFF_MASKED},
    {BFF_BODY, "disabled", "user.disabled", BFF_COPY, NULL, BFF_MASKED},
    {BFF_IF_MATCH, NULL, "etag", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_users_update = {.service = BFF_USERS,
                                           .rpc = USERS("UpdateUser"),
                                           .req = RQ(update_user),
                                           .resp = RS(update_user),
                                           .roles = ADMIN,
                                           .body = update_body,
                                           .fields = update_fields,
                                           .mask = "update_mask",
                                           .prepare = current_etag,
                                           .aborted =
                                               "the user changed since it was read (etag mismatch)",
                                           .status = 200,
                                           .etag_of = "user",
                                           .answer = BFF_ANS_MESSAGE};

static const struct bff_field delete_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_IF_MATCH, NULL, "etag", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_users_delete = {.service = BFF_USERS,
                                           .rpc = USERS("DeleteUser"),
                                           .req = RQ(delete_user),
                                           .resp = RS(delete_user),
                                           .roles = ADMIN,
                                           .fields = delete_fields,
                                           .status = 204,
                                           .answer = BFF_ANS_NONE};

static const struct bff_field keys_list_fields[] = {
    {BFF_QUERY, "page_size", "page_size", BFF_PAGE_SIZE, NULL, 0},
    {BFF_QUERY, "page_token", "page_token", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_keys_list = {.service = BFF_USERS,
                                        .rpc = USERS("ListApiKeys"),
                                        .req = RQ(list_api_keys),
                                        .resp = RS(list_api_keys),
                                        .roles = ADMIN,
                                        .fields = keys_list_fields,
                                        .status = 200,
                                        .answer = BFF_ANS_PAGE,
                                        .key = "api_keys"};

static const char *const key_body[] = {"name", "role", "expire_time", "expires_at", NULL};
static const struct bff_field key_fields[] = {
    {BFF_BODY, "name", "name", BFF_COPY, NULL, 0},
    {BFF_BODY, "role", "role", BFF_ENUM, &role_enum, 0},
    {BFF_BODY, "expire_time", "expire_time", BFF_COPY, NULL, 0},
    {BFF_BODY, "expires_at", "expire_time", BFF_COPY, NULL, 0}, /* the KumoCMS name wins */
    END,
};
const struct bff_op bff_op_keys_create = {.service = BFF_USERS,
                                          .rpc = USERS("CreateApiKey"),
                                          .req = RQ(create_api_key),
                                          .resp = RS(create_api_key),
                                          .roles = ADMIN,
                                          .body = key_body,
                                          .fields = key_fields,
                                          .status = 201,
                                          .answer = BFF_ANS_MESSAGE};

/* Tokens already exchanged for the revoked key must not outlive it here;
 * other replicas learn it from the revocation feed. */
static void key_revoked(struct bff_ctx *c, const ProtobufCMessage *rq, const ProtobufCMessage *rs)
{
    (void)rs;
    kumo_apikey_exchange_forget(c->app->apikeys, bff_rest_str(rq, "id"));
    bff_json(c, 204, NULL);
}

const struct bff_op bff_op_keys_delete = {.service = BFF_USERS,
                                          .rpc = USERS("RevokeApiKey"),
                                          .req = RQ(revoke_api_key),
                                          .resp = RS(revoke_api_key),
                                          .roles = ADMIN,
                                          .fields = id_fields,
                                          .status = 204,
                                          .answer = BFF_ANS_HOOK,
                                          .answer_fn = key_revoked};
