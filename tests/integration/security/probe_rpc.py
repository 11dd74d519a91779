#!/usr/bin/python3
"""Security probe of the RPC port (issue 14, finding 2), against a real
kumo-users (with its MariaDB, from scripts/kumo_stack.py):

- an unauthenticated call to a non-public method is refused from its
  headers alone, before its body is read or decoded: GetUser with a body
  the decoder would refuse answers unauthenticated, not invalid_argument, in
  Connect JSON, Connect proto, Connect GET, gRPC (proto and JSON) and
  gRPC-Web; the answer arrives before a byte of a 4 MiB body is sent, and a
  client sending it anyway is reset (NO_ERROR) after at most 64 KiB more,
  so it cannot keep the server reading;
- a valid token still works with the same calls (and the same bad bodies
  then reach the decoder: invalid_argument);
- an authenticated client cannot make one connection hold more request
  bytes than KUMO_MAX_CONNECTION_BUFFER across its streams;
- KUMO_MAX_CONNECTIONS: a flood of idle connections cannot lock others
  out: at the limit the connection idle the longest is closed to make room
  (kumo_connections_evicted_total counts them), the port never holds more
  than its limit, and a legitimate client is served during the flood;
  KUMO_MAX_CONNECTIONS_PER_ADDRESS: one client address alone cannot fill
  the port: its own longest-idle connections make room for its new ones
  (loopback sources 127.0.0.x are distinct addresses).

Usage: probe_rpc.py BUILD_DIR
Prints TAP lines "ok - security: rpc: ..." / "not ok - security: rpc: ..."
(with "#" details) and ends with "# probe_rpc: done". PROBE_KEEP=1 keeps the
work directory.
"""
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402

USERS = "/kumo.users.v1.UserService/"
MIB = 1024 * 1024
passed = failed = 0


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - security: rpc: " + name, flush=True)
    else:
        failed += 1
        print("not ok - security: rpc: " + name, flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:30]:
                print("#   " + line, flush=True)
    return ok


def note(msg):
    print("# " + msg, flush=True)


def envelope(msg, flags=0):
    return struct.pack(">BI", flags, len(msg)) + msg


class Stream:
    def __init__(self, sid):
        self.sid = sid
        self.status = None
        self.headers = {}
        self.trailers = {}
        self.body = b""
        self.ended = False
        self.reset = None  # error code of a RST_STREAM from the server
        self.answered_at = None

    def done(self):
        return self.ended or self.reset is not None

    def grpc_status(self):
        v = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        if v is None and b"grpc-status:" in self.body:  # gRPC-Web trailer frame
            text = self.body[self.body.index(b"grpc-status:"):].split(b"\r\n")[0]
            v = text.split(b":")[1].strip().decode()
        return v


class H2Client:
    """A small HTTP/2 client over one socket (python3-h2): enough to send a
    request's headers and body separately and to see exactly what the
    server answers, and when."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.streams = {}
        self.closed = False
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def start(self, method, path, headers, end_stream):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "http"), (":authority", "127.0.0.1"),
                (":path", path)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=end_stream)
        self.flush()
        st = Stream(sid)
        st.started_at = time.monotonic()
        self.streams[sid] = st
        return st

    def pump(self, timeout):
        """Reads once (up to timeout s) and handles the events."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return
        for ev in self.conn.receive_data(data):
            st = self.streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived) and st:
                st.headers = dict(ev.headers)
                st.status = int(st.headers.get(":status", "0"))
                st.answered_at = time.monotonic()
            elif isinstance(ev, h2.events.TrailersReceived) and st:
                st.trailers = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                if st:
                    st.body += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and st:
                st.ended = True
            elif isinstance(ev, h2.events.StreamReset) and st:
                st.reset = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.closed = True
        self.flush()

    def wait(self, st, timeout=15.0, until=None):
        """Pumps until the stream is done (or until(st) holds)."""
        end = time.monotonic() + timeout
        cond = until or (lambda s: s.done())
        while not cond(st) and not self.closed and time.monotonic() < end:
            self.pump(max(0.01, end - time.monotonic()))
        return st

    def send_body(self, st, body, end_stream=True, timeout=30.0):
        """Sends as much of body as flow control allows, reading meanwhile;
        stops when the server resets the stream. Returns bytes sent."""
        sent = 0
        end = time.monotonic() + timeout
        while sent < len(body) and time.monotonic() < end:
            if st.reset is not None or self.closed:
                break
            try:
                window = self.conn.local_flow_control_window(st.sid)
            except (h2.exceptions.StreamClosedError, KeyError):
                break
            n = min(window, self.conn.max_outbound_frame_size, len(body) - sent)
            if n <= 0:
                self.pump(0.5)
                continue
            try:
                self.conn.send_data(st.sid, body[sent:sent + n],
                                    end_stream=end_stream and sent + n == len(body))
            except h2.exceptions.StreamClosedError:
                break
            self.flush()
            sent += n
            self.pump(0.0001)
        if sent == len(body) == 0 and end_stream:
            self.conn.end_stream(st.sid)
            self.flush()
        return sent

    def call(self, method, path, headers, body, timeout=15.0):
        st = self.start(method, path, headers, end_stream=body is None)
        if body is not None:
            self.send_body(st, body)
        return self.wait(st, timeout)


