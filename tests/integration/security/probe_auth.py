#!/usr/bin/python3
"""Security probes of identity (issue 14, findings 1, 5 and 6), against the
real stack (scripts/kumo_stack.py): MariaDB, kumo-users, kumo-storage,
kumo-documents and two kumo-bff processes, reached over HTTP with
http.client only, as an attacker would.

Usage: probe_auth.py BUILD_DIR. Prints TAP lines "ok - security: auth: ..." /
"not ok - ...", ends with "# probe_auth: done".
"""
import base64
import http.client
import json
import os
import secrets
import sys
import tempfile
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402

API = "/api/v1"
SPRAYER = "203.0.113.66"
OTHER = "198.51.100.23"
OTHER2 = "198.51.100.24"
# The BFF believes X-Forwarded-For from loopback (the test's "load balancer"),
# so one curl-less client can speak for many addresses.
BFF_ENV = {"KUMO_TRUSTED_PROXIES": "127.0.0.0/8, ::1/128",
           "KUMO_RATE_LIMIT_PER_ADDRESS": "1000/s burst 1000",
           "KUMO_LOGIN_RATE_LIMIT": "1000/s burst 1000",
           "KUMO_RATE_LIMIT_PER_PRINCIPAL": "off",
           "KUMO_COOKIE_SECURE": "false"}

results = {"fail": 0}


