#!/usr/bin/python3
"""SigV4 test vectors from botocore (Debian python3-botocore), the authority
tests/unit/common/aws/test_sigv4_sign.c and test_rds_token.c compare kumo against.

    /usr/bin/python3 tests/unit/common/aws/sigv4_vectors.py > tests/unit/common/aws/sigv4_vectors.json

The output is deterministic (fixed clocks, fixed inputs): test_sigv4_sign re-runs
this script and checks the committed JSON is what botocore produces today.

Two botocore signers are used:
  - "python": botocore.auth (SigV4Auth, S3SigV4Auth, SigV4QueryAuth,
    S3SigV4QueryAuth) and RDS generate_db_auth_token through a session client
    with BOTO_DISABLE_CRT=true. kumo must match these byte for byte.
  - "crt": the same calls through botocore.crt.auth (AWS's C signer,
    python3-awscrt). Its presigned query puts X-Amz-SignedHeaders before
    X-Amz-Expires, so kumo must match its signature and parameter set, and
    its Authorization header byte for byte.
Each signer runs in its own interpreter (the choice is made at import).

Every vector also carries the request as the server receives it (raw path,
raw query, headers) so the C verifier can be checked against botocore's
output."""

import datetime
import importlib
import json
import os
import subprocess
import sys
from unittest import mock
from urllib.parse import quote, urlsplit

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+tok/en=="
T0 = datetime.datetime(2015, 8, 30, 12, 36, 0)
T1 = datetime.datetime(2024, 2, 29, 23, 59, 59)
HOST = "127.0.0.1:9000"

# (name, method, plain path, params, headers, expires, token, time)
PRESIGN_S3 = [
    ("get-simple", "GET", "/bkt/t/1/report.pdf", [], [], 3600, None, T0),
    ("put-content-type", "PUT", "/bkt/t/1/up.bin", [], [("Content-Type", "application/pdf")],
     600, None, T0),
    ("put-token", "PUT", "/bkt/t/1/up.bin", [], [("Content-Type", "text/plain")], 900, TOKEN, T0),
    ("key-spaces-unicode", "GET", "/bkt/t/1/r\u00e9sum\u00e9 final \u6587\u4ef6.txt", [], [],
     60, None, T1),
    ("key-specials", "GET", "/bkt/t/1/a+b=c&d;e:f@g$h,i!j*k'l(m)n~o%p[q]r{s}t#u?v.txt", [], [],
     604800, None, T1),
    ("key-double-slash-dots", "GET", "/bkt/t/1//x/./y/../z", [], [], 1, None, T0),
    ("get-response-params", "GET", "/bkt/t/1/doc.pdf",
     [("response-content-disposition", 'attachment; filename="na me.pdf"'),
      ("response-content-type", "application/pdf")], [], 300, None, T0),
    ("upload-part", "PUT", "/bkt/t/1/big.bin",
     [("partNumber", "7"), ("uploadId", "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")],
     [], 3600, TOKEN, T1),
    ("put-signed-meta", "PUT", "/bkt/t/1/m.txt", [],
     [("Content-Type", "text/plain"), ("x-amz-meta-owner", "  jane   doe  "),
      ("x-amz-storage-class", "STANDARD")], 120, None, T0),
]

# (name, method, plain path, params, headers, body, unsigned payload, token, time)
HEADER_S3 = [
    ("get-object", "GET", "/bkt/t/1/report.pdf", [], [("Range", "bytes=0-99")], b"", False,
     None, T0),
    ("put-object", "PUT", "/bkt/t/1/r\u00e9sum\u00e9 a+b.txt", [],
     [("Content-Type", "text/plain"), ("Content-Length", "11"), ("x-amz-meta-a", "x  y")],
     b"hello world", False, TOKEN, T1),
    ("put-unsigned", "PUT", "/bkt/t/1/u.bin", [], [("Content-Length", "3")], b"abc", True,
     None, T0),
    ("list-parts", "GET", "/bkt/t/1/big.bin", [("uploadId", "abc/def+=="), ("max-parts", "10")],
     [], b"", False, None, T0),
    ("create-multipart", "POST", "/bkt/t/1/big.bin", [("uploads", "")], [], b"", False, None, T1),
]

# Other services: normalised, doubly-encoded paths, multi-valued headers.
# (name, method, plain path, params, headers, body, token, time)
HEADER_GENERIC = [
    ("vanilla", "GET", "/", [], [], b"", None, T0),
    ("dots-and-slashes", "GET", "/a/./b/../c//d/", [("Param2", "value2"), ("Param1", "value1")],
     [], b"", None, T0),
    ("space-unicode-path", "GET", "/example space/\u1234",
     [("p", "a b+c\u00e9"), ("k/e y~", "v/1")], [], b"", None, T0),
    ("multi-header", "POST", "/", [],
     [("My-Header1", "value1"), ("My-Header1", "   value2  with   spaces "),
      ("X-Amz-Target", "Svc.Op"), ("Content-Type", "application/x-amz-json-1.0")],
     b'{"k":"v"}', TOKEN, T1),
]

# (name, host, port, user, token, region, time)
RDS = [
    ("issue-vector", "mydb.cluster-abc.us-east-1.rds.amazonaws.com", 3306, "jane_doe", None,
     "us-east-1", T0),
    ("session-token", "db.cluster-xyz.eu-west-1.rds.amazonaws.com", 3306, "app_user", TOKEN,
     "eu-west-1", T1),
    ("user-specials", "mydb.cluster-abc.us-east-1.rds.amazonaws.com", 5432,
     "j@ne+d\u00f6e/x y=1&z", None, "us-east-1", T0),
    ("ip-host", "10.0.0.5", 13306, "svc", TOKEN, "us-west-2", T1),
]


