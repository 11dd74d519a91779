#!/usr/bin/python3
"""kumo-documents under load (issue 6, item 6): 100k documents seeded into
the demo tenant with SQL (bench/documents/seed.py), then h2load over gRPC at
10 clients x 10 streams for a fixed time, median of BENCH_RUNS runs, for
GetDocument, ListDocuments (page of 50 filtered by tag and status) and
ListDocuments with a full-text query.

Usage: bench.py BUILD_DIR   (run by bench/documents/run)
Environment: BENCH_DURATION (10) s per run, BENCH_RUNS (3), BENCH_WARMUP (2) s,
BENCH_DOCS (100000), BENCH_KEEP=1 keeps the work directory.

h2load counts HTTP statuses only and gRPC errors travel in trailers: each
request body is first checked with python3-grpcio (status OK, non-empty
answer), and kumo-documents' own kumo_rpc_requests_total of codes other
than ok during the runs is reported (it must be 0).
"""
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402

SVC = "kumo.documents.v1.DocumentService"
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
COUNT = int(os.environ.get("BENCH_DOCS", "100000"))


def say(msg):
    print("bench/documents: " + msg, file=sys.stderr, flush=True)


def frame(msg):
    b = msg.SerializeToString()
    return b"\0" + struct.pack(">I", len(b)) + b


def metric_counts(port, method):
    st, body = kumo_stack.http_get(port, "/metrics")
    ok = bad = 0.0
    want = 'method="/%s/%s"' % (SVC, method)
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("kumo_rpc_requests_total{") and want in line:
            v = float(line.rsplit(" ", 1)[1])
            if 'code="ok"' in line:
                ok += v
            else:
                bad += v
    return ok, bad


def settle(port, method, limit=120):
    """Waits until the server has answered every request h2load left in
    flight (its counters stop moving for 1 s), so slow queries of one run do
    not load the next; returns the counts."""
    last = metric_counts(port, method)
    deadline = time.time() + limit
    while time.time() < deadline:
        time.sleep(1)
        now = metric_counts(port, method)
        if now == last:
            return now
        last = now
    return last


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            m = re.search(r"MemTotal:\s*(\d+)", f.read())
            mem = "%.1f GiB" % (int(m.group(1)) / 1048576)
    except OSError:
        pass
    maria = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True).stdout.strip()
    h2 = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout.strip()
    return "%s, %d CPUs, %s RAM, kernel %s; %s; %s" % (cpu, os.cpu_count(), mem,
                                                      platform.release(), maria, h2)


def run_h2load(port, method, body, token, tmp, pin):
    log = os.path.join(tmp, "h2.log")
    if os.path.exists(log):
        os.unlink(log)
    cmd = pin + ["h2load", "-c", "10", "-m", "10", "-t", "1", "-D", str(DURATION),
                 "--warm-up-time=%d" % WARMUP, "--log-file=" + log, "-d", body,
                 "-H", "content-type: application/grpc", "-H", "te: trailers",
                 "-H", "authorization: Bearer " + token,
                 "http://127.0.0.1:%d/%s/%s" % (port, SVC, method)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + WARMUP + 60)
    if p.returncode != 0:
        raise RuntimeError("h2load failed: %s" % (p.stdout + p.stderr)[-800:])
    m = re.search(r"finished in [^,]+, ([\d.]+) req/s", p.stdout)
    rps = float(m.group(1)) if m else 0.0
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed,"
                  r" (\d+) errored", p.stdout)
    http_failed = int(m.group(2)) + int(m.group(3)) if m else -1
    lat = []
    with open(log) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                lat.append(int(parts[2]))
    lat.sort()

    def pct(q):
        if not lat:
            return 0.0
        i = min(len(lat) - 1, max(0, int(len(lat) * q + 0.999999) - 1))
        return lat[i] / 1000.0
    return rps, pct(0.50), pct(0.99), http_failed


