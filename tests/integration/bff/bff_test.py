#!/usr/bin/python3
"""End-to-end cases of kumo-bff (issue 7, "What must be shown" 1, 2 and 4's
correctness side), driven ONLY with curl against the BFF's HTTP port (and
the presigned URLs it hands out). Python brings the stack up with
scripts/kumo_stack.py (MariaDB, kumo-users, kumo-storage, kumo-documents,
kumo-bff) and checks the answers; the only calls that do not go through the
BFF are the set-up of a second tenant (kumo-users CreateTenant as the
system admin over gRPC: the BFF has no tenant route, on purpose).

Cases:
  1. the whole KumoCMS flow with a bearer token (login, create with
     meta_json, PUT to upload_url, complete, list, get + download through
     presigned_url, PATCH with If-Match (428/412/200), PUT new version +
     complete + versions, archive -> 409 on repeat, get -> 403, restore ->
     202, get -> 202 while running then 200 with a working presigned_url,
     delete, get after delete, undelete, audit events); logout revokes,
     refresh-token reuse revokes the family; multipart uploads through
     upload-parts; Idempotency-Key; pagination; X-Request-Id reaches the
     audit trail;
  2. the same flow with an API key created through POST /api-keys; a
     revoked key is refused at once;
  3. every call with another tenant's token -> 404 (ids in path, query,
     body), and tenant A's document unchanged;
  4. browser mode: cookie login (HttpOnly, SameSite=Strict; Secure and
     __Host- with KUMO_COOKIE_SECURE=true), refresh/logout need X-CSRF-Token
     and an allowed Origin, logout clears and revokes;
  5. OWASP API Top 10 probes: function level (viewer), property level
     (PATCH with role/tenant/owner/status), broken authentication (forged
     JWTs, tokens outside Authorization), input validation, resource
     consumption (10 MB bodies with and without Content-Length, deep JSON,
     page_size clamp, login / principal / address bursts -> 429 with
     Retry-After, X-Forwarded-For not trusted, a trickling client cut off),
     CORS and preflight, security headers on every response, errors that
     leak nothing (kumo-documents frozen -> 504 within the request budget,
     stopped -> 503), 404/405 JSON;
  6. /healthcheck 200, and 503 naming kumo-documents once it is stopped;
  7. /openapi.json: OpenAPI 3.1, every listed path+method routed, every
     route the flow used listed, every non-generic status seen documented;
     bff/openapi-check;
  8. h2c prior knowledge answers like HTTP/1.1 (and takes KumoCMS's direct
     replace, a body above KUMO_BODY_MAX on PUT /documents/{id} only);
  and at the end: every kumo-bff exits 0 on SIGTERM, no sanitizer report
  and no secret in their logs.

Three kumo-bff daemons run: the main one (rate limits off, CORS allow-list
set, KUMO_COOKIE_SECURE=false), "bff-secure" (KUMO_COOKIE_SECURE=true) and
"bff-limits" (low rate limits, KUMO_PAGE_SIZE_MAX=3, KUMO_CLIENT_TIMEOUT=2s,
KUMO_REQUEST_TIMEOUT=1500ms).

Usage: bff_test.py BUILD_DIR
Prints TAP lines "ok - bff: CASE" / "not ok - bff: CASE" (with "#"
diagnostics). BFF_TEST_KEEP=1 keeps the work directory.
"""
import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import kumo_stack  # noqa: E402
import openapi_validate  # noqa: E402
from h2c_raw import h2c_collect, h2c_get, h2c_open, send_q  # noqa: E402

API = "/api/v1"
ALLOWED_ORIGIN = "https://app.kumo.test"
FOREIGN_ORIGIN = "https://evil.example"
NO_SUCH_ID = "00000000-0000-4000-8000-00000000beef"
NO_SUCH_DOC = "doc_zzzzzzzzzzzzzzzzzzzz"  # well-formed, never issued
NO_SUCH_USER = "us_zzzzzzzzzzzzzzzzzzzz"

passed = 0
failed = 0
SECRETS = set()
TMP = None


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - bff: " + name, flush=True)
    else:
        failed += 1
        print("not ok - bff: " + name, flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("#   " + redact(line), flush=True)
    return ok


def note(msg):
    print("# " + redact(msg), flush=True)


def redact(s):
    s = re.sub(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", "<jwt>", s)
    s = re.sub(r'("(?:refresh_token|csrf_token|secret)":")[^"]*', r"\1<secret>", s)
    for sec in SECRETS:
        if sec and len(sec) >= 8:
            s = s.replace(sec, "<secret>")
    return s


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


# ---- curl ---------------------------------------------------------------------------------------

class Resp:
    def __init__(self, status, headers, body, http_version, url, method):
        self.status, self.headers, self.body = status, headers, body
        self.http_version, self.url, self.method = http_version, url, method

    def h(self, name):
        v = self.headers.get(name.lower())
        return v[-1] if v else None

    def hs(self, name):
        return self.headers.get(name.lower(), [])

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def __repr__(self):
        b = self.body[:600].decode("utf-8", "replace")
        return "%s %s -> %s %s" % (self.method, self.url, self.status, b)


ALL = []          # every response of a BFF (for the header checks)
USED = set()      # (METHOD, /api/v1/template) the flow used


def template(path):
    p = path.split("?", 1)[0]
    p = re.sub(r"^(%s/(?:documents|users|api-keys|dead-letters))/[^/]+" % API, r"\1/{id}", p)
    return p


def curl(method, url, headers=None, body=None, h2=False, timeout=30, record=True):
    """Runs curl -sS; body: dict/list (JSON), str/bytes, or ("@", path).
    Returns Resp (status 0 when curl itself failed; body then holds its
    stderr)."""
    hdr_f = os.path.join(TMP, "h.txt")
    body_f = os.path.join(TMP, "b.bin")
    for f in (hdr_f, body_f):
        if os.path.exists(f):
            os.unlink(f)
    cmd = ["curl", "-sS", "-X", method, "-D", hdr_f, "-o", body_f,
           "-w", "%{http_code} %{http_version}", "--max-time", str(timeout)]
    if h2:
        cmd.append("--http2-prior-knowledge")
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, tuple):
            cmd += ["--data-binary", "@" + body[1]]
        else:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
            if isinstance(body, str):
                body = body.encode()
            in_f = os.path.join(TMP, "in.bin")
            with open(in_f, "wb") as f:
                f.write(body)
            cmd += ["--data-binary", "@" + in_f]
    for k, v in hdrs.items():
        cmd += ["-H", "%s: %s" % (k, v) if v != "" else "%s;" % k]
    cmd.append(url)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout + 10)
    out = p.stdout.decode().split()
    status = int(out[0]) if out and out[0].isdigit() else 0
    ver = out[1] if len(out) > 1 else ""
    headers_out = {}
    try:
        with open(hdr_f, "rb") as f:
            raw = f.read().decode("latin-1")
        blocks = [b for b in re.split(r"\r?\n\r?\n", raw) if b.startswith("HTTP/")]
        last = blocks[-1] if blocks else ""
        for line in last.splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers_out.setdefault(k.strip().lower(), []).append(v.strip())
    except OSError:
        pass
    data = b""
    if os.path.exists(body_f):
        with open(body_f, "rb") as f:
            data = f.read()
    if status == 0:
        data = p.stderr
    r = Resp(status, headers_out, data, ver, url, method)
    if record:
        ALL.append(r)
    openapi_validate.observe(method, url, status, headers_out, data)
    return r


class Bff:
    """One kumo-bff daemon, reached with curl."""

    def __init__(self, daemon):
        self.d = daemon
        self.base = "http://127.0.0.1:%d" % daemon.http_port

    def req(self, method, path, token=None, body=None, headers=None, h2=False, timeout=30,
            use=True):
        hdrs = {}
        if token:
            hdrs["Authorization"] = "Bearer " + token
        hdrs.update(headers or {})
        if use and path.startswith(API):
            USED.add((method, template(path)))
        r = curl(method, self.base + path, hdrs, body, h2=h2, timeout=timeout)
        r.route = (method, template(path)) if path.startswith(API) else None
        return r


def is_error(r, status, code=None):
    j = r.json()
    ok = (r.status == status and isinstance(j, dict) and isinstance(j.get("error"), dict)
          and isinstance(j["error"].get("code"), str) and isinstance(j["error"].get("message"), str)
          and (r.h("content-type") or "").startswith("application/json"))
    if ok and code is not None:
        ok = j["error"]["code"] == code
    return ok


def expect_error(r, status, code=None, what=""):
    expect(is_error(r, status, code), "%s: want %d %s JSON error, got %r" % (
        what, status, code or "", r))


def expect_status(r, status, what=""):
    want = status if isinstance(status, tuple) else (status,)
    expect(r.status in want, "%s: want %s, got %r" % (what, "/".join(map(str, want)), r))
    return r.json()


# ---- the world ----------------------------------------------------------------------------------

class World:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise Fail("needs %r, which an earlier (failed) case was to create" % name)


STORAGE_ENV = {"KUMO_STORAGE_RESTORE_EXPEDITED": "1s", "KUMO_STORAGE_RESTORE_STANDARD": "2s",
               "KUMO_STORAGE_RESTORE_BULK": "3s"}
DOCS_ENV = {"KUMO_JOBS_WORKERS": "1", "KUMO_JOBS_POLL_INTERVAL": "200ms",
            "KUMO_MULTIPART_THRESHOLD": "6MiB", "KUMO_MULTIPART_PART_SIZE": "5MiB"}
MIB = 1024 * 1024
BFF_ENV = {"KUMO_RATE_LIMIT_PER_ADDRESS": "off", "KUMO_RATE_LIMIT_PER_PRINCIPAL": "off",
           "KUMO_LOGIN_RATE_LIMIT": "off", "KUMO_CORS_ORIGINS": ALLOWED_ORIGIN,
           "KUMO_COOKIE_SECURE": "false"}
LIMITS_ENV = dict(BFF_ENV, KUMO_RATE_LIMIT_PER_ADDRESS="5/s burst 20",
                  KUMO_LOGIN_RATE_LIMIT="3/m burst 3", KUMO_PAGE_SIZE_MAX="3",
                  KUMO_CLIENT_TIMEOUT="2s", KUMO_RATE_LIMIT_PER_PRINCIPAL="2/s burst 5",
                  KUMO_REQUEST_TIMEOUT="1500ms")


def setup(w, build):
    st = w.st
    st.start_mariadb()
    st.secrets()
    st.migrate("users")
    st.migrate("documents")
    st.bootstrap()
    # A 1 s refresh-reuse grace window: c_refresh_reuse sees both sides.
    st.start("users", env={"KUMO_REFRESH_REUSE_GRACE": "1s"})
    st.start("storage", env=STORAGE_ENV)
    st.start("documents", env=DOCS_ENV)
    w.bff = Bff(st.start("bff", env=BFF_ENV))
    SECRETS.update([st.demo_password, st.system_password, st.storage_secret])
    for f in os.listdir(st.keys_dir):
        with open(os.path.join(st.keys_dir, f)) as fh:
            SECRETS.add(fh.read().strip())


def login(b, tenant, email, password, **extra):
    body = {"tenant": tenant, "email": email, "password": password}
    body.update(extra)
    r = b.req("POST", API + "/auth/login", body=body)
    j = r.json() or {}
    for k in ("access_token", "refresh_token", "csrf_token"):
        if isinstance(j.get(k), str):
            SECRETS.add(j[k])
    return r


def upload(ans, data):
    """PUTs data to an upload answer's upload_url with its upload_headers."""
    path = os.path.join(TMP, "upload.bin")
    with open(path, "wb") as f:
        f.write(data)
    hdrs = {k: v for k, v in (ans.get("upload_headers") or {}).items()
            if k.lower() not in ("content-length", "host")}
    method = ans.get("http_method") or "PUT"
    return curl(method, ans["upload_url"], hdrs, ("@", path), record=False, timeout=60)


def download(url):
    return curl("GET", url, record=False, timeout=60)


# ---- 1 and 2: the KumoCMS flow ------------------------------------------------------------------

