#!/usr/bin/python3
"""Aurora's side of IAM database authentication, for tests.

Verify mode (the default) is run by pam_exec (expose_authtok) for MariaDB's
auth_pam: it reads the password (an RDS auth token) from stdin and accepts
it only if it is a well-formed token for this host:port, for the PAM user,
signed with the test's fixed keys (recomputed with botocore's SigV4 query
signer at the token's own X-Amz-Date, byte for byte) and not expired. It
appends "ok" or "fail: <reason>" to --log and exits 0 or 1.

Mint mode (--mint) prints a token made by botocore the same way, for the
client side of the test (optionally at a given time, to make expired ones).

The keys are AWS's documentation example keys: nothing secret here."""
import argparse
import datetime
import hmac
import os
import sys
import types
import urllib.parse

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXPIRES = 900
SKEW = datetime.timedelta(minutes=5)


def freeze_clock(at):
    """Makes botocore's SigV4 signer see `at` as now."""

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return at.replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None):
            return at if tz else at.replace(tzinfo=None)

    botocore.auth.datetime = types.SimpleNamespace(
        datetime=Frozen, timezone=datetime.timezone, timedelta=datetime.timedelta)


def mint(host, port, user, region, at=None, session_token=None):
    if at is not None:
        freeze_clock(at)
    creds = Credentials(ACCESS_KEY, SECRET_KEY, session_token)
    q = urllib.parse.urlencode({"Action": "connect", "DBUser": user})
    req = AWSRequest(method="GET", url="https://%s:%d/?%s" % (host, port, q))
    botocore.auth.SigV4QueryAuth(creds, "rds-db", region, expires=EXPIRES).add_auth(req)
    return req.prepare().url[len("https://"):]


def check(token, host, port, region, user, now):
    prefix = "%s:%d/?" % (host, port)
    if not token.startswith(prefix):
        return "wrong host:port"
    params = dict(urllib.parse.parse_qsl(token[len(prefix):], keep_blank_values=True,
                                         strict_parsing=True))
    if params.get("Action") != "connect":
        return "not a connect token"
    if params.get("DBUser") != user:
        return "token for another user"
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return "wrong algorithm"
    if params.get("X-Amz-SignedHeaders") != "host":
        return "wrong signed headers"
    if params.get("X-Amz-Expires") != str(EXPIRES):
        return "wrong expiry"
    cred = params.get("X-Amz-Credential", "").split("/")
    date = params.get("X-Amz-Date", "")
    if len(cred) != 5 or cred[0] != ACCESS_KEY or cred[2] != region or \
            cred[3] != "rds-db" or cred[4] != "aws4_request" or cred[1] != date[:8]:
        return "wrong credential scope"
    at = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if now > at + datetime.timedelta(seconds=EXPIRES):
        return "expired"
    if at > now + SKEW:
        return "from the future"
    want = mint(host, port, user, region, at, params.get("X-Amz-Security-Token"))
    if not hmac.compare_digest(want.encode(), token.encode()):
        return "bad signature"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mint", action="store_true")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--user", default="")
    ap.add_argument("--ago", type=int, default=0, help="mint: seconds in the past")
    ap.add_argument("--log", default="")
    args = ap.parse_args()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if args.mint:
        print(mint(args.host, args.port, args.user, args.region,
                   now - datetime.timedelta(seconds=args.ago)))
        return 0
    token = sys.stdin.buffer.read().rstrip(b"\0\r\n").decode("utf-8", "replace")
    try:
        why = check(token, args.host, args.port, args.region, os.environ.get("PAM_USER", ""), now)
    except Exception as e:  # a malformed token is a rejected token
        why = "malformed: %s" % type(e).__name__
    if args.log:
        with open(args.log, "a") as f:
            f.write("ok len=%d\n" % len(token) if why is None else "fail: %s\n" % why)
    return 0 if why is None else 1


if __name__ == "__main__":
    sys.exit(main())
