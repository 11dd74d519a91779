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


def req(port, method, path, token=None, body=None, xff=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {}
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
        for probe in (probe_lockout,):
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
    print("# probe_auth: done")
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