def c_login(w):
    r = login(w.bff, "demo", w.st.demo_email, w.st.demo_password)
    j = expect_status(r, 200, "login")
    expect(isinstance(j.get("access_token"), str) and j["access_token"].count(".") == 2, j)
    expect(j.get("token_type") == "Bearer", j)
    expect(isinstance(j.get("refresh_token"), str) and j["refresh_token"], "no refresh_token")
    expect(isinstance(j.get("expires_in"), int) and 0 < j["expires_in"] <= 3600, j)
    expect((j.get("user") or {}).get("email") == w.st.demo_email, j)
    w.admin_tok = j["access_token"]
    w.admin_refresh = j["refresh_token"]
    w.admin_user = j["user"]
    r = w.bff.req("GET", API + "/me", w.admin_tok)
    j = expect_status(r, 200, "me")
    expect(j.get("user_id") == w.admin_user["id"] and "admin" in j.get("roles", []), j)
    # refresh in bearer mode rotates the token
    r = w.bff.req("POST", API + "/auth/refresh", body={"refresh_token": w.admin_refresh})
    j = expect_status(r, 200, "refresh (bearer)")
    expect(j.get("refresh_token") and j["refresh_token"] != w.admin_refresh, j)
    SECRETS.update([j["access_token"], j["refresh_token"]])
    w.spare_refresh = j["refresh_token"]
    r = login(w.bff, "demo", w.st.demo_email, "wrong-password-123")
    expect_error(r, 401, "unauthenticated", "login with a wrong password")
    r = w.bff.req("GET", API + "/documents")
    expect_error(r, 401, "unauthenticated", "GET /documents without a token")
    expect(r.h("www-authenticate"), "401 without WWW-Authenticate: %r" % r.headers)


def c_bearer_logout(w):
    tok = w.spare_refresh
    r = w.bff.req("POST", API + "/auth/logout", body={"refresh_token": tok})
    expect_status(r, 204, "logout (bearer)")
    r = w.bff.req("POST", API + "/auth/refresh", body={"refresh_token": tok})
    expect_error(r, 401, None, "refresh with a logged-out refresh token (bearer)")
    r = w.bff.req("POST", API + "/auth/logout", body={"refresh_token": "x" * 43})
    expect_error(r, 401, None, "logout with an unknown refresh token (no pretend 204)")


class Flow:
    """State of one run of the KumoCMS flow under one credential."""

    def __init__(self, label, tok):
        self.label, self.tok = label, tok


def f_create(w, f):
    f.data = os.urandom(70000) + b"kumo flow " + f.label.encode()
    f.meta = {"department": "legal", "label": f.label, "n": 3, "nested": {"a": [1, 2]}}
    r = w.bff.req("POST", API + "/documents", f.tok, body={
        "file_name": "policy-%s.pdf" % f.label, "file_size": len(f.data),
        "content_type": "application/pdf", "meta_json": f.meta, "title": "Policy " + f.label,
        "tags": ["policy", f.label]})
    j = expect_status(r, 201, "create")
    for k in ("document_id", "message", "upload_url"):
        expect(isinstance(j.get(k), str) and j[k], "no %s: %r" % (k, j))
    expect(j.get("method") == "presigned_url", "method %r" % j.get("method"))
    expect(r.h("location") == API + "/documents/" + j["document_id"], r.headers)
    expect((j.get("document") or {}).get("status") == "pending_upload", j)
    f.id = j["document_id"]
    f.create = j


def f_upload_complete(w, f):
    r = upload(f.create, f.data)
    expect(r.status in (200, 201, 204), "PUT to upload_url: %r" % r)
    r = w.bff.req("POST", API + "/documents/%s/complete" % f.id, f.tok, body={"sha256": "zz" * 32})
    expect_error(r, 400, None, "complete with a sha256 that is not hex")
    # Declared at completion (none at create), as the console does.
    r = w.bff.req("POST", API + "/documents/%s/complete" % f.id, f.tok,
                  body={"sha256": hashlib.sha256(f.data).hexdigest()})
    j = expect_status(r, 200, "complete")
    d = j.get("document") or {}
    expect(j.get("document_id") == f.id and d.get("status") == "active", j)
    expect(d.get("size") == len(f.data), "size %r" % d.get("size"))
    expect(d.get("sha256") == hashlib.sha256(f.data).hexdigest(), "sha256 %r" % d.get("sha256"))


def f_list(w, f):
    r = w.bff.req("GET", API + "/documents?page_size=50", f.tok)
    j = expect_status(r, 200, "list")
    ids = [d.get("id") for d in j.get("documents", [])]
    expect(f.id in ids, "%s not listed: %r" % (f.id, ids))
    expect("next_page_token" in j, j.keys())
    expect("search_terms" not in j, "search_terms without q: %r" % j.get("search_terms"))
    r = w.bff.req("GET", API + "/documents?status=active&tag=" + f.label, f.tok)
    j = expect_status(r, 200, "list filtered")
    expect([d.get("id") for d in j.get("documents", [])] == [f.id], j)
    q = urllib.parse.quote("Quarterly 就業規則")
    j = expect_status(w.bff.req("GET", API + "/documents?q=" + q, f.tok), 200, "list with q")
    terms = j.get("search_terms")
    expect(isinstance(terms, list) and terms and all(isinstance(t, str) for t in terms),
           "search_terms with q: %r" % terms)


def f_get_download(w, f):
    r = w.bff.req("GET", API + "/documents/" + f.id, f.tok)
    j = expect_status(r, 200, "get")
    expect(j.get("document_id") == f.id and j.get("id") == f.id, j)
    expect(j.get("metadata") == f.meta, "metadata %r != meta_json %r" % (j.get("metadata"), f.meta))
    expect(isinstance(j.get("presigned_url"), str), "no presigned_url: %r" % j)
    expect(r.h("etag") == '"%s"' % j.get("etag"), "ETag %r vs etag %r" % (r.h("etag"),
                                                                          j.get("etag")))
    f.etag = j["etag"]
    d = download(j["presigned_url"])
    expect(d.status == 200 and d.body == f.data, "download: %s, %d bytes (want %d)" % (
        d.status, len(d.body), len(f.data)))
    # kumo-documents hands the link storage signed out again while it has
    # most of its life left (issue 17): same link, same expiry.
    j2 = expect_status(w.bff.req("GET", API + "/documents/" + f.id, f.tok), 200, "get again")
    expect(j2.get("presigned_url") == j["presigned_url"] and
           j2.get("presigned_url_expires_at") == j.get("presigned_url_expires_at"),
           "a second GET got another link: %r vs %r" % (j2.get("presigned_url"),
                                                         j["presigned_url"]))
    f.link = j["presigned_url"]


def f_patch(w, f):
    path = API + "/documents/" + f.id
    r = w.bff.req("PATCH", path, f.tok, body={"title": "no etag"})
    expect_error(r, 428, None, "PATCH without If-Match")
    r = w.bff.req("PATCH", path, f.tok, body={"title": "garbage"},
                  headers={"If-Match": '"not-an-etag"'})
    expect(r.status in (400, 412) and is_error(r, r.status), "PATCH with a garbage If-Match: %r"
           % r)
    r = w.bff.req("PATCH", path, f.tok, body={"title": "Renamed " + f.label,
                                              "description": "patched"},
                  headers={"If-Match": '"%s"' % f.etag})
    j = expect_status(r, 200, "PATCH with the current If-Match")
    d = j.get("document") or {}
    expect(d.get("title") == "Renamed " + f.label and d.get("etag") != f.etag, j)
    r = w.bff.req("PATCH", path, f.tok, body={"title": "stale again"},
                  headers={"If-Match": '"%s"' % f.etag})
    expect_error(r, 412, None, "PATCH with the etag from before the change")
    j = expect_status(w.bff.req("GET", path, f.tok), 200, "get after patch")
    expect(j.get("title") == "Renamed " + f.label, "title after 412s: %r" % j.get("title"))
    f.etag = j["etag"]


def f_versions(w, f):
    f.data2 = os.urandom(40000) + b"version 2"
    r = w.bff.req("PUT", API + "/documents/" + f.id, f.tok, body={
        "file_name": "policy-%s-v2.pdf" % f.label, "file_size": len(f.data2),
        "content_type": "application/pdf"})
    j = expect_status(r, 201, "PUT (new version)")
    expect(j.get("upload_url") and j.get("method") == "presigned_url", j)
    ver = (j.get("version") or {}).get("version")
    expect(ver == 2, "new version number %r" % ver)
    u = upload(j, f.data2)
    expect(u.status in (200, 201, 204), "PUT to upload_url: %r" % u)
    r = w.bff.req("POST", API + "/documents/%s/complete" % f.id, f.tok, body={"version": 2})
    j = expect_status(r, 200, "complete version 2")
    expect((j.get("document") or {}).get("current_version") == 2, j)
    r = w.bff.req("GET", API + "/documents/%s/versions" % f.id, f.tok)
    j = expect_status(r, 200, "versions")
    vs = [v.get("version") for v in j.get("versions", [])]
    expect(vs == [2, 1], "versions %r (newest first)" % vs)
    j = expect_status(w.bff.req("GET", API + "/documents/" + f.id, f.tok), 200, "get v2")
    expect(j.get("presigned_url") != f.link, "version 2 got version 1's link")
    d = download(j.get("presigned_url", ""))
    expect(d.status == 200 and d.body == f.data2, "v2 download %s %d bytes" % (d.status,
                                                                             len(d.body)))
    j = expect_status(w.bff.req("GET", API + "/documents/%s?version=1" % f.id, f.tok), 200,
                      "get ?version=1")
    d = download(j.get("presigned_url", ""))
    expect(d.status == 200 and d.body == f.data, "v1 download %s %d bytes" % (d.status,
                                                                            len(d.body)))
    f.data = f.data2


def f_archive(w, f):
    r = w.bff.req("POST", API + "/documents/%s/archive" % f.id, f.tok)
    j = expect_status(r, 200, "archive")
    expect((j.get("document") or {}).get("status") == "archived", j)
    r = w.bff.req("POST", API + "/documents/%s/archive" % f.id, f.tok)
    expect_error(r, 409, None, "archive again")
    r = w.bff.req("GET", API + "/documents/" + f.id, f.tok)
    expect_error(r, 403, None, "GET an archived document")
    expect("presigned_url" not in (r.json() or {}), r)


def f_restore(w, f):
    r = w.bff.req("POST", API + "/documents/%s/restore" % f.id, f.tok,
                  body={"days": 1, "tier": "standard"})
    j = expect_status(r, 202, "restore")
    expect(j.get("document_id") == f.id and isinstance(j.get("restore"), dict), j)
    r = w.bff.req("GET", API + "/documents/" + f.id, f.tok)
    j = expect_status(r, 202, "GET while the restore runs")
    expect(not j.get("presigned_url"), "presigned_url while restoring: %r" % j)
    deadline = time.time() + 15
    while True:
        r = w.bff.req("GET", API + "/documents/" + f.id, f.tok)
        if r.status != 202 or time.time() > deadline:
            break
        time.sleep(0.25)
    j = expect_status(r, 200, "GET once restored (standard = 2 s here)")
    d = download(j.get("presigned_url", ""))
    expect(d.status == 200 and d.body == f.data, "download after restore %s %d bytes" % (
        d.status, len(d.body)))
    f.status_before_delete = j.get("status")


def f_delete_undelete(w, f):
    r = w.bff.req("DELETE", API + "/documents/" + f.id, f.tok)
    j = expect_status(r, 200, "delete")
    expect(j.get("document_id") == f.id and (j.get("document") or {}).get("status") == "deleted",
           j)
    r = w.bff.req("GET", API + "/documents/" + f.id, f.tok)
    note("%s: GET after delete -> %s (status %r)" % (f.label, r.status,
                                                     (r.json() or {}).get("status")))
    # As KumoCMS: a deleted document is 404; the Trash still shows it.
    expect_error(r, 404, "not_found", "GET after delete")
    r = w.bff.req("GET", API + "/documents/%s?include_deleted=true" % f.id, f.tok)
    j = expect_status(r, 200, "GET after delete with include_deleted")
    expect(j.get("status") == "deleted" and not j.get("presigned_url"),
           "GET after delete with include_deleted: %r" % j)
    j = expect_status(w.bff.req("GET", API + "/documents?status=deleted&page_size=100", f.tok),
                      200, "the Trash")
    expect(f.id in [d.get("id") for d in j.get("documents", [])], "not in the Trash")
    j = expect_status(w.bff.req("GET", API + "/documents?page_size=100", f.tok), 200, "list")
    expect(f.id not in [d.get("id") for d in j.get("documents", [])], "deleted still listed")
    r = w.bff.req("POST", API + "/documents/%s/undelete" % f.id, f.tok)
    j = expect_status(r, 200, "undelete")
    expect((j.get("document") or {}).get("status") == f.status_before_delete, j)
    j = expect_status(w.bff.req("GET", API + "/documents?page_size=100", f.tok), 200, "list")
    expect(f.id in [d.get("id") for d in j.get("documents", [])], "undeleted not listed")
    r = w.bff.req("GET", API + "/documents/" + f.id, f.tok)
    expect(r.status in (200, 403), "GET after undelete: %r" % r)
    r = w.bff.req("POST", API + "/documents/%s/undelete" % f.id, f.tok)
    expect(r.status in (400, 409) and is_error(r, r.status), "undelete of a live one: %r" % r)


