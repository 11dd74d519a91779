#!/usr/bin/python3
"""Interop client on python3-grpcio (Debian), run against kumo-echo.

Usage: python_grpc_client.py HOST:PORT [--tls CA_PEM]

Uses generic raw-bytes calls (no generated stubs): message classes come from
a descriptor set that protoc builds from tests/proto at start-up, so the
client depends on nothing kumo wrote. Prints one TAP line per case
("ok - CASE" / "not ok - CASE", diagnostics as "# ..."); exits 0 when every
case passed, 1 otherwise.
"""

import base64
import os
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MIB = 1024 * 1024
LIMIT = 4 * MIB
UNICODE_MSG = "h\u00e9llo \u4e16\u754c %"
SERVICE = "/kumo.test.v1.EchoService/"
CALL_TIMEOUT = 10.0

CODES = {c.value[0]: c for c in grpc.StatusCode}

failures = 0


def report(ok, name, diag=None):
    global failures
    if ok:
        print("ok - " + name, flush=True)
        return
    failures += 1
    print("not ok - " + name, flush=True)
    if diag:
        for line in str(diag).splitlines():
            print("#   " + line, flush=True)


def load_messages():
    """Compile echo.proto + health.proto to a descriptor set and load it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.binpb")
        subprocess.run(
            ["protoc", "-I/usr/include", "-I/usr/share/grpc-proto",
             "-I" + os.path.join(ROOT, "tests", "proto"),
             "--include_imports", "--descriptor_set_out=" + out,
             "kumo/test/v1/echo.proto", "grpc/health/v1/health.proto"],
            check=True)
        with open(out, "rb") as f:
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    # google.rpc.Status, declared here rather than depending on googleapis
    # protos being installed; Any comes along with the descriptor set.
    status = descriptor_pb2.FileDescriptorProto(
        name="interop/google_rpc_status.proto", package="google.rpc",
        syntax="proto3", dependency=["google/protobuf/any.proto"])
    msg = status.message_type.add(name="Status")
    F = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="code", number=1, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    msg.field.add(name="message", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    msg.field.add(name="details", number=3, type=F.TYPE_MESSAGE,
                  label=F.LABEL_REPEATED, type_name=".google.protobuf.Any")
    files = list(fds.file)
    if not any(f.name == "google/protobuf/any.proto" for f in files):
        from google.protobuf import any_pb2
        any_fd = descriptor_pb2.FileDescriptorProto()
        any_pb2.DESCRIPTOR.CopyToProto(any_fd)
        files.append(any_fd)
    files.append(status)
    pool = descriptor_pool.DescriptorPool()
    for f in files:
        pool.Add(f)
    return message_factory.MessageFactory(pool).GetMessages([f.name for f in files])


M = load_messages()
EchoRequest = M["kumo.test.v1.EchoRequest"]
EchoResponse = M["kumo.test.v1.EchoResponse"]
FailRequest = M["kumo.test.v1.FailRequest"]
SleepRequest = M["kumo.test.v1.SleepRequest"]
BytesRequest = M["kumo.test.v1.BytesRequest"]
BytesResponse = M["kumo.test.v1.BytesResponse"]
LookupRequest = M["kumo.test.v1.LookupRequest"]
LookupResponse = M["kumo.test.v1.LookupResponse"]
HealthCheckRequest = M["grpc.health.v1.HealthCheckRequest"]
HealthCheckResponse = M["grpc.health.v1.HealthCheckResponse"]
Status = M["google.rpc.Status"]


class Client:
    def __init__(self, target, ca_file):
        opts = [("grpc.max_send_message_length", 16 * MIB),
                ("grpc.max_receive_message_length", 16 * MIB),
                ("grpc.enable_retries", 0)]
        if ca_file:
            with open(ca_file, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            self.channel = grpc.secure_channel(target, creds, options=opts)
        else:
            self.channel = grpc.insecure_channel(target, options=opts)

    def method(self, path):
        # Raw bytes in, raw bytes out: serializers are None.
        return self.channel.unary_unary(path, request_serializer=None,
                                        response_deserializer=None)

    def call(self, method, req, resp_type, **kw):
        """Returns (response or None, grpc.Call or RpcError)."""
        kw.setdefault("timeout", CALL_TIMEOUT)
        try:
            raw, call = self.method(SERVICE + method).with_call(
                req.SerializeToString(), **kw)
            return resp_type.FromString(raw), call
        except grpc.RpcError as e:
            return None, e


def expect_error(name, resp, err, code, message=None):
    if resp is not None:
        report(False, name, "expected %s, got a response" % code)
        return False
    got = err.code()
    if got != code:
        report(False, name, "expected %s, got %s: %r" % (code, got, err.details()))
        return False
    if message is not None and err.details() != message:
        report(False, name, "message: expected %r, got %r" % (message, err.details()))
        return False
    report(True, name)
    return True


def expect_ok(name, resp, err):
    if resp is None:
        report(False, name, "expected a response, got %s: %r" % (err.code(), err.details()))
        return False
    return True


def case_echo(c):
    req = EchoRequest(message="hello", payload=bytes(range(256)))
    resp, err = c.call("Echo", req, EchoResponse)
    if expect_ok("echo", resp, err):
        report(resp.message == "hello" and resp.payload == bytes(range(256)), "echo",
               "got message=%r payload len %d" % (resp.message, len(resp.payload)))


def case_fail_codes(c):
    for code in range(1, 17):
        sc = CODES[code]
        resp, err = c.call("Fail", FailRequest(code=code, message=UNICODE_MSG), EchoResponse)
        expect_error("fail/%d %s" % (code, sc.name), resp, err, sc, UNICODE_MSG)
    resp, err = c.call("Fail", FailRequest(code=99, message="bad code"), EchoResponse)
    expect_error("fail/out-of-range code -> INVALID_ARGUMENT", resp, err,
                 grpc.StatusCode.INVALID_ARGUMENT)


def case_fail_detail(c):
    name = "fail/detail"
    resp, err = c.call("Fail", FailRequest(code=9, message="with detail", detail="the detail"),
                       EchoResponse)
    if resp is not None or err.code() != grpc.StatusCode.FAILED_PRECONDITION:
        report(False, name, "expected FAILED_PRECONDITION, got %r" % (resp or err.code()))
        return
    raw = [v for k, v in (err.trailing_metadata() or ()) if k == "grpc-status-details-bin"]
    if len(raw) != 1:
        report(False, name, "expected one grpc-status-details-bin trailer, got %d" % len(raw))
        return
    st = Status.FromString(raw[0])
    if st.code != 9 or st.message != "with detail" or len(st.details) != 1:
        report(False, name, "status: %s" % st)
        return
    d = st.details[0]
    want_url = "type.googleapis.com/kumo.test.v1.EchoResponse"
    if d.type_url != want_url:
        report(False, name, "type_url %r, want %r" % (d.type_url, want_url))
        return
    inner = EchoResponse.FromString(d.value)
    report(inner.message == "the detail", name, "detail message %r" % inner.message)


def case_deadline(c):
    name = "deadline (Sleep 2000 ms, deadline 200 ms)"
    t0 = time.monotonic()
    resp, err = c.call("Sleep", SleepRequest(duration_ms=2000), EchoResponse, timeout=0.2)
    elapsed = time.monotonic() - t0
    expect_error(name, resp, err, grpc.StatusCode.DEADLINE_EXCEEDED)
    report(elapsed <= 1.5, name + " returned within 1.5 s", "took %.2f s" % elapsed)
    # The server must answer later calls normally after the abandoned Sleep.
    resp, err = c.call("Echo", EchoRequest(message="after"), EchoResponse)
    if expect_ok("deadline/server still answers", resp, err):
        report(resp.message == "after", "deadline/server still answers")


def case_deadline_propagation(c):
    name = "deadline/propagated (5 s deadline -> 0 < deadline_ms <= 5100)"
    resp, err = c.call("Echo", EchoRequest(message="d"), EchoResponse, timeout=5.0)
    if expect_ok(name, resp, err):
        report(0 < resp.deadline_ms <= 5100, name, "deadline_ms=%d" % resp.deadline_ms)
    name = "deadline/none -> deadline_ms 0"
    resp, err = c.call("Echo", EchoRequest(message="d"), EchoResponse, timeout=None)
    if expect_ok(name, resp, err):
        report(resp.deadline_ms == 0, name, "deadline_ms=%d" % resp.deadline_ms)


def case_large(c):
    payload = bytes((i * 7) & 0xFF for i in range(LIMIT - 1024))
    resp, err = c.call("Echo", EchoRequest(payload=payload), EchoResponse, timeout=30)
    name = "large/4MiB-1KiB ok"
    if expect_ok(name, resp, err):
        report(resp.payload == payload, name, "payload len %d" % len(resp.payload))
    resp, err = c.call("Echo", EchoRequest(payload=b"x" * (LIMIT + 1024)), EchoResponse,
                       timeout=30)
    expect_error("large/4MiB+1KiB -> RESOURCE_EXHAUSTED", resp, err,
                 grpc.StatusCode.RESOURCE_EXHAUSTED)
    resp, err = c.call("Echo", EchoRequest(message="after"), EchoResponse)
    if expect_ok("large/server still answers", resp, err):
        report(resp.message == "after", "large/server still answers")


def case_bytes(c):
    resp, err = c.call("Bytes", BytesRequest(size=1000), BytesResponse)
    want = bytes(97 + i % 26 for i in range(1000))
    if expect_ok("bytes/1000", resp, err):
        report(resp.data == want, "bytes/1000", "got %d bytes" % len(resp.data))
    resp, err = c.call("Bytes", BytesRequest(size=-1), BytesResponse)
    expect_error("bytes/-1 -> INVALID_ARGUMENT", resp, err, grpc.StatusCode.INVALID_ARGUMENT)
    resp, err = c.call("Bytes", BytesRequest(size=LIMIT + 1024), BytesResponse, timeout=30)
    expect_error("bytes/response over limit -> RESOURCE_EXHAUSTED", resp, err,
                 grpc.StatusCode.RESOURCE_EXHAUSTED)


def case_gzip(c):
    name = "gzip/request compressed"
    payload = b"abcdefgh" * 8192
    resp, err = c.call("Echo", EchoRequest(message="gz", payload=payload), EchoResponse,
                       compression=grpc.Compression.Gzip)
    if expect_ok(name, resp, err):
        report(resp.payload == payload and resp.message == "gz", name)


def case_metadata(c):
    name = "metadata"
    raw_bin = b"\x00\x01\xfe\xff"
    md = (("x-custom", "hello"), ("x-request-id", "interop-rid-1"), ("x-bin-bin", raw_bin))
    resp, err = c.call("Echo", EchoRequest(message="m", echo_headers=["x-custom", "x-bin-bin"]),
                       EchoResponse, metadata=md)
    if not expect_ok(name, resp, err):
        return
    report(resp.headers.get("x-custom") == "hello", name + "/echo_headers x-custom",
           "headers=%r" % dict(resp.headers))
    b64 = resp.headers.get("x-bin-bin", "")
    try:
        decoded = base64.b64decode(b64 + "=" * (-len(b64) % 4))
    except ValueError:
        decoded = None
    report(decoded == raw_bin, name + "/echo_headers x-bin-bin (base64 as on the wire)",
           "got %r" % b64)
    report(resp.request_id == "interop-rid-1", name + "/request_id from x-request-id",
           "request_id=%r" % resp.request_id)
    initial = dict(err.initial_metadata() or ())
    trailing = dict(err.trailing_metadata() or ())
    report(initial.get("x-echo-initial") == "initial", name + "/header x-echo-initial",
           "initial=%r" % initial)
    report(trailing.get("x-echo-trailer") == "trailing", name + "/trailer x-echo-trailer",
           "trailing=%r" % trailing)
    resp, err = c.call("Echo", EchoRequest(message="m"), EchoResponse)
    if expect_ok(name + "/generated request_id", resp, err):
        report(resp.request_id != "", name + "/generated request_id")


def case_lookup(c):
    name = "lookup"
    resp, err = c.call("Lookup", LookupRequest(key="k1", kind=2), LookupResponse)
    if not expect_ok(name, resp, err):
        return
    now = time.time()
    at = resp.looked_up_at.seconds + resp.looked_up_at.nanos / 1e9
    ok = (resp.key == "k1" and resp.value == "value-of-k1" and resp.kind == 2
          and resp.big == 9007199254740993 and abs(at - now) < 60)
    report(ok, name, str(resp))


def case_health(c):
    name = "health/Check"
    try:
        raw = c.method("/grpc.health.v1.Health/Check")(
            HealthCheckRequest(service="").SerializeToString(), timeout=CALL_TIMEOUT)
        st = HealthCheckResponse.FromString(raw).status
        report(st == 1, name, "status=%d (want 1 SERVING)" % st)
    except grpc.RpcError as e:
        report(False, name, "%s: %r" % (e.code(), e.details()))


def case_unknown(c):
    try:
        c.method(SERVICE + "NoSuchMethod")(b"", timeout=CALL_TIMEOUT)
        report(False, "unknown method -> UNIMPLEMENTED", "got a response")
    except grpc.RpcError as e:
        report(e.code() == grpc.StatusCode.UNIMPLEMENTED, "unknown method -> UNIMPLEMENTED",
               "got %s" % e.code())


def main():
    args = sys.argv[1:]
    ca = None
    if len(args) == 3 and args[1] == "--tls":
        ca = args[2]
    elif len(args) != 1:
        sys.stderr.write("usage: python_grpc_client.py HOST:PORT [--tls CA_PEM]\n")
        return 2
    c = Client(args[0], ca)
    # When the first call cannot reach the server at all, every other case
    # would only repeat that failure.
    case_echo(c)
    if failures:
        resp, err = c.call("Echo", EchoRequest(message="probe"), EchoResponse)
        if resp is None and err.code() == grpc.StatusCode.UNAVAILABLE:
            print("# server unreachable (%r), remaining cases skipped" % err.details(), flush=True)
            return 1
    for case in (case_fail_codes, case_fail_detail, case_deadline,
                 case_deadline_propagation, case_large, case_bytes, case_gzip,
                 case_metadata, case_lookup, case_health, case_unknown):
        try:
            case(c)
        except Exception as e:  # a client-side bug must not hide later cases
            report(False, case.__name__, "exception: %r" % e)
    c.channel.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
