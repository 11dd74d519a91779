#!/usr/bin/python3
"""No request lost (issue 21), against the real stack (scripts/kumo_stack.py:
MariaDB, kumo-users, kumo-storage, kumo-documents, kumo-bff).

Cases:
  1. SIGTERM under load on kumo-bff over h2c: h2load 10x10 plus a client
     that tracks every stream (answered, refused as retryable, or lost); 0
     lost, and the BFF's own log of answered requests matches what the
     clients received (nothing read went unanswered); /readyz 503 during
     the drain (the admin port up until exit); exit within
     KUMO_DRAIN_TIMEOUT.
  2. h2c drain with requests held in flight (kumo-documents stopped): GOAWAY
     first, a stream opened past it is refused with REFUSED_STREAM, the
     held streams are answered once kumo-documents resumes, then close.
  3. SIGTERM under load over HTTP/1.1 (keep-alive clients tracking every
     request, and idle keep-alive connections): 0 lost, `Connection: close`
     on every response after the signal, idle connections closed, the
     BFF's log matches the clients, /readyz 503, exit within the timeout.
  4. requests outliving KUMO_DRAIN_TIMEOUT (kumo-documents frozen) and a
     trickling client: the exit still comes at the timeout.
  5. MariaDB SIGSTOPped 3 s (request budget 1 s): every request answered
     within budget + 100 ms (503 with Retry-After or 504), /healthcheck,
     /openapi.json and a console file < 50 ms throughout (timed by curl),
     a 200 again right after SIGCONT, no restart.
  6, 7. 1000 idle (300 of them h2c on the BFF and RPC ports) + 100 slow
     connections from 127.0.0.2 on the BFF's HTTP port, kumo-users' and
     kumo-documents' RPC ports and the data port: another client's p99 <
     100 ms, at most the per-address limit of them left open, threads
     bounded, and once they close RSS within 10 % of what it was before
     (after a warm-up of the same requests; plain builds only: a
     sanitizer build's RSS is reported, not checked).
  8. the local backend on an 8 MiB tmpfs: 507 InsufficientStorage, nothing
     partial, /readyz 503 under KUMO_STORAGE_MIN_FREE, writes again after a
     DELETE.
  9. kill -9 of kumo-documents while it holds an extract job's lease: the
     job completes within 60 s of the restart (default 30 s lease).
  and no sanitizer report in any log. Latency bounds x3 on a sanitizer
  build. DRAIN_CASES=h2c,db,... runs only those cases.

Usage: drain_test.py BUILD_DIR
Prints TAP lines "ok - drain: CASE" / "not ok - drain: CASE" (with "#"
diagnostics), figures as "# " lines. DRAIN_TEST_KEEP=1 keeps the work
directory.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import h2.errors

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402
import tap  # noqa: E402
from clients import (  # noqa: E402
    CurlProbe, Flood, H1Tracker, H2Tracker, ReadyzWatch, Timed, bff_json, h2load,
    h2load_figures, http_get_auth, p99, proc_threads_rss, put_url, s3_req, served_count,
    sigterm_and_wait, timed_gets)
from tap import case, expect, note, report  # noqa: E402

API = "/api/v1"
LIST = API + "/documents?page_size=1"
DRAIN_S = 5.0
BFF_ENV = {"KUMO_RATE_LIMIT_PER_ADDRESS": "off", "KUMO_RATE_LIMIT_PER_PRINCIPAL": "off",
           "KUMO_LOGIN_RATE_LIMIT": "off", "KUMO_DRAIN_TIMEOUT": "%ds" % DRAIN_S}

SLOW = 1  # latency bounds are multiplied by 3 for a sanitizer build (main)


# ---- the cases ---------------------------------------------------------------------------------

def start_bff(w, name, env=None):
    e = dict(BFF_ENV)
    e.update(env or {})
    return w.st.start("bff", name=name, env=e)


def c_h2c_drain_under_load(w):
    d = start_bff(w, "bff-h2")
    load = h2load(d.http_port, w.token, LIST, 4)
    trackers = [H2Tracker(d.http_port, LIST, w.token) for _ in range(2)]
    for t in trackers:
        t.start()
    time.sleep(1.5)
    rw = ReadyzWatch(d)
    rw.start()
    took, code = sigterm_and_wait(d, DRAIN_S)
    rw.join()
    for t in trackers:
        t.stop.set()
        t.join(10)
    try:
        out, _ = load.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        load.kill()
        out, _ = load.communicate()
    fig = h2load_figures(out)
    answered = sum(len(t.answered) for t in trackers)
    lost = [x for t in trackers for x in t.lost]
    refused = sum(len(t.refused) for t in trackers)
    served = served_count(d, API + "/documents")
    note("h2c drain: h2load %s; tracker answered %d, refused %d, lost %d; BFF served %d; "
         "exit %.2fs after SIGTERM (code %s)" % (fig, answered, refused, len(lost), served, took,
                                                 code))
    expect(all(t.error is None for t in trackers), [t.error for t in trackers])
    expect(all(t.goaway is not None and t.goaway[2] == h2.errors.ErrorCodes.NO_ERROR
               for t in trackers), "no GOAWAY NO_ERROR: %r" % [t.goaway for t in trackers])
    expect(not lost, "streams lost: %r" % lost[:10])
    expect(answered > 0 and fig["answered"] > 0, "nothing answered")
    expect(served == answered + fig["answered"],
           "the BFF answered %d requests but the clients received %d (h2load %d + tracker %d)" %
           (served, answered + fig["answered"], fig["answered"], answered))
    expect(code == 0, "exit code %s" % code)
    expect(took <= DRAIN_S + 0.5, "exit %.2fs after SIGTERM (drain timeout %ss)" % (took, DRAIN_S))
    rw.check(d.exit_time, d.exit_time - took)


def c_h2c_drain_in_flight(w):
    d = start_bff(w, "bff-h2-held")
    docs = w.st.daemons["documents"]
    t = H2Tracker(d.http_port, LIST, w.token, depth=3, probe_after_goaway=True)
    os.kill(docs.pid, signal.SIGSTOP)
    try:
        t.start()
        time.sleep(0.5)
        expect(len(t.open) == 3 and not t.answered, "3 streams held: %r" % t.open)
        rw = ReadyzWatch(d)
        rw.start()
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        while t.goaway is None and time.time() < t0 + 3:
            time.sleep(0.02)
        expect(t.goaway is not None, "no GOAWAY within 3 s of SIGTERM")
        goaway_ms = (t.goaway[0] - t0) * 1000
        time.sleep(1.0)
        expect(d.proc.poll() is None, "the BFF exited with streams in flight")
        expect(len(t.open) == 3, "held streams before kumo-documents resumed: %r" % t.open)
    finally:
        os.kill(docs.pid, signal.SIGCONT)
    d.proc.wait(timeout=DRAIN_S + 5)
    d.exit_time = time.time()
    took = d.exit_time - t0
    rw.join()
    t.join(10)
    note("h2c drain with 3 streams held: GOAWAY %.0f ms after SIGTERM (last stream id %d), "
         "answered %r, probe stream past GOAWAY: %r, exit %.2fs" % (
             goaway_ms, t.goaway[1], [(s, st) for s, st, _ in t.answered], t.probe, took))
    expect(t.error is None, t.error)
    expect(t.goaway[1] == 5, "GOAWAY last stream id %d, want 5 (streams 1, 3, 5 in flight)" %
           t.goaway[1])
    expect(t.probe == h2.errors.ErrorCodes.REFUSED_STREAM,
           "stream opened past GOAWAY: %r, want REFUSED_STREAM" % (t.probe,))
    expect(len(t.answered) == 3 and all(st == 200 for _, st, _ in t.answered) and not t.lost,
           "answered %r lost %r" % (t.answered, t.lost))
    expect(d.proc.returncode == 0, "exit code %s" % d.proc.returncode)
    expect(took <= DRAIN_S + 0.5, "exit %.2fs after SIGTERM" % took)
    rw.check(d.exit_time)


def c_drain_deadline(w):
    """Requests outliving KUMO_DRAIN_TIMEOUT (kumo-documents frozen) and a
    client trickling its headers do not hold the exit past the timeout."""
    d = start_bff(w, "bff-deadline", {"KUMO_DRAIN_TIMEOUT": "2s"})
    docs = w.st.daemons["documents"]
    held = [Timed(d.http_port, LIST, w.token) for _ in range(2)]
    slow = socket.create_connection(("127.0.0.1", d.http_port))
    slow.sendall(b"GET /api/v1/healthcheck HTTP/1.1\r\nHost: x\r\n")
    os.kill(docs.pid, signal.SIGSTOP)
    try:
        for t in held:
            t.start()
        time.sleep(0.5)
        rw = ReadyzWatch(d)
        rw.start()
        took, code = sigterm_and_wait(d, 2.0)
        rw.join()
    finally:
        os.kill(docs.pid, signal.SIGCONT)
        slow.close()
    for t in held:
        t.stop.set()
        t.join(10)
    with open(d.log, encoding="utf-8", errors="replace") as f:
        abandoned = "drain timeout" in f.read()
    note("drain past KUMO_DRAIN_TIMEOUT=2s with 2 requests held and a trickling client: exit "
         "%.2fs after SIGTERM (code %s; abandoned logged: %s)" % (took, code, abandoned))
    expect(took <= 2.3, "exit %.2fs after SIGTERM, drain timeout 2s (+0.3 s for a loaded host)" % took)
    expect(abandoned and code == 1, "exit code %s, abandoned logged %s" % (code, abandoned))
    rw.check(d.exit_time)


def c_h1_slow_handler(w):
    """An HTTP/1.1 request whose handler outlasts KUMO_CLIENT_TIMEOUT (its
    connection suspended meanwhile) is still answered: the client timeout
    bounds the client's slowness, not ours."""
    d = start_bff(w, "bff-slow-handler", {"KUMO_CLIENT_TIMEOUT": "1s"})
    docs = w.st.daemons["documents"]
    try:
        t = Timed(d.http_port, LIST, w.token)
        os.kill(docs.pid, signal.SIGSTOP)
        try:
            t.start()
            time.sleep(2.5)
        finally:
            os.kill(docs.pid, signal.SIGCONT)
        time.sleep(0.3)
        t.stop.set()
        t.join(10)
        first = t.seen[0] if t.seen else None
        note("HTTP/1.1 request held 2.5 s with KUMO_CLIENT_TIMEOUT=1s: %r" % (first,))
        expect(first and first[2] == 200 and first[1] >= 2.0,
               "first answer %r (errors %r)" % (first, t.errors[:3]))
    finally:
        d.stop()


