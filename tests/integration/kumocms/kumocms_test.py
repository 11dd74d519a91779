#!/usr/bin/python3
"""KumoCMS client replay against kumo-bff (issue 15, "What must be shown" 1).

The client below is written from the KumoCMS sources (repository
KumoCMS/kumocms-lambda-python: src/handlers/api/upload.py, retrieve.py,
replace.py, archive.py, restore.py, delete.py, auth.py, user_management.py,
auth_validator.py and swagger.json): the calls a KumoCMS client makes, in its
order, with its request bodies (file_name, file_size, content_type,
meta_content as the base64 of a meta.json file or meta_json as an object,
file_content as base64 below 10 MB, days/tier, username/password) and its
credential (Authorization: Bearer <api key or token>). It reads only the
answer fields KumoCMS defines (document_id, upload_url, method,
presigned_url, documents, count, storage_class, restore_status, token,
user{username,email,role,permissions}, users[]{username,email,role,active,
created_at}, message).

Python's standard library only (urllib) against the real stack brought up
by scripts/kumo_stack.py: MariaDB, kumo-users, kumo-storage (restore delays
of seconds), kumo-documents (multipart above 6 MiB), kumo-bff with
KUMO_KUMOCMS_TENANT=demo, and a second kumo-bff with a low sign-in rate
limit.

Cases:
  1. the flow with an API key (KumoCMS's credential): upload with
     meta_content base64, PUT to upload_url, [the marked step: complete],
     poll GET until 200 with presigned_url (<= 5 s), download equals, list
     shows it with document_id, storage_class and count, replace with
     file_content (method "direct"), archive (409 on repeat), GET 403,
     restore 202, GET 202 then 200 (restore_status), delete, GET 404;
  2. the same flow with meta_json and a multipart upload (the replace then
     stores a multipart version itself);
  3. POST /auth, then the flow with its token;
  4. users: POST /users with KumoCMS's body, GET /users shape, PUT
     /users/{username} changes the password (old one 401, new one 200),
     409 on a repeated create; an editor token on /users -> 403; another
     tenant's admin cannot see or change them;
  5. negative cases: malformed and unknown ids -> 404 on GET/PUT/PATCH/
     DELETE/archive/restore, bad base64 meta_content -> 400, file_content of
     10 MB -> 413, file_size/sha256 not matching file_content -> 400, the
     global body limit still holds elsewhere (and for PUT without
     file_content), another tenant's document ids -> 404;
  6. sign-in limits on POST /auth: the BFF's sign-in rate limit (429 with
     Retry-After) and kumo-users' login guard (429 after repeated wrong
     passwords for one account);
  and at the end: every daemon exits 0 on SIGTERM, no sanitizer report and
  no secret in the logs.

A single PUT to upload_url is all a KumoCMS client sends: no /complete.
kumo-storage journals the object-created event before it answers the PUT
and kumo-documents completes the version from it (issue 15 part 1); the
replay polls GET until 200 with presigned_url. (kumo's multipart upload,
which KumoCMS does not have, is finished with /complete and the parts'
ETags, which assembles the object, as S3's CompleteMultipartUpload.)

Usage: kumocms_test.py BUILD_DIR
"""
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
import http.client as httplib
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import kumo_stack  # noqa: E402
import openapi_validate  # noqa: E402

MIB = 1024 * 1024
MAX_FILE_SIZE = 10 * MIB  # KumoCMS: direct upload below it
POLL_LIMIT_S = 5.0

passed = 0
failed = 0
SECRETS = set()
POLL_TIMES = []


