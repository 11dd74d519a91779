#!/usr/bin/python3
"""Integration cases of extraction and thumbnails (issue 19, items 2 and 3)
against a real MariaDB, kumo-users, kumo-storage, kumo-documents (running
the sandboxed kumo-extract) and kumo-bff, brought up by
scripts/kumo_stack.py. The fixtures are generated here (fixtures.py).

Cases: a PDF with a Japanese text layer, a DOCX, an XLSX, a PPTX, a scanned
PNG of English text and a scanned PDF (no text layer: OCR) are each found
by ListDocuments' query with a word only inside them (the Japanese words
checked in the stored text: CJK substring search is issue 19 item 1);
GetDocument, ListDocuments and the BFF's REST answers carry a
thumbnail_url that downloads a PNG of at most 256 px for the PDF and the
PNG, none for Office files; hostile files (content expanding to tens of
GiB, a looping page tree, 10000-deep nesting, a zip bomb, a truncated
DOCX, a 20000x20000 PNG) each fail within their bounds with a clear
reason and end as dead letters with extraction FAILED, while the daemon
stays up and a document uploaded after them is extracted; the extractor
is killed by its seccomp filter when it opens a socket and cannot read the
daemon's key file (Landlock); purging a
document removes its thumbnail object and row; SIGTERM exits 0, no
sanitizer reports.

Usage: extract_test.py BUILD_DIR
Prints TAP lines "ok - extract: CASE" / "not ok - extract: CASE"; exits 1
if any case failed. EXTRACT_TEST_KEEP=1 keeps the work directory.
"""
import io
import json
import os
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
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "documents"))
import documents_test as dt  # noqa: E402  (World, uploads, HTTP helpers)
import fixtures as fx  # noqa: E402

C = dt.C
expect, Fail, poll = dt.expect, dt.Fail, dt.poll
EX_DONE, EX_FAILED = 2, 3
EXTRACT_TIMEOUT_S = 8
DOCS_ENV = {
    "KUMO_JOBS_WORKERS": "3", "KUMO_JOBS_POLL_INTERVAL": "100ms",
    "KUMO_JOBS_BACKOFF_BASE": "100ms", "KUMO_JOBS_BACKOFF_MAX": "500ms",
    "KUMO_JOBS_MAX_ATTEMPTS": "2", "KUMO_JOBS_SWEEP_INTERVAL": "1s",
    "KUMO_EXTRACT_TIMEOUT": "%ds" % EXTRACT_TIMEOUT_S, "KUMO_EXTRACT_MEMORY": "768MiB",
    # Shorter than an extractor run: the job keeps its lease while the child runs
    # (renewed every third), so each hostile file is attempted exactly twice.
    "KUMO_JOBS_LEASE": "3s",
}
BFF_ENV = {"KUMO_RATE_LIMIT_PER_ADDRESS": "off", "KUMO_RATE_LIMIT_PER_PRINCIPAL": "off",
           "KUMO_LOGIN_RATE_LIMIT": "off", "KUMO_COOKIE_SECURE": "false"}

passed = 0
failed = 0


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - extract: " + name, flush=True)
    else:
        failed += 1
        print("not ok - extract: " + name, flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:30]:
                print("#   " + line, flush=True)
    return ok


def case(name, fn, *a):
    try:
        fn(*a)
    except Fail as e:
        return report(False, name, e)
    except Exception:  # noqa: BLE001
        return report(False, name, traceback.format_exc())
    return report(True, name)


def setup(w):
    st = w.st
    st.start_mariadb()
    st.secrets()
    st.migrate("users")
    st.migrate("documents")
    st.bootstrap()
    st.start("users")
    st.start("storage")
    st.start("documents", env=DOCS_ENV)
    w.docs_name = "documents"
    w.bff = st.start("bff", env=BFF_ENV)
    w.M = st.messages()
    w.admin = dt.login(w, "demo", st.demo_email, st.demo_password)
    w.A = w.admin.access_token
    w.tid = w.admin.user.tenant_id