def c_h1_drain_under_load(w):
    d = start_bff(w, "bff-h1")
    idle = []
    for _ in range(3):
        c = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=10)
        c.request("GET", LIST, headers={"Authorization": "Bearer " + w.token})
        r = c.getresponse()
        r.read()
        expect(r.status == 200, "idle connection's first request: %d" % r.status)
        idle.append(c)
    trackers = [H1Tracker(d.http_port, LIST, w.token) for _ in range(10)]
    for t in trackers:
        t.start()
    time.sleep(1.5)
    rw = ReadyzWatch(d)
    rw.start()
    t_sig = time.time()
    took, code = sigterm_and_wait(d, DRAIN_S)
    rw.join()
    for t in trackers:
        t.stop.set()
        t.join(10)
    idle_closed = []
    for c in idle:
        c.sock.settimeout(0.1)
        try:
            idle_closed.append(c.sock.recv(1) == b"")
        except OSError:
            idle_closed.append(True)
        c.close()
    answered = [a for t in trackers for a in t.answered]
    lost = [x for t in trackers for x in t.lost]
    after = [a for a in answered if a[0] > t_sig + 0.05]
    keep = [a for a in after if a[2] != "close"]
    # Every tracker ended on a refused connection: its last answer must have
    # said Connection: close (else its next request would have been lost).
    last_close = [bool(t.answered) and t.answered[-1][2] == "close" for t in trackers]
    served = served_count(d, API + "/documents")
    note("HTTP/1.1 drain: answered %d (%d sent after SIGTERM, %d of them without "
         "Connection: close), lost %d, refused connections %d; BFF served %d; idle keep-alive "
         "connections closed %r; exit %.2fs (code %s)" % (
             len(answered), len(after), len(keep), len(lost),
             sum(t.refused for t in trackers), served, idle_closed, took, code))
    expect(not lost, "requests lost: %r" % lost[:10])
    expect(served == len(answered) + 3,
           "the BFF answered %d requests, the clients received %d" % (served, len(answered) + 3))
    expect(not keep, "responses after SIGTERM without Connection: close: %d" % len(keep))
    expect(all(last_close), "last answer of each client with Connection: close: %r" % last_close)
    expect(all(idle_closed), "idle keep-alive connections closed: %r" % idle_closed)
    expect(code == 0, "exit code %s" % code)
    expect(took <= DRAIN_S + 0.5, "exit %.2fs after SIGTERM" % took)
    rw.check(d.exit_time, d.exit_time - took)


