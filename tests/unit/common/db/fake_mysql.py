#!/usr/bin/python3
"""A MySQL server that only says hello: it sends a real protocol-10
handshake, optionally upgrades to TLS (with the certificate it is given),
reads the client's authentication packet, answers "access denied", and
reports on stdout, as one JSON line, what the client sent:

  {"tls": "none|ok|failed", "raw_has_token": bool, "raw_len": n,
   "auth_plugin": str, "auth_has_token": bool, "auth_len": n, "user": str,
   "switch_answered": bool}

raw_has_token tells whether the token (or its --marker) ever crossed the
wire in clear; auth_* describe the authentication packet (decrypted when
TLS was used). Used by test_db_iam.c to show that the IAM mode never sends
its token to a server without TLS or with a certificate that does not
verify. Prints "port=N" first; serves one connection, then exits."""
import argparse
import json
import socket
import ssl
import struct
import sys

CLIENT_LONG_PASSWORD = 0x1
CLIENT_FOUND_ROWS = 0x2
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_CONNECT_ATTRS = 0x100000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def handshake(tls):
    caps = (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG |
            CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |
            CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH |
            CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC)
    if tls:
        caps |= CLIENT_SSL
    scramble = b"abcdefghijklmnopqrst"
    p = b"\x0a" + b"8.0.99-fake\x00" + struct.pack("<I", 7)
    p += scramble[:8] + b"\x00"
    p += struct.pack("<H", caps & 0xFFFF) + bytes([45]) + struct.pack("<H", 2)
    p += struct.pack("<H", caps >> 16) + bytes([21]) + b"\x00" * 10
    p += scramble[8:] + b"\x00" + b"mysql_native_password\x00"
    return packet(0, p)


def error_packet(seq):
    return packet(seq, b"\xff" + struct.pack("<H", 1045) + b"#28000" +
                  b"Access denied (fake server)")


def lenenc(buf, i):
    b = buf[i]
    if b < 0xFB:
        return b, i + 1
    if b == 0xFC:
        return struct.unpack_from("<H", buf, i + 1)[0], i + 3
    if b == 0xFD:
        return int.from_bytes(buf[i + 1:i + 4], "little"), i + 4
    return struct.unpack_from("<Q", buf, i + 1)[0], i + 9


def cstring(buf, i):
    end = buf.index(b"\x00", i)
    return buf[i:end], end + 1


def parse_auth(p, out, token):
    caps = struct.unpack_from("<I", p, 0)[0]
    i = 32
    user, i = cstring(p, i)
    if caps & CLIENT_PLUGIN_AUTH_LENENC:
        n, i = lenenc(p, i)
    elif caps & CLIENT_SECURE_CONNECTION:
        n, i = p[i], i + 1
    else:
        end = p.index(b"\x00", i)
        n = end - i
    auth = p[i:i + n]
    i += n
    if caps & CLIENT_CONNECT_WITH_DB and i < len(p):
        _, i = cstring(p, i)
    plugin = b""
    if caps & CLIENT_PLUGIN_AUTH and i < len(p):
        plugin, i = cstring(p, i)
    out["user"] = user.decode("utf-8", "replace")
    out["auth_plugin"] = plugin.decode("utf-8", "replace")
    out["auth_len"] = len(auth.rstrip(b"\x00"))
    out["auth_has_token"] = token in auth


class Conn:
    """The client socket, keeping a copy of every byte received."""

    def __init__(self, sock):
        self.sock = sock
        self.raw = bytearray()

    def recv(self, n=65536):
        data = self.sock.recv(n)
        self.raw += data
        return data

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            d = self.recv(n - len(buf))
            if not d:
                raise EOFError
            buf += d
        return buf

    def read_packet(self):
        hdr = self.recv_exact(4)
        return hdr[3], self.recv_exact(int.from_bytes(hdr[:3], "little"))


class TlsConn:
    """A TLS server session over Conn through memory BIOs, so the raw
    ciphertext is still recorded by Conn."""

    def __init__(self, conn, ctx):
        self.conn = conn
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=True)

    def flush(self):
        data = self.out.read()
        if data:
            self.conn.sock.sendall(data)

    def pump(self):
        d = self.conn.recv()
        if not d:
            self.inc.write_eof()
            raise EOFError
        self.inc.write(d)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.pump()

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                buf += self.obj.read(n - len(buf))
            except ssl.SSLWantReadError:
                self.flush()
                self.pump()
        return buf

    def read_packet(self):
        hdr = self.recv_exact(4)
        return hdr[3], self.recv_exact(int.from_bytes(hdr[:3], "little"))

    def send(self, data):
        self.obj.write(data)
        self.flush()


def serve(sock, args, out):
    token = args.token.encode()
    conn = Conn(sock)
    sock.sendall(handshake(bool(args.cert)))
    try:
        seq, p = conn.read_packet()
        caps = struct.unpack_from("<I", p, 0)[0]
        if args.cert and len(p) == 32 and caps & CLIENT_SSL:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.cert, args.key)
            tls = TlsConn(conn, ctx)
            try:
                tls.handshake()
            except (ssl.SSLError, EOFError):
                out["tls"] = "failed"
                try:
                    tls.flush()
                except OSError:
                    pass
                return conn
            out["tls"] = "ok"
            seq, p = tls.read_packet()
            parse_auth(p, out, token)
            tls.send(error_packet(seq + 1))
        else:
            parse_auth(p, out, token)  # a client that did not insist on TLS
            if args.switch_clear:
                # A hostile server asking for the password in clear.
                sock.sendall(packet(seq + 1, b"\xfe" + b"mysql_clear_password\x00"))
                seq, p = conn.read_packet()
                out["switch_answered"] = True
                sock.sendall(error_packet(seq + 1))
            else:
                sock.sendall(error_packet(seq + 1))
    except (EOFError, ConnectionError, socket.timeout, ValueError, IndexError):
        pass
    return conn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", default="")
    ap.add_argument("--key", default="")
    ap.add_argument("--token", required=True, help="bytes that must never be seen in clear")
    ap.add_argument("--switch-clear", action="store_true",
                    help="without TLS, ask the client to switch to mysql_clear_password")
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    print("port=%d" % srv.getsockname()[1], flush=True)
    srv.settimeout(30)
    sock, _ = srv.accept()
    sock.settimeout(5)
    out = {"tls": "none", "auth_plugin": "", "auth_has_token": False, "auth_len": 0, "user": "",
           "switch_answered": False}
    conn = serve(sock, args, out)
    # Whatever else the client sends before it hangs up is recorded too.
    try:
        sock.settimeout(1)
        while conn.recv():
            pass
    except (OSError, socket.timeout):
        pass
    out["raw_len"] = len(conn.raw)
    out["raw_has_token"] = args.token.encode() in conn.raw
    sock.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
