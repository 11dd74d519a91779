/* Sessions: login, refresh, logout and /me.
 *
 * Two modes. Bearer: the refresh token travels in JSON bodies. Cookie
 * (browsers; login with "mode":"cookie" or the header X-Kumo-Session:
 * cookie): the refresh token lives in an HttpOnly, Secure, SameSite=Strict
 * cookie (__Host-kumo_refresh; "kumo_refresh" without Secure when
 * KUMO_COOKIE_SECURE=false), JavaScript never sees it, and /auth/refresh
 * and /auth/logout read it from there. Those cookie-authenticated calls
 * need X-CSRF-Token equal to the kumo_csrf cookie (double submit) and, when
 * an Origin is sent, an allowed one. The access token is always returned in
 * JSON and sent back as Authorization: Bearer. */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "bff.h"
#include "kumo/users/v1/users.pb-c.h"
#include "rest_json.h"
#include "runtime/log.h"
#include "base/secret.h"

#define USERS       "/kumo.users.v1.UserService/"
#define CSRF_COOKIE "kumo_csrf"

static const char *refresh_cookie(const struct bff *app)
{
    return app->s.cookie_secure ? "__Host-kumo_refresh" : "kumo_refresh";
}

/* Readable by the page's JavaScript (not HttpOnly), which echoes it in
 * X-CSRF-Token; Secure when KUMO_COOKIE_SECURE. */
static const char *csrf_cookie(const struct bff *app)
{
    (void)app;
    return CSRF_COOKIE;
}

static void set_cookie(struct bff_ctx *c, const char *name, const char *value, int http_only,
                       long long max_age)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    struct kumo_web_cookie ck = {name, value, http_only, c->app->s.cookie_secure, max_age};
    if (kumo_web_set_cookie(&b, &ck) == 0)
        bff_resp_header(c->rs, "Set-Cookie", (const char *)b.data);
    kumo_buf_free(&b);
}

static long long seconds_until(const Google__Protobuf__Timestamp *t)
{
    if (!t)
        return -1;
    long long d = (long long)t->seconds - (long long)time(NULL);
    return d > 0 ? d : 0;
}

/* The access-token part of a login or refresh answer. */
static json_t *token_json(json_t *j, const Google__Protobuf__Timestamp *exp)
{
    json_t *out = json_object();
    json_object_set(out, "access_token", json_object_get(j, "access_token"));
    json_object_set_new(out, "token_type", json_string("Bearer"));
    json_t *e = json_object_get(j, "access_token_expire_time");
    if (e)
        json_object_set(out, "expires_at", e);
    if (exp)
        json_object_set_new(out, "expires_in", json_integer(seconds_until(exp)));
    return out;
}

static int cookie_mode_requested(struct bff_ctx *c, json_t *mode)
{
    const char *h = bff_header(c->rq, "X-Kumo-Session");
    if (mode)
        return json_is_string(mode) && strcmp(json_string_value(mode), "cookie") == 0   ? 1
               : json_is_string(mode) && strcmp(json_string_value(mode), "bearer") == 0 ? 0
                                                                                        : -1;
    return h && strcmp(h, "cookie") == 0;
}

/* Calls `method` of kumo-users, one of its public methods (Authenticate,
 * RefreshToken, Logout: the credential travels in the request, no access
 * token is forwarded). On failure answers the error and returns its code;
 * on success *rs is the response (in the arena). */
static kumo_code users_public_call(struct bff_ctx *c, const char *method,
                                   const ProtobufCMessage *rq,
                                   const ProtobufCMessageDescriptor *resp_desc,
                                   ProtobufCMessage **rs)
{
    struct kumo_rpc_status st = {0};
    kumo_code code = bff_call(c, c->app->users, method, rq, resp_desc, 0, rs, &st);
    if (code != KUMO_CODE_OK)
        bff_rpc_error(c, code, &st);
    kumo_rpc_status_clear(&st);
    return code;
}