def c_db_hung(w):
    budget = 1.0
    d = start_bff(w, "bff-db", {"KUMO_REQUEST_TIMEOUT": "1s", "KUMO_HTTP_HANDLERS": "8",
                                "KUMO_HTTP_QUEUE": "8"})
    load = [Timed(d.http_port, LIST, w.token) for _ in range(8)]
    cheap = [CurlProbe(d.http_port, [API + "/healthcheck", API + "/openapi.json", "/"])]
    for t in load + cheap:
        t.start()
    time.sleep(0.5)
    with open(os.path.join(w.st.db_dir, "mariadbd.pid")) as f:
        mysqld = int(f.read().strip())
    t_stop = time.time()
    os.kill(mysqld, signal.SIGSTOP)
    try:
        time.sleep(3.0)
    finally:
        os.kill(mysqld, signal.SIGCONT)
    t_cont = time.time()
    recovered = None
    while time.time() < t_cont + 5:
        st, _ = http_get_auth(d.http_port, LIST, w.token)
        if st == 200:
            recovered = time.time() - t_cont
            break
        time.sleep(0.05)
    for t in load + cheap:
        t.stop.set()
    for t in load + cheap:
        t.join(15)
    during = [x for t in load for x in t.seen if t_stop <= x[0] <= t_cont]
    statuses = {}
    for x in during:
        statuses[x[2]] = statuses.get(x[2], 0) + 1
    slowest = max((x[1] for x in during), default=0)
    no_retry = [x for x in during if x[2] == 503 and not x[3]]
    cheap_all = [(p, x) for p, x in cheap[0].seen]
    cheap_lat = {}
    for p, x in cheap_all:
        cheap_lat.setdefault(p, []).append(x[1])
    cheap_bad = [(p, round(x[1] * 1000, 1), x[2], "%+.2fs" % (x[0] - t_stop))
                 for p, x in cheap_all if x[1] > 0.05 * SLOW or x[2] != 200]
    d.stop()
    note("MariaDB SIGSTOPped 3 s, request budget %.0f ms: %d requests during it, statuses %r, "
         "slowest %.0f ms; cheap routes max %s ms over %d requests; recovered %s s after "
         "SIGCONT" % (budget * 1000, len(during), statuses, slowest * 1000,
                      {p: round(max(v) * 1000, 1) for p, v in cheap_lat.items()},
                      len(cheap_all), "%.2f" % recovered if recovered is not None else "never"))
    expect(during, "no request ran while MariaDB was stopped")
    expect(0 not in statuses, "requests without an HTTP answer: %r" %
           [e for t in load for e in t.errors][:5])
    expect(slowest <= budget + 0.1, "slowest request %.0f ms > budget + 100 ms" %
           (slowest * 1000))
    expect(not no_retry, "503 without Retry-After: %d" % len(no_retry))
    # Every cheap request answered 200; 95% of them under 50 ms and none
    # over 250 ms: on a shared 2-core host one request in a few dozen can
    # lose its CPU for tens of ms to other processes, which says nothing
    # about queueing behind blocked RPCs (that costs the whole SIGSTOP).
    lat = sorted(x[1] for _, x in cheap_all)
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0
    expect(lat and all(x[2] == 200 for _, x in cheap_all) and p95 <= 0.05 * SLOW and
           lat[-1] <= 0.25 * SLOW,
           "cheap routes: p95 %.1f ms (<= 50 x%d), max %.1f ms (<= 250), over 50 ms or not 200 "
           "(route, ms, status, when from SIGSTOP): %r" % (p95 * 1000, SLOW, lat[-1] * 1000 if lat
                                                          else 0, cheap_bad[:10]))
    expect(recovered is not None, "no 200 within 5 s of SIGCONT")