def f_audit(w, f):
    r = w.bff.req("GET", API + "/audit-events?document_id=" + f.id, w.admin_tok)
    j = expect_status(r, 200, "audit events")
    ev = j.get("events", [])
    acts = [e.get("action") for e in ev]
    for what in ("document.create", "document.complete_upload", "document.update",
                 "document.create_version", "document.archive", "document.restore",
                 "document.delete", "document.undelete"):
        expect(what in acts, "no %r event: %r" % (what, acts))
    expect(all(e.get("document_id") == f.id for e in ev), "other documents' events")
    times = [e.get("time") for e in ev]
    expect(times == sorted(times, reverse=True), "not newest first: %r" % times)
    # Time bounds: [time_after, time_before) on the event time.
    if len(times) >= 2:
        mid = times[len(times) // 2]
        q = "/audit-events?document_id=%s&time_after=%s" % (f.id, urllib.parse.quote(mid))
        j = expect_status(w.bff.req("GET", API + q, w.admin_tok), 200, "audit time_after")
        got = [e.get("time") for e in j.get("events", [])]
        P = datetime.datetime.fromisoformat
        expect(got == [t for t in times if P(t) >= P(mid)], "time_after %s: %r" % (mid, got))
        q = "/audit-events?document_id=%s&time_before=%s" % (f.id, urllib.parse.quote(mid))
        j = expect_status(w.bff.req("GET", API + q, w.admin_tok), 200, "audit time_before")
        got = [e.get("time") for e in j.get("events", [])]
        expect(got == [t for t in times if P(t) < P(mid)], "time_before %s: %r" % (mid, got))
    r = w.bff.req("GET", API + "/audit-events?time_after=yesterday", w.admin_tok)
    expect_error(r, 400, None, "audit time_after=yesterday")


FLOW = [("create with meta_json -> 201 {document_id, upload_url, method presigned_url}", f_create),
        ("PUT the bytes to upload_url; POST complete (sha256 not hex -> 400; sha256 hex) -> "
         "active, size and sha256",
         f_upload_complete),
        ("GET /documents lists it (and with status+tag filters)", f_list),
        ("GET /documents/{id}: metadata = meta_json, ETag, presigned_url downloads equal bytes",
         f_get_download),
        ("PATCH: no If-Match -> 428, stale -> 412, current -> 200; row kept on 412", f_patch),
        ("PUT /documents/{id} (version 2) + upload + complete; GET /versions [2,1]; "
         "?version=1 downloads the old bytes", f_versions),
        ("archive -> 200; again -> 409; GET -> 403", f_archive),
        ("restore {days, tier} -> 202; GET -> 202 while running, then 200 with a working "
         "presigned_url", f_restore),
        ("DELETE -> 200; GET after delete (404 or status deleted, no link); not listed; "
         "undelete -> back", f_delete_undelete),
        ("GET /audit-events?document_id= (admin) has create..undelete; time_after/"
         "time_before bound it, a bad time is 400", f_audit)]


def run_flow(w, label, tok):
    f = Flow(label, tok)
    ok = True
    for name, fn in FLOW:
        if not ok:
            report(False, "%s flow: %s" % (label, name), "skipped: an earlier step failed")
            continue
        ok = case("%s flow: %s" % (label, name), fn, w, f)
    return f


def c_api_key(w):
    r = w.bff.req("POST", API + "/api-keys", w.admin_tok, body={"name": "ci-flow",
                                                               "role": "editor"})
    j = expect_status(r, 201, "POST /api-keys")
    sec = j.get("secret")
    expect(isinstance(sec, str) and sec.startswith("kumo_"), "secret %r" % j.keys())
    SECRETS.add(sec)
    w.key = sec
    w.key_id = (j.get("api_key") or {}).get("id")
    expect(w.key_id, j)
    r = w.bff.req("GET", API + "/api-keys", w.admin_tok)
    j = expect_status(r, 200, "GET /api-keys")
    expect(w.key_id in [k.get("id") for k in j.get("api_keys", [])], j)
    expect(sec not in r.body.decode(), "the list shows the secret")
    r = w.bff.req("GET", API + "/me", w.key)
    j = expect_status(r, 200, "/me with the API key")
    expect(j.get("roles") == ["editor"], j)


def c_api_key_revoke(w):
    r = w.bff.req("POST", API + "/api-keys", w.admin_tok, body={"name": "to-revoke",
                                                               "role": "viewer"})
    j = expect_status(r, 201, "POST /api-keys")
    sec, kid = j["secret"], j["api_key"]["id"]
    SECRETS.add(sec)
    expect_status(w.bff.req("GET", API + "/documents", sec), 200, "GET with the key")
    expect_status(w.bff.req("DELETE", API + "/api-keys/" + kid, w.admin_tok), 204, "revoke")
    r = w.bff.req("GET", API + "/documents", sec)
    expect_error(r, 401, "unauthenticated", "GET with a revoked key")
    r = w.bff.req("GET", API + "/documents", "kumo_" + "A" * 20 + "_" + "b" * 40)
    expect(r.status == 401 and is_error(r, 401), "a made-up key: %r" % r)


def c_multipart(w):
    data = os.urandom(7 * MIB + 12345)
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body={
        "file_name": "scan.bin", "file_size": len(data), "content_type": "application/octet-stream",
        "sha256": hashlib.sha256(data).hexdigest(), "presign_parts": True, "title": "Big scan"})
    j = expect_status(r, 201, "create (multipart)")
    did = j.get("document_id")
    expect(j.get("method") == "multipart" and j.get("part_size") == 5 * MIB and
           j.get("part_count") == 2 and len(j.get("parts") or []) == 2,
           "multipart plan: %r" % {k: v for k, v in j.items() if k != "parts"})
    # tenant B cannot presign or complete tenant A's upload (ids in path and body)
    r = w.bff.req("POST", API + "/documents/%s/upload-parts" % did, w.b_tok,
                  body={"part_numbers": [1, 2]}, use=False)
    expect_error(r, 404, "not_found", "tenant B upload-parts")
    etags = []
    for p in j["parts"]:
        n = p.get("part_number")
        chunk = data[(n - 1) * 5 * MIB: n * 5 * MIB]
        expect(p.get("size") == len(chunk) and p.get("url"), "part %r" % p)
        u = upload({"upload_url": p["url"], "upload_headers": p.get("headers") or {}}, chunk)
        expect(u.status == 200 and u.h("etag"), "part %d: %r" % (n, u))
        etags.append({"part_number": n, "etag": u.h("etag")})
    r = w.bff.req("POST", API + "/documents/%s/upload-parts" % did, w.admin_tok,
                  body={"part_numbers": [2]})
    pj = expect_status(r, 200, "upload-parts")
    expect([p.get("part_number") for p in pj.get("parts", [])] == [2] and
           pj["parts"][0].get("url"), pj)
    r = w.bff.req("POST", API + "/documents/%s/complete" % did, w.b_tok, body={"parts": etags},
                  use=False)
    expect_error(r, 404, "not_found", "tenant B completes A's multipart upload")
    r = w.bff.req("POST", API + "/documents/%s/complete" % did, w.admin_tok,
                  body={"parts": etags})
    cj = expect_status(r, 200, "complete (multipart)")
    d = cj.get("document") or {}
    expect(d.get("status") == "active" and d.get("size") == len(data), d)
    g = expect_status(w.bff.req("GET", API + "/documents/" + did, w.admin_tok), 200, "get")
    dl = download(g.get("presigned_url", ""))
    expect(dl.status == 200 and hashlib.sha256(dl.body).digest() == hashlib.sha256(data).digest(),
           "multipart download %s %d bytes" % (dl.status, len(dl.body)))
    w.mp_id = did


def c_multipart_part_sha(w):
    """part_sha256 (opt-in) on POST /documents and PUT /documents/{id}:
    sha256s at upload-parts signed into the part URLs, parts' sha256 at
    complete; not with presign_parts; a boolean only."""
    import base64
    data = os.urandom(6 * MIB + 77)
    shas = [base64.b64encode(hashlib.sha256(data[i:i + 5 * MIB]).digest()).decode()
            for i in (0, 5 * MIB)]
    body = {"file_name": "sums.bin", "file_size": len(data),
            "content_type": "application/octet-stream", "part_sha256": True}
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body=dict(body, presign_parts=True))
    expect_error(r, 400, "invalid_argument", "part_sha256 with presign_parts")
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body=dict(body, part_sha256="yes"))
    expect_error(r, 400, "invalid_argument", "part_sha256 not a boolean")
    did = None
    for method, path in (("POST", "/documents"), ("PUT", None)):
        if path is None:
            path = "/documents/" + did
        j = expect_status(w.bff.req(method, API + path, w.admin_tok, body=body), 201,
                          "%s %s with part_sha256" % (method, path))
        did = did or j.get("document_id")
        expect(j.get("method") == "multipart" and j.get("part_count") == 2 and not j.get("parts"),
               "plan: %r" % j)
        pj = expect_status(w.bff.req("POST", API + "/documents/%s/upload-parts" % did,
                                     w.admin_tok, body={"part_numbers": [1, 2], "sha256s": shas}),
                           200, "upload-parts with sha256s")
        parts = []
        for p in pj.get("parts") or []:
            n = p.get("part_number")
            hs = {k.lower(): v for k, v in (p.get("headers") or {}).items()}
            expect(hs.get("x-amz-checksum-sha256") == shas[n - 1], "part %d headers %r" % (n, hs))
            u = upload({"upload_url": p["url"], "upload_headers": p.get("headers") or {}},
                       data[(n - 1) * 5 * MIB: n * 5 * MIB])
            expect(u.status == 200 and u.h("etag"), "part %d: %r" % (n, u))
            parts.append({"part_number": n, "etag": u.h("etag"), "sha256": shas[n - 1]})
        expect(len(parts) == 2, "parts %r" % pj)
        cj = expect_status(w.bff.req("POST", API + "/documents/%s/complete" % did, w.admin_tok,
                                     body={"parts": parts}), 200, "complete with part sha256s")
        expect((cj.get("document") or {}).get("size") == len(data), cj)


def c_request_id(w):
    rid = "bff-test-" + os.urandom(8).hex()
    r = w.bff.req("POST", API + "/documents", w.admin_tok, headers={"X-Request-Id": rid},
                  body={"file_name": "traced.txt", "file_size": 6})
    j = expect_status(r, 201, "POST /documents with X-Request-Id")
    expect(r.h("x-request-id") == rid, "X-Request-Id answered %r" % r.h("x-request-id"))
    did = j["document_id"]
    j = expect_status(w.bff.req("GET", API + "/audit-events?document_id=%s&page_size=5" % did,
                                w.admin_tok), 200, "audit")
    ev = (j.get("events") or [{}])[0]
    expect(ev.get("request_id") == rid, "newest event %r" % ev)


def r_etag(w, did):
    r = w.bff.req("GET", API + "/documents/" + did, w.admin_tok, use=False)
    e = r.h("etag") or ""
    return e.strip('"')


def c_idempotency(w):
    key = "idem-" + os.urandom(8).hex()
    ids = []
    for _ in range(2):
        r = w.bff.req("POST", API + "/documents", w.admin_tok, headers={"Idempotency-Key": key},
                      body={"file_name": "idem.txt", "file_size": 4})
        j = expect_status(r, (200, 201), "create with Idempotency-Key")
        ids.append(j.get("document_id"))
    expect(ids[0] and ids[0] == ids[1], "two documents for one Idempotency-Key: %r" % ids)


def c_pagination(w):
    j = expect_status(w.bff.req("GET", API + "/documents?page_size=100", w.admin_tok), 200,
                      "list all")
    want = [d["id"] for d in j.get("documents", [])]
    expect(len(want) >= 5, "only %d documents" % len(want))
    got, token, pages = [], "", 0
    while pages < 50:
        q = "?page_size=2" + ("&page_token=" + urllib.parse.quote(token) if token else "")
        j = expect_status(w.bff.req("GET", API + "/documents" + q, w.admin_tok), 200, "page")
        got += [d["id"] for d in j.get("documents", [])]
        pages += 1
        token = j.get("next_page_token") or ""
        if not token:
            break
    expect(got == want, "pages of 2 (%d pages) differ from one page of 100:\n%r\n%r" % (
        pages, got, want))
    r = w.bff.req("GET", API + "/documents?page_token=garbage", w.admin_tok)
    expect_error(r, 400, None, "garbage page_token")


WRONG = {"string": 5, "integer": "1", "number": "x", "boolean": "yes", "object": [1],
         "array": {"a": 1}}
QUERY_WRONG = {"integer": "abc", "boolean": "maybe"}


