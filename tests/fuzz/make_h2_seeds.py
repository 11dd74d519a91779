#!/usr/bin/python3
"""Writes seed inputs for fuzz_h2_server: client HTTP/2 frames (after the
preface) for Connect, gRPC and gRPC-Web requests, made with python3-h2.
Usage: /usr/bin/python3 tests/fuzz/make_h2_seeds.py OUTDIR"""
import os
import sys

import h2.config
import h2.connection

PATH = "/kumo.test.v1.EchoService/"


def client_bytes(requests):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.data_to_send()  # drop the preface: the harness sends it
    conn.update_settings({})
    for headers, body in requests:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers, end_stream=body is None)
        if body is not None:
            conn.send_data(sid, body, end_stream=True)
    return conn.data_to_send()


def hdrs(method, path, ctype=None, extra=()):
    h = [(":method", method), (":scheme", "http"), (":authority", "x"), (":path", path)]
    if ctype:
        h.append(("content-type", ctype))
    return h + list(extra)


def env(msg, flags=0):
    return bytes([flags]) + len(msg).to_bytes(4, "big") + msg


hello = b"\x0a\x05hello"
seeds = {
    "connect_proto": [(hdrs("POST", PATH + "Echo", "application/proto"), hello)],
    "connect_json": [(hdrs("POST", PATH + "Echo", "application/json"), b'{"message":"hi"}')],
    "connect_get": [(hdrs("GET", PATH + "Lookup?encoding=json&message=%7B%22key%22%3A%22k%22%7D"), None)],
    "grpc": [(hdrs("POST", PATH + "Echo", "application/grpc", [("grpc-timeout", "1S")]), env(hello))],
    "grpc_web": [(hdrs("POST", PATH + "Fail", "application/grpc-web+proto"), env(b"\x08\x05\x12\x02no"))],
    "grpc_gzip": [(hdrs("POST", PATH + "Echo", "application/grpc", [("grpc-encoding", "gzip")]),
                   env(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xe3\xe2\xcd\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x07\x00\x00\x00", 1))],
    "health": [(hdrs("POST", "/grpc.health.v1.Health/Check", "application/grpc"), env(b""))],
    "multi": [(hdrs("POST", PATH + "Echo", "application/proto"), hello),
              (hdrs("POST", PATH + "Bytes", "application/grpc"), env(b"\x08\x10")),
              (hdrs("PUT", PATH + "Echo", "application/proto"), b"")],
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, reqs in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(client_bytes(reqs))
