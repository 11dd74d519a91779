#!/usr/bin/python3
"""Security probes of kumo-storage (issue 14, findings 3 and 4), written
from the outside as an attacker with an ordinary account would try them,
against a real stack (scripts/kumo_stack.py): MariaDB, kumo-users,
kumo-storage (local backend) and kumo-documents, plus a second
kumo-storage on the S3 backend against s3rver (the S3-compatible endpoint
the storage suite uses) with a kumo-documents of its own.

Finding 3, the storage RPC as a way around the documents rules:
  - users' tokens (editor, viewer, admin) get permission_denied on every
    StorageService RPC, for another user's ACTIVE document as for their
    own; the document keeps its bytes, and the documents flow still
    uploads, completes, downloads and audits;
  - a viewer gets no download link for a soft-deleted document, from
    either service;
  - download links live at most 1 h: kumo-documents and kumo-storage refuse
    more, and the data port refuses a presigned GET signed for longer;
  - the data port sends nosniff always, CSP sandbox, and an attachment
    disposition for every type not on the safe list (HTML, SVG, XML, text
    without a charset), even when asked for inline.
Finding 4, an upload URL writing after the content was verified:
  - single PUT and multipart, on the local backend and on the S3 backend:
    after CompleteUpload, PUTs through the old upload / part URLs change
    nothing that downloads return; the document keeps its checksum.

Usage: probe_storage.py BUILD_DIR. Prints TAP lines "ok - security:
storage: ..." / "not ok - ..." (with "#" details), then "# probe_storage:
done". PROBE_KEEP=1 keeps the work directory."""
import base64
import datetime
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402

kumo_stack._import_grpc()
import grpc  # noqa: E402

C = grpc.StatusCode
DOCS = "kumo.documents.v1.DocumentService"
USERS = "kumo.users.v1.UserService"
STORAGE = "kumo.storage.v1.StorageService"
MIB = 1024 * 1024
ACTIVE, DELETED = 2, 4
DOCS_ENV = {"KUMO_MULTIPART_THRESHOLD": "6MiB", "KUMO_MULTIPART_PART_SIZE": "5MiB",
            "KUMO_JOBS_WORKERS": "0"}
PASSWORD = "probe-storage-password-1"

failures = 0


def report(ok, what, detail=None):
    global failures
    print("%s - security: storage: %s" % ("ok" if ok else "not ok", what), flush=True)
    if not ok:
        failures += 1
        for line in str(detail or "").splitlines()[:40]:
            print("#   " + line, flush=True)


class Fail(AssertionError):
    pass


def expect(cond, detail):
    if not cond:
        raise Fail(detail)


def case(what, fn, *args):
    try:
        fn(*args)
    except Fail as e:
        report(False, what, e)
        return
    except Exception:  # noqa: BLE001 - any error fails the probe
        report(False, what, traceback.format_exc())
        return
    report(True, what)


def sha(b):
    return hashlib.sha256(b).digest()


def http_req(url, method="GET", headers=None, body=b"", timeout=60):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    c.putrequest(method, u.path + ("?" + u.query if u.query else ""), skip_accept_encoding=True)
    hdrs = {k.lower(): v for k, v in (headers or {}).items() if k.lower() != "host"}
    if body or method in ("PUT", "POST"):
        hdrs["content-length"] = str(len(body))
    for k, v in hdrs.items():
        c.putheader(k, v)
    c.endheaders()
    if body:
        try:
            c.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