def flood_case(name, pid, port, path, headers, want_status, per_address, n_h2=0, probe=None):
    """probe(n) -> (latencies, statuses) of n requests by another client
    (default: GET path with headers, a new connection each). Returns (RSS
    before, at most during, after) in kB."""
    probe = probe or (lambda n: timed_gets(port, path, n, headers))
    # The "before" RSS is taken after the same requests the flood's
    # neighbour sends during it (30 of them): what the first requests
    # allocate once (caches, pools, TLS-free first-use buffers) is not the
    # flood's, and is not counted as its growth.
    base_lat, _ = probe(30)
    th0, rss0 = proc_threads_rss(pid)
    f = Flood(port, 1000, 100, n_h2)
    t0 = time.time()
    f.start()
    opened = time.time() - t0
    th_max, rss_max = th0, rss0
    lat, sts = [], []
    for _ in range(10):
        l, s = probe(20)
        lat += l
        sts += s
        th, rss = proc_threads_rss(pid)
        th_max, rss_max = max(th_max, th), max(rss_max, rss)
    t_load = time.time() - t0
    alive = f.alive()
    f.close()
    # The listener sees the clients leave and frees their connections
    # within a few event-loop turns; wait up to 3 s for that (the RSS is
    # sampled every 0.25 s and the first sample within bounds counts; 1 s on
    # a sanitizer build, whose RSS is not checked).
    rss_bound = rss0 * 1.10
    wait_s = 3.0 if SLOW == 1 else 1.0
    t_close = time.time()
    while True:
        time.sleep(0.25)
        th1, rss1 = proc_threads_rss(pid)
        if (rss1 <= rss_bound and th1 <= th0 + 2) or time.time() - t_close > wait_s:
            break
    note("%s flood (1000 idle (%d of them h2c) + 100 slow from 127.0.0.2, opened in %.1fs, load done at %.1fs; "
         "%d still open at the end): another client's p99 %.1f ms (max %.1f) over %d requests "
         "(%.1f ms before), statuses %r; "
         "threads %d before, %d at most, %d after; RSS %d kB before (after 30 warm-up requests), "
         "%d kB at most, %d kB %.2fs after the close (%+.1f %%)" % (
             name, n_h2, opened, t_load, alive, p99(lat) * 1000, max(lat) * 1000, len(lat),
             p99(base_lat) * 1000,
             sorted(set(map(str, sts))), th0, th_max, th1, rss0, rss_max, rss1,
             time.time() - t_close, 100.0 * (rss1 - rss0) / rss0))
    expect(all(s == want_status for s in sts), "statuses %r" % sts[:10])
    expect(p99(lat) < 0.1 * SLOW, "p99 %.1f ms" % (p99(lat) * 1000))
    expect(alive <= per_address + 5, "%d flood connections still open (limit %d per address)" %
           (alive, per_address))
    expect(th_max <= th0 + per_address + 20, "threads %d -> %d" % (th0, th_max))
    # Issue 21: the memory of closed connections is returned, RSS within
    # 10 % of its start. No absolute slack: 10 % of these daemons' RSS
    # (13-18 MB) is already 1.3-1.8 MB, above the run-to-run noise seen
    # (< 0.5 MB). A sanitizer build's RSS is ASan's shadow memory and
    # quarantine (freed memory is held back on purpose): reported only.
    if SLOW != 1:
        note("%s: RSS not checked on a sanitizer build" % name)
    else:
        expect(rss1 <= rss_bound, "RSS %d kB after the flood closed, %d kB before: %+.1f %% "
               "(at most +10 %%)" % (rss1, rss0, 100.0 * (rss1 - rss0) / rss0))
    return rss0, rss_max, rss1


