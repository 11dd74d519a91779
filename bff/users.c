/* Users and API keys of the caller's tenant (admin). The BFF checks the
 * role for an early 403; kumo-users checks it again. */
#include <stdlib.h>
#include <string.h>

#include "bff.h"
#include "kumo/users/v1/users.pb-c.h"

#define USERS "/kumo.users.v1.UserService/"

static json_t *role_json(const char *role)
{
    if (strcmp(role, "admin") == 0)
        return json_string("ROLE_ADMIN");
    if (strcmp(role, "editor") == 0)
        return json_string("ROLE_EDITOR");
    if (strcmp(role, "viewer") == 0)
        return json_string("ROLE_VIEWER");
    return NULL;
}

/* Replaces body.role ("admin"...) by the proto enum name; 400 otherwise. */
static int fix_role(struct bff_ctx *c, json_t *obj)
{
    json_t *r = json_object_get(obj, "role");
    if (!r)
        return 0;
    json_t *e = json_is_string(r) ? role_json(json_string_value(r)) : NULL;
    if (!e) {
        bff_error(c, 400, "invalid_argument", "role must be admin, editor or viewer");
        return -1;
    }
    json_object_set_new(obj, "role", e);
    return 0;
}

void bff_h_users_list(struct bff_ctx *c)
{
    int ps;
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0 || bff_page_size(c, &ps) != 0)
        return;
    json_t *q = json_object();
    if (ps)
        json_object_set_new(q, "pageSize", json_integer(ps));
    const char *v;
    if ((v = bff_query(c->rq, "page_token")))
        json_object_set_new(q, "pageToken", json_string(v));
    if ((v = bff_query(c->rq, "q")))
        json_object_set_new(q, "query", json_string(v));
    if ((v = bff_query(c->rq, "role")))
        json_object_set_new(q, "role", json_string(v));
    if (fix_role(c, q) != 0) {
        json_decref(q);
        return;
    }
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__users__v1__list_users_request__descriptor, q);
    json_decref(q);
    ProtobufCMessage *rs;
    if (!rq || bff_call_or_error(c, c->app->users, USERS "ListUsers", rq,
                                 &kumo__users__v1__list_users_response__descriptor, &rs) != 0)
        return;
    bff_page_out(c, "users", rs);
}

void bff_h_users_create(struct bff_ctx *c)
{
    static const char *const allowed[] = {"email", "display_name", "role", "password", NULL};
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0 || fix_role(c, c->body) != 0)
        return;
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__users__v1__create_user_request__descriptor, c->body);
    Kumo__Users__V1__CreateUserResponse *rs;
    if (!rq || bff_call_or_error(c, c->app->users, USERS "CreateUser", rq,
                                 &kumo__users__v1__create_user_response__descriptor,
                                 (ProtobufCMessage **)&rs) != 0)
        return;
    if (rs->user) {
        bff_etag_header(c, rs->user->etag);
        char loc[200];
        snprintf(loc, sizeof loc, "/api/v1/users/%s", rs->user->id);
        bff_resp_header(c->rs, "Location", loc);
    }
    bff_json(c, 201, bff_proto_to_json(&rs->base));
}

static Kumo__Users__V1__GetUserResponse *get_user(struct bff_ctx *c, const char *id)
{
    Kumo__Users__V1__GetUserRequest rq = KUMO__USERS__V1__GET_USER_REQUEST__INIT;
    rq.id = (char *)id;
    Kumo__Users__V1__GetUserResponse *rs;
    if (bff_call_or_error(c, c->app->users, USERS "GetUser", &rq.base,
                          &kumo__users__v1__get_user_response__descriptor,
                          (ProtobufCMessage **)&rs) != 0)
        return NULL;
    return rs;
}

void bff_h_users_get(struct bff_ctx *c)
{
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0)
        return;
    Kumo__Users__V1__GetUserResponse *rs = get_user(c, bff_param(c, "id"));
    if (!rs)
        return;
    if (rs->user)
        bff_etag_header(c, rs->user->etag);
    bff_json(c, 200, bff_proto_to_json(&rs->base));
}