class World:
    """The stack, its users and calls."""

    def __init__(self, build, work):
        self.st = kumo_stack.Stack(ROOT, build, work)
        self.work = work
        self.s3rver = None
        self.M = None

    def msg(self, full, **kw):
        return self.M[full](**kw)

    def call(self, daemon, service, method, token, **kw):
        """(code, response or None, details)."""
        pkg = service.rsplit(".", 1)[0]
        req = self.M[pkg + "." + method + "Request"](**kw)
        try:
            return C.OK, self.st.call(daemon, service, method, req, token=token), ""
        except grpc.RpcError as e:
            return e.code(), None, e.details()

    def ok(self, daemon, service, method, token, **kw):
        code, resp, det = self.call(daemon, service, method, token, **kw)
        expect(code == C.OK, "%s: %s %s" % (method, code, det))
        return resp

    # -- set-up --

    def up(self):
        st = self.st
        st.start_mariadb()
        st.secrets()
        st.migrate("users")
        st.migrate("documents")
        st.bootstrap()
        st.start("users")
        st.start("storage")
        st.start("documents", env=DOCS_ENV)
        self.M = st.messages()
        admin = st.login("demo", st.demo_email, st.demo_password)
        self.admin = admin.access_token
        self.tid = admin.user.tenant_id
        self.tokens = {"admin": self.admin}
        for name, role in (("alice", 2), ("eve", 2), ("victor", 1)):
            email = "%s@demo.example" % name
            self.ok("users", USERS, "CreateUser", self.admin, email=email, display_name=name,
                    role=role, password=PASSWORD)
            self.tokens[name] = st.login("demo", email, PASSWORD).access_token
        with open(st.apikey_file("documents")) as f:
            key = f.read().strip()
        r = self.ok("users", USERS, "ExchangeApiKey", None, api_key=key, tenant_id=self.tid)
        self.service = r.access_token  # what kumo-documents itself holds
        self.start_s3()

    def start_s3(self):
        data = os.path.join(self.work, "s3rver")
        os.makedirs(data, exist_ok=True)
        self.s3rver = subprocess.Popen(["node", os.path.join(ROOT, "tests", "integration",
                                                             "storage", "s3rver.mjs"), data],
                                       cwd=ROOT, stdout=subprocess.PIPE, text=True)
        port = json.loads(self.s3rver.stdout.readline())["port"]
        self.s3_endpoint = "http://127.0.0.1:%d" % port
        st = self.st
        st.start("storage", name="storage_s3", env={
            "KUMO_STORAGE_BACKEND": "s3", "KUMO_STORAGE_S3_ENDPOINT": self.s3_endpoint,
            "KUMO_STORAGE_DATA_PORT": "-1", "AWS_ACCESS_KEY_ID": "S3RVER",
            "AWS_SECRET_ACCESS_KEY": "S3RVER",
            "KUMO_STORAGE_ROOT": os.path.join(self.work, "storage-s3-unused")})
        st.start("documents", name="docs_s3",
                 env=dict(DOCS_ENV, KUMO_STORAGE_TARGET=st.target_of("storage_s3")))

    def down(self):
        codes = self.st.down()
        if self.s3rver:
            self.s3rver.terminate()
            self.s3rver.wait(timeout=10)
        return codes

    # -- the documents flow --

    def create(self, who, data, name, ctype="application/octet-stream", with_sha=True,
               docs="documents", **kw):
        req = dict(title=name, file_name=name, content_type=ctype, size=len(data), **kw)
        if with_sha:
            req["sha256"] = sha(data)
        return self.ok(docs, DOCS, "CreateDocument", self.tokens[who], **req)

    def upload(self, who, data, name, docs="documents", **kw):
        """Create + PUT + CompleteUpload: the ACTIVE document."""
        r = self.create(who, data, name, docs=docs, **kw)
        st, _, b = put(r.upload, data)
        expect(st == 200, "PUT %s: %d %r" % (name, st, b[:200]))
        c = self.ok(docs, DOCS, "CompleteUpload", self.tokens[who], document_id=r.document.id)
        expect(c.document.status == ACTIVE, c.document)
        return c.document

    def download(self, who, doc_id, docs="documents"):
        g = self.ok(docs, DOCS, "GetDocument", self.tokens[who], id=doc_id,
                    include_download_url=True)
        st, h, b = http_req(g.download.url)
        expect(st == 200, "download %s: %d %r" % (doc_id, st, b[:200]))
        return g, h, b

    def object_key(self, doc_id, version=1):
        rows = self.st.sql("SELECT object_key FROM document_versions WHERE document_id = '%s'"
                           " AND version = %d" % (doc_id, version), "kumo_documents")
        return rows[0][0]