void bff_h_login(struct bff_ctx *c)
{
    static const char *const allowed[] = {"tenant", "email", "password", "mode", NULL};
    if (bff_parse_body(c) != 0 || bff_only_fields(c, c->body, allowed) != 0)
        return;
    int cookie = cookie_mode_requested(c, json_object_get(c->body, "mode"));
    if (cookie < 0) {
        bff_error(c, 400, "invalid_argument", "mode must be \"cookie\" or \"bearer\"");
        return;
    }
    json_object_del(c->body, "mode");
    Kumo__Users__V1__AuthenticateRequest *rq =
        (void *)bff_proto_from_json(c, &kumo__users__v1__authenticate_request__descriptor, c->body);
    if (!rq)
        return;
    Kumo__Users__V1__AuthenticateResponse *rs = NULL;
    kumo_code code = users_public_call(c, USERS "Authenticate", &rq->base,
                                       &kumo__users__v1__authenticate_response__descriptor,
                                       (ProtobufCMessage **)&rs);
    if (rq->password)
        kumo_secret_wipe(rq->password, strlen(rq->password));
    if (code != KUMO_CODE_OK)
        return;
    json_t *j = bff_rest_to_json(&rs->base);
    json_t *out = token_json(j, rs->access_token_expire_time);
    json_object_set(out, "user", json_object_get(j, "user"));
    if (cookie) {
        char *csrf = NULL;
        if (kumo_secret_random(32, &csrf) != 0) {
            json_decref(j);
            json_decref(out);
            bff_error(c, 500, "internal", "internal error");
            return;
        }
        set_cookie(c, refresh_cookie(c->app), rs->refresh_token, 1,
                   seconds_until(rs->refresh_token_expire_time));
        set_cookie(c, csrf_cookie(c->app), csrf, 0, seconds_until(rs->refresh_token_expire_time));
        json_object_set_new(out, "csrf_token", json_string(csrf));
        kumo_free(csrf);
    } else {
        json_object_set(out, "refresh_token", json_object_get(j, "refresh_token"));
        json_object_set(out, "refresh_expires_at", json_object_get(j, "refresh_token_expire_time"));
    }
    json_decref(j);
    bff_json(c, 200, out);
}

/* KumoCMS's sign-in: POST /auth {username, password} in the tenant of
 * KUMO_KUMOCMS_TENANT (the username is the user's email) -> {token, user:
 * {username, email, role, permissions}}. The token is an access token
 * (Authorization: Bearer) like /auth/login's; no refresh token (KumoCMS
 * has none: sign in again). Under the sign-in rate limit (route flag), and
 * kumo-users' login guard throttles the account and the address. */
void bff_h_kumocms_auth(struct bff_ctx *c)
{
    static const char *const allowed[] = {"username", "password", NULL};
    if (!*c->app->s.kumocms_tenant) {
        bff_error(c, 404, "not_found", "KumoCMS sign-in is off (KUMO_KUMOCMS_TENANT is not set)");
        return;
    }
    if (bff_parse_body(c) != 0 || bff_only_fields(c, c->body, allowed) != 0)
        return;
    json_t *un = json_object_get(c->body, "username"), *pw = json_object_get(c->body, "password");
    if (!json_is_string(un) || !json_is_string(pw) || json_string_length(un) == 0 ||
        json_string_length(pw) == 0 || json_string_length(un) > 254 ||
        json_string_length(pw) > 1024) {
        bff_error(c, 400, "invalid_argument", "username and password required");
        return;
    }
    Kumo__Users__V1__AuthenticateRequest rq = KUMO__USERS__V1__AUTHENTICATE_REQUEST__INIT;
    rq.tenant = (char *)c->app->s.kumocms_tenant;
    rq.email = kumo_arena_strdup(c->arena, json_string_value(un));
    rq.password = kumo_arena_strdup(c->arena, json_string_value(pw));
    Kumo__Users__V1__AuthenticateResponse *rs = NULL;
    kumo_code code = users_public_call(c, USERS "Authenticate", &rq.base,
                                       &kumo__users__v1__authenticate_response__descriptor,
                                       (ProtobufCMessage **)&rs);
    kumo_secret_wipe(rq.password, strlen(rq.password));
    if (code != KUMO_CODE_OK)
        return;
    json_t *j = bff_rest_to_json(&rs->base);
    json_t *u = json_object_get(j, "user");
    json_t *role = u ? json_object_get(u, "role") : NULL;
    json_t *user = json_object();
    json_t *email = u ? json_object_get(u, "email") : NULL;
    json_object_set(user, "username", email ? email : un);
    json_object_set(user, "email", email ? email : json_null());
    json_object_set(user, "role", role ? role : json_null());
    json_object_set_new(
        user, "permissions",
        bff_kumocms_permissions(json_is_string(role) ? json_string_value(role) : NULL));
    /* The access-token part under KumoCMS's name. */
    json_t *out = token_json(j, rs->access_token_expire_time);
    json_object_set(out, "token", json_object_get(out, "access_token"));
    json_object_del(out, "access_token");
    json_object_set_new(out, "user", user);
    json_decref(j);
    bff_json(c, 200, out);
}

