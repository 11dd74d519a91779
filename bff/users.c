/* Users and API keys of the caller's tenant (admin), as mapped RPCs
 * (op.h), with KumoCMS's user shapes where they overlap. The BFF checks the role for an early 403;
 * kumo-users checks it again. */
#include <string.h>
#include <strings.h>

#include "base/secret.h"

#include "kumo/users/v1/users.pb-c.h"
#include "op.h"
#include "rest_json.h"
#include "rpc/fields.h"

#define USERS(m) "/kumo.users.v1.UserService/" m
#define RQ(m)    &kumo__users__v1__##m##_request__descriptor
#define RS(m)    &kumo__users__v1__##m##_response__descriptor
/* The service, method and message types of a route's RPC. */
#define USERS_RPC(Method, method)                                                                  \
    .service = BFF_USERS, .rpc = USERS(#Method), .req = RQ(method), .resp = RS(method)
#define ADMIN KUMO_ROLE_ADMIN
#define END   BFF_FIELDS_END

static const char *const role_names[] = {"admin", "editor", "viewer", NULL};
static const struct bff_enum role_enum = {"ROLE_", role_names,
                                          "role must be admin, editor or viewer", 0};

/* ---- KumoCMS's user management, where it overlaps ----------------------
 * KumoCMS knows a user by `username`; kumo signs users in by email, so the
 * KumoCMS username of a kumo user is its email, and a username given at
 * create without an email is the email. KumoCMS's "user" role (read only)
 * is kumo's viewer. */

/* KumoCMS's permissions of a role. */
json_t *bff_kumocms_permissions(const char *role)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string("read"));
    if (role && (strcmp(role, "admin") == 0 || strcmp(role, "editor") == 0)) {
        json_array_append_new(a, json_string("write"));
        json_array_append_new(a, json_string("delete"));
    }
    if (role && strcmp(role, "admin") == 0)
        json_array_append_new(a, json_string("admin"));
    return a;
}

/* Adds KumoCMS's names to a REST user object: username, active,
 * created_at. */
static void kumocms_user(json_t *u)
{
    json_t *email = json_object_get(u, "email");
    json_object_set(u, "username", email ? email : json_string(""));
    json_object_set_new(u, "active", json_boolean(!json_is_true(json_object_get(u, "disabled"))));
    json_t *ct = json_object_get(u, "create_time");
    if (ct)
        json_object_set(u, "created_at", ct);
}

/* {users: [...], next_page_token}, each user with KumoCMS's names too. */
static void list_answer(struct bff_ctx *c, const ProtobufCMessage *rq, const ProtobufCMessage *rs)
{
    (void)rq;
    json_t *j = bff_rest_to_json(rs);
    json_t *users = json_object_get(j, "users");
    if (!json_is_array(users)) {
        users = json_array();
        json_object_set_new(j, "users", users);
    }
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) kumocms_user(u);
    if (!json_object_get(j, "next_page_token"))
        json_object_set_new(j, "next_page_token", json_string(""));
    bff_json(c, 200, j);
}

/* POST /users takes KumoCMS's body too: username (the email when no email
 * is given, else the display name when none is given) and role "user". */
static int create_prepare(struct bff_ctx *c)
{
    json_t *b = c->body;
    json_t *un = json_object_get(b, "username");
    if (un) {
        if (!json_is_string(un) || json_string_length(un) == 0 || json_string_length(un) > 254) {
            bff_error(c, 400, "invalid_argument", "username must be a non-empty string");
            return -1;
        }
        if (!json_object_get(b, "email"))
            json_object_set(b, "email", un);
        else if (!json_object_get(b, "display_name"))
            json_object_set(b, "display_name", un);
        json_object_del(b, "username");
    }
    json_t *role = json_object_get(b, "role");
    if (json_is_string(role) && strcmp(json_string_value(role), "user") == 0)
        json_object_set_new(b, "role", json_string("viewer"));
    if (!json_is_string(json_object_get(b, "email"))) {
        bff_error(c, 400, "invalid_argument", "username or email required");
        return -1;
    }
    if (!json_object_get(b, "password")) {
        /* KumoCMS would set a well-known default: kumo does not. */
        bff_error(c, 400, "invalid_argument", "password required (12 to 1024 bytes)");
        return -1;
    }
    return 0;
}