def spec_probes(w):
    """(label, method, path, token, body, field) for every operation of
    bff/openapi.yaml: each request breaks what the document says of one body
    member or query parameter (a required member missing, another type, a
    value outside the enum or below the minimum, a member not listed)."""
    doc = openapi_validate.shared().doc
    ids = {"documents": w.flow_bearer.id, "users": w.viewer_id}
    out = []
    for tmpl, item in doc["paths"].items():
        m = re.match(r"^%s/(documents|users|api-keys|dead-letters)/\{id\}" % API, tmpl)
        if m and m.group(1) not in ids:
            continue  # no body nor query parameter to probe there
        if tmpl == API + "/auth":
            continue  # KumoCMS sign-in is off here (404); the kumocms suite probes it
        path = tmpl.replace("{id}", ids[m.group(1)]) if m else tmpl
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tok = None if op.get("security") == [] else w.admin_tok
            M = method.upper()
            hdr = {"If-Match": "*"} if M == "PATCH" else None
            body = openapi_validate._deref(doc, op.get("requestBody") or {})
            schema = (((body.get("content") or {}).get("application/json") or {})
                      .get("schema") or {})
            props = schema.get("properties") or {}
            req = schema.get("required") or []
            if req:
                out.append(("%s %s {} (%s required)" % (M, tmpl, req[0]), M, path, tok, {}, req,
                            hdr))
            if schema.get("additionalProperties") is False:
                out.append(("%s %s member not listed" % (M, tmpl), M, path, tok,
                            {"not_in_the_document": 1}, ["not_in_the_document"], hdr))
            for name, sub in props.items():
                t = sub.get("type")
                if t in WRONG:
                    out.append(("%s %s %s of another type" % (M, tmpl, name), M, path, tok,
                                {name: WRONG[t]}, [name], hdr))
                if sub.get("enum") and t == "string":
                    out.append(("%s %s %s outside its enum" % (M, tmpl, name), M, path, tok,
                                {name: "not-in-the-enum"}, [name], hdr))
                if "maxLength" in sub and t == "string":
                    out.append(("%s %s %s above its maxLength" % (M, tmpl, name), M, path, tok,
                                {name: "x" * (sub["maxLength"] + 1)}, [name], hdr))
                if "maxItems" in sub and t == "array":
                    out.append(("%s %s %s above its maxItems" % (M, tmpl, name), M, path, tok,
                                {name: ["t%d" % i for i in range(sub["maxItems"] + 1)]}, [name],
                                hdr))
                if "minimum" in sub and t == "integer":
                    out.append(("%s %s %s below its minimum" % (M, tmpl, name), M, path, tok,
                                {name: sub["minimum"] - 1}, [name], hdr))
            for p in list(item.get("parameters", [])) + list(op.get("parameters", [])):
                p = openapi_validate._deref(doc, p)
                if p.get("in") != "query":
                    continue
                sch = p.get("schema") or {}
                bad = QUERY_WRONG.get(sch.get("type"))
                if sch.get("enum"):
                    bad = "not-in-the-enum"
                elif sch.get("type") == "integer" and "minimum" in sch:
                    out.append(("%s %s ?%s below its minimum" % (M, tmpl, p["name"]), M,
                                "%s?%s=%d" % (path, p["name"], sch["minimum"] - 1), tok, None,
                                [p["name"]], None))
                if bad is not None:
                    out.append(("%s %s ?%s=%s" % (M, tmpl, p["name"], bad), M,
                                "%s?%s=%s" % (path, p["name"], bad), tok, None, [p["name"]],
                                None))
    return out


def c_spec_requests(w):
    # The issue's case: no file_size -> 400 naming it, and no document made.
    def pending():
        r = w.bff.req("GET", API + "/documents?status=pending_upload&page_size=1000",
                      w.admin_tok, use=False)
        return len(expect_status(r, 200, "list pending")["documents"])
    before = pending()
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body={"file_name": "a.txt"}, use=False)
    expect_error(r, 400, "invalid_argument", "POST /documents without file_size")
    expect("file_size" in r.json()["error"]["message"], r)
    expect(pending() == before, "a pending document was created anyway")
    bad = []
    probes = spec_probes(w)
    for label, method, path, tok, body, names, hdr in probes:
        r = w.bff.req(method, path, tok, body=body, headers=hdr, use=False)
        msg = ((r.json() or {}).get("error") or {}).get("message", "")
        if not is_error(r, 400, "invalid_argument") or not any(n in msg for n in names):
            bad.append("%s -> %s %s" % (label, r.status, r.body[:200]))
    note("%d requests breaking the document, over %d operations" % (
        len(probes), len({(p[1], p[0].split()[1]) for p in probes})))
    expect(len(probes) > 60 and not bad, "not refused with 400 naming the field:\n" +
           "\n".join(bad))



# ---- 3: another tenant --------------------------------------------------------------------------

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
    r = login(w.bff, "globex", "bob@globex.example", w.b_pass)
    j = expect_status(r, 200, "tenant B admin login")
    w.b_tok = j["access_token"]
    # Tenant B's password with tenant A's slug: no cross-tenant login.
    r = login(w.bff, "demo", "bob@globex.example", w.b_pass)
    expect_error(r, 401, None, "tenant B credentials with tenant A's slug")


def doc_state(w, tok, did):
    r = w.bff.req("GET", API + "/documents/" + did, tok, use=False)
    j = r.json() or {}
    return (r.status, j.get("etag"), j.get("status"), j.get("title"), j.get("current_version"))


def c_cross_tenant(w):
    a = w.flow_bearer
    did = a.id
    before = doc_state(w, w.admin_tok, did)
    expect(before[0] == 200, "tenant A's document before: %r" % (before,))
    B = w.b_tok
    D = API + "/documents/" + did
    calls = [
        ("GET", D, None, None),
        ("GET", D + "?version=1", None, None),
        ("PUT", D, {"file_name": "x.pdf", "file_size": 10}, None),
        ("PATCH", D, {"title": "pwned"}, {"If-Match": '"%s"' % before[1]}),
        ("DELETE", D, None, None),
        ("DELETE", D + "?purge=true", None, None),
        ("POST", D + "/upload-parts", {"part_numbers": [1]}, None),
        ("POST", D + "/complete", {"version": 1, "parts": [{"part_number": 1, "etag": "x"}]},
         None),
        ("POST", D + "/archive", {"etag": before[1]}, None),
        ("POST", D + "/restore", {"days": 1, "tier": "expedited"}, None),
        ("POST", D + "/undelete", None, None),
        ("GET", D + "/versions", None, None),
        ("GET", API + "/users/" + w.admin_user["id"], None, None),
        ("PATCH", API + "/users/" + w.admin_user["id"], {"display_name": "pwned"}, None),
        ("DELETE", API + "/users/" + w.admin_user["id"], None, None),
        ("DELETE", API + "/api-keys/" + w.key_id, None, None),
    ]
    bad = []
    for method, path, body, hdrs in calls:
        r = w.bff.req(method, path, B, body=body, headers=hdrs, use=False)
        if not is_error(r, 404, "not_found"):
            bad.append("%s %s -> %s %s" % (method, path, r.status, r.body[:200]))
    # ids in the query: filters naming tenant A's objects find nothing
    for path, key in ((API + "/audit-events?document_id=" + did, "events"),
                      (API + "/audit-events?actor_id=" + w.admin_user["id"], "events"),
                      (API + "/documents?owner_id=" + w.admin_user["id"], "documents")):
        r = w.bff.req("GET", path, B, use=False)
        j = r.json() or {}
        if not (is_error(r, 404) or (r.status == 200 and j.get(key) == [])):
            bad.append("GET %s -> %s %s" % (path, r.status, r.body[:300]))
    # ids in the body: a create naming tenant A or its owner is refused
    for extra in ({"tenant_id": a_tid(w)}, {"owner_id": w.admin_user["id"]},
                  {"tenant": "demo"}):
        body = {"file_name": "b.txt", "file_size": 3}
        body.update(extra)
        r = w.bff.req("POST", API + "/documents", B, body=body, use=False)
        if not is_error(r, 400):
            bad.append("POST /documents %r -> %s %s" % (extra, r.status, r.body[:200]))
    # the redrive of a dead letter id that is not tenant B's
    r = w.bff.req("POST", API + "/dead-letters/%s/redrive" % did, B, use=False)
    if not is_error(r, 404, "not_found"):
        bad.append("redrive -> %s %s" % (r.status, r.body[:200]))
    # tenant B's lists do not show tenant A's things
    for path, key, ident in ((API + "/documents?page_size=100", "documents", did),
                             (API + "/users", "users", w.admin_user["id"]),
                             (API + "/api-keys", "api_keys", w.key_id)):
        r = w.bff.req("GET", path, B, use=False)
        j = r.json() or {}
        if r.status != 200 or ident in json.dumps(j):
            bad.append("GET %s as B -> %s, shows A's %s" % (path, r.status, key))
    after = doc_state(w, w.admin_tok, did)
    if after != before:
        bad.append("tenant A's document changed: %r -> %r" % (before, after))
    expect(not bad, "\n".join(bad))


def a_tid(w):
    return w.admin_user.get("tenant_id", "")


# ---- 4: browser mode ----------------------------------------------------------------------------

def cookie_attrs(setc, name):
    """The Set-Cookie line for name -> (value, set of lower-case attributes, dict)."""
    for line in setc:
        n, _, rest = line.partition("=")
        if n.strip() != name:
            continue
        parts = [p.strip() for p in rest.split(";")]
        attrs = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            attrs[k.strip().lower()] = v.strip()
        return parts[0], attrs
    return None, None


def c_cookie_mode(w):
    b = w.bff
    r = login(b, "demo", w.st.demo_email, w.st.demo_password, mode="cookie")
    j = expect_status(r, 200, "cookie-mode login")
    expect("refresh_token" not in j, "refresh_token in the JSON in cookie mode")
    csrf = j.get("csrf_token")
    expect(isinstance(csrf, str) and len(csrf) >= 16, j.keys())
    setc = r.hs("set-cookie")
    val, attrs = cookie_attrs(setc, "kumo_refresh")
    expect(val, "no kumo_refresh cookie: %r" % setc)
    SECRETS.add(val)
    expect("httponly" in attrs and attrs.get("samesite", "").lower() == "strict",
           "refresh cookie attributes %r" % attrs)
    expect("secure" not in attrs, "Secure with KUMO_COOKIE_SECURE=false: %r" % attrs)
    cval, cattrs = cookie_attrs(setc, "kumo_csrf")
    expect(cval == csrf and "httponly" not in cattrs, "csrf cookie %r %r" % (cval, cattrs))
    cookies = "kumo_refresh=%s; kumo_csrf=%s" % (val, csrf)
    r = b.req("POST", API + "/auth/refresh", headers={"Cookie": cookies})
    expect_error(r, 403, None, "cookie refresh without X-CSRF-Token")
    r = b.req("POST", API + "/auth/refresh", headers={"Cookie": cookies, "X-CSRF-Token": "x" * 43})
    expect_error(r, 403, None, "cookie refresh with a wrong X-CSRF-Token")
    r = b.req("POST", API + "/auth/refresh", headers={"Cookie": cookies, "X-CSRF-Token": csrf,
                                                      "Origin": FOREIGN_ORIGIN})
    expect_error(r, 403, None, "cookie refresh from a foreign Origin")
    r = b.req("POST", API + "/auth/refresh", headers={"Cookie": cookies, "X-CSRF-Token": csrf,
                                                      "Origin": ALLOWED_ORIGIN})
    j = expect_status(r, 200, "cookie refresh with X-CSRF-Token")
    expect(j.get("access_token") and "refresh_token" not in j, j.keys())
    SECRETS.add(j["access_token"])
    nval, nattrs = cookie_attrs(r.hs("set-cookie"), "kumo_refresh")
    expect(nval and nval != val and "httponly" in nattrs, "rotated cookie %r" % nattrs)
    SECRETS.add(nval)
    expect_status(b.req("GET", API + "/documents", j["access_token"]), 200, "new access token")
    cookies = "kumo_refresh=%s; kumo_csrf=%s" % (nval, csrf)
    r = b.req("POST", API + "/auth/logout", headers={"Cookie": cookies})
    expect_error(r, 403, None, "cookie logout without X-CSRF-Token")
    r = b.req("POST", API + "/auth/logout", headers={"Cookie": cookies, "X-CSRF-Token": csrf})
    expect_status(r, 204, "cookie logout with X-CSRF-Token")
    for name in ("kumo_refresh", "kumo_csrf"):
        v, a = cookie_attrs(r.hs("set-cookie"), name)
        expect(v == "" and (a.get("max-age") == "0" or "expires" in a),
               "logout does not clear %s: %r" % (name, r.hs("set-cookie")))
    r = b.req("POST", API + "/auth/refresh", headers={"Cookie": cookies, "X-CSRF-Token": csrf})
    expect_error(r, 401, None, "refresh with the logged-out cookie")