def frozen(t):
    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return t

        @classmethod
        def now(cls, tz=None):
            return t if tz is None else t.replace(tzinfo=tz)

    importlib.import_module("botocore.auth")  # botocore.crt.auth needs it first
    patches = [mock.patch("botocore.auth.datetime.datetime", Frozen)]
    try:
        importlib.import_module("botocore.crt.auth")
        patches.append(mock.patch("botocore.crt.auth.datetime.datetime", Frozen))
    except ImportError:
        pass
    return patches


def run_frozen(t, fn):
    patches = frozen(t)
    for p in patches:
        p.start()
    try:
        return fn()
    finally:
        for p in patches:
            p.stop()


def epoch(t):
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp())


def creds(token):
    from botocore.credentials import Credentials
    return Credentials(AKID, SECRET, token)


def signer_classes(kind):
    importlib.import_module("botocore.auth")  # botocore.crt.auth needs it first
    if kind == "crt":
        from botocore.crt import auth as a
        return {"s3q": a.CrtS3SigV4QueryAuth, "s3h": a.CrtS3SigV4Auth, "gen": a.CrtSigV4Auth}
    from botocore import auth as a
    return {"s3q": a.S3SigV4QueryAuth, "s3h": a.S3SigV4Auth, "gen": a.SigV4Auth}


def split_target(url):
    parts = urlsplit(url)
    return parts.path, parts.query


def presign_s3(kind, v):
    from botocore.awsrequest import AWSRequest
    name, method, path, params, headers, expires, token, t = v
    url = "http://" + HOST + quote(path, safe="/~")
    req = AWSRequest(method=method, url=url, headers=dict(headers), params=dict(params))
    req.headers["host"] = HOST
    signer = signer_classes(kind)["s3q"](creds(token), "s3", "us-east-1", expires=expires)
    run_frozen(t, lambda: signer.add_auth(req))
    if kind == "crt":
        # The CRT signer leaves params in req.params; python moves them.
        prepared = req.prepare()
        url = prepared.url
    else:
        url = req.url
    rpath, rquery = split_target(url)
    return {
        "name": name, "kind": "presign", "flavor": "s3", "signer": kind,
        "service": "s3", "region": "us-east-1", "token": token, "time": epoch(t),
        "method": method, "path": path, "query": [list(p) for p in params],
        "headers": [["host", HOST]] + [list(h) for h in headers], "expires": expires,
        "want": rpath + "?" + rquery,
        "request": {"path": rpath, "query": rquery,
                    "headers": [["Host", HOST]] + [list(h) for h in headers]},
    }


def header_signed(kind, flavor, v):
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    if flavor == "s3":
        name, method, path, params, headers, body, unsigned, token, t = v
        service, cls = "s3", signer_classes(kind)["s3h"]
        url = "http://" + HOST + quote(path, safe="/~")
    else:
        name, method, path, params, headers, body, token, t = v
        unsigned = False
        service, cls = "service", signer_classes(kind)["gen"]
        url = "https://example.amazonaws.com" + quote(path, safe="/~")
    host = urlsplit(url).netloc
    req = AWSRequest(method=method, url=url, data=body, params=dict(params))
    req.headers["Host"] = host
    for k, val in headers:
        req.headers[k] = val  # email.message semantics: a repeated name adds a line
    if unsigned:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer = cls(creds(token), service, "us-east-1")
    run_frozen(t, lambda: signer.add_auth(req))
    prepared = req.prepare()
    rpath, rquery = split_target(prepared.url)
    import hashlib
    payload = "UNSIGNED-PAYLOAD" if unsigned else hashlib.sha256(body).hexdigest()
    return {
        "name": name, "kind": "header", "flavor": flavor, "signer": kind,
        "service": service, "region": "us-east-1", "token": token, "time": epoch(t),
        "method": method, "path": path, "query": [list(p) for p in params],
        "headers": [["host", host]] + [list(h) for h in headers], "payload_hash": payload,
        "want_authorization": req.headers["Authorization"],
        "want_amz_date": req.headers["X-Amz-Date"],
        "request": {"path": rpath, "query": rquery,
                    "headers": [[k, val] for k, val in req.headers.items()]},
    }


def rds(kind, v):
    import botocore.session
    name, host, port, user, token, region, t = v
    session = botocore.session.get_session()
    session.set_credentials(AKID, SECRET, token)
    client = session.create_client("rds", region_name=region)
    got = run_frozen(t, lambda: client.generate_db_auth_token(host, port, user))
    return {
        "name": name, "kind": "rds", "signer": kind, "host": host, "port": port, "user": user,
        "token": token, "region": region, "time": epoch(t), "want": got,
    }


def vectors(kind):
    out = [presign_s3(kind, v) for v in PRESIGN_S3]
    out += [header_signed(kind, "s3", v) for v in HEADER_S3]
    out += [header_signed(kind, "generic", v) for v in HEADER_GENERIC]
    out += [rds(kind, v) for v in RDS]
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--signer":
        json.dump(vectors(sys.argv[2]), sys.stdout)
        return
    out = {"akid": AKID, "secret": SECRET, "vectors": []}
    for kind, disable in (("python", "true"), ("crt", "false")):
        env = dict(os.environ, BOTO_DISABLE_CRT=disable)
        res = subprocess.run([sys.executable, __file__, "--signer", kind], env=env,
                             check=True, stdout=subprocess.PIPE)
        out["vectors"] += json.loads(res.stdout)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