def put(target, data):
    return http_req(target.url, getattr(target, "http_method", "") or "PUT",
                    {h.name: h.value for h in target.headers}, data)


# ---- finding 3 ---------------------------------------------------------------------------------

STORAGE_CALLS = ("PresignUpload", "PresignDownload", "StatObject", "DeleteObject", "CopyObject",
                 "SetStorageClass", "RestoreObject", "CreateMultipartUpload")


def storage_args(method, key, tid):
    if method == "CopyObject":
        return {"tenant_id": tid, "source_key": key, "destination_key": key + "-copy"}
    args = {"tenant_id": tid, "key": key}
    if method == "PresignDownload":
        args["expires_in"] = {"seconds": 604800}
        args["response_content_type"] = "text/html"
        args["response_content_disposition"] = "inline"
    if method == "PresignUpload":
        args["content_type"] = "text/html"
    if method == "SetStorageClass":
        args["storage_class"] = 2
    if method == "RestoreObject":
        args["days"] = 1
    return args


def p_users_refused(w):
    """Another user's ACTIVE document: the editor (and a viewer, and even the
    tenant admin) asks kumo-storage directly for an upload URL, a download
    link, a copy, a delete... of its key: permission_denied every time, and
    the document keeps its bytes."""
    data = b"alice's quarterly figures\n" * 40
    d = w.upload("alice", data, "figures.txt", ctype="text/plain")
    keys = {w.object_key(d.id), "t/%s/d/%s/v1" % (w.tid, d.id)}
    problems = []
    for who in ("eve", "victor", "admin", "alice"):
        for key in sorted(keys):
            for method in STORAGE_CALLS:
                for tid in ("", w.tid):
                    code, _, det = w.call("storage", STORAGE, method, w.tokens[who],
                                          **storage_args(method, key, tid))
                    if code != C.PERMISSION_DENIED:
                        problems.append("%s %s %s tenant_id=%r: %s %s" % (
                            who, method, key, tid, code, det))
    expect(not problems, "\n".join(problems[:20]))
    g, h, b = w.download("eve", d.id)
    expect(b == data and g.document.size == len(data) and g.document.sha256 == sha(data),
           "document changed: %d bytes, sha %s" % (len(b), g.document.sha256.hex()))


def p_documents_flow(w):
    """The legitimate path still works: an editor creates, uploads, completes
    and downloads through kumo-documents (which calls kumo-storage as its
    service principal), and the audit trail names the editor."""
    data = os.urandom(3000)
    d = w.upload("eve", data, "eve.bin")
    _, h, b = w.download("victor", d.id)
    expect(b == data, "downloaded bytes differ")
    r = w.ok("documents", DOCS, "ListAuditEvents", w.admin, document_id=d.id)
    actions = sorted((e.action, e.actor_id) for e in r.events)
    eve_id = r.events[0].actor_id if r.events else ""
    expect([a for a, _ in actions] == ["document.complete_upload", "document.create"] and
           all(actor == eve_id and actor.startswith("us_") for _, actor in actions),
           "audit events: %r" % actions)


