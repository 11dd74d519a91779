#!/usr/bin/python3
"""Test peer for tests/unit/common/rpc_client/test_rpc_client_*.c: servers nobody in kumo wrote.

Default mode: a grpcio server for kumo.test.v1.EchoService with raw-bytes
(de)serializers:
  Echo   returns the request bytes, followed by EchoResponse fields 3 (every
         text request metadata entry, plus ":peer" = the client's address),
         4 (deadline_ms, when the call has a deadline) and 5 (x-request-id).
         EchoRequest and EchoResponse share fields 1 and 2, and appending
         fields to an encoded message merges them.
  Fail   aborts with code "x-fail-code" and message "x-fail-message"
         (percent-decoded here, so a test can ask for non-ASCII text).
  Sleep  sleeps "x-sleep-ms" milliseconds, or until the call is cancelled.
  Bytes  returns BytesResponse{data: size bytes of 'a' + i % 26}.
Every method compresses its response with gzip when "x-compress: gzip" is
sent, and echoes x-request-id / authorization in trailing metadata.
With --cert/--key it serves TLS.

--raw mode: a hand-driven HTTP/2 server (python3-h2) that answers by method
name with what a well-behaved gRPC server never sends (see RAW below), and
counts what the client did: the most streams open at once, resets received,
connections, and violations of its SETTINGS_MAX_CONCURRENT_STREAMS
(--max-streams). Method "Stats" returns them as EchoResponse.message.

Both print the port on stdout and serve until stdin closes.
"""
import argparse
import gzip
import os
import select
import socket
import sys
import time
import urllib.parse


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def read_varint_field(data, want):
    """Returns the value of varint field `want`, or 0 (enough for BytesRequest)."""
    i = 0
    while i < len(data):
        key, i = _varint_at(data, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint_at(data, i)
            if num == want:
                return v
        elif wt == 2:
            ln, i = _varint_at(data, i)
            i += ln
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            break
    return 0


def _varint_at(data, i):
    shift = v = 0
    while i < len(data):
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
    return v, i


def pattern(n):
    alphabet = bytes(range(ord('a'), ord('a') + 26))
    return (alphabet * (n // 26 + 1))[:n]


def envelope(msg, flags=0):
    return bytes([flags]) + len(msg).to_bytes(4, 'big') + msg


# ---------------------------------------------------------------- grpcio mode

def grpc_main(args):
    from concurrent import futures

    import grpc

    codes = {c.value[0]: c for c in grpc.StatusCode}

    def md_of(ctx):
        return {k: v for k, v in ctx.invocation_metadata()}

    def prologue(ctx):
        md = md_of(ctx)
        if md.get('x-compress') == 'gzip':
            ctx.set_compression(grpc.Compression.Gzip)
        trailing = [('echo-' + k, md[k]) for k in ('x-request-id', 'authorization')
                    if isinstance(md.get(k), str)]
        ctx.set_trailing_metadata(trailing)
        return md

    def echo(req, ctx):
        md = prologue(ctx)
        out = bytearray(req)
        entries = [(k, v) for k, v in ctx.invocation_metadata() if isinstance(v, str)]
        entries.append((':peer', ctx.peer()))
        for k, v in entries:
            out += field_bytes(3, field_bytes(1, k.encode()) + field_bytes(2, v.encode()))
        left = ctx.time_remaining()
        if left is not None and left < 1e6:  # grpcio reports ~infinity without a deadline
            out += field_varint(4, max(1, int(left * 1000)))
        if isinstance(md.get('x-request-id'), str):
            out += field_bytes(5, md['x-request-id'].encode())
        return bytes(out)

    def fail(req, ctx):
        md = prologue(ctx)
        code = codes[int(md.get('x-fail-code', '2'))]
        ctx.abort(code, urllib.parse.unquote(md.get('x-fail-message', '')))

    def sleep(req, ctx):
        md = prologue(ctx)
        end = time.monotonic() + int(md.get('x-sleep-ms', '0')) / 1000.0
        while time.monotonic() < end and ctx.is_active():
            time.sleep(0.005)
        return b''

    def bytes_(req, ctx):
        prologue(ctx)
        return field_bytes(1, pattern(read_varint_field(req, 1)))

    handler = grpc.method_handlers_generic_handler('kumo.test.v1.EchoService', {
        'Echo': grpc.unary_unary_rpc_method_handler(echo),
        'Fail': grpc.unary_unary_rpc_method_handler(fail),
        'Sleep': grpc.unary_unary_rpc_method_handler(sleep),
        'Bytes': grpc.unary_unary_rpc_method_handler(bytes_),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=[
        ('grpc.max_receive_message_length', 64 << 20),
        ('grpc.max_send_message_length', 64 << 20),
        ('grpc.so_reuseport', 0),
    ])
    server.add_generic_rpc_handlers((handler,))
    addr = '127.0.0.1:%d' % args.port
    if args.cert:
        with open(args.key, 'rb') as f:
            key = f.read()
        with open(args.cert, 'rb') as f:
            cert = f.read()
        port = server.add_secure_port(addr, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(addr)
    server.start()
    print(port, flush=True)
    sys.stdin.buffer.read()
    server.stop(0)


# ---------------------------------------------------------------- raw h2 mode

GRPC_HEADERS = [(':status', '200'), ('content-type', 'application/grpc+proto')]
OK_TRAILERS = [('grpc-status', '0')]


class Raw:
    def __init__(self, args):
        import h2.config
        import h2.connection
        import h2.errors
        import h2.events
        import h2.exceptions
        import h2.settings
        self.h2 = h2
        self.args = args
        self.conns = {}      # socket -> H2Connection
        self.bodies = {}     # (socket, stream id) -> bytearray
        self.later = []      # (due, socket, stream id, body)
        self.max_active = 0
        self.resets = 0
        self.cancels = 0
        self.accepted = 0
        self.violations = 0

    def new_conn(self, sock):
        h2 = self.h2
        cfg = h2.config.H2Configuration(client_side=False, header_encoding='utf-8')
        conn = h2.connection.H2Connection(config=cfg)
        conn.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.args.max_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
        })
        conn.initiate_connection()
        self.conns[sock] = conn
        self.accepted += 1
        self.flush(sock)

    def flush(self, sock):
        conn = self.conns.get(sock)
        if conn is None:
            return
        data = conn.data_to_send()
        if data:
            try:
                sock.sendall(data)
            except OSError:
                self.drop(sock)

    def drop(self, sock):
        self.conns.pop(sock, None)
        self.later = [x for x in self.later if x[1] is not sock]
        try:
            sock.close()
        except OSError:
            pass

    @staticmethod
    def send_data(conn, sid, data, end_stream=False):
        step = conn.max_outbound_frame_size
        for i in range(0, len(data), step):
            conn.send_data(sid, data[i:i + step], end_stream=end_stream and i + step >= len(data))

    def grpc_reply(self, conn, sid, msg, trailers=OK_TRAILERS):
        conn.send_headers(sid, GRPC_HEADERS)
        self.send_data(conn, sid, envelope(msg))
        conn.send_headers(sid, trailers, end_stream=True)

    def answer(self, sock, sid, path, body):
        """The reply to a complete request, by method name."""
        conn = self.conns[sock]
        h2 = self.h2
        method = path.rsplit('/', 1)[-1]
        req = body[5:] if len(body) >= 5 else b''
        if method == 'Echo':
            self.grpc_reply(conn, sid, req)
        elif method == 'Slow':
            self.later.append((time.monotonic() + 0.03, sock, sid, req))
        elif method == 'Hang':
            pass
        elif method == 'Stats':
            text = 'max_active=%d resets=%d cancels=%d conns=%d violations=%d' % (
                self.max_active, self.resets, self.cancels, self.accepted, self.violations)
            self.grpc_reply(conn, sid, field_bytes(1, text.encode()))
        elif method == 'Http503':
            conn.send_headers(sid, [(':status', '503'), ('content-type', 'text/plain')])
            conn.send_data(sid, b'busy', end_stream=True)
        elif method == 'Http404':
            conn.send_headers(sid, [(':status', '404'), ('content-type', 'text/html')])
            self.send_data(conn, sid, b'<h1>no</h1>' * 2000, end_stream=True)
        elif method == 'NoStatus':
            conn.send_headers(sid, GRPC_HEADERS)
            conn.send_data(sid, envelope(b''), end_stream=True)
        elif method == 'BadContentType':
            conn.send_headers(sid, [(':status', '200'), ('content-type', 'text/html')])
            conn.send_data(sid, b'<html></html>')
            conn.send_headers(sid, OK_TRAILERS, end_stream=True)
        elif method == 'TwoMessages':
            conn.send_headers(sid, GRPC_HEADERS)
            conn.send_data(sid, envelope(b'') + envelope(b''))
            conn.send_headers(sid, OK_TRAILERS, end_stream=True)
        elif method == 'NoMessage':
            conn.send_headers(sid, GRPC_HEADERS)
            conn.send_headers(sid, OK_TRAILERS, end_stream=True)
        elif method == 'BadStatus':
            self.grpc_reply(conn, sid, b'', [('grpc-status', 'abc')])
        elif method == 'UnknownStatus':
            self.grpc_reply(conn, sid, b'', [('grpc-status', '99'), ('grpc-message', 'odd')])
        elif method == 'Truncated':
            conn.send_headers(sid, GRPC_HEADERS)
            conn.send_data(sid, b'\x00\x00\x00\x00\x0aabc')
            conn.send_headers(sid, OK_TRAILERS, end_stream=True)
        elif method == 'Garbage':
            self.grpc_reply(conn, sid, b'\xff\xff\xff\xff')
        elif method == 'Gzip':
            conn.send_headers(sid, GRPC_HEADERS + [('grpc-encoding', 'gzip')])
            conn.send_data(sid, envelope(gzip.compress(req), 1))
            conn.send_headers(sid, OK_TRAILERS, end_stream=True)
        elif method == 'CorruptGzip':
            conn.send_headers(sid, GRPC_HEADERS + [('grpc-encoding', 'gzip')])
            conn.send_data(sid, envelope(b'\x1f\x8bnot gzip at all', 1))
            conn.send_headers(sid, OK_TRAILERS, end_stream=True)
        elif method == 'CompressedNoEncoding':
            conn.send_headers(sid, GRPC_HEADERS)
            conn.send_data(sid, envelope(gzip.compress(req), 1))
            conn.send_headers(sid, OK_TRAILERS, end_stream=True)
        elif method == 'RstRefused':
            conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
        elif method == 'RstInternal':
            conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        elif method == 'Goaway':
            # Not processed: the stream is above last_stream_id.
            conn.close_connection(last_stream_id=sid - 2)
            self.flush(sock)
            self.drop(sock)
            return
        elif method == 'GoawayGraceful':
            # Processed: answered after a GOAWAY that covers it. Written by
            # hand, since h2 sends nothing more after its own GOAWAY.
            from hyperframe.frame import GoAwayFrame
            self.flush(sock)
            sock.sendall(GoAwayFrame(0, last_stream_id=sid, error_code=0).serialize())
            self.grpc_reply(conn, sid, req)
        elif method == 'Close':
            self.drop(sock)
            return
        else:
            self.grpc_reply(conn, sid, b'', [('grpc-status', '12')])
        self.flush(sock)

    def on_events(self, sock, events):
        ev = self.h2.events
        conn = self.conns[sock]
        for e in events:
            if isinstance(e, ev.RequestReceived):
                self.bodies[(sock, e.stream_id)] = [dict(e.headers)[':path'], bytearray()]
                self.max_active = max(self.max_active, conn.open_inbound_streams)
            elif isinstance(e, ev.DataReceived):
                conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                self.bodies[(sock, e.stream_id)][1] += e.data
            elif isinstance(e, ev.StreamEnded):
                path, body = self.bodies.pop((sock, e.stream_id))
                self.answer(sock, e.stream_id, path, bytes(body))
                if sock not in self.conns:
                    return
            elif isinstance(e, ev.StreamReset):
                self.resets += 1
                if e.error_code == self.h2.errors.ErrorCodes.CANCEL:
                    self.cancels += 1
                self.bodies.pop((sock, e.stream_id), None)
            elif isinstance(e, ev.ConnectionTerminated):
                self.drop(sock)
                return
        self.flush(sock)

    def on_readable(self, sock):
        try:
            data = sock.recv(1 << 16)
        except OSError:
            data = b''
        if not data:
            self.drop(sock)
            return
        try:
            events = self.conns[sock].receive_data(data)
        except self.h2.exceptions.TooManyStreamsError:
            self.violations += 1
            self.drop(sock)
            return
        except self.h2.exceptions.ProtocolError:
            self.drop(sock)
            return
        self.on_events(sock, events)

    def run_due(self):
        now = time.monotonic()
        due = [x for x in self.later if x[0] <= now]
        self.later = [x for x in self.later if x[0] > now]
        for _, sock, sid, req in due:
            conn = self.conns.get(sock)
            if conn is None:
                continue
            try:
                self.grpc_reply(conn, sid, req)
            except self.h2.exceptions.StreamClosedError:
                continue
            self.flush(sock)

    def serve(self):
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(('127.0.0.1', self.args.port))
        lsock.listen(64)
        print(lsock.getsockname()[1], flush=True)
        stdin = sys.stdin.fileno()
        while True:
            timeout = 0.5
            if self.later:
                timeout = max(0.0, min(x[0] for x in self.later) - time.monotonic())
            rl, _, _ = select.select([lsock, stdin] + list(self.conns), [], [], timeout)
            for s in rl:
                if s is lsock:
                    c, _ = lsock.accept()
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.new_conn(c)
                elif s == stdin:
                    if not os.read(stdin, 4096):
                        return
                elif s in self.conns:
                    self.on_readable(s)
            self.run_due()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--cert')
    p.add_argument('--key')
    p.add_argument('--raw', action='store_true')
    p.add_argument('--max-streams', type=int, default=100)
    args = p.parse_args()
    if args.raw:
        Raw(args).serve()
    else:
        grpc_main(args)


if __name__ == '__main__':
    main()
