#!/usr/bin/python3
"""Integration tests of kumo-storage (local backend): the RPCs over gRPC
(python3-grpcio, messages from a descriptor set protoc builds at start-up)
and the S3-compatible data port with clients kumo did not write: Debian's
awscli (/usr/bin/aws), botocore (signer and presigner) and the AWS SDK for
JavaScript (@aws-sdk/s3-request-presigner).

Usage: storage_test.py BUILD_DIR
Prints TAP lines ("ok - ..." / "not ok - ...", diagnostics as "# ..."), then
"N passed, M failed"; exits non-zero if anything failed.

Environment: STORAGE_TEST_BIG_MIB (default 1024) sizes the streaming test;
STORAGE_TEST_KEEP=1 keeps the temporary directory; STORAGE_TEST_ONLY (names
of cases, space-separated) runs only those."""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import grpc
import jwt
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
AWS = "/usr/bin/aws"
AKID = "AKIDKUMOSTORAGETEST"
SECRET = "kumo-storage-test-secret/0123456789+abc"
REGION = "us-east-1"
BUCKET = "kumo"
TENANT = "tn_acme"
OTHER = "tn_other"
ORIGIN = "https://app.example"
MIB = 1024 * 1024
SVC = "/kumo.storage.v1.StorageService/"

passed = 0
failed = 0


def report(ok, name, diag=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + name, flush=True)
        return
    failed += 1
    print("not ok - " + name, flush=True)
    if diag is not None:
        for line in str(diag).splitlines()[:40]:
            print("#   " + line, flush=True)


def case(name):
    """Decorator: runs the function as one test case; an exception fails it."""
    def wrap(fn):
        def run(*a, **kw):
            try:
                res = fn(*a, **kw)
            except Exception:  # noqa: BLE001 - any failure is the case's
                import traceback
                report(False, name, traceback.format_exc())
                return None
            if res is None or res is True:
                report(True, name)
            else:
                report(False, name, res)
            return res
        return run
    return wrap


def expect(cond, diag):
    if not cond:
        raise AssertionError(diag)


def md5_hex(b):
    return hashlib.md5(b).hexdigest()


def sha256(b):
    return hashlib.sha256(b).digest()


def multipart_etag(parts):
    return hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + \
        "-%d" % len(parts)


# ---- keys, tokens, messages -------------------------------------------------

class Keys:
    def __init__(self, tmp):
        self.key = ec.generate_private_key(ec.SECP256R1())
        n = self.key.public_key().public_numbers()
        b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
        jwks = {"keys": [{"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")),
                          "y": b64u(n.y.to_bytes(32, "big")), "kid": "k1", "alg": "ES256",
                          "use": "sig"}]}
        self.jwks_path = os.path.join(tmp, "jwks.json")
        with open(self.jwks_path, "w") as f:
            json.dump(jwks, f)
        self.pem = self.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    def service_token(self, tid=TENANT, sub="documents"):
        """What kumo-users issues kumo-documents for tenant `tid`."""
        return self.token(tid=tid, roles=("service",), sub=sub)

    def token(self, tid=TENANT, roles=("editor",), sub="us_alice", ttl=900, key=None):
        now = int(time.time())
        claims = {"iss": "kumo-users", "aud": "kumo", "sub": sub, "tid": tid,
                  "roles": list(roles), "iat": now, "nbf": now, "exp": now + ttl,
                  "jti": os.urandom(12).hex()}
        return jwt.encode(claims, key or self.pem, algorithm="ES256", headers={"kid": "k1"})


def load_messages(tmp):
    out = os.path.join(tmp, "storage.binpb")
    subprocess.run(["protoc", "-I" + os.path.join(ROOT, "proto"), "-I/usr/include",
                    "--include_imports", "--descriptor_set_out=" + out,
                    "kumo/storage/v1/storage.proto"], check=True)
    with open(out, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    msgs = message_factory.MessageFactory(pool).GetMessages([f.name for f in fds.file])
    return {k.split(".")[-1]: v for k, v in msgs.items()}


# ---- the daemon ------------------------------------------------------------

class Daemon:
    def __init__(self, build, tmp, keys, name="root", extra_env=None):
        self.bin = os.path.join(build, "bin", "kumo-storage")
        self.tmp = tmp
        self.name = name
        self.root = os.path.join(tmp, name)
        secret_file = os.path.join(tmp, "secret")
        with open(secret_file, "w") as f:
            f.write(SECRET + "\n")
        self.env = dict(os.environ)
        self.env.update({
            "KUMO_RPC_ADDR": "127.0.0.1", "KUMO_RPC_PORT": "0", "KUMO_ADMIN_PORT": "0",
            "KUMO_STORAGE_DATA_PORT": "0", "KUMO_STORAGE_ROOT": self.root,
            "KUMO_STORAGE_ACCESS_KEY_ID": AKID,
            "KUMO_STORAGE_SECRET_ACCESS_KEY_FILE": secret_file,
            "KUMO_JWT_JWKS_FILE": keys.jwks_path,
            "KUMO_STORAGE_RESTORE_EXPEDITED": "0", "KUMO_STORAGE_RESTORE_STANDARD": "1s",
            "KUMO_STORAGE_RESTORE_DAY": "3s", "KUMO_STORAGE_CORS_ORIGINS": ORIGIN,
            "KUMO_STORAGE_MAX_OBJECT_SIZE": "1100MiB", "KUMO_STORAGE_MAX_XML_SIZE": "64KiB",
            "KUMO_SERVICE_CALLERS": "documents", "KUMO_DRAIN_TIMEOUT": "5s",
        })
        for k in [k for k in self.env if k.startswith("AWS_")]:
            del self.env[k]
        self.env.update(extra_env or {})
        self.s3 = self.env.get("KUMO_STORAGE_BACKEND") == "s3"
        self.proc = None
        self.logs = []

    def start(self):
        n = len(self.logs)
        log = open(os.path.join(self.tmp, "%s-%d.log" % (self.name, n)), "w+")
        self.logs.append(log)
        self.proc = subprocess.Popen([self.bin], env=self.env, stdout=log, stderr=log)
        deadline = time.time() + 20
        self.rpc = self.admin = self.data = None
        while time.time() < deadline and (self.rpc is None or (self.data is None and not self.s3)):
            time.sleep(0.05)
            log.seek(0)
            text = log.read()
            m = re.search(r'"data_port":"(\d+)"', text)
            if m:
                self.data = int(m.group(1))
            m = re.search(r'"rpc_port":"(\d+)","admin_port":"(\d+)"', text)
            if m:
                self.rpc, self.admin = int(m.group(1)), int(m.group(2))
            if self.proc.poll() is not None:
                break
        if self.rpc is None or (self.data is None and not self.s3):
            raise RuntimeError("kumo-storage did not start:\n" + self.log_text())
        while time.time() < deadline:
            if self.readyz()[0] == 200:
                break
            time.sleep(0.05)
        self.endpoint = "http://127.0.0.1:%s" % self.data
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.rpc)

    def log_text(self):
        log = self.logs[-1]
        log.seek(0)
        return log.read()

    def readyz(self):
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=5)
        c.request("GET", "/readyz")
        r = c.getresponse()
        return r.status, r.read()

    def stop(self):
        self.channel.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill9(self):
        self.channel.close()
        self.proc.kill()
        self.proc.wait()


# ---- clients -----------------------------------------------------------------

class Rpc:
    """StorageService calls. kumo-storage serves only its service callers
    (kumo-documents), which name the tenant they act for: tenant_id is
    TENANT unless a call gives one (even "")."""

    def __init__(self, daemon, msgs, tenant=TENANT):
        self.d = daemon
        self.m = msgs
        self.tenant = tenant

    def call(self, method, token=None, **fields):
        if "tenant_id" not in fields:
            fields["tenant_id"] = self.tenant
        req_cls = self.m[method + "Request"]
        resp_cls = self.m[method + "Response"]
        req = req_cls(**fields)
        fn = self.d.channel.unary_unary(SVC + method, request_serializer=lambda x: x.SerializeToString(),
                                        response_deserializer=resp_cls.FromString)
        md = [("authorization", "Bearer " + token)] if token else []
        return fn(req, metadata=md, timeout=60)

    def error(self, method, token=None, **fields):
        """Calls and returns (code name, details) of the expected failure."""
        try:
            self.call(method, token, **fields)
        except grpc.RpcError as e:
            return e.code().name, e.details()
        return "OK", ""


def http_req(port, method, target, headers=None, body=b"", timeout=120):
    """One request on a fresh connection; headers as given (names are case
    insensitive), Content-Length always the body's. The response is read
    even when the server answered early and closed while the body was
    being sent."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    hdrs = {"host": "127.0.0.1:%d" % port}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    hdrs.pop("content-length", None)
    if body or method in ("PUT", "POST"):
        hdrs["content-length"] = str(len(body))
    for k, v in hdrs.items():
        c.putheader(k, v)
    c.endheaders()
    if body:
        try:
            c.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def s3_code(body):
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    return m.group(1).decode() if m else None


def url_target(url):
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def signed_headers(port, method, target, body=b"", headers=None, payload=None):
    """Signs with botocore's S3SigV4Auth (Authorization header)."""
    req = AWSRequest(method=method, url="http://127.0.0.1:%d%s" % (port, target), data=body,
                     headers=dict(headers or {}))
    if payload:
        req.headers["X-Amz-Content-SHA256"] = payload
    auth = S3SigV4Auth(Credentials(AKID, SECRET), "s3", REGION)
    if payload:
        auth.payload = lambda request: payload
    auth.add_auth(req)
    out = {k: v for k, v in req.headers.items()}
    return out


