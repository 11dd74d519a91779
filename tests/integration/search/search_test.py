#!/usr/bin/python3
"""Integration cases of search in every language (issue 19, items 1 and 4)
against a real MariaDB, kumo-users, kumo-storage, kumo-documents and
kumo-bff (scripts/kumo_stack.py); the client helpers are the documents
suite's (tests/integration/documents/documents_test.py).

Cases: the Japanese document 「就業規則 第二版」 (text/plain, extracted by the
extraction job) is found by 規則, 従業員, 労働条件, 服務規律を定める, "working"
and "規則 working"; a second tenant's identical document is never returned
(and its own query finds only its own); substrings across punctuation or not
in a row are not found (phrase precision); metadata values, descriptions,
tags (Korean, Chinese, half-width katakana) are found; snippets carry the
match as code point ranges (RPC and the BFF's REST list); English search
unchanged; a title edit re-indexes; rows written before migration 6 are
re-indexed by `migrate`.

Usage: search_test.py BUILD_DIR
Prints TAP lines "ok - search: CASE" / "not ok - search: CASE"; exits 1 if
any case failed. SEARCH_TEST_KEEP=1 keeps the work directory.
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "documents"))
import documents_test as dt  # noqa: E402

from documents_test import C, Fail, expect, poll  # noqa: E402

passed = 0
failed = 0

JA_TITLE = "就業規則 第二版"
JA_TEXT = ("本規則は従業員の労働条件および服務規律を定めるものである。"
           " The rules define working conditions.\n")


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - search: " + name, flush=True)
    else:
        failed += 1
        print("not ok - search: " + name, flush=True)
        for line in str(diag or "").splitlines()[:30]:
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


def search(w, token, q, **kw):
    r = w.call("ListDocuments", token=token, page_size=100, query=q, **kw)
    expect(r.code == C.OK, "ListDocuments %r: %r" % (q, r))
    return r.resp


def ids(w, token, q, **kw):
    return [d.id for d in search(w, token, q, **kw).documents]


def marked(sn):
    """The highlighted pieces of a snippet (code point ranges)."""
    return [sn.text[h.start:h.end] for h in sn.highlights]


def setup(w):
    st = w.st
    st.start_mariadb()
    st.secrets()
    st.migrate("users")
    st.migrate("documents")
    st.bootstrap()
    st.start("users")
    st.start("storage")
    st.start("documents", env={"KUMO_JOBS_POLL_INTERVAL": "100ms",
                               "KUMO_JOBS_SWEEP_INTERVAL": "1s"})
    st.start("bff")
    w.docs_name = "documents"
    w.M = st.messages()
    admin = dt.login(w, "demo", st.demo_email, st.demo_password)
    w.A = admin.access_token
    pw = "search-test-password-1"
    r = w.call("CreateTenant", service=dt.USERS, token=dt.login(
        w, "system", st.system_email, st.system_password).access_token, slug="globex",
        name="Globex", admin_email="bob@globex.example", admin_display_name="Bob",
        admin_password=pw)
    expect(r.code == C.OK, "CreateTenant globex: %r" % r)
    w.B = dt.login(w, "globex", "bob@globex.example", pw).access_token


def upload(w, token, data, title, **kw):
    d = dt.upload_doc(w, token, data.encode(), title, "doc.txt", **kw)
    got = dt.wait_extracted(w, token, d.id, 40)
    expect(got and got.document.extraction_state == dt.EX_DONE,
           "extraction of %s: %r" % (title, got and got.document))
    return d


def c_seed(w):
    w.ja = upload(w, w.A, JA_TEXT, JA_TITLE)
    w.ja_b = upload(w, w.B, JA_TEXT, JA_TITLE)  # the same document in another tenant
    w.en = upload(w, w.A, "Quarterly budget review of the steering committee.\n",
                  "Budget review")
    w.tokyo = upload(w, w.A, "東京。京都の支店一覧", "支店")
    w.meta = upload(w, w.A, "body", "Staff list", description="한국어 문서입니다",
                    tags=["契約書"], metadata={"部署": "人事部門", "note": ["中文资料库"]})
    w.kana = upload(w, w.A, "本文", "ﾃﾞｰﾀ管理ｶﾞｲﾄﾞ")
    w.long = upload(w, w.A, "lorem ipsum dolor " * 200 + "the xylophone player " +
                    "sit amet " * 300, "Long text")


def c_japanese_substrings(w):
    for q in ("規則", "従業員", "労働条件", "服務規律を定める", "working", "規則 working",
              "就業規則", "第二版", "条件および服務"):
        got = ids(w, w.A, q)
        expect(got == [w.ja.id], "%s -> %r (want [%s])" % (q, got, w.ja.id))


def c_tenants(w):
    for q in ("規則", "服務規律を定める", "規則 working"):
        a, b = ids(w, w.A, q), ids(w, w.B, q)
        expect(w.ja_b.id not in a and a == [w.ja.id], "demo %s: %r" % (q, a))
        expect(b == [w.ja_b.id], "globex %s: %r" % (q, b))
    rows = w.st.sql("SELECT COUNT(*) FROM documents WHERE search_content LIKE '%c0898f05247%'",
                    "kumo_documents")
    expect(rows == [["2"]], "both tenants' rows hold the tokens: %r" % rows)


def c_precision(w):
    # Bigrams all present but not in a row, or across punctuation: not found.
    for q in ("規律を定める従業員", "東京都", "規則 nonexistentword", "則第"):
        got = ids(w, w.A, q)
        expect(got == [], "%s -> %r (want none)" % (q, got))
    expect(ids(w, w.A, "京都の支店") == [w.tokyo.id], "京都の支店")
    expect(ids(w, w.A, "東京") == [w.tokyo.id], "東京")


def c_pages(w):
    # Pages of 1 (the bounded walk with its substring test fills them) list
    # exactly what one page of 100 (the full-text plan) lists.
    for title in ("規則集 第1巻", "東京の規則", "データ規則 working", "京都。東京 規", "人事規則"):
        r = dt.create_doc(w, w.A, b"x", title, "x.txt")
        expect(r.code == C.OK, "CreateDocument %s: %r" % (title, r))
    expect(len(ids(w, w.A, "規則")) == 5, "規則 in 5 documents: %r" % ids(w, w.A, "規則"))
    for q in ("規則", "東京", "東京都", "規則 working", "データ", "則第", "人事", "conditions",
              "規律を定める従業員"):
        whole = ids(w, w.A, q)
        paged, token = [], ""
        for _ in range(20):
            r = w.call("ListDocuments", token=w.A, page_size=1, query=q, page_token=token)
            expect(r.code == C.OK, "%s page: %r" % (q, r))
            paged += [d.id for d in r.resp.documents]
            token = r.resp.next_page_token
            if not token:
                break
        expect(paged == whole, "%s: pages of 1 %r, one page %r" % (q, paged, whole))


def c_fields(w):
    for q, want in (("人事", w.meta), ("部門", w.meta), ("资料", w.meta), ("국어", w.meta),
                    ("문서입니다", w.meta), ("約書", w.meta), ("データ", w.kana),
                    ("ガイド", w.kana), ("ﾃﾞｰﾀ", w.kana), ("ｶﾞｲﾄﾞ", w.kana)):
        got = ids(w, w.A, q)
        expect(got == [want.id], "%s -> %r (want %s)" % (q, got, want.id))
    # Metadata keys are not values.
    expect(ids(w, w.A, "部署") == [], "a metadata key matched")


def c_english(w):
    expect(ids(w, w.A, "budget") == [w.en.id], "budget")
    expect(ids(w, w.A, "steering committee") == [w.en.id], "steering committee")
    expect(ids(w, w.A, "conditions") == [w.ja.id], "conditions")
    expect(ids(w, w.A, "nothinglikethis") == [], "no match")
    resp = search(w, w.A, "budget")
    expect(list(resp.search_terms) == ["budget"], resp.search_terms)


def c_snippets(w):
    resp = search(w, w.A, "規則")
    d = resp.documents[0]
    sn = {s.field: s for s in d.snippets}
    expect(set(sn) == {"title", "content"}, "fields: %r" % d.snippets)
    expect(sn["title"].text == JA_TITLE and marked(sn["title"]) == ["規則"], sn["title"])
    expect(sn["content"].text.startswith("本規則は従業員") and marked(sn["content"]) == ["規則"],
           sn["content"])
    expect(list(resp.search_terms) == ["規則"], resp.search_terms)
    d = search(w, w.A, "規則 working").documents[0]
    sn = {s.field: s for s in d.snippets}
    expect(marked(sn["content"]) == ["規則", "working"], sn["content"])
    d = search(w, w.A, "服務規律を定める").documents[0]
    sn = {s.field: s for s in d.snippets}
    expect(set(sn) == {"content"} and marked(sn["content"]) == ["服務規律を定める"], d.snippets)
    # A long text: the window around the match is cut, "…" on both sides.
    d = search(w, w.A, "xylophone").documents
    expect(len(d) == 1, "xylophone: %r" % d)
    sn = {s.field: s for s in d[0].snippets}
    c = sn["content"]
    expect(c.text.startswith("…") and c.text.endswith("…") and marked(c) == ["xylophone"] and
           len(c.text) <= 162, c)
    d = search(w, w.A, "国語 문서").documents
    expect(len(d) == 0, "two terms both required: %r" % d)
    d = search(w, w.A, "국어").documents[0]
    sn = {s.field: s for s in d.snippets}
    expect(marked(sn["description"]) == ["국어"], d.snippets)
    d = search(w, w.A, "データ").documents[0]
    sn = {s.field: s for s in d.snippets}
    expect(marked(sn["title"]) == ["ﾃﾞｰﾀ"], sn["title"])  # the written characters
    # A list without a query has no snippets.
    r = w.call("ListDocuments", token=w.A, page_size=100)
    expect(all(len(x.snippets) == 0 for x in r.resp.documents), "snippets without a query")


def c_rest(w):
    bff = w.st.daemons["bff"]
    url = "http://127.0.0.1:%d/api/v1/documents?q=%s" % (
        bff.http_port, urllib.parse.quote("規則 working"))
    st, _, body = dt.http_req(url, headers={"Authorization": "Bearer " + w.A})
    expect(st == 200, "GET %s: %d %r" % (url, st, body[:300]))
    j = json.loads(body)
    docs = j["documents"]
    expect([d["id"] for d in docs] == [w.ja.id], docs)
    sn = {s["field"]: s for s in docs[0]["snippets"]}
    pieces = [sn["content"]["text"][h["start"]:h["end"]] for h in sn["content"]["highlights"]]
    expect(pieces == ["規則", "working"], sn)


def c_update(w):
    doc = w.call("GetDocument", token=w.A, id=w.en.id)
    expect(doc.code == C.OK, doc)
    req = w.msg("UpdateDocumentRequest", etag=doc.resp.document.etag)
    req.document.id = w.en.id
    req.document.title = "安全衛生規程"
    req.update_mask.paths.append("title")
    r = w.call("UpdateDocument", req, w.A)
    expect(r.code == C.OK, "UpdateDocument: %r" % r)
    expect(ids(w, w.A, "衛生規程") == [w.en.id], "new title")
    expect(ids(w, w.A, "budget") == [w.en.id], "content still found")
    expect(ids(w, w.A, "規程") == [w.en.id], "new title, 2 characters")


def c_reindex(w):
    # As written before migration 6: no tokens, search_version 0.
    w.st.sql("UPDATE documents SET search_title = NULL, search_description = NULL,"
             " search_tags = NULL, search_metadata = NULL, search_content = NULL,"
             " search_version = 0", "kumo_documents")
    expect(ids(w, w.A, "規則") == [], "found before re-indexing")
    t0 = time.time()
    w.st.migrate("documents")
    note = "re-indexed by migrate in %.2fs" % (time.time() - t0)
    print("# " + note, flush=True)
    rows = w.st.sql("SELECT COUNT(*) FROM documents WHERE search_version = 0", "kumo_documents")
    expect(rows == [["0"]], rows)
    expect(ids(w, w.A, "規則") == [w.ja.id], "規則 after migrate")
    expect(ids(w, w.B, "服務規律を定める") == [w.ja_b.id], "globex after migrate")
    expect(ids(w, w.A, "人事") == [w.meta.id], "metadata after migrate")
    expect(ids(w, w.A, "衛生規程") == [w.en.id], "edited title after migrate")


def c_invalid(w):
    r = w.call("ListDocuments", token=w.A, query="規" * 201)
    expect(r.code == C.INVALID_ARGUMENT, "201 characters: %r" % r)
    r = w.call("ListDocuments", token=w.A, query="規則\x01")
    expect(r.code == C.INVALID_ARGUMENT, "control character: %r" % r)
    # Boolean-mode operators in a query are text, never operators.
    expect(ids(w, w.A, '規則" -working +"') == [w.ja.id], "operators")


def main():
    if len(sys.argv) != 2:
        print("usage: search_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="kumo-search-it.", dir=base)

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
        report(True, "the stack starts: MariaDB, users, storage, documents, bff (%.1fs)" %
               (time.time() - t0))
        cases = [
            ("seed: the Japanese document (text/plain, extracted by the job) in two tenants, "
             "and documents with CJK in metadata, description, tags, half-width katakana",
             c_seed),
            ("CJK: 規則, 従業員, 労働条件, 服務規律を定める, working, 規則 working (and more) "
             "find exactly the Japanese document", c_japanese_substrings),
            ("tenants: another tenant's identical document is never returned; each finds "
             "its own", c_tenants),
            ("precision: characters not in a row, across punctuation or with a missing word "
             "are not found", c_precision),
            ("fields: metadata values (not keys), description, tags; Korean, Chinese, "
             "half-width katakana folded", c_fields),
            ("English search unchanged (words, no CJK involved)", c_english),
            ("snippets: title, description and content with the matches as code point "
             "ranges; none without a query", c_snippets),
            ("REST: the BFF's list answer carries the snippets", c_rest),
            ("update: a new CJK title is found at once", c_update),
            ("re-index: rows without tokens (written before migration 6) are re-indexed "
             "by migrate", c_reindex),
            ("invalid queries -> invalid_argument; boolean operators are text", c_invalid),
            ("pages of 1 (bounded walk, substring test) list what one page (full-text plan) "
             "lists", c_pages),
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
        if os.environ.get("SEARCH_TEST_KEEP") == "1":
            print("# work directory kept: " + work, flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
