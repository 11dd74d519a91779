#!/usr/bin/python3
"""The list page the console opens most, GET /api/v1/documents?page_size=50,
through kumo-bff (HTTP/1.1 and h2c) beside ListDocuments called directly
over gRPC with the same page size, with BENCH_DOCS (100000) documents
seeded into the tenant (bench/documents/seed.py, SQL multi-row INSERTs),
in the same run (issue 17, item 5). h2load at 10 clients x 10 streams,
BENCH_DURATION s per run, BENCH_RUNS runs interleaved, medians; CPU per
request of kumo-bff and kumo-documents as in bench.py. Writes
bench/results/bff-list-<date>.md.

Usage: list.py BUILD_DIR   (run by bench/bff/list)
"""
import datetime
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import kumo_stack  # noqa: E402

COUNT = int(os.environ.get("BENCH_DOCS", "100000"))
SVC = bench.SVC


def say(msg):
    print("bench/bff/list: " + msg, file=sys.stderr, flush=True)


def list_counts(port):
    st, body = kumo_stack.http_get(port, "/metrics")
    ok = bad = 0.0
    want = 'method="/%s/ListDocuments"' % SVC
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("kumo_rpc_requests_total{") and want in line:
            v = float(line.rsplit(" ", 1)[1])
            if 'code="ok"' in line:
                ok += v
            else:
                bad += v
    return ok, bad


def main():
    build = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kumo-bff-list.", dir="/dev/shm")
    st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "work"))
    ncpu = os.cpu_count() or 1
    pin = ["taskset", "-c", str(ncpu - 1)] if ncpu >= 2 else []
    hz = os.sysconf("SC_CLK_TCK")
    try:
        st.start_mariadb(extra_options=["--innodb-buffer-pool-size=512M",
                                        "--innodb-log-file-size=256M"])
        st.secrets()
        st.migrate("users")
        st.migrate("documents")
        st.bootstrap()
        st.start("users")
        st.start("storage")
        admin = st.login("demo", st.demo_email, st.demo_password)
        tid, owner = admin.user.tenant_id, admin.user.id
        seq_base = st.sql("SELECT COALESCE(MAX(seq), 0) FROM documents", "kumo_documents")[0][0]
        tag_cols = {r[0] for r in st.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'kumo_documents' AND table_name = 'document_tags'")}
        args = ["--tenant", tid, "--owner", owner, "--count", str(COUNT), "--seq-base", seq_base]
        if {"create_time", "seq"} <= tag_cols:
            args.append("--tag-order")
        seed = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "documents",
                                                            "seed.py")] + args,
                              capture_output=True, check=True)
        st.sql_script(seed.stdout, "kumo_documents")
        st.sql("ANALYZE TABLE documents, document_tags, document_versions", "kumo_documents")
        say("seeded %d documents" % COUNT)
        docs = st.start("documents", env={"KUMO_JOBS_WORKERS": "0"})
        bff = st.start("bff", env=bench.BFF_ENV)
        admin = st.login("demo", st.demo_email, st.demo_password)
        token = admin.access_token
        url = "http://127.0.0.1:%d/api/v1/documents?page_size=50" % bff.http_port
        code, j = bench.curl_json("GET", url, token)
        assert code == 200 and len(j["documents"]) == 50, (code, str(j)[:300])
        M = st.messages()
        req = M["kumo.documents.v1.ListDocumentsRequest"](page_size=50)
        resp = st.call("documents", SVC, "ListDocuments", req, token=token)
        assert len(resp.documents) == 50
        b = req.SerializeToString()
        body = os.path.join(tmp, "list.grpc")
        with open(body, "wb") as f:
            f.write(b"\0" + struct.pack(">I", len(b)) + b)
        auth = ["-H", "authorization: Bearer " + token]
        scen = [
            ("kumo-bff: GET /api/v1/documents?page_size=50, h2c", auth, url),
            ("kumo-bff: GET /api/v1/documents?page_size=50, HTTP/1.1 (10 conns, pipelined)",
             ["--h1"] + auth, url),
            ("kumo-documents direct: gRPC ListDocuments page_size 50",
             ["-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers"] + auth,
             "http://127.0.0.1:%d/%s/ListDocuments" % (docs.rpc_port, SVC)),
        ]
        res = {s[0]: [] for s in scen}
        bad = {s[0]: 0 for s in scen}
        for r in range(bench.RUNS):
            for label, a, u in scen:
                ok0, bad0 = list_counts(docs.admin_port)
                c0 = (bench.cpu_ticks(bff.pid), bench.cpu_ticks(docs.pid))
                rps, p50, p99, non2xx, done, out = bench.run_h2load(a, u, tmp, pin)
                c1 = (bench.cpu_ticks(bff.pid), bench.cpu_ticks(docs.pid))
                ok1, bad1 = list_counts(docs.admin_port)
                bad[label] += max(non2xx, 0) + int(bad1 - bad0)
                n = max(ok1 - ok0, 1)
                res[label].append((rps, p50, p99, (c1[0] - c0[0]) / hz / n * 1e6,
                                   (c1[1] - c0[1]) / hz / n * 1e6))
                say("run %d %s: %.0f req/s p50 %.2f p99 %.2f" % (r + 1, label, rps, p50, p99))
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        lines = ["## kumo-bff list page (%s, %d runs x %ds at 10 clients x 10 streams, medians)"
                 % (date, bench.RUNS, bench.DURATION), "",
                 "Machine: %s. Build: %s. %d documents seeded in the tenant; the first page "
                 "of 50, newest first (the console's default)." % (
                     bench.machine(), os.path.basename(build), COUNT), "",
                 "| path | req/s | p50 ms | p99 ms | CPU/req kumo-bff us | CPU/req "
                 "kumo-documents us | non-2xx / non-OK |", "|---|---|---|---|---|---|---|"]
        for label, _, _ in scen:
            rows = res[label]
            lines.append("| %s | %.1f | %.2f | %.2f | %.0f | %.0f | %d |" % (
                label, statistics.median(x[0] for x in rows),
                statistics.median(x[1] for x in rows), statistics.median(x[2] for x in rows),
                statistics.median(x[3] for x in rows), statistics.median(x[4] for x in rows),
                bad[label]))
        text = "\n".join(lines) + "\n"
        print(text)
        with open(os.path.join(ROOT, "bench", "results", "bff-list-%s.md" % date), "w") as f:
            f.write(text)
        return 0 if all(v == 0 for v in bad.values()) else 1
    finally:
        st.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
