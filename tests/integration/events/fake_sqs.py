"""A small SQS for tests, speaking SQS's real JSON protocol: POST / with
Content-Type application/x-amz-json-1.0 and X-Amz-Target
AmazonSQS.ReceiveMessage / AmazonSQS.DeleteMessage (and SendMessage, which
the tests use), SigV4-signed requests (service "sqs") verified against the
one key pair it knows. One standard queue: a message received becomes
invisible for the queue's visibility timeout (or the request's
VisibilityTimeout) and is delivered again, with a new receipt handle, if it
is not deleted by then; ReceiveMessage long-polls up to WaitTimeSeconds.
Errors answer 400 with {"__type": ..., "message": ...} as SQS does.

Test hooks: hold_deletes (DeleteMessage calls wait until released and are
then dropped, as when the caller died meanwhile), receives (how often each
message was delivered), deleted (message ids deleted).
"""
import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.parse
import uuid


class FakeSQS:
    def __init__(self, access_key_id, secret, region="us-east-1", visibility=2):
        self.akid, self.secret, self.region = access_key_id, secret, region
        self.visibility = visibility
        self.account = "000000000000"
        self.name = "kumo-events"
        self.lock = threading.Condition()
        self.messages = {}  # id -> {"body", "visible_at", "receipt"}
        self.order = []
        self.receives = {}
        self.deleted = []
        self.hold_deletes = False
        self.signature_failures = 0
        self.requests = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.queue_url = "http://127.0.0.1:%d/%s/%s" % (self.port, self.account, self.name)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        with self.lock:
            self.hold_deletes = False
            self.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # ---- queue ----

    def send(self, body):
        with self.lock:
            mid = str(uuid.uuid4())
            self.messages[mid] = {"body": body, "visible_at": 0.0, "receipt": None}
            self.order.append(mid)
            self.receives[mid] = 0
            self.lock.notify_all()
            return mid

    def release_deletes(self):
        with self.lock:
            self.hold_deletes = False
            self.lock.notify_all()

    def _receive(self, req):
        want = int(req.get("MaxNumberOfMessages", 1))
        wait = int(req.get("WaitTimeSeconds", 0))
        vis = int(req.get("VisibilityTimeout", self.visibility))
        if not 1 <= want <= 10 or not 0 <= wait <= 20:
            return 400, {"__type": "com.amazonaws.sqs#InvalidParameterValue",
                         "message": "MaxNumberOfMessages 1..10, WaitTimeSeconds 0..20"}
        end = time.time() + wait
        with self.lock:
            while True:
                now = time.time()
                ready = [m for m in self.order
                         if m in self.messages and self.messages[m]["visible_at"] <= now][:want]
                if ready or now >= end:
                    break
                nxt = [self.messages[m]["visible_at"] for m in self.order if m in self.messages]
                timeout = end - now
                if nxt:
                    timeout = min(timeout, max(0.01, min(nxt) - now))
                self.lock.wait(timeout)
            out = []
            for mid in ready:
                m = self.messages[mid]
                m["visible_at"] = time.time() + vis
                m["receipt"] = "%s#%s" % (mid, uuid.uuid4().hex)
                self.receives[mid] += 1
                out.append({"MessageId": mid, "ReceiptHandle": m["receipt"],
                            "MD5OfBody": hashlib.md5(m["body"].encode()).hexdigest(),
                            "Body": m["body"],
                            "Attributes": {"ApproximateReceiveCount": str(self.receives[mid])}})
            return 200, ({"Messages": out} if out else {})

    def _delete(self, req):
        receipt = req.get("ReceiptHandle", "")
        with self.lock:
            if self.hold_deletes:
                while self.hold_deletes:
                    self.lock.wait(0.1)
                # The caller was killed while its call hung: nothing done.
                return 400, {"__type": "com.amazonaws.sqs#ReceiptHandleIsInvalid",
                             "message": "held and dropped"}
            mid = receipt.split("#", 1)[0]
            m = self.messages.get(mid)
            if m is None or m["receipt"] != receipt:
                return 400, {"__type": "com.amazonaws.sqs#ReceiptHandleIsInvalid",
                             "message": "The input receipt handle is invalid."}
            del self.messages[mid]
            self.deleted.append(mid)
            return 200, {}

    # ---- SigV4 ----

    def _verify(self, method, path, headers, body):
        auth = headers.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return False
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        cred = parts.get("Credential", "").split("/")
        if len(cred) != 5 or cred[0] != self.akid or cred[2] != self.region or cred[3] != "sqs":
            return False
        signed = parts.get("SignedHeaders", "").split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return False
        amz_date = headers.get("x-amz-date", "")
        u = urllib.parse.urlsplit(path)
        q = sorted(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        cq = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                 urllib.parse.quote(v, safe="-_.~")) for k, v in q)
        ch = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split())) for h in signed)
        creq = "\n".join([method, u.path or "/", cq, ch, ";".join(signed),
                          hashlib.sha256(body).hexdigest()])
        scope = "/".join(cred[1:])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in cred[1:]:
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(sig, parts.get("Signature", ""))

    def _handler(self):
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller is gone (killed while its call was held)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                headers = {k.lower(): v for k, v in self.headers.items()}
                target = headers.get("x-amz-target", "")
                fake.requests.append(target)
                if headers.get("content-type") != "application/x-amz-json-1.0":
                    return self.answer(400, {"__type": "com.amazonaws.sqs#InvalidParameterValue",
                                             "message": "content type"})
                if not fake._verify("POST", self.path, headers, body):
                    fake.signature_failures += 1
                    return self.answer(400, {"__type": "com.amazon.coral.service#"
                                             "IncompleteSignatureException",
                                             "message": "signature does not match"})
                try:
                    req = json.loads(body or b"{}")
                except ValueError:
                    return self.answer(400, {"__type": "com.amazonaws.sqs#InvalidParameterValue",
                                             "message": "not JSON"})
                if req.get("QueueUrl") != fake.queue_url:
                    return self.answer(400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                                             "message": "no such queue"})
                if target == "AmazonSQS.ReceiveMessage":
                    return self.answer(*fake._receive(req))
                if target == "AmazonSQS.DeleteMessage":
                    return self.answer(*fake._delete(req))
                if target == "AmazonSQS.SendMessage":
                    return self.answer(200, {"MessageId": fake.send(req["MessageBody"])})
                return self.answer(400, {"__type": "com.amazonaws.sqs#UnsupportedOperation",
                                         "message": target})

        return H


def s3_event(bucket, key, event_name="ObjectCreated:Put", size=0, etag="", expiry=None):
    """The body S3 Event Notifications send to SQS (event structure 2.1)."""
    rec = {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": "example"},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "kumo-events",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"},
                       "arn": "arn:aws:s3:::" + bucket},
            "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size,
                       "eTag": etag, "sequencer": "%016X" % int(time.time() * 1e6)},
        },
    }
    if event_name.startswith("ObjectRestore:"):
        rec["glacierEventData"] = {"restoreEventData": {
            "lifecycleRestorationExpiryTime": expiry or time.strftime(
                "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 86400)),
            "lifecycleRestoreStorageClass": "GLACIER"}}
    return json.dumps({"Records": [rec]})