def main():
    if len(sys.argv) != 2:
        print("usage: bench.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    for b in ("users", "storage", "documents"):
        if not os.access(os.path.join(build, "bin", "kumo-" + b), os.X_OK):
            say("%s/bin/kumo-%s missing (make all)" % (build, b))
            return 1
    if not shutil.which("h2load"):
        say("h2load missing (Debian: nghttp2-client)")
        return 1
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="kumo-docs-bench.", dir=base)
    st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "work"))
    ncpu = os.cpu_count() or 1
    server_pin = ["taskset", "-c", "0"] if ncpu >= 2 else []
    load_pin = ["taskset", "-c", str(ncpu - 1)] if ncpu >= 2 else []
    try:
        st.start_mariadb(extra_options=["--innodb-buffer-pool-size=512M",
                                        "--innodb-log-file-size=256M",
                                        "--innodb-ft-cache-size=64M",
                                        "--innodb-ft-total-cache-size=256M"])
        st.secrets()
        st.migrate("users")
        st.migrate("documents")
        st.bootstrap()
        st.start("users")
        st.start("storage")
        admin = st.login("demo", st.demo_email, st.demo_password)
        tid, owner = admin.user.tenant_id, admin.user.id
        t0 = time.time()
        seq_base = st.sql("SELECT COALESCE(MAX(seq), 0) FROM documents", "kumo_documents")[0][0]
        tag_cols = {r[0] for r in st.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'kumo_documents' AND table_name = 'document_tags'")}
        args = ["--tenant", tid, "--owner", owner, "--count", str(COUNT), "--seq-base", seq_base]
        if {"create_time", "seq"} <= tag_cols:
            args.append("--tag-order")
        seed = subprocess.run([sys.executable, os.path.join(HERE, "seed.py")] + args,
                              capture_output=True, check=True)
        info = json.loads(seed.stderr.decode().strip().splitlines()[-1])
        st.sql_script(seed.stdout, "kumo_documents")
        st.sql("ANALYZE TABLE documents, document_tags, document_versions", "kumo_documents")
        seed_s = time.time() - t0
        n = st.sql("SELECT COUNT(*) FROM documents WHERE tenant_id = '%s'" % tid,
                   "kumo_documents")[0][0]
        say("seeded %s documents in %.1fs (%s)" % (n, seed_s, json.dumps(info)))
        # kumo-documents on CPU 0 like the other benchmarks; no job workers
        # (nothing to extract: the seed is already DONE).
        d = st.start("documents", env={"KUMO_JOBS_WORKERS": "0"})
        if server_pin:
            subprocess.run(["taskset", "-a", "-p", "-c", "0", str(d.pid)], capture_output=True)
        admin = st.login("demo", st.demo_email, st.demo_password)
        token = admin.access_token
        M = st.messages()
        reqs = {
            "GetDocument": ("GetDocument", M["kumo.documents.v1.GetDocumentRequest"](
                id=info["sample_id"])),
            "ListDocuments (tag + status, 50)": ("ListDocuments",
                                                 M["kumo.documents.v1.ListDocumentsRequest"](
                                                     page_size=50, tag=info["common_tag"],
                                                     status=2)),
            "ListDocuments (text query, frequent word, 50)": (
                "ListDocuments", M["kumo.documents.v1.ListDocumentsRequest"](
                    page_size=50, query=info["query_word"])),
            "ListDocuments (text query, rarer word, 50)": (
                "ListDocuments", M["kumo.documents.v1.ListDocumentsRequest"](
                    page_size=50, query=info["rare_word"])),
        }
        matches = {}
        for key in ("query_word", "rare_word"):
            matches[key] = st.sql(
                "SELECT COUNT(*) FROM documents WHERE tenant_id = '%s' AND status <> 4 AND MATCH "
                "(title, description, tags_text, extracted_text) AGAINST ('%s' IN NATURAL "
                "LANGUAGE MODE)" % (tid, info[key]), "kumo_documents")[0][0]
        tagged = st.sql("SELECT COUNT(*) FROM documents d JOIN document_tags t ON t.document_id = "
                        "d.id AND t.tenant_id = d.tenant_id WHERE d.tenant_id = '%s' AND "
                        "t.tag = '%s' AND d.status = 2" % (tid, info["common_tag"]),
                        "kumo_documents")[0][0]
        bodies = {}
        for label, (method, req) in reqs.items():
            resp = st.call("documents", SVC, method, req, token=token, timeout=30)
            if method == "GetDocument":
                assert resp.document.id == info["sample_id"], resp
            else:
                assert len(resp.documents) == 50, "%s: %d documents" % (label, len(resp.documents))
            path = os.path.join(tmp, re.sub(r"\W+", "_", label) + ".bin")
            with open(path, "wb") as f:
                f.write(frame(req))
            bodies[label] = path
        load_before = os.getloadavg()
        res = {label: [] for label in reqs}
        bad_total = {label: 0 for label in reqs}
        for label, (method, _) in reqs.items():
            for r in range(RUNS):
                settle(d.admin_port, method)
                ok0, bad0 = metric_counts(d.admin_port, method)
                rps, p50, p99, hfail = run_h2load(d.rpc_port, method, bodies[label], token, tmp,
                                                  load_pin)
                ok1, bad1 = settle(d.admin_port, method)
                bad_total[label] += int(bad1 - bad0) + max(hfail, 0)
                res[label].append((rps, p50, p99))
                say("run %d %s: %.0f req/s p50 %.2f ms p99 %.2f ms (non-OK %d)" % (
                    r + 1, label, rps, p50, p99, int(bad1 - bad0)))
        load_after = os.getloadavg()
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        lines = ["## kumo-documents benchmark (%s, %d runs x %ds at 10 clients x 10 streams, "
                 "medians)" % (date, RUNS, DURATION), "",
                 "Machine: %s. Load average (1/5/15 min) %s before the runs, %s after: the "
                 "machine is shared, a load above its CPU count means other work competed." % (
                     machine(), "/".join("%.1f" % x for x in load_before),
                     "/".join("%.1f" % x for x in load_after)), "",
                 "%s documents seeded into one tenant with SQL (%.0fs, multi-row INSERTs: "
                 "Zipf-distributed vocabulary in titles, descriptions, tags and extracted text; "
                 "85%% ACTIVE). kumo-documents pinned to CPU 0 (defaults, no job workers), "
                 "h2load on CPU %d, MariaDB (private, TLS, 512 MiB buffer pool) unpinned. gRPC "
                 "(application/grpc) over h2c with a bearer JWT verified on every call." % (
                     n, seed_s, ncpu - 1), "",
                 "| RPC | req/s | p50 ms | p99 ms | non-OK answers |",
                 "|---|---|---|---|---|"]
        for label in reqs:
            rows = res[label]
            lines.append("| %s | %.1f | %.2f | %.2f | %d |" % (
                label, statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows),
                statistics.median(r[2] for r in rows), bad_total[label]))
        lines += ["", "Requests: GetDocument of one document (no download URL); ListDocuments "
                  "page_size=50 tag=%r status=ACTIVE (%s matching documents); ListDocuments "
                  "page_size=50 query=%r (%s matching documents) and query=%r (%s matching). "
                  "Scenarios run one after the other, each run starting once the server has "
                  "answered everything the previous one left in flight." % (
                      info["common_tag"], tagged, info["query_word"], matches["query_word"],
                      info["rare_word"], matches["rare_word"]), "", "Raw runs (req/s p50 p99):"]
        for label in reqs:
            for r in res[label]:
                lines.append("  %s: %.1f %.2f %.2f" % (label, r[0], r[1], r[2]))
        text = "\n".join(lines) + "\n"
        print(text)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", "documents-%s.md" % date), "w") as f:
            f.write(text)
        return 0 if all(v == 0 for v in bad_total.values()) else 1
    finally:
        st.down()
        if os.environ.get("BENCH_KEEP") == "1":
            say("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