def redact(s):
    s = re.sub(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", "<jwt>", s)
    s = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=<sig>", s)
    for sec in SECRETS:
        if sec and len(sec) >= 8:
            s = s.replace(sec, "<secret>")
    return s


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - kumocms: " + name, flush=True)
    else:
        failed += 1
        print("not ok - kumocms: " + name, flush=True)
        for line in str(diag or "").splitlines()[:40]:
            print("#   " + redact(line), flush=True)


def note(msg):
    print("# " + redact(msg), flush=True)


class Fail(AssertionError):
    pass


def expect(cond, diag):
    if not cond:
        raise Fail(diag)


def case(name, fn, *a):
    try:
        fn(*a)
    except Fail as e:
        report(False, name, e)
        return False
    except Exception:  # noqa: BLE001 - any error fails the case
        report(False, name, traceback.format_exc())
        return False
    report(True, name)
    return True


# ---- HTTP (standard library) -------------------------------------------------------------------

class Resp:
    def __init__(self, method, url, status, headers, body):
        self.method, self.url, self.status, self.headers, self.body = (
            method, url, status, headers, body)

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def __repr__(self):
        return "%s %s -> %s %s" % (self.method, self.url.split("?")[0], self.status,
                                   self.body[:400].decode("utf-8", "replace"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http(method, url, headers=None, body=None, timeout=60):
    data = body
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            out = Resp(method, url, r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        out = Resp(method, url, e.code, e.headers, e.read())
    except (urllib.error.URLError, ConnectionError) as e:
        return Resp(method, url, 0, {}, str(e).encode())
    openapi_validate.observe(method, url, out.status, out.headers, out.body)
    return out


def declared_only(url, method, credential, length):
    """Sends only the headers of a request declaring a body of `length`
    bytes and reads the answer: a server refusing the size answers at once
    (sending the body would race with its close)."""
    u = urllib.parse.urlsplit(url)
    conn = httplib.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest(method, u.path)
        if credential:
            conn.putheader("Authorization", "Bearer " + credential)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        r = conn.getresponse()
        out = Resp(method, url, r.status, r.headers, r.read())
        openapi_validate.observe(method, url, out.status, out.headers, out.body)
        return out
    finally:
        conn.close()


def expect_status(r, status, what):
    expect(r.status == status, "%s: expected %d, got %r" % (what, status, r))
    j = r.json()
    expect(isinstance(j, dict), "%s: not a JSON object: %r" % (what, r))
    return j


def expect_error(r, status, what):
    j = expect_status(r, status, what)
    expect(isinstance(j.get("error"), dict) and j["error"].get("message"),
           "%s: no error message: %r" % (what, r))
    return j


# ---- the KumoCMS client ------------------------------------------------------------------------

class KumoCMS:
    """A KumoCMS API client: the paths, bodies and fields of the KumoCMS
    handlers, with Authorization: Bearer <credential> (auth_validator.py)."""

    def __init__(self, base, credential=None):
        self.base, self.credential = base, credential

    def call(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.credential:
            h["Authorization"] = "Bearer " + self.credential
        return http(method, self.base + path, h, body)

    # upload.py: POST /documents -> {document_id, message, upload_url, method}
    def upload(self, file_name, size, content_type, meta=None, meta_as="meta_content"):
        body = {"file_name": file_name, "file_size": size, "content_type": content_type}
        if meta is not None and meta_as == "meta_content":
            body["meta_content"] = base64.b64encode(json.dumps(meta).encode()).decode()
        elif meta is not None:
            body["meta_json"] = meta
        return self.call("POST", "/documents", body)

    # retrieve.py: GET /documents, GET /documents/{id}
    def list(self):
        return self.call("GET", "/documents")

    def retrieve(self, did):
        return self.call("GET", "/documents/" + did)

    # replace.py: PUT /documents/{id} with file_content below 10 MB
    def replace(self, did, file_name, data, content_type, meta):
        return self.call("PUT", "/documents/" + did, {
            "file_name": file_name, "file_size": len(data), "content_type": content_type,
            "file_content": base64.b64encode(data).decode(),
            "meta_content": base64.b64encode(json.dumps(meta).encode()).decode()})

    # archive.py / restore.py / delete.py
    def archive(self, did):
        return self.call("POST", "/documents/%s/archive" % did)

    def restore(self, did, days=1, tier="Expedited"):
        return self.call("POST", "/documents/%s/restore" % did, {"days": days, "tier": tier})

    def delete(self, did):
        return self.call("DELETE", "/documents/" + did)

    # auth.py / user_management.py
    def auth(self, username, password):
        return self.call("POST", "/auth", {"username": username, "password": password})

    def users(self):
        return self.call("GET", "/users")

    def create_user(self, username, email, password, role):
        return self.call("POST", "/users", {"username": username, "email": email,
                                            "password": password, "role": role})

    def set_password(self, username, password):
        return self.call("PUT", "/users/" + username, {"password": password})


def put_upload_url(url, data, content_type):
    """What a KumoCMS client does with upload_url: PUT the bytes with the
    Content-Type the URL was presigned for."""
    return http("PUT", url, {"Content-Type": content_type}, data, timeout=120)


def download(url):
    return http("GET", url, timeout=120)


def poll_ready(cms, did, since, what):
    """GET /documents/{id} until 200 with presigned_url (KumoCMS: the
    document is readable); at most POLL_LIMIT_S after `since`."""
    last = None
    while True:
        r = cms.retrieve(did)
        j = r.json() or {}
        if r.status == 200 and j.get("presigned_url"):
            dt = time.time() - since
            POLL_TIMES.append(dt)
            note("%s: readable %.3fs after the PUT's answer" % (what, dt))
            return j
        last = r
        if time.time() - since > POLL_LIMIT_S:
            raise Fail("%s: no 200 with presigned_url within %.0fs; last %r" % (
                what, POLL_LIMIT_S, last))
        time.sleep(0.1)


# ---- the stack ---------------------------------------------------------------------------------

class World:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise Fail("needs %r, which an earlier (failed) case was to create" % name)


STORAGE_ENV = {"KUMO_STORAGE_RESTORE_EXPEDITED": "1s", "KUMO_STORAGE_RESTORE_STANDARD": "2s",
               "KUMO_STORAGE_RESTORE_BULK": "3s"}
DOCS_ENV = {"KUMO_JOBS_WORKERS": "1", "KUMO_JOBS_POLL_INTERVAL": "200ms",
            "KUMO_MULTIPART_THRESHOLD": "6MiB", "KUMO_MULTIPART_PART_SIZE": "5MiB"}
BFF_ENV = {"KUMO_RATE_LIMIT_PER_ADDRESS": "off", "KUMO_RATE_LIMIT_PER_PRINCIPAL": "off",
           "KUMO_LOGIN_RATE_LIMIT": "off", "KUMO_COOKIE_SECURE": "false",
           "KUMO_KUMOCMS_TENANT": "demo"}
# Low sign-in limit; the direct upload connects to a closed port (the
# setting is used: nothing reaches storage, 502).
LIMITS_ENV = dict(BFF_ENV, KUMO_LOGIN_RATE_LIMIT="3/m burst 3",
                  KUMO_DIRECT_UPLOAD_CONNECT="127.0.0.1:1")


def setup(w):
    st = w.st
    st.start_mariadb()
    st.secrets()
    st.migrate("users")
    st.migrate("documents")
    st.bootstrap()
    st.start("users")
    st.start("storage", env=STORAGE_ENV)
    st.start("documents", env=DOCS_ENV)
    bff = st.start("bff", env=BFF_ENV)
    w.base = "http://127.0.0.1:%d/api/v1" % bff.http_port
    SECRETS.update([st.demo_password, st.system_password, st.storage_secret])
    for f in os.listdir(st.keys_dir):
        with open(os.path.join(st.keys_dir, f)) as fh:
            SECRETS.add(fh.read().strip())


def kumo_login(w, tenant, email, password):
    """kumo's own sign-in (the set-up of API keys and of a second tenant)."""
    r = http("POST", w.base + "/auth/login", {},
             {"tenant": tenant, "email": email, "password": password})
    j = expect_status(r, 200, "kumo login")
    SECRETS.add(j.get("access_token") or "")
    SECRETS.add(j.get("refresh_token") or "")
    return j["access_token"]


def c_api_key(w):
    w.admin_tok = kumo_login(w, "demo", w.st.demo_email, w.st.demo_password)
    admin = KumoCMS(w.base, w.admin_tok)
    for role in ("editor",):
        r = admin.call("POST", "/api-keys", {"name": "kumocms-" + role, "role": role})
        j = expect_status(r, 201, "POST /api-keys")
        SECRETS.add(j.get("secret") or "")
        expect(isinstance(j.get("secret"), str), j.keys())
        w.editor_key = j["secret"]


# ---- 1..3: the flows ---------------------------------------------------------------------------

class Flow:
    def __init__(self, label, credential, meta_as, size):
        self.label, self.credential, self.meta_as, self.size = label, credential, meta_as, size


def flow_upload(w, f):
    cms = KumoCMS(w.base, f.credential)
    f.cms = cms
    f.data = os.urandom(f.size)
    f.meta = {"department": "legal", "flow": f.label, "pages": 3, "tags": ["a", "b"]}
    f.name = "contract-%s.pdf" % f.label
    r = cms.upload(f.name, len(f.data), "application/pdf", f.meta, f.meta_as)
    expect(r.status in (200, 201), "upload: %r" % r)
    j = r.json() or {}
    expect(isinstance(j.get("document_id"), str) and j["document_id"], j)
    expect(isinstance(j.get("message"), str), j)
    f.id = j["document_id"]
    if f.size < 6 * MIB:
        expect(j.get("method") == "presigned_url" and j.get("upload_url"), j)
        r = put_upload_url(j["upload_url"], f.data, "application/pdf")
        expect(r.status == 200, "PUT to upload_url: %r" % r)
        t_put = time.time()
    else:
        # kumo's multipart answer (KumoCMS has none): parts of part_size,
        # their URLs from upload-parts, then complete with the ETags.
        expect(j.get("method") == "multipart" and j.get("part_count", 0) >= 2, j)
        psize, n = j["part_size"], j["part_count"]
        r = cms.call("POST", "/documents/%s/upload-parts" % f.id,
                     {"part_numbers": list(range(1, n + 1))})
        pj = expect_status(r, 200, "upload-parts")
        parts = []
        for p in pj.get("parts") or []:
            k = p["part_number"]
            chunk = f.data[(k - 1) * psize: k * psize]
            hdrs = {a: b for a, b in (p.get("headers") or {}).items()
                    if a.lower() not in ("content-length", "host")}
            u = http("PUT", p["url"], hdrs, chunk, timeout=120)
            expect(u.status == 200 and u.headers.get("ETag"), "part %d: %r" % (k, u))
            parts.append({"part_number": k, "etag": u.headers.get("ETag")})
        expect(len(parts) == n, "parts %d of %d" % (len(parts), n))
        r = cms.call("POST", "/documents/%s/complete" % f.id, {"parts": parts})
        expect_status(r, 200, "complete (multipart: assembles the parts)")
        t_put = time.time()
    j = poll_ready(cms, f.id, t_put, f.label)
    expect(j.get("document_id") == f.id, j)
    expect(j.get("storage_class") == "STANDARD" and "restore_status" not in j, j)
    expect(j.get("metadata") == f.meta, "metadata %r" % j.get("metadata"))
    expect(j.get("file_name") == f.name, j.get("file_name"))
    d = download(j["presigned_url"])
    expect(d.status == 200 and d.body == f.data, "download: %s, %d bytes" % (d.status,
                                                                            len(d.body)))


def flow_list(w, f):
    r = f.cms.list()
    j = expect_status(r, 200, "list")
    docs = j.get("documents")
    expect(isinstance(docs, list), j.keys())
    expect(j.get("count") == len(docs), "count %r for %d documents" % (j.get("count"), len(docs)))
    mine = [d for d in docs if d.get("document_id") == f.id]
    expect(len(mine) == 1, "%s not listed by document_id: %r" % (f.id, [
        d.get("document_id") for d in docs]))
    expect(mine[0].get("storage_class") == "STANDARD" and "restore_status" not in mine[0], mine[0])
    expect(mine[0].get("file_name") == f.name, mine[0])


def flow_replace(w, f):
    f.data2 = os.urandom(f.size // 2 + 7 if f.size < 6 * MIB else 7 * MIB)
    meta2 = dict(f.meta, revision=2)
    r = f.cms.replace(f.id, "v2-" + f.name, f.data2, "application/pdf", meta2)
    j = expect_status(r, 200, "replace with file_content")
    expect(j.get("document_id") == f.id and j.get("method") == "direct" and
           isinstance(j.get("message"), str), j)
    r = f.cms.retrieve(f.id)
    g = expect_status(r, 200, "GET after replace")
    expect(g.get("presigned_url") and g.get("file_name") == "v2-" + f.name, g)
    expect(g.get("metadata") == meta2, "metadata after replace %r" % g.get("metadata"))
    expect(g.get("current_version") == 2 and g.get("size") == len(f.data2), g)
    d = download(g["presigned_url"])
    expect(d.status == 200 and d.body == f.data2, "download after replace: %s, %d bytes" % (
        d.status, len(d.body)))


def flow_archive_restore(w, f):
    cms = f.cms
    r = cms.archive(f.id)
    j = expect_status(r, 200, "archive")
    doc = j.get("document") or {}
    expect(j.get("document_id") == f.id and doc.get("storage_class") == "GLACIER" and
           j.get("storage_class") == "GLACIER" and j.get("archived_date"), j)
    r = cms.archive(f.id)
    expect_error(r, 409, "archive again")
    r = cms.retrieve(f.id)
    expect_error(r, 403, "GET of an archived document")
    r = cms.list()
    j = expect_status(r, 200, "list")
    mine = [d for d in j.get("documents", []) if d.get("document_id") == f.id]
    expect(mine and mine[0].get("storage_class") == "GLACIER" and
           "restore_status" not in mine[0], "archived item %r" % mine)
    r = cms.restore(f.id, days=1, tier="Expedited")
    j = expect_status(r, 202, "restore")
    expect(j.get("document_id") == f.id and j.get("restore_status") == "in_progress" and
           j.get("restore_days") == 1, j)
    r = cms.retrieve(f.id)
    j = expect_status(r, 202, "GET while restoring")
    expect(j.get("restore_status") == "in_progress", j)
    deadline = time.time() + 15
    while True:
        r = cms.retrieve(f.id)
        if r.status == 200:
            break
        expect(r.status == 202 and time.time() < deadline, "GET after restore: %r" % r)
        time.sleep(0.2)
    j = r.json()
    expect(j.get("presigned_url") and j.get("storage_class") == "GLACIER" and
           j.get("restore_status") == "restored", j)
    d = download(j["presigned_url"])
    expect(d.status == 200 and d.body == f.data2, "download after restore")


def flow_delete(w, f):
    r = f.cms.delete(f.id)
    expect_status(r, 200, "delete")
    r = f.cms.retrieve(f.id)
    expect_error(r, 404, "GET after delete")
    r = f.cms.list()
    j = expect_status(r, 200, "list")
    expect(f.id not in [d.get("document_id") for d in j.get("documents", [])],
           "deleted document still listed")


def run_flow(w, label, credential, meta_as, size):
    f = Flow(label, credential, meta_as, size)
    what = "multipart" if size >= 6 * MIB else "single PUT"
    if not case("%s: upload (%s, %s), PUT to upload_url, %s, GET until 200 with presigned_url "
                "(<= %.0fs), download equals" % (
                    label, meta_as, what,
                    "no complete",
                    POLL_LIMIT_S), flow_upload, w, f):
        return f
    case("%s: list shows it with document_id and storage_class; count = documents" % label,
         flow_list, w, f)
    if not case("%s: replace with file_content -> method direct; new bytes, name and meta"
                % label, flow_replace, w, f):
        return f
    case("%s: archive (409 on repeat), GET 403, restore 202, GET 202 (in_progress) then 200 "
         "(restored), download equals" % label, flow_archive_restore, w, f)
    case("%s: delete, GET 404, not listed" % label, flow_delete, w, f)
    return f


def c_auth(w):
    cms = KumoCMS(w.base)
    r = cms.auth(w.st.demo_email, w.st.demo_password)
    j = expect_status(r, 200, "POST /auth")
    tok = j.get("token")
    expect(isinstance(tok, str) and tok and "access_token" not in j and
           "refresh_token" not in j and isinstance(j.get("expires_in"), int), j.keys())
    SECRETS.add(tok)
    u = j.get("user") or {}
    expect(u.get("username") == w.st.demo_email and u.get("email") == w.st.demo_email and
           u.get("role") == "admin" and
           set(u.get("permissions") or []) == {"read", "write", "delete", "admin"}, u)
    w.auth_tok = tok
    r = cms.auth(w.st.demo_email, "wrong-password-123")
    expect_error(r, 401, "POST /auth with a wrong password")
    r = cms.auth(w.st.demo_email, "")
    expect_error(r, 400, "POST /auth without a password")
    r = KumoCMS(w.base, tok).call("GET", "/me")
    expect_status(r, 200, "the token works on the rest of the API")


# ---- 4: users ----------------------------------------------------------------------------------

def c_users(w):
    admin = KumoCMS(w.base, w.auth_tok)
    w.u_email = "carol@demo.local"
    w.u_pass = "carol-" + os.urandom(8).hex()
    SECRETS.add(w.u_pass)
    r = admin.create_user(w.u_email, w.u_email, w.u_pass, "user")
    j = expect_status(r, 201, "POST /users")
    expect(j.get("username") == w.u_email and j.get("role") == "viewer" and
           isinstance(j.get("message"), str), j)
    r = admin.create_user(w.u_email, w.u_email, w.u_pass, "user")
    expect_error(r, 409, "POST /users again")
    r = admin.users()
    j = expect_status(r, 200, "GET /users")
    us = [u for u in j.get("users") or [] if u.get("username") == w.u_email]
    expect(us and us[0].get("email") == w.u_email and us[0].get("role") == "viewer" and
           us[0].get("active") is True and us[0].get("created_at"), "users %r" % us)
    r = KumoCMS(w.base).auth(w.u_email, w.u_pass)
    j = expect_status(r, 200, "POST /auth as the new user")
    SECRETS.add(j.get("token") or "")
    expect((j.get("user") or {}).get("permissions") == ["read"], j)
    w.viewer_tok = j["token"]
    new = "carol-new-" + os.urandom(8).hex()
    SECRETS.add(new)
    r = admin.set_password(w.u_email, new)
    j = expect_status(r, 200, "PUT /users/{username}")
    expect(isinstance(j.get("message"), str), j)
    r = KumoCMS(w.base).auth(w.u_email, w.u_pass)
    expect_error(r, 401, "POST /auth with the old password")
    r = KumoCMS(w.base).auth(w.u_email, new)
    expect_status(r, 200, "POST /auth with the new password")
    r = admin.set_password("nobody@demo.local", new)
    expect_error(r, 404, "PUT /users/{unknown}")
    # A KumoCMS username that is not an email is the display name.
    dave_pw = "dave-" + os.urandom(8).hex()
    SECRETS.add(dave_pw)
    r = admin.create_user("dave", "dave@demo.local", dave_pw, "admin")
    j = expect_status(r, 201, "POST /users with a plain username")
    expect(j.get("role") == "admin" and (j.get("user") or {}).get("display_name") == "dave" and
           j.get("username") == "dave@demo.local", j)
    w.a_user_id = (j.get("user") or {}).get("id")
    # An admin's own password: current_password too (kumo-users' rule).
    r = KumoCMS(w.base).auth("dave@demo.local", dave_pw)
    dave = KumoCMS(w.base, expect_status(r, 200, "POST /auth as dave")["token"])
    SECRETS.add(dave.credential)
    dave_new = "dave-new-" + os.urandom(8).hex()
    SECRETS.add(dave_new)
    expect_error(dave.set_password("dave@demo.local", dave_new), 400,
                 "own password without current_password")
    r = dave.call("PUT", "/users/dave@demo.local",
                  {"password": dave_new, "current_password": "wrong-password-123"})
    expect(r.status in (400, 401, 403), "own password with a wrong current_password: %r" % r)
    r = dave.call("PUT", "/users/dave@demo.local",
                  {"password": dave_new, "current_password": dave_pw})
    expect_status(r, 200, "own password with current_password")
    expect_status(KumoCMS(w.base).auth("dave@demo.local", dave_new), 200, "dave's new password")
    r = admin.call("POST", "/auth", {"username": "dave@demo.local", "password": dave_new,
                                     "tenant": "globex"})
    expect_error(r, 400, "POST /auth naming a tenant (not KumoCMS's body)")


def c_users_roles(w):
    for label, cred in (("editor API key", w.editor_key), ("viewer token", w.viewer_tok)):
        c = KumoCMS(w.base, cred)
        expect_error(c.users(), 403, "%s: GET /users" % label)
        expect_error(c.create_user("eve@demo.local", "eve@demo.local", "eve-password-123",
                                   "admin"), 403, "%s: POST /users" % label)
        expect_error(c.set_password(w.u_email, "eve-password-123"), 403,
                     "%s: PUT /users/{username}" % label)
    r = KumoCMS(w.base, w.auth_tok).users()
    expect("eve@demo.local" not in r.body.decode(), "a refused create left a user")


def c_tenant_b(w):
    st = w.st
    sys_tok = st.login("system", st.system_email, st.system_password).access_token
    SECRETS.add(sys_tok)
    M = st.messages()
    w.b_pass = "b-admin-" + os.urandom(8).hex()
    SECRETS.add(w.b_pass)
    st.call("users", "kumo.users.v1.UserService", "CreateTenant", M[
        "kumo.users.v1.CreateTenantRequest"](slug="globex", name="Globex",
                                             admin_email="bob@globex.example",
                                             admin_display_name="Bob",
                                             admin_password=w.b_pass), token=sys_tok)
    w.b_tok = kumo_login(w, "globex", "bob@globex.example", w.b_pass)
    # KUMO_KUMOCMS_TENANT is demo: B's admin cannot sign in through /auth.
    expect_error(KumoCMS(w.base).auth("bob@globex.example", w.b_pass), 401,
                 "POST /auth with another tenant's credentials")
    b = KumoCMS(w.base, w.b_tok)
    expect_error(b.set_password(w.u_email, "mallory-password-1"), 404,
                 "B's admin: PUT /users/{A's username}")
    expect_error(b.set_password(w.a_user_id, "mallory-password-1"), 404,
                 "B's admin: PUT /users/{A's user id}")
    j = expect_status(b.users(), 200, "B's admin: GET /users")
    expect(w.u_email not in json.dumps(j), "B sees A's users")
    # A's document, by id, from B: 404 everywhere, and unchanged.
    a = KumoCMS(w.base, w.auth_tok)
    r = a.upload("a.txt", 5, "text/plain", {"x": 1})
    did = (r.json() or {}).get("document_id")
    expect(did, r)
    for m, p, body in (("GET", "/documents/" + did, None),
                       ("PUT", "/documents/" + did, {"file_name": "x", "file_content": "eHl6"}),
                       ("PATCH", "/documents/" + did, {"title": "pwned"}),
                       ("DELETE", "/documents/" + did, None),
                       ("POST", "/documents/%s/archive" % did, None),
                       ("POST", "/documents/%s/restore" % did, {"days": 1})):
        r = b.call(m, p, body, {"If-Match": '"1"'} if m == "PATCH" else None)
        expect_error(r, 404, "B: %s %s" % (m, p))
    r = a.call("GET", "/documents/%s?download=false" % did)
    j = expect_status(r, 200, "A's document after B's tries")
    expect(j.get("title") == "a.txt" and j.get("status") == "pending_upload", j)


# ---- 5: negative cases -------------------------------------------------------------------------

def c_bad_ids(w):
    c = KumoCMS(w.base, w.auth_tok)
    for did in ("01HV5Z3K8Q9R2S4T6V8W0XYZAB", "doc_zzzzzzzzzzzzzzzzzzzz", "doc_..%2e",
                "DOC_ABC", "x" * 300):
        for m, body, hdrs in (("GET", None, None),
                              ("PUT", {"file_name": "a.txt", "file_size": 3}, None),
                              ("PUT", {"file_name": "a.txt", "file_content": "YWJj"}, None),
                              ("PATCH", {"title": "t"}, {"If-Match": '"1"'}),
                              ("DELETE", None, None)):
            r = c.call(m, "/documents/" + did, body, hdrs)
            expect_error(r, 404, "%s /documents/%s" % (m, did[:40]))
        for sub in ("archive", "restore", "undelete", "complete"):
            r = c.call("POST", "/documents/%s/%s" % (did, sub), {})
            expect_error(r, 404, "POST /documents/%s/%s" % (did[:40], sub))


def c_bad_meta(w):
    c = KumoCMS(w.base, w.auth_tok)
    cases = {
        "not base64": "%%% not base64 %%%",
        "base64 of a JSON array": base64.b64encode(b"[1, 2]").decode(),
        "base64 of text": base64.b64encode(b"department: legal").decode(),
        "base64 of a JSON string": base64.b64encode(b'"x"').decode(),
        "base64 of bad UTF-8 JSON": base64.b64encode(b'{"a": "\xff"}').decode(),
    }
    for what, mc in cases.items():
        r = c.call("POST", "/documents", {"file_name": "m.txt", "file_size": 1,
                                          "meta_content": mc})
        j = expect_error(r, 400, "meta_content: " + what)
        expect("meta_content" in j["error"]["message"] or "JSON" in j["error"]["message"], j)
    r = c.call("POST", "/documents", {"file_name": "m.txt", "file_size": 1,
                                      "meta_json": "eyJhIjoxfQ=="})
    expect_error(r, 400, "meta_json as a string (it stays an object)")
    r = c.call("POST", "/documents", {"file_name": "m.txt", "file_size": 1,
                                      "meta_content": "eyJhIjox"})  # {"a":1 cut short
    expect_error(r, 400, "meta_content: truncated JSON")
    # URL-safe alphabet without padding is accepted (base64.urlsafe_b64encode users).
    mc = base64.urlsafe_b64encode(json.dumps({"k": "?>?>"}).encode()).decode().rstrip("=")
    r = c.call("POST", "/documents", {"file_name": "m.txt", "file_size": 1, "meta_content": mc})
    j = expect_status(r, 201, "meta_content URL-safe, unpadded")
    expect((j.get("document") or {}).get("metadata") == {"k": "?>?>"}, j)


def c_direct_limits(w):
    c = KumoCMS(w.base, w.auth_tok)
    r = c.upload("d.txt", 3, "text/plain", {"a": 1})
    did = (r.json() or {}).get("document_id")
    expect(did, r)
    r = put_upload_url(r.json()["upload_url"], b"abc", "text/plain")
    expect(r.status == 200, r)
    ten = b"\0" * MAX_FILE_SIZE
    r = c.replace(did, "ten.bin", ten, "application/octet-stream", {"a": 1})
    expect_error(r, 413, "file_content of exactly 10 MB")
    body = {"file_name": "x.txt", "file_content": base64.b64encode(b"hello").decode()}
    r = c.call("PUT", "/documents/" + did, dict(body, file_size=6))
    expect_error(r, 400, "file_size not matching file_content")
    r = c.call("PUT", "/documents/" + did, dict(body, sha256="0" * 64))
    expect_error(r, 400, "sha256 not matching file_content")
    r = c.call("PUT", "/documents/" + did, dict(body, file_content="!!!"))
    expect_error(r, 400, "file_content not base64")
    r = c.call("PUT", "/documents/" + did, dict(body, sha256=hashlib.sha256(b"hello").hexdigest()))
    j = expect_status(r, 200, "file_content with its sha256")
    expect((j.get("document") or {}).get("size") == 5, j)
    # The raised limit is PUT /documents/{id} with file_content only.
    pad = "p" * (2 * MIB)
    r = c.call("PUT", "/documents/" + did, {"file_name": "x.txt", "file_size": 3,
                                             "content_type": "text/plain", "title": pad})
    expect_error(r, 413, "PUT without file_content above KUMO_BODY_MAX")
    r = declared_only(w.base + "/documents", "POST", w.auth_tok, 2 * MIB)
    expect_error(r, 413, "POST /documents declaring 2 MiB (above KUMO_BODY_MAX)")
    r = declared_only(w.base + "/documents/" + did, "PUT", w.auth_tok, 15 * MIB)
    expect_error(r, 413, "PUT /documents/{id} declaring 15 MiB (above the route's limit)")
    r = declared_only(w.base + "/documents/" + did, "PUT", None, 2 * MIB)
    expect_error(r, 413, "anonymous PUT /documents/{id} declaring 2 MiB (no larger limit "
                 "without credentials)")
    r = c.call("GET", "/healthcheck")
    expect(r.status == 200, "still serving: %r" % r)
    # A viewer cannot replace.
    r = KumoCMS(w.base, w.viewer_tok).call("PUT", "/documents/" + did, body)
    expect_error(r, 403, "viewer: PUT with file_content")


def c_trash(w):
    c = KumoCMS(w.base, w.auth_tok)
    r = c.upload("t.txt", 4, "text/plain", {"t": 1}, "meta_json")
    did = (r.json() or {}).get("document_id")
    expect(did, r)
    expect_status(c.delete(did), 200, "delete")
    expect_error(c.retrieve(did), 404, "GET after delete")
    r = c.call("GET", "/documents/%s?include_deleted=true" % did)
    j = expect_status(r, 200, "GET ?include_deleted=true")
    expect(j.get("status") == "deleted" and j.get("document_id") == did, j)
    r = c.call("GET", "/documents?status=deleted")
    j = expect_status(r, 200, "the Trash")
    expect(did in [d.get("document_id") for d in j.get("documents", [])] and
           j.get("count") == len(j.get("documents", [])), j)
    r = c.call("POST", "/documents/%s/undelete" % did)
    expect_status(r, 200, "undelete")
    r = c.call("GET", "/documents/%s?download=false" % did)
    expect_status(r, 200, "GET after undelete")


# ---- 6: sign-in limits -------------------------------------------------------------------------

def c_login_rate_limit(w):
    b = w.st.start("bff", name="bff-limits", env=LIMITS_ENV)
    base = w.limits_base = "http://127.0.0.1:%d/api/v1" % b.http_port
    seen = []
    for _ in range(6):
        r = http("POST", base + "/auth", {}, {"username": "x"})  # 400: never reaches kumo-users
        seen.append(r.status)
        if r.status == 429:
            expect(r.headers.get("Retry-After"), "429 without Retry-After")
            break
    expect(seen[-1] == 429 and len(seen) <= 4, "POST /auth burst answered %r" % seen)
    r = http("GET", base + "/healthcheck")
    expect(r.status == 200, "other routes still served: %r" % r)


def c_direct_connect(w):
    c = KumoCMS(w.base, w.auth_tok)
    r = c.upload("via.txt", 3, "text/plain", {"v": 1})
    did = (r.json() or {}).get("document_id")
    expect(did and put_upload_url(r.json()["upload_url"], b"abc", "text/plain").status == 200, r)
    poll_ready(c, did, time.time(), "via")
    limited = KumoCMS(w.limits_base, w.auth_tok)
    r = limited.call("PUT", "/documents/" + did, {
        "file_name": "via.txt", "file_content": base64.b64encode(b"changed").decode()})
    expect_error(r, 502, "direct upload through KUMO_DIRECT_UPLOAD_CONNECT=127.0.0.1:1")
    j = expect_status(c.retrieve(did), 200, "GET after the failed direct upload")
    expect(j.get("current_version") == 1 and j.get("size") == 3, j)
    d = download(j["presigned_url"])
    expect(d.status == 200 and d.body == b"abc", "content after the failed direct upload")


def c_login_guard(w):
    admin = KumoCMS(w.base, w.auth_tok)
    email, pw = "frank@demo.local", "frank-" + os.urandom(8).hex()
    SECRETS.add(pw)
    expect_status(admin.create_user(email, email, pw, "user"), 201, "POST /users")
    seen = []
    for _ in range(8):
        r = KumoCMS(w.base).auth(email, "wrong-password-123")
        seen.append(r.status)
        if r.status == 429:
            break
    expect(seen[-1] == 429, "wrong passwords on POST /auth answered %r" % seen)
    r = KumoCMS(w.base).auth(email, pw)
    expect_error(r, 429, "the right password right after (account and address throttled)")


# ---- the end -----------------------------------------------------------------------------------

def c_sigterm(w):
    codes = {}
    for name in list(reversed(w.st.order)):
        codes[name] = w.st.stop(name)
    expect(all(c == 0 for c in codes.values()), "exit codes %r" % codes)


def c_logs(w):
    bad = []
    for name, d in w.st.daemons.items():
        text = d.log_text()
        for pat in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if pat in text:
                bad.append("%s: %s" % (name, pat))
        for sec in SECRETS:
            if sec and len(sec) >= 8 and sec in text:
                bad.append("%s: a secret (%s...)" % (name, sec[:4]))
        if "X-Amz-Signature" in text:
            bad.append("%s: a presigned URL" % name)
    expect(not bad, "\n".join(bad))


def main():
    if len(sys.argv) != 2:
        print("usage: kumocms_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="kumo-kumocms-it.", dir=base)

    def on_term(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    w = World()
    w.st = kumo_stack.Stack(ROOT, build, os.path.join(work, "stack"))
    t0 = time.time()
    try:
        try:
            setup(w)
        except Exception:  # noqa: BLE001
            report(False, "the stack starts (MariaDB, users, storage, documents, bff)",
                   traceback.format_exc())
            return 1
        report(True, "the stack starts (%.1fs); completion: event-driven (no /complete)"
               % (time.time() - t0))
        if case("set-up: an editor API key (KumoCMS's credential)", c_api_key, w):
            run_flow(w, "api-key", w.editor_key, "meta_content", 150000)
            run_flow(w, "api-key-multipart", w.editor_key, "meta_json", 7 * MIB + 4321)
        if case("POST /auth {username, password} -> {token, user{username, email, role, "
                "permissions}}; wrong password 401; token accepted by the API", c_auth, w):
            run_flow(w, "auth-token", w.auth_tok, "meta_content", 64000)
            case("users: POST /users (KumoCMS body) 201 {message, username, role}, 409 again; "
                 "GET /users shape; PUT /users/{username} changes the password", c_users, w)
            case("users: editor API key and viewer token on GET/POST /users, PUT "
                 "/users/{username} -> 403", c_users_roles, w)
            case("another tenant: no POST /auth into KUMO_KUMOCMS_TENANT, its admin gets 404 "
                 "for A's users and documents (path ids), A's document unchanged",
                 c_tenant_b, w)
            case("malformed and unknown ids -> 404 on GET/PUT/PATCH/DELETE and the POST "
                 "actions", c_bad_ids, w)
            case("meta_content: not base64 / not a JSON object -> 400; meta_json string -> "
                 "400; URL-safe base64 accepted", c_bad_meta, w)
            case("file_content: 10 MB -> 413, size/sha256 mismatch -> 400, bad base64 -> 400; "
                 "KUMO_BODY_MAX still holds elsewhere; viewer 403", c_direct_limits, w)
            case("Trash: GET after delete 404, ?include_deleted=true 200, ?status=deleted "
                 "lists it, undelete", c_trash, w)
            case("POST /auth under the sign-in rate limit (429 with Retry-After)",
                 c_login_rate_limit, w)
            case("KUMO_DIRECT_UPLOAD_CONNECT routes the direct upload's PUT (a closed port: 502, "
                 "the document unchanged)", c_direct_connect, w)
            case("POST /auth under kumo-users' login guard (repeated wrong passwords -> 429)",
                 c_login_guard, w)
        if POLL_TIMES:
            s = sorted(POLL_TIMES)
            note("PUT answered -> GET 200 with presigned_url: n=%d median %.3fs max %.3fs" % (
                len(s), s[len(s) // 2], s[-1]))
        openapi_validate.shared().self_test(report)
        openapi_validate.shared().report(report)
        case("SIGTERM: every daemon exits 0", c_sigterm, w)
        case("logs: no sanitizer reports, no secrets or presigned URLs", c_logs, w)
        note("run time %.1fs" % (time.time() - t0))
    except KeyboardInterrupt as e:
        report(False, "interrupted (%s)" % e)
    finally:
        try:
            w.st.down()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        if os.environ.get("KUMOCMS_TEST_KEEP") == "1":
            note("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
