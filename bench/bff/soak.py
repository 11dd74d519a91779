#!/usr/bin/python3
"""kumo-bff soak (issue 17, item 6): GET /api/v1/documents/{id} at 10x10
for BENCH_SOAK seconds (300), half the clients over h2c and half over
HTTP/1.1, sampling kumo-bff's RSS every 10 s: idle, at minute 1 and at the
end (growth past 10% fails). With a sanitizer build (BUILD_DIR built with
SAN=1) kumo-bff is stopped with SIGTERM at the end and its log must hold
no sanitizer report (LeakSanitizer runs at exit). Writes
bench/results/bff-soak-<date>.md.

Usage: soak.py BUILD_DIR   (run by bench/bff/soak)
"""
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import kumo_stack  # noqa: E402

SOAK = int(os.environ.get("BENCH_SOAK", "300"))


def say(msg):
    print("bench/bff/soak: " + msg, file=sys.stderr, flush=True)


def main():
    build = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kumo-bff-soak.", dir="/dev/shm")
    st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "work"))
    ncpu = os.cpu_count() or 1
    pin = ["taskset", "-c", str(ncpu - 1)] if ncpu >= 2 else []
    try:
        _, bff = bench.start_stack(st)
        base = "http://127.0.0.1:%d" % bff.http_port
        code, j = bench.curl_json("POST", base + "/api/v1/auth/login", body={
            "tenant": "demo", "email": st.demo_email, "password": st.demo_password})
        token = j["access_token"]
        code, j = bench.curl_json("POST", base + "/api/v1/documents", token, body={
            "file_name": "soak.txt", "file_size": 5, "content_type": "text/plain",
            "title": "Soak"})
        did = j["document_id"]
        path = os.path.join(tmp, "soak.txt")
        with open(path, "wb") as f:
            f.write(b"hello")
        hdrs = {k: v for k, v in (j.get("upload_headers") or {}).items()
                if k.lower() not in ("content-length", "host")}
        bench.curl_json("PUT", j["upload_url"], data_file=path, headers=hdrs)
        code, _ = bench.curl_json("POST", base + "/api/v1/documents/%s/complete" % did, token,
                                  body={})
        assert code == 200, code
        url = base + "/api/v1/documents/" + did
        time.sleep(2)
        idle = bench.rss_kb(bff.pid)
        auth = ["-H", "authorization: Bearer " + token]
        loads = [subprocess.Popen(pin + ["h2load", "-c", "5", "-m", "10", "-t", "1", "-D",
                                         str(SOAK)] + extra + auth + [url],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for extra in ([], ["--h1"])]
        samples = []
        t0 = time.time()
        while time.time() - t0 < SOAK:
            time.sleep(10)
            samples.append((time.time() - t0, bench.rss_kb(bff.pid)))
        outs = [p.communicate(timeout=120)[0] for p in loads]
        done = []
        for o in outs:
            for line in o.splitlines():
                if line.startswith("status codes:") or line.startswith("finished in"):
                    done.append(line.strip())
        at1 = min(samples, key=lambda s: abs(s[0] - 60))[1]
        end = samples[-1][1]
        growth = (end - at1) / at1 * 100.0 if at1 else 0.0
        st.stop("bff")
        log = bff.log_text()
        sanitizer = [ln for ln in log.splitlines()
                     if "Sanitizer" in ln or "runtime error:" in ln]
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        lines = ["## kumo-bff soak (%s, %d s at 10x10: 5 h2c + 5 HTTP/1.1 connections x 10)" % (
                     date, SOAK), "",
                 "Machine: %s. Build: %s." % (bench.machine(), os.path.basename(build)), "",
                 "RSS (VmRSS, MiB): idle %.1f, minute 1 %.1f, end %.1f (%+.1f%% from minute 1; "
                 "target within 10%%)." % (idle / 1024.0, at1 / 1024.0, end / 1024.0, growth),
                 "", "Samples (s: MiB): " + ", ".join("%.0f: %.1f" % (t, r / 1024.0)
                                                      for t, r in samples), "",
                 "h2load: " + "; ".join(done), "",
                 "Sanitizer reports in kumo-bff's log after SIGTERM: %d%s" % (
                     len(sanitizer), " (" + sanitizer[0][:200] + ")" if sanitizer else "")]
        text = "\n".join(lines) + "\n"
        print(text)
        with open(os.path.join(ROOT, "bench", "results", "bff-soak-%s.md" % date), "w") as f:
            f.write(text)
        return 0 if growth <= 10.0 and not sanitizer else 1
    finally:
        st.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