def connect_health(port, n):
    """n Connect unary calls grpc.health.v1.Health/Check (JSON, h2c prior
    knowledge), each a curl process and connection of its own; curl's own
    times."""
    lat, sts = [], []
    for _ in range(n):
        p = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-m", "5", "--http2-prior-knowledge", "-w",
             "%{time_total} %{http_code}", "-H", "content-type: application/json", "-d", "{}",
             "http://127.0.0.1:%d/grpc.health.v1.Health/Check" % port],
            capture_output=True, text=True)
        try:
            t, code = p.stdout.split()
            lat.append(float(t))
            sts.append(int(code))
        except ValueError:
            lat.append(5.0)
            sts.append(p.stdout or "curl failed")
    return lat, sts


def c_flood_rpc(w):
    d = w.st.daemons["users"]
    flood_case("kumo-users RPC port", d.pid, d.rpc_port, None, None, 200, 256, n_h2=300,
               probe=lambda n: connect_health(d.rpc_port, n))


def c_flood_documents(w):
    """The issue's first finding: idle connections raised kumo-documents'
    RSS from 23.7 to 30.8 MB, never released."""
    d = w.st.daemons["documents"]
    flood_case("kumo-documents RPC port", d.pid, d.rpc_port, None, None, 200, 256, n_h2=300,
               probe=lambda n: connect_health(d.rpc_port, n))


def c_flood_bff(w):
    d = start_bff(w, "bff-flood", {"KUMO_HTTP_MAX_CONNECTIONS_PER_ADDRESS": "64"})
    try:
        flood_case("BFF HTTP port", d.pid, d.http_port, LIST,
                   {"Authorization": "Bearer " + w.token}, 200, 64, n_h2=300)
    finally:
        d.stop()


def c_flood_dataport(w):
    st = w.st.daemons["storage"]
    # Unsigned: answered 403 by the data port at once; what counts is that
    # it is answered, and fast.
    flood_case("storage data port", st.pid, st.data_port, "/kumo/none", None, 403, 64)


def c_job_lease(w):
    """kill -9 of kumo-documents while its worker holds an extract job's
    lease (kumo-storage frozen, so the job cannot finish): after a restart
    the job runs again once the (default, 30 s) lease runs out."""
    d = start_bff(w, "bff-jobs")
    st = w.st
    try:
        data = b"kumo lease test\n" * 100
        code, j = bff_json(d.http_port, "POST", API + "/documents", w.token, {
            "file_name": "lease.txt", "file_size": len(data), "content_type": "text/plain"})
        expect(code == 201, "create: %d %r" % (code, j))
        doc = j["document_id"]
        code = put_url(j["upload_url"], j.get("upload_headers"), data)
        expect(code in (200, 201, 204), "PUT upload: %d" % code)
        storage = st.daemons["storage"]
        code, j = bff_json(d.http_port, "POST", API + "/documents/%s/complete" % doc, w.token, {})
        os.kill(storage.pid, signal.SIGSTOP)
        try:
            expect(code == 200, "complete: %d %r" % (code, j))
            leased = None
            t0 = time.time()
            while time.time() < t0 + 5:
                rows = st.sql("SELECT id, lease_token IS NOT NULL FROM jobs WHERE document_id = '%s'"
                              " AND kind = 'extract'" % doc, db="kumo_documents")
                if rows and rows[0][1] == "1":
                    leased = rows[0][0]
                    break
                time.sleep(0.1)
            expect(leased, "no extract job leased within 5 s: %r" % rows)
            docs = st.daemons["documents"]
            os.kill(docs.pid, signal.SIGKILL)
            docs.proc.wait()
        finally:
            os.kill(storage.pid, signal.SIGCONT)
        t_restart = time.time()
        st.start("documents", env={"KUMO_JOBS_POLL_INTERVAL": "200ms"})
        done = None
        while time.time() < t_restart + 60:
            rows = st.sql("SELECT outcome FROM job_runs WHERE job_id = '%s' AND outcome = 'ok'" %
                          leased, db="kumo_documents")
            if rows:
                done = time.time() - t_restart
                break
            time.sleep(0.5)
        left = st.sql("SELECT COUNT(*) FROM jobs WHERE id = '%s'" % leased, db="kumo_documents")
        note("job lease: extract job %s leased when kumo-documents was killed; after the restart "
             "it completed in %s s (default lease 30 s, heartbeat every 10 s)" % (
                 leased, "%.1f" % done if done is not None else "never (60 s)"))
        expect(done is not None and done <= 60, "job not completed within 60 s of the restart")
        expect(left == [["0"]], "job still queued: %r" % left)
    finally:
        d.stop()