/* 201 {message, username, role} (KumoCMS) and {user} (kumo). */
static void created_answer(struct bff_ctx *c, const ProtobufCMessage *rq,
                           const ProtobufCMessage *rs)
{
    (void)rq;
    json_t *j = bff_rest_to_json(rs);
    json_t *u = json_object_get(j, "user");
    json_t *out = json_object();
    json_object_set_new(out, "message", json_string("User created successfully"));
    if (u) {
        kumocms_user(u);
        json_object_set(out, "username", json_object_get(u, "username"));
        json_t *role = json_object_get(u, "role");
        if (role)
            json_object_set(out, "role", role);
        json_object_set(out, "user", u);
    }
    json_decref(j);
    bff_json(c, 201, out);
}

/* The id of the user a KumoCMS path names: a user id as it is, else the
 * user whose email (case-insensitive) is `name`. Returns it (arena), or
 * answers (404...) and returns NULL. */
static const char *user_by_name(struct bff_ctx *c, const char *name)
{
    if (strncmp(name, "us_", 3) == 0 && kumo_rpc_id_valid(name))
        return name;
    if (!*name || strlen(name) > 254) {
        bff_error(c, 404, "not_found", "user not found");
        return NULL;
    }
    Kumo__Users__V1__ListUsersRequest rq = KUMO__USERS__V1__LIST_USERS_REQUEST__INIT;
    rq.query = (char *)name;
    rq.page_size = 100;
    for (int page = 0; page < 50; page++) {
        Kumo__Users__V1__ListUsersResponse *rs;
        if (bff_call_or_error(c, c->app->users, USERS("ListUsers"), &rq.base, RS(list_users),
                              (ProtobufCMessage **)&rs) != 0)
            return NULL;
        for (size_t i = 0; i < rs->n_users; i++)
            if (rs->users[i]->email && strcasecmp(rs->users[i]->email, name) == 0)
                return rs->users[i]->id;
        if (!rs->next_page_token || !*rs->next_page_token)
            break;
        rq.page_token = rs->next_page_token;
    }
    bff_error(c, 404, "not_found", "user not found");
    return NULL;
}

/* PUT /users/{username} {password}: KumoCMS's password change (admin). An
 * admin's own password also needs current_password (kumo-users' rule). */
void bff_h_users_put(struct bff_ctx *c)
{
    static const char *const allowed[] = {"password", "current_password", NULL};
    if (bff_require_role(c, ADMIN) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0)
        return;
    json_t *pw = json_object_get(c->body, "password");
    json_t *cur = json_object_get(c->body, "current_password");
    if (!json_is_string(pw) || json_string_length(pw) == 0) {
        bff_error(c, 400, "invalid_argument", "password required");
        return;
    }
    if (cur && !json_is_string(cur)) {
        bff_error(c, 400, "invalid_argument", "current_password must be a string");
        return;
    }
    const char *id = user_by_name(c, bff_param(c, "id"));
    if (!id)
        return;
    Kumo__Users__V1__ChangePasswordRequest rq = KUMO__USERS__V1__CHANGE_PASSWORD_REQUEST__INIT;
    rq.user_id = (char *)id;
    rq.new_password = kumo_arena_strdup(c->arena, json_string_value(pw));
    rq.current_password = kumo_arena_strdup(c->arena, cur ? json_string_value(cur) : "");
    ProtobufCMessage *rs;
    int rc = bff_call_or_error(c, c->app->users, USERS("ChangePassword"), &rq.base,
                               &kumo__users__v1__change_password_response__descriptor, &rs);
    kumo_secret_wipe(rq.new_password, strlen(rq.new_password));
    kumo_secret_wipe(rq.current_password, strlen(rq.current_password));
    if (rc != 0)
        return;
    json_t *out = json_object();
    json_object_set_new(out, "message", json_string("Password updated successfully"));
    bff_json(c, 200, out);
}