def aws(d, *args, config=None, check=False):
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_DEFAULT_REGION": REGION, "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_CONFIG_FILE": config or "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_PAGER": ""})
    env.pop("AWS_PROFILE", None)
    p = subprocess.run([AWS, "--endpoint-url", d.endpoint] + list(args), env=env,
                       capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError("aws %s failed (exit %d): %s%s" % (" ".join(args), p.returncode,
                                                                p.stderr, p.stdout[-2000:]))
    return p


def aws_json(d, *args, **kw):
    p = aws(d, *args, check=True, **kw)
    return json.loads(p.stdout) if p.stdout.strip() else {}


def object_files(root):
    """Every file under obj/ (what is visible) and tmp/ (what is not)."""
    out = {"obj": [], "tmp": [], "mpu": []}
    for part in out:
        base = os.path.join(root, part)
        for dirpath, _, files in os.walk(base):
            out[part] += [os.path.join(dirpath, f) for f in files]
    return out


# ---- checksums and aws-chunked bodies (written from the S3 documents) -------

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _crc_reflected(data, poly, bits):
    mask = (1 << bits) - 1
    c = mask
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
    return c ^ mask


def crc32_b64(data):
    import zlib
    return base64.b64encode((zlib.crc32(data) & 0xffffffff).to_bytes(4, "big")).decode()


def crc32c_b64(data):
    """CRC-32C (Castagnoli), bit by bit: test data is small."""
    return base64.b64encode(_crc_reflected(data, 0x82F63B78, 32).to_bytes(4, "big")).decode()


def crc64nvme_b64(data):
    return base64.b64encode(
        _crc_reflected(data, 0x9A6C9329AC4BC9B5, 64).to_bytes(8, "big")).decode()


def chunked_request(port, key, data, mode, chunk=64 * 1024, trailer=None, tamper=None,
                    extra_headers=None, target=None):
    """Signs a PUT of `data` as an aws-chunked body. mode: "signed"
    (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), "signed-trailer" (...-TRAILER) or
    "unsigned-trailer" (STREAMING-UNSIGNED-PAYLOAD-TRAILER). trailer:
    (header name, value) or None. tamper(body bytes) -> bytes changes the
    wire body after signing. Returns (target, headers, wire body)."""
    import hmac
    payload = {"signed": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
               "signed-trailer": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
               "unsigned-trailer": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}[mode]
    target = target or "/%s/%s" % (BUCKET, urllib.parse.quote(key))
    headers = {"Content-Encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(len(data))}
    if trailer:
        headers["x-amz-trailer"] = trailer[0]
    headers.update(extra_headers or {})
    h = signed_headers(port, "PUT", target, b"", headers, payload=payload)
    seed = h["Authorization"].rsplit("Signature=", 1)[1]
    date = h["X-Amz-Date"]
    scope = "%s/%s/s3/aws4_request" % (date[:8], REGION)
    k = ("AWS4" + SECRET).encode()
    for part in (date[:8], REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()

    def sign(sts):
        return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()

    signed = mode.startswith("signed")
    prev = seed
    out = bytearray()
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        if signed:
            sig = sign("AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s" % (
                date, scope, prev, EMPTY_SHA256, hashlib.sha256(piece).hexdigest()))
            out += b"%x;chunk-signature=%s\r\n" % (len(piece), sig.encode())
            prev = sig
        else:
            out += b"%x\r\n" % len(piece)
        if piece:
            out += piece + b"\r\n"
    if trailer:
        line = "%s:%s" % trailer
        out += line.encode() + b"\r\n"
        if signed:
            th = hashlib.sha256((line + "\n").encode()).hexdigest()
            tsig = sign("AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s" % (date, scope, prev, th))
            out += b"x-amz-trailer-signature:" + tsig.encode() + b"\r\n"
        out += b"\r\n"
    else:
        out += b"\r\n"
    body = bytes(out)
    if tamper:
        body = tamper(body)
    return target, h, body

# ---- tests ------------------------------------------------------------------

class Suite:
    def __init__(self, build, tmp):
        self.tmp = tmp
        self.keys = Keys(tmp)
        self.msgs = load_messages(tmp)
        self.d = Daemon(build, tmp, self.keys)
        self.rpc = Rpc(self.d, self.msgs)
        self.tok = self.keys.service_token()

    def start(self):
        self.d.start()

    def key(self, name, tid=TENANT):
        return "t/%s/%s" % (tid, name)

    def stat(self, key, token=None):
        return self.rpc.call("StatObject", token or self.tok, key=key).object

    def stat_code(self, key):
        return self.rpc.error("StatObject", self.tok, key=key)[0]

    def presign_put(self, key, **kw):
        return self.rpc.call("PresignUpload", self.tok, key=key, **kw)

    def put_presigned(self, resp, body, extra=None):
        headers = {h.name: h.value for h in resp.headers}
        headers.update(extra or {})
        return http_req(self.d.data, "PUT", url_target(resp.url), headers, body)

    # -- startup and awscli --

    @case("startup: data, RPC and admin ports; /readyz 200 once the JWKS is loaded")
    def t_startup(self):
        st, body = self.d.readyz()
        expect(st == 200 and b"jwks" in body and b"storage" in body, (st, body))

    @case("awscli s3api put-object / head-object / get-object (whole, Range) / delete-object")
    def t_awscli_basic(self):
        d = self.d
        data = os.urandom(100000)
        path = os.path.join(self.tmp, "small.bin")
        with open(path, "wb") as f:
            f.write(data)
        key = self.key("docs/report 2026+é.pdf")
        r = aws_json(d, "s3api", "put-object", "--bucket", BUCKET, "--key", key, "--body", path,
                     "--content-type", "application/pdf", "--metadata", "owner=alice")
        expect(r["ETag"] == '"%s"' % md5_hex(data), r)
        h = aws_json(d, "s3api", "head-object", "--bucket", BUCKET, "--key", key)
        expect(h["ContentLength"] == len(data) and h["ContentType"] == "application/pdf" and
               h["ETag"] == r["ETag"] and h["Metadata"] == {"owner": "alice"}, h)
        out = os.path.join(self.tmp, "small.out")
        aws_json(d, "s3api", "get-object", "--bucket", BUCKET, "--key", key, out)
        expect(open(out, "rb").read() == data, "content differs")
        g = aws_json(d, "s3api", "get-object", "--bucket", BUCKET, "--key", key, "--range",
                     "bytes=10-19", out)
        expect(open(out, "rb").read() == data[10:20] and
               g["ContentRange"] == "bytes 10-19/%d" % len(data), g)
        o = self.stat(key)
        expect(o.sha256 == sha256(data) and o.size == len(data), o)
        aws_json(d, "s3api", "delete-object", "--bucket", BUCKET, "--key", key)
        p = aws(d, "s3api", "head-object", "--bucket", BUCKET, "--key", key)
        expect(p.returncode != 0 and "404" in p.stderr, p.stderr)
        p = aws(d, "s3api", "get-object", "--bucket", BUCKET, "--key", key, out)
        expect(p.returncode != 0 and "NoSuchKey" in p.stderr, p.stderr)

    @case("awscli with a wrong secret -> SignatureDoesNotMatch; nothing written")
    def t_awscli_wrong_secret(self):
        env_secret = SECRET + "x"
        env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=env_secret,
                   AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        key = self.key("wrong-secret.txt")
        p = subprocess.run([AWS, "--endpoint-url", self.d.endpoint, "s3api", "put-object",
                            "--bucket", BUCKET, "--key", key, "--body", "/etc/hostname"],
                           env=env, capture_output=True, text=True, timeout=60)
        expect(p.returncode != 0 and "SignatureDoesNotMatch" in p.stderr, p.stderr)
        expect(self.stat_code(key) == "NOT_FOUND", "written")

    @case("awscli s3api multipart: create / upload-part x2 / list-parts / complete (ETag -2)")
    def t_awscli_multipart(self):
        d = self.d
        key = self.key("mp/awscli.bin")
        p1, p2 = os.urandom(5 * MIB), os.urandom(1234)
        f1, f2 = os.path.join(self.tmp, "p1"), os.path.join(self.tmp, "p2")
        open(f1, "wb").write(p1)
        open(f2, "wb").write(p2)
        up = aws_json(d, "s3api", "create-multipart-upload", "--bucket", BUCKET, "--key", key,
                      "--content-type", "application/x-test")["UploadId"]
        e1 = aws_json(d, "s3api", "upload-part", "--bucket", BUCKET, "--key", key, "--upload-id",
                      up, "--part-number", "1", "--body", f1)["ETag"]
        e2 = aws_json(d, "s3api", "upload-part", "--bucket", BUCKET, "--key", key, "--upload-id",
                      up, "--part-number", "2", "--body", f2)["ETag"]
        expect(e1 == '"%s"' % md5_hex(p1) and e2 == '"%s"' % md5_hex(p2), (e1, e2))
        lp = aws_json(d, "s3api", "list-parts", "--bucket", BUCKET, "--key", key, "--upload-id",
                      up)
        expect([(x["PartNumber"], x["Size"]) for x in lp["Parts"]] == [(1, len(p1)), (2, len(p2))],
               lp)
        mpu = json.dumps({"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        c = aws_json(d, "s3api", "complete-multipart-upload", "--bucket", BUCKET, "--key", key,
                     "--upload-id", up, "--multipart-upload", mpu)
        expect(c["ETag"] == '"%s"' % multipart_etag([p1, p2]) and c["Key"] == key, c)
        o = self.stat(key)
        expect(o.parts_count == 2 and o.sha256 == sha256(p1 + p2) and
               o.content_type == "application/x-test", o)
        out = os.path.join(self.tmp, "mp.out")
        aws_json(d, "s3api", "get-object", "--bucket", BUCKET, "--key", key, out)
        expect(open(out, "rb").read() == p1 + p2, "content differs")
        expect(not object_files(d.root)["mpu"], object_files(d.root)["mpu"])

    @case("awscli abort-multipart-upload, then list-parts -> NoSuchUpload")
    def t_awscli_abort(self):
        d = self.d
        key = self.key("mp/aborted.bin")
        up = aws_json(d, "s3api", "create-multipart-upload", "--bucket", BUCKET, "--key",
                      key)["UploadId"]
        aws_json(d, "s3api", "upload-part", "--bucket", BUCKET, "--key", key, "--upload-id", up,
                 "--part-number", "1", "--body", "/etc/hostname")
        aws_json(d, "s3api", "abort-multipart-upload", "--bucket", BUCKET, "--key", key,
                 "--upload-id", up)
        p = aws(d, "s3api", "list-parts", "--bucket", BUCKET, "--key", key, "--upload-id", up)
        expect(p.returncode != 0 and "NoSuchUpload" in p.stderr, p.stderr)
        expect(self.stat_code(key) == "NOT_FOUND", "object appeared")

    @case("aws s3 cp of 20 MiB goes multipart (5 MiB parts, ETag -4) and downloads back equal")
    def t_awscli_cp(self):
        d = self.d
        cfg = os.path.join(self.tmp, "aws.cfg")
        with open(cfg, "w") as f:
            f.write("[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n")
        data = os.urandom(20 * MIB)
        src = os.path.join(self.tmp, "big20.bin")
        open(src, "wb").write(data)
        key = self.key("cp/big20.bin")
        aws(d, "s3", "cp", "--only-show-errors", src, "s3://%s/%s" % (BUCKET, key), config=cfg,
            check=True)
        h = aws_json(d, "s3api", "head-object", "--bucket", BUCKET, "--key", key)
        parts = [data[i:i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
        expect(h["ETag"] == '"%s"' % multipart_etag(parts) and h["ContentLength"] == len(data), h)
        dst = os.path.join(self.tmp, "big20.out")
        aws(d, "s3", "cp", "--only-show-errors", "s3://%s/%s" % (BUCKET, key), dst, config=cfg,
            check=True)
        expect(open(dst, "rb").read() == data, "downloaded content differs")

    @case("awscli s3api copy-object (COPY, REPLACE, to GLACIER) and restore-object (202, 200, 409)")
    def t_awscli_copy_restore(self):
        d = self.d
        src, dst = self.key("cp/src.txt"), self.key("cp/dst.txt")
        body = b"copy me\n" * 100
        path = os.path.join(self.tmp, "copy.txt")
        open(path, "wb").write(body)
        aws_json(d, "s3api", "put-object", "--bucket", BUCKET, "--key", src, "--body", path,
                 "--content-type", "text/plain", "--metadata", "a=1")
        c = aws_json(d, "s3api", "copy-object", "--bucket", BUCKET, "--key", dst,
                     "--copy-source", "%s/%s" % (BUCKET, src))
        expect(c["CopyObjectResult"]["ETag"] == '"%s"' % md5_hex(body), c)
        h = aws_json(d, "s3api", "head-object", "--bucket", BUCKET, "--key", dst)
        expect(h["ContentType"] == "text/plain" and h["Metadata"] == {"a": "1"}, h)
        aws_json(d, "s3api", "copy-object", "--bucket", BUCKET, "--key", dst, "--copy-source",
                 "%s/%s" % (BUCKET, src), "--metadata-directive", "REPLACE", "--content-type",
                 "text/x-new", "--metadata", "b=2")
        h = aws_json(d, "s3api", "head-object", "--bucket", BUCKET, "--key", dst)
        expect(h["ContentType"] == "text/x-new" and h["Metadata"] == {"b": "2"}, h)
        p = aws(d, "s3api", "copy-object", "--bucket", BUCKET, "--key", dst, "--copy-source",
                "%s/%s" % (BUCKET, dst))
        expect(p.returncode != 0 and "InvalidRequest" in p.stderr, p.stderr)
        aws_json(d, "s3api", "copy-object", "--bucket", BUCKET, "--key", dst, "--copy-source",
                 "%s/%s" % (BUCKET, dst), "--storage-class", "GLACIER")
        h = aws_json(d, "s3api", "head-object", "--bucket", BUCKET, "--key", dst)
        expect(h.get("StorageClass") == "GLACIER", h)
        out = os.path.join(self.tmp, "copy.out")
        p = aws(d, "s3api", "get-object", "--bucket", BUCKET, "--key", dst, out)
        expect(p.returncode != 0 and "InvalidObjectState" in p.stderr, p.stderr)
        aws(d, "s3api", "restore-object", "--bucket", BUCKET, "--key", dst, "--restore-request",
            "Days=1,GlacierJobParameters={Tier=Expedited}", check=True)
        # At once (a "day" is 3 s here, and each awscli run takes ~1 s on a
        # loaded machine): a restore of a restored copy only extends it, by
        # 30 "days" (90 s) so that the reads below never race the expiry
        # (an awscli run took over 3 s under ASan on a shared machine).
        target = "/%s/%s?restore" % (BUCKET, dst)
        xml = b"<RestoreRequest><Days>30</Days></RestoreRequest>"
        st, _, b = http_req(d.data, "POST", target, signed_headers(d.data, "POST", target, xml),
                            xml)
        expect(st == 200, (st, b))
        h = aws_json(d, "s3api", "head-object", "--bucket", BUCKET, "--key", dst)
        expect(h.get("Restore", "").startswith('ongoing-request="false"'), h)
        aws_json(d, "s3api", "get-object", "--bucket", BUCKET, "--key", dst, out)
        expect(open(out, "rb").read() == body, "restored content differs")
        aws_json(d, "s3api", "copy-object", "--bucket", BUCKET, "--key", src, "--copy-source",
                 "%s/%s" % (BUCKET, src), "--storage-class", "DEEP_ARCHIVE")
        xml = (b"<RestoreRequest><Days>1</Days><GlacierJobParameters><Tier>Standard</Tier>"
               b"</GlacierJobParameters></RestoreRequest>")
        target = "/%s/%s?restore" % (BUCKET, src)
        st, _, b = http_req(d.data, "POST", target, signed_headers(d.data, "POST", target, xml),
                            xml)
        expect(st == 202, (st, b))
        st, _, b = http_req(d.data, "POST", target, signed_headers(d.data, "POST", target, xml),
                            xml)
        expect(st == 409 and s3_code(b) == "RestoreAlreadyInProgress", (st, b))
        bad = b"<RestoreRequest><Days>0</Days></RestoreRequest>"
        st, _, b = http_req(d.data, "POST", target, signed_headers(d.data, "POST", target, bad),
                            bad)
        expect(st == 400 and s3_code(b) == "MalformedXML", (st, b))

    # -- presigned URLs from the AWS SDK for JavaScript --

    @case("@aws-sdk/s3-request-presigner URLs (PUT with content type, GET, HEAD, UploadPart) accepted")
    def t_sdk_presigner(self):
        d = self.d
        key = self.key("sdk/hello.txt")
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=self.key("sdk/part.bin")).upload_id
        args = {"endpoint": d.endpoint, "region": REGION, "accessKeyId": AKID,
                "secretAccessKey": SECRET, "bucket": BUCKET,
                "requests": [{"op": "put", "key": key, "contentType": "text/plain"},
                             {"op": "get", "key": key,
                              "responseContentDisposition": 'attachment; filename="h.txt"'},
                             {"op": "head", "key": key},
                             {"op": "part", "key": self.key("sdk/part.bin"), "partNumber": 1,
                              "uploadId": up}]}
        env = dict(os.environ, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="true")
        p = subprocess.run(["node", os.path.join(HERE, "presign_sdk.mjs"), json.dumps(args)],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
        expect(p.returncode == 0, p.stderr)
        put, get, head, part = json.loads(p.stdout)
        expect("X-Amz-Content-Sha256=UNSIGNED-PAYLOAD" in put and "x-id=PutObject" in put, put)
        body = b"hello from the JS SDK\n"
        st, h, b = http_req(d.data, "PUT", url_target(put), {"Content-Type": "text/plain"}, body)
        expect(st == 200 and h.get("etag") == '"%s"' % md5_hex(body), (st, h, b))
        st, h, b = http_req(d.data, "GET", url_target(get))
        expect(st == 200 and b == body and h.get("content-type") == "text/plain" and
               h.get("content-disposition") == 'attachment; filename="h.txt"', (st, h, b))
        st, h, b = http_req(d.data, "HEAD", url_target(head))
        expect(st == 200 and h.get("content-length") == str(len(body)), (st, h))
        st, h, b = http_req(d.data, "PUT", url_target(part), {}, b"part one")
        expect(st == 200 and h.get("etag") == '"%s"' % md5_hex(b"part one"), (st, h, b))

    # -- kumo's presigned URLs --

    def botocore_urls(self, time_str, requests, crt):
        args = {"endpoint": self.d.endpoint, "region": REGION, "accessKeyId": AKID,
                "secretAccessKey": SECRET, "time": time_str, "requests": requests}
        env = dict(os.environ, BOTO_DISABLE_CRT="false" if crt else "true")
        p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "botocore_presign.py"),
                            json.dumps(args)], capture_output=True, text=True, env=env,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        return json.loads(p.stdout)

    def compare_with_botocore(self, kumo_url, method, params, expires):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(kumo_url).query)
        t = q["X-Amz-Date"][0]
        req = [{"method": method, "params": params, "expires": expires}]
        py = self.botocore_urls(t, req, crt=False)[0]
        crt = self.botocore_urls(t, req, crt=True)[0]
        expect(kumo_url == py, "kumo:     %s\nbotocore: %s" % (kumo_url, py))
        a = urllib.parse.urlsplit(kumo_url)
        b = urllib.parse.urlsplit(crt)
        expect(a.path == b.path and sorted(urllib.parse.parse_qsl(a.query)) ==
               sorted(urllib.parse.parse_qsl(b.query)),
               "kumo: %s\ncrt:  %s" % (kumo_url, crt))

    @case("PresignUpload (type, size, SHA-256, class) == botocore's URL; PUT accepted; StatObject")
    def t_presign_upload(self):
        body = os.urandom(4321)
        key = self.key("kumo/upload me.bin")
        r = self.presign_put(key, content_type="application/octet-stream",
                             size=self.msgs["Int64Value"](value=len(body)), sha256=sha256(body),
                             storage_class=1, expires_in=self.msgs["Duration"](seconds=600))
        expect(r.method == "PUT" and sorted(h.name for h in r.headers) ==
               ["content-length", "content-type", "x-amz-checksum-sha256", "x-amz-storage-class"],
               r)
        self.compare_with_botocore(r.url, "put_object", {
            "Bucket": BUCKET, "Key": key, "ContentType": "application/octet-stream",
            "ContentLength": len(body), "ChecksumSHA256": base64.b64encode(sha256(body)).decode(),
            "StorageClass": "STANDARD"}, 600)
        st, h, b = self.put_presigned(r, body)
        expect(st == 200 and h.get("etag") == '"%s"' % md5_hex(body), (st, h, b))
        o = self.stat(key)
        expect(o.size == len(body) and o.sha256 == sha256(body) and o.etag == md5_hex(body) and
               o.content_type == "application/octet-stream" and o.storage_class == 1 and
               o.last_modified_time.seconds > 0, o)

    @case("PresignDownload (disposition, type) == botocore's URL; GET overrides the headers")
    def t_presign_download(self):
        body = b"download me\n"
        key = self.key("kumo/dl.txt")
        r = self.presign_put(key, content_type="text/plain")
        expect(self.put_presigned(r, body)[0] == 200, "upload failed")
        disp = 'attachment; filename="r\u00e9sum\u00e9 1.txt"'
        g = self.rpc.call("PresignDownload", self.tok, key=key, response_content_disposition=disp,
                          response_content_type="application/x-custom",
                          expires_in=self.msgs["Duration"](seconds=300))
        expect(g.method == "GET" and g.object.size == len(body), g)
        self.compare_with_botocore(g.url, "get_object", {
            "Bucket": BUCKET, "Key": key, "ResponseContentDisposition": disp,
            "ResponseContentType": "application/x-custom"}, 300)
        st, h, b = http_req(self.d.data, "GET", url_target(g.url))
        expect(st == 200 and b == body and h.get("content-type") == "application/x-custom" and
               h.get("content-disposition").encode("latin-1") == disp.encode(), (st, h))
        code, _ = self.rpc.error("PresignDownload", self.tok, key=self.key("kumo/none"))
        expect(code == "NOT_FOUND", code)

    @case("multipart through RPCs: Create / PresignUploadPart (== botocore) / ListParts pages / Complete")
    def t_rpc_multipart(self):
        key = self.key("kumo/mp.bin")
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=key,
                           content_type="video/mp4").upload_id
        parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(77)]
        etags = []
        for i, p in enumerate(parts, 1):
            r = self.rpc.call("PresignUploadPart", self.tok, key=key, upload_id=up,
                              part_number=i, size=self.msgs["Int64Value"](value=len(p)),
                              expires_in=self.msgs["Duration"](seconds=900))
            if i == 1:
                self.compare_with_botocore(r.url, "upload_part", {
                    "Bucket": BUCKET, "Key": key, "PartNumber": 1, "UploadId": up,
                    "ContentLength": len(p)}, 900)
            st, h, b = self.put_presigned(r, p)
            expect(st == 200, (st, b))
            etags.append(h["etag"])
        page = self.rpc.call("ListParts", self.tok, key=key, upload_id=up, page_size=2)
        expect([x.part_number for x in page.parts] == [1, 2] and page.next_page_token, page)
        page2 = self.rpc.call("ListParts", self.tok, key=key, upload_id=up, page_size=2,
                              page_token=page.next_page_token)
        expect([x.part_number for x in page2.parts] == [3] and not page2.next_page_token and
               page2.parts[0].size == 77, page2)
        cp = self.msgs["CompletedPart"]
        c = self.rpc.call("CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                          parts=[cp(part_number=i + 1, etag=e) for i, e in enumerate(etags)])
        expect(c.object.etag == multipart_etag(parts) and c.object.parts_count == 3 and
               c.object.sha256 == sha256(b"".join(parts)) and
               c.object.content_type == "video/mp4", c.object)
        code, _ = self.rpc.error("ListParts", self.tok, key=key, upload_id=up)
        expect(code == "NOT_FOUND", "upload still listed after completion")

    @case("multipart with part SHA-256s (part_sha256): signed into part URLs, declared at "
          "Complete: wrong, partial, malformed, part PUT without one -> INVALID_ARGUMENT and "
          "nothing assembled; "
          "right -> the object; declared on an upload without part_sha256 -> still checked")
    def t_rpc_multipart_sha256(self):
        cp = self.msgs["CompletedPart"]
        for ask in (True, False):
            key = self.key("kumo/mp-sha-%d.bin" % ask)
            up = self.rpc.call("CreateMultipartUpload", self.tok, key=key,
                               part_sha256=ask).upload_id
            parts = [os.urandom(5 * MIB), os.urandom(77)]
            sums = [sha256(p) for p in parts]
            etags = []
            for i, p in enumerate(parts, 1):
                r = self.rpc.call("PresignUploadPart", self.tok, key=key, upload_id=up,
                                  part_number=i, sha256=sums[i - 1])
                expect("x-amz-checksum-sha256" in [h.name.lower() for h in r.headers], r.headers)
                st, h, b = self.put_presigned(r, p)
                # Its ETag: the SHA-256 it carried, cut to 16 bytes (no MD5 computed).
                expect(st == 200 and h.get("x-amz-checksum-sha256") ==
                       base64.b64encode(sums[i - 1]).decode() and
                       h.get("etag") == '"%s"' % sums[i - 1][:16].hex(), (st, h, b[:200]))
                etags.append(h["etag"])
            bad = [sums[0], sha256(b"other")]
            for got, want in (([sums[0], b""], "every part"), ([sums[0], sums[1][:31]], "32 bytes"),
                              (bad, "checksum")):
                code, msg = self.rpc.error(
                    "CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                    parts=[cp(part_number=i + 1, etag=e, sha256=got[i])
                           for i, e in enumerate(etags)])
                expect(code == "INVALID_ARGUMENT" and want in msg, (ask, want, code, msg))
            code, _ = self.rpc.error("StatObject", self.tok, key=key)
            expect(code == "NOT_FOUND", "an object after a refused completion: %s" % code)
            if ask:  # part 2 again, without a checksum: declaring one now is refused
                r = self.rpc.call("PresignUploadPart", self.tok, key=key, upload_id=up,
                                  part_number=2)
                st, h, _ = self.put_presigned(r, parts[1])
                # Without its SHA-256 the part's ETag is its MD5 again.
                expect(st == 200 and h["etag"] == '"%s"' % md5_hex(parts[1]), (st, h))
                code, msg = self.rpc.error(
                    "CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                    parts=[cp(part_number=i + 1, etag=e, sha256=sums[i])
                           for i, e in enumerate([etags[0], h["etag"]])])
                expect(code == "INVALID_ARGUMENT" and "without one" in msg, (code, msg))
                r = self.rpc.call("PresignUploadPart", self.tok, key=key, upload_id=up,
                                  part_number=2, sha256=sums[1])
                expect(self.put_presigned(r, parts[1])[0] == 200, "part 2 with its checksum")
            c = self.rpc.call("CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                              parts=[cp(part_number=i + 1, etag=e, sha256=sums[i])
                                     for i, e in enumerate(etags)])
            expect(c.object.sha256 == sha256(b"".join(parts)) and c.object.parts_count == 2,
                   c.object)

    @case("CompleteMultipartUpload refuses a wrong ETag, a bad order, a small middle part")
    def t_rpc_multipart_errors(self):
        key = self.key("kumo/mp-bad.bin")
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=key).upload_id
        small = b"x" * 1000
        tags = []
        for i in (1, 2):
            r = self.rpc.call("PresignUploadPart", self.tok, key=key, upload_id=up, part_number=i)
            st, h, _ = self.put_presigned(r, small)
            tags.append(h["etag"])
        cp = self.msgs["CompletedPart"]
        code, msg = self.rpc.error("CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                                   parts=[cp(part_number=1, etag="0" * 32),
                                          cp(part_number=2, etag=tags[1])])
        expect(code == "FAILED_PRECONDITION", (code, msg))
        code, msg = self.rpc.error("CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                                   parts=[cp(part_number=2, etag=tags[1]),
                                          cp(part_number=1, etag=tags[0])])
        expect(code == "INVALID_ARGUMENT" and "order" in msg, (code, msg))
        code, msg = self.rpc.error("CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                                   parts=[cp(part_number=1, etag=tags[0]),
                                          cp(part_number=2, etag=tags[1])])
        expect(code == "FAILED_PRECONDITION" and "smaller" in msg, (code, msg))
        code, _ = self.rpc.error("PresignUploadPart", self.tok, key=key, upload_id="0" * 32,
                                 part_number=1)
        expect(code == "NOT_FOUND", code)
        code, _ = self.rpc.error("PresignUploadPart", self.tok, key=key, upload_id=up,
                                 part_number=10001)
        expect(code == "INVALID_ARGUMENT", code)
        self.rpc.call("AbortMultipartUpload", self.tok, key=key, upload_id=up)
        expect(self.stat_code(key) == "NOT_FOUND", "object appeared")

    # -- tampering, expiry, content type --

    @case("tampered presigned URLs (each query parameter, the key, signed headers) refused; nothing written")
    def t_tamper(self):
        d = self.d
        body = b"tamper test body"
        key = self.key("kumo/tamper.txt")
        r = self.presign_put(key, content_type="text/plain",
                             size=self.msgs["Int64Value"](value=len(body)))
        target = url_target(r.url)
        path, query = target.split("?", 1)
        pairs = [p.split("=", 1) for p in query.split("&")]
        hdrs = {h.name: h.value for h in r.headers}
        problems = []

        def try_put(t, headers=None, data=body, want=(403, "SignatureDoesNotMatch"), what=""):
            st, _, b = http_req(d.data, "PUT", t, headers or hdrs, data)
            if (st, s3_code(b)) != want:
                problems.append("%s: got %s %s, want %s" % (what, st, s3_code(b), want))

        def with_param(name, value):
            return path + "?" + "&".join("%s=%s" % (k, value if k == name else v)
                                         for k, v in pairs)

        expectations = {
            "X-Amz-Algorithm": ("AWS4-HMAC-SHA512", (400, "AuthorizationQueryParametersError")),
            "X-Amz-Credential": (None, (403, "SignatureDoesNotMatch")),
            "X-Amz-Date": (None, (403, "SignatureDoesNotMatch")),
            "X-Amz-Expires": (None, (403, "SignatureDoesNotMatch")),
            "X-Amz-SignedHeaders": ("content-length%3Bhost", (403, "SignatureDoesNotMatch")),
            "X-Amz-Signature": (None, (403, "SignatureDoesNotMatch")),
        }
        for name, value in pairs:
            alt, want = expectations[name]
            if alt is None:
                if name == "X-Amz-Credential":
                    alt = value.replace(AKID, AKID[:-1] + "X")
                    want = (403, "InvalidAccessKeyId")
                elif name == "X-Amz-Date":
                    alt = value[:-3] + ("%02dZ" % ((int(value[-3:-1]) + 1) % 60))
                elif name == "X-Amz-Expires":
                    alt = str(int(value) + 1)
                else:
                    alt = value[:-1] + ("0" if value[-1] != "0" else "1")
            try_put(with_param(name, alt), want=want, what="param " + name)
        try_put(target + "&x-extra=1", what="added parameter")
        try_put(path.replace("tamper.txt", "tamper.txu") + "?" + query, what="key")
        try_put(path.replace("/kumo/t/", "/kumo/t//") + "?" + query, what="key with //")
        h2 = dict(hdrs, **{"content-type": "text/html"})
        try_put(target, h2, what="content-type header")
        try_put(target, data=body + b"!", what="content-length (body size)")
        h3 = dict(hdrs, **{"x-amz-meta-extra": "1"})
        try_put(target, h3, want=(403, "AccessDenied"), what="unsigned x-amz-* header")
        expect(not problems, "\n".join(problems))
        expect(self.stat_code(key) == "NOT_FOUND", "something was written")
        st, _, b = http_req(d.data, "PUT", target, hdrs, body)
        expect(st == 200, "the untampered URL failed: %s %s" % (st, b))
        # GET and part URLs: their own parameters are signed too.
        g = self.rpc.call("PresignDownload", self.tok, key=key, response_content_type="text/x-a")
        t = url_target(g.url).replace("text%2Fx-a", "text%2Fx-b")
        st, _, b = http_req(d.data, "GET", t)
        expect((st, s3_code(b)) == (403, "SignatureDoesNotMatch"), (st, b))

    @case("expired presigned URL -> 403 AccessDenied 'Request has expired'")
    def t_expired(self):
        key = self.key("kumo/expired.txt")
        r = self.presign_put(key, expires_in=self.msgs["Duration"](seconds=1))
        time.sleep(2.2)
        st, _, b = self.put_presigned(r, b"late")
        expect(st == 403 and s3_code(b) == "AccessDenied" and b"Request has expired" in b,
               (st, b))
        expect(self.stat_code(key) == "NOT_FOUND", "written")
        code, _ = self.rpc.error("PresignUpload", self.tok, key=key,
                                 expires_in=self.msgs["Duration"](seconds=604801))
        expect(code == "INVALID_ARGUMENT", code)

    @case("wrong content type on a URL signed with one -> 403 SignatureDoesNotMatch")
    def t_wrong_content_type(self):
        key = self.key("kumo/typed.txt")
        r = self.presign_put(key, content_type="text/plain")
        st, _, b = self.put_presigned(r, b"x", {"content-type": "application/json"})
        expect(st == 403 and s3_code(b) == "SignatureDoesNotMatch", (st, b))
        expect(self.stat_code(key) == "NOT_FOUND", "written")

    @case("bound SHA-256 enforced: same size, other bytes -> 400 BadDigest; nothing written")
    def t_bound_sha(self):
        body = b"a" * 64
        key = self.key("kumo/sha-bound.txt")
        r = self.presign_put(key, sha256=sha256(body), size=self.msgs["Int64Value"](value=64))
        st, _, b = self.put_presigned(r, b"b" * 64)
        expect(st == 400 and s3_code(b) == "BadDigest", (st, b))
        expect(self.stat_code(key) == "NOT_FOUND", "written")
        expect(not object_files(self.d.root)["tmp"], "temporary file left")

    @case("header-signed: x-amz-content-sha256 mismatch -> XAmzContentSHA256Mismatch; Content-MD5 -> BadDigest; SigV4a STREAMING -> 501, an unframed STREAMING body refused")
    def t_signed_payload(self):
        d = self.d
        key = self.key("kumo/signed.txt")
        target = "/%s/%s" % (BUCKET, key)
        good, bad = b"0123456789", b"9876543210"
        h = signed_headers(d.data, "PUT", target, good)
        st, _, b = http_req(d.data, "PUT", target, h, bad)
        expect(st == 400 and s3_code(b) == "XAmzContentSHA256Mismatch", (st, b))
        md5 = base64.b64encode(hashlib.md5(good).digest()).decode()
        h = signed_headers(d.data, "PUT", target, bad, {"Content-MD5": md5})
        st, _, b = http_req(d.data, "PUT", target, h, bad)
        expect(st == 400 and s3_code(b) == "BadDigest", (st, b))
        h = signed_headers(d.data, "PUT", target, good,
                           payload="STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
        st, _, b = http_req(d.data, "PUT", target, h, good)
        expect(st == 501 and s3_code(b) == "NotImplemented", (st, b))
        h = signed_headers(d.data, "PUT", target, good,
                           payload="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        st, _, b = http_req(d.data, "PUT", target, h, good)
        expect(st == 411 and s3_code(b) == "MissingContentLength", (st, b))
        h = signed_headers(d.data, "PUT", target, good, {"x-amz-decoded-content-length": "10"},
                           payload="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        st, _, b = http_req(d.data, "PUT", target, h, good)
        expect(st == 400 and s3_code(b) == "IncompleteBody", (st, b))  # no final chunk
        expect(self.stat_code(key) == "NOT_FOUND", "written")
        h = signed_headers(d.data, "PUT", target, good, {"Content-MD5": base64.b64encode(
            hashlib.md5(good).digest()).decode()})
        st, _, b = http_req(d.data, "PUT", target, h, good)
        expect(st == 200, (st, b))
        expect(not object_files(d.root)["tmp"], "temporary file left")

    # -- keys --

    @case("bad keys over RPC (traversal, '.', absolute, NUL, 2 KB, other tenant, //) rejected; nothing written")
    def t_bad_keys_rpc(self):
        before = object_files(self.d.root)
        cases = [
            ("t/%s/../%s/x" % (TENANT, OTHER), "INVALID_ARGUMENT", ".."),
            ("t/%s/./x" % TENANT, "INVALID_ARGUMENT", "."),
            ("/t/%s/x" % TENANT, "INVALID_ARGUMENT", "/"),
            ("t/%s/a\x00b" % TENANT, "INVALID_ARGUMENT", "NUL"),
            ("t/%s/" % TENANT + "a" * 2048, "INVALID_ARGUMENT", "1024"),
            ("t/%s/x" % OTHER, "PERMISSION_DENIED", "t/<tenant id>/"),
            ("t/%s//x" % TENANT, "INVALID_ARGUMENT", "empty"),
            ("t/%s/x/" % TENANT, "INVALID_ARGUMENT", "empty"),
            ("docs/x", "INVALID_ARGUMENT", "t/<tenant id>/"),
            ("", "INVALID_ARGUMENT", "empty"),
            ("t/%s/a\x07b" % TENANT, "INVALID_ARGUMENT", "control"),
            ("t/%s/a\\b" % TENANT, "INVALID_ARGUMENT", "\\"),
        ]
        problems = []
        for key, want, hint in cases:
            for method, extra in (("PresignUpload", {}), ("CreateMultipartUpload", {}),
                                  ("StatObject", {}), ("DeleteObject", {})):
                code, msg = self.rpc.error(method, self.tok, key=key, **extra)
                if code != want or hint not in msg:
                    problems.append("%s %r: %s %s" % (method, key[:40], code, msg))
        code, msg = self.rpc.error("CopyObject", self.tok, source_key=self.key("a"),
                                   destination_key="t/%s/x" % OTHER)
        if code != "PERMISSION_DENIED":
            problems.append("CopyObject to another tenant: %s %s" % (code, msg))
        expect(not problems, "\n".join(problems))
        expect(object_files(self.d.root) == before, "files changed")

    @case("bad keys on the data port (.., %00, invalid UTF-8, 2 KB, no tenant) -> 400; nothing written")
    def t_bad_keys_data(self):
        d = self.d
        before = object_files(d.root)
        problems = []
        for raw, want in (("t/%s/../x" % TENANT, "InvalidArgument"),
                          ("t/%s/a%%00b" % TENANT, "InvalidArgument"),
                          ("t/%s/%%FF%%FE" % TENANT, "InvalidArgument"),
                          ("t/%s/" % TENANT + "k" * 2048, "KeyTooLongError"),
                          ("x/y", "InvalidArgument"),
                          ("t/%s/%%zz" % TENANT, "InvalidURI")):
            target = "/%s/%s" % (BUCKET, raw)
            h = signed_headers(d.data, "PUT", target, b"data")
            st, _, b = http_req(d.data, "PUT", target, h, b"data")
            if st != 400 or s3_code(b) != want:
                problems.append("%s: %s %s" % (raw[:40], st, b[:200]))
        h = signed_headers(d.data, "PUT", "/other-bucket/t/%s/x" % TENANT, b"data")
        st, _, b = http_req(d.data, "PUT", "/other-bucket/t/%s/x" % TENANT, h, b"data")
        if st != 404 or s3_code(b) != "NoSuchBucket":
            problems.append("other bucket: %s %s" % (st, b[:200]))
        expect(not problems, "\n".join(problems))
        expect(object_files(d.root) == before, "files changed")

    # -- authorization --

    @case("RPC auth: users refused whatever their role; service callers only, for the tenant of their token")
    def t_rpc_auth(self):
        key = self.key("auth/x.txt")
        self.put_presigned(self.presign_put(key), b"auth")
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=key).upload_id
        problems = []

        def want(label, got, code):
            if got[0] != code:
                problems.append("%s: %s %s" % (label, got[0], got[1]))

        want("no token", self.rpc.error("StatObject", None, key=key), "UNAUTHENTICATED")
        forged = self.keys.token(roles=("service",), sub="documents",
                                 key=ec.generate_private_key(ec.SECP256R1()).private_bytes(
                                     serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
        want("forged token", self.rpc.error("StatObject", forged, key=key), "UNAUTHENTICATED")
        calls = {"StatObject": {"key": key}, "PresignDownload": {"key": key},
                 "PresignUpload": {"key": key}, "DeleteObject": {"key": key},
                 "CopyObject": {"source_key": key, "destination_key": self.key("auth/y")},
                 "SetStorageClass": {"key": key, "storage_class": 2},
                 "RestoreObject": {"key": key, "days": 1},
                 "CreateMultipartUpload": {"key": key},
                 "PresignUploadPart": {"key": key, "upload_id": up, "part_number": 1},
                 "ListParts": {"key": key, "upload_id": up},
                 "CompleteMultipartUpload": {"key": key, "upload_id": up},
                 "AbortMultipartUpload": {"key": key, "upload_id": up}}
        for role in ("viewer", "editor", "admin"):
            user = self.keys.token(roles=(role,))
            for m, args in calls.items():
                for tid in ("", TENANT):
                    want("%s %s tenant_id=%r" % (role, m, tid),
                         self.rpc.error(m, user, tenant_id=tid, **args), "PERMISSION_DENIED")
        want("service with tenant_id",
             self.rpc.error("StatObject", self.tok, key=key, tenant_id=TENANT), "OK")
        want("service without tenant_id",
             self.rpc.error("StatObject", self.tok, key=key, tenant_id=""), "INVALID_ARGUMENT")
        want("service names another tenant than its token's",
             self.rpc.error("StatObject", self.tok, key=key, tenant_id=OTHER),
             "PERMISSION_DENIED")
        sys_svc = self.keys.service_token(tid="tn_system")
        want("system-tenant service token names a tenant",
             self.rpc.error("StatObject", sys_svc, key=key, tenant_id=TENANT),
             "PERMISSION_DENIED")
        other_svc = self.keys.service_token(tid=OTHER)
        want("service key outside the named tenant",
             self.rpc.error("StatObject", other_svc, key=key, tenant_id=OTHER),
             "PERMISSION_DENIED")
        bff = self.keys.service_token(sub="bff")
        want("service not allowed", self.rpc.error("StatObject", bff, key=key),
             "UNAUTHENTICATED")
        want("the object is untouched", self.rpc.error("StatObject", self.tok, key=key), "OK")
        self.rpc.call("AbortMultipartUpload", self.tok, key=key, upload_id=up)
        expect(not problems, "\n".join(problems))

    # -- archive emulation, copy, delete --

    @case("archive: GLACIER refuses GET (InvalidObjectState) until restored; restore expires after its days")
    def t_archive(self):
        d = self.d
        key = self.key("archive/doc.txt")
        body = b"cold data\n"
        self.put_presigned(self.presign_put(key, content_type="text/plain"), body)
        o = self.rpc.call("SetStorageClass", self.tok, key=key, storage_class=2).object
        expect(o.storage_class == 2 and o.restore.state == 1, o)
        code, msg = self.rpc.error("PresignDownload", self.tok, key=key)
        expect(code == "FAILED_PRECONDITION", (code, msg))
        target = "/%s/%s" % (BUCKET, key)
        st, _, b = http_req(d.data, "GET", target, signed_headers(d.data, "GET", target))
        expect(st == 403 and s3_code(b) == "InvalidObjectState", (st, b))
        st, h, _ = http_req(d.data, "HEAD", target, signed_headers(d.data, "HEAD", target))
        expect(st == 200 and h.get("x-amz-storage-class") == "GLACIER", (st, h))
        r = self.rpc.call("RestoreObject", self.tok, key=key, days=1, tier=1)
        expect(r.object.restore.state == 3 and not r.already_restored, r)
        st, h, b = http_req(d.data, "GET", target, signed_headers(d.data, "GET", target))
        expect(st == 200 and b == body and
               h.get("x-amz-restore", "").startswith('ongoing-request="false", expiry-date='),
               (st, h))
        r2 = self.rpc.call("RestoreObject", self.tok, key=key, days=1, tier=1)
        expect(r2.already_restored, r2)
        time.sleep(3.3)  # one "day" is 3 s here
        expect(self.stat(key).restore.state == 1, "restore did not expire")
        st, _, b = http_req(d.data, "GET", target, signed_headers(d.data, "GET", target))
        expect(st == 403 and s3_code(b) == "InvalidObjectState", (st, b))
        r = self.rpc.call("RestoreObject", self.tok, key=key, days=1, tier=2)
        expect(r.object.restore.state == 2, r)
        st, h, _ = http_req(d.data, "HEAD", target, signed_headers(d.data, "HEAD", target))
        expect(h.get("x-amz-restore") == 'ongoing-request="true"', h)
        code, _ = self.rpc.error("SetStorageClass", self.tok, key=key, storage_class=1)
        expect(code == "FAILED_PRECONDITION", code)
        time.sleep(1.2)
        expect(self.stat(key).restore.state == 3, "standard restore not done after its delay")
        o = self.rpc.call("SetStorageClass", self.tok, key=key, storage_class=1).object
        expect(o.storage_class == 1 and o.restore.state == 0, o)
        st, _, b = http_req(d.data, "GET", target, signed_headers(d.data, "GET", target))
        expect(st == 200 and b == body, (st, b))
        code, _ = self.rpc.error("RestoreObject", self.tok, key=key, days=1)
        expect(code == "FAILED_PRECONDITION", code)

    @case("CopyObject (same SHA-256, MD5 ETag, independent of its source), archived source refused; DeleteObject idempotent")
    def t_copy_delete(self):
        src, dst = self.key("copy/src.bin"), self.key("copy/dst.bin")
        body = os.urandom(3000)
        self.put_presigned(self.presign_put(src), body)
        o = self.rpc.call("CopyObject", self.tok, source_key=src, destination_key=dst,
                          storage_class=2).object
        expect(o.sha256 == sha256(body) and o.etag == md5_hex(body) and o.storage_class == 2, o)
        code, _ = self.rpc.error("CopyObject", self.tok, source_key=dst,
                                 destination_key=self.key("copy/dst2.bin"))
        expect(code == "FAILED_PRECONDITION", code)
        self.rpc.call("DeleteObject", self.tok, key=dst)
        self.rpc.call("DeleteObject", self.tok, key=dst)
        expect(self.stat_code(dst) == "NOT_FOUND", "not deleted")
        # The local copy shares the source's data file: neither a new
        # version nor the removal of the source may reach the copy.
        o = self.rpc.call("CopyObject", self.tok, source_key=src, destination_key=dst).object
        expect(o.sha256 == sha256(body) and o.storage_class == 1, o)
        self.put_presigned(self.presign_put(src), b"new source bytes")
        self.rpc.call("DeleteObject", self.tok, key=src)
        g = self.rpc.call("PresignDownload", self.tok, key=dst)
        st, _, b = http_req(self.d.data, "GET", url_target(g.url))
        expect(st == 200 and b == body, "copy changed with its source: %d %r" % (st, b[:40]))
        self.rpc.call("DeleteObject", self.tok, key=dst)

    # -- limits, XML, CORS --

    @case("limits: part numbers, declared sizes, missing length, big headers, XML size and DTDs")
    def t_limits(self):
        d = self.d
        key = self.key("limits/x.bin")
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=key).upload_id
        problems = []
        for pn in ("0", "10001", "abc", "-1"):
            target = "/%s/%s?partNumber=%s&uploadId=%s" % (BUCKET, key, pn, up)
            h = signed_headers(d.data, "PUT", target, b"x")
            st, _, b = http_req(d.data, "PUT", target, h, b"x")
            if (st, s3_code(b)) != (400, "InvalidArgument"):
                problems.append("part %s: %s %s" % (pn, st, b[:120]))
        # A declared size over the limit is refused before any body is sent.
        r = self.presign_put(key)
        s = socket.create_connection(("127.0.0.1", d.data), timeout=10)
        s.sendall(("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
                   "Expect: 100-continue\r\n\r\n" % (url_target(r.url), d.data,
                                                     2 * 1024 * MIB)).encode())
        resp = s.recv(4096)
        s.close()
        if not resp.startswith(b"HTTP/1.1 400") or b"EntityTooLarge" not in resp:
            problems.append("2 GiB declared: %r" % resp[:200])
        s = socket.create_connection(("127.0.0.1", d.data), timeout=10)
        s.sendall(("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n0\r\n\r\n" % (url_target(r.url), d.data)).encode())
        resp = s.recv(4096)
        s.close()
        if not resp.startswith(b"HTTP/1.1 411") or b"MissingContentLength" not in resp:
            problems.append("chunked PUT: %r" % resp[:200])
        s = socket.create_connection(("127.0.0.1", d.data), timeout=10)
        s.sendall(("GET /%s/%s HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" %
                   (BUCKET, key, "a" * 200000)).encode())
        resp = b""
        try:
            resp = s.recv(4096)
        except OSError:
            pass
        s.close()
        if not re.match(rb"HTTP/1.1 (400|413|414|431)", resp):
            problems.append("huge header: %r" % resp[:200])
        target = "/%s/%s?uploadId=%s" % (BUCKET, key, up)
        for body, want in ((b"<CompleteMultipartUpload>" + b"<Part></Part>" * 6000 +
                            b"</CompleteMultipartUpload>", "MaxMessageLengthExceeded"),
                           (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]>'
                            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                            b"<ETag>&e;</ETag></Part></CompleteMultipartUpload>", "MalformedXML"),
                           (b"<CompleteMultipartUpload><Part>", "MalformedXML"),
                           (b"<CompleteMultipartUpload></CompleteMultipartUpload>",
                            "MalformedXML")):
            h = signed_headers(d.data, "POST", target, body)
            st, _, b = http_req(d.data, "POST", target, h, body)
            if st != 400 or s3_code(b) != want:
                problems.append("complete %r...: %s %s" % (body[:30], st, b[:160]))
        expect(not problems, "\n".join(problems))
        expect(self.stat_code(key) == "NOT_FOUND", "object appeared")

    @case("CORS: preflight for the configured origin, refused for others; Allow-Origin on responses")
    def t_cors(self):
        d = self.d
        target = "/%s/%s" % (BUCKET, self.key("cors.txt"))
        st, h, _ = http_req(d.data, "OPTIONS", target, {
            "Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type, x-amz-checksum-sha256"})
        expect(st == 200 and h.get("access-control-allow-origin") == ORIGIN and
               "PUT" in h.get("access-control-allow-methods", "") and
               "x-amz-checksum-sha256" in h.get("access-control-allow-headers", ""), (st, h))
        st, h, b = http_req(d.data, "OPTIONS", target, {
            "Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"})
        expect(st == 403 and "access-control-allow-origin" not in h, (st, h, b))
        r = self.presign_put(self.key("cors.txt"))
        st, h, _ = http_req(d.data, "PUT", url_target(r.url), {"Origin": ORIGIN}, b"c")
        expect(st == 200 and h.get("access-control-allow-origin") == ORIGIN and
               "ETag" in h.get("access-control-expose-headers", ""), (st, h))
        st, h, _ = http_req(d.data, "PUT", url_target(r.url), {"Origin": "https://evil.example"},
                            b"c")
        expect(st == 200 and "access-control-allow-origin" not in h, (st, h))

    # -- streaming, crash safety, shutdown --

    @staticmethod
    def rss_kib(pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def watch_rss(self, pid, stop, out):
        peak = 0
        while not stop.is_set():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                break
            time.sleep(0.05)
        out.append(peak)

    def stream_put(self, url, size, stop_after=None, pace=None):
        """PUTs `size` bytes of a repeating pattern; returns (status, md5, sha).
        With stop_after, returns after sending that many bytes, the connection
        left open (the caller kills the server)."""
        chunk = bytes(range(256)) * 4096  # 1 MiB
        md5, sha = hashlib.md5(), hashlib.sha256()
        c = http.client.HTTPConnection("127.0.0.1", self.d.data, timeout=600)
        c.putrequest("PUT", url_target(url), skip_accept_encoding=True)
        c.putheader("Content-Length", str(size))
        c.endheaders()
        sent = 0
        while sent < size:
            n = min(len(chunk), size - sent)
            c.send(chunk[:n])
            md5.update(chunk[:n])
            sha.update(chunk[:n])
            sent += n
            if stop_after is not None and sent >= stop_after:
                return c, None, None
            if pace:
                time.sleep(pace)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status, md5.hexdigest(), sha.digest()

    @case("a large upload streams to disk with bounded memory (peak RSS reported)")
    def t_big(self):
        size = int(os.environ.get("STORAGE_TEST_BIG_MIB", "1024")) * MIB
        key = self.key("big/stream.bin")
        r = self.presign_put(key, size=self.msgs["Int64Value"](value=size),
                             expires_in=self.msgs["Duration"](seconds=900))
        before = self.rss_kib(self.d.proc.pid)
        stop, peak = threading.Event(), []
        w = threading.Thread(target=self.watch_rss, args=(self.d.proc.pid, stop, peak))
        w.start()
        t0 = time.time()
        st, md5, sha = self.stream_put(r.url, size)
        secs = time.time() - t0
        stop.set()
        w.join()
        print("# %d MiB upload: %.2f s (%.0f MiB/s), daemon RSS %.1f MiB before, peak %.1f MiB" %
              (size // MIB, secs, size / MIB / secs, before / 1024.0, peak[0] / 1024.0),
              flush=True)
        expect(st == 200, st)
        o = self.stat(key)
        expect(o.size == size and o.etag == md5 and o.sha256 == sha, o)
        # Under ASan the quarantine keeps earlier tests' freed memory resident:
        # there only the growth during the upload says something.
        expect(peak[0] - before < 32 * 1024, "RSS grew by %d KiB" % (peak[0] - before))
        if "asan" not in self.d.bin:
            expect(peak[0] < 48 * 1024, "peak RSS %d KiB" % peak[0])
        st, h, _ = http_req(self.d.data, "GET", url_target(self.rpc.call(
            "PresignDownload", self.tok, key=key).url), {"Range": "bytes=-5"})
        expect(st == 206 and h.get("content-range") == "bytes %d-%d/%d" % (size - 5, size - 1,
                                                                           size), (st, h))
        self.rpc.call("DeleteObject", self.tok, key=key)

    # -- today's S3 clients: flexible checksums, aws-chunked, ListObjectsV2 --

    def run_node(self, script, args):
        env = dict(os.environ, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="true")
        p = subprocess.run(["node", os.path.join(HERE, script), json.dumps(args)],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        expect(p.returncode == 0, p.stderr[-3000:])
        return json.loads(p.stdout)

    @case("@aws-sdk/client-s3 at its defaults: PutObject (CRC32 header, aws-chunked trailer), "
          "every algorithm, multipart with CRC32 parts and the composite checksum, GetObject "
          "with checksum mode, ListObjectsV2 (delimiter, pages, start-after)")
    def t_sdk_default_checksums(self):
        d = self.d
        prefix = self.key("sdk-default/")
        r = self.run_node("sdk_client.mjs", {
            "endpoint": d.endpoint, "region": REGION, "accessKeyId": AKID,
            "secretAccessKey": SECRET, "bucket": BUCKET, "prefix": prefix})
        expect(r["put"]["crc32"] == r["put"]["want"], r["put"])
        expect(r["streamed"]["crc32"] == r["streamed"]["want"] and
               r["streamed"]["etag"] == '"%s"' % r["streamed"]["md5"], r["streamed"])
        small = b"hello from the JS SDK with its default checksums\n"
        want = {"CRC32C": crc32c_b64(small), "CRC64NVME": crc64nvme_b64(small),
                "SHA1": base64.b64encode(hashlib.sha1(small).digest()).decode(),
                "SHA256": base64.b64encode(sha256(small)).decode()}
        for alg, v in r["algs"].items():
            expect(v.get("put") == want[alg] and v.get("head") == want[alg], (alg, v))
        expect(all(a == b for a, b in r["mpu"]["parts"]), r["mpu"])
        expect(r["mpu"]["complete"] == r["mpu"]["want"] and r["mpu"]["type"] == "COMPOSITE",
               r["mpu"])
        expect(r["get"]["same"] and r["get"]["crc32"] == r["streamed"]["want"], r["get"])
        expect(r["getMpu"]["same"] and r["getMpu"]["crc32"] == r["mpu"]["want"], r["getMpu"])
        names = sorted(["small.txt", "streamed.bin", "mpu.bin"] +
                       ["alg-" + a for a in ("CRC32C", "SHA1", "SHA256", "CRC64NVME")])
        keys = [prefix + n for n in names]
        expect(r["list"]["keys"] == keys and r["list"]["prefixes"] == [], r["list"])
        expect(r["paged"]["keys"] == keys and r["paged"]["pages"] == 4, r["paged"])
        expect(r["after"] == [k for k in keys if k > prefix + "mpu.bin"], r["after"])

    @case("awscli s3api put-object --checksum-algorithm CRC32 / SHA1 (verified, stored, "
          "returned by head-object and get-object --checksum-mode ENABLED); a wrong "
          "--checksum-crc32 is BadDigest and stores nothing")
    def t_awscli_checksums(self):
        d = self.d
        data = os.urandom(70000)
        path = os.path.join(self.tmp, "ck.bin")
        with open(path, "wb") as f:
            f.write(data)
        want = {"CRC32": crc32_b64(data),
                "SHA1": base64.b64encode(hashlib.sha1(data).digest()).decode()}
        for alg in ("CRC32", "SHA1"):
            key = self.key("cli-ck/%s.bin" % alg)
            r = aws_json(d, "s3api", "put-object", "--bucket", BUCKET, "--key", key, "--body",
                         path, "--checksum-algorithm", alg)
            expect(r.get("Checksum" + alg) == want[alg], (alg, r))
            h = aws_json(d, "s3api", "head-object", "--bucket", BUCKET, "--key", key,
                         "--checksum-mode", "ENABLED")
            expect(h.get("Checksum" + alg) == want[alg], (alg, h))
            out = os.path.join(self.tmp, "ck.out")
            g = aws_json(d, "s3api", "get-object", "--bucket", BUCKET, "--key", key,
                         "--checksum-mode", "ENABLED", out)
            with open(out, "rb") as f:
                expect(g.get("Checksum" + alg) == want[alg] and f.read() == data, (alg, g))
        key = self.key("cli-ck/wrong.bin")
        p = aws(d, "s3api", "put-object", "--bucket", BUCKET, "--key", key, "--body", path,
                "--checksum-crc32", crc32_b64(data + b"x"))
        expect(p.returncode != 0 and "BadDigest" in p.stderr, p.stderr)
        expect(self.stat_code(key) == "NOT_FOUND", "a refused upload left an object")

    @case("awscli s3 ls (bucket root, a tenant's prefix, --recursive) lists what s3 cp wrote")
    def t_awscli_ls(self):
        d = self.d
        src = os.path.join(self.tmp, "ls.txt")
        with open(src, "wb") as f:
            f.write(b"listed\n")
        for name in ("ls/a.txt", "ls/b b+c.txt", "ls/sub/c.txt"):
            aws(d, "s3", "cp", "--only-show-errors", src,
                "s3://%s/%s" % (BUCKET, self.key(name)), check=True)
        p = aws(d, "s3", "ls", "s3://%s/" % BUCKET, check=True)
        expect("PRE t/" in p.stdout, p.stdout)
        p = aws(d, "s3", "ls", "s3://%s/%s" % (BUCKET, self.key("ls/")), check=True)
        lines = p.stdout.splitlines()
        expect(any(ln.strip() == "PRE sub/" for ln in lines) and
               any(ln.endswith(" 7 a.txt") for ln in lines) and
               any(ln.endswith(" 7 b b+c.txt") for ln in lines), p.stdout)
        p = aws(d, "s3", "ls", "--recursive", "s3://%s/%s" % (BUCKET, self.key("ls/")),
                check=True)
        got = sorted(ln.split(None, 3)[3] for ln in p.stdout.splitlines())
        expect(got == sorted(self.key(n) for n in ("ls/a.txt", "ls/b b+c.txt", "ls/sub/c.txt")),
               p.stdout)

    @case("aws-chunked signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, and -TRAILER with a signed "
          "CRC32C trailer): every chunk signature verified, object stored")
    def t_chunked_signed(self):
        d = self.d
        data = os.urandom(200 * 1024 + 17)
        key = self.key("chunked/signed.bin")
        target, h, body = chunked_request(d.data, key, data, "signed")
        st, rh, b = http_req(d.data, "PUT", target, h, body)
        expect(st == 200 and rh.get("etag") == '"%s"' % md5_hex(data), (st, rh, b))
        st, _, got = http_req(d.data, "GET", target, signed_headers(d.data, "GET", target))
        expect(st == 200 and got == data, st)
        ck = crc32c_b64(data[:4096])
        key = self.key("chunked/signed-trailer.bin")
        target, h, body = chunked_request(d.data, key, data[:4096], "signed-trailer", chunk=1000,
                                          trailer=("x-amz-checksum-crc32c", ck))
        st, rh, b = http_req(d.data, "PUT", target, h, body)
        expect(st == 200 and rh.get("x-amz-checksum-crc32c") == ck, (st, rh, b))
        hh = signed_headers(d.data, "HEAD", target, headers={"x-amz-checksum-mode": "ENABLED"})
        st, rh, _ = http_req(d.data, "HEAD", target, hh)
        expect(st == 200 and rh.get("x-amz-checksum-crc32c") == ck, (st, rh))

    @case("aws-chunked unsigned with a trailing CRC32 (STREAMING-UNSIGNED-PAYLOAD-TRAILER), "
          "PutObject and UploadPart")
    def t_chunked_unsigned_trailer(self):
        d = self.d
        data = os.urandom(100 * 1024)
        key = self.key("chunked/unsigned.bin")
        tr = ("x-amz-checksum-crc32", crc32_b64(data))
        target, h, body = chunked_request(d.data, key, data, "unsigned-trailer", trailer=tr)
        st, rh, b = http_req(d.data, "PUT", target, h, body)
        expect(st == 200 and rh.get("x-amz-checksum-crc32") == tr[1], (st, rh, b))
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=key).upload_id
        t2 = "/%s/%s?partNumber=1&uploadId=%s" % (BUCKET, key, up)
        _, h, body = chunked_request(d.data, key, data, "unsigned-trailer", trailer=tr,
                                     target=t2)
        st, rh, b = http_req(d.data, "PUT", t2, h, body)
        expect(st == 200 and rh.get("etag") == '"%s"' % md5_hex(data) and
               rh.get("x-amz-checksum-crc32") == tr[1], (st, rh, b))

    @case("aws-chunked errors: a tampered chunk or trailer (403), bad framing, oversized chunk "
          "and line, truncated body, extra bytes, wrong decoded length, wrong trailing checksum: "
          "S3 errors, nothing stored, no temporary file left")
    def t_chunked_errors(self):
        d = self.d
        data = os.urandom(50000)
        key = self.key("chunked/bad.bin")
        ck = ("x-amz-checksum-crc32", crc32_b64(data))

        def flip(body):
            i = body.index(b"\r\n") + 100
            return body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]

        cases = [
            ("signed", None, flip, None, 403, "SignatureDoesNotMatch"),
            ("signed-trailer", ck,
             lambda b: b.replace(ck[1].encode(), crc32_b64(b"x").encode()), None, 403,
             "SignatureDoesNotMatch"),
            ("signed-trailer", ck,
             lambda b: b[:b.index(b"x-amz-trailer-signature")] + b"\r\n", None, 400,
             "InvalidRequest"),
            ("unsigned-trailer", ("x-amz-checksum-crc32", crc32_b64(b"other")), None, None, 400,
             "BadDigest"),
            ("unsigned-trailer", ck, lambda b: b.replace(b"\r\n", b"\n", 1), None, 400,
             "InvalidRequest"),
            ("unsigned-trailer", ck, lambda b: b"%x\r\n" % (1 << 40) + b, None, 400,
             "InvalidRequest"),
            ("unsigned-trailer", ck, lambda b: b"1" * 300 + b, None, 400, "InvalidRequest"),
            ("unsigned-trailer", ck, lambda b: b[:len(b) // 2], None, 400, "IncompleteBody"),
            ("unsigned-trailer", ck, lambda b: b + b"junk", None, 400, "InvalidRequest"),
            ("unsigned-trailer", ck, None, {"x-amz-decoded-content-length": "49999"}, 400,
             "InvalidRequest"),
            ("unsigned-trailer", ck, None, {"x-amz-decoded-content-length": "50001"}, 400,
             "IncompleteBody"),
        ]
        for i, (mode, tr, tamper, extra, want_st, want_code) in enumerate(cases):
            target, h, body = chunked_request(d.data, key, data, mode, chunk=16384, trailer=tr,
                                              tamper=tamper, extra_headers=extra)
            st, _, b = http_req(d.data, "PUT", target, h, body)
            expect(st == want_st and s3_code(b) == want_code, (i, mode, st, b))
            expect(self.stat_code(key) == "NOT_FOUND", (i, "an object was left behind"))
        expect(object_files(d.root)["tmp"] == [], ("temporary files left",
                                                   object_files(d.root)["tmp"]))
        target, _, body = chunked_request(d.data, key, data, "unsigned-trailer", trailer=ck)
        h = signed_headers(d.data, "PUT", target, b"", {"Content-Encoding": "aws-chunked",
                                                         "x-amz-trailer": ck[0]},
                           payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        st, _, b = http_req(d.data, "PUT", target, h, body)
        expect(st == 411 and s3_code(b) == "MissingContentLength", (st, b))

    @case("flexible checksum headers: each algorithm verified (BadDigest on a mismatch), also "
          "from a presigned URL's query; malformed values and two algorithms refused, an unknown "
          "multipart algorithm refused")
    def t_checksum_errors(self):
        d = self.d
        data = b"checksummed bytes"
        good = {"x-amz-checksum-crc32": crc32_b64(data),
                "x-amz-checksum-crc32c": crc32c_b64(data),
                "x-amz-checksum-crc64nvme": crc64nvme_b64(data),
                "x-amz-checksum-sha1": base64.b64encode(hashlib.sha1(data).digest()).decode(),
                "x-amz-checksum-sha256": base64.b64encode(sha256(data)).decode()}
        target = "/%s/%s" % (BUCKET, self.key("ck/h.bin"))
        for name, value in good.items():
            st, rh, b = http_req(d.data, "PUT", target,
                                 signed_headers(d.data, "PUT", target, data, {name: value}), data)
            expect(st == 200 and rh.get(name) == value, (name, st, b))
            st, _, b = http_req(d.data, "PUT", target,
                                signed_headers(d.data, "PUT", target, data + b"!", {name: value}),
                                data + b"!")
            expect(st == 400 and s3_code(b) == "BadDigest", (name, st, b))
            st, _, b = http_req(d.data, "PUT", target,
                                signed_headers(d.data, "PUT", target, data, {name: "AAAA"}), data)
            expect(st == 400 and s3_code(b) == "InvalidRequest", (name, st, b))
        # In a presigned URL (as the SDK's presigner hoists them): verified too.
        from botocore.auth import S3SigV4QueryAuth
        for body, want in ((data, 200), (data + b"!", 400)):
            q = urllib.parse.urlencode({"x-amz-checksum-crc32": good["x-amz-checksum-crc32"],
                                        "x-amz-sdk-checksum-algorithm": "CRC32"})
            req = AWSRequest(method="PUT", url="http://127.0.0.1:%d%s?%s" % (d.data, target, q))
            S3SigV4QueryAuth(Credentials(AKID, SECRET), "s3", REGION, expires=300).add_auth(req)
            st, rh, b = http_req(d.data, "PUT", url_target(req.url), {}, body)
            expect(st == want and (st == 200 or s3_code(b) == "BadDigest"), (st, b))
        two = {"x-amz-checksum-crc32": good["x-amz-checksum-crc32"],
               "x-amz-checksum-sha1": good["x-amz-checksum-sha1"]}
        st, _, b = http_req(d.data, "PUT", target,
                            signed_headers(d.data, "PUT", target, data, two), data)
        expect(st == 400 and s3_code(b) == "InvalidRequest", (st, b))
        t2 = "/%s/%s?uploads" % (BUCKET, self.key("ck/mpu.bin"))
        st, _, b = http_req(d.data, "POST", t2, signed_headers(
            d.data, "POST", t2, b"", {"x-amz-checksum-algorithm": "MD5"}))
        expect(st == 400 and s3_code(b) == "InvalidRequest", (st, b))

    @case("multipart checksums: CRC64NVME and CRC32C FULL_OBJECT over the assembled bytes, "
          "SHA256 COMPOSITE; a listed part checksum that does not match is InvalidPart")
    def t_mpu_checksums(self):
        d = self.d
        parts = [os.urandom(5 * MIB), os.urandom(1234)]
        whole = b"".join(parts)

        def mpu(key, alg, ctype=None, tamper=False):
            t = "/%s/%s" % (BUCKET, key)
            hdr = {"x-amz-checksum-algorithm": alg}
            if ctype:
                hdr["x-amz-checksum-type"] = ctype
            st, _, b = http_req(d.data, "POST", t + "?uploads",
                                signed_headers(d.data, "POST", t + "?uploads", b"", hdr))
            expect(st == 200, (st, b))
            up = re.search(rb"<UploadId>([^<]*)<", b).group(1).decode()
            xml = "<CompleteMultipartUpload>"
            for i, p in enumerate(parts, 1):
                tp = "%s?partNumber=%d&uploadId=%s" % (t, i, up)
                name = "x-amz-checksum-" + alg.lower()
                value = {"CRC64NVME": crc64nvme_b64, "CRC32C": crc32c_b64,
                         "SHA256": lambda x: base64.b64encode(sha256(x)).decode()}[alg](p)
                st, h, b = http_req(d.data, "PUT", tp,
                                    signed_headers(d.data, "PUT", tp, p, {name: value}), p)
                expect(st == 200 and h.get(name) == value, (st, b))
                if tamper and i == 1:
                    value = value[::-1]
                xml += ("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag><Checksum%s>%s"
                        "</Checksum%s></Part>" % (i, h["etag"], alg, value, alg))
            xml = (xml + "</CompleteMultipartUpload>").encode()
            tc = "%s?uploadId=%s" % (t, up)
            return http_req(d.data, "POST", tc, signed_headers(d.data, "POST", tc, xml), xml)

        for alg, ctype, want_type, want in (
                ("CRC64NVME", None, "FULL_OBJECT", crc64nvme_b64(whole)),
                ("CRC32C", "FULL_OBJECT", "FULL_OBJECT", crc32c_b64(whole)),
                ("SHA256", None, "COMPOSITE", base64.b64encode(hashlib.sha256(
                    b"".join(sha256(p) for p in parts)).digest()).decode() + "-2")):
            key = self.key("mpu-ck/%s.bin" % alg)
            st, _, b = mpu(key, alg, ctype)
            expect(st == 200 and ("<Checksum%s>%s</Checksum%s>" % (alg, want, alg)).encode() in b
                   and ("<ChecksumType>%s</ChecksumType>" % want_type).encode() in b, (alg, b))
            t = "/%s/%s" % (BUCKET, key)
            st, h, _ = http_req(d.data, "HEAD", t, signed_headers(
                d.data, "HEAD", t, headers={"x-amz-checksum-mode": "ENABLED"}))
            expect(st == 200 and h.get("x-amz-checksum-" + alg.lower()) == want and
                   h.get("x-amz-checksum-type") == want_type, (alg, h))
        key = self.key("mpu-ck/tampered.bin")
        st, _, b = mpu(key, "CRC32C", tamper=True)
        expect(st == 400 and s3_code(b) == "InvalidPart", (st, b))
        expect(self.stat_code(key) == "NOT_FOUND", "completed with a wrong part checksum")

    @case("part ETags: a part PUT declaring its SHA-256 (header or aws-chunked trailer) "
          "without Content-MD5 gets that SHA-256's first 16 bytes (hex) as its ETag, any other "
          "its MD5; a wrong SHA-256 stores nothing; the object's ETag is MD5(part ETags)-N")
    def t_part_etags(self):
        d = self.d
        parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(77)]
        key = self.key("mpu-etag/x.bin")
        t = "/%s/%s" % (BUCKET, key)
        hdr = {"x-amz-checksum-algorithm": "SHA256"}
        st, _, b = http_req(d.data, "POST", t + "?uploads",
                            signed_headers(d.data, "POST", t + "?uploads", b"", hdr))
        expect(st == 200, (st, b))
        up = re.search(rb"<UploadId>([^<]*)<", b).group(1).decode()
        b64 = [base64.b64encode(sha256(p)).decode() for p in parts]
        md5_b64 = base64.b64encode(hashlib.md5(parts[1]).digest()).decode()
        # 1: SHA-256 header; 2: SHA-256 and Content-MD5; 3: SHA-256 trailer; 4: SHA-256 header.
        want = [sha256(parts[0])[:16].hex(), md5_hex(parts[1]), sha256(parts[2])[:16].hex(),
                sha256(parts[3])[:16].hex()]
        etags = []
        for i, p in enumerate(parts, 1):
            tp = "%s?partNumber=%d&uploadId=%s" % (t, i, up)
            if i == 3:
                tp, h, body = chunked_request(d.data, key, p, "unsigned-trailer",
                                              trailer=("x-amz-checksum-sha256", b64[2]), target=tp)
            else:
                extra = {"x-amz-checksum-sha256": b64[i - 1]}
                if i == 2:
                    extra["Content-MD5"] = md5_b64
                h, body = signed_headers(d.data, "PUT", tp, p, extra), p
            st, rh, b = http_req(d.data, "PUT", tp, h, body)
            expect(st == 200 and rh.get("etag") == '"%s"' % want[i - 1], (i, st, rh, b))
            etags.append(rh["etag"])
        # A wrong declared SHA-256: BadDigest, the part stays as it was.
        tp = "%s?partNumber=1&uploadId=%s" % (t, up)
        st, _, b = http_req(d.data, "PUT", tp, signed_headers(
            d.data, "PUT", tp, parts[0] + b"!", {"x-amz-checksum-sha256": b64[0]}), parts[0] + b"!")
        expect(st == 400 and s3_code(b) == "BadDigest", (st, b))
        tl = "%s?uploadId=%s" % (t, up)
        st, _, b = http_req(d.data, "GET", tl, signed_headers(d.data, "GET", tl))
        expect(st == 200 and all(w.encode() in b for w in want), (st, b))
        xml = "<CompleteMultipartUpload>" + "".join(
            "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag><ChecksumSHA256>%s</ChecksumSHA256>"
            "</Part>" % (i, e, c) for i, (e, c) in enumerate(zip(etags, b64), 1)) + \
            "</CompleteMultipartUpload>"
        st, _, b = http_req(d.data, "POST", tl, signed_headers(d.data, "POST", tl, xml.encode()),
                            xml.encode())
        whole = hashlib.md5(b"".join(bytes.fromhex(w) for w in want)).hexdigest() + "-4"
        expect(st == 200 and whole.encode() in b, (st, b))
        st, h, got = http_req(d.data, "GET", t, signed_headers(d.data, "GET", t))
        expect(st == 200 and got == b"".join(parts) and h.get("etag") == '"%s"' % whole,
               (st, h.get("etag"), whole))
        o = self.stat(key)
        expect(o.sha256 == sha256(b"".join(parts)), o)

    @case("ListObjectsV2: prefix, delimiter, max-keys pages, start-after, encoding-type=url; "
          "bad tokens refused; unsigned, other buckets and ListObjects v1 not served")
    def t_list_objects(self):
        d = self.d
        names = ["l/a", "l/b/1", "l/b/2", "l/c d", "l/c+e", "l/z"]
        for n in names:
            t = "/%s/%s" % (BUCKET, urllib.parse.quote(self.key(n)))
            st, _, _ = http_req(d.data, "PUT", t, signed_headers(d.data, "PUT", t, b"x"), b"x")
            expect(st == 200, (n, st))

        def lst(**q):
            qs = urllib.parse.urlencode(dict(q, **{"list-type": "2"}),
                                        quote_via=urllib.parse.quote)
            t = "/%s?%s" % (BUCKET, qs)
            st, _, b = http_req(d.data, "GET", t, signed_headers(d.data, "GET", t))
            return st, b.decode()

        pre = self.key("l/")
        st, b = lst(prefix=pre, delimiter="/")
        keys = re.findall(r"<Key>([^<]*)</Key>", b)
        cps = re.findall(r"<CommonPrefixes><Prefix>([^<]*)</Prefix>", b)
        expect(st == 200 and keys == [pre + n for n in ("a", "c d", "c+e", "z")] and
               cps == [pre + "b/"] and "<KeyCount>5</KeyCount>" in b, b)
        st, b = lst(prefix=pre, delimiter="/", **{"encoding-type": "url"})
        keys = re.findall(r"<Key>([^<]*)</Key>", b)
        expect(st == 200 and pre + "c%20d" in keys and pre + "c%2Be" in keys, b)
        seen, token, pages = [], None, 0
        while pages < 10:
            q = {"prefix": pre, "delimiter": "/", "max-keys": "2"}
            if token:
                q["continuation-token"] = token
            st, b = lst(**q)
            expect(st == 200, b)
            seen += [a or c for a, c in re.findall(
                r"<Key>([^<]*)</Key>|<CommonPrefixes><Prefix>([^<]*)</Prefix>", b)]
            pages += 1
            m = re.search(r"<NextContinuationToken>([^<]*)<", b)
            if not m:
                break
            token = m.group(1)
        expect(seen == [pre + "a", pre + "b/", pre + "c d", pre + "c+e", pre + "z"] and
               pages == 3, (seen, pages))
        st, b = lst(prefix=pre, **{"start-after": pre + "b/2"})
        expect(re.findall(r"<Key>([^<]*)</Key>", b) == [pre + n for n in ("c d", "c+e", "z")], b)
        st, b = lst(prefix=pre, **{"continuation-token": "!!"})
        expect(st == 400 and s3_code(b.encode()) == "InvalidArgument", b)
        st, b = lst(prefix=pre, **{"max-keys": "x"})
        expect(st == 400, b)
        st, b = lst(prefix=self.key("nothing-here/"))
        expect(st == 200 and "<KeyCount>0</KeyCount>" in b and "<Contents>" not in b, b)
        t = "/%s?prefix=t" % BUCKET
        st, _, b = http_req(d.data, "GET", t, signed_headers(d.data, "GET", t))
        expect(st == 501 and s3_code(b) == "NotImplemented", (st, b))
        t = "/other-bucket?list-type=2"
        st, _, b = http_req(d.data, "GET", t, signed_headers(d.data, "GET", t))
        expect(st == 404 and s3_code(b) == "NoSuchBucket", (st, b))
        t = "/%s?list-type=2" % BUCKET
        st, _, b = http_req(d.data, "GET", t, {})
        expect(st == 403, (st, b))

    @case("readers racing overwrites always get one whole version, its ETag matching its bytes")
    def t_atomic_overwrite(self):
        d = self.d
        key = self.key("race/obj.bin")
        versions = [bytes([65 + i]) * (256 * 1024 + i * 4099) for i in range(4)]
        etags = {md5_hex(v): v for v in versions}
        put_urls = [self.presign_put(key).url for _ in versions]
        self.put_presigned(self.presign_put(key), versions[0])
        get_url = url_target(self.rpc.call("PresignDownload", self.tok, key=key).url)
        stop = threading.Event()
        errors, reads = [], [0]

        def writer():
            i = 0
            while not stop.is_set():
                st, _, _ = http_req(d.data, "PUT", url_target(put_urls[i % 4]), {},
                                    versions[i % 4])
                if st != 200:
                    errors.append("PUT %d" % st)
                i += 1

        def reader():
            while not stop.is_set():
                st, h, b = http_req(d.data, "GET", get_url)
                reads[0] += 1
                tag = h.get("etag", "").strip('"')
                if st != 200 or etags.get(tag) != b:
                    errors.append("GET %d etag %s len %d" % (st, tag, len(b)))

        threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader)
                                                       for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        expect(not errors and reads[0] > 20, "reads %d, errors %s" % (reads[0], errors[:5]))
        names = [os.path.basename(f) for f in object_files(d.root)["obj"]]
        expect(len(names) == 2 * len([n for n in names if n.endswith(".meta")]),
               "stale generations left: %s" % names)

    @case("client gone mid-upload: temporary file removed, nothing visible, old version kept")
    def t_disconnect(self):
        d = self.d
        key = self.key("gone/x.bin")
        old = b"old version"
        self.put_presigned(self.presign_put(key), old)
        c = self.stream_put(self.presign_put(key).url, 64 * MIB, stop_after=8 * MIB)[0]
        deadline = time.time() + 10
        while time.time() < deadline and not object_files(d.root)["tmp"]:
            time.sleep(0.02)
        expect(object_files(d.root)["tmp"], "no temporary file while uploading")
        c.close()
        deadline = time.time() + 10
        while time.time() < deadline and object_files(d.root)["tmp"]:
            time.sleep(0.02)
        expect(not object_files(d.root)["tmp"], "temporary file left: %s" %
               object_files(d.root)["tmp"])
        o = self.stat(key)
        expect(o.size == len(old) and o.sha256 == sha256(old), o)
        expect("data request ended early" in d.log_text(), "no log line for the cut request")

    @case("crash safety: kill -9 during large uploads; after restart old version or nothing, no temp files")
    def t_crash(self):
        d = self.d
        old_key, new_key = self.key("crash/existing.bin"), self.key("crash/new.bin")
        old = os.urandom(2048)
        self.put_presigned(self.presign_put(old_key), old)
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=self.key("crash/mp.bin")).upload_id
        p1 = os.urandom(5 * MIB)
        self.put_presigned(self.rpc.call("PresignUploadPart", self.tok, key=self.key("crash/mp.bin"),
                                         upload_id=up, part_number=1), p1)
        size = 512 * MIB
        urls = [self.presign_put(old_key).url, self.presign_put(new_key).url,
                self.rpc.call("PresignUploadPart", self.tok, key=self.key("crash/mp.bin"),
                              upload_id=up, part_number=1).url]
        conns = [self.stream_put(u, size, stop_after=48 * MIB)[0] for u in urls]
        deadline = time.time() + 10
        while time.time() < deadline and len(object_files(d.root)["tmp"]) < 3:
            time.sleep(0.05)
        tmp_files = object_files(d.root)["tmp"]
        expect(len(tmp_files) >= 3, "uploads in flight should have temporary files: %s" %
               tmp_files)
        d.kill9()
        for c in conns:
            c.close()
        d.start()
        expect(not object_files(d.root)["tmp"], "temporary files after the sweep: %s" %
               object_files(d.root)["tmp"])
        o = self.stat(old_key)
        expect(o.size == len(old) and o.sha256 == sha256(old), "old version damaged: %s" % o)
        expect(self.stat_code(new_key) == "NOT_FOUND", "partial new object visible")
        parts = self.rpc.call("ListParts", self.tok, key=self.key("crash/mp.bin"), upload_id=up)
        expect(len(parts.parts) == 1 and parts.parts[0].size == len(p1) and
               parts.parts[0].etag == md5_hex(p1), parts)
        # Every object directory holds one sidecar and one data file per object.
        names = [os.path.basename(f) for f in object_files(d.root)["obj"]]
        metas = [n for n in names if n.endswith(".meta")]
        expect(len(names) == 2 * len(metas), "orphans: %s" % names)
        st = d.log_text()
        expect('"temp_removed":"3"' in st, [ln for ln in st.splitlines() if "swept" in ln])

    @case("SIGTERM: graceful exit 0 (and, under ASan, no leaks); no sanitizer report in any log")
    def t_shutdown(self):
        rc = self.d.stop()
        expect(rc == 0, "exit status %s\n%s" % (rc, self.d.log_text()[-3000:]))
        for log in self.d.logs:
            log.seek(0)
            text = log.read()
            for marker in ("ERROR: AddressSanitizer", "runtime error:", "ThreadSanitizer",
                           "LeakSanitizer"):
                expect(marker not in text, "%s in %s" % (marker, log.name))



# ---- the S3 backend -----------------------------------------------------------

class S3Target:
    """An S3 implementation the S3 backend runs against: kumo's own data port
    (a local-backend kumo-storage) or s3rver (npm)."""

    def __init__(self, kind, build, tmp, keys):
        self.kind = kind
        self.full = kind == "kumo"  # classes, restores, ListParts, SHA-256, -N ETags
        self.proc = None
        self.local = None
        if kind == "kumo":
            self.local = Daemon(build, tmp, keys, name="s3-target")
            self.local.start()
            self.endpoint, self.akid, self.secret = self.local.endpoint, AKID, SECRET
        else:
            data = os.path.join(tmp, "s3rver")
            os.makedirs(data, exist_ok=True)
            self.proc = subprocess.Popen(["node", os.path.join(HERE, "s3rver.mjs"), data],
                                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
            port = json.loads(self.proc.stdout.readline())["port"]
            self.endpoint, self.akid, self.secret = "http://127.0.0.1:%d" % port, "S3RVER", \
                "S3RVER"

    def stop(self):
        if self.local:
            self.local.stop()
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class S3Suite:
    def __init__(self, build, tmp, keys, msgs, target):
        self.t = target
        self.msgs = msgs
        self.d = Daemon(build, tmp, keys, name="s3-backend-" + target.kind, extra_env={
            "KUMO_STORAGE_BACKEND": "s3", "KUMO_STORAGE_S3_ENDPOINT": target.endpoint,
            "AWS_ACCESS_KEY_ID": target.akid, "AWS_SECRET_ACCESS_KEY": target.secret})
        self.rpc = Rpc(self.d, msgs)
        self.tok = keys.service_token()
        self.name = "S3 backend on %s: " % ("kumo's data port" if target.full else "s3rver")
        # s3rver decodes x-amz-copy-source with decodeURI, which leaves %2B
        # encoded: a '+' in a source key is not found there (S3 decodes it).
        self.src = self.key("up load+1.txt" if target.full else "up load 1.txt")

    def start(self):
        self.d.start()

    def key(self, name):
        return "t/%s/s3/%s" % (TENANT, name)

    def put(self, url, headers, body):
        u = urllib.parse.urlsplit(url)
        return http_req(u.port, "PUT", url_target(url), headers, body)

    def get(self, url):
        u = urllib.parse.urlsplit(url)
        return http_req(u.port, "GET", url_target(url))

    def run(self):
        for name in ("upload", "download", "copy_archive", "multipart", "delete", "keys"):
            doc = " ".join(getattr(self, "c_" + name).__doc__.split())
            case(self.name + doc)(getattr(self, "c_" + name))()
        case(self.name + "graceful stop")(lambda: expect(self.d.stop() == 0, "exit status"))()

    def c_upload(self):
        """PresignUpload URL accepted by the store; StatObject reads it back"""
        body = b"s3 backend body " * 100
        key = self.src
        args = {"key": key, "content_type": "text/plain",
                "size": self.msgs["Int64Value"](value=len(body))}
        if self.t.full:
            args["sha256"] = sha256(body)
        r = self.rpc.call("PresignUpload", self.tok, **args)
        expect(r.url.startswith(self.t.endpoint + "/kumo/t/"), r.url)
        st, h, b = self.put(r.url, {x.name: x.value for x in r.headers}, body)
        expect(st == 200, (st, b))
        o = self.rpc.call("StatObject", self.tok, key=key).object
        expect(o.size == len(body) and o.etag == md5_hex(body) and
               o.content_type == "text/plain" and o.storage_class == 1, o)
        if self.t.full:
            expect(o.sha256 == sha256(body), "sha256 %s" % o.sha256.hex())

    def c_download(self):
        """PresignDownload URL served by the store"""
        key = self.src
        g = self.rpc.call("PresignDownload", self.tok, key=key)
        st, _, b = self.get(g.url)
        expect(st == 200 and b == b"s3 backend body " * 100, (st, b[:100]))
        code, _ = self.rpc.error("PresignDownload", self.tok, key=self.key("missing"))
        expect(code == "NOT_FOUND", code)

    def c_copy_archive(self):
        """CopyObject; on kumo also SetStorageClass / RestoreObject (archive round trip)"""
        src, dst = self.src, self.key("copy.txt")
        o = self.rpc.call("CopyObject", self.tok, source_key=src, destination_key=dst).object
        expect(o.etag == md5_hex(b"s3 backend body " * 100) and o.key == dst, o)
        if not self.t.full:
            return
        o = self.rpc.call("SetStorageClass", self.tok, key=dst, storage_class=2).object
        expect(o.storage_class == 2 and o.restore.state == 1, o)
        code, _ = self.rpc.error("PresignDownload", self.tok, key=dst)
        expect(code == "FAILED_PRECONDITION", code)
        r = self.rpc.call("RestoreObject", self.tok, key=dst, days=1, tier=1)
        expect(r.object.restore.state == 3 and r.object.restore.expire_time.seconds > 0, r)
        r = self.rpc.call("RestoreObject", self.tok, key=dst, days=1, tier=1)
        expect(r.already_restored, r)
        o = self.rpc.call("SetStorageClass", self.tok, key=dst, storage_class=1).object
        expect(o.storage_class == 1, o)

    def c_multipart(self):
        """multipart: Create / PresignUploadPart / ListParts / Complete / Abort (s3rver has
        neither ListParts nor AbortMultipartUpload: unimplemented there)"""
        key = self.key("mp.bin")
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=key,
                           content_type="application/x-mp").upload_id
        parts = [os.urandom(5 * MIB), os.urandom(999)]
        tags = []
        for i, p in enumerate(parts, 1):
            r = self.rpc.call("PresignUploadPart", self.tok, key=key, upload_id=up, part_number=i)
            st, h, b = self.put(r.url, {}, p)
            expect(st == 200, (st, b))
            tags.append(h["etag"])
        if self.t.full:
            lp = self.rpc.call("ListParts", self.tok, key=key, upload_id=up)
            expect([(x.part_number, x.size) for x in lp.parts] == [(1, len(parts[0])),
                                                                  (2, len(parts[1]))], lp)
        cp = self.msgs["CompletedPart"]
        c = self.rpc.call("CompleteMultipartUpload", self.tok, key=key, upload_id=up,
                          parts=[cp(part_number=i + 1, etag=t) for i, t in enumerate(tags)])
        expect(c.object.size == sum(len(p) for p in parts), c.object)
        if self.t.full:
            expect(c.object.etag == multipart_etag(parts) and c.object.parts_count == 2, c.object)
        g = self.rpc.call("PresignDownload", self.tok, key=key)
        st, _, b = self.get(g.url)
        expect(st == 200 and b == b"".join(parts), (st, len(b)))
        up = self.rpc.call("CreateMultipartUpload", self.tok, key=key).upload_id
        code, _ = self.rpc.error("AbortMultipartUpload", self.tok, key=key, upload_id=up)
        expect(code == ("OK" if self.t.full else "UNIMPLEMENTED"), code)
        if self.t.full:
            code, _ = self.rpc.error("ListParts", self.tok, key=key, upload_id=up)
            expect(code == "NOT_FOUND", code)

    def c_delete(self):
        """DeleteObject, then StatObject NOT_FOUND"""
        key = self.key("copy.txt")
        self.rpc.call("DeleteObject", self.tok, key=key)
        expect(self.rpc.error("StatObject", self.tok, key=key)[0] == "NOT_FOUND", "still there")

    def c_keys(self):
        """bad keys and other tenants refused before the store is asked"""
        for key, want in (("t/%s/../x" % TENANT, "INVALID_ARGUMENT"),
                          ("t/%s/x" % OTHER, "PERMISSION_DENIED")):
            code, _ = self.rpc.error("PresignUpload", self.tok, key=key)
            expect(code == want, (key, code))


def run_s3_backend(build, tmp, keys, msgs):
    for kind in ("kumo", "s3rver"):
        target = suite = None
        try:
            target = S3Target(kind, build, tmp, keys)
            suite = S3Suite(build, tmp, keys, msgs, target)
            suite.start()
            suite.run()
        except Exception:  # noqa: BLE001
            import traceback
            report(False, "S3 backend on %s: set-up" % kind, traceback.format_exc())
        finally:
            d = getattr(suite, "d", None)
            if d and d.proc and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
            if target:
                target.stop()

def main():
    if len(sys.argv) != 2:
        print("usage: storage_test.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    if not os.access(os.path.join(build, "bin", "kumo-storage"), os.X_OK):
        report(False, "kumo-storage is built", os.path.join(build, "bin", "kumo-storage"))
        print("%d passed, %d failed" % (passed, failed))
        return 1
    tmp = tempfile.mkdtemp(prefix="kumo-storage-test-")
    # STORAGE_TEST_ONLY="t_startup t_list_objects": those cases only (and
    # not the S3 backend run), for working on one feature.
    only = set(os.environ.get("STORAGE_TEST_ONLY", "").split())
    suite = None
    try:
        suite = Suite(build, tmp)
        suite.start()
        for name in ("t_startup", "t_awscli_basic", "t_awscli_wrong_secret", "t_awscli_multipart",
                     "t_awscli_abort", "t_awscli_cp", "t_awscli_copy_restore", "t_sdk_presigner", "t_presign_upload",
                     "t_presign_download", "t_rpc_multipart", "t_rpc_multipart_sha256",
                     "t_rpc_multipart_errors",
                     "t_tamper", "t_expired", "t_wrong_content_type", "t_bound_sha",
                     "t_signed_payload", "t_bad_keys_rpc", "t_bad_keys_data", "t_rpc_auth",
                     "t_archive", "t_copy_delete", "t_limits", "t_cors", "t_atomic_overwrite",
                     "t_sdk_default_checksums", "t_awscli_checksums", "t_awscli_ls",
                     "t_chunked_signed", "t_chunked_unsigned_trailer", "t_chunked_errors",
                     "t_checksum_errors", "t_mpu_checksums", "t_part_etags", "t_list_objects",
                     "t_big", "t_disconnect", "t_crash",
                     "t_shutdown"):
            if only and name not in only:
                continue
            getattr(suite, name)()
        if not only:
            run_s3_backend(build, tmp, suite.keys, suite.msgs)
    except Exception:  # noqa: BLE001
        import traceback
        report(False, "suite set-up", traceback.format_exc())
    finally:
        if suite and suite.d.proc and suite.d.proc.poll() is None:
            suite.d.proc.kill()
            suite.d.proc.wait()
        if os.environ.get("STORAGE_TEST_KEEP") == "1":
            print("# kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