KEY_A = "t/00000000-0000-4000-8000-00000000f011/a"
KEY_B = "t/00000000-0000-4000-8000-00000000f011/b"


def c_disk_full(w):
    """The local backend on an 8 MiB tmpfs with KUMO_STORAGE_MIN_FREE=4MiB:
    /readyz 503 below it, a write that does not fit answered 507
    InsufficientStorage naming the cause with nothing stored, and writes
    succeed again once space is freed."""
    import hashlib
    mnt = os.path.join(w.tmp, "full")
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    expect(p.returncode == 0, "cannot mount a tmpfs (needs CAP_SYS_ADMIN): %s" % p.stderr)
    d = None
    try:
        d = w.st.start("storage", name="storage-full", env={
            "KUMO_STORAGE_ROOT": mnt, "KUMO_STORAGE_MIN_FREE": "4MiB"})
        ready = lambda: kumo_stack.http_get(d.admin_port, "/readyz")  # noqa: E731
        a, b = os.urandom(5 << 20), os.urandom(4 << 20)
        st_a, body_a = s3_req(w, d.data_port, "PUT", KEY_A, a)
        expect(st_a == 200, "PUT 5 MiB on an empty 8 MiB volume: %d %r" % (st_a, body_a[:300]))
        r1 = ready()
        expect(r1[0] == 503 and b"nearly full" in r1[1], "/readyz with ~3 MiB free: %r" % (r1,))
        st_b, body_b = s3_req(w, d.data_port, "PUT", KEY_B, b)
        expect(st_b == 507 and b"<Code>InsufficientStorage</Code>" in body_b and
               b"no space left" in body_b, "PUT 4 MiB into ~3 MiB: %d %r" % (st_b, body_b[:300]))
        st_get, _ = s3_req(w, d.data_port, "GET", KEY_B)
        expect(st_get == 404, "GET of the refused object: %d (want 404: nothing partial)" % st_get)
        leftovers = [f for root, _, fs in os.walk(os.path.join(mnt)) for f in fs
                     if f.endswith(".tmp")]
        expect(not leftovers, "temporary files left: %r" % leftovers)
        st_del, _ = s3_req(w, d.data_port, "DELETE", KEY_A)
        expect(st_del == 204, "DELETE: %d" % st_del)
        r2 = ready()
        expect(r2[0] == 200, "/readyz after freeing space: %r" % (r2,))
        st_b2, _ = s3_req(w, d.data_port, "PUT", KEY_B, b)
        st_g2, got = s3_req(w, d.data_port, "GET", KEY_B)
        expect(st_b2 == 200 and st_g2 == 200 and
               hashlib.sha256(got).digest() == hashlib.sha256(b).digest(),
               "PUT/GET after freeing space: %d %d" % (st_b2, st_g2))
        note("full disk (8 MiB tmpfs, KUMO_STORAGE_MIN_FREE 4MiB): /readyz %d %r; PUT that does "
             "not fit -> %d %s; after DELETE /readyz %d and the PUT -> %d" % (
                 r1[0], r1[1][:120], st_b,
                 re.search(rb"<Message>([^<]*)", body_b).group(1).decode(), r2[0], st_b2))
    finally:
        if d is not None:
            d.stop()
        subprocess.run(["umount", mnt], capture_output=True)


