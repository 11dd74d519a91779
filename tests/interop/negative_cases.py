#!/usr/bin/python3
"""Protocol negative cases against kumo-echo, over raw HTTP/2 (python3-h2).

Usage: negative_cases.py HOST:PORT

The expectations follow the Connect protocol spec, the gRPC HTTP/2 spec and
what the Connect conformance suite checks. Every request goes on a fresh
h2c connection, so one broken exchange cannot hide the next. Prints one TAP
line per case ("ok - CASE"), "# note:" lines for behaviour the specs leave
open; exits 0 when every case passed, 1 otherwise.
"""

import base64
import gzip
import json
import socket
import struct
import sys
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
import h2.exceptions

ECHO = "/kumo.test.v1.EchoService/Echo"
SLEEP = "/kumo.test.v1.EchoService/Sleep"
LOOKUP = "/kumo.test.v1.EchoService/Lookup"
MIB = 1024 * 1024
LIMIT = 4 * MIB
TIMEOUT = 10.0

failures = 0


def report(ok, name, diag=None):
    global failures
    print(("ok - " if ok else "not ok - ") + name, flush=True)
    if not ok:
        failures += 1
        if diag:
            for line in str(diag).splitlines():
                print("#   " + line, flush=True)


def note(text):
    print("# note: " + text, flush=True)


class Response:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.trailers = {}
        self.reset = None  # RST_STREAM error code, if the server reset
        self.goaway = None
        self.error = None  # socket / protocol trouble on our side
        self.done = False

    def describe(self):
        return "HTTP %s headers=%r trailers=%r reset=%r goaway=%r error=%r body=%r" % (
            self.status, self.headers, self.trailers, self.reset, self.goaway,
            self.error, self.body[:300])


