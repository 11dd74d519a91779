"""Instructions kumo-bff executes per GET /api/v1/documents/{id}, counted by
callgrind over a fixed number of GETs (h2load, 10 clients x 10 streams), over
h2c and over HTTP/1.1. Unlike req/s and CPU/req on this shared 2-core machine
(+-15 % and more between runs), the count repeats to within a few hundred
instructions: the figure to compare two builds of kumo-bff by.

The stack is bench.py's (same seeding, same environment); only kumo-bff runs
under valgrind, through a stand-in build directory whose bin/kumo-bff wraps
the real one. Counters are zeroed after a warm-up of 500 GETs and dumped
after the measured ones, so start-up, warm-up and shutdown are left out.
valgrind counts one `rep stos` iteration as an instruction: MHD zeroing its
64 KiB connection pool after every HTTP/1.1 request weighs more here than on
the CPU.

Usage: instructions.py BUILD_DIR (run by bench/bff/instructions);
BENCH_REQUESTS (3000) GETs per protocol.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

import bench
import kumo_stack

N = int(os.environ.get("BENCH_REQUESTS", "3000"))


def stand_in(build, tmp):
    """A build directory like `build` whose bin/kumo-bff runs the real one
    under callgrind, writing tmp/cg.<pid>.<n> on each dump."""
    fake = os.path.join(tmp, "build")
    os.makedirs(os.path.join(fake, "bin"))
    for e in os.listdir(build):
        if e != "bin":
            os.symlink(os.path.join(build, e), os.path.join(fake, e))
    for e in os.listdir(os.path.join(build, "bin")):
        if e != "kumo-bff":
            os.symlink(os.path.join(build, "bin", e), os.path.join(fake, "bin", e))
    wrapper = os.path.join(fake, "bin", "kumo-bff")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/cg.%%p %s "
                "\"$@\"\n" % (tmp, os.path.join(build, "bin", "kumo-bff")))
    os.chmod(wrapper, 0o755)
    return fake


def h2load(args, url, n):
    p = subprocess.run(["h2load", "-c", "10", "-m", "10", "-t", "1", "-n", str(n)] + args + [url],
                       capture_output=True, text=True)
    if "%d succeeded" % n not in p.stdout:
        raise RuntimeError("h2load: not every GET succeeded:\n" + p.stdout[-600:])


def count(pid, tmp, args, url, label):
    """Instructions per GET of kumo-bff (pid) over N GETs; with BENCH_KEEP_DUMPS=DIR the
    callgrind dump is kept there as callgrind.LABEL."""
    h2load(args, url, 500)
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, check=True)
    h2load(args, url, N)
    before = set(glob.glob(os.path.join(tmp, "cg.%d.*" % pid)))
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=True)
    for _ in range(100):
        new = set(glob.glob(os.path.join(tmp, "cg.%d.*" % pid))) - before
        if new:
            break
        time.sleep(0.1)
    (dump,) = new
    for _ in range(100):
        with open(dump) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    keep = os.environ.get("BENCH_KEEP_DUMPS")
                    if keep:  # for callgrind_annotate: where the instructions go
                        os.makedirs(keep, exist_ok=True)
                        shutil.copy(dump, os.path.join(keep, "callgrind." + label.replace("/", "")))
                    return int(line.split()[1]) / N
        time.sleep(0.1)
    raise RuntimeError("no totals in " + dump)


def main():
    if len(sys.argv) != 2:
        print("usage: instructions.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    for tool in ("valgrind", "callgrind_control", "h2load"):
        if not shutil.which(tool):
            bench.say("%s missing" % tool)
            return 1
    tmp = tempfile.mkdtemp(prefix="kumo-bff-instr.",
                           dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    st = kumo_stack.Stack(bench.ROOT, stand_in(build, tmp), os.path.join(tmp, "work"))
    try:
        _, bff = bench.start_stack(st)
        base_url = "http://127.0.0.1:%d" % bff.http_port
        token, _, doc_url = bench.seed_document(st, base_url, tmp)
        auth = ["-H", "authorization: Bearer " + token]
        print("| kumo-bff (%s), GET /api/v1/documents/{id}, %d GETs at 10x10 | instructions "
              "per GET (callgrind) |" % (build, N))
        print("|---|---:|")
        for label, args in (("h2c", auth), ("HTTP/1.1", ["--h1"] + auth)):
            print("| %s | %.0f |" % (label, count(bff.pid, tmp, args, doc_url, label)), flush=True)
        return 0
    finally:
        st.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