/* The refresh token of a refresh or logout: from the JSON body (bearer
 * mode) or from the cookie after the CSRF and Origin checks. Returns it (in
 * the arena) and sets *cookie, or answers and returns NULL. */
static const char *presented_refresh(struct bff_ctx *c, int *cookie)
{
    static const char *const allowed[] = {"refresh_token", NULL};
    if (bff_parse_body(c) != 0 || bff_only_fields(c, c->body, allowed) != 0)
        return NULL;
    json_t *t = json_object_get(c->body, "refresh_token");
    if (t) {
        if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 1024) {
            bff_error(c, 400, "invalid_argument", "refresh_token must be a string");
            return NULL;
        }
        *cookie = 0;
        return kumo_arena_strdup(c->arena, json_string_value(t));
    }
    const char *hdr = bff_header(c->rq, "Cookie");
    const char *val, *csrf;
    size_t len, csrf_len;
    if (!kumo_web_cookie_get(hdr, refresh_cookie(c->app), &val, &len) || len == 0) {
        bff_error(c, 401, "unauthenticated", "no session");
        return NULL;
    }
    const char *origin = bff_header(c->rq, "Origin");
    if (origin && !kumo_web_origin_allowed(c->app->s.cors_origins, origin)) {
        bff_error(c, 403, "permission_denied", "origin not allowed");
        return NULL;
    }
    if (!kumo_web_cookie_get(hdr, csrf_cookie(c->app), &csrf, &csrf_len) ||
        !kumo_web_csrf_ok(csrf, csrf_len, bff_header(c->rq, "X-CSRF-Token"))) {
        bff_error(c, 403, "permission_denied", "missing or wrong X-CSRF-Token");
        return NULL;
    }
    *cookie = 1;
    return kumo_arena_strndup(c->arena, val, len);
}

void bff_h_refresh(struct bff_ctx *c)
{
    int cookie = 0;
    const char *tok = presented_refresh(c, &cookie);
    if (!tok)
        return;
    Kumo__Users__V1__RefreshTokenRequest rq = KUMO__USERS__V1__REFRESH_TOKEN_REQUEST__INIT;
    rq.refresh_token = (char *)tok;
    Kumo__Users__V1__RefreshTokenResponse *rs = NULL;
    if (users_public_call(c, USERS "RefreshToken", &rq.base,
                          &kumo__users__v1__refresh_token_response__descriptor,
                          (ProtobufCMessage **)&rs) != KUMO_CODE_OK)
        return;
    json_t *j = bff_rest_to_json(&rs->base);
    json_t *out = token_json(j, rs->access_token_expire_time);
    if (cookie) {
        set_cookie(c, refresh_cookie(c->app), rs->refresh_token, 1,
                   seconds_until(rs->refresh_token_expire_time));
    } else {
        json_object_set(out, "refresh_token", json_object_get(j, "refresh_token"));
        json_object_set(out, "refresh_expires_at", json_object_get(j, "refresh_token_expire_time"));
    }
    json_decref(j);
    bff_json(c, 200, out);
}

static void clear_session_cookies(struct bff_ctx *c)
{
    set_cookie(c, refresh_cookie(c->app), "", 1, 0);
    set_cookie(c, csrf_cookie(c->app), "", 0, 0);
}

