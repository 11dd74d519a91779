#!/usr/bin/python3
"""The web console's suite (issue 13): component tests (Vitest + Testing
Library + happy-dom, web/tests/unit), the files kumo-bff serves at /
(headers, history fallback, precompression, path traversal), then the end
to end flow in Debian's chromium driven by playwright-core (e2e.mjs)
against the real stack from scripts/kumo_stack.py, with axe-core on every
main screen and screenshots (light/dark, en/ja) under BUILD/console-screenshots.

The stack runs with a 16 MiB multipart threshold (8 MiB parts), so the
64 MiB upload goes in parts, and 1 s expedited restores.

Usage: console_test.py BUILD_DIR. Prints TAP lines "ok - console: ..." /
"not ok - console: ...". CONSOLE_TEST_KEEP=1 keeps the work directory.
"""
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
WEB = os.path.join(ROOT, "web")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402

failed = 0


def tap(good, name, diag=""):
    global failed
    print("%s - console: %s" % ("ok" if good else "not ok", name), flush=True)
    if not good:
        failed += 1
        for line in str(diag).splitlines()[:40]:
            print("#   " + line, flush=True)


def component_tests():
    out = tempfile.mktemp(suffix=".json")
    t0 = time.time()
    p = subprocess.run(["npx", "--no-install", "vitest", "run", "--reporter=json", "--outputFile=" + out],
                       cwd=WEB, capture_output=True, text=True, timeout=180)
    try:
        with open(out) as f:
            res = json.load(f)
    except (OSError, ValueError):
        tap(False, "component tests ran", p.stdout[-2000:] + p.stderr[-2000:])
        return
    finally:
        if os.path.exists(out):
            os.unlink(out)
    for suite in res.get("testResults", []):
        fname = os.path.relpath(suite["name"], WEB)
        for a in suite.get("assertionResults", []):
            name = "component: %s: %s" % (fname.replace("tests/unit/", ""), " > ".join(
                a.get("ancestorTitles", []) + [a["title"]]))
            tap(a["status"] == "passed", name, "\n".join(a.get("failureMessages", []))[:1500])
    if not res.get("testResults"):
        tap(False, "component tests ran", p.stdout[-2000:] + p.stderr[-2000:])
    print("# component tests: %.1fs" % (time.time() - t0), flush=True)


