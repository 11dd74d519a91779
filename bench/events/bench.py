#!/usr/bin/python3
"""PUT's 200 -> ACTIVE without CompleteUpload (issue 15), local backend.

A real stack (scripts/kumo_stack.py: MariaDB, kumo-users, kumo-storage,
kumo-documents). Two phases of BENCH_UPLOADS uploads of 4 KiB each:

- sequential: one upload at a time; the client PUTs to the presigned URL,
  notes the wall clock when the 200 arrives and polls GetDocument every
  2 ms until ACTIVE before the next upload;
- burst: BENCH_CONCURRENCY clients upload at once, none waiting.

The latency of an upload is ACTIVE's time minus the PUT's 200, where
ACTIVE's time is what the completing transaction stamps on the row just
before its commit (documents.update_time, microseconds, same clock: one
machine), so the client's polling does not add to it; the sequential phase
also reports when the polling client saw ACTIVE, which bounds the commit.
Median and p99 (nearest rank).
"""
import concurrent.futures
import datetime
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "documents"))
import documents_test as dt  # noqa: E402

N = int(os.environ.get("BENCH_UPLOADS", "200"))
CONC = int(os.environ.get("BENCH_CONCURRENCY", "8"))


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def one(w, token, i, wait):
    data = os.urandom(4096)
    r = dt.create_doc(w, token, data, "bench-%d" % i, "b%d.bin" % i,
                      content_type="application/octet-stream")
    assert r.code == dt.C.OK, r
    st, _, body = dt.put_upload(r.resp.upload, data)
    t_put = time.time()
    assert st == 200, (st, body)
    seen = None
    if wait:
        while True:
            g = w.call("GetDocument", token=token, id=r.resp.document.id)
            if g.code == dt.C.OK and g.resp.document.status == dt.ACTIVE:
                seen = time.time()
                break
            if time.time() - t_put > 30:
                raise RuntimeError("not ACTIVE within 30 s")
            time.sleep(0.002)
    return r.resp.document.id, t_put, seen


def completion_times(w, ids):
    rows = w.st.sql("SELECT id, UNIX_TIMESTAMP(update_time), status FROM documents WHERE id IN (%s)"
                    % ",".join("'%s'" % i for i in ids), "kumo_documents")
    return {r[0]: (float(r[1]), int(r[2])) for r in rows}


def wait_all_active(w, ids, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        t = completion_times(w, ids)
        if len(t) == len(ids) and all(s == dt.ACTIVE for _, s in t.values()):
            return t
        time.sleep(0.2)
    raise RuntimeError("not all ACTIVE")


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="kumo-bench-events.", dir=base)
    w = dt.World(build, work)
    try:
        st = w.st
        st.start_mariadb()
        st.secrets()
        st.migrate("users")
        st.migrate("documents")
        st.bootstrap()
        st.start("users")
        st.start("storage")
        st.start("documents", name="docs1", env={"KUMO_JOBS_WORKERS": "1"})
        w.M = st.messages()
        token = dt.login(w, "demo", st.demo_email, st.demo_password).access_token
        # The session time zone is UTC for UNIX_TIMESTAMP of UTC DATETIMEs.
        st.sql("SET GLOBAL time_zone = '+00:00'")
        one(w, token, -1, True)  # warm-up: token exchange, connections

        seq = [one(w, token, i, True) for i in range(N)]
        t = wait_all_active(w, [s[0] for s in seq])
        lat = [1000 * (t[i][0] - tp) for i, tp, _ in seq]
        seen = [1000 * (sn - tp) for _, tp, sn in seq]

        lock = threading.Lock()
        burst = []
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(CONC) as ex:
            for res in ex.map(lambda i: one(w, token, 10000 + i, False), range(N)):
                with lock:
                    burst.append(res)
        t = wait_all_active(w, [b[0] for b in burst])
        blat = [1000 * (t[i][0] - tp) for i, tp, _ in burst]
        span = max(t[i][0] for i, _, _ in burst) - t0

        day = datetime.date.today().isoformat()
        rows = [
            "| phase | uploads | median ms | p99 ms | max ms |",
            "|---|---|---|---|---|",
            "| sequential: PUT 200 -> completing transaction | %d | %.1f | %.1f | %.1f |" % (
                N, statistics.median(lat), pct(lat, 99), max(lat)),
            "| sequential: PUT 200 -> client sees ACTIVE (GetDocument every 2 ms) | %d | %.1f | "
            "%.1f | %.1f |" % (N, statistics.median(seen), pct(seen, 99), max(seen)),
            "| burst (%d clients): PUT 200 -> completing transaction | %d | %.1f | %.1f | %.1f |" % (
                CONC, N, statistics.median(blat), pct(blat, 99), max(blat)),
        ]
        text = "\n".join([
            "# Event-driven completion: PUT's 200 -> ACTIVE (%s)" % day, "",
            "`bench/events/run build` (issue 15). Local backend, fsync on, one kumo-documents "
            "consumer, %d uploads of 4 KiB per phase, no CompleteUpload call. Completion time = "
            "documents.update_time, stamped by the completing transaction just before its commit "
            "(the client-side column bounds the commit); the PUT's 200 = the client's "
            "clock when the answer arrived (same machine). Burst: %d uploads in %.1f s "
            "(%.0f uploads/s completed)." % (N, N, span, N / span if span else 0), "",
        ] + rows + ["",
                    "Machine: %s, %d CPUs (shared)." % (os.uname().machine, os.cpu_count()), ""])
        print(text)
        out = os.path.join(ROOT, "bench", "results", "events-%s.md" % day)
        with open(out, "w") as f:
            f.write(text)
        print("# written to " + out)
        return 0
    finally:
        try:
            w.st.down()
        except Exception:  # noqa: BLE001
            pass
        if os.environ.get("BENCH_KEEP") == "1":
            print("# work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
