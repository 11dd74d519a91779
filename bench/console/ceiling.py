#!/usr/bin/python3
"""The browser's raw upload rate to the data port (issue 13's 1 GiB upload
target is measured against `curl -T`; this tells how much of the gap is the
browser's own, whatever the console does).

A stack (MariaDB, users, storage with KUMO_STORAGE_FSYNC=false, documents,
bff) from scripts/kumo_stack.py; a file of CEILING_MIB (512) MiB in /dev/shm;
`curl -T` of it to a presigned URL twice; then chromium, on a page of the
BFF's origin (allowed by the data port's CORS), PUTs the same file cut in parts
to presigned single-PUT URLs (ceiling.mjs), for each case of CEILING_CASES:
"xhr|fetch:PART_MIB:IN_FLIGHT[:FLAGS]", FLAGS letters: h = a WebCrypto
SHA-256 of each part alongside, 2 = every other part to the host name
"localhost" instead of 127.0.0.1 (chromium keeps 6 HTTP/1.1 connections per
host, so twice as many in flight). CEILING_ROUNDS (1) repeats the cases, in
the same order. Prints one line per case; writes nothing in the repository.

Usage: bench/console/ceiling.py BUILD_DIR
"""
import json
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
import kumo_stack  # noqa: E402
from bench import presign_put  # noqa: E402

SIZE = int(os.environ.get("CEILING_MIB", "512")) << 20
CASES = os.environ.get("CEILING_CASES", "xhr:%d:1,xhr:16:4,xhr:64:4,fetch:64:4,xhr:64:6,xhr:16:4:h" % (SIZE >> 20))
ROUNDS = int(os.environ.get("CEILING_ROUNDS", "1"))


def main():
    build = os.path.abspath(sys.argv[1])
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="kumo-console-ceiling.", dir=base)
    st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "work"))
    try:
        st.start_mariadb()
        st.secrets()
        st.migrate("users")
        st.migrate("documents")
        st.bootstrap()
        st.start("users")
        st.start("storage", env={"KUMO_STORAGE_FSYNC": "false"})
        st.start("documents", env={"KUMO_JOBS_WORKERS": "0"})
        st.start("bff")
        data_port = st.daemons["storage"].data_port
        big = os.path.join(tmp, "big.bin")
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(SIZE >> 20):
                f.write(block)
        for i in range(2):
            url = presign_put(st, data_port, "t/bench/curl-%d.bin" % i)
            t0 = time.time()
            subprocess.run(["curl", "-sS", "-o", "/dev/null", "-T", big, url], check=True)
            s = time.time() - t0
            print("curl -T: %.2f s, %.0f MiB/s" % (s, (SIZE >> 20) / s), flush=True)
        cases = ",".join([CASES] * ROUNDS)
        parts = 0
        for c in cases.split(","):
            parts += -(-SIZE // (int(c.split(":")[1]) << 20))
        urls = [presign_put(st, data_port, "t/bench/part-%d.bin" % i) for i in range(parts)]
        urls2 = [presign_put(st, data_port, "t/bench/part-%d.bin" % i, "localhost") for i in range(parts)]
        cfg = os.path.join(tmp, "cfg.json")
        with open(cfg, "w") as f:
            json.dump({"bff": "http://127.0.0.1:%d" % st.daemons["bff"].http_port, "urls": urls, "urls2": urls2,
                       "big": big, "size": SIZE, "cases": cases, "web": os.path.join(ROOT, "web")}, f)
        return subprocess.run(["node", os.path.join(HERE, "ceiling.mjs"), cfg], cwd=os.path.join(ROOT, "web")).returncode
    finally:
        st.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
