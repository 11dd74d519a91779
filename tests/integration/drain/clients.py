"""Clients of the drain suite that account for every request: a frame-level
h2c/gRPC stream tracker, an HTTP/1.1 keep-alive tracker, timed GETs (Python
and curl), a connection flooder, a /readyz watcher, and helpers for h2load,
the BFF's JSON API and SigV4-signed data-port requests."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

import h2.errors
import hpack
import hyperframe.frame

from tap import expect

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts"))
import kumo_stack  # noqa: E402


class ReadyzWatch(threading.Thread):
    """Polls a daemon's /readyz every 50 ms until its process exits; keeps
    (time, status) pairs (status 0: no answer)."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d = d
        self.seen = []

    def run(self):
        while self.d.proc.poll() is None:
            st, _ = kumo_stack.http_get(self.d.admin_port, "/readyz", timeout=1.0)
            if self.d.proc.poll() is None:
                self.seen.append((time.time(), st))
            time.sleep(0.05)

    def check(self, exit_time, t_sig=None):
        """503 from the first 503 on; no answer only in the last 200 ms
        (the admin port closes as the process exits). With t_sig, a drain
        over within 500 ms may show no 503 at all (the watcher polls every
        50 ms from a busy Python process), but no 200 later than 50 ms after
        the signal."""
        codes = [s for _, s in self.seen]
        if t_sig is not None and exit_time - t_sig < 0.5 and 503 not in codes:
            late = [(round(t - t_sig, 3), c) for t, c in self.seen if c == 200 and t > t_sig + 0.05]
            expect(not late, "/readyz 200 after SIGTERM (seconds after, status): %r" % late)
            return
        expect(503 in codes, "/readyz never answered 503 during the drain: %r" % codes[:20])
        after = [(t, c) for t, c in self.seen[codes.index(503):]]
        bad = [(round(exit_time - t, 3), c) for t, c in after
               if c != 503 and not (c == 0 and t > exit_time - 0.2)]
        expect(not bad, "/readyz after the first 503 (seconds before exit, status; 0 = no "
               "answer): %r" % bad)


def sigterm_and_wait(d, budget):
    """SIGTERM d, wait for its exit; returns (seconds to exit, exit code);
    d.exit_time is when it exited."""
    t0 = time.time()
    d.proc.send_signal(signal.SIGTERM)
    try:
        d.proc.wait(timeout=budget + 10)
    except subprocess.TimeoutExpired:
        d.proc.kill()
        d.proc.wait()
    d.exit_code = d.proc.returncode
    d.exit_time = time.time()
    return d.exit_time - t0, d.proc.returncode