def connect_code(st):
    try:
        return json.loads(st.body.decode() or "{}").get("code")
    except ValueError:
        return None


def describe(st):
    return "status %s headers %s trailers %s body %r reset %s" % (
        st.status, {k: v for k, v in st.headers.items() if k != "date"}, st.trailers,
        st.body[:300], st.reset)


def auth_hdr(token):
    return [("authorization", "Bearer " + token)] if token else []


# ---- the probes ----------------------------------------------------------------------------

# (name, method, path suffix, headers, body, expect) for a GetUser the decoder would refuse
def bad_getuser_cases():
    json_body = b'{"userId":"x"}'  # unknown field
    get_q = urllib.parse.urlencode({"encoding": "json", "message": json_body.decode()})
    return [
        ("Connect JSON", "POST", "GetUser", [("content-type", "application/json")], json_body,
         "connect"),
        ("Connect proto", "POST", "GetUser", [("content-type", "application/proto")],
         b"\xff\xff\xff", "connect"),
        ("Connect GET", "GET", "GetUser?" + get_q, [], None, "connect"),
        ("gRPC", "POST", "GetUser", [("content-type", "application/grpc"), ("te", "trailers")],
         envelope(b"\xff\xff\xff"), "grpc"),
        ("gRPC JSON", "POST", "GetUser",
         [("content-type", "application/grpc+json"), ("te", "trailers")], envelope(json_body),
         "grpc"),
        ("gRPC-Web", "POST", "GetUser", [("content-type", "application/grpc-web+proto")],
         envelope(b"\xff\xff\xff"), "grpc"),
    ]


def probe_unauthenticated_before_decode(port, token):
    c = H2Client(port)
    try:
        for name, method, path, hdrs, body, kind in bad_getuser_cases():
            st = c.call(method, USERS + path, hdrs, body)
            if kind == "connect":
                ok = st.status == 401 and connect_code(st) == "unauthenticated"
            else:
                ok = st.status == 200 and st.grpc_status() == "16"
            report(ok, "unauthenticated GetUser with an undecodable body is unauthenticated (%s)"
                   % name, describe(st))
            # The same call with a valid token reaches the decoder: invalid_argument.
            st = c.call(method, USERS + path, hdrs + auth_hdr(token), body)
            if kind == "connect":
                ok = st.status == 400 and connect_code(st) == "invalid_argument"
            else:
                ok = st.status == 200 and st.grpc_status() == "3"
            report(ok, "with a valid token the same body is decoded: invalid_argument (%s)" % name,
                   describe(st))
    finally:
        c.close()


def probe_valid_token_works(st_, port, token, user_id):
    M = st_.messages()
    req = M["kumo.users.v1.GetUserRequest"](id=user_id).SerializeToString()
    jreq = json.dumps({"id": user_id}).encode()
    c = H2Client(port)
    try:
        cases = [
            ("Connect JSON", "POST", "GetUser", [("content-type", "application/json")], jreq),
            ("Connect proto", "POST", "GetUser", [("content-type", "application/proto")], req),
            ("Connect GET", "GET", "GetUser?" + urllib.parse.urlencode(
                {"encoding": "json", "message": jreq.decode()}), [], None),
            ("gRPC", "POST", "GetUser",
             [("content-type", "application/grpc"), ("te", "trailers")], envelope(req)),
            ("gRPC-Web", "POST", "GetUser", [("content-type", "application/grpc-web+proto")],
             envelope(req)),
        ]
        for name, method, path, hdrs, body in cases:
            st = c.call(method, USERS + path, hdrs + auth_hdr(token), body)
            ok = st.status == 200 and st.reset in (None, 0) and user_id.encode() in st.body
            if name.startswith("gRPC"):
                ok = ok and st.grpc_status() == "0"
            report(ok, "a valid token still works (%s GetUser)" % name, describe(st))
    finally:
        c.close()
    # And through a real gRPC client (grpcio).
    try:
        resp = st_.call("users", "kumo.users.v1.UserService", "GetUser",
                        M["kumo.users.v1.GetUserRequest"](id=user_id), token=token)
        report(resp.user.id == user_id, "a valid token still works (grpcio GetUser)")
    except Exception as e:  # noqa: BLE001
        report(False, "a valid token still works (grpcio GetUser)", e)


