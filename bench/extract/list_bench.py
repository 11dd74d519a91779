"""ListDocuments with and without thumbnails (bench/extract/run, second
part): 50 PNGs (each with a thumbnail) and 50 DOCX (none) on the real stack
(scripts/kumo_stack.py); pages of 50 by tag, first call (a presigned GET
from kumo-storage per row) and repeated calls (URLs reused from the cache
for half their life). Appends its table to the results file given."""
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "extract"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "documents"))
import documents_test as dt  # noqa: E402
import fixtures as fx  # noqa: E402
from extract_test import setup, doc_state  # noqa: E402

CALLS = 50


def main():
    build, out_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    w = dt.World(build, tempfile.mkdtemp(prefix="kumo-extract-bench.", dir=base))
    rows = []
    try:
        setup(w)
        png = fx.png_text(["thumb"], size=(300, 200), font_size=30)
        docx = fx.docx(["plain"])
        ids = []
        for i in range(50):
            ids.append(dt.upload_doc(w, w.A, png + b"%d" % i, "P%d" % i, "p%d.png" % i,
                                     content_type="image/png", tags=["png"]).id)
            ids.append(dt.upload_doc(w, w.A, docx, "D%d" % i, "d%d.docx" % i,
                                     content_type="application/zip", tags=["docx"]).id)
        if not dt.poll(lambda: all(doc_state(w, i) == 2 for i in ids), 600, 1):
            raise SystemExit("extraction did not finish")
        for tag in ("png", "docx"):
            t = time.perf_counter()
            r = w.ok("ListDocuments", token=w.A, page_size=50, tag=tag)
            first = time.perf_counter() - t
            ts = []
            for _ in range(CALLS):
                t = time.perf_counter()
                r = w.ok("ListDocuments", token=w.A, page_size=50, tag=tag)
                ts.append(time.perf_counter() - t)
            ts.sort()
            n = sum(1 for d in r.documents if d.thumbnail_url)
            rows.append((tag, len(r.documents), n, first, statistics.median(ts),
                         ts[int(len(ts) * 0.9)]))
    finally:
        w.st.down()
    text = ["", "## ListDocuments pages with thumbnail_url", "",
            "50 PNG and 50 DOCX documents on the real stack (MariaDB, kumo-storage), gRPC from "
            "python3-grpcio; a page of 50 by tag: the first call presigns a GET per thumbnail "
            "at kumo-storage, the %d calls after reuse the URLs (cached for half their life)."
            % CALLS, "",
            "| page | documents | with thumbnail_url | first call ms | median ms | p90 ms |",
            "|---|---:|---:|---:|---:|---:|"]
    for tag, n, nt, first, med, p90 in rows:
        text.append("| tag=%s | %d | %d | %.1f | %.1f | %.1f |" % (tag, n, nt, first * 1e3,
                                                                    med * 1e3, p90 * 1e3))
    block = "\n".join(text) + "\n"
    print(block)
    with open(out_path, "a") as f:
        f.write(block)


if __name__ == "__main__":
    main()