def p_deleted_link(w):
    """A viewer asks for a download link of a soft-deleted document:
    failed_precondition from kumo-documents, permission_denied from
    kumo-storage; an active one still downloads."""
    data = b"to be deleted\n"
    d = w.upload("alice", data, "deleted.txt", ctype="text/plain")
    w.ok("documents", DOCS, "DeleteDocument", w.tokens["alice"], id=d.id)
    code, _, det = w.call("documents", DOCS, "GetDocument", w.tokens["victor"], id=d.id,
                          include_download_url=True)
    expect(code == C.FAILED_PRECONDITION, "documents: %s %s" % (code, det))
    code, _, det = w.call("storage", STORAGE, "PresignDownload", w.tokens["victor"],
                          key=w.object_key(d.id))
    expect(code == C.PERMISSION_DENIED, "storage: %s %s" % (code, det))
    live = w.upload("alice", b"alive\n", "alive.txt", ctype="text/plain")
    _, _, b = w.download("victor", live.id)
    expect(b == b"alive\n", "active document: %r" % b)


def presign_get(w, key, expires):
    """A GET URL of the data port signed with the storage key pair itself."""
    import botocore.session
    from botocore.config import Config
    s = botocore.session.get_session()
    c = s.create_client("s3", region_name="us-east-1",
                        endpoint_url="http://127.0.0.1:%d" % w.st.daemons["storage"].data_port,
                        aws_access_key_id=w.st.storage_access_key_id,
                        aws_secret_access_key=w.st.storage_secret,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    return c.generate_presigned_url("get_object", Params={"Bucket": "kumo", "Key": key},
                                    ExpiresIn=expires)


def p_link_lifetime(w):
    """Download links: more than 1 h is refused by kumo-documents and by
    kumo-storage (even for its service caller), a default link lives at
    most 1 h, and the data port refuses a GET presigned for 7 days with the
    storage key; 1 h links work."""
    data = b"lifetime\n"
    d = w.upload("alice", data, "lifetime.txt", ctype="text/plain")
    key = w.object_key(d.id)
    problems = []
    code, _, det = w.call("documents", DOCS, "GetDocument", w.tokens["victor"], id=d.id,
                          include_download_url=True, download_expires_in={"seconds": 7200})
    if code != C.INVALID_ARGUMENT:
        problems.append("documents 2 h: %s %s" % (code, det))
    for secs in (3601, 86400, 604800):
        code, _, det = w.call("storage", STORAGE, "PresignDownload", w.service,
                              tenant_id=w.tid, key=key, expires_in={"seconds": secs})
        if code != C.INVALID_ARGUMENT:
            problems.append("storage %d s: %s %s" % (secs, code, det))
    now = time.time()
    r = w.ok("storage", STORAGE, "PresignDownload", w.service, tenant_id=w.tid, key=key,
             expires_in={"seconds": 3600})
    if not (r.expire_time.seconds <= now + 3601 and http_req(r.url)[0] == 200):
        problems.append("storage 1 h link: expires %d, now %d" % (r.expire_time.seconds, now))
    r = w.ok("storage", STORAGE, "PresignDownload", w.service, tenant_id=w.tid, key=key)
    if r.expire_time.seconds > now + 3601:
        problems.append("default link lives %d s" % (r.expire_time.seconds - now))
    st, h, b = http_req(presign_get(w, key, 604800))
    if st != 403 or b"AccessDenied" not in b:
        problems.append("data port, 7-day signature: %d %r" % (st, b[:200]))
    if h.get("x-content-type-options") != "nosniff":
        problems.append("data port error without nosniff: %r" % h)
    st, _, b = http_req(presign_get(w, key, 3600))
    if st != 200 or b != data:
        problems.append("data port, 1 h signature: %d %r" % (st, b[:200]))
    expect(not problems, "\n".join(problems))


# (content type, body, may render inline)
SERVED = (
    ("text/html", b"<html><script>alert(document.domain)</script></html>", False),
    ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
                      b"</svg>", False),
    ("text/xml", b"<?xml version='1.0'?><x:script xmlns:x='http://www.w3.org/1999/xhtml'>"
                 b"alert(1)</x:script>", False),
    ("text/plain", b"<script>alert(1)</script> sniff me", False),
    ("application/pdf", b"%PDF-1.4\n%%EOF\n", True),
    ("image/png", base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42"
                                   "mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="), True),
    ("text/plain; charset=utf-8", b"plain text\n", True),
)