def probe_big_body_refused_unread(port, token):
    big = b"\x00" * (4 * MIB)
    for name, ctype, body in (("Connect proto", "application/proto", big),
                              ("gRPC", "application/grpc", envelope(big[:4 * MIB - 5]))):
        c = H2Client(port)
        try:
            # Headers only: the answer must come before any of the body...
            st = c.start("POST", USERS + "CreateUser",
                         [("content-type", ctype), ("te", "trailers")], end_stream=False)
            c.wait(st, 10.0, until=lambda s: s.status is not None and s.ended)
            if name == "gRPC":
                refused = st.status == 200 and st.grpc_status() == "16"
            else:
                refused = st.status == 401 and connect_code(st) == "unauthenticated"
            ms = (st.answered_at - st.started_at) * 1000 if st.answered_at else -1
            report(refused, "unauthenticated 4 MiB CreateUser is answered from its headers, "
                   "before a byte of its body is sent (%s)" % name, describe(st))
            # ...and a client sending it anyway is reset (NO_ERROR) long before its end.
            sent = c.send_body(st, body, timeout=10.0)
            c.wait(st, 5.0, until=lambda s: s.reset is not None)
            ok = st.reset == 0 and sent < len(body) // 2
            report(ok, "the rest of the refused body is cut short by RST_STREAM(NO_ERROR) (%s)"
                   % name, "%s; body bytes the client could still send: %d" % (describe(st), sent))
            note("%s: unauthenticated answer %.1f ms after the headers, before the body; then "
                 "RST_STREAM code %s after %d of %d body bytes" % (name, ms, st.reset, sent,
                                                                   len(body)))
            # The connection itself still serves an authenticated call.
            st2 = c.call("POST", USERS + "GetUser",
                         [("content-type", "application/json")] + auth_hdr(token), b'{"id":"0"}')
            report(st2.status is not None and st2.status != 401,
                   "the connection still serves after the reset (%s)" % name, describe(st2))
        finally:
            c.close()
    # A client that sends its body eagerly, without waiting for an answer,
    # gets no further than what it had in flight plus the server's 64 KiB of
    # grace before the reset stops it.
    c = H2Client(port)
    try:
        st = c.start("POST", USERS + "CreateUser", [("content-type", "application/proto")],
                     end_stream=False)
        sent = c.send_body(st, big, timeout=10.0)
        c.wait(st, 5.0, until=lambda s: s.reset is not None)
        ok = st.status == 401 and st.reset == 0 and sent < len(big) // 2
        report(ok, "an eager unauthenticated 4 MiB body is cut short by the reset",
               "%s; sent %d of %d" % (describe(st), sent, len(big)))
        note("eager client: %d of %d body bytes sent before the reset stopped it" %
             (sent, len(big)))
    finally:
        c.close()
    # With a valid token the same 4 MiB body is read whole (then refused by
    # the decoder or the size limit: not unauthenticated).
    c = H2Client(port)
    try:
        st = c.start("POST", USERS + "CreateUser",
                     [("content-type", "application/proto")] + auth_hdr(token), end_stream=False)
        sent = c.send_body(st, big[:4 * MIB - 64], timeout=60.0)
        c.wait(st, 30.0)
        ok = sent == 4 * MIB - 64 and st.status is not None and st.status != 401
        report(ok, "with a valid token a 4 MiB body is read whole",
               "%s; sent %d" % (describe(st), sent))
    finally:
        c.close()


