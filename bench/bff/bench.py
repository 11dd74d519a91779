#!/usr/bin/python3
"""GET /api/v1/documents/{id} through kumo-bff beside GetDocument called
directly over gRPC on kumo-documents (issue 7, item 4), in the same run.

The stack (MariaDB, kumo-users, kumo-storage, kumo-documents, kumo-bff with
its rate limits off) comes up with scripts/kumo_stack.py; one document is
created, uploaded and completed through the BFF with curl. Then h2load at
10 clients x 10 streams, BENCH_DURATION s per run, BENCH_RUNS runs with the
scenarios interleaved (run 1 of each, then run 2 of each...), medians:

  - BFF over h2c (prior knowledge) - if the BFF speaks it;
  - BFF over HTTP/1.1 (h2load --h1: 10 connections, up to 10 pipelined);
  - kumo-documents over gRPC, GetDocument with include_download_url (the
    very RPC the BFF makes for that GET);
  - kumo-documents over gRPC, GetDocument without the URL (reference);
  - grpc-gateway (the peer built by bench/peers/build, when present) in
    front of the same kumo-documents, mapping the same GET to the same RPC.

Also: kumo-bff's RSS idle and after each of its runs (and the gateway's),
and 50 GETs sent at once on one h2c connection (total time against the
slowest request: the streams of a connection are served side by side).

req/s, p50 and p99 from h2load's per-request log, non-2xx (h2load) and
non-OK (kumo-documents' kumo_rpc_requests_total) answers, and CPU time
per request of kumo-bff and kumo-documents (utime+stime from /proc).
h2load runs on the last CPU; the daemons and MariaDB are not pinned.

Usage: bench.py BUILD_DIR   (run by bench/bff/run)
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
BFF_ENV = {"KUMO_RATE_LIMIT_PER_ADDRESS": "off", "KUMO_RATE_LIMIT_PER_PRINCIPAL": "off",
           "KUMO_LOGIN_RATE_LIMIT": "off"}


def say(msg):
    print("bench/bff: " + msg, file=sys.stderr, flush=True)


def curl_json(method, url, token=None, body=None, data_file=None, headers=None):
    cmd = ["curl", "-sS", "-X", method, "-w", "\n%{http_code}", "--max-time", "60"]
    if token:
        cmd += ["-H", "Authorization: Bearer " + token]
    for k, v in (headers or {}).items():
        cmd += ["-H", "%s: %s" % (k, v)]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    if data_file:
        cmd += ["--data-binary", "@" + data_file]
    cmd.append(url)
    p = subprocess.run(cmd, capture_output=True, check=True)
    text, _, status = p.stdout.decode().rpartition("\n")
    try:
        return int(status), json.loads(text) if text.strip() else None
    except ValueError:
        return int(status), text


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def metric_counts(port):
    st, body = kumo_stack.http_get(port, "/metrics")
    ok = bad = 0.0
    want = 'method="/%s/GetDocument"' % SVC
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("kumo_rpc_requests_total{") and want in line:
            v = float(line.rsplit(" ", 1)[1])
            if 'code="ok"' in line:
                ok += v
            else:
                bad += v
    return ok, bad


def settle(port, limit=60):
    last = metric_counts(port)
    deadline = time.time() + limit
    while time.time() < deadline:
        time.sleep(0.5)
        now = metric_counts(port)
        if now == last:
            return now
        last = now
    return last


def run_h2load(args, url, tmp, pin):
    log = os.path.join(tmp, "h2.log")
    if os.path.exists(log):
        os.unlink(log)
    cmd = pin + ["h2load", "-c", "10", "-m", "10", "-t", "1", "-D", str(DURATION),
                 "--warm-up-time=%d" % WARMUP, "--log-file=" + log] + args + [url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + WARMUP + 60)
    if p.returncode != 0:
        raise RuntimeError("h2load failed: %s" % (p.stdout + p.stderr)[-800:])
    m = re.search(r"finished in [^,]+, ([\d.]+) req/s", p.stdout)
    rps = float(m.group(1)) if m else 0.0
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", p.stdout)
    non2xx = sum(int(x) for x in m.groups()[1:]) if m else -1
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed,"
                  r" (\d+) errored", p.stdout)
    done = int(m.group(1)) if m else 0
    if m:
        non2xx += int(m.group(2)) + int(m.group(3)) if non2xx >= 0 else 0
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
    return rps, pct(0.50), pct(0.99), non2xx, done, p.stdout


def ctxsw_start(pid):
    """perf stat counting the context switches of every thread of pid (threads
    started later inherit the counter) until ctxsw_end; None without perf."""
    if not shutil.which("perf"):
        return None
    try:
        return subprocess.Popen(["perf", "stat", "-x,", "-e", "context-switches", "-p", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError:
        return None


def ctxsw_end(p):
    """The count of the perf stat started by ctxsw_start, or -1."""
    if p is None:
        return -1
    # A thread's count joins its parent's when it exits: let the h2c
    # connection threads of the run end first.
    time.sleep(0.5)
    p.send_signal(2)
    try:
        err = p.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        return -1
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2] == "context-switches" and f[0].isdigit():
            return int(f[0])
    return -1


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one_connection(url, auth, n=50):
    """n GETs at once on one h2c connection: (total ms, slowest ms)."""
    p = subprocess.run(["h2load", "-c", "1", "-m", str(n), "-n", str(n)] + auth + [url],
                       capture_output=True, text=True, timeout=60)
    tot = re.search(r"finished in ([\d.]+)(ms|s),", p.stdout)
    mx = re.search(r"time for request:\s+\S+\s+(\S+)", p.stdout)
    ok = re.search(r"status codes: (\d+) 2xx", p.stdout)
    if not (tot and mx and ok and int(ok.group(1)) == n):
        say("h2load (one connection): not every request succeeded:\n" + p.stdout[-400:])
        return None

    def ms(v, unit="ms"):
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        if m:
            v, unit = m.group(1), m.group(2)
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return ms(tot.group(1), tot.group(2)), ms(mx.group(1))


def start_gateway(build, docs_port, tmp):
    """The grpc-gateway peer in front of kumo-documents, or None."""
    exe = os.path.join(build, "bench", "kumo-peer-grpc-gateway")
    if not os.access(exe, os.X_OK):
        say("no %s (bench/peers/build): grpc-gateway not measured" % exe)
        return None, None
    log = open(os.path.join(tmp, "gateway.log"), "w")
    proc = subprocess.Popen([exe, "-listen", "127.0.0.1:0", "-backend",
                             "127.0.0.1:%d" % docs_port], stdout=subprocess.PIPE, stderr=log,
                            text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening on (\S+)", line)
    if not m:
        proc.kill()
        raise RuntimeError("grpc-gateway peer did not start: %r" % line)
    return proc, "http://" + m.group(1)


def start_stack(st):
    """MariaDB, migrations, the demo tenant, then users, storage, documents
    (one jobs worker) and kumo-bff (rate limits off). Returns (documents, bff)."""
    st.up(env={"documents": {"KUMO_JOBS_WORKERS": "1"}, "bff": BFF_ENV})
    return st.daemons["documents"], st.daemons["bff"]


def seed_document(st, base_url, tmp):
    """Logs in as the demo admin and creates, uploads (100 kB) and completes one
    document through the BFF at base_url. Returns (token, document id, its URL)."""
    # One document, created, uploaded and completed through the BFF.
    code, j = curl_json("POST", base_url + "/api/v1/auth/login", body={
        "tenant": "demo", "email": st.demo_email, "password": st.demo_password})
    assert code == 200, (code, j)
    token = j["access_token"]
    data = os.urandom(100000)
    code, j = curl_json("POST", base_url + "/api/v1/documents", token, body={
        "file_name": "bench.pdf", "file_size": len(data), "content_type": "application/pdf",
        "meta_json": {"bench": True}, "title": "Bench document"})
    assert code == 201, (code, j)
    did = j["document_id"]
    path = os.path.join(tmp, "bench.bin")
    with open(path, "wb") as f:
        f.write(data)
    hdrs = {k: v for k, v in (j.get("upload_headers") or {}).items()
            if k.lower() not in ("content-length", "host")}
    code, _ = curl_json("PUT", j["upload_url"], data_file=path, headers=hdrs)
    assert code in (200, 201, 204), code
    code, j = curl_json("POST", base_url + "/api/v1/documents/%s/complete" % did, token,
                        body={})
    assert code == 200, (code, j)
    doc_url = base_url + "/api/v1/documents/" + did
    code, j = curl_json("GET", doc_url, token)
    assert code == 200 and j.get("presigned_url"), (code, j)
    return token, did, doc_url


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    h2 = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout.strip()
    return "%s, %d CPUs, kernel %s; %s" % (cpu, os.cpu_count(), platform.release(), h2)


def main():
    if len(sys.argv) != 2:
        print("usage: bench.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    for b in ("users", "storage", "documents", "bff"):
        if not os.access(os.path.join(build, "bin", "kumo-" + b), os.X_OK):
            say("%s/bin/kumo-%s missing (make all)" % (build, b))
            return 1
    if not shutil.which("h2load"):
        say("h2load missing (Debian: nghttp2-client)")
        return 1
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="kumo-bff-bench.", dir=base)
    st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "work"))
    ncpu = os.cpu_count() or 1
    pin = ["taskset", "-c", str(ncpu - 1)] if ncpu >= 2 else []
    hz = os.sysconf("SC_CLK_TCK")
    try:
        docs, bff = start_stack(st)
        base_url = "http://127.0.0.1:%d" % bff.http_port
        token, did, doc_url = seed_document(st, base_url, tmp)
        h2c = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w",
                              "%{http_code} %{http_version}", "--http2-prior-knowledge", "-H", "Authorization: Bearer " + token,
                              doc_url], capture_output=True, text=True).stdout.split()
        has_h2c = h2c == ["200", "2"]
        M = st.messages()
        bodies = {}
        for label, url_flag in (("url", True), ("nourl", False)):
            req = M["kumo.documents.v1.GetDocumentRequest"](id=did, include_download_url=url_flag)
            resp = st.call("documents", SVC, "GetDocument", req, token=token)
            assert resp.document.id == did and (resp.download.url != "") == url_flag, resp
            b = req.SerializeToString()
            p = os.path.join(tmp, "get-%s.grpc" % label)
            with open(p, "wb") as f:
                f.write(b"\0" + struct.pack(">I", len(b)) + b)
            bodies[label] = p
        auth = ["-H", "authorization: Bearer " + token]
        grpc_args = ["-H", "content-type: application/grpc", "-H", "te: trailers"] + auth
        grpc_url = "http://127.0.0.1:%d/%s/GetDocument" % (docs.rpc_port, SVC)
        scen = []
        if has_h2c:
            scen.append(("kumo-bff: GET /api/v1/documents/{id}, h2c (prior knowledge)",
                         auth, doc_url))
        else:
            say("the BFF does not answer h2c prior knowledge (%r): HTTP/1.1 only" % h2c)
        scen.append(("kumo-bff: GET /api/v1/documents/{id}, HTTP/1.1 (10 conns, pipelined)",
                     ["--h1"] + auth, doc_url))
        scen.append(("kumo-documents direct: gRPC GetDocument, include_download_url (the BFF's "
                     "RPC)", ["-d", bodies["url"]] + grpc_args, grpc_url))
        scen.append(("kumo-documents direct: gRPC GetDocument, no URL (reference)",
                     ["-d", bodies["nourl"]] + grpc_args, grpc_url))
        gw, gw_base = start_gateway(build, docs.rpc_port, tmp)
        if gw:
            gw_url = "%s/api/v1/documents/%s?include_download_url=true" % (gw_base, did)
            code = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                                   "Authorization: Bearer " + token, gw_url],
                                  capture_output=True, text=True).stdout
            assert code == "200", code
            scen.append(("grpc-gateway (Go, Debian 1.6.4) -> kumo-documents: GET "
                         "/api/v1/documents/{id}, HTTP/1.1 (10 conns, pipelined)",
                         ["--h1"] + auth, gw_url))
        rss = {"kumo-bff idle": rss_kb(bff.pid)}
        if gw:
            rss["grpc-gateway idle"] = rss_kb(gw.pid)
        res = {s[0]: [] for s in scen}
        bad = {s[0]: 0 for s in scen}
        for r in range(RUNS):
            for label, args, url in scen:
                settle(docs.admin_port)
                ok0, bad0 = metric_counts(docs.admin_port)
                # The front's CPU: kumo-bff's, or the gateway's in its scenario.
                front = gw.pid if label.startswith("grpc-gateway") else bff.pid
                c0 = (cpu_ticks(front), cpu_ticks(docs.pid))
                cs = ctxsw_start(front)
                rps, p50, p99, non2xx, done, out = run_h2load(args, url, tmp, pin)
                c1 = (cpu_ticks(front), cpu_ticks(docs.pid))
                nsw = ctxsw_end(cs)
                ok1, bad1 = settle(docs.admin_port)
                nonok = int(bad1 - bad0)
                bad[label] += max(non2xx, 0) + nonok
                if non2xx < 0:
                    say("could not read h2load's status codes:\n" + out[-600:])
                    bad[label] += 1
                # CPU over everything the run did (warm-up included) per
                # request answered by kumo-documents in it.
                n = max(ok1 - ok0, 1)
                cpu_bff = (c1[0] - c0[0]) / hz / n * 1e6
                cpu_docs = (c1[1] - c0[1]) / hz / n * 1e6
                sw = nsw / n if nsw >= 0 else float("nan")
                res[label].append((rps, p50, p99, cpu_bff, cpu_docs, sw))
                if label.startswith("kumo-bff"):
                    rss["kumo-bff after 10x10"] = max(rss.get("kumo-bff after 10x10", 0),
                                                      rss_kb(bff.pid))
                elif label.startswith("grpc-gateway"):
                    rss["grpc-gateway after 10x10"] = rss_kb(gw.pid)
                say("run %d %s: %.0f req/s p50 %.2f ms p99 %.2f ms, non-2xx %d, non-OK %d, "
                    "CPU/req bff %.0f us docs %.0f us, context switches/req %.2f" % (
                        r + 1, label, rps, p50, p99, non2xx, nonok, cpu_bff, cpu_docs, sw))
        multi = []
        if has_h2c:
            for _ in range(5):
                m = one_connection(doc_url, auth)
                multi.append(m if m else (float("nan"), float("nan")))
        if gw:
            gw.terminate()
            gw.wait(10)
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        lines = ["## kumo-bff benchmark (%s, %d runs x %ds at 10 clients x 10 streams, medians)" %
                 (date, RUNS, DURATION), "",
                 "Machine: %s. Build: %s." % (machine(), os.path.basename(build)), "",
                 "One 100 kB document (created, uploaded and completed through the BFF). "
                 "The BFF's GET makes one GetDocument RPC with include_download_url (presigned "
                 "URL) to kumo-documents, which verifies the forwarded JWT; direct calls send "
                 "the same bearer JWT. Rate limits off. h2load on CPU %d; kumo-bff, "
                 "kumo-documents, kumo-users, kumo-storage and MariaDB unpinned, all on the "
                 "same %d-CPU machine. Scenarios interleaved run by run." % (ncpu - 1, ncpu), "",
                 "| path | req/s | p50 ms | p99 ms | CPU/req kumo-bff (or the gateway) us | CPU/req "
                 "kumo-documents us | context switches/req of the front (perf stat) | non-2xx / non-OK |",
                 "|---|---|---|---|---|---|---|---|"]
        for label, _, _ in scen:
            rows = res[label]
            lines.append("| %s | %.1f | %.2f | %.2f | %.0f | %.0f | %.2f | %d |" % (
                label, statistics.median(x[0] for x in rows),
                statistics.median(x[1] for x in rows), statistics.median(x[2] for x in rows),
                statistics.median(x[3] for x in rows), statistics.median(x[4] for x in rows),
                statistics.median(x[5] for x in rows), bad[label]))
        lines += ["", "RSS (VmRSS, MiB): " + ", ".join(
            "%s %.1f" % (k, v / 1024.0) for k, v in rss.items())]
        if multi:
            lines += ["", "50 GETs sent at once on one h2c connection (5 tries): total ms / "
                      "slowest request ms: " + ", ".join("%.1f / %.1f" % m for m in multi)]
        lines += ["", "Raw runs (req/s p50 p99, CPU/req us front docs, context switches/req):"]
        for label, _, _ in scen:
            for x in res[label]:
                lines.append("  %s: %.1f %.2f %.2f, %.0f %.0f, %.2f" % (label, x[0], x[1], x[2],
                                                                      x[3], x[4], x[5]))
        text = "\n".join(lines) + "\n"
        print(text)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        name = os.environ.get("BENCH_RESULT") or "bff-%s.md" % date
        with open(os.path.join(ROOT, "bench", "results", name), "w") as f:
            f.write(text)
        return 0 if all(v == 0 for v in bad.values()) else 1
    finally:
        st.down()
        if os.environ.get("BENCH_KEEP") == "1":
            say("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
