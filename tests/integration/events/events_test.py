#!/usr/bin/python3
"""Integration cases of event-driven upload completion (issue 15, part 1)
against a real MariaDB, kumo-users, kumo-storage and kumo-documents
(scripts/kumo_stack.py). The client never calls CompleteUpload unless a
case says so: it creates a document, PUTs the bytes to the presigned URL
(or uploads parts and completes the multipart upload on the data port,
signed as an S3 client of the data port would), and waits for ACTIVE.

Cases: (a) single PUT -> ACTIVE, one audit event by the uploader; multipart
-> ACTIVE; size and SHA-256 mismatches -> refused with the reason on the
document, object removed, document still editable, a correct upload then
completes; (f) CompleteUpload after the event: success, no second audit
event; (b) kumo-documents stopped while 20 uploads land, started: all 20
complete exactly once; (c) kill -9 of kumo-storage right after the PUT's
200 (with kumo-documents running, and with it stopped so that only the
journal can carry the event): the document completes after the restart; an
event for a key no version has is dropped and counted.

Usage: events_test.py BUILD_DIR
"""
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
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "documents"))
sys.path.insert(0, HERE)
import documents_test as dt  # noqa: E402  (its helpers: HTTP, SigV4, messages)
import fake_sqs  # noqa: E402

C = dt.C
PENDING, ACTIVE = dt.PENDING, dt.ACTIVE
MIB = dt.MIB
ACTIVE_WITHIN = 5.0  # seconds from the PUT's 200

passed = 0
failed = 0


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - events: " + name, flush=True)
    else:
        failed += 1
        print("not ok - events: " + name, flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:30]:
                print("#   " + line, flush=True)
    return ok


def case(name, fn, *a):
    try:
        fn(*a)
    except dt.Fail as e:
        return report(False, name, str(e))
    except Exception:  # noqa: BLE001
        return report(False, name, traceback.format_exc())
    return report(True, name)


expect = dt.expect
note = dt.note


DOCS_ENV = {
    "KUMO_MULTIPART_THRESHOLD": "6MiB", "KUMO_MULTIPART_PART_SIZE": "5MiB",
    "KUMO_JOBS_WORKERS": "2", "KUMO_JOBS_POLL_INTERVAL": "100ms",
    "KUMO_UPLOAD_EVENTS_WAIT": "2s",
}
STORAGE_ENV = {"KUMO_STORAGE_RESTORE_EXPEDITED": "1s", "KUMO_STORAGE_RESTORE_STANDARD": "2s",
               "KUMO_STORAGE_RESTORE_BULK": "1h"}


def setup(w):
    st = w.st
    st.start_mariadb()
    st.secrets()
    st.migrate("users")
    st.migrate("documents")
    st.bootstrap()
    st.start("users")
    st.start("storage", env=STORAGE_ENV)
    st.start("documents", name="docs1", env=DOCS_ENV)
    w.M = st.messages()
    w.admin = dt.login(w, "demo", st.demo_email, st.demo_password)
    w.A = w.admin.access_token
    w.pw = "events-test-password-1"
    r = w.call("CreateUser", service=dt.USERS, token=w.A, email="ed@demo.local", display_name="ed",
               role=2, password=w.pw)
    expect(r.code == C.OK, "CreateUser ed: %r" % r)
    w.ed = dt.login(w, "demo", "ed@demo.local", w.pw)
    w.E = w.ed.access_token


# ---- helpers ------------------------------------------------------------------------------------

def get_doc(w, doc_id):
    r = w.call("GetDocument", token=w.E, id=doc_id)
    expect(r.code == C.OK, "GetDocument %s: %r" % (doc_id, r))
    return r.resp.document


def wait_status(w, doc_id, status=ACTIVE, timeout=ACTIVE_WITHIN):
    d = dt.poll(lambda: (lambda x: x if x.status == status else None)(get_doc(w, doc_id)),
                timeout, interval=0.02)
    return d


def audits(w, doc_id, action="document.complete_upload"):
    return w.st.sql("SELECT actor_id, actor_roles, details FROM audit_events WHERE document_id = '%s'"
                    " AND action = '%s'" % (doc_id, action), "kumo_documents")


