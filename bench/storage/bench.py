#!/usr/bin/python3
"""kumo-storage data port under a 1 GiB load (issue 5, item 6).

  - upload: one presigned PUT of SIZE bytes (curl -T from a file in the page
    cache), next to `dd if=/dev/zero bs=1M conv=fsync` writing the same size
    into the same directory (same disk) in the same run; kumo fsyncs before
    answering, as dd does with conv=fsync. Runs alternate (kumo, dd) and
    medians are compared (target: kumo >= 80% of dd);
  - download: the whole object in one GET, and in 4 parallel ranged GETs of a
    quarter each (curl -o /dev/null);
  - the daemon's peak RSS (VmRSS sampled every 20 ms) over all of it
    (target: under 32 MiB).
The presigned URLs come from botocore with the daemon's key pair (the
integration tests show kumo's PresignUpload URLs are byte-for-byte the same).

Usage: bench.py BUILD_DIR   Environment: BENCH_RUNS (3), BENCH_SIZE_MIB (1024).
Prints a Markdown report and writes it to bench/results/storage-<date>.md."""

import base64
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import botocore.config
import botocore.session
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AKID = "AKIDKUMOBENCH"
SECRET = "kumo-bench-secret-0123456789abcdef"
MIB = 1024 * 1024
RSS_TARGET_MIB = 32
RATIO_TARGET = 0.80


def jwks_file(tmp):
    n = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    path = os.path.join(tmp, "jwks.json")
    with open(path, "w") as f:
        json.dump({"keys": [{"kty": "EC", "crv": "P-256", "kid": "bench",
                             "x": b64u(n.x.to_bytes(32, "big")),
                             "y": b64u(n.y.to_bytes(32, "big"))}]}, f)
    return path


def start(build, tmp):
    env = dict(os.environ, KUMO_RPC_ADDR="127.0.0.1", KUMO_RPC_PORT="0", KUMO_ADMIN_PORT="0",
               KUMO_STORAGE_DATA_PORT="0", KUMO_STORAGE_ROOT=os.path.join(tmp, "root"),
               KUMO_STORAGE_ACCESS_KEY_ID=AKID, KUMO_STORAGE_SECRET_ACCESS_KEY=SECRET,
               KUMO_JWT_JWKS_FILE=jwks_file(tmp), KUMO_STORAGE_MAX_OBJECT_SIZE="5GiB")
    log = open(os.path.join(tmp, "daemon.log"), "w+")
    proc = subprocess.Popen([os.path.join(build, "bin", "kumo-storage")], env=env, stdout=log,
                            stderr=log)
    deadline = time.time() + 10
    while time.time() < deadline:
        log.seek(0)
        m = re.search(r'"data_port":"(\d+)"', log.read())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("kumo-storage did not start")


class RssWatch(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with open("/proc/%d/status" % self.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.peak = max(self.peak, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.02)


def presign(port, method, key, expires=3600):
    c = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % port,
        aws_access_key_id=AKID, aws_secret_access_key=SECRET,
        config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    return c.generate_presigned_url(method, Params={"Bucket": "kumo", "Key": key},
                                    ExpiresIn=expires)


def timed(cmd):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("%s failed: %s" % (cmd[0], p.stderr))
    return time.time() - t, p.stdout


def upload(port, src):
    url = presign(port, "put_object", "t/bench/big.bin")
    secs, out = timed(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", src, url])
    if out != "200":
        raise SystemExit("upload answered %s" % out)
    return secs


def dd(target, size):
    secs, _ = timed(["dd", "if=/dev/zero", "of=" + target, "bs=1M", "count=%d" % (size // MIB),
                     "conv=fsync", "status=none"])
    os.unlink(target)
    return secs


def download(port, size, parts):
    url = presign(port, "get_object", "t/bench/big.bin")
    step = size // parts
    t = time.time()
    procs = []
    for i in range(parts):
        cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"]
        if parts > 1:
            last = size - 1 if i == parts - 1 else (i + 1) * step - 1
            cmd += ["-r", "%d-%d" % (i * step, last)]
        procs.append(subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, text=True))
    for p in procs:
        out = p.communicate()[0]
        if out not in ("200", "206"):
            raise SystemExit("download answered %s" % out)
    return time.time() - t


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    size = int(os.environ.get("BENCH_SIZE_MIB", "1024")) * MIB
    tmp = tempfile.mkdtemp(prefix="kumo-storage-bench-", dir=os.environ.get("TMPDIR", "/tmp"))
    proc = None
    try:
        src = os.path.join(tmp, "src.bin")
        with open(src, "wb") as f:
            chunk = os.urandom(MIB)
            for _ in range(size // MIB):
                f.write(chunk)
        proc, port = start(build, tmp)
        watch = RssWatch(proc.pid)
        watch.start()
        ups, dds, whole, ranged = [], [], [], []
        for _ in range(runs):
            ups.append(upload(port, src))
            dds.append(dd(os.path.join(tmp, "root", "dd.bin"), size))
            whole.append(download(port, size, 1))
            ranged.append(download(port, size, 4))
        watch.stop.set()
        watch.join()
        proc.terminate()
        proc.wait(timeout=30)
        mibs = lambda s: size / MIB / s  # noqa: E731
        up_m, dd_m = statistics.median(ups), statistics.median(dds)
        ratio = dd_m / up_m
        peak = watch.peak / 1024.0
        lines = [
            "# kumo-storage data port, %s" % datetime.date.today().isoformat(),
            "",
            "%d MiB, %d runs (medians), %s, %d CPUs. Upload: one presigned PUT (curl -T), "
            "kumo fsyncs before answering; dd: `dd if=/dev/zero bs=1M conv=fsync` into the "
            "same directory, alternating with the uploads." % (size // MIB, runs,
                                                                 os.uname().release,
                                                                 os.cpu_count()),
            "",
            "| measure | seconds (median) | MiB/s | runs |",
            "|---|---|---|---|",
            "| presigned PUT upload | %.2f | %.0f | %s |" % (up_m, mibs(up_m),
                                                          ", ".join("%.2f" % x for x in ups)),
            "| dd conv=fsync, same disk | %.2f | %.0f | %s |" % (dd_m, mibs(dd_m),
                                                              ", ".join("%.2f" % x for x in dds)),
            "| GET whole object | %.2f | %.0f | %s |" % (
                statistics.median(whole), mibs(statistics.median(whole)),
                ", ".join("%.2f" % x for x in whole)),
            "| GET 4 parallel ranges | %.2f | %.0f | %s |" % (
                statistics.median(ranged), mibs(statistics.median(ranged)),
                ", ".join("%.2f" % x for x in ranged)),
            "",
            "- upload throughput / dd throughput: **%.0f%%** (target >= %d%%): %s" % (
                100 * ratio, 100 * RATIO_TARGET, "met" if ratio >= RATIO_TARGET else "NOT met"),
            "- daemon peak RSS over the whole run: **%.1f MiB** (target < %d MiB): %s" % (
                peak, RSS_TARGET_MIB, "met" if peak < RSS_TARGET_MIB else "NOT met"),
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        out = os.path.join(ROOT, "bench", "results",
                           "storage-%s.md" % datetime.date.today().isoformat())
        with open(out, "w") as f:
            f.write(report)
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
