#!/usr/bin/python3
"""Local stand-ins for the two AWS endpoints kumo's credential provider calls,
speaking their documented protocols, for tests/unit/common/aws/test_aws_credentials.c.

  STS (HTTPS): the Query API, POST form or GET query string
      Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=...
      &RoleSessionName=...&WebIdentityToken=...
    answering <AssumeRoleWithWebIdentityResponse> or <ErrorResponse> as in
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
  Container credentials (HTTP): GET <path> with the Authorization header,
    answering {"AccessKeyId","SecretAccessKey","Token","Expiration","RoleArn"}
    as the ECS agent / EKS Pod Identity agent do.

    aws_fakes.py --cert server.pem --key server.key

prints "READY <sts_port> <container_port>" and then reads commands on stdin,
one per line, each answered by one line on stdout:
    sts <mode> [expires_in]        ok | error | expired | garbage | missing |
                                   big | slow | 500 | doctype | wrongroot
    container <mode> [expires_in]  ok | garbage | missing | big | slow | 500
    expect-token <token>           STS refuses other web identity tokens
    expect-auth <value>            container refuses other Authorization values
    stats                          JSON: request counts and what was last received
    reset                          zero the counts
End of stdin stops the servers."""

import argparse
import datetime
import http.server
import json
import re
import socketserver
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

STATE = {
    "sts_mode": "ok", "sts_expires": 3600, "container_mode": "ok", "container_expires": 3600,
    "expect_token": None, "expect_auth": None,
    "sts": 0, "container": 0, "last": {},
}
LOCK = threading.Lock()
NS = "https://sts.amazonaws.com/doc/2011-06-15/"
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
SLOW_SECONDS = 3


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sts_error(code, message, sender=True):
    return (f'<ErrorResponse xmlns="{NS}">\n  <Error>\n    <Type>{"Sender" if sender else "Receiver"}'
            f'</Type>\n    <Code>{code}</Code>\n    <Message>{message}</Message>\n  </Error>\n'
            f'  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n</ErrorResponse>\n')


def sts_ok(n, expires, role_arn, session, with_secret=True):
    secret = f"    <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCY{n}EXAMPLEKEY</SecretAccessKey>\n" \
        if with_secret else ""
    return (
        f'<AssumeRoleWithWebIdentityResponse xmlns="{NS}">\n'
        f'  <AssumeRoleWithWebIdentityResult>\n'
        f'    <SubjectFromWebIdentityToken>system:serviceaccount:kumo:users</SubjectFromWebIdentityToken>\n'
        f'    <Audience>sts.amazonaws.com</Audience>\n'
        f'    <AssumedRoleUser>\n'
        f'      <Arn>{role_arn.replace(":role/", ":assumed-role/").replace("iam::", "sts::")}/{session}</Arn>\n'
        f'      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:{session}</AssumedRoleId>\n'
        f'    </AssumedRoleUser>\n'
        f'    <Credentials>\n'
        f'      <SessionToken>FwoGZXIvYXdzEN{n}//////////wEaDE+sess/token=</SessionToken>\n'
        f'  {secret}'
        f'      <Expiration>{iso(time.time() + expires)}</Expiration>\n'
        f'      <AccessKeyId>ASIAFAKE{n:08d}</AccessKeyId>\n'
        f'    </Credentials>\n'
        f'    <SourceIdentity>users</SourceIdentity>\n'
        f'    <Provider>oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE</Provider>\n'
        f'  </AssumeRoleWithWebIdentityResult>\n'
        f'  <ResponseMetadata>\n'
        f'    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>\n'
        f'  </ResponseMetadata>\n'
        f'</AssumeRoleWithWebIdentityResponse>\n')


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, ctype, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Sts(Quiet):
    def do_GET(self):
        self.handle_sts(urlsplit(self.path).query)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return self.reply(400, "text/xml", sts_error("InvalidParameterValue",
                                                         "form encoding expected"))
        self.handle_sts(body)

    def handle_sts(self, form):
        params = {k: v[0] for k, v in parse_qs(form, keep_blank_values=True).items()}
        with LOCK:
            STATE["sts"] += 1
            n = STATE["sts"]
            mode, expires = STATE["sts_mode"], STATE["sts_expires"]
            expect = STATE["expect_token"]
            STATE["last"].update({
                "method": self.command, "content_type": self.headers.get("Content-Type", ""),
                "action": params.get("Action"), "version": params.get("Version"),
                "role_arn": params.get("RoleArn"), "session": params.get("RoleSessionName"),
                "token": params.get("WebIdentityToken")})
        if params.get("Action") != "AssumeRoleWithWebIdentity" or \
                params.get("Version") != "2011-06-15":
            return self.reply(400, "text/xml", sts_error("InvalidAction", "bad Action/Version"))
        for name in ("RoleArn", "RoleSessionName", "WebIdentityToken"):
            if not params.get(name):
                return self.reply(400, "text/xml", sts_error(
                    "MissingParameter", f"The request must contain the parameter {name}"))
        if not ROLE_ARN.match(params["RoleArn"]) or \
                not SESSION_NAME.match(params["RoleSessionName"]):
            return self.reply(400, "text/xml", sts_error("ValidationError", "bad RoleArn or session"))
        token = params["WebIdentityToken"]
        if expect is not None and token != expect:
            return self.reply(400, "text/xml", sts_error(
                "InvalidIdentityToken", "Incorrect token audience or signature"))
        self.answer(mode, n, expires, params)

    def answer(self, mode, n, expires, params):
        arn, session = params["RoleArn"], params["RoleSessionName"]
        if mode == "error":
            return self.reply(400, "text/xml", sts_error("ExpiredTokenException",
                                                         "Token expired: current date/time 2"))
        if mode == "500":
            return self.reply(503, "text/xml", sts_error("ServiceUnavailable", "try later", False))
        if mode == "garbage":
            return self.reply(200, "text/xml", "<AssumeRoleWithWebIdentityResponse><oops")
        if mode == "missing":
            return self.reply(200, "text/xml", sts_ok(n, expires, arn, session, False))
        if mode == "expired":
            return self.reply(200, "text/xml", sts_ok(n, -60, arn, session))
        if mode == "big":
            return self.reply(200, "text/xml", sts_ok(n, expires, arn, session).replace(
                "<Audience>", "<Audience>" + "x" * 200000))
        if mode == "doctype":
            return self.reply(200, "text/xml", '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY e "x">]>'
                              + sts_ok(n, expires, arn, session))
        if mode == "wrongroot":
            return self.reply(200, "text/xml", "<AssumeRoleResponse/>")
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        self.reply(200, "text/xml", sts_ok(n, expires, arn, session))