def c_logs(w):
    bad = []
    for name in sorted(os.listdir(w.st.logs_dir)):
        with open(os.path.join(w.st.logs_dir, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                if "AddressSanitizer" in line or "LeakSanitizer" in line or \
                        "runtime error:" in line or "ThreadSanitizer" in line:
                    bad.append("%s: %s" % (name, line.strip()[:200]))
    expect(not bad, "\n".join(bad[:20]))


def c_dataport_drain(w):
    """SIGTERM of kumo-storage while an 8 MiB PUT trickles in: the upload is
    answered 200 (Connection: close), an idle keep-alive connection is
    closed, new connections are refused, /readyz 503 meanwhile, exit within
    KUMO_DRAIN_TIMEOUT."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    d = w.st.start("storage", name="storage-drain", env={"KUMO_DRAIN_TIMEOUT": "%ds" % DRAIN_S})
    port = d.data_port
    creds = Credentials(w.st.storage_access_key_id, w.st.storage_secret)
    greq = AWSRequest(method="PUT", url="http://127.0.0.1:%d/kumo/%s" % (port, KEY_A),
                      data=b"small")
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(greq)
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    idle.request("PUT", "/kumo/" + KEY_A, body=b"small", headers=dict(greq.headers.items()))
    r0 = idle.getresponse()
    r0.read()
    expect(idle.sock is not None, "the first GET closed its connection: %d %r" % (
        r0.status, r0.getheaders()))
    body = os.urandom(8 << 20)
    req = AWSRequest(method="PUT", url="http://127.0.0.1:%d/kumo/%s" % (port, KEY_B), data=body,
                     headers={"Content-Length": str(len(body))})
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    head = "PUT /kumo/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (KEY_B, port)
    head += "".join("%s: %s\r\n" % kv for kv in req.headers.items() if kv[0].lower() != "host")
    sock.sendall((head + "\r\n").encode())
    sent, step, t_sig, rw = 0, 256 << 10, None, None
    t0 = time.time()
    while sent < len(body):
        sock.sendall(body[sent:sent + step])
        sent += step
        time.sleep(0.04)
        if t_sig is None and time.time() - t0 > 0.4:
            rw = ReadyzWatch(d)
            rw.start()
            t_sig = time.time()
            d.proc.send_signal(signal.SIGTERM)
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    resp.read()
    answered_after = time.time() - t_sig
    try:
        refused = False
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        refused = True
    idle.sock.settimeout(0.5)
    try:
        idle_closed = idle.sock.recv(1) == b""
    except OSError:
        idle_closed = True
    d.proc.wait(timeout=DRAIN_S + 5)
    d.exit_time = time.time()
    took = d.exit_time - t_sig
    rw.join()
    sock.close()
    note("data port drain: 8 MiB PUT trickling across SIGTERM -> %d (Connection: %s) %.2fs after "
         "it; new connection refused %s; idle keep-alive closed %s; exit %.2fs (code %s)" % (
             resp.status, resp.getheader("Connection"), answered_after, refused, idle_closed,
             took, d.proc.returncode))
    expect(resp.status == 200 and (resp.getheader("Connection") or "").lower() == "close",
           "PUT across the drain: %d %r" % (resp.status, resp.getheaders()))
    expect(refused, "a new connection was accepted during the drain")
    expect(idle_closed, "the idle keep-alive connection was not closed")
    expect(d.proc.returncode == 0 and took <= DRAIN_S + 0.5, "exit %.2fs code %s" % (
        took, d.proc.returncode))
    rw.check(d.exit_time)


def c_rpc_drain(w):
    """SIGTERM of each RPC daemon (a second instance each) under h2load and
    tracked gRPC Health/Check streams: 0 lost, GOAWAY NO_ERROR, /readyz
    503, exit within the drain timeout."""
    frame = os.path.join(w.tmp, "grpc-empty.bin")
    with open(frame, "wb") as f:
        f.write(b"\0\0\0\0\0")
    path = "/grpc.health.v1.Health/Check"
    out = []
    for svc in ("users", "documents", "storage"):
        env = {"KUMO_DRAIN_TIMEOUT": "%ds" % DRAIN_S}
        if svc == "documents":
            env["KUMO_JOBS_WORKERS"] = "0"
        d = w.st.start(svc, name=svc + "-drain", env=env)
        load = subprocess.Popen(
            ["h2load", "-c", "10", "-m", "10", "-D", "3", "-d", frame, "-H",
             "content-type: application/grpc", "-H", "te: trailers",
             "http://127.0.0.1:%d%s" % (d.rpc_port, path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        trackers = [H2Tracker(d.rpc_port, path, "", grpc=True) for _ in range(2)]
        for t in trackers:
            t.start()
        time.sleep(1.0)
        rw = ReadyzWatch(d)
        rw.start()
        took, code = sigterm_and_wait(d, DRAIN_S)
        rw.join()
        for t in trackers:
            t.stop.set()
            t.join(10)
        try:
            lo, _ = load.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            load.kill()
            lo, _ = load.communicate()
        fig = h2load_figures(lo)
        answered = [a for t in trackers for a in t.answered]
        bad = [a for a in answered if a[1] != 200]
        lost = [x for t in trackers for x in t.lost]
        out.append("%s: h2load %d done, %d not submitted after GOAWAY; tracker answered %d, refused %d, lost %d; "
                   "exit %.2fs (code %s)" % (svc, fig["done"], fig["errored"], len(answered),
                                           sum(len(t.refused) for t in trackers), len(lost),
                                           took, code))
        expect(all(t.error is None for t in trackers), [t.error for t in trackers])
        expect(not lost and not bad, "%s: lost %r, not OK %r" % (svc, lost[:5], bad[:5]))
        # h2load counts as errored the requests it could not even submit
        # once GOAWAY had arrived ("Process Request Failure"): never sent,
        # so not lost; the tracker accounts for every stream it sent.
        expect(fig["timeout"] == 0 and fig["answered"] > 0, "%s: h2load %r" % (svc, fig))
        expect(all(t.goaway and t.goaway[2] == h2.errors.ErrorCodes.NO_ERROR for t in trackers),
               "%s: GOAWAY %r" % (svc, [t.goaway for t in trackers]))
        expect(code == 0 and took <= DRAIN_S + 0.5, "%s: exit %.2fs code %s" % (svc, took, code))
        rw.check(d.exit_time, d.exit_time - took)
    note("RPC drain under gRPC load: " + "; ".join(out))


CASES = [
    ("h2c", "SIGTERM under h2load on kumo-bff over h2c: nothing read is lost",
     c_h2c_drain_under_load),
    ("h2c-held", "h2c drain: GOAWAY first, later streams refused, held streams answered",
     c_h2c_drain_in_flight),
    ("h1", "SIGTERM under load on kumo-bff over HTTP/1.1: Connection: close, nothing lost",
     c_h1_drain_under_load),
    ("slow-handler", "an HTTP/1.1 request served longer than KUMO_CLIENT_TIMEOUT is answered",
     c_h1_slow_handler),
    ("deadline", "requests outliving KUMO_DRAIN_TIMEOUT do not hold the exit past it",
     c_drain_deadline),
    ("db", "MariaDB SIGSTOPped past the request budget: every request answered in budget, "
     "cheap routes p95 < 50 ms (max < 250), recovery without restart", c_db_hung),
    ("flood-bff", "1000 idle + 100 slow connections from one address on the BFF: others' p99 "
     "< 100 ms, threads bounded, RSS back within 10 %", c_flood_bff),
    ("flood-data", "1000 idle + 100 slow connections from one address on the data port: others' "
     "p99 < 100 ms, threads bounded, RSS back within 10 %", c_flood_dataport),
    ("flood-rpc", "1000 idle + 100 slow connections from one address on kumo-users' RPC port: "
     "others' p99 < 100 ms, threads bounded, RSS back within 10 %", c_flood_rpc),
    ("flood-docs", "1000 idle + 100 slow connections from one address on kumo-documents' RPC "
     "port: others' p99 < 100 ms, threads bounded, RSS back within 10 %", c_flood_documents),
    ("disk", "full disk on the local backend: 507 InsufficientStorage, nothing partial, /readyz "
     "503 below KUMO_STORAGE_MIN_FREE, writes resume once space is freed", c_disk_full),
    ("data-drain", "SIGTERM of kumo-storage mid-upload: the upload is answered, /readyz 503, "
     "idle connections closed, exit within the drain timeout", c_dataport_drain),
    ("rpc-drain", "SIGTERM of kumo-users, kumo-documents, kumo-storage under gRPC load: nothing "
     "lost, GOAWAY, /readyz 503, exit within the drain timeout", c_rpc_drain),
    ("lease", "kill -9 of kumo-documents holding a job lease: the job completes within 60 s",
     c_job_lease),
]


# ---- main ---------------------------------------------------------------------------------------

class World:
    pass


def main():
    if len(sys.argv) != 2:
        print("usage: drain_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    global SLOW
    with open(os.path.join(build, "bin", "kumo-bff"), "rb") as f:
        if b"__asan_init" in f.read():
            SLOW = 3
            note("sanitizer build: latency bounds x3")
    tmp = tempfile.mkdtemp(prefix="kumo-drain-")
    w = World()
    w.tmp = tmp
    w.st = st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "stack"))
    stop = {"sig": False}

    def on_signal(signum, _frame):
        stop["sig"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        try:
            st.start_mariadb()
            st.secrets()
            st.migrate("users")
            st.migrate("documents")
            st.bootstrap()
            st.start("users")
            st.start("storage")
            st.start("documents", env={"KUMO_JOBS_POLL_INTERVAL": "200ms"})
            w.token = st.login("demo", st.demo_email, st.demo_password).access_token
        except Exception:  # noqa: BLE001
            report(False, "the stack starts", traceback.format_exc())
            return 1
        only = os.environ.get("DRAIN_CASES", "").split(",")
        for key, name, fn in CASES:
            if only == [""] or key in only:
                case(name, fn, w)
        case("logs: no sanitizer report in any daemon's log", c_logs, w)
        report(True, "end")
    except KeyboardInterrupt:
        report(False, "end", "interrupted")
    finally:
        try:
            st.down()
        except Exception:  # noqa: BLE001
            pass
        if os.environ.get("DRAIN_TEST_KEEP") == "1":
            print("# kept " + tmp, flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if tap.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