def c_cookie_secure(w):
    d = w.st.start("bff", name="bff-secure", env=dict(BFF_ENV, KUMO_COOKIE_SECURE="true"))
    try:
        b = Bff(d)
        r = login(b, "demo", w.st.demo_email, w.st.demo_password, mode="cookie")
        expect_status(r, 200, "cookie login on the Secure bff")
        setc = r.hs("set-cookie")
        val, attrs = cookie_attrs(setc, "__Host-kumo_refresh")
        expect(val, "no __Host-kumo_refresh cookie: %r" % [s.split("=")[0] for s in setc])
        SECRETS.add(val)
        expect("secure" in attrs and "httponly" in attrs and
               attrs.get("samesite", "").lower() == "strict" and attrs.get("path") == "/" and
               "domain" not in attrs, "attributes %r" % attrs)
        cval, cattrs = cookie_attrs(setc, "kumo_csrf")
        expect(cval and "secure" in cattrs, "csrf cookie attributes %r" % cattrs)
        r = b.req("POST", API + "/auth/logout", headers={
            "Cookie": "__Host-kumo_refresh=%s; kumo_csrf=%s" % (val, cval), "X-CSRF-Token": cval})
        expect_status(r, 204, "logout")
    finally:
        d.stop()


# ---- 5: OWASP probes ----------------------------------------------------------------------------

def c_viewer(w):
    pw = "viewer-" + os.urandom(8).hex()
    SECRETS.add(pw)
    r = w.bff.req("POST", API + "/users", w.admin_tok, body={
        "email": "vera@demo.local", "display_name": "Vera", "role": "viewer", "password": pw})
    j = expect_status(r, 201, "POST /users (viewer)")
    w.viewer_id = j["user"]["id"]
    r = login(w.bff, "demo", "vera@demo.local", pw)
    w.viewer_tok = expect_status(r, 200, "viewer login")["access_token"]


def c_change_password(w):
    pw, new = "carol-" + os.urandom(8).hex(), "carol-new-" + os.urandom(8).hex()
    SECRETS.update([pw, new])
    r = w.bff.req("POST", API + "/users", w.admin_tok, body={
        "email": "carol@demo.local", "display_name": "Carol", "role": "editor", "password": pw})
    expect_status(r, 201, "POST /users (carol)")
    j = expect_status(login(w.bff, "demo", "carol@demo.local", pw), 200, "carol login")
    tok, refresh = j["access_token"], j["refresh_token"]
    path = API + "/auth/password"
    expect_error(w.bff.req("POST", path, body={"current_password": pw, "new_password": new}),
                 401, None, "no token")
    expect_error(w.bff.req("POST", path, tok, body={"new_password": new}), 400, None,
                 "current_password missing")
    expect_error(w.bff.req("POST", path, tok, body={"current_password": pw,
                                                    "new_password": new, "user_id": "x"}),
                 400, None, "unknown member user_id")
    expect_error(w.bff.req("POST", path, tok, body={"current_password": pw, "new_password": "short"}),
                 400, "invalid_argument", "new_password too short")
    expect_error(w.bff.req("POST", path, tok, body={"current_password": "not-" + pw,
                                                    "new_password": new}),
                 403, "permission_denied", "wrong current_password")
    r = w.bff.req("POST", path, tok, body={"current_password": pw, "new_password": new})
    expect(r.status == 204 and not r.body, "change: %d %r" % (r.status, r.body[:200]))
    expect_error(w.bff.req("POST", API + "/auth/refresh", body={"refresh_token": refresh}),
                 401, None, "refresh token of a session from before the change")
    expect_error(login(w.bff, "demo", "carol@demo.local", pw), 401, None, "old password")
    expect_status(login(w.bff, "demo", "carol@demo.local", new), 200, "new password")


def c_function_level(w):
    V = w.viewer_tok
    did = w.flow_bearer.id
    calls = [("GET", API + "/users", None), ("POST", API + "/users",
                                             {"email": "x@demo.local", "role": "admin",
                                              "password": "0123456789abcdef"}),
             ("GET", API + "/users/" + w.admin_user["id"], None),
             ("PATCH", API + "/users/" + w.viewer_id, {"role": "admin"}),
             ("DELETE", API + "/users/" + w.admin_user["id"], None),
             ("GET", API + "/api-keys", None),
             ("POST", API + "/api-keys", {"name": "x", "role": "admin"}),
             ("DELETE", API + "/api-keys/" + w.key_id, None),
             ("GET", API + "/audit-events", None), ("GET", API + "/dead-letters", None),
             ("POST", API + "/dead-letters/%s/redrive" % NO_SUCH_ID, None),
             ("POST", API + "/documents", {"file_name": "v.txt", "file_size": 1}),
             ("PUT", API + "/documents/" + did, {"file_size": 1}),
             ("DELETE", API + "/documents/" + did, None),
             ("POST", API + "/documents/%s/archive" % did, None)]
    bad = []
    for method, path, body in calls:
        r = w.bff.req(method, path, V, body=body, use=False)
        if not is_error(r, 403, "permission_denied"):
            bad.append("%s %s -> %s %s" % (method, path, r.status, r.body[:200]))
    r = w.bff.req("PATCH", API + "/documents/" + did, V, body={"title": "v"},
                  headers={"If-Match": '"x"'}, use=False)
    if not is_error(r, 403, "permission_denied"):
        bad.append("PATCH document as viewer -> %s %s" % (r.status, r.body[:200]))
    r = w.bff.req("GET", API + "/documents", V, use=False)
    if r.status != 200:
        bad.append("viewer GET /documents -> %s" % r.status)
    r = w.bff.req("GET", API + "/me", V, use=False)
    if (r.json() or {}).get("roles") != ["viewer"]:
        bad.append("viewer /me %r" % r)
    expect(not bad, "\n".join(bad))


def c_property_level(w):
    did = w.flow_bearer.id
    before = doc_state(w, w.admin_tok, did)
    full_before = w.bff.req("GET", API + "/documents/" + did, w.admin_tok, use=False).json()
    bad = []
    for field, value in (("role", "admin"), ("tenant", "globex"), ("tenant_id", "t-other"),
                         ("owner_id", w.viewer_id), ("status", "active"), ("id", NO_SUCH_ID),
                         ("etag", "x"), ("current_version", 9), ("size", 1)):
        r = w.bff.req("PATCH", API + "/documents/" + did, w.admin_tok,
                      body={field: value, "title": "prop " + field},
                      headers={"If-Match": '"%s"' % before[1]}, use=False)
        if r.status == 200:
            # accepted: the field must have been ignored
            j = (r.json() or {}).get("document") or {}
            if field in j and j[field] == value:
                bad.append("PATCH %s=%r applied" % (field, value))
            before = doc_state(w, w.admin_tok, did)
        elif not is_error(r, 400, "invalid_argument"):
            bad.append("PATCH {%s} -> %s %s" % (field, r.status, r.body[:200]))
    after = w.bff.req("GET", API + "/documents/" + did, w.admin_tok, use=False).json() or {}
    for k in ("owner_id", "status", "id", "current_version", "size", "tenant_id"):
        if full_before.get(k) != after.get(k):
            bad.append("%s changed: %r -> %r" % (k, full_before.get(k), after.get(k)))
    # users: a viewer's PATCH naming tenant fields is refused
    for field, value in (("tenant_id", "t-other"), ("tenant", "globex"), ("password_hash", "x")):
        r = w.bff.req("PATCH", API + "/users/" + w.viewer_id, w.admin_tok, body={field: value},
                      use=False)
        if not is_error(r, 400):
            bad.append("PATCH user {%s} -> %s %s" % (field, r.status, r.body[:200]))
    r = w.bff.req("GET", API + "/users/" + w.viewer_id, w.admin_tok, use=False)
    u = (r.json() or {}).get("user") or {}
    if u.get("role") not in ("viewer", "ROLE_VIEWER") or u.get("tenant_id") != a_tid(w):
        bad.append("viewer after the PATCHes: %r" % u)
    # login cannot pick a role
    r = login(w.bff, "demo", w.st.demo_email, w.st.demo_password, role="service")
    if not is_error(r, 400):
        bad.append("login with role -> %s" % r.status)
    expect(not bad, "\n".join(bad))


def c_body_limits(w):
    big = os.path.join(TMP, "big.json")
    with open(big, "wb") as f:
        f.write(b'{"file_name":"big.txt","file_size":1,"title":"')
        f.write(b"a" * (10 * 1024 * 1024))
        f.write(b'"}')
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body=("@", big),
                  headers={"Content-Type": "application/json"}, use=False)
    expect_error(r, 413, None, "10 MB body")
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body=("@", big),
                  headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                  use=False)
    expect_error(r, 413, None, "10 MB chunked body (no Content-Length)")
    r = w.bff.req("POST", API + "/auth/login", body=("@", big),
                  headers={"Content-Type": "application/json"}, use=False)
    expect_error(r, 413, None, "10 MB body on the public login route")
    r = w.bff.req("GET", API + "/healthcheck", use=False)
    expect(r.status == 200, "the BFF after a 10 MB body: %r" % r)
    deep = '{"file_name":"d.txt","file_size":1,"meta_json":' + "[" * 10000 + "]" * 10000 + "}"
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body=deep,
                  headers={"Content-Type": "application/json"}, use=False)
    expect_error(r, 400, "invalid_argument", "JSON nested 10000 deep")
    deep2 = json.dumps({"file_name": "d.txt", "file_size": 1,
                        "meta_content": "{\"a\":" * 5000 + "1" + "}" * 5000})
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body=deep2, use=False)
    expect_error(r, 400, "invalid_argument", "meta_content nested 5000 deep")
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body="{not json",
                  headers={"Content-Type": "application/json"}, use=False)
    expect_error(r, 400, "invalid_argument", "malformed JSON")
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body='{"file_name":"a","file_size":1}',
                  headers={"Content-Type": "text/plain"}, use=False)
    expect(r.status in (400, 415) and is_error(r, r.status), "text/plain body: %r" % r)
    expect_status(w.bff.req("GET", API + "/healthcheck", use=False), 200, "still serving")


def c_page_size(w):
    j = expect_status(w.bff.req("GET", API + "/documents?page_size=1000000", w.admin_tok,
                                use=False), 200, "page_size=1000000")
    expect(len(j.get("documents", [])) <= 100, "%d documents" % len(j.get("documents", [])))
    r = w.bff.req("GET", API + "/documents?page_size=-1", w.admin_tok, use=False)
    expect_error(r, 400, None, "page_size=-1")
    r = w.bff.req("GET", API + "/documents?page_size=abc", w.admin_tok, use=False)
    expect_error(r, 400, None, "page_size=abc")
    # KUMO_PAGE_SIZE_MAX=3 on the limits bff with more documents than that
    for i in range(4):
        expect_status(w.bff.req("POST", API + "/documents", w.admin_tok, use=False, body={
            "file_name": "page-%d.txt" % i, "file_size": 1}), 201, "create")
    b = w.limits
    j = expect_status(b.req("GET", API + "/documents?page_size=1000000", w.admin_tok, use=False),
                      200, "page_size=1000000 with KUMO_PAGE_SIZE_MAX=3")
    n = len(j.get("documents", []))
    expect(n == 3 and j.get("next_page_token"), "%d documents, next %r" % (
        n, j.get("next_page_token")))


def c_login_burst(w):
    b = w.limits
    got = []
    for i in range(6):
        r = login(b, "demo", w.st.demo_email, "wrong-password-%d" % i)
        got.append(r.status)
        if r.status == 429:
            break
    expect(got[-1] == 429, "no 429 in a burst of logins: %r" % got)
    expect(got.count(401) == 3, "the login bucket is 3: %r" % got)
    expect_error(r, 429, "resource_exhausted", "login burst")
    ra = r.h("retry-after")
    expect(ra and ra.isdigit() and 1 <= int(ra) <= 60, "Retry-After %r" % ra)
    # the right password does not skip the limit
    r = login(b, "demo", w.st.demo_email, w.st.demo_password)
    expect(r.status == 429, "correct password during the lockout: %r" % r)
    # other routes still work for that address
    expect_status(b.req("GET", API + "/documents", w.admin_tok, use=False), (200, 429),
                  "other route")


def c_principal_burst(w):
    b = w.limits
    time.sleep(2.5)  # the address bucket (burst 20, 5/s) refills
    got = []
    for i in range(10):
        r = b.req("GET", API + "/me", w.viewer_tok, use=False)
        got.append(r.status)
        if r.status == 429:
            break
    expect(got[-1] == 429 and len(got) <= 7, "principal bucket is 5: %r" % got)
    expect_error(r, 429, "resource_exhausted", "principal burst")
    ra = r.h("retry-after")
    expect(ra and ra.isdigit() and int(ra) >= 1, "Retry-After %r" % ra)
    # another principal from the same address is not limited
    r = b.req("GET", API + "/me", w.admin_tok, use=False)
    expect(r.status == 200, "another principal: %r" % r)