static const struct bff_field list_fields[] = {
    BFF_PAGE_FIELDS,
    {BFF_QUERY, "q", "query", BFF_COPY, NULL, 0},
    {BFF_QUERY, "role", "role", BFF_ENUM, &role_enum, 0},
    END,
};
const struct bff_op bff_op_users_list = {USERS_RPC(ListUsers, list_users), .roles = ADMIN,
                                         .fields = list_fields, .answer = BFF_ANS_HOOK,
                                         .answer_fn = list_answer};

static const char *const create_body[] = {"username", "email",    "display_name",
                                          "role",     "password", NULL};
static const struct bff_field create_fields[] = {
    {BFF_BODY, "email", "email", BFF_COPY, NULL, 0},
    {BFF_BODY, "display_name", "display_name", BFF_COPY, NULL, 0},
    {BFF_BODY, "role", "role", BFF_ENUM, &role_enum, 0},
    {BFF_BODY, "password", "password", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_users_create = {USERS_RPC(CreateUser, create_user),
                                           .roles = ADMIN,
                                           .body = create_body,
                                           .fields = create_fields,
                                           .prepare = create_prepare,
                                           .status = 201,
                                           .etag_of = "user",
                                           .location = "/api/v1/users/",
                                           .answer = BFF_ANS_HOOK,
                                           .answer_fn = created_answer};

static const struct bff_field id_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_users_get = {USERS_RPC(GetUser, get_user), .roles = ADMIN,
                                        .fields = id_fields, .etag_of = "user",
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
const struct bff_op bff_op_users_update = {USERS_RPC(UpdateUser, update_user),
                                           .roles = ADMIN,
                                           .body = update_body,
                                           .fields = update_fields,
                                           .mask = "update_mask",
                                           .prepare = current_etag,
                                           .aborted =
                                               "the user changed since it was read (etag mismatch)",
                                           .etag_of = "user",
                                           .answer = BFF_ANS_MESSAGE};

static const struct bff_field delete_fields[] = {
    {BFF_PATH, "id", "id", BFF_COPY, NULL, 0},
    {BFF_IF_MATCH, NULL, "etag", BFF_COPY, NULL, 0},
    END,
};
const struct bff_op bff_op_users_delete = {USERS_RPC(DeleteUser, delete_user), .roles = ADMIN,
                                           .fields = delete_fields, .status = 204,
                                           .answer = BFF_ANS_NONE};

static const struct bff_field keys_list_fields[] = {
    BFF_PAGE_FIELDS,
    END,
};
const struct bff_op bff_op_keys_list = {USERS_RPC(ListApiKeys, list_api_keys), .roles = ADMIN,
                                        .fields = keys_list_fields, .answer = BFF_ANS_PAGE,
                                        .key = "api_keys"};

static const char *const key_body[] = {"name", "role", "expire_time", "expires_at", NULL};
static const struct bff_field key_fields[] = {
    {BFF_BODY, "name", "name", BFF_COPY, NULL, 0},
    {BFF_BODY, "role", "role", BFF_ENUM, &role_enum, 0},
    {BFF_BODY, "expire_time", "expire_time", BFF_COPY, NULL, 0},
    {BFF_BODY, "expires_at", "expire_time", BFF_COPY, NULL, 0}, /* the KumoCMS name wins */
    END,
};
const struct bff_op bff_op_keys_create = {USERS_RPC(CreateApiKey, create_api_key),
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

const struct bff_op bff_op_keys_delete = {USERS_RPC(RevokeApiKey, revoke_api_key),
                                          .roles = ADMIN,
                                          .fields = id_fields,
                                          .status = 204,
                                          .answer = BFF_ANS_HOOK,
                                          .answer_fn = key_revoked};

/* POST /auth/password {current_password, new_password} -> 204: one's own
 * password (kumo-users checks the current one, throttled like a sign-in,
 * and ends every session of the user, this one's refresh token included). */
static const char *const password_body[] = {"current_password", "new_password", NULL};
static const struct bff_field password_fields[] = {
    {BFF_BODY, "current_password", "current_password", BFF_COPY, NULL, BFF_REQUIRED},
    {BFF_BODY, "new_password", "new_password", BFF_COPY, NULL, BFF_REQUIRED},
    END,
};
const struct bff_op bff_op_password = {USERS_RPC(ChangePassword, change_password),
                                       .body = password_body, .fields = password_fields,
                                       .status = 204, .answer = BFF_ANS_NONE};
