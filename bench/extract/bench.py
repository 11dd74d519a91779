"""Extraction throughput of kumo-extract (see bench/extract/run)."""
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "extract"))
import fixtures as fx  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PDF_PAGES = int(os.environ.get("BENCH_PDF_PAGES", "200"))
OCR_PAGES = int(os.environ.get("BENCH_OCR_PAGES", "10"))

# Short enough to fit an A4 line at 18 pt (text off the page is not read).
LINES_EN = ["Quarterly report, section %d" % i for i in range(20)]
LINES_JP = ["第%d条 従業員の労働条件および服務規律" % i for i in range(20)]


def scanned_pdf(pages):
    """`pages` pages, each a 200 dpi picture of English text (no text layer)."""
    import io
    from PIL import Image
    ims = []
    for p in range(pages):
        png = fx.png_text(["Invoice %d of the copperwillow account" % p,
                           "was reconciled against the ledger today",
                           "and the balance carried forward."], size=(1654, 2339), font_size=40)
        ims.append(Image.open(io.BytesIO(png)).convert("RGB"))
    out = io.BytesIO()
    ims[0].save(out, "PDF", resolution=200.0, save_all=True, append_images=ims[1:])
    return out.getvalue()


def pages_read(out):
    """The 'P' frame of an answer (common/extract/frames.h)."""
    i = 0
    while i + 5 <= len(out):
        t, n = out[i], int.from_bytes(out[i + 1:i + 5], "big")
        if t == ord("P"):
            return int.from_bytes(out[i + 5:i + 9], "big")
        i += 5 + n
    return -1


def run_once(exe, kind, data, extra):
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        t = time.perf_counter()
        p = subprocess.run([exe, "--kind", kind, "--cpu", "600", "--memory", str(2 << 30)] +
                           extra, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit("kumo-extract failed (%d) on %s" % (p.returncode, kind))
    return dt, p.stdout


def measure(name, exe, kind, data, pages, extra, word):
    times = []
    for _ in range(RUNS):
        dt, out = run_once(exe, kind, data, extra)
        # Counted only when the work was done: every page read, the words there.
        got = pages_read(out)
        if got != pages or word.encode() not in out:
            raise SystemExit("%s: %d pages read (want %d), %r found: %s" % (
                name, got, pages, word, word.encode() in out))
        times.append(dt)
    med = statistics.median(times)
    return (name, pages, len(data), med, pages / med, min(times), max(times))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    exe = os.path.join(build, "bin", "kumo-extract")
    if not os.path.exists(exe):
        raise SystemExit("no %s: make first" % exe)
    rows = []
    pdf_en = fx.pdf_text(LINES_EN, pages=PDF_PAGES, font="DejaVu Sans")
    pdf_jp = fx.pdf_text(LINES_JP, pages=PDF_PAGES)
    scan = scanned_pdf(OCR_PAGES)
    png = fx.png_text(["The obsidianharbor ledger", "was reconciled today"])
    cases = [
        ("PDF text, English (%d pages, 20 lines each)" % PDF_PAGES, "pdf", pdf_en, PDF_PAGES,
         ["--max-pages", str(PDF_PAGES)], "section 19 (page %d)" % PDF_PAGES),
        ("PDF text, Japanese (%d pages, 20 lines each)" % PDF_PAGES, "pdf", pdf_jp, PDF_PAGES,
         ["--max-pages", str(PDF_PAGES)], "服務規律"),
        ("OCR, scanned PDF, eng+jpn (%d A4 pages at 200 dpi)" % OCR_PAGES, "pdf", scan,
         OCR_PAGES, ["--ocr-pages", str(OCR_PAGES)], "copperwillow"),
        ("OCR, scanned PDF, eng only (%d A4 pages at 200 dpi)" % OCR_PAGES, "pdf", scan,
         OCR_PAGES, ["--ocr-pages", str(OCR_PAGES), "--ocr", "eng"], "copperwillow"),
        ("OCR, PNG 1400x400, eng+jpn (1 image)", "image", png, 1, [], "obsidianharbor"),
    ]
    for name, kind, data, pages, extra, word in cases:
        rows.append(measure(name, exe, kind, data, pages, extra, word))
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    today = datetime.date.today().isoformat()
    out = ["# Extraction throughput (kumo-extract), %s" % today, "",
           "bench/extract/run %s: one sandboxed kumo-extract process per file (setrlimit, "
           "Landlock, seccomp, thumbnail of page 1 included), as kumo-documents' extract job runs it; "
           "every run checked (pages read, a word of the last page found); median of %d runs; %s, %d cores (shared machine: expect 2x noise)."
           % (build, RUNS, cpu or "unknown CPU", os.cpu_count() or 0), "",
           "| case | pages | file bytes | median s | pages/s | min s | max s |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for name, pages, size, med, pps, lo, hi in rows:
        out.append("| %s | %d | %d | %.2f | %.1f | %.2f | %.2f |" % (name, pages, size, med, pps,
                                                                     lo, hi))
    text = "\n".join(out) + "\n"
    print(text)
    res = os.path.join(ROOT, "bench", "results", "extract-%s.md" % today)
    with open(res, "w") as f:
        f.write(text)
    if os.environ.get("BENCH_LIST", "1") != "0":
        import subprocess as sp
        sp.run([sys.executable, os.path.join(ROOT, "bench", "extract", "list_bench.py"), build,
                res], check=True)
    print("written to " + os.path.relpath(res, ROOT))


if __name__ == "__main__":
    main()