def served_count(d, path_prefix):
    """Requests the BFF logged as answered (its access log: one "request"
    line per response handed to the front-end)."""
    n = 0
    with open(d.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"request"' not in line:
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("msg") == "request" and str(o.get("path", "")).startswith(path_prefix):
                n += 1
    return n


class H2Tracker(threading.Thread):
    """Keeps `depth` streams GET path open on one h2c connection until told
    to stop or the server sends GOAWAY; records each stream's fate:
    answered (a whole response), refused (RST_STREAM REFUSED_STREAM, or past
    the GOAWAY's last stream id: not processed, safe to retry) or lost
    (anything else: reset otherwise, or the connection closed first).
    Frame level (hyperframe + hpack): the h2 library's state machine stops
    reading a connection at GOAWAY, before the streams it still covers are
    answered."""

    def __init__(self, port, path, token, depth=10, probe_after_goaway=False, grpc=False):
        super().__init__(daemon=True)
        self.port, self.path, self.token, self.depth = port, path, token, depth
        self.grpc = grpc  # POST an empty gRPC message instead of a GET
        self.probe_after_goaway = probe_after_goaway
        self.stop = threading.Event()
        self.open = {}  # stream id -> status (None until headers)
        self.answered = []  # (stream id, status, time)
        self.refused = []
        self.lost = []
        self.goaway = None  # (time, last stream id, error code)
        self.probe = None  # fate of the stream opened past GOAWAY
        self.error = None
        self.next_id = 1
        self.send_failed = False
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()

    def headers(self):
        if self.grpc:
            return [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"),
                    (":path", self.path), ("content-type", "application/grpc"),
                    ("te", "trailers")]
        return [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"),
                (":path", self.path), ("authorization", "Bearer " + self.token)]

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - recorded for the case
            self.error = traceback.format_exc()
            for sid in list(self.open):
                self.lost.append((sid, "client error %r" % e))
            self.open.clear()

    def _open_stream(self, sock):
        sid = self.next_id
        self.next_id += 2
        if self.grpc:
            f = hyperframe.frame.HeadersFrame(sid, self.enc.encode(self.headers()),
                                              flags=["END_HEADERS"])
            data = hyperframe.frame.DataFrame(sid, b"\0\0\0\0\0", flags=["END_STREAM"])
            sock.sendall(f.serialize() + data.serialize())
            return sid
        f = hyperframe.frame.HeadersFrame(sid, self.enc.encode(self.headers()),
                                          flags=["END_HEADERS", "END_STREAM"])
        sock.sendall(f.serialize())
        return sid

    def _frames(self, buf):
        while len(buf) >= 9:
            f, ln = hyperframe.frame.Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + ln:
                break
            f.parse_body(memoryview(buf[9:9 + ln]))
            del buf[:9 + ln]
            yield f

    def _run(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
                     hyperframe.frame.SettingsFrame(0).serialize() +
                     hyperframe.frame.WindowUpdateFrame(0, window_increment=1 << 30).serialize())
        sock.settimeout(0.05)
        buf = bytearray()
        probe_sid = None
        while True:
            if self.goaway is None and not self.stop.is_set() and not self.send_failed:
                while len(self.open) < self.depth:
                    try:
                        self.open[self._open_stream(sock)] = None
                    except OSError:
                        # Not sent: the server closed its side (its GOAWAY is
                        # still to be read). Read on, open nothing more.
                        self.send_failed = True
                        break
            if self.stop.is_set() and not self.open and self.goaway is None:
                sock.close()
                return
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                data, why = b"", "connection error %r" % e
            else:
                why = "connection closed"
            if not data:
                for sid in list(self.open):
                    self.lost.append((sid, why))
                self.open.clear()
                if probe_sid is not None and self.probe is None:
                    self.probe = "connection closed first"
                return
            buf += data
            for f in self._frames(buf):
                sid = f.stream_id
                if isinstance(f, hyperframe.frame.SettingsFrame) and "ACK" not in f.flags:
                    try:
                        sock.sendall(hyperframe.frame.SettingsFrame(0, flags=["ACK"]).serialize())
                    except OSError:
                        pass
                elif isinstance(f, hyperframe.frame.PingFrame) and "ACK" not in f.flags:
                    sock.sendall(hyperframe.frame.PingFrame(0, f.opaque_data,
                                                            flags=["ACK"]).serialize())
                elif isinstance(f, hyperframe.frame.HeadersFrame):
                    hs = dict(self.dec.decode(f.data))
                    if sid in self.open and self.open[sid] is None:
                        self.open[sid] = int(hs.get(":status", hs.get(b":status", 0)))
                    if self.grpc and sid in self.open and "grpc-status" in hs and \
                            hs["grpc-status"] != "0":
                        self.open[sid] = "grpc-status %s" % hs["grpc-status"]
                elif isinstance(f, hyperframe.frame.DataFrame) and f.flow_controlled_length:
                    try:  # best effort: the server may have closed already
                        sock.sendall(hyperframe.frame.WindowUpdateFrame(
                            sid, window_increment=f.flow_controlled_length).serialize())
                    except OSError:
                        pass
                elif isinstance(f, hyperframe.frame.RstStreamFrame):
                    code = h2.errors._error_code_from_int(f.error_code)
                    if sid == probe_sid:
                        self.probe = code
                    elif sid in self.open:
                        self.open.pop(sid)
                        if code == h2.errors.ErrorCodes.REFUSED_STREAM:
                            self.refused.append(sid)
                        else:
                            self.lost.append((sid, "reset %r" % code))
                elif isinstance(f, hyperframe.frame.GoAwayFrame):
                    self.goaway = (time.time(), f.last_stream_id,
                                   h2.errors._error_code_from_int(f.error_code))
                    for s in [s for s in self.open if s > f.last_stream_id]:
                        self.open.pop(s)
                        self.refused.append(s)
                    if self.probe_after_goaway and probe_sid is None:
                        probe_sid = self._open_stream(sock)
                if "END_STREAM" in f.flags and sid in self.open:
                    self.answered.append((sid, self.open.pop(sid), time.time()))


class H1Tracker(threading.Thread):
    """Sends GET path back to back on keep-alive connections (a new one
    after `Connection: close`) until told to stop or refused; records each
    request: answered (with its Connection header and send time), refused
    (connection refused: never accepted) or lost (sent, no answer)."""

    def __init__(self, port, path, token):
        super().__init__(daemon=True)
        self.port, self.path, self.token = port, path, token
        self.stop = threading.Event()
        self.answered = []  # (sent time, status, connection header)
        self.refused = 0
        self.lost = []

    def run(self):
        c = None
        while not self.stop.is_set():
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                try:
                    c.connect()
                except OSError:
                    self.refused += 1
                    return  # the listener is closed: the drain has begun
            t = time.time()
            try:
                c.request("GET", self.path, headers={"Authorization": "Bearer " + self.token})
            except OSError as e:
                # Not sent whole: the server had closed the connection.
                self.lost.append((t, "send failed %r" % e))
                c.close()
                c = None
                continue
            try:
                r = c.getresponse()
                r.read()
            except (OSError, http.client.HTTPException) as e:
                self.lost.append((t, repr(e)))
                c.close()
                c = None
                continue
            conn_hdr = (r.getheader("Connection") or "").lower()
            self.answered.append((t, r.status, conn_hdr))
            if conn_hdr == "close":
                c.close()
                c = None
        if c is not None:
            c.close()


def h2load(port, token, path, seconds):
    return subprocess.Popen(
        ["h2load", "-c", "10", "-m", "10", "-D", str(seconds), "-H",
         "authorization: Bearer " + token, "http://127.0.0.1:%d%s" % (port, path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def h2load_figures(out):
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    expect(m and s, "h2load output not understood:\n" + out[-2000:])
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    fig = dict(zip(keys, map(int, m.groups())))
    fig["answered"] = sum(map(int, s.groups()))
    fig["5xx"] = int(s.group(4))
    return fig


class Timed(threading.Thread):
    """GETs path in a loop on one keep-alive connection (a new one when
    needed) until stopped, recording (start, seconds, status) per request;
    status 0: no HTTP answer (an error, kept in .errors)."""

    def __init__(self, port, path, token=None, pause=0.0):
        super().__init__(daemon=True)
        self.port, self.path, self.token, self.pause = port, path, token, pause
        self.stop = threading.Event()
        self.seen = []
        self.errors = []

    def run(self):
        c = None
        hdrs = {"Authorization": "Bearer " + self.token} if self.token else {}
        while not self.stop.is_set():
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            t = time.time()
            try:
                c.request("GET", self.path, headers=hdrs)
                r = c.getresponse()
                r.read()
                self.seen.append((t, time.time() - t, r.status, r.getheader("Retry-After")))
                if (r.getheader("Connection") or "").lower() == "close":
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException) as e:
                self.seen.append((t, time.time() - t, 0, None))
                self.errors.append(repr(e))
                c.close()
                c = None
            if self.pause:
                time.sleep(self.pause)
            elif self.seen[-1][2] == 503:
                time.sleep(0.01)  # a client that heeds Retry-After, a little
        if c is not None:
            c.close()


class CurlProbe(threading.Thread):
    """GETs each path in turn with curl (one process per round, its
    connection kept alive across the paths) until stopped; the times are
    curl's own (time_total), free of this Python process's scheduling.
    .seen: (path, (start, seconds, status))."""

    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port, self.paths = port, paths
        self.stop = threading.Event()
        self.seen = []

    def run(self):
        urls = ["http://127.0.0.1:%d%s" % (self.port, p) for p in self.paths]
        while not self.stop.is_set():
            t = time.time()
            args = ["curl", "-s", "-m", "5", "-w", "%{time_total} %{http_code}\\n"]
            for u in urls:
                args += ["-o", "/dev/null", u]
            p = subprocess.run(args, capture_output=True, text=True)
            lines = p.stdout.split()
            for i, path in enumerate(self.paths):
                try:
                    secs, code = float(lines[2 * i]), int(lines[2 * i + 1])
                except (IndexError, ValueError):
                    secs, code = 5.0, 0
                self.seen.append((path, (t, secs, code)))
            time.sleep(0.05)


def http_get_auth(port, path, token):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body
    except (OSError, http.client.HTTPException):
        return 0, b""


def proc_threads_rss(pid):
    th = rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                th = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return th, rss


class Flood:
    """n_idle connections that send nothing and n_slow that send part of a
    request line then one byte a second, all from source address
    127.0.0.2; counts the ones the server closed."""

    def __init__(self, port, n_idle, n_slow, n_h2=0):
        self.port, self.n_idle, self.n_slow, self.n_h2 = port, n_idle, n_slow, n_h2
        self.socks = []
        self.slow = []
        self.stop = threading.Event()

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.2", 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return None
        return s

    def start(self):
        for i in range(self.n_idle):
            s = self._open()
            if s is not None:
                if i < self.n_h2:  # an idle h2c connection: preface, no stream
                    try:
                        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
                                  hyperframe.frame.SettingsFrame(0).serialize())
                    except OSError:
                        pass
                self.socks.append(s)
        for _ in range(self.n_slow):
            s = self._open()
            if s is None:
                continue
            try:
                s.sendall(b"GET /")
            except OSError:
                pass
            self.slow.append(s)
        self.t = threading.Thread(target=self._trickle, daemon=True)
        self.t.start()

    def _trickle(self):
        while not self.stop.wait(1.0):
            for s in self.slow:
                try:
                    s.send(b"a", socket.MSG_DONTWAIT)
                except OSError:
                    pass

    def alive(self):
        n = 0
        for s in self.socks + self.slow:
            s.setblocking(False)  # a timeout would make recv wait for data first
            try:
                while s.recv(65536):  # what the server sent (h2c SETTINGS), then EOF?
                    pass
            except BlockingIOError:
                n += 1  # no EOF: still open
            except OSError:
                pass
        return n

    def close(self):
        self.stop.set()
        for s in self.socks + self.slow:
            s.close()


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))] if xs else 0