def sql(w, q):
    return w.st.sql(q, "kumo_documents")


def doc_state(w, doc_id):
    rows = sql(w, "SELECT extraction_state FROM documents WHERE id = '%s'" % doc_id)
    return int(rows[0][0]) if rows else None


def upload(w, data, title, file_name, content_type):
    return dt.upload_doc(w, w.A, data, title, file_name, content_type=content_type).id


GOOD = [
    # key, title, file name, content type, make, word only inside it
    ("jp_pdf", "Rules (PDF)", "rules.pdf", "application/pdf",
     lambda: fx.pdf_text(["就業規則 第二版", "本規則は従業員の労働条件を定める。 zephyrlantern"]),
     "zephyrlantern"),
    ("docx", "Memo (Word)", "memo.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     lambda: fx.docx(["The quokkabridge memo", "second paragraph"],
                     footnote="a footnote on saffronkite"), "quokkabridge"),
    ("xlsx", "Budget (Excel)", "budget.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     lambda: fx.xlsx(["marzipanfalcon totals"], ["inline walrusgate"]), "marzipanfalcon"),
    ("pptx", "Deck (PowerPoint)", "deck.pptx",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation",
     lambda: fx.pptx(["tangerinecomet roadmap", "thanks"]), "tangerinecomet"),
    ("png", "Scan (PNG)", "scan.png", "image/png",
     lambda: fx.png_text(["The obsidianharbor ledger", "was reconciled today"]),
     "obsidianharbor"),
    ("scan_pdf", "Scan (PDF)", "scan.pdf", "application/pdf",
     lambda: fx.pdf_scan(["The copperwillow invoice", "was paid in full"]), "copperwillow"),
]
HOSTILE = [
    # key, file name, content type, make, reason expected in the error
    ("expand", "expand.pdf", "application/pdf", fx.pdf_expanding,
     "timed out after %ds" % EXTRACT_TIMEOUT_S),
    ("loop", "loop.pdf", "application/pdf", fx.pdf_loop, "no readable pages"),
    ("nested", "nested.pdf", "application/pdf", fx.pdf_nested, "PDF"),
    ("bomb", "bomb.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     fx.docx_bomb, "zip bomb"),
    ("truncated", "truncated.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     fx.docx_truncated, "not a readable zip"),
    ("huge_png", "huge.png", "image/png", fx.png_huge, "image too large: 20000x20000"),
]


def c_upload_all(w):
    """Hostile and good files uploaded together: the workers take them in
    any order, side by side."""
    w.ids, w.t_upload = {}, {}
    order = []
    for h in HOSTILE:
        order.append(("h", h))
    for g in GOOD:
        order.append(("g", g))
    for kind, item in order:
        if kind == "h":
            key, fname, ctype, make, _ = item
            title = "Hostile " + key
        else:
            key, title, fname, ctype, make, _ = item
        data = make()
        w.ids[key] = upload(w, data, title, fname, ctype)
        w.t_upload[key] = time.time()


def c_good_extracted(w):
    def all_done():
        return all(doc_state(w, w.ids[g[0]]) == EX_DONE for g in GOOD)
    ok = poll(all_done, 90, 0.3)
    states = {g[0]: doc_state(w, w.ids[g[0]]) for g in GOOD}
    expect(ok, "extraction states (2 = DONE): %r" % states)


def c_found_by_word(w):
    for key, _, _, _, _, word in GOOD + [("docx", "", "", "", None, "saffronkite")]:
        ids = dt.list_ids(w, w.A, query=word)
        expect(ids == [w.ids[key]], "q=%s: %r, want [%s]" % (word, ids, w.ids[key]))


def c_japanese_text(w):
    rows = sql(w, "SELECT extracted_text, detected_content_type FROM documents WHERE id = '%s'"
               % w.ids["jp_pdf"])
    text, mime = rows[0][0], rows[0][1]
    expect(mime == "application/pdf", "detected %r" % mime)
    for word in ("就業規則", "従業員", "労働条件を定める"):
        expect(word in text, "%s not in the extracted text %r" % (word, text[:300]))
        # ... and found by search (CJK substrings of the extracted text).
        ids = dt.list_ids(w, w.A, query=word)
        expect(ids == [w.ids["jp_pdf"]], "q=%s: %r, want [%s]" % (word, ids, w.ids["jp_pdf"]))


def thumb_png(url):
    dt.note_url(url)
    st, hdrs, body = dt.http_req(url)
    expect(st == 200, "thumbnail GET: HTTP %d %r" % (st, body[:200]))
    expect(body[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG: %r" % body[:16])
    from PIL import Image
    im = Image.open(io.BytesIO(body))
    im.load()
    return im, hdrs, body


def c_thumbnails_get(w):
    for key in ("jp_pdf", "png", "scan_pdf"):
        r = w.ok("GetDocument", token=w.A, id=w.ids[key])
        url = r.document.thumbnail_url
        expect(url, "%s: no thumbnail_url in GetDocument" % key)
        expect(r.document.thumbnail_expire_time.seconds > time.time(), "expire time")
        im, hdrs, body = thumb_png(url)
        expect(max(im.size) <= 256 and min(im.size) >= 1, "%s: size %r" % (key, im.size))
        expect(len(body) < 256 * 1024, "%s: %d bytes" % (key, len(body)))
        expect(hdrs.get("content-type", "").startswith("image/png"), "type %r" % hdrs)
    for key in ("docx", "xlsx"):
        r = w.ok("GetDocument", token=w.A, id=w.ids[key])
        expect(r.document.thumbnail_url == "", "%s has a thumbnail: %r" % (key, r.document))


def c_thumbnails_list(w):
    r = w.ok("ListDocuments", token=w.A, page_size=100)
    by_id = {d.id: d for d in r.documents}
    for key in ("jp_pdf", "png"):
        d = by_id[w.ids[key]]
        expect(d.thumbnail_url, "%s: no thumbnail_url in the list" % key)
        thumb_png(d.thumbnail_url)
    expect(by_id[w.ids["pptx"]].thumbnail_url == "", "pptx has a thumbnail")
    rows = sql(w, "SELECT COUNT(*) FROM document_thumbnails WHERE tenant_id = '%s'" % w.tid)
    expect(int(rows[0][0]) == 3, "thumbnail rows: %r (want 3: two PDFs, one PNG)" % rows)


def bff_get(w, path):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", w.bff.http_port, timeout=30)
    c.request("GET", path, headers={"Authorization": "Bearer " + w.A})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def c_bff(w):
    st, body = bff_get(w, "/api/v1/documents/" + w.ids["png"])
    expect(st == 200, "GET document: %d %r" % (st, body[:300]))
    j = json.loads(body)
    doc = j.get("document", j)
    expect(doc.get("thumbnail_url"), "no thumbnail_url in %r" % sorted(doc))
    thumb_png(doc["thumbnail_url"])
    st, body = bff_get(w, "/api/v1/documents?q=zephyrlantern")
    expect(st == 200, "list: %d %r" % (st, body[:300]))
    docs = json.loads(body)["documents"]
    expect(len(docs) == 1 and docs[0].get("thumbnail_url"), "list: %r" % body[:500])


def dead_letter_error(w, doc_id):
    rows = sql(w, "SELECT last_error FROM dead_letters WHERE document_id = '%s'" % doc_id)
    return rows[0][0] if rows else None


def c_hostile(w):
    def all_dead():
        return all(dead_letter_error(w, w.ids[h[0]]) for h in HOSTILE)
    ok = poll(all_dead, 100, 0.5)
    got = {h[0]: dead_letter_error(w, w.ids[h[0]]) for h in HOSTILE}
    expect(ok, "dead letters: %r" % got)
    for key, _, _, _, reason in HOSTILE:
        err = got[key]
        expect(reason in err, "%s: %r lacks %r" % (key, err, reason))
        expect(doc_state(w, w.ids[key]) == EX_FAILED, "%s: extraction state %r"
               % (key, doc_state(w, w.ids[key])))
        runs = sql(w, "SELECT COUNT(*) FROM job_runs WHERE document_id = '%s'" % w.ids[key])
        expect(int(runs[0][0]) == 2, "%s: %r runs (want 2 attempts)" % (key, runs))
        dt.note("%s: %s" % (key, err))


def c_hostile_bounded(w):
    """Every attempt ends within the extractor's bounds (wall clock plus the
    download and bookkeeping), never later."""
    rows = sql(w, "SELECT d.title, TIMESTAMPDIFF(MICROSECOND, r.start_time, r.end_time)"
               " FROM job_runs r JOIN documents d ON d.id = r.document_id"
               " WHERE d.title LIKE 'Hostile %'")
    expect(rows, "no job runs")
    worst = max(int(r[1]) for r in rows) / 1e6
    dt.note("longest hostile attempt %.1fs (KUMO_EXTRACT_TIMEOUT %ds)" % (worst,
                                                                           EXTRACT_TIMEOUT_S))
    expect(worst < EXTRACT_TIMEOUT_S + 4, "an attempt took %.1fs: %r" % (worst, rows))


def c_still_serving(w):
    expect(w.st.daemons["documents"].alive(), "kumo-documents died")
    doc = upload(w, fx.docx(["afterwards the plumcanyon note"]), "After", "after.docx",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    expect(poll(lambda: doc_state(w, doc) == EX_DONE, 30, 0.2), "state %r" % doc_state(w, doc))
    expect(dt.list_ids(w, w.A, query="plumcanyon") == [doc], "not found")
    w.ids["after"] = doc


def c_seccomp(w):
    exe = os.path.join(w.st.build, "bin", "kumo-extract")
    data = fx.pdf_text(["hello"])
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        p = subprocess.run([exe, "--kind", "pdf", "--selftest-socket"], stdin=f,
                           capture_output=True, timeout=30)
    expect(p.returncode == -signal.SIGSYS, "rc %r stderr %r" % (p.returncode, p.stderr[-300:]))
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        p = subprocess.run([exe, "--kind", "pdf"], stdin=f, capture_output=True, timeout=30)
    expect(p.returncode == 0 and b"hello" in p.stdout, "plain run: %r" % p.returncode)
    # Landlock: the daemon's secrets are out of reach, the fonts are not.
    for path, want in ((w.st.apikey_file("documents"), 4), (fx.EN_FONT, 3)):
        with tempfile.TemporaryFile() as f:
            f.write(data)
            f.seek(0)
            p = subprocess.run([exe, "--kind", "pdf", "--selftest-read", path], stdin=f,
                               capture_output=True, timeout=30)
        expect(p.returncode == want, "read %s: rc %r (want %d) %r"
               % (path, p.returncode, want, p.stderr[-200:]))


def c_memory_limit(w):
    """--memory (KUMO_EXTRACT_MEMORY) is an address-space limit: OCR with the
    Japanese model does not fit in 64 MiB and the run ends without an
    answer (the job would fail with the reason), where 1 GiB succeeds.
    AddressSanitizer builds reserve terabytes of address space, so the
    extractor skips RLIMIT_AS there: checked on plain builds only."""
    exe = os.path.join(w.st.build, "bin", "kumo-extract")
    ldd = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    if "libasan" in ldd:
        dt.note("skipped under AddressSanitizer (no RLIMIT_AS there)")
        return
    data = fx.png_text(["The memory bound"])

    def run(mem):
        with tempfile.TemporaryFile() as f:
            f.write(data)
            f.seek(0)
            return subprocess.run([exe, "--kind", "image", "--memory", str(mem)], stdin=f,
                                  capture_output=True, timeout=60)
    small, big = run(64 << 20), run(1 << 30)
    expect(small.returncode != 0 and not small.stdout.endswith(b"Z\0\0\0\0"),
           "64 MiB: rc %r, %d bytes out" % (small.returncode, len(small.stdout)))
    expect(big.returncode == 0 and b"memory" in big.stdout.lower(), "1 GiB: rc %r %r"
           % (big.returncode, big.stdout[:200]))
    dt.note("64 MiB run ended with %r" % small.returncode)


def c_purge(w):
    doc = w.ids["png"]
    key = dt.object_key(w, doc, 1) + ".thumb.png"
    expect(dt.stat_code(w, key, w.A) == C.OK, "thumbnail object missing before the purge")
    r = w.call("DeleteDocument", token=w.A, id=doc, purge=True)
    expect(r.code == C.OK, "purge: %r" % r)
    expect(poll(lambda: dt.stat_code(w, key, w.A) == C.NOT_FOUND, 30, 0.3),
           "thumbnail object still there")
    rows = sql(w, "SELECT COUNT(*) FROM document_thumbnails WHERE document_id = '%s'" % doc)
    expect(poll(lambda: int(sql(w, "SELECT COUNT(*) FROM document_thumbnails WHERE"
                                " document_id = '%s'" % doc)[0][0]) == 0, 10, 0.3),
           "thumbnail row still there: %r" % rows)


def main():
    if len(sys.argv) != 2:
        print("usage: extract_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="kumo-extract-it.", dir=base)

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
        report(True, "the stack starts: MariaDB, users, storage, documents, bff (%.1fs)"
               % (time.time() - t0))
        cases = [
            ("upload: 6 hostile and 6 good files side by side", c_upload_all),
            ("good files extracted (PDF text, DOCX, XLSX, PPTX, OCR of a PNG and of a "
             "scanned PDF)", c_good_extracted),
            ("each found by ListDocuments query with a word only inside it (and the DOCX by "
             "one in its footnotes)", c_found_by_word),
            ("the Japanese PDF's text layer is extracted and found by search (就業規則, 従業員, "
             "労働条件を定める)",
             c_japanese_text),
            ("GetDocument: thumbnail_url downloads a PNG of at most 256 px for PDFs and the PNG; "
             "none for Office files", c_thumbnails_get),
            ("ListDocuments answers carry thumbnail_url", c_thumbnails_list),
            ("BFF REST: GET /api/v1/documents/{id} and the list carry thumbnail_url", c_bff),
            ("hostile files (expanding PDF, looping page tree, deep nesting, zip bomb, "
             "truncated DOCX, 20000x20000 PNG): each a dead letter with its reason, "
             "extraction FAILED", c_hostile),
            ("hostile files: every attempt ended within the bounds", c_hostile_bounded),
            ("the daemon keeps serving and extracting after them", c_still_serving),
            ("sandbox: seccomp kills the extractor when it opens a socket; Landlock keeps the "
             "daemon's key file out of its reach (fonts readable)", c_seccomp),
            ("the address-space limit stops a run that needs more", c_memory_limit),
            ("purge removes the thumbnail object and its row", c_purge),
        ]
        for name, fn in cases:
            case(name, fn, w)
        codes = {}
        for name in list(w.st.order):
            d = w.st.daemons[name]
            if d.alive():
                codes[name] = d.stop()
        report(all(c == 0 for c in codes.values()), "SIGTERM: every daemon exits 0", codes)
        sanitizer = dt.c_logs_sanitizer_only(w)
        report(not sanitizer, "no sanitizer reports in the daemon logs", "\n".join(sanitizer[:10]))
        print("# suite time %.1fs" % (time.time() - t0), flush=True)
    except KeyboardInterrupt as e:
        report(False, "suite interrupted", str(e))
    finally:
        try:
            w.st.down()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        if os.environ.get("EXTRACT_TEST_KEEP") == "1":
            print("# work directory kept: " + work, flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