def report(ok, what, detail=""):
    print("%s - security: auth: %s" % ("ok" if ok else "not ok", what))
    if not ok:
        results["fail"] += 1
        for line in str(detail).splitlines()[:12]:
            print("#   " + line)
    sys.stdout.flush()
    return ok


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def h(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


def req(port, method, path, token=None, body=None, xff=None, timeout=30, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if xff:
        h["X-Forwarded-For"] = xff
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


def login(port, tenant, email, password, xff):
    return req(port, "POST", API + "/auth/login", body={"tenant": tenant, "email": email,
                                                       "password": password}, xff=xff)


def fake_key():
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    kid = "".join(secrets.choice(alphabet) for _ in range(16))
    sec = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    return "kumo_%s_%s" % (kid, sec)


def retry_after_ok(r):
    ra = r.h("retry-after") or ""
    return ra.isdigit() and 1 <= int(ra) <= 3600


# ---- finding 1: nobody can lock everybody out ---------------------------------------------

def probe_lockout(w):
    port = w.bff.http_port
    st = w.st
    r = login(port, "demo", st.demo_email, st.demo_password, xff=OTHER2)
    tok = (r.json() or {}).get("access_token")
    if not report(r.status == 200 and tok, "admin signs in", r):
        return
    r = req(port, "POST", API + "/api-keys", tok, body={"name": "probe", "role": "editor"},
            xff=OTHER2)
    key = (r.json() or {}).get("secret")
    if not report(r.status == 201 and key, "admin creates an API key", r):
        return
    # Warm the BFF's exchange cache from a clean address first: a cached
    # answer must not let the sprayer's address escape its limit.
    r = req(port, "GET", API + "/documents", key, xff=OTHER2)
    report(r.status == 200, "the key works before the attack", r)

    statuses = {}
    for _ in range(200):
        r = req(port, "GET", API + "/documents", fake_key(), xff=SPRAYER)
        statuses[r.status] = statuses.get(r.status, 0) + 1
    report(set(statuses) <= {401, 429} and statuses.get(429, 0) > 0,
           "200 bad API keys (distinct key ids) from one address: 401, then 429", statuses)
    statuses = {}
    for i in range(50):
        r = login(port, "demo", "nobody%d@demo.local" % i, "wrong-password-%d" % i, xff=SPRAYER)
        statuses[r.status] = statuses.get(r.status, 0) + 1
    report(set(statuses) <= {401, 429}, "50 bad passwords for other accounts: 401/429",
           statuses)

    r = req(port, "GET", API + "/documents", key, xff=OTHER)
    report(r.status == 200, "the valid API key from another address: 200", r)
    r = login(port, "demo", st.demo_email, st.demo_password, xff=OTHER)
    report(r.status == 200, "a valid login from another address: 200", r)
    r = req(port, "GET", API + "/documents", key, xff=SPRAYER)
    report(r.status == 429 and retry_after_ok(r),
           "the valid key from the spraying address: 429 with Retry-After",
           "%r retry-after=%r" % (r, r.h("retry-after")))
    r = login(port, "demo", st.demo_email, st.demo_password, xff=SPRAYER)
    report(r.status == 429 and retry_after_ok(r),
           "a valid login from the spraying address: 429 with Retry-After",
           "%r retry-after=%r" % (r, r.h("retry-after")))
    # A client that forges the left part of X-Forwarded-For does not escape:
    # the right-most address not of a trusted proxy is the one counted.
    r = req(port, "GET", API + "/documents", key, xff="%s, %s" % (OTHER, SPRAYER))
    report(r.status == 429, "a forged X-Forwarded-For entry does not escape the limit", r)
    # Per account: failures from several addresses slow it down, never lock it.
    for i in range(5):
        login(port, "demo", st.demo_email, "wrong-%d" % i, xff="192.0.2.%d" % (i + 1))
    r = login(port, "demo", st.demo_email, st.demo_password, xff="192.0.2.77")
    report(r.status == 200, "5 failures on the admin's account from 5 addresses do not lock "
           "the owner out", r)
    w.key, w.admin_tok = key, tok


# ---- finding 5: revocations reach every process within seconds ----------------------------

LIMIT_S = 2.0


def until_refused(checks, limit=6.0):
    """Polls each (name, fn) until fn() is True; returns {name: seconds}."""
    t0 = time.monotonic()
    out = {}
    while len(out) < len(checks) and time.monotonic() - t0 < limit:
        for name, fn in checks:
            if name not in out and fn():
                out[name] = time.monotonic() - t0
        time.sleep(0.05)
    return out


def documents_refuses(w, token):
    """ListDocuments called straight on kumo-documents with `token`."""
    import grpc
    M = w.st.messages()
    try:
        w.st.call("documents", "kumo.documents.v1.DocumentService", "ListDocuments",
                  M["kumo.documents.v1.ListDocumentsRequest"](page_size=1), token=token,
                  timeout=5)
        return False
    except grpc.RpcError as e:
        return e.code() == grpc.StatusCode.UNAUTHENTICATED


def timed(w, what, checks):
    got = until_refused(checks)
    slow = {k: round(v, 2) for k, v in got.items() if v > LIMIT_S}
    missing = [n for n, _ in checks if n not in got]
    report(not slow and not missing, "%s: refused everywhere within %.0f s (%s)" % (
        what, LIMIT_S, ", ".join("%s %.2f s" % (k, v) for k, v in sorted(got.items()))),
           "too slow: %r; never: %r" % (slow, missing))
    w.figures.append((what, got))


def probe_revocation(w):
    st = w.st
    p1, p2 = w.bff.http_port, w.bff2.http_port
    admin = w.admin_tok

    def key(role="editor", tok=admin):
        # A name of its own: two live keys per name is the rotation limit.
        r = req(p1, "POST", API + "/api-keys", tok, body={"name": "rv-%s" % secrets.token_hex(4),
                                                         "role": role}, xff=OTHER2)
        j = r.json() or {}
        return j.get("secret"), (j.get("api_key") or {}).get("id")

    # An API key revoked through one BFF stops working at both.
    k1, k1_id = key()
    k2, _ = key()
    ok = all(req(p, "GET", API + "/documents", k, xff=OTHER2).status == 200
             for p in (p1, p2) for k in (k1, k2))
    if not report(ok and k1_id, "two keys work through both BFF replicas (exchange cached)"):
        return
    r = req(p1, "DELETE", API + "/api-keys/" + k1_id, admin, xff=OTHER2)
    report(r.status == 204, "DELETE /api-keys/{id} through replica 1", r)
    timed(w, "revoked API key", [
        ("bff1", lambda: req(p1, "GET", API + "/documents", k1, xff=OTHER2).status == 401),
        ("bff2", lambda: req(p2, "GET", API + "/documents", k1, xff=OTHER2).status == 401)])
    report(all(req(p, "GET", API + "/documents", k2, xff=OTHER2).status == 200 for p in (p1, p2)),
           "the other key keeps working at both replicas")

    # A disabled user's access token, and the keys the user made.
    email = "revoked-%d@demo.local" % int(time.time())
    r = req(p1, "POST", API + "/users", admin, body={"email": email, "role": "admin",
                                                      "password": "a-long-password-1"},
            xff=OTHER2)
    uid = ((r.json() or {}).get("user") or {}).get("id") or (r.json() or {}).get("id")
    if not report(r.status == 201 and uid, "admin creates a second admin", r):
        return
    r = login(p1, "demo", email, "a-long-password-1", xff=OTHER2)
    utok = (r.json() or {}).get("access_token")
    ukey, _ = key(tok=utok)
    ok = (utok and ukey and req(p2, "GET", API + "/documents", utok, xff=OTHER2).status == 200
          and req(p2, "GET", API + "/documents", ukey, xff=OTHER2).status == 200
          and not documents_refuses(w, utok))
    if not report(ok, "the user's token and key work (BFF and kumo-documents)"):
        return
    r = req(p1, "PATCH", API + "/users/" + uid, admin, body={"disabled": True}, xff=OTHER2)
    report(r.status == 200, "PATCH /users/{id} disabled", r)
    timed(w, "disabled user", [
        ("bff1 token", lambda: req(p1, "GET", API + "/documents", utok, xff=OTHER2).status == 401),
        ("bff2 token", lambda: req(p2, "GET", API + "/documents", utok, xff=OTHER2).status == 401),
        ("bff2 key", lambda: req(p2, "GET", API + "/documents", ukey, xff=OTHER2).status == 401),
        ("documents", lambda: documents_refuses(w, utok))])

    # Deleting a user ends its key everywhere too.
    email = "deleted-%d@demo.local" % int(time.time())
    r = req(p1, "POST", API + "/users", admin, body={"email": email, "role": "admin",
                                                      "password": "a-long-password-2"},
            xff=OTHER2)
    uid = ((r.json() or {}).get("user") or {}).get("id") or (r.json() or {}).get("id")
    r = login(p1, "demo", email, "a-long-password-2", xff=OTHER2)
    dtok = (r.json() or {}).get("access_token")
    dkey, _ = key(tok=dtok)
    ok = dkey and req(p2, "GET", API + "/documents", dkey, xff=OTHER2).status == 200
    if not report(ok, "a third admin's key works"):
        return
    r = req(p1, "DELETE", API + "/users/" + uid, admin, xff=OTHER2)
    report(r.status in (200, 204), "DELETE /users/{id}", r)
    timed(w, "deleted user", [
        ("bff2 key", lambda: req(p2, "GET", API + "/documents", dkey, xff=OTHER2).status == 401),
        ("bff1 token", lambda: req(p1, "GET", API + "/documents", dtok, xff=OTHER2).status == 401),
        ("documents", lambda: documents_refuses(w, dtok))])
    # Sign out everywhere: the user's every token, at every process.
    email = "everywhere-%d@demo.local" % int(time.time())
    r = req(p1, "POST", API + "/users", admin, body={"email": email, "role": "viewer",
                                                      "password": "a-long-password-3"},
            xff=OTHER2)
    r1 = login(p1, "demo", email, "a-long-password-3", xff=OTHER2)
    r2 = login(p2, "demo", email, "a-long-password-3", xff=OTHER2)
    t1, t2 = [(x.json() or {}).get("access_token") for x in (r1, r2)]
    rt2 = (r2.json() or {}).get("refresh_token")
    ok = t1 and t2 and all(req(p, "GET", API + "/documents", t, xff=OTHER2).status == 200
                           for p in (p1, p2) for t in (t1, t2))
    if not report(ok, "a viewer signed in on two replicas"):
        return
    r = req(p1, "POST", API + "/auth/logout-everywhere", t1, xff=OTHER2)
    report(r.status == 204, "POST /auth/logout-everywhere", r)
    timed(w, "signed out everywhere", [
        ("bff1 token", lambda: req(p1, "GET", API + "/documents", t1, xff=OTHER2).status == 401),
        ("bff2 other session", lambda: req(p2, "GET", API + "/documents", t2,
                                           xff=OTHER2).status == 401),
        ("documents", lambda: documents_refuses(w, t2))])
    r = req(p2, "POST", API + "/auth/refresh", body={"refresh_token": rt2}, xff=OTHER2)
    report(r.status == 401, "the other session's refresh token is dead too", r)
    time.sleep(1.1)  # a token of the same second as the sign-out is refused too
    r = login(p2, "demo", email, "a-long-password-3", xff=OTHER2)
    t3 = (r.json() or {}).get("access_token")
    report(t3 and req(p1, "GET", API + "/documents", t3, xff=OTHER2).status == 200,
           "signing in again afterwards works", r)
    # The admin who did all this was never affected.
    report(req(p2, "GET", API + "/documents", admin, xff=OTHER2).status == 200,
           "the admin's own token still works")


# ---- finding 6: idempotency keys per principal; what an admin API key may grant ----------

def new_user(w, role, tag):
    p = w.bff.http_port
    email = "%s-%s@demo.local" % (tag, secrets.token_hex(3))
    pw = "pw-" + secrets.token_hex(8)
    r = req(p, "POST", API + "/users", w.admin_tok, body={"email": email, "role": role,
                                                           "password": pw}, xff=OTHER2)
    j = r.json() or {}
    uid = (j.get("user") or {}).get("id") or j.get("id")
    r = login(p, "demo", email, pw, xff=OTHER2)
    return uid, (r.json() or {}).get("access_token")


def probe_idempotency_and_grants(w):
    p = w.bff.http_port
    _, ed1 = new_user(w, "editor", "ed1")
    _, ed2 = new_user(w, "editor", "ed2")
    if not report(ed1 and ed2, "two editors sign in"):
        return
    idem = {"Idempotency-Key": "shared-" + secrets.token_hex(6)}
    body = {"file_name": "idem.txt", "file_size": 4}
    a1 = req(p, "POST", API + "/documents", ed1, body=body, headers=idem, xff=OTHER2)
    a2 = req(p, "POST", API + "/documents", ed1, body=body, headers=idem, xff=OTHER2)
    b1 = req(p, "POST", API + "/documents", ed2, body=body, headers=idem, xff=OTHER2)
    ida, ida2, idb = [(x.json() or {}).get("document_id") for x in (a1, a2, b1)]
    report(ida and ida == ida2, "the same editor's retry with its key: the same document",
           "%r %r" % (a1, a2))
    report(b1.status == 201 and idb and idb != ida and
           (b1.json() or {}).get("upload_url") != (a1.json() or {}).get("upload_url"),
           "another editor reusing the key gets a document of its own, not the first one's",
           "%r vs %r" % (b1, a1))
    r = req(p, "GET", API + "/documents/" + ida, ed2, xff=OTHER2)
    report(r.status in (200, 404) and (r.json() or {}).get("upload_url") is None,
           "and no upload URL of the first one's document", r)

    # An admin API key grants only roles below its own.
    r = req(p, "POST", API + "/api-keys", w.admin_tok,
            body={"name": "adm-" + secrets.token_hex(3), "role": "admin"}, xff=OTHER2)
    akey = (r.json() or {}).get("secret")
    if not report(r.status == 201 and akey, "admin creates an admin API key", r):
        return
    email = "k-%s@demo.local" % secrets.token_hex(3)
    r = req(p, "POST", API + "/users", akey, body={"email": email, "role": "admin",
                                                    "password": "pw-" + secrets.token_hex(8)},
            xff=OTHER2)
    report(r.status == 403, "the admin key cannot create an admin", r)
    r = req(p, "POST", API + "/users", akey, body={"email": email, "role": "editor",
                                                    "password": "pw-" + secrets.token_hex(8)},
            xff=OTHER2)
    uid = ((r.json() or {}).get("user") or {}).get("id")
    report(r.status == 201 and uid, "the admin key creates an editor", r)
    r = req(p, "PATCH", API + "/users/%s" % uid, akey, body={"role": "admin"}, xff=OTHER2)
    report(r.status == 403, "the admin key cannot promote a user to admin", r)
    r = req(p, "POST", API + "/api-keys", akey, body={"name": "chain", "role": "viewer"},
            xff=OTHER2)
    report(r.status == 403, "an API key cannot create API keys", r)
    r = req(p, "PATCH", API + "/users/%s" % uid, w.admin_tok, body={"role": "admin"}, xff=OTHER2)
    report(r.status == 200, "a signed-in admin still promotes", r)


def main():
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="kumo-sec-auth-")
    st = kumo_stack.Stack(ROOT, build, work)

    class W:
        pass
    w = W()
    w.st = st
    try:
        st.up(services=("users", "storage", "documents"))
        w.bff = st.start("bff", name="bff", env=BFF_ENV)
        w.bff2 = st.start("bff", name="bff2", env=BFF_ENV)
        w.figures = []
        for probe in (probe_lockout, probe_revocation, probe_idempotency_and_grants):
            try:
                probe(w)
            except Exception:
                report(False, "%s ran without an exception" % probe.__name__,
                       traceback.format_exc())
    except Exception:
        report(False, "the stack starts", traceback.format_exc())
    finally:
        try:
            st.down()
        except Exception:
            pass
    for what, got in getattr(w, "figures", []):
        print("# figure: %s: %s" % (what, ", ".join("%s %.2f s" % kv for kv in sorted(got.items()))))
    print("# probe_auth: done")
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