void bff_h_users_update(struct bff_ctx *c)
{
    static const char *const allowed[] = {"email", "display_name", "role", "disabled", NULL};
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0 || fix_role(c, c->body) != 0)
        return;
    const char *id = bff_param(c, "id");
    const char *etag = bff_if_match(c);
    if (!etag) {
        /* Without If-Match the last writer wins: take the current etag. */
        Kumo__Users__V1__GetUserResponse *cur = get_user(c, id);
        if (!cur)
            return;
        etag = cur->user ? cur->user->etag : "";
    }
    struct kumo_buf mask = KUMO_BUF_INIT;
    const char *key;
    json_t *val;
    json_object_foreach(c->body, key, val)
    {
        (void)val;
        kumo_buf_appendf(&mask, "%s%s", mask.len ? "," : "",
                         strcmp(key, "display_name") == 0 ? "displayName" : key);
    }
    if (mask.len == 0) {
        kumo_buf_free(&mask);
        bff_error(c, 400, "invalid_argument", "nothing to change");
        return;
    }
    json_t *user = json_deep_copy(c->body);
    json_object_set_new(user, "id", json_string(id));
    json_t *req = json_pack("{s:o,s:s,s:s}", "user", user, "updateMask", (const char *)mask.data,
                            "etag", etag);
    kumo_buf_free(&mask);
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__users__v1__update_user_request__descriptor, req);
    json_decref(req);
    Kumo__Users__V1__UpdateUserResponse *rs;
    struct kumo_rpc_status st = {0};
    if (!rq)
        return;
    kumo_code code = bff_call(c, c->app->users, USERS "UpdateUser", rq,
                              &kumo__users__v1__update_user_response__descriptor, 1,
                              (ProtobufCMessage **)&rs, &st);
    if (code == KUMO_CODE_ABORTED) {
        kumo_rpc_status_clear(&st);
        bff_error(c, 412, "aborted", "the user changed since it was read (etag mismatch)");
        return;
    }
    if (code != KUMO_CODE_OK) {
        bff_rpc_error(c, code, &st);
        kumo_rpc_status_clear(&st);
        return;
    }
    if (rs->user)
        bff_etag_header(c, rs->user->etag);
    bff_json(c, 200, bff_proto_to_json(&rs->base));
}

void bff_h_users_delete(struct bff_ctx *c)
{
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0)
        return;
    Kumo__Users__V1__DeleteUserRequest rq = KUMO__USERS__V1__DELETE_USER_REQUEST__INIT;
    rq.id = (char *)bff_param(c, "id");
    const char *etag = bff_if_match(c);
    rq.etag = (char *)(etag ? etag : "");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->users, USERS "DeleteUser", &rq.base,
                          &kumo__users__v1__delete_user_response__descriptor, &rs) != 0)
        return;
    bff_json(c, 204, NULL);
}

void bff_h_keys_list(struct bff_ctx *c)
{
    int ps;
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0 || bff_page_size(c, &ps) != 0)
        return;
    Kumo__Users__V1__ListApiKeysRequest rq = KUMO__USERS__V1__LIST_API_KEYS_REQUEST__INIT;
    rq.page_size = ps;
    const char *tok = bff_query(c->rq, "page_token");
    rq.page_token = (char *)(tok ? tok : "");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->users, USERS "ListApiKeys", &rq.base,
                          &kumo__users__v1__list_api_keys_response__descriptor, &rs) != 0)
        return;
    bff_page_out(c, "api_keys", rs);
}

void bff_h_keys_create(struct bff_ctx *c)
{
    static const char *const allowed[] = {"name", "role", "expire_time", "expires_at", NULL};
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0 || bff_parse_body(c) != 0 ||
        bff_only_fields(c, c->body, allowed) != 0 || fix_role(c, c->body) != 0)
        return;
    json_t *exp = json_object_get(c->body, "expires_at");
    if (exp) {
        json_object_set(c->body, "expire_time", exp);
        json_object_del(c->body, "expires_at");
    }
    ProtobufCMessage *rq =
        bff_proto_from_json(c, &kumo__users__v1__create_api_key_request__descriptor, c->body);
    ProtobufCMessage *rs;
    if (!rq || bff_call_or_error(c, c->app->users, USERS "CreateApiKey", rq,
                                 &kumo__users__v1__create_api_key_response__descriptor, &rs) != 0)
        return;
    bff_json(c, 201, bff_proto_to_json(rs));
}

void bff_h_keys_delete(struct bff_ctx *c)
{
    if (bff_require_role(c, KUMO_ROLE_ADMIN) != 0)
        return;
    Kumo__Users__V1__RevokeApiKeyRequest rq = KUMO__USERS__V1__REVOKE_API_KEY_REQUEST__INIT;
    rq.id = (char *)bff_param(c, "id");
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->users, USERS "RevokeApiKey", &rq.base,
                          &kumo__users__v1__revoke_api_key_response__descriptor, &rs) != 0)
        return;
    /* Tokens already exchanged for the revoked key must not outlive it
     * here; other replicas learn it from the revocation feed. */
    kumo_apikey_exchange_forget(c->app->apikeys, rq.id);
    bff_json(c, 204, NULL);
}