def p_served_headers(w):
    """What the data port serves: X-Content-Type-Options: nosniff and
    Content-Security-Policy: sandbox on every GET; HTML, SVG, XML and text
    without a charset are attachments even when the link asks for inline
    (or nothing), from kumo-documents' links, kumo-storage's, or a
    response-content-type override; PDF, PNG and text with a charset may be
    inline."""
    problems = []
    for ctype, body, may_inline in SERVED:
        d = w.upload("alice", body, "served", ctype=ctype)
        key = w.object_key(d.id)
        links = {"documents link": w.download("victor", d.id)[0].download.url}
        for label, extra in (("inline asked", {"response_content_disposition": "inline"}),
                             ("nothing asked", {}),
                             ("inline; filename", {"response_content_disposition":
                                                   'inline; filename="x.html"'})):
            links[label] = w.ok("storage", STORAGE, "PresignDownload", w.service,
                                tenant_id=w.tid, key=key, **extra).url
        for label, url in links.items():
            st, h, b = http_req(url)
            disp = h.get("content-disposition", "")
            where = "%s, %s: " % (ctype, label)
            if st != 200 or b != body:
                problems.append(where + "status %d" % st)
            if h.get("x-content-type-options") != "nosniff":
                problems.append(where + "no nosniff")
            if h.get("content-security-policy") != "sandbox":
                problems.append(where + "no CSP sandbox")
            attach = disp.lower().startswith("attachment")
            if not may_inline and not attach:
                problems.append(where + "served inline (%r)" % disp)
            if may_inline and label != "documents link" and attach:
                problems.append(where + "a safe type was made an attachment (%r)" % disp)
            if label == "inline; filename" and 'filename="x.html"' not in disp:
                problems.append(where + "file name lost (%r)" % disp)
        if may_inline:  # a safe object served as HTML through an override
            url = w.ok("storage", STORAGE, "PresignDownload", w.service, tenant_id=w.tid,
                       key=key, response_content_type="text/html",
                       response_content_disposition="inline").url
            st, h, _ = http_req(url)
            if not h.get("content-disposition", "").lower().startswith("attachment"):
                problems.append("%s served as text/html inline: %r" % (ctype, h))
    expect(not problems, "\n".join(problems))


# ---- finding 4 ---------------------------------------------------------------------------------

def p_single_put_sealed(w, docs, label):
    """Single PUT without a declared SHA-256: upload, complete (ACTIVE, the
    checksum recorded), then PUT other bytes of the same length through the
    same upload URL: downloads keep returning the verified bytes, the
    document keeps its checksum, a second CompleteUpload changes nothing."""
    good = b"verified content " * 64
    evil = b"<script>evil()</script>".ljust(len(good), b" ")
    r = w.create("eve", good, "sealed.txt", ctype="text/plain", with_sha=False, docs=docs)
    st, _, b = put(r.upload, good)
    expect(st == 200, "first PUT: %d %r" % (st, b[:200]))
    c = w.ok(docs, DOCS, "CompleteUpload", w.tokens["eve"], document_id=r.document.id)
    # S3 (s3rver) may not tell the SHA-256: then extraction records it later.
    recorded = c.document.sha256
    expect(c.document.status == ACTIVE and recorded in (sha(good), b""), c.document)
    st, _, b = put(r.upload, evil)
    print("# %s: PUT through the old upload URL after completion -> %d" % (label, st),
          flush=True)
    for attempt in range(2):
        g, _, got = w.download("victor", r.document.id, docs=docs)
        expect(got == good, "download %d returns other bytes (%r...)" % (attempt, got[:40]))
        expect(g.document.sha256 == recorded and g.document.size == len(good), g.document)
        c = w.ok(docs, DOCS, "CompleteUpload", w.tokens["eve"], document_id=r.document.id)
        expect(c.document.sha256 == recorded, "CompleteUpload again: %s" % c.document)