/* kumo-users' Logout is public: the refresh token is the proof, so no
 * access token is forwarded. It revokes the token's whole family and
 * answers OK for any known token (also a repeated logout) and
 * unauthenticated for an unknown or malformed one, which we pass on as 401
 * rather than pretend a session ended: a client that sees 204 must be able
 * to rely on the session being gone. In cookie mode the cookies are cleared
 * either way (a refused cookie is useless to keep). */
void bff_h_logout(struct bff_ctx *c)
{
    int cookie = 0;
    const char *tok = presented_refresh(c, &cookie);
    if (!tok)
        return;
    Kumo__Users__V1__LogoutRequest rq = KUMO__USERS__V1__LOGOUT_REQUEST__INIT;
    rq.refresh_token = (char *)tok;
    ProtobufCMessage *rs = NULL;
    kumo_code code = users_public_call(c, USERS "Logout", &rq.base,
                                       &kumo__users__v1__logout_response__descriptor, &rs);
    if (cookie && (code == KUMO_CODE_OK || code == KUMO_CODE_UNAUTHENTICATED))
        clear_session_cookies(c);
    if (code == KUMO_CODE_OK)
        bff_json(c, 204, NULL);
}

/* Every session of the caller (or, for an admin, of "user_id" in the body)
 * ends: refresh families revoked, access tokens refused everywhere within
 * seconds. In cookie mode the caller's own cookies are cleared. */
void bff_h_logout_everywhere(struct bff_ctx *c)
{
    static const char *const allowed[] = {"user_id", NULL};
    if (bff_parse_body(c) != 0 || bff_only_fields(c, c->body, allowed) != 0)
        return;
    json_t *uid = json_object_get(c->body, "user_id");
    if (uid && (!json_is_string(uid) || json_string_length(uid) > 64)) {
        bff_error(c, 400, "invalid_argument", "user_id must be a user id");
        return;
    }
    Kumo__Users__V1__SignOutEverywhereRequest rq =
        KUMO__USERS__V1__SIGN_OUT_EVERYWHERE_REQUEST__INIT;
    rq.user_id = uid ? (char *)kumo_arena_strdup(c->arena, json_string_value(uid)) : "";
    ProtobufCMessage *rs;
    if (bff_call_or_error(c, c->app->users, USERS "SignOutEverywhere", &rq.base,
                          &kumo__users__v1__sign_out_everywhere_response__descriptor, &rs) != 0)
        return;
    const char *self = !uid || strcmp(json_string_value(uid), c->principal.sub) == 0 ? "1" : NULL;
    if (self && bff_header(c->rq, "Cookie"))
        clear_session_cookies(c);
    bff_json(c, 204, NULL);
}

void bff_h_me(struct bff_ctx *c)
{
    json_t *out = json_object();
    json_object_set_new(out, "user_id", json_string(c->principal.sub));
    json_object_set_new(out, "tenant_id", json_string(c->principal.tid));
    json_t *roles = json_array();
    for (unsigned bit = 1; bit <= KUMO_ROLE_SERVICE; bit <<= 1)
        if (c->principal.roles & bit)
            json_array_append_new(roles, json_string(kumo_role_name(bit)));
    json_object_set_new(out, "roles", roles);
    json_object_set_new(out, "expires_at", json_integer(c->principal.exp));
    Kumo__Users__V1__GetUserRequest rq = KUMO__USERS__V1__GET_USER_REQUEST__INIT;
    rq.id = c->principal.sub;
    Kumo__Users__V1__GetUserResponse *rs = NULL;
    struct kumo_rpc_status st = {0};
    kumo_code code =
        bff_call(c, c->app->users, USERS "GetUser", &rq.base,
                 &kumo__users__v1__get_user_response__descriptor, 1, (ProtobufCMessage **)&rs, &st);
    if (code == KUMO_CODE_OK && rs->user) {
        json_object_set_new(out, "user", bff_rest_to_json(&rs->user->base));
    } else if (code == KUMO_CODE_UNAVAILABLE || code == KUMO_CODE_DEADLINE_EXCEEDED ||
               code == KUMO_CODE_UNAUTHENTICATED) {
        json_decref(out);
        bff_rpc_error(c, code, &st);
        kumo_rpc_status_clear(&st);
        return;
    }
    kumo_rpc_status_clear(&st);
    bff_json(c, 200, out);
}