def raw(port, method, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest(method, path, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def static_checks(port, build):
    web = os.path.join(build, "web")
    asset = sorted(f for f in os.listdir(os.path.join(web, "assets")) if f.startswith("index-") and f.endswith(".js"))[0]
    st, h, body = raw(port, "GET", "/")
    csp = h.get("content-security-policy", "")
    tap(st == 200 and h.get("content-type", "").startswith("text/html") and "no-cache" in h.get("cache-control", "")
        and "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        and b'<div id="root">' in body,
        "GET /: index.html, no-cache, strict CSP (no inline script)", "%s %r %r" % (st, h, body[:200]))
    st, h, body = raw(port, "GET", "/assets/" + asset, {"Accept-Encoding": "gzip, br"})
    tap(st == 200 and h.get("content-encoding") == "br" and "immutable" in h.get("cache-control", "")
        and "max-age=31536000" in h.get("cache-control", "") and h.get("content-type", "").startswith("text/javascript"),
        "hashed asset: immutable for a year, brotli when accepted", repr(h))
    st, h, _ = raw(port, "GET", "/assets/" + asset, {"Accept-Encoding": "gzip"})
    tap(st == 200 and h.get("content-encoding") == "gzip", "gzip when brotli is not accepted", repr(h))
    st, h, b = raw(port, "GET", "/assets/" + asset)
    with open(os.path.join(web, "assets", asset), "rb") as f:
        tap(st == 200 and "content-encoding" not in h and b == f.read(), "identity when nothing is accepted", repr(h))
    st, h, _ = raw(port, "GET", "/", {"If-None-Match": raw(port, "GET", "/")[1].get("etag", "x")})
    tap(st == 304, "index.html revalidates (304 on If-None-Match)", st)
    st, h, body = raw(port, "GET", "/documents/doc_abc/edit?x=1")
    tap(st == 200 and b'<div id="root">' in body, "history fallback: a client route gets index.html", st)
    st, h, body = raw(port, "GET", "/api/v1/no-such-route")
    tap(st == 404 and h.get("content-type", "").startswith("application/json"), "/api/ never falls back to the console", st)
    st, _, _ = raw(port, "GET", "/assets/index-missing.js")
    tap(st == 404, "a missing asset is a 404, not index.html", st)
    bad = []
    for p in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/assets/../../bin/kumo-bff", "/..%2f..%2fetc%2fpasswd",
              "/.vite/manifest.json", "/assets/%00.js", "//etc/passwd", "/assets/..\\..\\x.js", "/%2e%2e"):
        st, _, body = raw(port, "GET", p)
        if st == 200 and (b"root:" in body or b"ELF" in body[:4] or b'"file"' in body):
            bad.append("%s -> %d" % (p, st))
        elif st not in (400, 404) and not (st == 200 and b'<div id="root">' in body):
            bad.append("%s -> %d %r" % (p, st, body[:80]))
    tap(not bad, "path traversal and hidden files refused", "\n".join(bad))
    st, h, body = raw(port, "HEAD", "/")
    tap(st == 200 and not body, "HEAD /", st)


def main():
    build = os.path.abspath(sys.argv[1])
    t_all = time.time()
    component_tests()
    if not os.path.exists(os.path.join(build, "web", "index.html")):
        tap(False, "the console is built (%s/web)" % build, "make all builds it")
        return
    with open(build + "/web.bundle.json") as f:
        b = json.load(f)
    tap(b["listPageInitialJsGzip"] <= b["budgetListPage"],
        "bundle budget: list page initial JS %.1f KiB gzip <= %.0f KiB (sign-in page %.1f KiB)" % (
            b["listPageInitialJsGzip"] / 1024, b["budgetListPage"] / 1024, b["signInPageInitialJsGzip"] / 1024))
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="kumo-console-it-", dir=base)
    st = kumo_stack.Stack(ROOT, build, work)
    try:
        t0 = time.time()
        try:
            st.start_mariadb()
            st.secrets()
            st.migrate("users")
            st.migrate("documents")
            st.bootstrap()
            st.start("users")
            st.start("storage", env={"KUMO_STORAGE_RESTORE_EXPEDITED": "1s", "KUMO_STORAGE_FSYNC": "false"})
            st.start("documents", env={"KUMO_MULTIPART_THRESHOLD": "16MiB", "KUMO_MULTIPART_PART_SIZE": "8MiB",
                                       "KUMO_JOBS_POLL_INTERVAL": "200ms"})
            st.start("bff", env={"KUMO_LOGIN_RATE_LIMIT": "8/m burst 8"})
        except kumo_stack.StackError as e:
            tap(False, "the stack starts", e)
            return
        tap(True, "the stack starts (%.1fs)" % (time.time() - t0))
        port = st.daemons["bff"].http_port
        static_checks(port, build)
        shots = os.path.join(build, "console-screenshots")
        shutil.rmtree(shots, ignore_errors=True)
        cfg = os.path.join(work, "e2e.json")
        with open(cfg, "w") as f:
            json.dump({"base": "http://127.0.0.1:%d" % port, "tenant": st.demo_tenant, "email": st.demo_email,
                       "password": st.demo_password, "shots": shots, "web": WEB}, f)
        t0 = time.time()
        # Streamed, so that a run cut short by the suite's timeout still
        # shows how far it got.
        p = subprocess.Popen(["node", os.path.join(HERE, "e2e.mjs"), cfg], cwd=WEB, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        seen_end = False
        for line in p.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if "console: no CSP violation" in line:
                seen_end = True
        p.wait()
        if not seen_end:
            tap(False, "the browser flow ran to its end", "exit %s" % p.returncode)
        part_checksums(st)
        print("# browser flow: %.1fs; screenshots in %s" % (time.time() - t0, shots), flush=True)
    finally:
        codes = st.down()
        bad = {k: v for k, v in codes.items() if v not in (0, None)}
        tap(not bad, "every daemon exits 0 on SIGTERM", bad)
        if os.environ.get("CONSOLE_TEST_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("# kept %s" % work)
        print("# run time %.1fs" % (time.time() - t_all), flush=True)


def part_checksums(st):
    """The console's multipart upload (archive-64mib.bin: 8 parts of 8 MiB)
    asked for part checksums (part_sha256) and declared them: storage
    recorded the object's SHA256 COMPOSITE checksum (none without)."""
    rows = st.sql("SELECT object_key FROM document_versions WHERE file_name = "
                  "'archive-64mib.bin' AND status = 2", "kumo_documents")
    ck = None
    if len(rows) == 1:
        h = hashlib.sha256(rows[0][0].encode()).hexdigest()
        try:
            with open(os.path.join(st.storage_root, "obj", h[:2], h + ".meta")) as f:
                ck = json.load(f).get("checksum")
        except OSError as e:
            ck = e
    ok = isinstance(ck, dict) and ck.get("alg") == "SHA256" and ck.get("type") == "COMPOSITE" \
        and str(ck.get("value", "")).endswith("-8")
    tap(ok, "the console's multipart upload asked for part SHA-256s (part_sha256) and declared "
        "them: object checksum SHA256 COMPOSITE of 8 parts", "rows %r, checksum %r" % (rows, ck))


if __name__ == "__main__":
    main()
