#!/usr/bin/python3
"""kumo-bff of one build against another's, in alternating rounds (A B A B):
two whole stacks (each its own MariaDB, services and kumo-bff, started from
BUILD_A and BUILD_B) each serve one 100 kB document; h2load at 10 clients x
10 streams GETs it through A's kumo-bff, then B's, BENCH_PAIRS times per
front end (h2c, then HTTP/1.1), BENCH_DURATION s each. Prints, per build
and front end, the medians of req/s and of kumo-bff's CPU per GET (user +
system, from /proc). On a shared, noisy machine a same-time comparison of
two builds says more than two runs of bench/bff/run an hour apart.

Usage: ab.py BUILD_A BUILD_B   (run by bench/bff/ab)
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import kumo_stack  # noqa: E402

PAIRS = int(os.environ.get("BENCH_PAIRS", "5"))
DURATION = int(os.environ.get("BENCH_DURATION", "6"))


def say(msg):
    print("bench/bff/ab: " + msg, file=sys.stderr, flush=True)


def user_sys_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def round_on(side, front, pin, hz):
    """One h2load run on a side: (req/s, CPU us per GET, user us per GET)."""
    args = ["-H", "authorization: Bearer " + side["token"]]
    if front == "HTTP/1.1":
        args = ["--h1"] + args
    u0, s0 = user_sys_ticks(side["pid"])
    cmd = pin + ["h2load", "-c", "10", "-m", "10", "-t", "1", "-D", str(DURATION)] + args + [
        side["url"]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + 60).stdout
    u1, s1 = user_sys_ticks(side["pid"])
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    rps = re.search(r"finished in [^,]+, ([\d.]+) req/s", out)
    if not m or not rps or int(m.group(1)) == 0 or sum(int(x) for x in m.groups()[1:]):
        raise RuntimeError("h2load: not every GET answered 2xx:\n" + out[-600:])
    n = int(m.group(1))
    return (float(rps.group(1)), ((u1 - u0) + (s1 - s0)) / hz / n * 1e6,
            (u1 - u0) / hz / n * 1e6)


def main():
    if len(sys.argv) != 3:
        print("usage: ab.py BUILD_A BUILD_B", file=sys.stderr)
        return 2
    builds = [os.path.abspath(b) for b in sys.argv[1:]]
    tmp = tempfile.mkdtemp(prefix="kumo-bff-ab.", dir="/dev/shm")
    ncpu = os.cpu_count() or 1
    pin = ["taskset", "-c", str(ncpu - 1)] if ncpu >= 2 else []
    hz = os.sysconf("SC_CLK_TCK")
    stacks, sides = [], []
    try:
        for i, build in enumerate(builds):
            st = kumo_stack.Stack(ROOT, build, os.path.join(tmp, "work-%d" % i))
            stacks.append(st)
            _, bff = bench.start_stack(st)
            base = "http://127.0.0.1:%d" % bff.http_port
            token, _, url = bench.seed_document(st, base, os.path.join(tmp, "work-%d" % i))
            sides.append({"name": "AB"[i], "build": build, "pid": bff.pid, "token": token,
                          "url": url})
        lines = ["kumo-bff A/B, %d pairs x %d s per front end, 10x10 (machine: %s)" % (
            PAIRS, DURATION, bench.machine())]
        for front in ("h2c", "HTTP/1.1"):
            res = {s["name"]: [] for s in sides}
            for _ in range(PAIRS):
                for s in sides:
                    res[s["name"]].append(round_on(s, front, pin, hz))
            for s in sides:
                r = res[s["name"]]
                lines.append("%s %-8s %s: req/s %.0f, kumo-bff CPU per GET %.0f us (user %.0f);"
                             " runs: %s" % (
                                 s["name"], front, s["build"], statistics.median(x[0] for x in r),
                                 statistics.median(x[1] for x in r),
                                 statistics.median(x[2] for x in r),
                                 " ".join("%.0f" % x[1] for x in r)))
        print("\n".join(lines))
        return 0
    finally:
        for st in stacks:
            st.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