def p_multipart_sealed(w, docs, label):
    """Multipart without a declared SHA-256: upload both parts, complete,
    then PUT other bytes of the same length through both part URLs:
    downloads keep returning the verified bytes."""
    good = os.urandom(6 * MIB + 1000)
    r = w.create("eve", good, "sealed.bin", with_sha=False, docs=docs, presign_parts=True)
    expect(r.upload.method == 2 and len(r.upload.parts) == 2, r.upload)
    parts, off = [], 0
    for p in r.upload.parts:
        st, h, b = put(p, good[off:off + p.size])
        expect(st == 200, "part %d: %d %r" % (p.part_number, st, b[:200]))
        parts.append(w.msg("kumo.documents.v1.CompletedPart", part_number=p.part_number,
                           etag=h["etag"]))
        off += p.size
    c = w.ok(docs, DOCS, "CompleteUpload", w.tokens["eve"], document_id=r.document.id,
             parts=parts)
    expect(c.document.status == ACTIVE, c.document)
    recorded = c.document.sha256
    expect(not recorded or recorded == sha(good), "recorded sha %s" % recorded.hex())
    codes, off = [], 0
    for p in r.upload.parts:
        st, _, _ = put(p, os.urandom(p.size))
        codes.append(st)
        off += p.size
    print("# %s: PUTs through the old part URLs after completion -> %s" % (label, codes),
          flush=True)
    g, _, got = w.download("victor", r.document.id, docs=docs)
    expect(got == good, "download returns other bytes (%d bytes)" % len(got))
    expect(g.document.size == len(good) and g.document.sha256 == recorded, g.document)


# ---- main ---------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        print("usage: probe_storage.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="kumo-probe-storage-")
    w = World(build, work)
    t0 = time.time()
    try:
        try:
            w.up()
        except Exception:  # noqa: BLE001
            report(False, "the stack starts (local and S3 backends)", traceback.format_exc())
            return 1
        case("finding 3: users' tokens (editor, viewer, admin, owner) get permission_denied on "
             "every StorageService RPC for another user's ACTIVE document; its bytes and "
             "checksum are unchanged", p_users_refused, w)
        case("finding 3: the documents flow still uploads, completes, downloads and audits "
             "(kumo-documents calls kumo-storage as its service principal)", p_documents_flow, w)
        case("finding 3: no download link for a soft-deleted document (documents: "
             "failed_precondition, storage: permission_denied)", p_deleted_link, w)
        case("finding 3: download links live at most 1 h (documents, storage RPC and the "
             "data port refuse longer; 1 h works)", p_link_lifetime, w)
        case("finding 3: data port GETs of html/svg/xml/text/pdf/png: nosniff and CSP sandbox "
             "always; attachment unless a safe type", p_served_headers, w)
        for docs, backend in (("documents", "local backend"), ("docs_s3", "S3 backend (s3rver)")):
            case("finding 4: %s, single PUT: the old upload URL after completion changes nothing "
                 "downloads return" % backend, p_single_put_sealed, w, docs, backend)
            case("finding 4: %s, multipart: the old part URLs after completion change nothing "
                 "downloads return" % backend, p_multipart_sealed, w, docs, backend)
    finally:
        codes = w.down()
        bad = {k: v for k, v in codes.items() if v not in (0, None)}
        report(not bad, "every daemon exits 0 on SIGTERM", bad)
        sanitizer = []
        for name, d in w.st.daemons.items():
            text = d.log_text()
            for marker in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
                if marker in text:
                    sanitizer.append("%s: %s" % (name, marker))
        report(not sanitizer, "no sanitizer reports in the daemon logs", "\n".join(sanitizer))
        print("# probe time %.1fs" % (time.time() - t0), flush=True)
        if os.environ.get("PROBE_KEEP") == "1":
            print("# kept " + work, flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
        print("# probe_storage: done", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