def probe_connection_buffer(port, token):
    """KUMO_MAX_MESSAGE_SIZE=64KiB, KUMO_MAX_CONNECTION_BUFFER=128KiB: three
    streams each holding 60 KB of an unfinished message on one connection."""
    c = H2Client(port)
    try:
        part = struct.pack(">BI", 0, 64000) + b"\x00" * (60000 - 5)
        streams = []
        for _ in range(3):
            st = c.start("POST", USERS + "GetUser",
                         [("content-type", "application/grpc"), ("te", "trailers")] +
                         auth_hdr(token), end_stream=False)
            c.send_body(st, part, end_stream=False, timeout=10.0)
            streams.append(st)
        c.wait(streams[2], 10.0)
        for _ in range(5):
            c.pump(0.05)
        first_open = not streams[0].done() and not streams[1].done()
        third = streams[2]
        ok = first_open and third.grpc_status() == "8"
        report(ok, "one connection cannot hold more request bytes than "
               "KUMO_MAX_CONNECTION_BUFFER across its streams (resource_exhausted)",
               "third: %s; first two open: %s" % (describe(third), first_open))
        # Ending the two open streams frees the budget: the connection serves.
        for st in streams[:2]:
            c.conn.reset_stream(st.sid)
        c.flush()
        st = c.call("POST", USERS + "GetUser",
                    [("content-type", "application/json")] + auth_hdr(token), b'{"id":"0"}')
        report(st.status is not None and st.status not in (401, 429),
               "the connection serves again once its streams end", describe(st))
    finally:
        c.close()


def metric(admin_port, name):
    status, body = kumo_stack.http_get(admin_port, "/metrics")
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return 0.0