def c_get_burst(w):
    b = w.limits
    time.sleep(1.0)
    got = []
    for i in range(60):
        # A made-up X-Forwarded-For per request (no trusted proxies
        # configured) must not give each request a fresh bucket.
        r = b.req("GET", API + "/healthcheck", use=False,
                  headers={"X-Forwarded-For": "198.51.100.%d" % (i + 1)})
        got.append(r.status)
        if r.status == 429:
            break
    expect(got[-1] == 429, "no 429 in 60 GETs: %r" % got)
    expect_error(r, 429, "resource_exhausted", "GET burst")
    ra = r.h("retry-after")
    expect(ra and ra.isdigit() and int(ra) >= 1, "Retry-After %r" % ra)
    expect(r.h("x-content-type-options") == "nosniff", "429 without nosniff")
    time.sleep(int(ra) + 0.2)
    r = b.req("GET", API + "/healthcheck", use=False)
    expect(r.status == 200, "after Retry-After: %r" % r)
    # the main bff (limits off) is unaffected
    expect_status(w.bff.req("GET", API + "/healthcheck", use=False), 200, "main bff")


def slow_post(w, h2):
    body = os.path.join(TMP, "slow.json")
    with open(body, "wb") as f:
        f.write(b'{"file_name":"slow.txt","file_size":1,"title":"' + b"s" * 4000 + b'"}')
    t0 = time.time()
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "15",
                        "--limit-rate", "200", "-X", "POST", "-H",
                        "Authorization: Bearer " + w.admin_tok, "-H",
                        "Content-Type: application/json", "--data-binary", "@" + body] +
                       (["--http2-prior-knowledge"] if h2 else []) +
                       [w.limits.base + API + "/documents"], capture_output=True, text=True,
                       timeout=30)
    dt = time.time() - t0
    what = "h2c" if h2 else "HTTP/1.1"
    note("slow client (%s): curl exit %d, status %s, %.1fs" % (what, p.returncode, p.stdout, dt))
    expect(p.returncode != 28 and dt < 12, "%s: a body trickled at 200 B/s was still being read "
           "after %.1fs (curl exit %d, status %s)" % (what, dt, p.returncode, p.stdout))
    expect(p.stdout in ("000", "408", "400", "413"), "%s: answer %r" % (what, p.stdout))


def c_slow_client(w):
    """A client trickling its body (200 B/s, 4 kB: 20 s) must be cut off
    well before it finishes (KUMO_CLIENT_TIMEOUT=2s on the limits bff)."""
    slow_post(w, False)
    expect_status(w.limits.req("GET", API + "/healthcheck", use=False), (200, 429), "after")


def c_slow_client_h2c(w):
    slow_post(w, True)
    expect_status(w.limits.req("GET", API + "/healthcheck", use=False), (200, 429), "after")


def c_cors(w):
    p = API + "/documents"
    r = w.bff.req("GET", p, w.admin_tok, headers={"Origin": FOREIGN_ORIGIN}, use=False)
    expect(r.status == 200 and r.h("access-control-allow-origin") is None and
           r.h("access-control-allow-credentials") is None,
           "foreign Origin: %s %r" % (r.status, r.headers))
    r = w.bff.req("GET", p, w.admin_tok, headers={"Origin": ALLOWED_ORIGIN}, use=False)
    expect(r.hs("access-control-allow-origin") == [ALLOWED_ORIGIN],
           "allowed Origin: %r" % r.hs("access-control-allow-origin"))
    expect(r.h("access-control-allow-credentials") == "true", r.headers)
    expect("origin" in (r.h("vary") or "").lower(), "no Vary: Origin")
    r = w.bff.req("GET", p, w.admin_tok, headers={"Origin": ALLOWED_ORIGIN + ".evil.example"},
                  use=False)
    expect(r.h("access-control-allow-origin") is None, "suffix origin allowed")
    r = w.bff.req("GET", p, w.admin_tok, headers={"Origin": "null"}, use=False)
    expect(r.h("access-control-allow-origin") is None, "Origin: null allowed")
    pre = {"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type"}
    r = w.bff.req("OPTIONS", p, headers=pre, use=False)
    expect(r.status in (200, 204), "preflight: %r" % r)
    expect(r.h("access-control-allow-origin") == ALLOWED_ORIGIN, r.headers)
    methods = (r.h("access-control-allow-methods") or "").upper()
    hdrs = (r.h("access-control-allow-headers") or "").lower()
    expect("POST" in methods and "authorization" in hdrs and "content-type" in hdrs,
           "preflight allows %r / %r" % (methods, hdrs))
    pre["Origin"] = FOREIGN_ORIGIN
    r = w.bff.req("OPTIONS", p, headers=pre, use=False)
    expect(r.h("access-control-allow-origin") is None and
           r.h("access-control-allow-methods") is None,
           "foreign preflight: %s %r" % (r.status, r.headers))
    stars = [x for x in ALL if x.h("access-control-allow-origin") == "*"]
    expect(not stars, "Access-Control-Allow-Origin: * on %r" % stars[:3])


def c_cors_star(w):
    """KUMO_CORS_ORIGINS="*" must not open CORS to every origin."""
    d = w.st.start("bff", name="bff-star",
                   env=dict(BFF_ENV, KUMO_CORS_ORIGINS="*, https://ok.kumo.test"))
    try:
        b = Bff(d)
        for origin, want in (("https://random.example", None),
                             ("https://ok.kumo.test", "https://ok.kumo.test")):
            r = b.req("GET", API + "/documents", w.admin_tok, headers={"Origin": origin},
                      use=False)
            expect(r.status == 200 and r.h("access-control-allow-origin") == want,
                   "Origin %s: %s ACAO %r" % (origin, r.status,
                                               r.hs("access-control-allow-origin")))
            r = b.req("OPTIONS", API + "/documents", use=False, headers={
                "Origin": origin, "Access-Control-Request-Method": "DELETE"})
            expect(r.h("access-control-allow-origin") == want,
                   "preflight from %s: %s %r" % (origin, r.status, r.headers))
    finally:
        d.stop()


def c_headers(w):
    # The API's responses (the web console's files at / have their own
    # headers: cacheable, HTML/JS, checked by the console suite).
    bff_all = [r for r in ALL if r.status and "/api/" in r.url]
    expect(len(bff_all) > 50, "only %d responses seen" % len(bff_all))
    bad = []
    for r in bff_all:
        if r.h("x-content-type-options") != "nosniff":
            bad.append("no nosniff: %s %s -> %s" % (r.method, r.url, r.status))
        if not r.h("content-security-policy"):
            bad.append("no CSP: %s %s -> %s" % (r.method, r.url, r.status))
        if not r.h("x-request-id"):
            bad.append("no X-Request-Id: %s %s -> %s" % (r.method, r.url, r.status))
        authed = "/auth/" in r.url or r.status in (200, 201, 202, 204)
        if authed and "no-store" not in (r.h("cache-control") or ""):
            bad.append("no Cache-Control: no-store: %s %s -> %s" % (r.method, r.url, r.status))
        if r.body and r.status != 204 and not (r.h("content-type") or "").startswith(
                "application/json"):
            bad.append("not JSON: %s %s -> %s %r" % (r.method, r.url, r.status,
                                                     r.h("content-type")))
    expect(not bad, "%d of %d responses:\n%s" % (len(bad), len(bff_all), "\n".join(bad[:20])))
    r = w.bff.req("GET", API + "/me", w.admin_tok, headers={"X-Request-Id": "ci-req-12345"},
                  use=False)
    expect(r.h("x-request-id") == "ci-req-12345", "incoming X-Request-Id not kept: %r" %
           r.h("x-request-id"))


def c_routing_errors(w):
    r = w.bff.req("GET", API + "/no-such-thing", w.admin_tok, use=False)
    expect_error(r, 404, "not_found", "unknown route")
    # "/" is the web console when the build has one (kumo_stack points
    # KUMO_WEB_ROOT at BUILD/web), else nothing; /api/ never falls back to it.
    r = w.bff.req("GET", "/", use=False)
    if r.status == 200:
        expect((r.h("content-type") or "").startswith("text/html"), "GET / %r" % r.h("content-type"))
    else:
        expect_error(r, 404, None, "GET /")
    r = w.bff.req("DELETE", API + "/documents", w.admin_tok, use=False)
    expect_error(r, 405, None, "DELETE /documents")
    expect("GET" in (r.h("allow") or "") and "POST" in (r.h("allow") or ""),
           "Allow %r" % r.h("allow"))
    r = w.bff.req("GET", API + "/documents/" + NO_SUCH_DOC, w.admin_tok, use=False)
    expect_error(r, 404, "not_found", "unknown document")
    r = w.bff.req("GET", API + "/documents", "not-a-jwt", use=False)
    expect_error(r, 401, None, "garbage token")
    tok = w.admin_tok
    h, p, s = tok.split(".")
    r = w.bff.req("GET", API + "/documents", h + "." + p + "." + s[:-4] + "AAAA", use=False)
    expect_error(r, 401, None, "token with a wrong signature")
    r = w.bff.req("GET", API + "/documents/../../etc/passwd", w.admin_tok, use=False)
    expect(r.status in (400, 404) and is_error(r, r.status), "dot-dot path: %r" % r)


def c_odd_requests(w):
    """Odd but possible requests get a 4xx JSON answer (never 5xx, never a
    dropped connection) and the BFF keeps serving."""
    bad = []
    A = w.admin_tok
    probes = [
        ("GET", API + "/documents/%00", None, {}),
        ("GET", API + "/documents/%2e%2e%2fusers", None, {}),
        ("GET", API + "/documents/%ff%fe", None, {}),
        ("GET", API + "/documents/" + "a" * 5000, None, {}),
        ("GET", API + "/documents?page_size=1&page_size=99999999999999999999", None, {}),
        ("GET", API + "/documents?order=%00", None, {}),
        ("GET", API + "/documents?created_after=not-a-time", None, {}),
        ("GET", API + "/documents?q=" + "x" * 4000, None, {}),
        ("POST", API + "/documents", {"file_name": "t.txt", "file_size": 1,
                                      "title": "t" * 500000}, {}),
        ("POST", API + "/documents", {"file_name": "t.txt", "file_size": 1,
                                      "tags": ["t%d" % i for i in range(5000)]}, {}),
        ("POST", API + "/documents", "[]", {}),
        ("POST", API + "/documents", "null", {}),
        ("POST", API + "/documents", '"str"', {}),
        ("POST", API + "/documents", b"\xff\xfe{}", {}),
        ("GET", API + "/documents", None, {"X-Request-Id": "r" * 2000}),
        ("GET", API + "/documents", None, {"X-Custom-%d" % i: "v" for i in range(100)}),
        ("GET", API + "/documents", None, {"X-Big": "b" * 60000}),
    ]
    seen = []
    for method, path, body, hdrs in probes:
        r = w.bff.req(method, path, A, body=body, headers=hdrs, use=False)
        seen.append(r.status)
        ok = 400 <= r.status < 500 or (r.status == 200 and method == "GET")
        if r.status not in (0,) and r.status >= 400 and r.status not in (413, 414, 431):
            ok = ok and is_error(r, r.status)
        if not ok:
            bad.append("%s %s%s -> %s %s" % (method, path[:80], " +headers" if hdrs else "",
                                             r.status, r.body[:160]))
        rid = r.h("x-request-id") or ""
        if "X-Request-Id" in hdrs and (len(rid) > 128 or rid == hdrs["X-Request-Id"]):
            bad.append("a 2000-byte X-Request-Id echoed (%d bytes)" % len(rid))
    note("odd requests answered %r" % seen)
    r = w.bff.req("GET", API + "/healthcheck", use=False)
    if r.status != 200:
        bad.append("healthcheck after the probes -> %s" % r.status)
    expect(not bad, "\n".join(bad))


def b64u(b):
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def c_auth_probes(w):
    import hmac
    tok = w.admin_tok
    h, p, sig = tok.split(".")
    bad = []
    forged = {
        "alg none": b64u(b'{"alg":"none","typ":"JWT"}') + "." + p + ".",
        "alg none, no dot": b64u(b'{"alg":"none","typ":"JWT"}') + "." + p,
        "HS256 keyed with the kid": None,
        "payload swapped (other tid)": h + "." + b64u(json.dumps(dict(
            json.loads(__import__("base64").urlsafe_b64decode(p + "==")),
            tid="tn_zzzzzzzzzzzzzzzzzzzz")).encode()) + "." + sig,
    }
    hs_head = b64u(b'{"alg":"HS256","typ":"JWT"}')
    mac = hmac.new(b"kumo", (hs_head + "." + p).encode(), "sha256").digest()
    forged["HS256 keyed with the kid"] = hs_head + "." + p + "." + b64u(mac)
    for label, t in forged.items():
        r = w.bff.req("GET", API + "/documents", t, use=False)
        if not is_error(r, 401, "unauthenticated"):
            bad.append("%s -> %s" % (label, r.status))
    # credentials only from the Authorization header
    for q in ("access_token", "token", "api_key"):
        r = w.bff.req("GET", API + "/documents?%s=%s" % (q, tok), use=False)
        if r.status != 401:
            bad.append("?%s= -> %s" % (q, r.status))
    r = w.bff.req("GET", API + "/documents", use=False, headers={"Cookie": "access_token=" + tok})
    if r.status != 401:
        bad.append("access token in a cookie -> %s" % r.status)
    r = w.bff.req("GET", API + "/documents", use=False, headers={"Authorization": "Basic " + tok})
    if r.status != 401:
        bad.append("Basic scheme -> %s" % r.status)
    # method override headers are not honoured
    j = w.bff.req("GET", API + "/documents/" + w.flow_bearer.id, w.admin_tok, use=False,
                  headers={"X-HTTP-Method-Override": "DELETE", "X-Method-Override": "DELETE"})
    after = doc_state(w, w.admin_tok, w.flow_bearer.id)
    if j.status not in (200, 403) or after[2] == "deleted":
        bad.append("X-HTTP-Method-Override: DELETE honoured (%s, %r)" % (j.status, after))
    expect(not bad, "\n".join(bad))


