#!/usr/bin/python3
"""Integration cases of kumo-users, driven by python3-grpcio (Debian).

Run by tests/integration/users/run. No generated stubs: the message classes
come from a descriptor set protoc builds from proto/kumo/users/v1 at start,
calls are generic raw-bytes gRPC calls, tokens are checked with PyJWT and
attack tokens are built with tests/unit/common/auth/jwt_interop.py (PyJWT +
cryptography), so nothing on the client side is kumo's code.

Phases:
  main    happy path, sessions, API keys, throttling, JWT attacks at the RPC
          level, tenant isolation (checked in the database), hostile strings,
          concurrent UpdateUser, no secrets in the server log
  rehash  (server restarted with stronger argon2 parameters) a login
          rehashes the stored password

Prints TAP lines "ok - users: CASE" / "not ok - users: CASE"; exits 1 if any
case failed.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import grpc
import jwt
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SERVICE = "/kumo.users.v1.UserService/"
TIMEOUT = 20.0
MIB = 1024 * 1024
C = grpc.StatusCode

failures = 0
SECRETS = set()  # every secret seen: none may appear in the server log


def report(ok, name, diag=None):
    global failures
    print(("ok - users: " if ok else "not ok - users: ") + name, flush=True)
    if not ok:
        failures += 1
        if diag:
            for line in str(diag).splitlines()[:20]:
                print("#   " + line, flush=True)
    return ok


def load_messages(root):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "users.binpb")
        subprocess.run(["protoc", "-I/usr/include", "-I" + os.path.join(root, "proto"),
                        "--include_imports", "--descriptor_set_out=" + out,
                        "kumo/users/v1/users.proto"], check=True)
        with open(out, "rb") as f:
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return pool, message_factory.MessageFactory(pool).GetMessages([f.name for f in fds.file])


class Result:
    """Outcome of one call: resp (message or None), code, details."""

    def __init__(self, resp, code, details, trailers=None):
        self.resp, self.code, self.details = resp, code, details
        self.trailers = trailers or {}

    def __repr__(self):
        return "%s %r" % (self.code, self.details)


class Client:
    def __init__(self, target, messages):
        self.M = messages
        opts = [("grpc.max_send_message_length", 16 * MIB),
                ("grpc.max_receive_message_length", 16 * MIB),
                ("grpc.max_metadata_size", 2 * MIB),
                ("grpc.enable_retries", 0)]
        self.channel = grpc.insecure_channel(target, options=opts)
        self.target = target

    def call(self, method, req=None, token=None, xff=None, raw=None, metadata=None):
        """req: a message (or None with raw bytes). Returns a Result."""
        md = list(metadata or [])
        if token is not None:
            md.append(("authorization", "Bearer " + token))
        if xff is not None:
            md.append(("x-forwarded-for", xff))
        body = raw if raw is not None else req.SerializeToString()
        out_type = self.M["kumo.users.v1." + method + "Response"]
        stub = self.channel.unary_unary(SERVICE + method, request_serializer=None,
                                        response_deserializer=None)
        try:
            data = stub(body, timeout=TIMEOUT, metadata=md or None)
            return Result(out_type.FromString(data), C.OK, "")
        except grpc.RpcError as e:
            return Result(None, e.code(), e.details(), dict(e.trailing_metadata() or ()))

    def new(self, type_name, **kw):
        return self.M["kumo.users.v1." + type_name](**kw)


def expect(name, r, code, details=None):
    ok = r.code == code and (details is None or r.details == details)
    return report(ok, name, "expected %s%s, got %r" % (code, "" if details is None else
                                                        " %r" % details, r))


def sql(args, query):
    out = subprocess.run([os.path.join(args.root, "scripts", "mariadb"), "sql", args.db_dir,
                          "-N", "-B", "kumo_users", "-e", query],
                         capture_output=True, check=True)
    return [line.split("\t") for line in out.stdout.decode().splitlines()]


def read_secret(path):
    with open(path) as f:
        return f.read().strip()


def jwks_of(args):
    with urllib.request.urlopen("http://127.0.0.1:%d/.well-known/jwks.json" % args.admin_port) as r:
        return r.read().decode(), r.headers.get("content-type")


def verify_jwt(jwks_text, token, iss="kumo-users", aud="kumo"):
    keys = jwt.PyJWKSet.from_json(jwks_text)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["ES256"], issuer=iss, audience=aud,
                      options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]})


class World:
    """Tenants, users and tokens the cases share."""


# ---- raw protobuf encoding, to send what python protobuf refuses to ---------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ld_field(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def with_raw(msg, path, raw):
    """Serializes msg with the string at `path` (list of field names)
    replaced by the raw bytes `raw`."""
    m = type(msg)()
    m.CopyFrom(msg)
    head = path[0]
    fd = m.DESCRIPTOR.fields_by_name[head]
    if len(path) == 1:
        if fd.label == fd.LABEL_REPEATED:
            del getattr(m, head)[:]
        else:
            m.ClearField(head)
        return m.SerializeToString() + ld_field(fd.number, raw)
    sub = getattr(m, head)
    inner = with_raw(sub, path[1:], raw)
    m.ClearField(head)
    return m.SerializeToString() + ld_field(fd.number, inner)


def set_path(msg, path, value):
    for name in path[:-1]:
        msg = getattr(msg, name)
    fd = msg.DESCRIPTOR.fields_by_name[path[-1]]
    if fd.label == fd.LABEL_REPEATED:
        del getattr(msg, path[-1])[:]
        getattr(msg, path[-1]).append(value)
    else:
        setattr(msg, path[-1], value)


def string_paths(desc, prefix=(), depth=0):
    """Every string field of a message type, nested ones included."""
    out = []
    for f in desc.fields:
        if f.type == f.TYPE_STRING:
            out.append(prefix + (f.name,))
        elif f.type == f.TYPE_MESSAGE and depth < 2 and \
                f.message_type.full_name != "google.protobuf.Timestamp":
            out.extend(string_paths(f.message_type, prefix + (f.name,), depth + 1))
    return out


# ---- the cases -----------------------------------------------------------------

def login(c, tenant, email, password, xff=None):
    r = c.call("Authenticate", c.new("AuthenticateRequest", tenant=tenant, email=email,
                                      password=password), xff=xff)
    if r.code == C.OK:
        SECRETS.add(r.resp.access_token)
        SECRETS.add(r.resp.refresh_token)
    return r


def case_setup(c, args, w):
    w.sys_pass = read_secret(args.sys_password_file)
    w.demo_pass = read_secret(args.demo_password_file)
    SECRETS.update([w.sys_pass, w.demo_pass])
    w.jwks, ctype = jwks_of(args)
    r = c.call("GetJwks", c.new("GetJwksRequest"))
    expect("GetJwks needs no token", r, C.OK)
    doc = json.loads(w.jwks)
    report(r.resp is not None and json.loads(r.resp.jwks_json) == doc and len(doc["keys"]) == 2
           and ctype == "application/jwk-set+json",
           "GetJwks equals GET /.well-known/jwks.json (2 keys: active + rotation)", ctype)
    report(all("d" not in k for k in doc["keys"]), "JWKS holds no private key material")
    r = login(c, "system", "admin@kumo.local", w.sys_pass)
    if not expect("system admin signs in", r, C.OK):
        raise SystemExit(1)
    w.sys = r.resp
    claims = verify_jwt(w.jwks, w.sys.access_token)
    report(claims["roles"] == ["admin"] and claims["sub"] == w.sys.user.id and
           claims["tid"] == w.sys.user.tenant_id and claims["exp"] - claims["iat"] == 900,
           "access token verifies with the JWKS (PyJWT) and carries sub/tid/roles, 15 min", claims)
    r = login(c, "demo", "admin@demo.local", w.demo_pass)
    expect("demo admin signs in", r, C.OK)
    w.demo = r.resp
    w.a_pass, w.b_pass = "acme-admin-password-1", "globex-admin-password-1"
    SECRETS.update([w.a_pass, w.b_pass])
    tok = w.sys.access_token
    r = c.call("CreateTenant", c.new("CreateTenantRequest", slug="acme", name="Acme Corp",
                                     admin_email="Alice@Acme.example", admin_display_name="Alice",
                                     admin_password=w.a_pass), token=tok)
    expect("system admin creates tenant A with its first admin", r, C.OK)
    w.ta, w.alice_user = r.resp.tenant, r.resp.admin
    r = c.call("CreateTenant", c.new("CreateTenantRequest", slug="globex", name="Globex",
                                     admin_email="bob@globex.example", admin_display_name="Bob",
                                     admin_password=w.b_pass), token=tok)
    expect("system admin creates tenant B", r, C.OK)
    w.tb = r.resp.tenant
    r = c.call("CreateTenant", c.new("CreateTenantRequest", slug="acme", name="Again",
                                     admin_email="x@acme.example", admin_password=w.a_pass),
               token=tok)
    expect("CreateTenant with a taken slug: already_exists", r, C.ALREADY_EXISTS)
    r = c.call("CreateTenant", c.new("CreateTenantRequest", slug="nope", name="Nope",
                                     admin_email="x@nope.example", admin_password=w.a_pass),
               token=w.demo.access_token)
    expect("a tenant admin cannot CreateTenant: permission_denied", r, C.PERMISSION_DENIED)
    r = c.call("GetTenant", c.new("GetTenantRequest", tenant_id=w.tb.id), token=tok)
    report(r.code == C.OK and r.resp.tenant.slug == "globex", "system admin GetTenant of any tenant", r)
    r = login(c, "acme", "alice@acme.example", w.a_pass)
    expect("tenant A admin signs in (e-mail compared case-insensitively)", r, C.OK)
    w.alice = r.resp
    report(w.alice.user.email == "Alice@Acme.example", "e-mail kept as written",
           w.alice.user.email)
    r = login(c, "globex", "bob@globex.example", w.b_pass)
    expect("tenant B admin signs in", r, C.OK)
    w.bob = r.resp
    r = c.call("GetTenant", c.new("GetTenantRequest"), token=w.alice.access_token)
    report(r.code == C.OK and r.resp.tenant.id == w.ta.id, "GetTenant with no id: the caller's", r)


def case_users(c, args, w):
    A = w.alice.access_token
    w.ed_pass, w.vi_pass = "editor-password-1", "viewer-password-1"
    SECRETS.update([w.ed_pass, w.vi_pass])
    r = c.call("CreateUser", c.new("CreateUserRequest", email="ed@acme.example",
                                   display_name="Ed", role=2, password=w.ed_pass), token=A)
    expect("admin creates an editor", r, C.OK)
    w.ed_user = r.resp.user
    report(r.resp.user.etag == "1" and r.resp.user.tenant_id == w.ta.id and r.resp.user.role == 2,
           "new user: etag, tenant and role", r.resp.user)
    r = c.call("CreateUser", c.new("CreateUserRequest", email="vi@acme.example",
                                   display_name="Vi", role=1, password=w.vi_pass), token=A)
    expect("admin creates a viewer", r, C.OK)
    w.vi_user = r.resp.user
    r = c.call("CreateUser", c.new("CreateUserRequest", email="ED@acme.example",
                                   display_name="Ed2", role=1, password=w.vi_pass), token=A)
    expect("duplicate e-mail (other case): already_exists", r, C.ALREADY_EXISTS)
    r = c.call("CreateUser", c.new("CreateUserRequest", email="short@acme.example",
                                   role=1, password="short"), token=A)
    expect("password under 12 bytes: invalid_argument", r, C.INVALID_ARGUMENT)
    r = c.call("CreateUser", c.new("CreateUserRequest", email="svc@acme.example", role=4,
                                   password=w.vi_pass), token=A)
    expect("creating a user with role service: permission_denied", r, C.PERMISSION_DENIED)
    r = c.call("CreateUser", c.new("CreateUserRequest", email="bad-email", role=1,
                                   password=w.vi_pass), token=A)
    expect("malformed e-mail: invalid_argument", r, C.INVALID_ARGUMENT)
    r = c.call("CreateUser", c.new("CreateUserRequest", email="r9@acme.example", role=9,
                                   password=w.vi_pass), token=A)
    expect("unknown role number: invalid_argument", r, C.INVALID_ARGUMENT)
    r = login(c, "acme", "ed@acme.example", w.ed_pass)
    expect("editor signs in", r, C.OK)
    w.ed = r.resp
    r = login(c, "acme", "vi@acme.example", w.vi_pass)
    w.vi = r.resp
    E = w.ed.access_token
    r = c.call("CreateUser", c.new("CreateUserRequest", email="x@acme.example", role=1,
                                   password=w.vi_pass), token=E)
    expect("editor cannot CreateUser: permission_denied", r, C.PERMISSION_DENIED)
    r = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id), token=E)
    report(r.code == C.OK and r.resp.user.email == "Alice@Acme.example",
           "a member reads another member of the tenant", r)
    r = c.call("GetUser", c.new("GetUserRequest", id="us_doesnotexist0000000"), token=E)
    expect("GetUser of an unknown id: not_found", r, C.NOT_FOUND)

    # Role rules.
    def upd(tok, user, paths, etag, **fields):
        u = c.new("User", id=user.id, **fields)
        req = c.new("UpdateUserRequest", user=u, etag=etag)
        req.update_mask.paths.extend(paths)
        return c.call("UpdateUser", req, token=tok)

    cur = c.call("GetUser", c.new("GetUserRequest", id=w.ed_user.id), token=A).resp.user
    r = upd(E, w.ed_user, ["role"], cur.etag, role=3)
    expect("nobody raises their own role (editor -> admin): permission_denied", r,
           C.PERMISSION_DENIED)
    r = upd(E, w.vi_user, ["display_name"], "1", display_name="x")
    expect("an editor cannot change another user: permission_denied", r, C.PERMISSION_DENIED)
    r = upd(E, w.ed_user, ["display_name"], cur.etag, display_name="Edward")
    report(r.code == C.OK and r.resp.user.display_name == "Edward" and
           r.resp.user.etag != cur.etag, "anyone changes their own display_name; etag moves", r)
    r = upd(E, w.ed_user, ["display_name"], cur.etag, display_name="Stale")
    expect("UpdateUser with a stale etag: aborted", r, C.ABORTED)
    me = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id), token=A).resp.user
    r = upd(A, w.alice_user, ["role"], me.etag, role=2)
    expect("an admin cannot change its own role: permission_denied", r, C.PERMISSION_DENIED)
    r = upd(A, w.alice_user, ["disabled"], me.etag, disabled=True)
    expect("an admin cannot disable itself: permission_denied", r, C.PERMISSION_DENIED)
    r = upd(A, w.vi_user, ["bogus"], "1")
    expect("unknown update_mask path: invalid_argument", r, C.INVALID_ARGUMENT)
    r = upd(A, w.vi_user, ["display_name"], "", display_name="x")
    expect("UpdateUser without etag: invalid_argument", r, C.INVALID_ARGUMENT)
    r = upd(A, w.vi_user, ["role"], "1", role=4)
    expect("UpdateUser to role service: permission_denied", r, C.PERMISSION_DENIED)
    r = upd(A, w.vi_user, ["email", "display_name"], "1", email="Viv@acme.example",
            display_name="Viv")
    report(r.code == C.OK and r.resp.user.email == "Viv@acme.example" and
           r.resp.user.display_name == "Viv" and r.resp.user.etag == "2",
           "admin changes e-mail and display name in one update", r)
    r = upd(A, w.vi_user, ["email"], "2", email="alice@ACME.example")
    expect("UpdateUser to a taken e-mail: already_exists", r, C.ALREADY_EXISTS)

    # ChangePassword.
    r = c.call("ChangePassword", c.new("ChangePasswordRequest", current_password="wrong-password",
                                       new_password="new-editor-password"), token=E)
    expect("ChangePassword with a wrong current password: permission_denied", r,
           C.PERMISSION_DENIED)
    r = c.call("ChangePassword", c.new("ChangePasswordRequest", new_password="new-editor-pw-1"),
               token=E)
    expect("own ChangePassword without current_password: invalid_argument", r,
           C.INVALID_ARGUMENT)
    r = c.call("ChangePassword", c.new("ChangePasswordRequest", user_id=w.vi_user.id,
                                       new_password="new-viewer-pw-1"), token=E)
    expect("an editor cannot change another's password: permission_denied", r,
           C.PERMISSION_DENIED)
    w.ed_pass2 = "new-editor-password-2"
    SECRETS.add(w.ed_pass2)
    r = c.call("ChangePassword", c.new("ChangePasswordRequest", current_password=w.ed_pass,
                                       new_password=w.ed_pass2), token=E)
    expect("own ChangePassword with the current password", r, C.OK)
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=w.ed.refresh_token))
    expect("ChangePassword revoked the user's refresh tokens", r, C.UNAUTHENTICATED)
    expect("old password no longer signs in", login(c, "acme", "ed@acme.example", w.ed_pass,
                                                     xff="192.0.2.50"), C.UNAUTHENTICATED)
    r = login(c, "acme", "ed@acme.example", w.ed_pass2)
    expect("new password signs in", r, C.OK)
    w.ed = r.resp
    w.vi_pass2 = "admin-set-viewer-pw"
    SECRETS.add(w.vi_pass2)
    r = c.call("ChangePassword", c.new("ChangePasswordRequest", user_id=w.vi_user.id,
                                       new_password=w.vi_pass2), token=A)
    expect("admin resets a member's password without the current one", r, C.OK)
    expect("reset password signs in", login(c, "acme", "viv@acme.example", w.vi_pass2), C.OK)

    # Disable and delete.
    cur = c.call("GetUser", c.new("GetUserRequest", id=w.vi_user.id), token=A).resp.user
    vi_sess = login(c, "acme", "viv@acme.example", w.vi_pass2).resp
    r = upd(A, w.vi_user, ["disabled"], cur.etag, disabled=True)
    report(r.code == C.OK and r.resp.user.disabled, "admin disables a user", r)
    expect("a disabled user cannot sign in (same error)",
           login(c, "acme", "viv@acme.example", w.vi_pass2, xff="192.0.2.51"),
           C.UNAUTHENTICATED, "invalid credentials")
    expect("disabling revoked the user's refresh tokens",
           c.call("RefreshToken", c.new("RefreshTokenRequest",
                                        refresh_token=vi_sess.refresh_token)), C.UNAUTHENTICATED)
    r = c.call("DeleteUser", c.new("DeleteUserRequest", id=w.alice_user.id), token=A)
    expect("nobody deletes themselves: permission_denied", r, C.PERMISSION_DENIED)
    r = c.call("DeleteUser", c.new("DeleteUserRequest", id=w.vi_user.id, etag="1"), token=A)
    expect("DeleteUser with a stale etag: aborted", r, C.ABORTED)
    r = c.call("DeleteUser", c.new("DeleteUserRequest", id=w.vi_user.id), token=E)
    expect("an editor cannot DeleteUser: permission_denied", r, C.PERMISSION_DENIED)
    r = c.call("DeleteUser", c.new("DeleteUserRequest", id=w.vi_user.id), token=A)
    expect("admin deletes a user", r, C.OK)
    expect("deleted user: not_found", c.call("GetUser", c.new("GetUserRequest", id=w.vi_user.id),
                                             token=A), C.NOT_FOUND)
    rows = sql(args, "SELECT COUNT(*) FROM refresh_families WHERE user_id = '%s'" % w.vi_user.id)
    report(rows == [["0"]], "deleting a user removed its sessions (database)", rows)


def case_pagination(c, args, w):
    A = w.alice.access_token
    pw = "page-user-password"
    made = []
    for i in range(7):
        r = c.call("CreateUser", c.new("CreateUserRequest", email="p%d@acme.example" % i,
                                       display_name="Pager %d" % i, role=1 + i % 2, password=pw),
                   token=A)
        made.append(r.resp.user.id if r.code == C.OK else None)
    report(all(made), "seven more users created", made)
    seen, token, pages, inserted = [], "", 0, None
    while True:
        r = c.call("ListUsers", c.new("ListUsersRequest", page_size=3, page_token=token), token=A)
        if r.code != C.OK:
            report(False, "ListUsers pages", r)
            return
        pages += 1
        seen.extend(u.id for u in r.resp.users)
        if pages == 1:
            # A row inserted mid-listing shows up at the end, nothing skipped.
            ins = c.call("CreateUser", c.new("CreateUserRequest", email="late@acme.example",
                                             display_name="Late", role=1, password=pw), token=A)
            inserted = ins.resp.user.id if ins.code == C.OK else None
        token = r.resp.next_page_token
        if not token or pages > 20:
            break
    db = [row[0] for row in sql(args, "SELECT id FROM users WHERE tenant_id = '%s' ORDER BY seq"
                                % w.ta.id)]
    report(seen == db and inserted in seen and len(set(seen)) == len(seen),
           "cursor pagination (page_size 3): every user once, in order, stable under an insert "
           "(%d users, %d pages)" % (len(seen), pages), "seen=%s db=%s" % (seen, db))
    r = c.call("ListUsers", c.new("ListUsersRequest", page_size=2, role=2), token=A)
    report(r.code == C.OK and all(u.role == 2 for u in r.resp.users) and r.resp.next_page_token,
           "ListUsers filters by role", r)
    r2 = c.call("ListUsers", c.new("ListUsersRequest", page_size=2, role=1,
                                   page_token=r.resp.next_page_token), token=A)
    expect("a page token replayed with another filter: invalid_argument", r2, C.INVALID_ARGUMENT)
    r = c.call("ListUsers", c.new("ListUsersRequest", query="PAGER 3"), token=A)
    report(r.code == C.OK and [u.display_name for u in r.resp.users] == ["Pager 3"],
           "ListUsers text query (case-insensitive substring)", r)
    r = c.call("ListUsers", c.new("ListUsersRequest", query="%"), token=A)
    report(r.code == C.OK and len(r.resp.users) == 0, "LIKE metacharacters match literally", r)
    r = c.call("ListUsers", c.new("ListUsersRequest", page_size=-1), token=A)
    expect("negative page_size: invalid_argument", r, C.INVALID_ARGUMENT)
    r = c.call("ListUsers", c.new("ListUsersRequest", page_size=100000), token=A)
    report(r.code == C.OK and len(r.resp.users) == len(db) and not r.resp.next_page_token,
           "huge page_size is clamped (100)", r)
    r = c.call("ListUsers", c.new("ListUsersRequest", page_token="garbage"), token=A)
    expect("garbage page token: invalid_argument", r, C.INVALID_ARGUMENT)
    w.pager_ids = made


def case_sessions(c, args, w):
    r = login(c, "acme", "ed@acme.example", w.ed_pass2)
    s1 = r.resp
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=s1.refresh_token))
    if not expect("RefreshToken rotates", r, C.OK):
        return
    s2 = r.resp
    SECRETS.update([s2.access_token, s2.refresh_token])
    claims = verify_jwt(w.jwks, s2.access_token)
    report(s2.refresh_token != s1.refresh_token and claims["sub"] == w.ed_user.id and
           claims["roles"] == ["editor"], "refreshed access token verifies with the JWKS", claims)
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=s2.refresh_token))
    expect("the new refresh token works", r, C.OK)
    s3 = r.resp
    SECRETS.update([s3.access_token, s3.refresh_token])
    # KUMO_REFRESH_REUSE_GRACE is 2 s here (tests/integration/users/run).
    # s2 was spent just now: presented again within the window (a reload
    # whose answer was lost), it rotates again and the login lives on.
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=s2.refresh_token))
    if expect("a spent refresh token again within the grace window rotates", r, C.OK):
        SECRETS.update([r.resp.access_token, r.resp.refresh_token])
        report(r.resp.refresh_token not in (s2.refresh_token, s3.refresh_token),
               "the grace rotation gives a new refresh token")
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=s3.refresh_token))
    expect("the family is alive after a reuse within the window", r, C.OK)
    s3 = r.resp
    SECRETS.update([s3.access_token, s3.refresh_token])
    time.sleep(2.3)
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=s1.refresh_token))
    expect("reusing a spent refresh token after the window: unauthenticated", r, C.UNAUTHENTICATED)
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=s3.refresh_token))
    expect("reuse revoked the whole family (latest token dead too)", r, C.UNAUTHENTICATED)
    rows = sql(args, "SELECT DISTINCT f.revoke_reason FROM refresh_families f JOIN refresh_tokens t"
               " ON t.family_id = f.id WHERE f.user_id = '%s' AND f.revoke_reason = 'reuse'"
               % w.ed_user.id)
    report(rows == [["reuse"]], "family marked revoked for reuse (database)", rows)
    stored = sql(args, "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash IN ('%s','%s')"
                 % (s1.refresh_token, s2.refresh_token))
    report(stored == [["0"]], "refresh tokens are not stored in clear (database)", stored)
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token="not-a-token"))
    expect("malformed refresh token: unauthenticated", r, C.UNAUTHENTICATED)
    # Logout.
    s = login(c, "acme", "ed@acme.example", w.ed_pass2).resp
    # Logout is public: the refresh token is the proof of possession (a
    # browser ending its session may hold no live access token).
    r = c.call("Logout", c.new("LogoutRequest", refresh_token="x" * 43))
    expect("Logout of an unknown refresh token: unauthenticated", r, C.UNAUTHENTICATED)
    r = c.call("Logout", c.new("LogoutRequest", refresh_token="not-a-token"))
    expect("Logout of a malformed refresh token: unauthenticated", r, C.UNAUTHENTICATED)
    other = login(c, "acme", "ed@acme.example", w.ed_pass2).resp
    SECRETS.update([s.access_token, s.refresh_token, other.access_token, other.refresh_token])
    r = c.call("Logout", c.new("LogoutRequest", refresh_token=s.refresh_token))
    expect("Logout without an access token", r, C.OK)
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=s.refresh_token))
    expect("logged-out refresh token: unauthenticated", r, C.UNAUTHENTICATED)
    r = c.call("RefreshToken", c.new("RefreshTokenRequest", refresh_token=other.refresh_token))
    expect("Logout revokes only its own family (another session lives on)", r, C.OK)
    SECRETS.update([r.resp.access_token, r.resp.refresh_token])
    r = c.call("Logout", c.new("LogoutRequest", refresh_token=s.refresh_token))
    expect("Logout again with the same token (idempotent)", r, C.OK)
    w.ed = login(c, "acme", "ed@acme.example", w.ed_pass2).resp


def case_login_errors(c, args, w):
    """Same error for unknown user and wrong password, with the same work."""
    def timed(tenant, email, pw, xff):
        t0 = time.monotonic()
        r = login(c, tenant, email, pw, xff=xff)
        return r, time.monotonic() - t0

    wrong = [timed("acme", "alice@acme.example", "wrong-password-%d" % i, "192.0.2.%d" % (60 + i))
             for i in range(3)]
    unknown = [timed("acme", "nobody%d@acme.example" % i, "wrong-password", "192.0.2.%d" % (70 + i))
               for i in range(3)]
    notenant = timed("no-such-tenant", "alice@acme.example", w.a_pass, "192.0.2.80")
    codes = {(r.code, r.details) for r, _ in wrong + unknown + [notenant]}
    report(codes == {(C.UNAUTHENTICATED, "invalid credentials")},
           "unknown user, unknown tenant and wrong password give the same error", codes)
    tw = sorted(d for _, d in wrong)[1]
    tu = sorted(d for _, d in unknown)[1]
    report(tu > 0.5 * tw, "an unknown user costs argon2 work too (median %.1f ms vs %.1f ms)"
           % (tu * 1000, tw * 1000))
    # The account is not locked by three failures; reset by a success.
    expect("correct password still works after a few failures",
           login(c, "acme", "alice@acme.example", w.a_pass), C.OK)


def case_throttling(c, args, w):
    A = w.alice.access_token
    pw = "throttled-user-pw"
    c.call("CreateUser", c.new("CreateUserRequest", email="t@acme.example", role=1, password=pw),
           token=A)
    codes = [login(c, "acme", "t@acme.example", "wrong-password-x", xff="198.18.0.%d" % i).code
             for i in range(5)]
    report(codes == [C.UNAUTHENTICATED] * 5, "5 failed logins of one account (5 addresses)",
           codes)
    # OWASP: failures from other addresses never lock the owner out.
    r = login(c, "acme", "t@acme.example", pw, xff="198.18.0.99")
    expect("then the correct password from a 6th address: ok (no lockout for everybody)", r,
           C.OK)
    codes = [login(c, "acme", "t@acme.example", "wrong-password-y", xff="198.18.1.1").code
             for i in range(5)]
    r = login(c, "acme", "t@acme.example", pw, xff="198.18.1.1")
    expect("5 failures of the account from one address: that address is refused for it", r,
           C.RESOURCE_EXHAUSTED)
    ra = r.trailers.get("retry-after", "")
    report(ra.isdigit() and 1 <= int(ra) <= 1800, "with a retry-after trailer (seconds)", ra)
    r = login(c, "acme", "t@acme.example", pw, xff="198.18.1.2")
    expect("while another address signs in to the same account", r, C.OK)
    codes = [login(c, "acme", "u%d@acme.example" % i, "wrong-password-x",
                   xff="198.51.100.7").code for i in range(10)]
    report(codes == [C.UNAUTHENTICATED] * 10, "10 failed logins from one address", codes)
    r = login(c, "acme", "ed@acme.example", w.ed_pass2, xff="203.0.113.9, 198.51.100.7")
    expect("11th from that address (last x-forwarded-for hop): resource_exhausted", r,
           C.RESOURCE_EXHAUSTED)
    r = login(c, "acme", "ed@acme.example", w.ed_pass2, xff="198.51.100.7, 198.51.100.8")
    expect("a spoofed first x-forwarded-for hop does not matter; another address signs in", r,
           C.OK)
    r = c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key="kumo_x"),
               xff="198.51.100.7")
    expect("ExchangeApiKey from a throttled address: resource_exhausted", r, C.RESOURCE_EXHAUSTED)


def case_api_keys(c, args, w):
    A, E = w.alice.access_token, w.ed.access_token
    r = c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="ci", role=2), token=A)
    if not expect("admin creates an API key", r, C.OK):
        return
    k1 = r.resp
    SECRETS.add(k1.secret)
    report(k1.secret.startswith("kumo_" + k1.api_key.id + "_") and len(k1.secret) == 65,
           "the secret is kumo_<id>_<secret>", k1.secret[:22])
    rows = sql(args, "SELECT secret_hash FROM api_keys WHERE id = '%s'" % k1.api_key.id)
    report(rows and k1.secret.split("_")[-1] not in rows[0][0] and len(rows[0][0]) == 64,
           "only a keyed hash of the key is stored (database)")
    r = c.call("ListApiKeys", c.new("ListApiKeysRequest"), token=A)
    report(r.code == C.OK and k1.api_key.id in [k.id for k in r.resp.api_keys] and
           k1.secret not in str(r.resp) and k1.secret[22:] not in r.resp.SerializeToString().decode(
               "latin1"), "ListApiKeys lists it without the secret", r)
    r = c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=k1.secret))
    if not expect("ExchangeApiKey (public)", r, C.OK):
        return
    SECRETS.add(r.resp.access_token)
    claims = verify_jwt(w.jwks, r.resp.access_token)
    report(claims["tid"] == w.ta.id and claims["roles"] == ["editor"] and
           claims["sub"] == "ak_" + k1.api_key.id and claims["exp"] - claims["iat"] == 300,
           "exchanged token: tenant and role of the key, 5 minutes, verifies with the JWKS", claims)
    K = r.resp.access_token
    expect("the key's token reads users", c.call("GetUser", c.new("GetUserRequest",
                                                                  id=w.alice_user.id), token=K),
           C.OK)
    expect("the key's token (editor) cannot CreateUser",
           c.call("CreateUser", c.new("CreateUserRequest", email="k@acme.example", role=1,
                                      password="key-made-password"), token=K),
           C.PERMISSION_DENIED)
    expect("an API-key principal cannot create keys",
           c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="chain", role=1), token=K),
           C.PERMISSION_DENIED)
    r = c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=k1.secret,
                                       tenant_id=w.tb.id))
    expect("a tenant key naming another tenant: permission_denied", r, C.PERMISSION_DENIED)
    r = c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="ci", role=2), token=A)
    expect("a second live key of the same name (rotation)", r, C.OK)
    k2 = r.resp
    SECRETS.add(k2.secret)
    r = c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="ci", role=2), token=A)
    expect("a third live key of the same name: failed_precondition", r, C.FAILED_PRECONDITION)
    expect("both keys work during rotation",
           c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=k2.secret)), C.OK)
    r = c.call("RevokeApiKey", c.new("RevokeApiKeyRequest", id=k1.api_key.id), token=A)
    expect("RevokeApiKey", r, C.OK)
    expect("revoked key: unauthenticated",
           c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=k1.secret),
                  xff="192.0.2.90"), C.UNAUTHENTICATED)
    expect("revoking again is fine", c.call("RevokeApiKey", c.new("RevokeApiKeyRequest",
                                                                  id=k1.api_key.id), token=A),
           C.OK)
    bad = k2.secret[:-3] + ("AAA" if k2.secret[-3:] != "AAA" else "BBB")
    expect("a key with a wrong secret: unauthenticated",
           c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=bad),
                  xff="192.0.2.91"), C.UNAUTHENTICATED)
    r = c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="admin-key", role=3), token=E)
    expect("an editor cannot make an admin key", r, C.PERMISSION_DENIED)
    r = c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="mine", role=1), token=E)
    expect("an editor makes a viewer key of its own", r, C.OK)
    ke = r.resp
    SECRETS.add(ke.secret)
    r = c.call("ListApiKeys", c.new("ListApiKeysRequest"), token=E)
    report(r.code == C.OK and [k.id for k in r.resp.api_keys] == [ke.api_key.id],
           "a non-admin lists only its own keys", r)
    expect("a non-admin cannot revoke another's key",
           c.call("RevokeApiKey", c.new("RevokeApiKeyRequest", id=k2.api_key.id), token=E),
           C.NOT_FOUND)
    # Expiry.
    exp = c.new("CreateApiKeyRequest", name="short", role=1)
    exp.expire_time.FromSeconds(int(time.time()) + 2)
    r = c.call("CreateApiKey", exp, token=A)
    expect("a key with an expiry", r, C.OK)
    ks = r.resp
    SECRETS.add(ks.secret)
    expect("usable before expiry", c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest",
                                                                  api_key=ks.secret)), C.OK)
    past = c.new("CreateApiKeyRequest", name="past", role=1)
    past.expire_time.FromSeconds(int(time.time()) - 10)
    expect("an expiry in the past: invalid_argument", c.call("CreateApiKey", past, token=A),
           C.INVALID_ARGUMENT)
    time.sleep(2.2)
    expect("expired key: unauthenticated",
           c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=ks.secret),
                  xff="192.0.2.92"), C.UNAUTHENTICATED)
    # Service principals.
    docs = read_secret(os.path.join(args.keys_dir, "documents.apikey"))
    storage = read_secret(os.path.join(args.keys_dir, "storage.apikey"))
    SECRETS.update([docs, storage])
    r = c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=docs))
    expect("a service key must name the tenant: invalid_argument", r, C.INVALID_ARGUMENT)
    r = c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=docs,
                                       tenant_id="tn_nosuchtenant000000"))
    expect("a service key naming an unknown tenant: not_found", r, C.NOT_FOUND)
    r = c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=docs, tenant_id=w.ta.id))
    expect("a service key exchanged for tenant A", r, C.OK)
    S = r.resp.access_token
    SECRETS.add(S)
    claims = verify_jwt(w.jwks, S)
    report(claims["sub"] == "documents" and claims["tid"] == w.ta.id and
           claims["roles"] == ["service"], "service token: sub names the service, tid the tenant",
           claims)
    r = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id), token=S)
    expect("an allowed service principal reads a user of the named tenant", r, C.OK)
    r = c.call("GetUser", c.new("GetUserRequest", id=w.bob.user.id), token=S)
    expect("... but not one of another tenant: not_found", r, C.NOT_FOUND)
    r = c.call("CreateUser", c.new("CreateUserRequest", email="s@acme.example", role=1,
                                   password="service-made-pw"), token=S)
    expect("a service principal cannot CreateUser", r, C.PERMISSION_DENIED)
    r = c.call("ExchangeApiKey", c.new("ExchangeApiKeyRequest", api_key=storage, tenant_id=w.ta.id))
    St = r.resp.access_token if r.code == C.OK else ""
    SECRETS.add(St)
    r = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id), token=St)
    expect("a service not allowed to call kumo-users (storage): unauthenticated", r,
           C.UNAUTHENTICATED)
    r = c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="newsvc", role=4),
               token=w.alice.access_token)
    expect("a tenant admin cannot make service keys", r, C.PERMISSION_DENIED)
    r = c.call("CreateApiKey", c.new("CreateApiKeyRequest", name="newsvc", role=4),
               token=w.sys.access_token)
    expect("a system admin makes a service key", r, C.OK)
    if r.code == C.OK:
        SECRETS.add(r.resp.secret)
    w.k2 = k2


def case_jwt_attacks(c, args, w):
    """Every forged token of jwt_interop.py at the RPC level: unauthenticated."""
    with tempfile.TemporaryDirectory() as tmp:
        jwks_path = os.path.join(tmp, "jwks.json")
        pub_path = os.path.join(tmp, "pub.pem")
        with open(jwks_path, "w") as f:
            f.write(w.jwks)
        subprocess.run(["openssl", "pkey", "-in", args.priv, "-pubout", "-out", pub_path],
                       check=True, capture_output=True)
        kid = jwt.get_unverified_header(w.alice.access_token)["kid"]
        out = subprocess.run(
            ["/usr/bin/python3", os.path.join(args.root, "tests/unit/common/auth/jwt_interop.py"),
             "forge", "--priv", args.priv, "--pub", pub_path, "--jwks", jwks_path,
             # "=": a thumbprint may start with "-", which argparse would take for an option
             "--kid=" + kid,
             "--iss", "kumo-users", "--aud", "kumo", "--now", str(int(time.time()))],
            capture_output=True, check=True).stdout.decode()
    cases = [line.split("\t") for line in out.splitlines() if line]
    bad = []
    n_attacks = 0
    for expect_, name, tok in cases:
        r = c.call("GetUser", c.new("GetUserRequest", id="us_whatever"), token=tok)
        payload = json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "==")) \
            if expect_ == "ok" else {}
        if expect_ == "ok" and "service" in payload.get("roles", []):
            # Valid, but "user-1" is no service allowed to call kumo-users.
            if r.code != C.UNAUTHENTICATED:
                bad.append("%s: %s" % (name, r))
        elif expect_ == "ok":
            # Well-formed token of a tenant that does not exist: past auth.
            if r.code != C.NOT_FOUND:
                bad.append("%s: %s" % (name, r))
        else:
            n_attacks += 1
            if r.code != C.UNAUTHENTICATED:
                bad.append("%s: %s" % (name, r))
    report(not bad and n_attacks >= 40, "JWT attack suite over RPC: %d forged tokens all "
           "unauthenticated, %d valid ones pass" % (n_attacks, len(cases) - n_attacks), bad)
    # Tokens the suite above does not build.
    now = int(time.time())
    with open(args.priv2, "rb") as f:
        priv2 = f.read()
    kid2 = [k["kid"] for k in json.loads(w.jwks)["keys"] if k["kid"] != kid][0]
    base = {"iss": "kumo-users", "aud": "kumo", "sub": w.alice_user.id, "tid": w.ta.id,
            "roles": ["admin"], "iat": now, "nbf": now, "exp": now + 300, "jti": "t-rot-1"}
    tok = jwt.encode(base, priv2, algorithm="ES256", headers={"kid": kid2})
    expect("a token signed by the second (rotation) key is accepted",
           c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id), token=tok), C.OK)
    with open(args.priv, "rb") as f:
        priv1 = f.read()
    more = {
        "exp_huge": dict(base, exp=now + 10 ** 12),
        "ttl_beyond_max": dict(base, exp=now + 3 * 86400),
        "iat_future": dict(base, iat=now + 3600, nbf=now, exp=now + 3900),
        "wrong_iss": dict(base, iss="kumo-userz"),
        "wrong_aud": dict(base, aud="kumo2"),
        "roles_unknown": dict(base, roles=["root"]),
        "roles_empty": dict(base, roles=[]),
        "tid_missing": {k: v for k, v in base.items() if k != "tid"},
        "service_unlisted": dict(base, sub="evil", roles=["service"]),
    }
    bad = []
    for name, claims in more.items():
        t = jwt.encode(claims, priv1, algorithm="ES256", headers={"kid": kid})
        r = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id), token=t)
        if r.code != C.UNAUTHENTICATED:
            bad.append("%s: %s" % (name, r))
    good = w.alice.access_token
    h, p, s = good.split(".")
    variants = [
        ("no_bearer_scheme", good),
        ("basic_scheme", "Basic " + base64.b64encode(b"a:b").decode()),
        ("two_segments", "Bearer " + h + "." + p),
        ("four_segments", "Bearer " + good + "." + s),
        ("empty_signature", "Bearer " + h + "." + p + "."),
        ("token_9000_bytes", "Bearer " + good + "A" * (9000 - len(good))),
        ("token_64k", "Bearer " + "A" * 65536),
    ]
    for name, value in variants:
        r = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id),
                   metadata=[("authorization", value)])
        if r.code == C.OK:
            bad.append("%s: accepted" % name)
        elif r.code != C.UNAUTHENTICATED and name != "token_64k":
            bad.append("%s: %s" % (name, r))
    report(not bad, "more JWT attacks (huge exp, ttl, iat in future, iss/aud, roles, missing tid,"
           " unlisted service, schemes, segments, 9000-byte and 64 KiB tokens) rejected", bad)
    r = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id),
               metadata=[("authorization", "Bearer " + "A" * MIB)])
    report(r.code != C.OK, "a 1 MB token is refused (%s)" % r.code.name, r)
    expect("server still serves after the attacks",
           c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id), token=good), C.OK)


def snapshot(args, tid):
    q = ["SELECT id, slug, name FROM tenants WHERE id = '%s'" % tid,
         "SELECT id, email, display_name, role, disabled, version, password_hash, update_time"
         " FROM users WHERE tenant_id = '%s' ORDER BY id" % tid,
         "SELECT id, name, role, revoke_time, expire_time FROM api_keys WHERE tenant_id = '%s'"
         " ORDER BY id" % tid,
         "SELECT id, revoke_time FROM refresh_families WHERE tenant_id = '%s' ORDER BY id" % tid,
         "SELECT t.token_hash, t.used_time FROM refresh_tokens t JOIN refresh_families f"
         " ON f.id = t.family_id WHERE f.tenant_id = '%s' ORDER BY 1" % tid]
    return [sql(args, x) for x in q]


def case_isolation(c, args, w):
    """Tenant B's admin on every RPC against tenant A's objects."""
    B = w.bob.access_token
    a_sess = login(c, "acme", "alice@acme.example", w.a_pass).resp
    a_key = w.k2
    before = snapshot(args, w.ta.id)
    alice = c.call("GetUser", c.new("GetUserRequest", id=w.alice_user.id),
                   token=w.alice.access_token).resp.user
    ok = {C.NOT_FOUND, C.PERMISSION_DENIED}
    upd = c.new("UpdateUserRequest", user=c.new("User", id=alice.id, display_name="pwned",
                                                role=1, disabled=True), etag=alice.etag)
    upd.update_mask.paths.extend(["display_name", "role", "disabled"])
    calls = {
        "GetUser": c.call("GetUser", c.new("GetUserRequest", id=alice.id), token=B),
        "UpdateUser": c.call("UpdateUser", upd, token=B),
        "DeleteUser": c.call("DeleteUser", c.new("DeleteUserRequest", id=alice.id), token=B),
        "ChangePassword": c.call("ChangePassword", c.new(
            "ChangePasswordRequest", user_id=alice.id, new_password="pwned-password-1"), token=B),
        "GetTenant": c.call("GetTenant", c.new("GetTenantRequest", tenant_id=w.ta.id), token=B),
        "CreateTenant": c.call("CreateTenant", c.new(
            "CreateTenantRequest", slug="acme2", name="x", admin_email="x@x.example",
            admin_password="pwned-password-1"), token=B),
        "RevokeApiKey": c.call("RevokeApiKey", c.new("RevokeApiKeyRequest", id=a_key.api_key.id),
                               token=B),
        # Logout is not here: it is public and the refresh token is the
        # proof, so whoever holds A's token may end A's session (as
        # RefreshToken would let them spend it); the token cannot be guessed.
        "ExchangeApiKey(A key, tenant B)": c.call("ExchangeApiKey", c.new(
            "ExchangeApiKeyRequest", api_key=a_key.secret, tenant_id=w.tb.id)),
    }
    bad = ["%s: %s" % (k, v) for k, v in calls.items() if v.code not in ok]
    r = c.call("ListUsers", c.new("ListUsersRequest", page_size=100), token=B)
    if r.code != C.OK or any(u.tenant_id != w.tb.id for u in r.resp.users):
        bad.append("ListUsers: %s" % r)
    r = c.call("ListUsers", c.new("ListUsersRequest", query="alice"), token=B)
    if r.code != C.OK or r.resp.users:
        bad.append("ListUsers query=alice: %s" % r)
    r = c.call("ListApiKeys", c.new("ListApiKeysRequest"), token=B)
    if r.code != C.OK or r.resp.api_keys:
        bad.append("ListApiKeys: %s" % r)
    r = c.call("CreateUser", c.new("CreateUserRequest", email="alice@acme.example", role=1,
                                   password="b-tenant-user-pw"), token=B)
    if r.code != C.OK or r.resp.user.tenant_id != w.tb.id:
        bad.append("CreateUser lands in the caller's tenant: %s" % r)
    r = login(c, "acme", "bob@globex.example", w.b_pass, xff="192.0.2.100")
    if r.code != C.UNAUTHENTICATED:
        bad.append("B's credentials on tenant A's slug: %s" % r)
    after = snapshot(args, w.ta.id)
    report(not bad, "tenant isolation: every RPC of tenant B on tenant A's objects is "
           "not_found/permission_denied", bad)
    report(before == after and len(before[1]) >= 3,
           "tenant isolation: tenant A's rows unchanged (database)",
           "before=%s\nafter=%s" % (before, after))


# ---- hostile strings ----------------------------------------------------------

INVALID_UTF8 = {
    "lone_continuation": b"\x80abc", "ff": b"ab\xff", "overlong_slash": b"\xc0\xaf",
    "surrogate": b"x\xed\xa0\x80", "above_10ffff": b"\xf4\x90\x80\x80", "truncated": b"\xe2\x82",
}
SQL_META = ["' OR '1'='1", "Robert'); DROP TABLE users;--", "\\'; SELECT SLEEP(5); -- \\",
            "%_%", "`backtick`", "\"quoted\"", "\U0001F600 caf\u00e9 \u4e16\u754c"]
ALLOWED = {C.OK, C.INVALID_ARGUMENT, C.NOT_FOUND, C.PERMISSION_DENIED, C.UNAUTHENTICATED,
           C.ALREADY_EXISTS, C.FAILED_PRECONDITION, C.ABORTED, C.RESOURCE_EXHAUSTED}


def case_strings(c, args, w):
    A = w.alice.access_token
    counter = [0]

    def uniq():
        counter[0] += 1
        return counter[0]

    fuzz_pw = "fuzz-user-password"
    fz = c.call("CreateUser", c.new("CreateUserRequest", email="fuzz@acme.example",
                                    display_name="Fuzz", role=1, password=fuzz_pw), token=A).resp

    def baseline(method):
        n = uniq()
        if method == "CreateTenant":
            return c.new("CreateTenantRequest", slug="fz%d" % n, name="Fuzz %d" % n,
                         admin_email="a%d@fz.example" % n, admin_display_name="A",
                         admin_password="fuzz-admin-password"), w.sys.access_token
        if method == "GetTenant":
            return c.new("GetTenantRequest", tenant_id=w.ta.id), A
        if method == "CreateUser":
            return c.new("CreateUserRequest", email="s%d@acme.example" % n, display_name="S",
                         role=1, password=fuzz_pw), A
        if method == "GetUser":
            return c.new("GetUserRequest", id=fz.user.id), A
        if method == "ListUsers":
            return c.new("ListUsersRequest", query="fuzz"), A
        if method == "UpdateUser":
            cur = c.call("GetUser", c.new("GetUserRequest", id=fz.user.id), token=A).resp.user
            req = c.new("UpdateUserRequest", etag=cur.etag,
                        user=c.new("User", id=fz.user.id, display_name="Fuzz %d" % n,
                                   email="fuzz@acme.example"))
            req.update_mask.paths.extend(["display_name"])
            return req, A
        if method == "DeleteUser":
            return c.new("DeleteUserRequest", id="us_nosuchuser00000000"), A
        if method == "ChangePassword":
            return c.new("ChangePasswordRequest", user_id=fz.user.id, new_password=fuzz_pw), A
        if method == "Authenticate":
            return c.new("AuthenticateRequest", tenant="acme", email="fuzz@acme.example",
                         password=fuzz_pw), None
        if method == "RefreshToken":
            return c.new("RefreshTokenRequest", refresh_token="x" * 43), None
        if method == "Logout":
            return c.new("LogoutRequest", refresh_token="x" * 43), A
        if method == "CreateApiKey":
            return c.new("CreateApiKeyRequest", name="fz%d" % n, role=1), A
        if method == "ListApiKeys":
            return c.new("ListApiKeysRequest"), A
        if method == "RevokeApiKey":
            return c.new("RevokeApiKeyRequest", id="nosuchkey"), A
        if method == "ExchangeApiKey":
            return c.new("ExchangeApiKeyRequest", api_key="kumo_x"), None
        raise KeyError(method)

    # Fields whose value the response echoes back: must round-trip exactly.
    echo = {("CreateTenant", ("name",)): lambda r: r.tenant.name,
            ("CreateTenant", ("admin_display_name",)): lambda r: r.admin.display_name,
            ("CreateUser", ("display_name",)): lambda r: r.user.display_name,
            ("UpdateUser", ("user", "display_name")): lambda r: r.user.display_name,
            ("CreateApiKey", ("name",)): lambda r: r.api_key.name}
    methods = ["CreateTenant", "GetTenant", "CreateUser", "GetUser", "ListUsers", "UpdateUser",
               "DeleteUser", "ChangePassword", "Authenticate", "RefreshToken", "Logout",
               "CreateApiKey", "ListApiKeys", "RevokeApiKey", "ExchangeApiKey"]
    bad_internal, bad_utf8, bad_echo, n_calls, roundtrips = [], [], [], 0, 0
    ip = [0]

    def xff():
        ip[0] += 1
        return "10.77.%d.%d" % (ip[0] // 250, ip[0] % 250 + 1)

    for method in methods:
        req0, tok = baseline(method)
        for path in string_paths(req0.DESCRIPTOR):
            for name, raw in list(INVALID_UTF8.items()) + [("nul", b"ab\x00cd")]:
                req, tok = baseline(method)
                r = c.call(method, raw=with_raw(req, list(path), raw), token=tok, xff=xff())
                n_calls += 1
                if r.code != C.INVALID_ARGUMENT:
                    bad_utf8.append("%s.%s %s: %s" % (method, ".".join(path), name, r))
            for value in SQL_META + ["x" * MIB]:
                req, tok = baseline(method)
                set_path(req, list(path), value)
                r = c.call(method, req, token=tok, xff=xff())
                n_calls += 1
                label = "%s.%s %r" % (method, ".".join(path), value[:20])
                if r.code not in ALLOWED:
                    bad_internal.append("%s: %s" % (label, r))
                if len(value) == MIB and r.code == C.OK:
                    bad_internal.append("%s: 1 MB accepted" % label)
                getter = echo.get((method, path))
                if getter and r.code == C.OK:
                    roundtrips += 1
                    if getter(r.resp) != value:
                        bad_echo.append("%s: got %r" % (label, getter(r.resp)))
    report(not bad_utf8, "invalid UTF-8 and NUL bytes in every string field: invalid_argument "
           "(%d calls)" % n_calls, bad_utf8)
    report(not bad_internal, "SQL metacharacters and 1 MB values in every string field: never "
           "internal/unknown/unavailable, 1 MB always refused", bad_internal)
    report(not bad_echo and roundtrips >= 20,
           "stored strings round-trip exactly (%d checked)" % roundtrips, bad_echo)
    # Round trip through the database, not just the response.
    name = "Robert'); DROP TABLE users;-- \\ \U0001F600"
    r = c.call("CreateUser", c.new("CreateUserRequest", email="o'brien+x@acme.example",
                                   display_name=name, role=1, password=fuzz_pw), token=A)
    ok = r.code == C.OK
    if ok:
        g = c.call("GetUser", c.new("GetUserRequest", id=r.resp.user.id), token=A)
        ok = g.code == C.OK and g.resp.user.display_name == name and \
            g.resp.user.email == "o'brien+x@acme.example"
    report(ok, "SQL metacharacters and a 4-byte character round-trip through MySQL", r)
    tables = sql(args, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema ="
                 " 'kumo_users'")
    report(tables == [["7"]], "all tables still there", tables)


# ---- concurrency ---------------------------------------------------------------

def case_concurrency(c, args, w):
    A = w.alice.access_token
    uid = w.pager_ids[0]
    rounds, results = 10, []
    for i in range(rounds):
        cur = c.call("GetUser", c.new("GetUserRequest", id=uid), token=A).resp.user
        barrier = threading.Barrier(2)
        out = [None, None]

        def go(k):
            req = c.new("UpdateUserRequest", etag=cur.etag,
                        user=c.new("User", id=uid, display_name="racer %d-%d" % (i, k)))
            req.update_mask.paths.append("display_name")
            barrier.wait()
            out[k] = c.call("UpdateUser", req, token=A).code

        ts = [threading.Thread(target=go, args=(k,)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        results.append(sorted(x.name for x in out))
    good = all(r == ["ABORTED", "OK"] for r in results)
    final = c.call("GetUser", c.new("GetUserRequest", id=uid), token=A).resp.user
    report(good, "two concurrent UpdateUser with one etag: exactly one succeeds (%d rounds)"
           % rounds, results)
    report(final.etag == str(1 + rounds), "the version moved once per round", final.etag)


def case_no_secrets_in_log(c, args, w):
    with open(args.server_log, errors="replace") as f:
        log = f.read()
    leaked = [s[:12] + "..." for s in SECRETS if s and len(s) >= 12 and s in log]
    report(not leaked, "no password, token or API key in the server log (%d secrets checked, "
           "%d lines)" % (len(SECRETS), log.count("\n")), leaked)
    lines = [l for l in log.splitlines() if l.strip()]
    try:
        for l in lines:
            json.loads(l)
        report(True, "every server log line is JSON")
    except ValueError as e:
        report(False, "every server log line is JSON", e)


def phase_main(c, args):
    w = World()
    case_setup(c, args, w)
    case_users(c, args, w)
    case_pagination(c, args, w)
    case_sessions(c, args, w)
    case_login_errors(c, args, w)
    case_api_keys(c, args, w)
    case_throttling(c, args, w)
    case_jwt_attacks(c, args, w)
    case_isolation(c, args, w)
    case_strings(c, args, w)
    case_concurrency(c, args, w)
    case_no_secrets_in_log(c, args, w)


def phase_rehash(c, args):
    pw = read_secret(args.demo_password_file)
    q = "SELECT u.password_hash FROM users u JOIN tenants t ON t.id = u.tenant_id" \
        " WHERE t.slug = 'demo' AND u.email_norm = 'admin@demo.local'"
    old = sql(args, q)[0][0]
    r = login(c, "demo", "admin@demo.local", pw)
    new = sql(args, q)[0][0]
    report(r.code == C.OK and ",t=2," in old and ",t=3," in new and old != new,
           "login with stronger argon2 parameters rehashes the password (t=2 -> t=3)",
           "%s -> %s (%s)" % (old[:30], new[:30], r.code))
    expect("the rehashed password signs in", login(c, "demo", "admin@demo.local", pw), C.OK)
    expect("a wrong password still fails after the rehash",
           login(c, "demo", "admin@demo.local", pw + "x", xff="192.0.2.200"), C.UNAUTHENTICATED)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["main", "rehash"])
    ap.add_argument("--target", required=True)
    ap.add_argument("--admin-port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--db-dir", required=True)
    ap.add_argument("--keys-dir", required=True)
    ap.add_argument("--priv", required=True)
    ap.add_argument("--priv2", required=True)
    ap.add_argument("--sys-password-file", required=True)
    ap.add_argument("--demo-password-file", required=True)
    ap.add_argument("--server-log", required=True)
    args = ap.parse_args()
    _, messages = load_messages(args.root)
    c = Client(args.target, messages)
    t0 = time.monotonic()
    try:
        {"main": phase_main, "rehash": phase_rehash}[args.phase](c, args)
    except SystemExit:
        raise
    except Exception as e:  # a crash of the suite is a failure, not a silent stop
        import traceback
        report(False, "suite ran to the end", traceback.format_exc())
    print("# phase %s: %.1f s" % (args.phase, time.monotonic() - t0), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
