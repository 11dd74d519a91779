"""grpc.health.v1.Health/Watch with python3-grpcio (Debian), for
tests/interop/run: watches the whole server ("") and an unknown name, writes
READY_FILE once the first status arrived, then expects NOT_SERVING and the
stream's end with UNAVAILABLE when the runner sends SIGTERM to the server.
Prints TAP lines. Usage: health_watch.py HOST:PORT READY_FILE"""
import sys
import threading

import grpc

STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
failed = 0


def tap(ok, what, detail=""):
    global failed
    print("%s - health-watch: %s" % ("ok" if ok else "not ok", what))
    if not ok:
        failed += 1
        print("#   %s" % detail)
    sys.stdout.flush()


def request(service):
    """HealthCheckRequest{service}: field 1, length-delimited."""
    b = service.encode()
    return (b"\x0a" + bytes([len(b)]) + b) if b else b""


def status_of(msg):
    """HealthCheckResponse.status: field 1 varint (absent = 0)."""
    return STATUS.get(msg[1] if len(msg) >= 2 and msg[0] == 0x08 else 0, "?")


def main():
    target, ready = sys.argv[1], sys.argv[2]
    ch = grpc.insecure_channel(target, options=[("grpc.enable_retries", 0)])
    watch = ch.unary_stream("/grpc.health.v1.Health/Watch")
    unknown = list(watch(request("no.such.Service"), timeout=2.0,
                         wait_for_ready=True).__next__() for _ in range(1))
    tap(status_of(unknown[0]) == "SERVICE_UNKNOWN", "an unknown name -> SERVICE_UNKNOWN (no error)",
        unknown)
    got, end = [], {}
    stream = watch(request(""), timeout=30.0)
    first = threading.Event()

    def read():
        try:
            for msg in stream:
                got.append(status_of(msg))
                first.set()
        except grpc.RpcError as e:
            end["code"] = e.code()
        first.set()

    t = threading.Thread(target=read)
    t.start()
    first.wait(10)
    tap(got[:1] == ["SERVING"], "Watch(\"\") answers SERVING at once and stays open", got)
    with open(ready, "w") as f:
        f.write("ready\n")
    t.join(25)
    tap(not t.is_alive() and "NOT_SERVING" in got,
        "on SIGTERM the stream reports NOT_SERVING", got)
    tap(end.get("code") == grpc.StatusCode.UNAVAILABLE,
        "then ends with UNAVAILABLE (the drain is not held up)", end)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