def c_refresh_reuse(w):
    r = login(w.bff, "demo", w.st.demo_email, w.st.demo_password)
    r1 = expect_status(r, 200, "login")["refresh_token"]
    j = expect_status(w.bff.req("POST", API + "/auth/refresh", body={"refresh_token": r1}), 200,
                      "refresh")
    r2 = j["refresh_token"]
    SECRETS.add(r2)
    # Within the grace window (1 s here) a spent token rotates again: a
    # reload that lost the refresh's answer keeps its session.
    j = expect_status(w.bff.req("POST", API + "/auth/refresh", body={"refresh_token": r1}), 200,
                      "the spent token again within the grace window")
    SECRETS.add(j["refresh_token"])
    time.sleep(1.2)
    r = w.bff.req("POST", API + "/auth/refresh", body={"refresh_token": r1})
    expect_error(r, 401, None, "reuse of a spent refresh token after the window")
    r = w.bff.req("POST", API + "/auth/refresh", body={"refresh_token": r2})
    expect_error(r, 401, None, "the family after a reuse")


def c_input_probes(w):
    bad = []
    for label, body in (
            ("file_size -1", {"file_name": "a.txt", "file_size": -1}),
            ("file_size 2^53", {"file_name": "a.txt", "file_size": 2 ** 53}),
            ("file_name missing", {"file_size": 3}),
            ("CRLF in content_type", {"file_name": "a.txt", "file_size": 3,
                                      "content_type": "text/plain\r\nSet-Cookie: x=1"}),
            ("CRLF in file_name", {"file_name": "a\r\nSet-Cookie: x=1.txt", "file_size": 3}),
            ("sha256 not hex", {"file_name": "a.txt", "file_size": 3, "sha256": "zz" * 32}),
            ("meta_json not an object", {"file_name": "a.txt", "file_size": 3, "meta_json": [1]}),
            ("meta_content not JSON", {"file_name": "a.txt", "file_size": 3,
                                       "meta_content": "{nope"}),
            ("file_name a number", {"file_name": 5, "file_size": 3}),
            ("tags not an array", {"file_name": "a.txt", "file_size": 3, "tags": "x"}),
            ("title an object", {"file_name": "a.txt", "file_size": 3, "title": {"a": 1}}),
            ("unknown field", {"file_name": "a.txt", "file_size": 3, "is_admin": True}),
            ("duplicate keys", None)):
        if body is None:
            r = w.bff.req("POST", API + "/documents", w.admin_tok, use=False,
                          body='{"file_name":"a.txt","file_size":3,"file_size":4}')
        else:
            r = w.bff.req("POST", API + "/documents", w.admin_tok, body=body, use=False)
        if not is_error(r, 400, "invalid_argument"):
            bad.append("%s -> %s %s" % (label, r.status, r.body[:160]))
    r = w.bff.req("POST", API + "/documents/%s/restore" % w.flow_bearer.id, w.admin_tok,
                  body={"days": 1, "tier": "glacial"}, use=False)
    if not is_error(r, 400, "invalid_argument"):
        bad.append("restore tier glacial -> %s" % r.status)
    r = w.bff.req("POST", API + "/documents/%s/restore" % w.flow_bearer.id, w.admin_tok,
                  body={"days": 100000, "tier": "expedited"}, use=False)
    if not (r.status == 400 or r.status == 409) or not is_error(r, r.status):
        bad.append("restore days 100000 -> %s %s" % (r.status, r.body[:160]))
    q = "&".join("f%d=%d" % (i, i) for i in range(40))
    r = w.bff.req("GET", API + "/documents?" + q, w.admin_tok, use=False)
    if not is_error(r, 400):
        bad.append("40 query parameters -> %s" % r.status)
    r = w.bff.req("GET", API + "/documents?status=bogus", w.admin_tok, use=False)
    if not is_error(r, 400):
        bad.append("status=bogus -> %s %s" % (r.status, r.body[:160]))
    expect(not bad, "\n".join(bad))


LEAKS = re.compile(r"127\.0\.0\.1|localhost|:\d{4,5}\b|/tmp/|/dev/shm|\.c:\d+|kumo\.documents\.v1|"
                   r"errno|ECONNREFUSED|connection refused|Traceback", re.I)


def c_upstream_hang(w):
    """kumo-documents frozen (SIGSTOP): the request budget
    (KUMO_REQUEST_TIMEOUT=1500ms on the limits bff) ends the request with
    504; the health check answers 503 within its own budget; routes that
    need only kumo-users stay fast."""
    d = w.st.daemons["documents"]
    time.sleep(1.0)  # the limits bff's principal bucket refills
    os.kill(d.pid, signal.SIGSTOP)
    bad = []
    try:
        t0 = time.time()
        r = w.limits.req("GET", API + "/documents/" + w.flow_bearer.id, w.admin_tok, use=False)
        dt = time.time() - t0
        note("frozen kumo-documents: %s in %.2fs" % (r.status, dt))
        if not (r.status in (503, 504) and is_error(r, r.status)) or dt > 5:
            bad.append("GET /documents/{id} (budget 1.5 s) -> %s in %.1fs %s" % (
                r.status, dt, r.body[:160]))
        t0 = time.time()
        r = w.bff.req("GET", API + "/me", w.admin_tok, use=False)
        dt = time.time() - t0
        if r.status != 200 or dt > 3:
            bad.append("GET /me (users only) -> %s in %.1fs" % (r.status, dt))
        t0 = time.time()
        r = w.bff.req("GET", API + "/healthcheck", use=False)
        dt = time.time() - t0
        j = r.json() or {}
        if r.status != 503 or dt > 5 or (
                (j.get("checks") or {}).get("documents") or {}).get("status") != "unhealthy":
            bad.append("healthcheck -> %s in %.1fs %s" % (r.status, dt, r.body[:200]))
    finally:
        os.kill(d.pid, signal.SIGCONT)
    expect(not bad, "\n".join(bad))
    r = w.bff.req("GET", API + "/documents/" + w.flow_bearer.id, w.admin_tok, use=False)
    expect(r.status in (200, 403), "after SIGCONT: %r" % r)


def c_upstream_down(w):
    st = w.st
    st.stop("documents")
    w.docs_stopped = True
    bad = []
    for method, path, body in (("GET", API + "/documents", None),
                               ("GET", API + "/documents/" + w.flow_bearer.id, None),
                               ("POST", API + "/documents", {"file_name": "x", "file_size": 1})):
        t0 = time.time()
        r = w.bff.req(method, path, w.admin_tok, body=body, use=False)
        dt = time.time() - t0
        if not (r.status in (502, 503, 504) and is_error(r, r.status)):
            bad.append("%s %s -> %r" % (method, path, r))
        elif LEAKS.search(r.body.decode("utf-8", "replace")):
            bad.append("%s %s leaks: %s" % (method, path, r.body[:300]))
        if dt > 15:
            bad.append("%s %s took %.1fs" % (method, path, dt))
    expect(not bad, "\n".join(bad))


def c_health_down(w):
    expect(getattr(w, "docs_stopped", False), "kumo-documents was not stopped")
    r = w.bff.req("GET", API + "/healthcheck")
    j = expect_status(r, 503, "healthcheck with kumo-documents stopped")
    expect(j.get("status") == "unhealthy", j)
    checks = j.get("checks") or {}
    expect((checks.get("documents") or {}).get("status") == "unhealthy", checks)
    expect((checks.get("users") or {}).get("status") == "healthy", checks)
    expect(not LEAKS.search(r.body.decode()), "leaks: %s" % r.body[:300])


# ---- 6, 7, 8 ------------------------------------------------------------------------------------

def c_health(w):
    r = w.bff.req("GET", API + "/healthcheck")
    j = expect_status(r, 200, "healthcheck")
    expect(j.get("status") == "healthy", j)
    checks = j.get("checks") or {}
    for dep in ("users", "documents", "storage"):
        expect((checks.get(dep) or {}).get("status") == "healthy", "%s: %r" % (dep, checks))


def c_openapi(w):
    r = w.bff.req("GET", API + "/openapi.json")
    j = expect_status(r, 200, "openapi.json")
    expect(isinstance(j, dict) and str(j.get("openapi", "")).startswith("3.1"),
           "openapi %r" % (j or {}).get("openapi"))
    paths = j.get("paths") or {}
    expect(len(paths) >= 15, "%d paths" % len(paths))
    listed = set()
    bad = []
    for path, ops in paths.items():
        for method in ops:
            if method.lower() not in ("get", "put", "post", "delete", "patch"):
                continue
            listed.add((method.upper(), path))
            fake = (NO_SUCH_DOC if "/documents/" in path else
                    NO_SUCH_USER if "/users/" in path else NO_SUCH_ID)
            url = path.replace("{id}", fake)
            body = {} if method.lower() in ("post", "put", "patch") else None
            if path.endswith("/logout-everywhere"):
                body = {"user_id": NO_SUCH_USER}  # not the caller's own sessions
            # Unknown ids everywhere: nothing real is deleted or changed.
            r = w.bff.req(method.upper(), url, w.admin_tok, body=body, use=False)
            j2 = r.json() or {}
            msg = ((j2.get("error") or {}).get("message") or "") if isinstance(j2, dict) else ""
            if r.status == 405 or r.status == 0 or (r.status == 404 and msg == "no such route"):
                bad.append("%s %s -> %s %s" % (method.upper(), path, r.status, r.body[:120]))
    expect(not bad, "listed but not routed:\n" + "\n".join(bad))
    missing = sorted(USED - listed)
    expect(not missing, "used by the flow but not in openapi.json: %r" % missing)
    note("openapi.json: %d operations, the flow used %d of them" % (len(listed), len(USED)))


def c_openapi_check(w):
    tool = os.path.join(ROOT, "bff", "openapi-check")
    expect(os.access(tool, os.X_OK), "bff/openapi-check missing")
    p = subprocess.run([tool], capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, "bff/openapi-check exit %d:\n%s" % (p.returncode,
                                                                  (p.stdout + p.stderr)[-2000:]))
    # It fails on a copy where an operation no longer lists 401, or a body
    # no longer states its unknown-member policy.
    d = os.path.join(TMP, "openapi-check")
    os.makedirs(d, exist_ok=True)
    for f in ("openapi-check", "openapi.yaml", "routes.c", "openapi_spec.c"):
        shutil.copy(os.path.join(ROOT, "bff", f), d)
    with open(os.path.join(d, "openapi.yaml")) as f:
        y = f.read()
    me = y.index("  /api/v1/me:")
    for cut, want in (("        '401': {$ref: '#/components/responses/Error'}\n",
                       "GET /api/v1/me does not list 401"),
                      ("              additionalProperties: false\n",
                       "states no additionalProperties")):
        at = y.find(cut, me)
        expect(at > 0, "no %r in openapi.yaml" % cut)
        with open(os.path.join(d, "openapi.yaml"), "w") as f:
            f.write(y[:at] + y[at + len(cut):])
        p = subprocess.run([os.path.join(d, "openapi-check")], capture_output=True, text=True,
                           timeout=60)
        expect(p.returncode != 0 and want in p.stderr, "openapi-check on a copy without %r: "
               "exit %d %s" % (cut.strip(), p.returncode, p.stderr[-600:]))