class Session:
    """One h2c connection that can carry several streams."""

    def __init__(self, hostport, timeout=TIMEOUT):
        host, port = hostport.rsplit(":", 1)
        self.hostport = hostport
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(64 * MIB)
        self.streams = {}  # stream id -> Response
        self.pending = {}  # stream id -> body bytes not sent yet
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def start(self, method, path, headers, body=b""):
        """Opens a stream; its body goes out as flow control allows."""
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "http"), (":authority", self.hostport),
                (":path", path)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=(len(body) == 0))
        self.streams[sid] = Response()
        if body:
            self.pending[sid] = memoryview(body)
        self.push()
        return sid

    def push(self):
        for sid, rest in list(self.pending.items()):
            resp = self.streams[sid]
            while len(rest) and not resp.done:
                window = min(self.conn.local_flow_control_window(sid),
                             self.conn.max_outbound_frame_size)
                if window <= 0:
                    break
                chunk, rest = rest[:window], rest[window:]
                self.conn.send_data(sid, bytes(chunk), end_stream=(len(rest) == 0))
            if len(rest) == 0 or resp.done:
                del self.pending[sid]
            else:
                self.pending[sid] = rest
        self.flush()

    def reset(self, sid, code=8):
        """RST_STREAM (8 = CANCEL)."""
        self.conn.reset_stream(sid, error_code=code)
        self.pending.pop(sid, None)
        self.streams[sid].done = True
        self.flush()

    def pump(self, until, deadline):
        """Reads events until until() is true or the monotonic deadline passes."""
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return until()
            if not data:
                for r in self.streams.values():
                    if not r.done:
                        r.error, r.done = "connection closed", True
                return until()
            for ev in self.conn.receive_data(data):
                self.event(ev)
            self.push()
        return True

    def event(self, ev):
        r = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ConnectionTerminated):
            for x in self.streams.values():
                if not x.done:
                    x.goaway, x.done = ev.error_code, True
        elif r is None:
            return
        elif isinstance(ev, h2.events.ResponseReceived):
            r.headers = dict(ev.headers)
            r.status = int(r.headers.get(":status", "0"))
        elif isinstance(ev, h2.events.DataReceived):
            r.body += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            r.trailers = dict(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            r.done = True
        elif isinstance(ev, h2.events.StreamReset):
            r.reset, r.done = ev.error_code, True

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except (OSError, h2.exceptions.ProtocolError):
            pass
        self.sock.close()


def exchange(hostport, method, path, headers, body=b"", timeout=TIMEOUT):
    """Sends one request on a fresh connection and collects the answer."""
    try:
        sess = Session(hostport, timeout)
    except OSError as e:
        resp = Response()
        resp.error = "connect: %s" % e
        return resp
    try:
        sid = sess.start(method, path, headers, body)
        resp = sess.streams[sid]
        if not sess.pump(lambda: resp.done, time.monotonic() + timeout):
            resp.error = resp.error or "no complete answer within %.0f s" % timeout
    except (OSError, h2.exceptions.ProtocolError) as e:
        resp = sess.streams.get(locals().get("sid"), Response())
        resp.error = "%s: %s" % (type(e).__name__, e)
    finally:
        sess.close()
    return resp


# ---- Connect helpers --------------------------------------------------------

def connect_post(hp, body, ctype="application/json", path=ECHO, extra=(), method="POST"):
    hdrs = [("content-type", ctype), ("connect-protocol-version", "1")] + list(extra)
    return exchange(hp, method, path, hdrs, body)


def connect_get(hp, query, path=LOOKUP):
    return exchange(hp, "GET", path + "?" + query, [])


def connect_code(resp):
    try:
        return json.loads(resp.body.decode("utf-8")).get("code")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


HTTP_FOR_CODE = {"invalid_argument": 400, "unimplemented": 501, "resource_exhausted": 429,
                 "internal": 500, "deadline_exceeded": 504}


def expect_connect_error(name, resp, code, http=None):
    """An error answer: the HTTP status of `code` (or `http`) and a JSON body with it."""
    want_http = http if http is not None else HTTP_FOR_CODE[code]
    ok = resp.status == want_http and connect_code(resp) == code
    ct = resp.headers.get("content-type", "")
    if ok and not ct.startswith("application/json"):
        ok = False
    report(ok, name, "expected HTTP %d {\"code\":\"%s\"} (application/json), got %s" % (
        want_http, code, resp.describe()))


def expect_http(name, resp, status):
    report(resp.status == status, name, "expected HTTP %d, got %s" % (status, resp.describe()))


# ---- gRPC helpers -----------------------------------------------------------

def envelope(msg, flags=0):
    return struct.pack(">BI", flags, len(msg)) + msg


def grpc_post(hp, body, ctype="application/grpc", path=ECHO, extra=()):
    hdrs = [("content-type", ctype), ("te", "trailers")] + list(extra)  # = GRPC_HEADERS
    return exchange(hp, "POST", path, hdrs, body)


def grpc_status(resp):
    """grpc-status from the trailers, or from a trailers-only header block."""
    for src in (resp.trailers, resp.headers):
        if "grpc-status" in src:
            try:
                return int(src["grpc-status"])
            except ValueError:
                return None
    return None


def grpc_web_status(resp):
    """grpc-status from a gRPC-Web trailer frame in the body, or the headers."""
    body = resp.body
    while len(body) >= 5:
        flags, n = struct.unpack(">BI", body[:5])
        frame, body = body[5:5 + n], body[5 + n:]
        if flags & 0x80:
            for line in frame.decode("utf-8", "replace").split("\r\n"):
                k, _, v = line.partition(":")
                if k.strip().lower() == "grpc-status":
                    return int(v.strip())
    if "grpc-status" in resp.headers:
        return int(resp.headers["grpc-status"])
    return None


def expect_grpc_status(name, resp, codes, status_fn=grpc_status):
    codes = codes if isinstance(codes, (tuple, list)) else (codes,)
    got = status_fn(resp)
    report(got in codes, name, "expected grpc-status in %r, got %r; %s" % (
        list(codes), got, resp.describe()))
    return got


def echo_req(message):
    """EchoRequest{message} in protobuf wire format."""
    m = message.encode()
    return b"\x0a" + bytes([len(m)]) + m


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def sleep_req(ms):
    """SleepRequest{duration_ms} in protobuf wire format."""
    return b"\x08" + varint(ms)


GRPC_HEADERS = [("content-type", "application/grpc"), ("te", "trailers")]
GRPC_WEB_HEADERS = [("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1")]


def alive(hp, name):
    resp = grpc_post(hp, envelope(echo_req("alive")))
    ok = resp.status == 200 and grpc_status(resp) == 0 and b"alive" in resp.body
    report(ok, name + " (server still answers)", resp.describe())


# ---- cases ------------------------------------------------------------------

def connect_cases(hp):
    p = "connect"
    r = connect_post(hp, b'{"message":"x"}', method="PUT")
    expect_http(p + "/PUT -> 405", r, 405)
    if r.status == 405:
        note("PUT 405 Allow: %r" % r.headers.get("allow"))
    for path, what in (("/kumo.test.v1.EchoService/NoSuchMethod", "unknown method"),
                       ("/no.such.v1.Service/Echo", "unknown service")):
        r = connect_post(hp, b"{}", path=path)
        expect_connect_error(p + "/%s -> 404 unimplemented" % what, r, "unimplemented", 404)
    expect_http(p + "/content-type text/plain -> 415",
                connect_post(hp, b"hello", ctype="text/plain"), 415)
    expect_http(p + "/streaming content-type application/connect+json on unary -> 415",
                connect_post(hp, envelope(b"{}"), ctype="application/connect+json"), 415)
    r = connect_post(hp, b"\x1f\x8b junk", extra=[("content-encoding", "br")])
    expect_connect_error(p + "/content-encoding br -> unimplemented", r, "unimplemented")
    if r.status == 501:
        note("content-encoding br answer accept-encoding: %r" % r.headers.get("accept-encoding"))
    expect_connect_error(p + "/malformed protobuf -> invalid_argument",
                         connect_post(hp, b"\x0a\x05ab", ctype="application/proto"),
                         "invalid_argument")
    expect_connect_error(p + "/malformed JSON -> invalid_argument",
                         connect_post(hp, b'{"message":'), "invalid_argument")
    expect_connect_error(p + "/unknown JSON field -> invalid_argument",
                         connect_post(hp, b'{"message":"x","noSuchField":1}'), "invalid_argument")
    expect_connect_error(p + "/JSON field of the wrong type -> invalid_argument",
                         connect_post(hp, b'{"message":5}'), "invalid_argument")
    expect_connect_error(p + "/JSON not an object -> invalid_argument",
                         connect_post(hp, b'[1,2]'), "invalid_argument")
    # Size limit: a plain body over 4 MiB, and a small gzip that inflates past it.
    big = b"\x12" + b"\x80\x88\x80\x02" + b"x" * (LIMIT + 1024)  # payload field, 4 MiB + 1 KiB
    expect_connect_error(p + "/request over 4 MiB -> resource_exhausted",
                         connect_post(hp, big, ctype="application/proto"), "resource_exhausted")
    bomb = gzip.compress(b"\x12\x80\x80\x80\x03" + b"\0" * (6 * MIB))
    expect_connect_error(p + "/gzip inflating over 4 MiB -> resource_exhausted",
                         connect_post(hp, bomb, ctype="application/proto",
                                      extra=[("content-encoding", "gzip")]),
                         "resource_exhausted")
    connect_bad_gzip(hp, p)
    timeout_cases(hp, p)
    get_cases(hp, p)


def connect_bad_gzip(hp, p):
    # The spec names no code for a corrupt compressed body; connect-go answers
    # invalid_argument, connect-es internal. Either is an error, not a crash.
    r = connect_post(hp, b'{"message":"x"}', extra=[("content-encoding", "gzip")])
    code = connect_code(r)
    ok = code in ("invalid_argument", "internal") and r.status == HTTP_FOR_CODE.get(code)
    report(ok, p + "/content-encoding gzip on a body that is not gzip -> error", r.describe())
    if ok:
        note("corrupt gzip body answers %s" % code)


def timeout_cases(hp, p):
    for value in ("abc", "12345678901", "-5"):
        r = connect_post(hp, b'{"message":"t"}', extra=[("connect-timeout-ms", value)])
        code = connect_code(r)
        if r.status == 200:
            note("connect-timeout-ms %r is ignored (request served)" % value)
            report(True, p + "/malformed connect-timeout-ms %r -> invalid_argument or ignored" % value)
        else:
            expect_connect_error(p + "/malformed connect-timeout-ms %r -> invalid_argument or ignored"
                                 % value, r, "invalid_argument")
            if code == "invalid_argument":
                note("connect-timeout-ms %r answers invalid_argument" % value)


def get_cases(hp, p):
    g = p + "/GET"
    msg = urllib.parse.quote('{"key":"k1","kind":"KIND_FANCY"}')
    r = connect_get(hp, "connect=v1&encoding=json&message=" + msg)
    ok = r.status == 200 and json.loads(r.body or b"{}").get("value") == "value-of-k1"
    report(ok, g + " Lookup (control: a valid GET works)", r.describe())
    expect_http(g + " on Echo (not side-effect free) -> 405",
                connect_get(hp, "connect=v1&encoding=json&message=" + urllib.parse.quote('{"message":"x"}'),
                            path=ECHO), 405)
    expect_connect_error(g + " without message, encoding=json -> invalid_argument",
                         connect_get(hp, "connect=v1&encoding=json"), "invalid_argument")
    r = connect_get(hp, "connect=v1&encoding=proto")
    if r.status == 200:
        note("GET without message, encoding=proto is served as the empty message")
        report(r.headers.get("content-type") == "application/proto",
               g + " without message, encoding=proto -> empty message or invalid_argument",
               r.describe())
    else:
        expect_connect_error(g + " without message, encoding=proto -> empty message or invalid_argument",
                             r, "invalid_argument")
    expect_connect_error(g + " bad base64 -> invalid_argument",
                         connect_get(hp, "connect=v1&encoding=proto&base64=1&message=%21%21%21%21"),
                         "invalid_argument")
    expect_connect_error(g + " base64 that is not protobuf -> invalid_argument",
                         connect_get(hp, "connect=v1&encoding=proto&base64=1&message="
                                     + base64.urlsafe_b64encode(b"\x0a\x05ab").decode()),
                         "invalid_argument")
    expect_http(g + " without encoding -> 415", connect_get(hp, "connect=v1&message=%7B%7D"), 415)
    expect_http(g + " encoding=xml -> 415", connect_get(hp, "connect=v1&encoding=xml&message=%7B%7D"),
                415)
    expect_connect_error(g + " compression=br -> unimplemented",
                         connect_get(hp, "connect=v1&encoding=json&compression=br&message=%7B%7D"),
                         "unimplemented")
    expect_http(g + " with a body-style content-type only (no query) -> 415",
                exchange(hp, "GET", LOOKUP, [("content-type", "application/json")]), 415)


def grpc_cases(hp):
    p = "grpc"
    ok_msg = envelope(echo_req("x"))
    for path, what in (("/kumo.test.v1.EchoService/NoSuchMethod", "unknown method"),
                       ("/no.such.v1.Service/Echo", "unknown service")):
        r = grpc_post(hp, ok_msg, path=path)
        expect_grpc_status(p + "/%s -> grpc-status 12" % what, r, 12)
        if r.status != 200:
            note("grpc %s answers HTTP %s" % (what, r.status))
    r = grpc_post(hp, ok_msg, extra=[("grpc-encoding", "br")])
    expect_grpc_status(p + "/grpc-encoding br -> grpc-status 12", r, 12)
    note("grpc-encoding br answer grpc-accept-encoding: %r"
         % (r.headers.get("grpc-accept-encoding") or r.trailers.get("grpc-accept-encoding")))
    expect_grpc_status(p + "/compressed flag without grpc-encoding -> grpc-status 13",
                       grpc_post(hp, envelope(gzip.compress(echo_req("x")), flags=1)), 13)
    expect_grpc_status(p + "/compressed flag with grpc-encoding identity -> grpc-status 13",
                       grpc_post(hp, envelope(echo_req("x"), flags=1),
                                 extra=[("grpc-encoding", "identity")]), 13)
    expect_grpc_status(p + "/grpc-encoding gzip, flag set, body not gzip -> grpc-status 13 or 3",
                       grpc_post(hp, envelope(b"not gzip at all", flags=1),
                                 extra=[("grpc-encoding", "gzip")]), (13, 3))
    expect_grpc_status(p + "/malformed protobuf -> grpc-status 3",
                       grpc_post(hp, envelope(b"\x0a\x05ab")), 3)
    expect_grpc_status(p + "/malformed JSON (application/grpc+json) -> grpc-status 3",
                       grpc_post(hp, envelope(b'{"message":'), ctype="application/grpc+json"), 3)
    expect_grpc_status(p + "/unknown JSON field (application/grpc+json) -> grpc-status 3",
                       grpc_post(hp, envelope(b'{"nope":1}'), ctype="application/grpc+json"), 3)
    got = expect_grpc_status(p + "/envelope promising more bytes than sent -> grpc-status 3 or 13",
                             grpc_post(hp, struct.pack(">BI", 0, 100) + b"\x0a\x01x"), (3, 13))
    note("truncated envelope answers grpc-status %r" % got)
    got = expect_grpc_status(p + "/unary with zero messages -> grpc-status 12 or 13",
                             grpc_post(hp, b""), (12, 13))
    note("zero messages answer grpc-status %r" % got)
    alive(hp, p + "/after zero messages")
    got = expect_grpc_status(p + "/unary with two messages -> grpc-status 12 or 13",
                             grpc_post(hp, ok_msg + ok_msg), (12, 13))
    note("two messages answer grpc-status %r" % got)
    alive(hp, p + "/after two messages")
    big = b"\x12" + b"\x80\x88\x80\x02" + b"x" * (LIMIT + 1024)
    expect_grpc_status(p + "/message over 4 MiB -> grpc-status 8", grpc_post(hp, envelope(big)), 8)
    bomb = gzip.compress(b"\x12\x80\x80\x80\x03" + b"\0" * (6 * MIB))
    expect_grpc_status(p + "/gzip message inflating over 4 MiB -> grpc-status 8",
                       grpc_post(hp, envelope(bomb, flags=1), extra=[("grpc-encoding", "gzip")]), 8)
    for value in ("abc", "123456789S", "10x"):
        r = grpc_post(hp, ok_msg, extra=[("grpc-timeout", value)])
        got = grpc_status(r)
        report(got in (0, 3), p + "/malformed grpc-timeout %r -> invalid_argument or ignored" % value,
               r.describe())
        note("grpc-timeout %r: grpc-status %r (%s)" % (value, got, "ignored" if got == 0 else "rejected"))
    r = grpc_post(hp, ok_msg, ctype="application/grpc+xml")
    got = grpc_status(r)
    report(r.status == 415 or (got is not None and got != 0),
           p + "/content-type application/grpc+xml -> error (HTTP 415 or grpc-status != 0)",
           r.describe())
    note("application/grpc+xml answers HTTP %s grpc-status %r" % (r.status, got))
    alive(hp, p + "/after negative cases")


def grpc_web_cases(hp):
    p = "grpc-web"
    ok_msg = envelope(echo_req("x"))
    hdr = GRPC_WEB_HEADERS
    r = exchange(hp, "POST", ECHO, hdr, ok_msg)
    ok = r.status == 200 and grpc_web_status(r) == 0 and b"x" in r.body
    report(ok, p + "/Echo (control: a valid request works)", r.describe())
    expect_grpc_status(p + "/unknown method -> grpc-status 12",
                       exchange(hp, "POST", "/kumo.test.v1.EchoService/NoSuchMethod", hdr, ok_msg),
                       12, grpc_web_status)
    expect_grpc_status(p + "/compressed flag without grpc-encoding -> grpc-status 13",
                       exchange(hp, "POST", ECHO, hdr, envelope(gzip.compress(echo_req("x")), 1)),
                       13, grpc_web_status)
    expect_grpc_status(p + "/malformed protobuf -> grpc-status 3",
                       exchange(hp, "POST", ECHO, hdr, envelope(b"\x0a\x05ab")), 3, grpc_web_status)


def lifecycle_cases(hp):
    """Deadlines enforced by the server itself, cancellation, multiplexing."""
    p = "lifecycle"
    # The client here never gives up on its own: the answer must come from
    # the server's deadline handling.
    for proto, hdrs, tmo, status_fn in (
            ("grpc", GRPC_HEADERS, ("grpc-timeout", "200m"), grpc_status),
            ("grpc-web", GRPC_WEB_HEADERS, ("grpc-timeout", "200m"), grpc_web_status)):
        t0 = time.monotonic()
        r = exchange(hp, "POST", SLEEP, hdrs + [tmo], envelope(sleep_req(2000)))
        el = time.monotonic() - t0
        name = p + "/%s: grpc-timeout 200m on Sleep 2000 -> server answers grpc-status 4" % proto
        expect_grpc_status(name, r, 4, status_fn)
        report(el <= 1.5, name + " within 1.5 s", "took %.2f s" % el)
    t0 = time.monotonic()
    r = connect_post(hp, sleep_req(2000), ctype="application/proto", path=SLEEP,
                     extra=[("connect-timeout-ms", "200")])
    el = time.monotonic() - t0
    name = p + "/connect: connect-timeout-ms 200 on Sleep 2000 -> server answers 504"
    expect_connect_error(name, r, "deadline_exceeded")
    report(el <= 1.5, name + " within 1.5 s", "took %.2f s" % el)

    # Cancelling sleeps (RST_STREAM CANCEL) must free the server at once:
    # more sleeps than worker threads, then an Echo on the same connection.
    sess = Session(hp)
    try:
        sleeps = [sess.start("POST", SLEEP, GRPC_HEADERS, envelope(sleep_req(5000)))
                  for _ in range(8)]
        sess.pump(lambda: False, time.monotonic() + 0.3)
        for sid in sleeps:
            sess.reset(sid)
        t0 = time.monotonic()
        sid = sess.start("POST", ECHO, GRPC_HEADERS, envelope(echo_req("after cancel")))
        r = sess.streams[sid]
        sess.pump(lambda: r.done, t0 + 5)
        el = time.monotonic() - t0
        report(grpc_status(r) == 0 and b"after cancel" in r.body,
               p + "/8 Sleep 5000 cancelled with RST_STREAM, then Echo on the same connection",
               r.describe())
        report(el <= 1.5, p + "/Echo after cancelling sleeps answered within 1.5 s",
               "took %.2f s" % el)
    finally:
        sess.close()

    # Multiplexing: 50 concurrent streams on one connection, each answered
    # with its own message.
    sess = Session(hp)
    try:
        sids = {sess.start("POST", ECHO, GRPC_HEADERS, envelope(echo_req("m%d" % i))): i
                for i in range(50)}
        sess.pump(lambda: all(sess.streams[x].done for x in sids), time.monotonic() + 10)
        bad = [i for x, i in sids.items()
               if grpc_status(sess.streams[x]) != 0
               or envelope(b"\x0a" + bytes([len("m%d" % i)]) + b"m%d" % i)[5:] not in
               sess.streams[x].body]
        report(not bad, p + "/50 concurrent Echo streams on one connection",
               "streams with a wrong answer: %r" % bad[:10])
    finally:
        sess.close()


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: negative_cases.py HOST:PORT\n")
        return 2
    hp = sys.argv[1]
    for group in (connect_cases, grpc_cases, grpc_web_cases, lifecycle_cases):
        try:
            group(hp)
        except Exception as e:  # a bug here must not hide the other groups
            report(False, group.__name__ + " ran", "exception: %r" % e)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