def timed_gets(port, path, n, headers=None):
    """n GETs, each on a new connection (a new client gets through too);
    returns (latencies, statuses)."""
    lat, sts = [], []
    for _ in range(n):
        t = time.time()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            r.read()
            c.close()
            sts.append(r.status)
        except (OSError, http.client.HTTPException) as e:
            sts.append(repr(e))
        lat.append(time.time() - t)
    return lat, sts


def bff_json(port, method, path, token, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=hdrs)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw or b"{}")
    except ValueError:
        return r.status, {"raw": raw[:200]}


def put_url(url, headers, data):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    hdrs = {k: v for k, v in (headers or {}).items() if k.lower() not in ("content-length", "host")}
    c.request("PUT", u.path + ("?" + u.query if u.query else ""), body=data, headers=hdrs)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def s3_req(w, port, method, key, body=b""):
    """A request to a data port signed with the storage access key (header
    SigV4, botocore). Returns (status, body)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    url = "http://127.0.0.1:%d/kumo/%s" % (port, key)
    req = AWSRequest(method=method, url=url, data=body, headers={})
    S3SigV4Auth(Credentials(w.st.storage_access_key_id, w.st.storage_secret), "s3",
                "us-east-1").add_auth(req)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, "/kumo/" + key, body=body or None, headers=dict(req.headers.items()))
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data