class Container(Quiet):
    def do_GET(self):
        with LOCK:
            STATE["container"] += 1
            n = STATE["container"]
            mode, expires = STATE["container_mode"], STATE["container_expires"]
            expect = STATE["expect_auth"]
            auth = self.headers.get("Authorization")
            STATE["last"].update({"path": self.path, "authorization": auth})
        if expect is not None and auth != expect:
            return self.reply(401, "application/json", json.dumps(
                {"code": "AccessDeniedException", "message": "Authorization token mismatch"}))
        body = {"RoleArn": "arn:aws:iam::123456789012:role/kumo-task",
                "AccessKeyId": f"ASIACONT{n:08d}",
                "SecretAccessKey": f"cont/Secret+{n}",
                "Token": f"IQoJb3JpZ2luX2Vj{n}//cont+token==",
                "Expiration": iso(time.time() + expires)}
        if mode == "garbage":
            return self.reply(200, "application/json", "{not json")
        if mode == "missing":
            del body["SecretAccessKey"]
        if mode == "500":
            return self.reply(500, "application/json", json.dumps(
                {"code": "InternalError", "message": "agent unavailable"}))
        if mode == "big":
            body["RoleArn"] = "x" * 200000
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        self.reply(200, "application/json", json.dumps(body))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    tls = None  # an SSLContext: the handshake runs in the connection's thread

    def finish_request(self, request, client_address):
        if self.tls is not None:
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # failed handshakes and dropped clients are part of the tests


def command(line):
    words = line.split()
    if not words:
        return "?"
    with LOCK:
        if words[0] in ("sts", "container") and len(words) >= 2:
            STATE[words[0] + "_mode"] = words[1]
            STATE[words[0] + "_expires"] = int(words[2]) if len(words) > 2 else 3600
            return "ok"
        if words[0] == "expect-token":
            STATE["expect_token"] = words[1] if len(words) > 1 else None
            return "ok"
        if words[0] == "expect-auth":
            STATE["expect_auth"] = line.split(" ", 1)[1].rstrip("\n") if len(words) > 1 else None
            return "ok"
        if words[0] == "stats":
            return json.dumps({"sts": STATE["sts"], "container": STATE["container"],
                               **STATE["last"]})
        if words[0] == "reset":
            STATE["sts"] = STATE["container"] = 0
            STATE["last"] = {}
            return "ok"
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    sts = Server(("127.0.0.1", 0), Sts)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    sts.tls = ctx
    cont = Server(("127.0.0.1", 0), Container)
    for s in (sts, cont):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"READY {sts.server_address[1]} {cont.server_address[1]}", flush=True)
    for line in sys.stdin:
        print(command(line), flush=True)


if __name__ == "__main__":
    main()
