#!/usr/bin/python3
"""The console part of `make bench` (issue 13, "What must be shown" 4), with
Debian chromium driven by playwright-core:

  - initial JavaScript of the sign-in and list pages, gzip bytes (from the
    build's BUILD/web.bundle.json; the 150 KiB budget is enforced by make);
  - time from navigation to the first 50 rows with 10,000 documents seeded
    (bench/documents/seed.py), and long tasks while scrolling to 500 rows;
  - a 1 GiB upload through the console (parts to the data port, each hashed
    first in a worker with WebCrypto and sent with x-amz-checksum-sha256,
    the parts' SHA-256s declared at completion) against `curl -T` of the same file to a presigned URL in
    the same run (before and after the browser; their mean), and the tab's peak JS heap during it;
  - then the same file from the same page with nothing but XHRs (64 MiB
    parts, 6 in flight, no hashing, no UI): the browser's own rate here.

Usage: bench/console/bench.py BUILD_DIR; writes bench/results/console-DATE.md.
CONSOLE_BENCH_DOCS (10000), CONSOLE_BENCH_UPLOAD_MIB (1024), CONSOLE_BENCH_PART_SIZE (the
server's default) change the run; bench/console/ceiling measures the browser's raw upload rate.
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import botocore.config
import botocore.session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import kumo_stack  # noqa: E402

COUNT = int(os.environ.get("CONSOLE_BENCH_DOCS", "10000"))
SIZE = int(os.environ.get("CONSOLE_BENCH_UPLOAD_MIB", "1024")) * 1024 * 1024
# The server decides the part size (KUMO_MULTIPART_PART_SIZE); empty = its default.
PART_SIZE = os.environ.get("CONSOLE_BENCH_PART_SIZE", "")
# Parts of the browser-alone upload (the console's default part size).
RAW_PART = 64 << 20


def say(msg):
    print("bench/console: " + msg, file=sys.stderr, flush=True)


def presign_put(st, port, key, host="127.0.0.1"):
    c = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url="http://%s:%d" % (host, port),
        aws_access_key_id=st.storage_access_key_id, aws_secret_access_key=st.storage_secret,
        config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    return c.generate_presigned_url("put_object", Params={"Bucket": "kumo", "Key": key}, ExpiresIn=3600)


def main():
    build = os.path.abspath(sys.argv[1])
    with open(build + "/web.bundle.json") as f:
        bundle = json.load(f)
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="kumo-console-bench.", dir=base)
    st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "work"))
    try:
        st.start_mariadb(extra_options=["--innodb-buffer-pool-size=256M"])
        st.secrets()
        st.migrate("users")
        st.migrate("documents")
        st.bootstrap()
        st.start("users")
        st.start("storage", env={"KUMO_STORAGE_FSYNC": "false"})
        admin = st.login("demo", st.demo_email, st.demo_password)
        tid, owner = admin.user.tenant_id, admin.user.id
        t0 = time.time()
        seq_base = st.sql("SELECT COALESCE(MAX(seq), 0) FROM documents", "kumo_documents")[0][0]
        args = ["--tenant", tid, "--owner", owner, "--count", str(COUNT), "--seq-base", str(seq_base), "--tag-order"]
        seed = subprocess.run([sys.executable, os.path.join(ROOT, "bench/documents/seed.py")] + args,
                              capture_output=True, check=True)
        st.sql_script(seed.stdout, "kumo_documents")
        st.sql("ANALYZE TABLE documents, document_tags, document_versions", "kumo_documents")
        say("seeded %d documents in %.1fs" % (COUNT, time.time() - t0))
        st.start("documents", env=dict({"KUMO_JOBS_WORKERS": "0"}, **({"KUMO_MULTIPART_PART_SIZE": PART_SIZE} if PART_SIZE else {})))
        st.start("bff", env={"KUMO_RATE_LIMIT_PER_ADDRESS": "off", "KUMO_RATE_LIMIT_PER_PRINCIPAL": "off"})
        port = st.daemons["bff"].http_port
        data_port = st.daemons["storage"].data_port
        big = os.path.join(tmp, "big.bin")
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(SIZE >> 20):
                f.write(block)
        # curl -T to a presigned URL, the same file, the same data port.
        url = presign_put(st, data_port, "t/bench/curl-big.bin")
        t0 = time.time()
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", big, url],
                           capture_output=True, text=True)
        curl_s = time.time() - t0
        say("curl -T: %s in %.2fs" % (p.stdout, curl_s))
        # The browser's own rate, after the console's upload, in the same
        # run: the same file in RAW_PART parts to presigned single-PUT URLs.
        raw_urls = [presign_put(st, data_port, "t/bench/raw-%d.bin" % i) for i in range(-(-SIZE // RAW_PART))]
        cfg = os.path.join(tmp, "cfg.json")
        with open(cfg, "w") as f:
            json.dump({"base": "http://127.0.0.1:%d" % port, "tenant": "demo", "email": st.demo_email,
                       "password": st.demo_password, "bigFile": big, "web": os.path.join(ROOT, "web"),
                       "rawUrls": raw_urls, "rawPartBytes": RAW_PART}, f)
        r = subprocess.run(["node", os.path.join(HERE, "bench.mjs"), cfg], cwd=os.path.join(ROOT, "web"),
                           capture_output=True, text=True, timeout=1200)
        if r.returncode != 0:
            say("browser side failed:\n" + r.stdout[-2000:] + r.stderr[-3000:])
            return 1
        res = json.loads(r.stdout.strip().splitlines()[-1])
        # curl -T again, after the browser: the machine is shared, so the
        # ratios use the mean of the two.
        url = presign_put(st, data_port, "t/bench/curl-big-2.bin")
        t0 = time.time()
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", big, url],
                           capture_output=True, text=True)
        curl2_s = time.time() - t0
        say("curl -T again: %s in %.2fs" % (p.stdout, curl2_s))
        res["curlSeconds"] = [round(curl_s, 3), round(curl2_s, 3)]
        curl_s = (curl_s + curl2_s) / 2
        raw = res.get("raw") or {}
        mib = SIZE / 1048576
        up = res["upload"]
        lines = [
            "# Web console benchmark (%s)" % datetime.date.today().isoformat(),
            "",
            "`make bench` (bench/console/run build): Debian chromium %s driven by playwright-core, "
            "the stack from scripts/kumo_stack.py on this machine (%d CPUs, shared), %d documents "
            "seeded in the demo tenant." % (
                subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip(),
                os.cpu_count() or 1, COUNT),
            "",
            "| figure | value | target |",
            "|---|---|---|",
            "| initial JS, sign-in page (gzip) | %.1f KiB | |" % (bundle["signInPageInitialJsGzip"] / 1024),
            "| initial JS, list page (gzip) | %.1f KiB | <= 150 KiB (enforced by make) |" % (bundle["listPageInitialJsGzip"] / 1024),
            "| navigation -> first 50 rows (median of 7) | %.0f ms | <= 1000 ms |" % res["firstRowsMs"]["median"],
            "| scrolling to %d rows: long tasks (> 50 ms) / longest | %d / %.0f ms | none > 200 ms |" % (
                res["scroll"]["rows"], res["scroll"]["longTasks"], res["scroll"]["longestTaskMs"]),
            "| %d MiB upload, curl -T to a presigned URL (mean of before and after the browser) | %.2f s (%.0f MiB/s) | |" % (
                mib, curl_s, mib / curl_s),
            "| same file from the browser alone (%d MiB parts, 6 XHRs, no hashing, no UI) | %.2f s: %.2f of curl | |" % (
                RAW_PART >> 20, raw.get("seconds", 0), curl_s / raw["seconds"] if raw.get("seconds") else 0),
            "| %d MiB upload in the console, parts with their SHA-256 (%s) | %.2f s (%.0f MiB/s): %.2f of curl | >= 0.7 |" % (
                mib, up["state"], up["totalSeconds"], mib / up["totalSeconds"], curl_s / up["totalSeconds"]),
            "| same, from the first part on | %.2f s: %.2f of curl | |" % (
                up["transferSeconds"] or 0, curl_s / up["transferSeconds"] if up["transferSeconds"] else 0),
            "| of which completion (parts assembled by kumo-storage, checked) | %.2f s | |" % (
                up.get("completeSeconds") or 0),
            "| tab's JS heap during the upload (base / peak) | %.1f / %.1f MiB | < 64 MiB |" % (
                up["heapBaseMiB"], up["heapPeakMiB"]),
            "",
            "Raw: `%s`" % json.dumps(res),
            "",
        ]
        text = "\n".join(lines)
        print(text)
        out = os.path.join(ROOT, "bench/results/console-%s.md" % datetime.date.today().isoformat())
        with open(out, "w") as f:
            f.write(text)
        say("wrote " + os.path.relpath(out, ROOT))
        return 0
    finally:
        st.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