def create(w, data, title, sha=True, **kw):
    r = dt.create_doc(w, w.E, data, title, title + ".bin", content_type="application/octet-stream",
                      sha=sha, **kw)
    expect(r.code == C.OK, "CreateDocument %s: %r" % (title, r))
    return r.resp


def put(resp, data):
    st, _, body = dt.put_upload(resp.upload, data)
    expect(st == 200, "PUT: %d %r" % (st, body[:300]))


def data_port_request(w, method, key, query="", body=b"", headers=None):
    """A request to the data port signed with its access key (an S3 client
    of the data port, as `make run` prints how to set up)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    port = w.st.daemons["storage"].data_port
    url = "http://127.0.0.1:%d/kumo/%s%s" % (port, urllib.parse.quote(key), query)
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials(w.st.storage_access_key_id, w.st.storage_secret), "s3",
                "us-east-1").add_auth(req)
    return dt.http_req(url, method, dict(req.headers.items()), body)


def metric(w, name, label):
    _, body = dt.kumo_stack.http_get(w.st.daemons[w.docs_name].admin_port, "/metrics")
    text = body.decode("utf-8", "replace")
    m = re.search(r'^%s\{[^}]*%s[^}]*\} (\d+)' % (re.escape(name), re.escape(label)), text, re.M)
    return int(m.group(1)) if m else None


# ---- (a) --------------------------------------------------------------------------------------

def c_single_put(w):
    data = os.urandom(2000)
    r = create(w, data, "single")
    put(r, data)
    t0 = time.time()
    d = wait_status(w, r.document.id)
    expect(d, "not ACTIVE within %.0fs of the PUT's 200: %r" % (ACTIVE_WITHIN,
                                                                get_doc(w, r.document.id)))
    note("single PUT -> ACTIVE in %.0f ms (polled)" % (1000 * (time.time() - t0)))
    expect(d.size == len(data) and d.sha256 == hashlib.sha256(data).digest() and
           d.current_version == 1, d)
    _, body, _ = dt.download(w, d.id, w.E)
    expect(body == data, "downloaded bytes differ")
    time.sleep(0.3)
    a = audits(w, d.id)
    expect(len(a) == 1 and a[0][0] == w.ed.user.id and "object_created_event" in a[0][2],
           "one complete_upload audit event by the uploader: %r" % a)
    ex = dt.wait_extracted(w, w.E, d.id, timeout=20)
    expect(ex and ex.document.extraction_state == dt.EX_DONE, "extraction ran: %r" % ex)
    w.single = d


def c_complete_after_event(w):
    d = w.single
    c = w.call("CompleteUpload", token=w.E, document_id=d.id)
    expect(c.code == C.OK and c.resp.document.status == ACTIVE, "CompleteUpload: %r" % c)
    a = audits(w, d.id)
    expect(len(a) == 1, "still one complete_upload audit event: %r" % a)


def c_multipart(w):
    data = os.urandom(7 * MIB + 4321)
    r = create(w, data, "multi", presign_parts=True)
    up = r.upload
    expect(up.method == 2 and len(up.parts) == 2, "multipart plan: %r" % up)
    parts = []
    for p in up.parts:
        chunk = data[(p.part_number - 1) * up.part_size: p.part_number * up.part_size]
        st, h, body = dt.put_part(p, chunk)
        expect(st == 200 and h.get("etag"), "part %d: %d %r" % (p.part_number, st, body[:200]))
        parts.append((p.part_number, h["etag"]))
    rows = w.st.sql("SELECT object_key, upload_id FROM document_versions WHERE document_id = '%s'"
                    % r.document.id, "kumo_documents")
    key, upload_id = rows[0]
    xml = "<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % "".join(
        "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % p for p in parts)
    st, _, body = data_port_request(w, "POST", key, "?uploadId=" + urllib.parse.quote(upload_id),
                                    xml.encode(), {"Content-Type": "application/xml"})
    expect(st == 200, "CompleteMultipartUpload on the data port: %d %r" % (st, body[:300]))
    d = wait_status(w, r.document.id)
    expect(d and d.size == len(data), "multipart not ACTIVE: %r" % get_doc(w, r.document.id))
    _, got, _ = dt.download(w, d.id, w.E)
    expect(hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), "bytes differ")
    expect(len(audits(w, d.id)) == 1, "one audit event")
    # CompleteUpload afterwards (with the parts, as a client that does call it): success.
    req = w.msg("CompleteUploadRequest", document_id=d.id)
    for n, e in parts:
        req.parts.add(part_number=n, etag=e)
    c = w.call("CompleteUpload", req, w.E)
    expect(c.code == C.OK and c.resp.document.status == ACTIVE, "CompleteUpload: %r" % c)
    expect(len(audits(w, d.id)) == 1, "still one audit event")


def mismatch(w, declared, actual, with_sha, reason_re):
    r = create(w, declared, "mismatch", sha=with_sha)
    key = dt.object_key(w, r.document.id, 1)
    # The data port enforces the presigned size / checksum: the wrong bytes
    # are written behind the service's back, as a broken client on S3 could.
    st, _, body = data_port_request(w, "PUT", key, body=actual)
    expect(st == 200, "signed PUT %d %r" % (st, body[:300]))
    d = dt.poll(lambda: (lambda x: x if x.upload_failure_reason else None)(
        get_doc(w, r.document.id)), ACTIVE_WITHIN, interval=0.05)
    expect(d, "no upload_failure_reason: %r" % get_doc(w, r.document.id))
    note("refused: %r" % d.upload_failure_reason)
    expect(re.search(reason_re, d.upload_failure_reason), d.upload_failure_reason)
    expect(d.status == PENDING and d.current_version == 0, d)
    expect(dt.object_files(w, key) == [], "object not removed: %r" % dt.object_files(w, key))
    expect(len(audits(w, d.id, "document.upload_failed")) == 1, "upload_failed audited")
    req = w.msg("UpdateDocumentRequest", etag=d.etag)
    req.document.id = d.id
    req.document.title = "fixed"
    req.update_mask.paths.extend(["title"])
    u = w.call("UpdateDocument", req, w.E)
    expect(u.code == C.OK and u.resp.document.title == "fixed", "still editable: %r" % u)
    put(r, declared)  # the right bytes, through the presigned URL
    ok = wait_status(w, d.id)
    expect(ok and not ok.upload_failure_reason, "a correct upload completes and clears the "
           "reason: %r" % get_doc(w, d.id))


def c_size_mismatch(w):
    data = b"0123456789" * 10
    mismatch(w, data, data[:-1], False, "size")


def c_sha_mismatch(w):
    data = b"0123456789" * 10
    mismatch(w, data, data.replace(b"0", b"o"), True, "sha256")


def c_new_version_clears_reason(w):
    """A refused upload of a new version leaves its reason on the document
    until the next upload starts: CreateVersion clears it."""
    data = b"abcdefghij" * 10
    r = create(w, data, "reason-cleared")
    put(r, data)
    d = wait_status(w, r.document.id)
    expect(d and d.status == ACTIVE, "v1 active: %r" % d)
    cv = w.call("CreateVersion", w.msg("CreateVersionRequest", document_id=r.document.id,
                                       file_name="v2.bin", size=len(data),
                                       content_type="application/octet-stream"), w.E)
    expect(cv.code == C.OK, "CreateVersion v2: %r" % cv)
    key = dt.object_key(w, r.document.id, 2)
    st, _, body = data_port_request(w, "PUT", key, body=data[:-1])
    expect(st == 200, "signed PUT %d %r" % (st, body[:300]))
    d = dt.poll(lambda: (lambda x: x if x.upload_failure_reason else None)(
        get_doc(w, r.document.id)), ACTIVE_WITHIN, interval=0.05)
    expect(d and d.status == ACTIVE and d.current_version == 1,
           "v2 refused, v1 still current: %r" % get_doc(w, r.document.id))
    cv = w.call("CreateVersion", w.msg("CreateVersionRequest", document_id=r.document.id,
                                       file_name="v3.bin", size=len(data),
                                       content_type="application/octet-stream"), w.E)
    expect(cv.code == C.OK and not cv.resp.document.upload_failure_reason,
           "CreateVersion clears the last refusal's reason: %r" % cv)
    d = get_doc(w, r.document.id)
    expect(not d.upload_failure_reason, "reason cleared (GetDocument): %r" % d)


def c_unknown_key(w):
    before = metric(w, "kumo_upload_events_total", 'outcome="unknown"') or 0
    tid = w.admin.user.tenant_id
    for key in ("t/%s/d/doc_nosuchdocument00000/v1" % tid, "t/%s/elsewhere/x.txt" % tid):
        st, _, body = data_port_request(w, "PUT", key, body=b"stray")
        expect(st == 200, "PUT %s: %d %r" % (key, st, body[:200]))
    after = dt.poll(lambda: (lambda v: v if v and v >= before + 2 else None)(
        metric(w, "kumo_upload_events_total", 'outcome="unknown"')), 5)
    expect(after and after >= before + 2, "unknown-key events counted: %r -> %r" % (before, after))


# ---- (b) --------------------------------------------------------------------------------------

def c_documents_down(w):
    made = []
    for i in range(20):
        data = os.urandom(500 + i)
        made.append((create(w, data, "down-%d" % i), data))
    code = w.st.daemons[w.docs_name].stop()
    expect(code == 0, "kumo-documents SIGTERM exit %r" % code)
    for r, data in made:
        put(r, data)
    time.sleep(0.5)
    w.st.start("documents", name=w.docs_name, env=DOCS_ENV)
    ids = [r.document.id for r, _ in made]
    t0 = time.time()

    def all_active():
        rows = w.st.sql("SELECT COUNT(*) FROM documents WHERE status = 2 AND id IN (%s)" %
                        ",".join("'%s'" % i for i in ids), "kumo_documents")
        return int(rows[0][0]) == 20
    expect(dt.poll(all_active, 20), "not all 20 ACTIVE after the restart")
    note("20 uploads completed %.1fs after kumo-documents came back" % (time.time() - t0))
    time.sleep(0.5)
    rows = w.st.sql("SELECT document_id, COUNT(*) FROM audit_events WHERE action ="
                    " 'document.complete_upload' AND document_id IN (%s) GROUP BY document_id" %
                    ",".join("'%s'" % i for i in ids), "kumo_documents")
    expect(len(rows) == 20 and all(r[1] == "1" for r in rows), "one audit event each: %r" % rows)


def gauge(w, name, metric_name):
    _, body = dt.kumo_stack.http_get(w.st.daemons[name].admin_port, "/metrics")
    m = re.search(r"^%s (\d+)" % re.escape(metric_name), body.decode("utf-8", "replace"), re.M)
    return int(m.group(1)) if m else None


def c_two_replicas(w):
    w.st.start("documents", name="docs2", env=DOCS_ENV)
    try:
        def one_active():
            a = [gauge(w, n, "kumo_upload_events_consumer_active") for n in ("docs1", "docs2")]
            return a if sorted(x or 0 for x in a) == [0, 1] else None
        got = dt.poll(one_active, 10)
        expect(got, "not exactly one consumer active: %r" % (got,))
        made = []
        for i in range(5):
            data = os.urandom(300 + i)
            r = create(w, data, "two-%d" % i)
            put(r, data)
            made.append(r.document.id)
        for i in made:
            expect(wait_status(w, i), "%s not ACTIVE" % i)
        time.sleep(0.3)
        expect(all(len(audits(w, i)) == 1 for i in made), "one audit event each")
        # The active one stops: the other takes the lease over.
        active = "docs1" if got[0] == 1 else "docs2"
        other = "docs2" if active == "docs1" else "docs1"
        expect(w.st.daemons[active].stop() == 0, "%s stops" % active)
        expect(dt.poll(lambda: gauge(w, other, "kumo_upload_events_consumer_active") == 1, 10),
               "%s did not take the feed over" % other)
        data = os.urandom(700)
        r = create(w, data, "two-after") if other == w.docs_name else None
        if r is None:  # docs1 is down: create through docs2
            w.docs_name = other
            r = create(w, data, "two-after")
        put(r, data)
        expect(wait_status(w, r.document.id), "not ACTIVE after the takeover")
    finally:
        for n in ("docs1", "docs2"):
            if w.st.daemons[n].alive() and n != "docs1":
                w.st.daemons[n].stop()
        if not w.st.daemons["docs1"].alive():
            w.st.start("documents", name="docs1", env=DOCS_ENV)
        w.docs_name = "docs1"


# ---- (c) --------------------------------------------------------------------------------------

def restart_storage(w, extra=None):
    old = w.st.daemons["storage"]
    env = dict(STORAGE_ENV)
    env.update(extra or {})
    env.update({"KUMO_RPC_PORT": str(old.rpc_port), "KUMO_ADMIN_PORT": str(old.admin_port),
                "KUMO_STORAGE_DATA_PORT": str(old.data_port)})
    w.st.start("storage", env=env)


def c_storage_killed(w):
    data = os.urandom(3000)
    r = create(w, data, "killed")
    put(r, data)
    code = w.st.daemons["storage"].kill()
    expect(code == -signal.SIGKILL, "kill -9: %r" % code)
    restart_storage(w)
    d = wait_status(w, r.document.id, timeout=15)
    expect(d, "not ACTIVE after the storage restart: %r" % get_doc(w, r.document.id))
    expect(len(audits(w, d.id)) == 1, "one audit event")


def c_storage_killed_documents_down(w):
    data = os.urandom(3000)
    r = create(w, data, "killed2")
    expect(w.st.daemons[w.docs_name].stop() == 0, "kumo-documents stops")
    put(r, data)
    expect(w.st.daemons["storage"].kill() == -signal.SIGKILL, "kill -9")
    restart_storage(w)
    w.st.start("documents", name=w.docs_name, env=DOCS_ENV)
    d = wait_status(w, r.document.id, timeout=15)
    expect(d, "not ACTIVE: only the journal could carry this event: %r" %
           get_doc(w, r.document.id))
    expect(len(audits(w, d.id)) == 1, "one audit event")


# ---- (e) --------------------------------------------------------------------------------------

def restore_state_sql(w, doc_id):
    rows = w.st.sql("SELECT restore_state, restore_expire_time IS NOT NULL FROM documents WHERE"
                    " id = '%s'" % doc_id, "kumo_documents")
    return (int(rows[0][0]), rows[0][1] == "1") if rows else None


def archived_doc(w, title, fake=None):
    data = os.urandom(1200)
    r = create(w, data, title)
    put(r, data)
    if fake:  # events come from SQS: S3 would send this one
        fake.send(fake_sqs.s3_event("kumo", dt.object_key(w, r.document.id, 1), size=len(data)))
    expect(wait_status(w, r.document.id), "not ACTIVE")
    a = w.call("ArchiveDocument", token=w.E, id=r.document.id)
    expect(a.code == C.OK and a.resp.document.status == dt.ARCHIVED, "archive: %r" % a)
    return r.document.id, data


def c_restore_event(w):
    doc_id, data = archived_doc(w, "restore")
    r = w.call("RestoreDocument", token=w.E, id=doc_id, days=1, tier=1)
    expect(r.code == C.OK and r.resp.document.restore.state == 2, "restore: %r" % r)
    t0 = time.time()
    # No GetDocument meanwhile (it would refresh the state itself): the row
    # changes by the event alone.
    got = dt.poll(lambda: restore_state_sql(w, doc_id) == (3, True), 10, interval=0.05)
    expect(got, "restore state never RESTORED in the row: %r" % (restore_state_sql(w, doc_id),))
    note("restore (1 s emulated delay) reached the document row after %.2fs" %
         (time.time() - t0))
    _, body, _ = dt.download(w, doc_id, w.E)
    expect(body == data, "restored bytes differ")


def c_restore_while_storage_down(w):
    doc_id, _ = archived_doc(w, "restore-down")
    r = w.call("RestoreDocument", token=w.E, id=doc_id, days=1, tier=2)  # STANDARD: 2 s
    expect(r.code == C.OK, "restore: %r" % r)
    expect(w.st.daemons["storage"].kill() == -signal.SIGKILL, "kill -9")
    time.sleep(2.5)
    restart_storage(w)
    got = dt.poll(lambda: restore_state_sql(w, doc_id) == (3, True), 10, interval=0.05)
    expect(got, "not RESTORED after the restart: %r" % (restore_state_sql(w, doc_id),))


def c_sqs_restore(w):
    fake = w.fake
    doc_id, _ = archived_doc(w, "restore-sqs", fake)
    r = w.call("RestoreDocument", token=w.E, id=doc_id, days=1, tier=3)  # BULK: long
    expect(r.code == C.OK and r.resp.document.restore.state == 2, "restore: %r" % r)
    key = w.st.sql("SELECT v.object_key FROM document_versions v JOIN documents d ON"
                   " d.id = v.document_id AND d.current_version = v.version WHERE d.id = '%s'" %
                   doc_id, "kumo_documents")[0][0]
    mid = fake.send(fake_sqs.s3_event("kumo", key, "ObjectRestore:Completed", size=1200))
    got = dt.poll(lambda: restore_state_sql(w, doc_id) == (3, True), 10, interval=0.05)
    expect(got, "ObjectRestore:Completed did not reach the row: %r" %
           (restore_state_sql(w, doc_id),))
    expect(dt.poll(lambda: mid in fake.deleted, 5), "message not deleted")


def c_storage_replaced(w):
    """A new storage root (a new journal, seqs from 1 again): the cursor,
    which counted in the old journal, starts over in the new one."""
    before = w.st.sql("SELECT seq, journal_id FROM event_cursors WHERE feed = 'storage'",
                      "kumo_documents")[0]
    expect(int(before[0]) > 0 and before[1].startswith("jrn_"), "cursor row: %r" % before)
    expect(w.st.daemons["storage"].kill() == -signal.SIGKILL, "kill -9")
    shutil.move(w.st.storage_root, w.st.storage_root + ".old")
    restart_storage(w)
    data = os.urandom(900)
    r = create(w, data, "new-root")
    put(r, data)
    d = wait_status(w, r.document.id, timeout=15)
    expect(d, "not ACTIVE on the new journal: %r" % get_doc(w, r.document.id))
    after = w.st.sql("SELECT seq, journal_id FROM event_cursors WHERE feed = 'storage'",
                     "kumo_documents")[0]
    expect(after[1].startswith("jrn_") and after[1] != before[1] and int(after[0]) >= 1,
           "cursor %r -> %r" % (before, after))
    note("cursor %s@%s -> %s@%s" % (before[0], before[1], after[0], after[1]))


# ---- (d) --------------------------------------------------------------------------------------

SQS_KEY = ("AKIDFAKESQS0000TEST", "fake-sqs-secret-access-key-0123456789")


def sqs_env(fake):
    return {"KUMO_STORAGE_EVENTS_SOURCE": "sqs", "KUMO_STORAGE_SQS_QUEUE_URL": fake.queue_url,
            "KUMO_STORAGE_SQS_WAIT": "1s", "AWS_ACCESS_KEY_ID": SQS_KEY[0],
            "AWS_SECRET_ACCESS_KEY": SQS_KEY[1]}


def c_sqs_redelivery(w):
    fake = fake_sqs.FakeSQS(SQS_KEY[0], SQS_KEY[1], visibility=2).start()
    w.fake = fake
    w.st.daemons["storage"].stop()
    restart_storage(w, sqs_env(fake))
    data = os.urandom(1500)
    r = create(w, data, "sqs")
    put(r, data)
    time.sleep(1.0)
    expect(get_doc(w, r.document.id).status == PENDING,
           "the data port journaled its own event although the events come from SQS")
    key = dt.object_key(w, r.document.id, 1)
    fake.hold_deletes = True
    mid = fake.send(fake_sqs.s3_event("kumo", key, size=len(data),
                                      etag=hashlib.md5(data).hexdigest()))
    got = dt.poll(lambda: fake.receives[mid] >= 1 and
                  "AmazonSQS.DeleteMessage" in fake.requests, 10, interval=0.01)
    expect(got, "no ReceiveMessage + DeleteMessage: %r" % fake.requests[-5:])
    expect(w.st.daemons["storage"].kill() == -signal.SIGKILL, "kill -9")
    fake.release_deletes()
    expect(mid not in fake.deleted, "deleted although the delete was dropped")
    restart_storage(w, sqs_env(fake))
    expect(dt.poll(lambda: mid in fake.deleted, 15), "never deleted after the redelivery")
    expect(fake.receives[mid] >= 2, "delivered %d times" % fake.receives[mid])
    note("message delivered %d times, signature failures %d" % (fake.receives[mid],
                                                               fake.signature_failures))
    d = wait_status(w, r.document.id, timeout=10)
    expect(d, "not ACTIVE: %r" % get_doc(w, r.document.id))
    time.sleep(0.5)
    expect(len(audits(w, d.id)) == 1, "completed once: %r" % audits(w, d.id))
    expect(fake.signature_failures == 0, "SigV4 refused %d times" % fake.signature_failures)
    # S3's test event and a message that is no event are deleted, nothing journaled.
    t = fake.send(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent",
                              "Time": "2026-12-07T05:00:00.000Z", "Bucket": "kumo"}))
    b = fake.send("not json")
    expect(dt.poll(lambda: t in fake.deleted and b in fake.deleted, 10), "test events deleted")


# ---- main ---------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        print("usage: events_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="kumo-events-it.", dir=base)

    def on_term(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    w = dt.World(build, work)
    t0 = time.time()
    try:
        try:
            setup(w)
        except Exception:  # noqa: BLE001
            report(False, "the stack starts", traceback.format_exc())
            return 1
        report(True, "the stack starts (%.1fs)" % (time.time() - t0))
        cases = [
            ("(a) single PUT, no CompleteUpload -> ACTIVE (<= 5 s), bytes, one audit event by "
             "the uploader, extraction ran", c_single_put),
            ("(f) CompleteUpload after the event: OK, ACTIVE, no second audit event",
             c_complete_after_event),
            ("(a) multipart: parts + completion on the data port, no CompleteUpload -> ACTIVE; "
             "CompleteUpload afterwards OK, one audit event", c_multipart),
            ("(a) size mismatch -> refused, reason on the document, object removed, still "
             "editable; the right bytes then complete", c_size_mismatch),
            ("(a) SHA-256 mismatch -> refused likewise", c_sha_mismatch),
            ("(a) a new version's upload clears the last refusal's reason",
             c_new_version_clears_reason),
            ("events for keys no version has are dropped and counted", c_unknown_key),
            ("(b) kumo-documents stopped, 20 uploads land, started: all 20 ACTIVE, one audit "
             "event each", c_documents_down),
            ("two kumo-documents: one holds the feed's lease, uploads complete once; when it "
             "stops the other takes over", c_two_replicas),
            ("(c) kill -9 of kumo-storage right after the PUT's 200: ACTIVE after its restart",
             c_storage_killed),
            ("(c) the same with kumo-documents down meanwhile (only the journal carries the "
             "event)", c_storage_killed_documents_down),
            ("(e) restore completed (local emulation): the document row is RESTORED without "
             "any GetDocument; the bytes download", c_restore_event),
            ("(e) a restore completing while kumo-storage is down (kill -9) reaches the "
             "document after its restart", c_restore_while_storage_down),
            ("a replaced storage root (new journal identity): the cursor starts over, "
             "uploads complete", c_storage_replaced),
            ("(d) SQS (fake, real JSON protocol, SigV4): storage killed after ReceiveMessage, "
             "before DeleteMessage -> redelivered after the visibility timeout, completes once",
             c_sqs_redelivery),
            ("(e) SQS: s3:ObjectRestore:Completed reaches the document row", c_sqs_restore),
        ]
        for name, fn in cases:
            case(name, fn, w)
        codes = {}
        for name in list(w.st.order):
            d = w.st.daemons[name]
            if d.alive():
                codes[name] = d.stop()
        report(all(c == 0 for c in codes.values()), "SIGTERM: every daemon exits 0", codes)
        san = dt.c_logs_sanitizer_only(w)
        report(not san, "no sanitizer reports in the daemon logs", "\n".join(san[:10]))
        print("# suite time %.1fs" % (time.time() - t0), flush=True)
    except KeyboardInterrupt as e:
        report(False, "suite interrupted", str(e))
    finally:
        if getattr(w, "__dict__", {}).get("fake"):
            w.__dict__["fake"].stop()
        try:
            w.st.down()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        if os.environ.get("EVENTS_TEST_KEEP") == "1":
            print("# work directory kept: " + work, flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