def open_idle(port, src=None):
    """Opens a connection from source address src (loopback 127.0.0.x: each
    is a distinct client address to the server) speaking the HTTP/2 preface.
    Returns the socket once the server's SETTINGS arrive (admitted), or None
    when the server closes it (refused)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    except OSError:
        s.close()
        return None
    try:
        data = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except socket.timeout:
        s.close()
        raise
    if not data:
        s.close()
        return None
    return s


class SourceClient(H2Client):
    """H2Client from a given loopback source address."""

    def __init__(self, port, src, timeout=5.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((src, 0))
        self.sock.connect(("127.0.0.1", port))
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.streams = {}
        self.closed = False
        self.flush()


def legit_call(d, token, user_id, src):
    """One GetUser from src on a new connection: (served, details)."""
    c = None
    try:
        c = SourceClient(d.rpc_port, src)
        st = c.call("POST", USERS + "GetUser", [("content-type", "application/json")] +
                    auth_hdr(token), json.dumps({"id": user_id}).encode(), timeout=5.0)
        return st.status == 200 and user_id.encode() in st.body, describe(st)
    except OSError as e:
        return False, "connection: %s" % e
    finally:
        if c:
            c.close()


def still_open(sockets):
    """The sockets the server has not closed (EOF or reset)."""
    alive = []
    for s in sockets:
        s.setblocking(False)
        try:
            while s.recv(4096):  # frames (a SETTINGS ack) before any EOF
                pass
        except BlockingIOError:
            alive.append(s)  # nothing more to read, no EOF: open
        except OSError:
            pass  # reset
        finally:
            s.setblocking(True)
    return alive


def wait_open_at_most(d, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while metric(d.admin_port, "kumo_connections_open") > n and time.monotonic() < deadline:
        time.sleep(0.05)
    return metric(d.admin_port, "kumo_connections_open")


def probe_connection_limit(d, token, user_id, limit, per_address, extra):
    evicted_total = "kumo_connections_evicted_total"
    held = []
    try:
        # limit+extra idle connections from four addresses (each under its
        # own limit): each is admitted, the longest-idle ones closed to make
        # room, so the port holds `limit` and the flood locks nobody out.
        before = metric(d.admin_port, evicted_total)
        admitted = 0
        t0 = time.monotonic()
        srcs = ["127.0.0.%d" % i for i in (2, 3, 4, 5)]
        for i in range(limit + extra):
            s = open_idle(d.rpc_port, srcs[i % len(srcs)])
            if s is not None:
                admitted += 1
                held.append(s)
        took = time.monotonic() - t0
        opened = wait_open_at_most(d, limit)
        alive = still_open(held)
        after = metric(d.admin_port, evicted_total)
        ok = admitted == limit + extra and opened <= limit and len(alive) <= limit and \
            after - before >= extra
        report(ok, "%d idle connections against KUMO_MAX_CONNECTIONS=%d: each admitted, the "
               "longest idle closed to make room, never more than the limit open" %
               (limit + extra, limit),
               "admitted %d, open %g, still open here %d, %s %+g" % (
                   admitted, opened, len(alive), evicted_total, after - before))
        report(all(s in alive for s in held[-(limit // 2):]),
               "the newest connections are the ones kept (the oldest idle went first)")
        note("port limit: %d admitted in %.2f s; %d kept; %s +%g" % (
            admitted, took, len(alive), evicted_total, after - before))
        served, why = legit_call(d, token, user_id, "127.0.0.6")
        report(served, "a legitimate client is served while the flood holds the port", why)
        status, _ = kumo_stack.http_get(d.admin_port, "/healthz")
        report(status == 200, "the admin port answers during the flood")
        for s in held:
            s.close()
        held = []
        wait_open_at_most(d, 0, 20)
        # One address alone cannot take the port: KUMO_MAX_CONNECTIONS_PER_ADDRESS.
        others = [open_idle(d.rpc_port, "127.0.0.9") for _ in range(3)]
        held = [s for s in others if s is not None]
        mine = []
        for _ in range(per_address + extra):
            s = open_idle(d.rpc_port, "127.0.0.7")
            if s is not None:
                mine.append(s)
        wait_open_at_most(d, per_address + len(held))
        time.sleep(0.2)  # the last closes' FINs reach us
        alive_mine = still_open(mine)
        alive_others = still_open(held)
        held += mine
        report(len(alive_mine) <= per_address and len(alive_others) == len(others) == 3,
               "%d idle connections from one address against KUMO_MAX_CONNECTIONS_PER_ADDRESS="
               "%d: it keeps at most its share, and its flood closes none of another address's"
               % (per_address + extra, per_address),
               "its open %d, the other address's open %d of %d" % (
                   len(alive_mine), len(alive_others), len(others)))
        note("address limit: %d of %d kept; the other address kept %d" % (
            len(alive_mine), len(mine), len(alive_others)))
        served, why = legit_call(d, token, user_id, "127.0.0.8")
        report(served, "another address is served while one floods", why)
    finally:
        for s in held:
            s.close()


def main():
    if len(sys.argv) != 2:
        print("usage: probe_rpc.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="kumo-probe-rpc-")
    st = kumo_stack.Stack(ROOT, build, work)
    try:
        t0 = time.monotonic()
        st.up(services=("users",))
        users = st.daemons["users"]
        note("kumo-users up in %.1f s (rpc port %d)" % (time.monotonic() - t0, users.rpc_port))
        login = st.login(st.demo_tenant, st.demo_email, st.demo_password)
        token, user_id = login.access_token, login.user.id
        for name, fn in (
                ("unauthenticated before decode",
                 lambda: probe_unauthenticated_before_decode(users.rpc_port, token)),
                ("valid token", lambda: probe_valid_token_works(st, users.rpc_port, token, user_id)),
                ("4 MiB body", lambda: probe_big_body_refused_unread(users.rpc_port, token))):
            try:
                fn()
            except Exception:  # noqa: BLE001
                report(False, "probe %s ran" % name, traceback.format_exc())
        limit, per_address, extra = 40, 30, 50
        capped = st.start("users", name="users-capped", env={
            "KUMO_MAX_CONNECTIONS": str(limit),
            "KUMO_MAX_CONNECTIONS_PER_ADDRESS": str(per_address),
            "KUMO_MAX_MESSAGE_SIZE": "64KiB", "KUMO_MAX_CONNECTION_BUFFER": "128KiB"})
        for name, fn in (
                ("connection buffer", lambda: probe_connection_buffer(capped.rpc_port, token)),
                ("connection limit",
                 lambda: probe_connection_limit(capped, token, user_id, limit, per_address,
                                                extra))):
            try:
                fn()
            except Exception:  # noqa: BLE001
                report(False, "probe %s ran" % name, traceback.format_exc())
        for d in (capped, users):
            code = d.stop()
            report(code == 0, "kumo-users (%s) exits 0 on SIGTERM" % d.name, "exit %s" % code)
            log = d.log_text()
            bad = [ln for ln in log.splitlines() if "ERROR: AddressSanitizer" in ln or
                   "runtime error:" in ln or "LeakSanitizer" in ln]
            report(not bad, "no sanitizer reports in the %s log" % d.name, "\n".join(bad[:10]))
            report(token not in log, "no access token in the %s log" % d.name)
    except Exception:  # noqa: BLE001
        report(False, "stack up", traceback.format_exc())
    finally:
        try:
            st.down()
        except Exception:  # noqa: BLE001
            pass
        if os.environ.get("PROBE_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            note("work directory kept: " + work)
    note("%d passed, %d failed" % (passed, failed))
    print("# probe_rpc: done", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