def c_h2c(w):
    p = API + "/documents?page_size=20"
    r1 = w.bff.req("GET", p, w.admin_tok, use=False)
    r2 = w.bff.req("GET", p, w.admin_tok, h2=True, use=False)
    expect(r2.status == 200 and r2.http_version == "2", "h2c: %s HTTP/%s %s" % (
        r2.status, r2.http_version, r2.body[:200]))
    expect(r1.json() == r2.json(), "h2c JSON differs from HTTP/1.1")
    expect(r2.h("x-content-type-options") == "nosniff" and
           "no-store" in (r2.h("cache-control") or ""), "h2c headers %r" % r2.headers)
    r = w.bff.req("POST", API + "/documents", w.admin_tok, body={"file_name": "h2.txt",
                                                                 "file_size": 5},
                  h2=True, use=False)
    j = expect_status(r, 201, "h2c POST /documents")
    r = w.bff.req("GET", API + "/no-such", w.admin_tok, h2=True, use=False)
    expect_error(r, 404, None, "h2c unknown route")
    big = os.path.join(TMP, "big.json")
    if os.path.exists(big):
        r = w.bff.req("POST", API + "/documents", w.admin_tok, body=("@", big), h2=True,
                      headers={"Content-Type": "application/json"}, use=False)
        expect(r.status == 413, "h2c 10 MB body: %r" % r)
    # KumoCMS's direct replace: PUT /documents/{id} with file_content, the one
    # route taking bodies above KUMO_BODY_MAX (1 MiB), over h2c and HTTP/1.1.
    for h2 in (True, False):
        data = os.urandom(1500000)
        r = w.bff.req("PUT", API + "/documents/" + w.mp_id, w.admin_tok, h2=h2, use=False,
                      body={"file_name": "direct.bin",
                            "file_content": base64.b64encode(data).decode()})
        dj = expect_status(r, 200, "direct replace, h2c=%s" % h2)
        expect(dj.get("method") == "direct" and dj.get("document_id") == w.mp_id, dj)
        g = expect_status(w.bff.req("GET", API + "/documents/" + w.mp_id, w.admin_tok,
                                    use=False), 200, "get after the direct replace")
        dl = download(g.get("presigned_url", ""))
        expect(dl.status == 200 and dl.body == data, "direct replace bytes (h2c=%s)" % h2)
        # Without credentials the route has the global limit: 413, not a 401
        # after buffering 2 MB.
        r = w.bff.req("PUT", API + "/documents/" + w.mp_id, None, h2=h2, use=False,
                      body={"file_name": "direct.bin",
                            "file_content": base64.b64encode(data).decode()})
        expect_error(r, 413, None, "anonymous direct replace above KUMO_BODY_MAX, h2c=%s" % h2)
    expect(j.get("document_id"), j)


def c_h2c_reset_async(w):
    """Streams reset by the client while their RPC is out (at once, in the
    HEADERS' own write, and a moment later) are dropped; the others of the
    connection are answered 200 with the document, and the connection goes
    on serving."""
    import h2.errors
    path = API + "/documents/" + w.mp_id
    s, conn = h2c_open(w.bff.d.http_port)
    try:
        keep = []
        for i in range(40):
            sid = h2c_get(conn, path, w.admin_tok)
            if i % 2:
                conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            else:
                keep.append(sid)
        s.sendall(conn.data_to_send())
        later = [h2c_get(conn, path, w.admin_tok) for _ in range(20)]
        s.sendall(conn.data_to_send())
        time.sleep(0.002)
        for sid in later[::2]:
            conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        keep += later[1::2]
        s.sendall(conn.data_to_send())
        got = h2c_collect(s, conn, set(keep))
        bad = {k: v[0] for k, v in got.items() if v[0] != 200 or
               w.mp_id not in v[1].decode("utf-8", "replace")}
        expect(len(got) == len(keep) and not bad,
               "%d of %d kept streams answered, not 200 with a document: %r" % (
                   len(got), len(keep), bad))
        sid = h2c_get(conn, path, w.admin_tok)
        s.sendall(conn.data_to_send())
        got = h2c_collect(s, conn, {sid})
        expect(got.get(sid, (0,))[0] == 200, "GET after the resets: %r" % (got,))
    finally:
        s.close()
    expect_status(w.bff.req("GET", API + "/healthcheck", use=False), 200, "after the resets")


def c_h2c_slow_reader(w):
    """An h2c client that asks for a hundred list pages and reads none of it
    (tiny receive buffer, flow-control windows wide open: the server's
    socket fills) delays no other connection's GETs."""
    port = w.bff.d.http_port
    s, conn = h2c_open(port, rcvbuf=4096, big_window=True)
    try:
        # Batches of 100 (the streams a connection may have open): each is
        # answered into the server's socket buffer until it is full (MiBs).
        for _ in range(8):
            for _ in range(100):
                h2c_get(conn, API + "/documents?page_size=100", w.admin_tok)
            s.sendall(conn.data_to_send())
            time.sleep(0.25)
        q = send_q(port, s.getsockname()[1])
        expect(q > 1000000, "the slow reader's answers do not fill the server's socket (Send-Q %d)"
               % q)
        worst = 0.0
        for h2 in (True, False):
            for _ in range(5):
                t0 = time.time()
                r = w.bff.req("GET", API + "/documents/" + w.mp_id, w.admin_tok, h2=h2, use=False)
                worst = max(worst, time.time() - t0)
                expect_status(r, 200, "GET beside the slow reader (h2c=%s)" % h2)
        note("slow reader: server Send-Q %d bytes, slowest GET beside it %.3f s" % (q, worst))
        expect(worst < 2.0, "a GET beside the slow reader took %.2f s" % worst)
    finally:
        s.close()


def c_logs(w):
    bad = []
    for name in list(w.st.order):
        d = w.st.daemons[name]
        if d.svc != "bff":
            continue
        text = d.log_text()
        for m in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if m in text:
                bad.append("%s: %s" % (name, m))
        for s in SECRETS:
            if s and len(s) >= 12 and s in text:
                bad.append("%s logs a secret (%s...)" % (name, s[:4]))
    expect(not bad, "\n".join(bad))


def c_sigterm(w):
    codes = {}
    for name in list(w.st.order):
        d = w.st.daemons[name]
        if d.svc == "bff" and (d.alive() or d.exit_code is not None):
            codes[name] = d.stop()
    expect(codes and all(c == 0 for c in codes.values()), "exit codes %r" % codes)


def main():
    global TMP
    if len(sys.argv) != 2:
        print("usage: bff_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="kumo-bff-it.", dir=base)
    TMP = os.path.join(work, "curl")
    os.makedirs(TMP)

    def on_term(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    w = World()
    w.st = kumo_stack.Stack(ROOT, build, os.path.join(work, "stack"))
    t0 = time.time()
    try:
        try:
            setup(w, build)
        except Exception:  # noqa: BLE001
            report(False, "the stack starts (MariaDB, users, storage, documents, bff)",
                   traceback.format_exc())
            return 1
        report(True, "the stack starts: MariaDB, kumo-users, kumo-storage, kumo-documents, "
               "kumo-bff (%.1fs)" % (time.time() - t0))
        case("healthcheck: 200 {status: healthy, checks: users, documents, storage}", c_health, w)
        if case("bearer: login, /me, bearer refresh rotates, wrong password 401, no token 401",
                c_login, w):
            w.flow_bearer = run_flow(w, "bearer", w.admin_tok)
        if case("api key: POST /api-keys (secret once, not listed), /me with it", c_api_key, w):
            w.flow_key = run_flow(w, "api-key", w.key)
        case("bearer: logout revokes the refresh token (refresh after it -> 401); unknown "
             "token -> 401",
             c_bearer_logout, w)
        case("api key: a revoked key -> 401 at once; a made-up key -> 401", c_api_key_revoke, w)
        case("tenant B created (system admin over gRPC); B's credentials with A's slug -> 401",
             c_tenant_b, w)
        case("another tenant's token -> 404 on every route with A's ids (path, query, body); "
             "A's document unchanged", c_cross_tenant, w)
        case("browser mode: cookie login HttpOnly SameSite=Strict, CSRF on refresh/logout, "
             "foreign Origin 403, logout clears", c_cookie_mode, w)
        case("browser mode: KUMO_COOKIE_SECURE=true -> __Host-kumo_refresh; Secure; HttpOnly; "
             "SameSite=Strict; Path=/", c_cookie_secure, w)
        case("multipart through the BFF: plan, parts PUT, upload-parts, complete with ETags, "
             "bytes equal; tenant B -> 404 (ids in path and body)", c_multipart, w)
        case("multipart with part_sha256 through the BFF (POST /documents and PUT /documents/"
             "{id}): sha256s signed into part URLs, parts' sha256 at complete; not with "
             "presign_parts, boolean only -> 400", c_multipart_part_sha, w)
        case("request id: X-Request-Id kept and reaches kumo-documents (audit event)",
             c_request_id, w)
        case("Idempotency-Key: two POST /documents -> one document", c_idempotency, w)
        case("pagination: pages of 2 walk the same list as one page of 100; garbage token "
             "400", c_pagination, w)
        case("function level: POST /users creates a viewer who signs in", c_viewer, w)
        case("POST /auth/password: 401 without token, 400 missing/unknown/short, 403 wrong current, "
             "204; old refresh token 401, old password 401, new one signs in",
             c_change_password, w)
        case("function level: viewer on users, api-keys, audit-events, dead-letters, document "
             "writes -> 403", c_function_level, w)
        case("property level: PATCH with role/tenant/tenant_id/owner_id/status... -> 400 or "
             "ignored, row unchanged", c_property_level, w)
        case("resource: 10 MB body -> 413 (still serving), JSON 10000 deep -> 400, bad JSON -> "
             "400, wrong content type refused", c_body_limits, w)
        try:
            w.limits = Bff(w.st.start("bff", name="bff-limits", env=LIMITS_ENV))
        except Exception:  # noqa: BLE001
            report(False, "a bff with low limits starts", traceback.format_exc())
        case("resource: page_size=1000000 clamped (<= KUMO_PAGE_SIZE_MAX), bad page_size 400",
             c_page_size, w)
        case("resource: login burst -> 429 resource_exhausted with Retry-After", c_login_burst,
             w)
        case("resource: burst from one principal -> 429 with Retry-After; another principal "
             "still served", c_principal_burst, w)
        case("resource: GET burst from one address (X-Forwarded-For rotated) -> 429 "
             "with Retry-After; served again after it", c_get_burst, w)
        case("CORS: KUMO_CORS_ORIGINS with \"*\" allows only the listed origins", c_cors_star, w)
        case("slow client: a body trickled at 200 B/s is cut off (KUMO_CLIENT_TIMEOUT=2s)",
             c_slow_client, w)
        case("slow client over h2c: a body trickled at 200 B/s is cut off", c_slow_client_h2c, w)
        case("CORS: foreign Origin gets nothing; allowed one exactly (credentials, never *); "
             "preflight", c_cors, w)
        case("authentication probes: alg none, HS256, swapped payload -> 401; token only from "
             "the Authorization header; method override ignored", c_auth_probes, w)
        case("refresh token reuse -> 401 and the family is revoked", c_refresh_reuse, w)
        case("input validation: bad sizes, CRLF in names/types, bad sha256/meta, duplicate "
             "keys, bad tier/days/status, 40 query params -> 400", c_input_probes, w)
        case("OpenAPI request side: POST /documents without file_size -> 400 naming it, no "
             "document made; for every operation, each body member / query parameter breaking "
             "the document (required, type, enum, minimum, not listed) -> 400 naming it",
             c_spec_requests, w)
        case("odd requests (NUL/%ff/long ids, huge title/tags, non-object JSON, bad UTF-8, "
             "many/big headers) -> 4xx JSON, never 5xx; still serving", c_odd_requests, w)
        case("errors: unknown route 404 JSON, wrong method 405 + Allow, bad tokens 401",
             c_routing_errors, w)
        case("openapi.json: OpenAPI 3.1; every path+method routed; every route the flow used "
             "listed", c_openapi, w)
        case("bff/openapi-check passes, and fails on a copy of the document where an "
             "operation does not list 401 or a body states no unknown-member policy",
             c_openapi_check, w)
        case("h2c (prior knowledge): same JSON as HTTP/1.1, headers, POST, 404, 413; the direct "
             "replace (file_content, 1.5 MB) over h2c and HTTP/1.1", c_h2c, w)
        case("h2c: streams reset while their RPC is out are dropped, the others of the "
             "connection answered 200", c_h2c_reset_async, w)
        case("h2c: a client reading none of its answers delays no other connection's GETs",
             c_h2c_slow_reader, w)
        case("headers: nosniff, CSP and X-Request-Id on every response; no-store on "
             "authenticated ones; JSON bodies", c_headers, w)
        case("kumo-documents frozen: request budget -> 504 in bounded time; /me unaffected; "
             "healthcheck 503 within its budget", c_upstream_hang, w)
        case("kumo-documents stopped: 5xx {error:{code,message}} without addresses/paths, "
             "bounded time", c_upstream_down, w)
        case("kumo-documents stopped: healthcheck 503 naming documents", c_health_down, w)
        openapi_validate.shared().self_test(report)
        openapi_validate.shared().report(report)
        case("SIGTERM: every bff exits 0", c_sigterm, w)
        case("logs: no sanitizer reports, no secrets in the BFF logs", c_logs, w)
        note("run time %.1fs" % (time.time() - t0))
    except KeyboardInterrupt as e:
        report(False, "interrupted (%s)" % e)
    finally:
        try:
            w.st.down()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        if os.environ.get("BFF_TEST_KEEP") == "1":
            note("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
